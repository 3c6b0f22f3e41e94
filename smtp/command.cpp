// smtp/command.cpp — RFC 5321 4.1.1 verbs and argument grammars.
#include "smtp/command.hpp"

#include "smtp/errc.hpp"

#include <charconv>

namespace refmail::smtp {
namespace {

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

struct VerbName {
  std::string_view name;
  Verb verb;
};
constexpr VerbName kVerbs[] = {
    {"HELO", Verb::Helo}, {"EHLO", Verb::Ehlo}, {"MAIL", Verb::Mail},
    {"RCPT", Verb::Rcpt}, {"DATA", Verb::Data}, {"BDAT", Verb::Bdat},
    {"RSET", Verb::Rset}, {"NOOP", Verb::Noop}, {"QUIT", Verb::Quit},
    {"VRFY", Verb::Vrfy}, {"EXPN", Verb::Expn}, {"HELP", Verb::Help},
    {"STARTTLS", Verb::StartTls}, {"AUTH", Verb::Auth},
    // Postfix smtpd_forbidden_commands: HTTP verbs sent to an SMTP port.
    {"GET", Verb::Forbidden}, {"POST", Verb::Forbidden}, {"CONNECT", Verb::Forbidden},
    {"PUT", Verb::Forbidden}, {"HEAD", Verb::Forbidden},
};

// Strips a case-insensitive keyword ("FROM:") then optional spaces.
bool strip_keyword(std::string_view& s, std::string_view kw) {
  if (s.size() < kw.size() || !iequals(s.substr(0, kw.size()), kw)) return false;
  s.remove_prefix(kw.size());
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return true;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (upper(a[i]) != upper(b[i])) return false;
  return true;
}

CommandLine split_command(std::string_view line) noexcept {
  CommandLine out;
  std::size_t sp = line.find(' ');
  const std::string_view verb = line.substr(0, sp);
  for (const VerbName& v : kVerbs)
    if (iequals(verb, v.name)) out.verb = v.verb;
  if (sp != std::string_view::npos) {
    std::string_view args = line.substr(sp);
    while (!args.empty() && args.front() == ' ') args.remove_prefix(1);
    while (!args.empty() && (args.back() == ' ' || args.back() == '\t')) args.remove_suffix(1);
    out.args = args;
  }
  return out;
}

boost::system::result<MailFrom> parse_mail_from(std::string_view args) {
  if (!strip_keyword(args, "FROM:")) return errc::syntax_error;
  auto path = parse_path(args, PathKind::Reverse);
  if (!path) return path.error();
  auto params = parse_mail_params(path->rest);
  if (!params) return params.error();
  MailFrom out{std::move(path->address), std::move(*params)};
  // RFC 6531 3.4: a non-ASCII envelope needs SMTPUTF8 on MAIL.
  if (!out.params.smtputf8 && !out.reverse_path.is_ascii()) return errc::utf8_not_permitted;
  return out;
}

boost::system::result<RcptTo> parse_rcpt_to(std::string_view args, bool smtputf8) {
  if (!strip_keyword(args, "TO:")) return errc::syntax_error;
  auto path = parse_path(args, PathKind::Forward);
  if (!path) return path.error();
  auto params = parse_rcpt_params(path->rest);
  if (!params) return params.error();
  RcptTo out{std::move(path->address), std::move(*params)};
  if (!smtputf8 && !out.forward_path.is_ascii()) return errc::utf8_not_permitted;
  return out;
}

boost::system::result<BdatArgs> parse_bdat(std::string_view args) {
  BdatArgs out;
  const std::size_t sp = args.find(' ');
  const std::string_view num = args.substr(0, sp);
  if (num.empty() || num.size() > 19) return errc::syntax_error;
  for (char c : num)
    if (c < '0' || c > '9') return errc::syntax_error;
  const auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), out.size);
  if (ec != std::errc{}) return errc::syntax_error;
  if (sp != std::string_view::npos) {
    std::string_view rest = args.substr(sp);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (!iequals(rest, "LAST")) return errc::syntax_error;
    out.last = true;
  }
  return out;
}

boost::system::result<AuthArgs> parse_auth(std::string_view args) {
  AuthArgs out;
  const std::size_t sp = args.find(' ');
  out.mechanism = args.substr(0, sp);
  if (out.mechanism.empty() || out.mechanism.size() > 20) return errc::syntax_error;
  for (char c : out.mechanism) {
    // RFC 4422 3.1: sasl-mech = 1*20mech-char; mech-char = UPPER-ALPHA / DIGIT / "-" / "_"
    const char u = upper(c);
    if (!((u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' || u == '_'))
      return errc::syntax_error;
  }
  if (sp != std::string_view::npos) {
    std::string_view rest = args.substr(sp);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty() || rest.find(' ') != std::string_view::npos) return errc::syntax_error;
    out.initial_response = rest;
  }
  return out;
}

}  // namespace refmail::smtp
