// imap/message_envelope.cpp — ENVELOPE (RFC 9051 7.5.2, RFC 3501 7.4.2) from a header's
// raw fields. Addresses are tokenized here rather than with mime/address.hpp because
// ENVELOPE needs what that parser deliberately drops: group boundaries, the route, and
// the display name as sent (encoded words not decoded).
// Must never: decode or alter a value's bytes (beyond unfolding and unquoting), or write
// a value other than through ResponseBuilder's string forms.
// SECURITY: untrusted header bytes; linear in the field size, at most
// mime::kMaxAddresses addresses per field, no recursion (comments nest by counting).
#include "imap/message_view.hpp"

#include "imap/message_view_internal.hpp"
#include "mime/address.hpp"

namespace refmail::imap {
namespace view_detail {
namespace {

enum class Tok { Atom, Quoted, Comment, Special };

struct Token {
  Tok kind;
  std::string text;  // atom, quoted content (unescaped), comment content, or the special
};

bool is_special(char c) { return c == '<' || c == '>' || c == ',' || c == ':' || c == ';' || c == '@'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (is_space(c)) {
      ++i;
    } else if (c == '"') {
      std::string q;
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        if (s[i] != '\r' && s[i] != '\n') q.push_back(s[i]);
      }
      if (i < s.size()) ++i;
      out.push_back({Tok::Quoted, std::move(q)});
    } else if (c == '(') {
      std::string comment;
      std::size_t depth = 0;
      for (; i < s.size(); ++i) {
        const char d = s[i];
        if (d == '\\' && i + 1 < s.size()) {
          comment.push_back(s[++i]);
          continue;
        }
        if (d == '(' && depth++ == 0) continue;
        if (d == ')' && --depth == 0) {
          ++i;
          break;
        }
        comment.push_back(d);
      }
      out.push_back({Tok::Comment, std::move(comment)});
    } else if (is_special(c)) {
      out.push_back({Tok::Special, std::string(1, c)});
      ++i;
    } else {
      std::size_t j = i;
      while (j < s.size() && !is_space(s[j]) && !is_special(s[j]) && s[j] != '"' && s[j] != '(') ++j;
      out.push_back({Tok::Atom, std::string(s.substr(i, j - i))});
      i = j;
    }
  }
  return out;
}

struct EnvAddress {
  // group start: mailbox = name, host absent; group end: all absent.
  std::optional<std::string> name, adl, mailbox, host;
};

bool special(const Token& t, char c) { return t.kind == Tok::Special && t.text[0] == c; }

// Words of a phrase (atoms and quoted strings) joined by one space.
std::string phrase(const std::vector<const Token*>& words) {
  std::string out;
  for (const Token* t : words) {
    if (t->kind != Tok::Atom && t->kind != Tok::Quoted) continue;
    if (!out.empty()) out += ' ';
    out += t->text;
  }
  return out;
}

// local-part "@" domain from a run of tokens (atoms, quoted strings, '@').
void addr_spec(const std::vector<const Token*>& toks, EnvAddress& a) {
  std::string local, domain;
  bool at = false;
  for (const Token* t : toks) {
    if (t->kind == Tok::Comment) continue;
    if (special(*t, '@')) {
      if (at) domain += '@';
      at = true;
      continue;
    }
    (at ? domain : local) += t->text;
  }
  if (const std::size_t at2 = domain.find('@'); at2 != std::string::npos) domain.resize(at2);  // a@b@c: b
  a.mailbox = local.empty() ? "MISSING_MAILBOX" : local;
  a.host = domain.empty() ? "MISSING_DOMAIN" : domain;
}

std::vector<EnvAddress> parse_addresses(std::string_view value) {
  std::vector<EnvAddress> out;
  const std::vector<Token> toks = tokenize(value);
  std::size_t addresses = 0;
  bool in_group = false;
  std::vector<const Token*> run;  // tokens of the current entry before '<' or ':'
  auto flush_plain = [&] {        // an entry without angle brackets: addr-spec
    bool any = false;
    for (const Token* t : run) any = any || t->kind == Tok::Atom || t->kind == Tok::Quoted;
    if (any && addresses < mime::kMaxAddresses) {
      EnvAddress a;
      addr_spec(run, a);
      for (const Token* t : run)
        if (t->kind == Tok::Comment && !t->text.empty()) a.name = t->text;  // "a@b (Name)"
      out.push_back(std::move(a));
      ++addresses;
    }
    run.clear();
  };
  for (std::size_t i = 0; i < toks.size(); ++i) {
    const Token& t = toks[i];
    if (special(t, ',')) {
      flush_plain();
    } else if (special(t, ':') && !in_group) {
      EnvAddress g;
      g.mailbox = phrase(run);
      out.push_back(std::move(g));
      in_group = true;
      run.clear();
    } else if (special(t, ';') && in_group) {
      flush_plain();
      out.push_back(EnvAddress{});
      in_group = false;
    } else if (special(t, '<')) {
      EnvAddress a;
      const std::string name = phrase(run);
      if (!name.empty()) a.name = name;
      run.clear();
      // obs-route: "@a,@b:" before the addr-spec.
      std::size_t j = i + 1;
      std::string adl;
      std::size_t k = j;
      while (k < toks.size() && !special(toks[k], '>') && !special(toks[k], ':')) ++k;
      if (k < toks.size() && special(toks[k], ':') && j < toks.size() && special(toks[j], '@')) {
        for (std::size_t r = j; r < k; ++r) adl += toks[r].text;
        j = k + 1;
      }
      std::vector<const Token*> spec;
      for (; j < toks.size() && !special(toks[j], '>'); ++j) spec.push_back(&toks[j]);
      i = j;  // at '>' or the end
      if (!adl.empty()) a.adl = adl;
      addr_spec(spec, a);
      if (addresses < mime::kMaxAddresses) {
        out.push_back(std::move(a));
        ++addresses;
      }
    } else {
      run.push_back(&t);
    }
  }
  flush_plain();
  if (in_group) out.push_back(EnvAddress{});  // an unterminated group still ends
  return out;
}

// Text shown to people (Subject, display names): every run of SP, TAB, CR and LF becomes
// one space, none at either end (as Dovecot's imap_append_string_for_humans).
std::string for_humans(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// Every field named `field` (a message with two To fields lists both, as Dovecot).
std::vector<EnvAddress> addresses_of(const mime::Part& p, std::string_view field) {
  std::vector<EnvAddress> list;
  for (const mime::HeaderField& f : p.fields) {
    if (!iequals(f.name, field) || list.size() >= mime::kMaxAddresses) continue;
    std::vector<EnvAddress> more = parse_addresses(f.value);
    more.resize(std::min(more.size(), mime::kMaxAddresses - list.size()));
    for (EnvAddress& a : more) list.push_back(std::move(a));
  }
  return list;
}

void write_addresses(const mime::Part& p, std::string_view field, const ViewOptions& o, ResponseBuilder& b,
                     std::string_view fallback = {}) {
  std::vector<EnvAddress> list = addresses_of(p, field);
  if (list.empty() && !fallback.empty()) list = addresses_of(p, fallback);
  if (list.empty()) {
    b.atom("NIL");
    return;
  }
  b.open();
  for (const EnvAddress& a : list) {
    b.open();
    const std::optional<std::string> name = a.name ? std::optional(for_humans(*a.name)) : std::nullopt;
    write_nstring(b, name ? &*name : nullptr, o.utf8);
    b.sp();
    write_nstring(b, a.adl ? &*a.adl : nullptr, o.utf8);
    b.sp();
    write_nstring(b, a.mailbox ? &*a.mailbox : nullptr, o.utf8);
    b.sp();
    write_nstring(b, a.host ? &*a.host : nullptr, o.utf8);
    b.close();
  }
  b.close();
}

void write_value(const mime::Part& p, std::string_view field, const ViewOptions& o, ResponseBuilder& b) {
  const mime::HeaderField* f = p.field(field);
  write_nstring(b, f ? &f->value : nullptr, o.utf8);
}

}  // namespace

void write_envelope(const mime::Part& p, const ViewOptions& o, ResponseBuilder& b) {
  b.open();
  write_value(p, "date", o, b);
  b.sp();
  const mime::HeaderField* subject = p.field("subject");
  const std::optional<std::string> human = subject ? std::optional(for_humans(subject->value)) : std::nullopt;
  write_nstring(b, human ? &*human : nullptr, o.utf8);
  b.sp();
  write_addresses(p, "from", o, b);
  b.sp();
  // RFC 3501 7.4.2: an absent or empty Sender / Reply-To is From.
  write_addresses(p, "sender", o, b, "from");
  b.sp();
  write_addresses(p, "reply-to", o, b, "from");
  b.sp();
  write_addresses(p, "to", o, b);
  b.sp();
  write_addresses(p, "cc", o, b);
  b.sp();
  write_addresses(p, "bcc", o, b);
  b.sp();
  write_value(p, "in-reply-to", o, b);
  b.sp();
  write_value(p, "message-id", o, b);
  b.close();
}

}  // namespace view_detail

std::string envelope(const mime::Skeleton& skel, ViewOptions options) {
  ResponseBuilder b;
  view_detail::write_envelope(view_detail::top_header(skel, options.limits), options, b);
  return b.take();
}

}  // namespace refmail::imap
