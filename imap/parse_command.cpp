// imap/parse_command.cpp — parse_command(): the tag, the command name (with UID), the
// dispatch table to the per-family parsers, and the small commands (RFC 9051 6.1-6.3:
// CAPABILITY NOOP LOGOUT STARTTLS AUTHENTICATE LOGIN ENABLE IDLE ...; RFC 2971 ID;
// RFC 9208 quotas; RFC 4978 COMPRESS).
// Must never: accept a command with trailing junk, or UID before a command it does not
// apply to.
#include <cctype>

#include "imap/parse_internal.hpp"

namespace refmail::imap {
namespace detail {

boost::system::result<Command, ParseError> Parser::run() {
  // tag = 1*<any ASTRING-CHAR except "+">
  auto l = line();
  std::size_t b = pos_;
  while (pos_ < l.size() && is_astring_char(static_cast<unsigned char>(l[pos_])) && l[pos_] != '+') ++pos_;
  if (pos_ == b) {
    fail("Invalid tag");
    return error_;
  }
  tag_.assign(l.substr(b, pos_ - b));
  error_.tag = tag_;
  if (pos_ < l.size() && l[pos_] != ' ') {
    error_.tag.clear();  // "a+b" or "a(b": the tag itself is invalid
    fail("Invalid tag");
    return error_;
  }
  std::optional<CommandBody> body;
  if (sp()) {
    auto name = atom();
    if (name) {
      std::string n = upper(*name);
      bool uid = false;
      if (n == "UID") {
        uid = true;
        if (sp() && (name = atom())) n = upper(*name);
      }
      if (!failed_) body = command(n, uid);
    }
  }
  if (!failed_ && body && !end()) body.reset();
  if (failed_ || !body) {
    if (!failed_) fail("Syntax error");
    return error_;
  }
  return Command{tag_, std::move(*body)};
}

std::optional<CommandBody> Parser::command(const std::string& n, bool uid) {
  if (uid) {
    if (n == "FETCH") return fetch(true);
    if (n == "SEARCH") return search(true);
    if (n == "STORE") return store(true);
    if (n == "COPY") return copy(true, false);
    if (n == "MOVE") return copy(true, true);
    if (n == "EXPUNGE") return expunge(true);
    if (n == "SORT") return sort(true);
    if (n == "THREAD") return thread(true);
    fail("Unknown UID command " + n.substr(0, 32), errc::unknown_command);
    return std::nullopt;
  }
  // Commands without arguments.
  if (n == "CAPABILITY") return Capability{};
  if (n == "NOOP") return Noop{};
  if (n == "LOGOUT") return Logout{};
  if (n == "STARTTLS") return StartTls{};
  if (n == "NAMESPACE") return Namespace{};
  if (n == "IDLE") return Idle{};
  if (n == "CHECK") return Check{};
  if (n == "CLOSE") return Close{};
  if (n == "UNSELECT") return Unselect{};
  if (n == "EXPUNGE") return expunge(false);
  if (n == "AUTHENTICATE") return authenticate();
  if (n == "LOGIN") {
    Login c;
    auto u = sp() ? astring() : std::nullopt;
    auto p = u && sp() ? astring() : std::nullopt;
    if (!p) return std::nullopt;
    c.user = std::move(*u);
    c.password = std::move(*p);
    return c;
  }
  if (n == "ENABLE") return enable();
  if (n == "SELECT") return select(false);
  if (n == "EXAMINE") return select(true);
  if (n == "CREATE") return create();
  if (n == "DELETE" || n == "SUBSCRIBE" || n == "UNSUBSCRIBE" || n == "GETQUOTAROOT") {
    auto m = sp() ? mailbox() : std::nullopt;
    if (!m) return std::nullopt;
    if (n == "DELETE") return Delete{std::move(*m)};
    if (n == "SUBSCRIBE") return Subscribe{std::move(*m)};
    if (n == "UNSUBSCRIBE") return Unsubscribe{std::move(*m)};
    return GetQuotaRoot{std::move(*m)};
  }
  if (n == "RENAME") {
    auto from = sp() ? mailbox() : std::nullopt;
    auto to = from && sp() ? mailbox() : std::nullopt;
    if (!to) return std::nullopt;
    return Rename{std::move(*from), std::move(*to)};
  }
  if (n == "LIST") return list();
  if (n == "LSUB") return lsub();
  if (n == "STATUS") return status();
  if (n == "APPEND") return append();
  if (n == "SEARCH") return search(false);
  if (n == "FETCH") return fetch(false);
  if (n == "STORE") return store(false);
  if (n == "COPY") return copy(false, false);
  if (n == "MOVE") return copy(false, true);
  if (n == "SORT") return sort(false);
  if (n == "THREAD") return thread(false);
  if (n == "GETQUOTA") {
    auto r = sp() ? astring() : std::nullopt;
    if (!r) return std::nullopt;
    return GetQuota{std::move(*r)};
  }
  if (n == "SETQUOTA") return setquota();
  if (n == "ID") return id();
  if (n == "COMPRESS") {
    auto m = sp() ? atom() : std::nullopt;
    if (!m) return std::nullopt;
    return Compress{upper(*m)};
  }
  fail("Unknown command " + n.substr(0, 32), errc::unknown_command);
  return std::nullopt;
}

std::optional<CommandBody> Parser::authenticate() {
  // RFC 9051 6.2.2, RFC 4959: AUTHENTICATE SP auth-type [SP (base64 / "=")]
  Authenticate c;
  auto m = sp() ? atom() : std::nullopt;
  if (!m) return std::nullopt;
  c.mechanism = upper(*m);
  if (eat(' ')) {
    auto l = line();
    std::size_t b = pos_;
    while (pos_ < l.size() && (std::isalnum(static_cast<unsigned char>(l[pos_])) || l[pos_] == '+' ||
                               l[pos_] == '/' || l[pos_] == '='))
      ++pos_;
    std::string_view ir = l.substr(b, pos_ - b);
    // base64 = *(4base64-char) [base64-terminal]: a multiple of 4, '=' only at the end.
    std::size_t eq = ir.find('=');
    bool ok = ir == "=" || (!ir.empty() && ir.size() % 4 == 0 &&
                            (eq == std::string_view::npos || (eq >= ir.size() - 2 &&
                                                              ir.find_first_not_of('=', eq) == std::string_view::npos)));
    if (!ok) return fail("Invalid initial response"), std::nullopt;
    c.initial_response.emplace(ir);
  }
  return c;
}

std::optional<CommandBody> Parser::enable() {
  // RFC 5161: ENABLE 1*(SP capability)
  Enable c;
  do {
    if (!sp() || !count_item()) return std::nullopt;
    auto a = atom();
    if (!a) return std::nullopt;
    c.capabilities.push_back(upper(*a));
  } while (!at_end());
  return c;
}

std::optional<CommandBody> Parser::id() {
  // RFC 2971: ID SP ( "(" [string SP nstring *(SP string SP nstring)] ")" / NIL )
  Id c;
  if (!sp()) return std::nullopt;
  if (word("NIL")) return c;
  if (!eat('(')) return fail("Expected ( or NIL"), std::nullopt;
  c.fields.emplace();
  if (eat(')')) return c;
  for (;;) {
    // RFC 2971 3.3: at most 30 pairs, fields up to 30 octets, values up to 1024.
    if (c.fields->size() >= 30) return fail("Too many ID fields", errc::too_many_items), std::nullopt;
    auto k = string();
    auto v = k && sp() ? nstring() : std::nullopt;
    if (!v) return std::nullopt;
    if (k->size() > 30 || (*v && (*v)->size() > 1024)) return fail("ID field too long"), std::nullopt;
    c.fields->emplace_back(std::move(*k), std::move(*v));
    if (eat(')')) return c;
    if (!sp()) return std::nullopt;
  }
}

std::optional<CommandBody> Parser::setquota() {
  // RFC 9208 4.3: SETQUOTA SP quota-root SP "(" [setquota-resource *(SP setquota-resource)] ")"
  SetQuota c;
  auto r = sp() ? astring() : std::nullopt;
  if (!r || !sp()) return std::nullopt;
  c.root = std::move(*r);
  if (!eat('(')) return fail("Expected ("), std::nullopt;
  if (eat(')')) return c;
  for (;;) {
    if (!count_item()) return std::nullopt;
    auto name = atom();
    auto n = name && sp() ? number64() : std::nullopt;
    if (!n) return std::nullopt;
    c.limits.emplace_back(upper(*name), *n);
    if (eat(')')) return c;
    if (!sp()) return std::nullopt;
  }
}

std::optional<CommandBody> Parser::expunge(bool uid) {
  Expunge c;
  if (uid) {
    auto s = sp() ? sequence_set() : std::nullopt;
    if (!s) return std::nullopt;
    c.uids = std::move(*s);
  }
  return c;
}

}  // namespace detail

boost::system::result<Command, ParseError> parse_command(const RawCommand& raw, const ParseOptions& options) {
  if (raw.lines.size() != raw.literals.size() + 1) return ParseError{"", errc::syntax, "Malformed command"};
  detail::Parser p(raw, options);
  return p.run();
}

std::string peek_tag(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && detail::is_astring_char(static_cast<unsigned char>(line[i])) && line[i] != '+') ++i;
  if (i == 0 || i > 1024 || (i < line.size() && line[i] != ' ')) return "";
  return std::string(line.substr(0, i));
}

std::string command_name(const Command& c) {
  struct V {
    std::string operator()(const Capability&) const { return "CAPABILITY"; }
    std::string operator()(const Noop&) const { return "NOOP"; }
    std::string operator()(const Logout&) const { return "LOGOUT"; }
    std::string operator()(const StartTls&) const { return "STARTTLS"; }
    std::string operator()(const Authenticate&) const { return "AUTHENTICATE"; }
    std::string operator()(const Login&) const { return "LOGIN"; }
    std::string operator()(const Enable&) const { return "ENABLE"; }
    std::string operator()(const Select& s) const { return s.examine ? "EXAMINE" : "SELECT"; }
    std::string operator()(const Create&) const { return "CREATE"; }
    std::string operator()(const Delete&) const { return "DELETE"; }
    std::string operator()(const Rename&) const { return "RENAME"; }
    std::string operator()(const Subscribe&) const { return "SUBSCRIBE"; }
    std::string operator()(const Unsubscribe&) const { return "UNSUBSCRIBE"; }
    std::string operator()(const List&) const { return "LIST"; }
    std::string operator()(const Lsub&) const { return "LSUB"; }
    std::string operator()(const Namespace&) const { return "NAMESPACE"; }
    std::string operator()(const Status&) const { return "STATUS"; }
    std::string operator()(const Append&) const { return "APPEND"; }
    std::string operator()(const Idle&) const { return "IDLE"; }
    std::string operator()(const Check&) const { return "CHECK"; }
    std::string operator()(const Close&) const { return "CLOSE"; }
    std::string operator()(const Unselect&) const { return "UNSELECT"; }
    std::string operator()(const Expunge& e) const { return e.uids ? "UID EXPUNGE" : "EXPUNGE"; }
    std::string operator()(const Search& s) const { return s.uid ? "UID SEARCH" : "SEARCH"; }
    std::string operator()(const Fetch& f) const { return f.uid ? "UID FETCH" : "FETCH"; }
    std::string operator()(const Store& s) const { return s.uid ? "UID STORE" : "STORE"; }
    std::string operator()(const Copy& c) const {
      return std::string(c.uid ? "UID " : "") + (c.move ? "MOVE" : "COPY");
    }
    std::string operator()(const Sort& s) const { return s.uid ? "UID SORT" : "SORT"; }
    std::string operator()(const Thread& t) const { return t.uid ? "UID THREAD" : "THREAD"; }
    std::string operator()(const GetQuota&) const { return "GETQUOTA"; }
    std::string operator()(const GetQuotaRoot&) const { return "GETQUOTAROOT"; }
    std::string operator()(const SetQuota&) const { return "SETQUOTA"; }
    std::string operator()(const Id&) const { return "ID"; }
    std::string operator()(const Compress&) const { return "COMPRESS"; }
  };
  return std::visit(V{}, c.body);
}

}  // namespace refmail::imap
