// tools/sendmail/args.cpp — command-line parsing for refmail-sendmail (see args.hpp).
// The sendmail part follows sendmail(8)'s getopt rules: flags may be clustered
// ("-ti"), an option's value may be attached ("-fuser@x") or the next word.
// SECURITY: pure string handling; secrets are never accepted as arguments.
#include "tools/sendmail/args.hpp"

#include <boost/assert/source_location.hpp>

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace refmail::sendmail {

void throw_exception_from_error(const Failure& f, const boost::source_location& loc) {
  std::fprintf(stderr, "refmail-sendmail: bug: unchecked failure (%s) at %s:%u\n", f.message.c_str(),
               loc.file_name(), static_cast<unsigned>(loc.line()));
  std::abort();
}

std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

namespace {

Result<bool> answer(bool b) { return Result<bool>(boost::system::in_place_value, b); }

Failure usage(std::string why) { return fail(EX_USAGE, std::move(why) + " (see --help)"); }

std::string_view basename(std::string_view p) {
  auto slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

// A cursor over the words; take_value() implements "--opt V" and "--opt=V".
struct Words {
  std::span<const std::string> args;
  std::size_t i = 0;
  [[nodiscard]] bool done() const { return i >= args.size(); }
  const std::string& next() { return args[i++]; }
};

// One "--name" or "--name=value" word, split once.
struct LongOption {
  std::string name;
  std::string attached;
  bool has_attached = false;

  explicit LongOption(std::string_view w) : name(w) {
    if (auto eq = w.find('='); eq != std::string_view::npos) {
      name = std::string(w.substr(0, eq));
      attached = std::string(w.substr(eq + 1));
      has_attached = true;
    }
  }
  // The option's value: attached, or else the next word.
  [[nodiscard]] Result<std::string> value(Words& words) const {
    if (has_attached) return attached;
    if (words.done()) return usage("option " + name + " needs a value");
    return words.next();
  }
};

// Long options shared by every mode. Returns true when `w` was one of them.
Result<bool> common_long(std::string_view w, Words& words, CommonArgs& c) {
  const LongOption opt(w);
  const std::string& name = opt.name;
  auto value = [&](std::string& out) -> Result<bool> {
    auto v = opt.value(words);
    if (!v) return v.error();
    out = std::move(*v);
    if (out.empty()) return usage("option " + name + " needs a value");
    return answer(true);
  };
  auto flag = [&](bool& out) -> Result<bool> {
    if (opt.has_attached) return usage("option " + name + " takes no value");
    out = true;
    return answer(true);
  };
  if (name == "--config") return value(c.config_path);
  if (name == "--account") return value(c.account);
  if (name == "--verbose") return flag(c.verbose);
  if (name == "--dry-run") return flag(c.dry_run);
  if (name == "--allow-plaintext") return flag(c.allow_plaintext);
  return answer(false);
}

Result<void> parse_sendmail(Words& words, Invocation& inv) {
  SendmailArgs& s = inv.sendmail;
  bool operands_only = false;
  while (!words.done()) {
    const std::string& w = words.next();
    if (operands_only || w.size() < 2 || w[0] != '-') {
      s.rcpts.push_back(w);
      continue;
    }
    if (w == "--") {
      operands_only = true;
      continue;
    }
    if (w.starts_with("--")) {
      if (w == "--help") {
        inv.mode = Mode::Help;
        return {};
      }
      if (w == "--version") {
        inv.mode = Mode::Version;
        return {};
      }
      auto r = common_long(w, words, inv.common);
      if (!r) return r.error();
      if (!*r) return usage("unknown option " + w);
      continue;
    }
    // A getopt-style cluster: "-ti", "-fuser@x", "-f", "user@x".
    for (std::size_t k = 1; k < w.size(); ++k) {
      const char opt = w[k];
      auto value = [&]() -> Result<std::string> {
        if (k + 1 < w.size()) {
          std::string v = w.substr(k + 1);
          k = w.size();
          return v;
        }
        if (words.done()) return usage(std::string("option -") + opt + " needs a value");
        k = w.size();
        return words.next();
      };
      switch (opt) {
        case 't': s.extract_recipients = true; break;
        case 'i': s.ignore_dots = true; break;
        case 'v': inv.common.verbose = true; break;
        // Accepted and ignored, as by Postfix and msmtp: -m (me too), -n (no aliases),
        // -U (initial submission), -G (gateway), -x.
        case 'm': case 'n': case 'U': case 'G': case 'x': break;
        case 'f': case 'r': {
          auto v = value();
          if (!v) return v.error();
          s.from = *v;
          break;
        }
        case 'F': {
          auto v = value();
          if (!v) return v.error();
          s.full_name = *v;
          break;
        }
        case 'C': {
          auto v = value();
          if (!v) return v.error();
          inv.common.config_path = *v;
          break;
        }
        case 'o': {  // -oi means -i; every other -oX option is ignored (-odi, -oem, ...)
          auto v = value();
          if (!v) return v.error();
          if (*v == "i") s.ignore_dots = true;
          break;
        }
        case 'b': {  // only the default mode: -bm (deliver mail)
          auto v = value();
          if (!v) return v.error();
          if (*v != "m") return usage("mode -b" + *v + " is not supported (only -bm)");
          break;
        }
        // Options with a value that do not apply to a submission client: ignored.
        case 'B': case 'N': case 'R': case 'V': case 'X': case 'h': case 'L': case 'O': case 'q': {
          auto v = value();
          if (!v) return v.error();
          break;
        }
        default:
          return usage(std::string("unknown option -") + opt);
      }
    }
  }
  return {};
}

Result<void> parse_send(Words& words, Invocation& inv) {
  SendArgs& s = inv.send;
  while (!words.done()) {
    const std::string& w = words.next();
    if (w == "--help") {
      inv.mode = Mode::Help;
      return {};
    }
    if (!w.starts_with("--")) return usage("unexpected argument '" + w + "' (recipients go in --to)");
    auto c = common_long(w, words, inv.common);
    if (!c) return c.error();
    if (*c) continue;
    const LongOption opt(w);
    const std::string& name = opt.name;
    auto v = opt.value(words);
    if (!v) return v.error();
    if (name == "--to") s.to.push_back(*v);
    else if (name == "--cc") s.cc.push_back(*v);
    else if (name == "--bcc") s.bcc.push_back(*v);
    else if (name == "--from") s.from = *v;
    else if (name == "--subject") s.subject = *v;
    else if (name == "--body") s.body = *v;
    else if (name == "--body-file") s.body_file = *v;
    else if (name == "--html-file") s.html_file = *v;
    else if (name == "--attach") s.attach.push_back(*v);
    else return usage("unknown option " + name);
  }
  if (s.to.empty() && s.cc.empty() && s.bcc.empty()) return usage("send: at least one --to, --cc or --bcc");
  if (s.body && s.body_file) return usage("send: --body and --body-file exclude each other");
  return {};
}

Result<void> parse_account(Words& words, Invocation& inv) {
  if (words.done() || words.next() != "set") return usage("account: expected 'account set NAME ...'");
  if (words.done()) return usage("account set: missing NAME");
  AccountSetArgs& a = inv.account;
  a.name = words.next();
  while (!words.done()) {
    const std::string& w = words.next();
    auto c = common_long(w, words, inv.common);
    if (!c) return c.error();
    if (*c) continue;
    if (w == "--password-stdin") {
      a.password_stdin = true;
      continue;
    }
    if (w == "--password") {
      return usage("account set: a password is never taken from the command line; use --password-stdin");
    }
    const LongOption opt(w);
    const std::string& name = opt.name;
    auto value = opt.value(words);
    if (!value) return value.error();
    const std::string& v = *value;
    if (name == "--host") a.host = v;
    else if (name == "--tls") a.tls = v;
    else if (name == "--auth") a.auth = v;
    else if (name == "--user") a.user = v;
    else if (name == "--from") a.from = v;
    else if (name == "--ca-file") a.ca_file = v;
    else if (name == "--password-file") a.password_file = v;
    else if (name == "--password-command") a.password_command = v;
    else if (name == "--port") {
      unsigned p = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), p);
      if (ec != std::errc{} || end != v.data() + v.size() || p == 0 || p > 65535) {
        return usage("account set: --port must be 1..65535");
      }
      a.port = static_cast<std::uint16_t>(p);
    } else {
      return usage("unknown option " + name);
    }
  }
  int secrets = (a.password_stdin ? 1 : 0) + (a.password_file ? 1 : 0) + (a.password_command ? 1 : 0);
  if (secrets > 1) {
    return usage("account set: give only one of --password-stdin, --password-file, --password-command");
  }
  return {};
}

}  // namespace

Result<Invocation> parse_args(std::string_view program, std::span<const std::string> args) {
  Invocation inv;
  Words words{args};
  // Sub-commands only for the refmail name: as "sendmail" every operand is a recipient.
  const bool subcommands = basename(program) != "sendmail";
  // Common long options may come before the sub-command ("--config F send ...").
  std::size_t first = 0;
  while (subcommands && first < args.size() && args[first].starts_with("--") && args[first] != "--") {
    Words probe{args, first + 1};
    CommonArgs scratch;
    auto c = common_long(args[first], probe, scratch);
    if (!c || !*c) break;
    first = probe.i;
  }
  if (subcommands && first < args.size() && (args[first] == "send" || args[first] == "account")) {
    // Parse the leading options for real, then the sub-command.
    for (Words lead{args.first(first)}; !lead.done();) {
      const std::string& w = lead.next();
      auto c = common_long(w, lead, inv.common);
      if (!c) return c.error();
    }
    if (args[first] == "send") {
      inv.mode = Mode::Send;
      words.i = first + 1;
      auto r = parse_send(words, inv);
      if (!r) return r.error();
      return inv;
    }
    if (args[first] == "account") {
      inv.mode = Mode::AccountSet;
      words.i = first + 1;
      auto r = parse_account(words, inv);
      if (!r) return r.error();
      return inv;
    }
  }
  auto r = parse_sendmail(words, inv);
  if (!r) return r.error();
  if (inv.mode == Mode::Sendmail && !inv.sendmail.extract_recipients && inv.sendmail.rcpts.empty()) {
    return usage("no recipients (give them as arguments, or -t to read To/Cc/Bcc)");
  }
  return inv;
}

std::string usage_text() {
  return R"(usage:
  refmail-sendmail [-t] [-i] [-f FROM] [-F NAME] [options] [--] [RCPT...] < message
  refmail-sendmail send --to ADDR [--to ADDR...] [--cc ADDR] [--bcc ADDR] [--from ADDR]
                        --subject TEXT [--body TEXT | --body-file FILE] [--html-file FILE]
                        [--attach FILE]... [options]
  refmail-sendmail account set NAME [--host H] [--port P] [--tls starttls|tls|none]
                        [--auth auto|plain|login|xoauth2] [--user U] [--from ADDR]
                        [--ca-file F] [--password-stdin | --password-file F |
                        --password-command CMD] [--config FILE]
options:
  --config FILE      configuration (default /etc/refmail/sendmail.toml); also -C FILE
  --account NAME     account to use (default: the config's `default`, or its only account)
  --verbose, -v      show the SMTP dialogue on stderr (secrets masked)
  --dry-run          print the envelope and the message instead of sending
  --allow-plaintext  permit an account with tls = "none"
sendmail flags: -t read recipients from To/Cc/Bcc (Bcc is removed), -i/-oi a line with a
  single "." does not end the message, -f/-r envelope sender, -F full name; -o*, -bm, -m,
  -n, -U, -N, -R, -V, -B, -h, -L, -O, -X are accepted and ignored.
exit codes: sysexits.h (64 usage, 65 data, 66 no input, 67 recipient refused, 69 refused,
  75 temporary failure - try later, 76 protocol/TLS, 77 authentication, 78 configuration)
)";
}

}  // namespace refmail::sendmail
