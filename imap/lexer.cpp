// imap/lexer.cpp — the tokens of RFC 9051 9 over a framed RawCommand (parse_internal.hpp):
// atoms, astrings, quoted strings with their escapes, literals (already collected by
// the reader), numbers, flags, mailbox names, sequence sets and dates.
// Must never: read past a line (every access checks pos_), accept NUL/CR/LF in text or
// NUL in a literal string, or 8-bit bytes in text outside a UTF8=ACCEPT quoted string.
#include <cctype>
#include <charconv>

#include "imap/mutf7.hpp"
#include "imap/parse_internal.hpp"

namespace refmail::imap::detail {

std::string upper(std::string_view s) {
  std::string o(s);
  for (auto& c : o)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return o;
}

// RFC 9051 9: ATOM-CHAR = any CHAR except atom-specials ( ) { SP CTL % * " \ ]
bool is_atom_char(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f) return false;
  switch (c) {
    case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']': return false;
    default: return true;
  }
}
bool is_astring_char(unsigned char c) { return c == ']' || is_atom_char(c); }

bool Parser::fail(std::string text, errc code) {
  if (!failed_) {
    failed_ = true;
    error_.code = code;
    error_.text = std::move(text);
  }
  return false;
}

int Parser::peek() const {
  auto l = line();
  return pos_ < l.size() ? static_cast<unsigned char>(l[pos_]) : -1;
}

bool Parser::eat(char c) {
  if (peek() == static_cast<unsigned char>(c)) {
    ++pos_;
    return true;
  }
  return false;
}

bool Parser::sp() { return eat(' ') || fail("Expected a space"); }

bool Parser::at_end() const { return seg_ + 1 == raw_.lines.size() && pos_ == line().size(); }

bool Parser::end() { return at_end() || fail("Unexpected extra arguments"); }

bool Parser::word(std::string_view w) {
  auto l = line();
  if (l.size() - pos_ < w.size()) return false;
  for (std::size_t i = 0; i < w.size(); ++i) {
    char a = l[pos_ + i];
    if (a >= 'a' && a <= 'z') a = static_cast<char>(a - 'a' + 'A');
    if (a != w[i]) return false;
  }
  if (pos_ + w.size() < l.size() && is_atom_char(static_cast<unsigned char>(l[pos_ + w.size()]))) return false;
  pos_ += w.size();
  return true;
}

bool Parser::count_item() {
  return ++items_ <= opt_.max_items || fail("Too many items", errc::too_many_items);
}

std::optional<std::string> Parser::atom() {
  auto l = line();
  std::size_t b = pos_;
  while (pos_ < l.size() && is_atom_char(static_cast<unsigned char>(l[pos_]))) ++pos_;
  if (pos_ == b) return fail("Expected an atom"), std::nullopt;
  return std::string(l.substr(b, pos_ - b));
}

bool Parser::at_literal() const {
  int c = peek();
  return c == '{' || (c == '~' && pos_ + 1 < line().size() && line()[pos_ + 1] == '{');
}

const RawLiteral* Parser::literal(bool allow_binary) {
  auto l = line();
  std::size_t p = pos_;
  if (p < l.size() && l[p] == '~') ++p;
  if (p >= l.size() || l[p] != '{') return fail("Expected a literal"), nullptr;
  auto close = l.find('}', p);
  // The reader framed this line: a literal announcement is always the line's end.
  if (close == std::string_view::npos || close + 1 != l.size() || seg_ >= raw_.literals.size())
    return fail("Malformed literal", errc::bad_literal), nullptr;
  const RawLiteral& lit = raw_.literals[seg_];
  if (lit.binary && !allow_binary) return fail("literal8 is only allowed in APPEND", errc::bad_literal), nullptr;
  ++seg_;
  pos_ = 0;
  return &lit;
}

std::optional<std::string> Parser::string() {
  if (at_literal()) {
    const RawLiteral* lit = literal(false);
    if (!lit) return std::nullopt;
    if (lit->streamed) return fail("Unexpected message literal"), std::nullopt;
    // RFC 9051 9: literal = "{" number64 ["+"] "}" CRLF *CHAR8; CHAR8 excludes NUL.
    if (lit->data.find('\0') != std::string::npos) return fail("NUL in literal"), std::nullopt;
    return lit->data;
  }
  if (!eat('"')) return fail("Expected a string"), std::nullopt;
  auto l = line();
  std::string out;
  bool eight_bit = false;
  while (pos_ < l.size()) {
    auto c = static_cast<unsigned char>(l[pos_++]);
    if (c == '"') {
      // RFC 9051 9: QUOTED-CHAR includes UTF8-2/3/4 (IMAP4rev2 / UTF8=ACCEPT only).
      if (eight_bit && (!opt_.utf8_accept || !valid_utf8(out)))
        return fail("8-bit characters in a quoted string"), std::nullopt;
      return out;
    }
    if (c == '\\') {
      if (pos_ >= l.size() || (l[pos_] != '"' && l[pos_] != '\\')) return fail("Bad escape"), std::nullopt;
      c = static_cast<unsigned char>(l[pos_++]);
    } else if (c == 0 || c == '\r' || c == '\n') {
      return fail("Control character in a quoted string"), std::nullopt;
    } else if (c >= 0x80) {
      eight_bit = true;
    }
    out.push_back(static_cast<char>(c));
  }
  return fail("Unterminated quoted string"), std::nullopt;
}

std::optional<std::string> Parser::astring() {
  int c = peek();
  if (c == '"' || at_literal()) return string();
  auto l = line();
  std::size_t b = pos_;
  while (pos_ < l.size() && is_astring_char(static_cast<unsigned char>(l[pos_]))) ++pos_;
  if (pos_ == b) return fail("Expected a string or atom"), std::nullopt;
  return std::string(l.substr(b, pos_ - b));
}

std::optional<std::optional<std::string>> Parser::nstring() {
  if (word("NIL")) return std::optional<std::string>();
  auto s = string();
  if (!s) return std::nullopt;
  return std::optional<std::string>(std::move(*s));
}

std::optional<std::string> Parser::list_mailbox() {
  int c = peek();
  if (c == '"' || at_literal()) return string();
  auto l = line();
  std::size_t b = pos_;
  // list-char = ATOM-CHAR / list-wildcards / resp-specials
  while (pos_ < l.size()) {
    auto u = static_cast<unsigned char>(l[pos_]);
    if (!is_astring_char(u) && u != '%' && u != '*') break;
    ++pos_;
  }
  if (pos_ == b) return fail("Expected a mailbox pattern"), std::nullopt;
  return std::string(l.substr(b, pos_ - b));
}

std::optional<std::uint64_t> Parser::number64() {
  auto l = line();
  std::size_t b = pos_;
  while (pos_ < l.size() && l[pos_] >= '0' && l[pos_] <= '9') ++pos_;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(l.data() + b, l.data() + pos_, v);
  // RFC 9051 9: number64 is at most 2^63-1.
  if (pos_ == b || ec != std::errc{} || v > 0x7fffffffffffffffull) return fail("Expected a number"), std::nullopt;
  return v;
}

std::optional<std::uint32_t> Parser::number() {
  auto v = number64();
  if (!v) return std::nullopt;
  if (*v > 0xffffffffull) return fail("Number out of range"), std::nullopt;
  return static_cast<std::uint32_t>(*v);
}

std::optional<std::uint32_t> Parser::nz_number() {
  auto v = number();
  if (v && *v == 0) return fail("Zero is not allowed here"), std::nullopt;
  return v;
}

std::optional<std::string> Parser::mailbox() {
  auto s = astring();
  if (!s) return std::nullopt;
  // RFC 9051 5.1: INBOX is case-insensitive.
  if (upper(*s) == "INBOX") return std::string("INBOX");
  return decode_mailbox(std::move(*s));
}

std::optional<std::string> Parser::decode_mailbox(std::string s) {
  if (opt_.utf8_accept) {
    for (unsigned char c : s)
      if (c < 0x20 || c == 0x7f) return fail("Control character in a mailbox name", errc::bad_mailbox_name), std::nullopt;
    if (!valid_utf8(s)) return fail("Invalid UTF-8 in a mailbox name", errc::bad_mailbox_name), std::nullopt;
    return s;
  }
  auto d = mutf7_decode(s);
  if (!d) return fail("Invalid modified UTF-7 mailbox name", errc::bad_mailbox_name), std::nullopt;
  return std::move(*d);
}

std::optional<std::string> Parser::flag() {
  if (eat('\\')) {
    auto a = atom();
    if (!a) return std::nullopt;
    return "\\" + *a;
  }
  return atom();
}

std::optional<FlagList> Parser::flag_list() {
  if (!eat('(')) return fail("Expected a flag list"), std::nullopt;
  FlagList flags;
  if (eat(')')) return flags;
  for (;;) {
    if (!count_item()) return std::nullopt;
    auto f = flag();
    if (!f) return std::nullopt;
    flags.push_back(std::move(*f));
    if (eat(')')) return flags;
    if (!sp()) return std::nullopt;
  }
}

std::optional<SequenceSet> Parser::sequence_set() {
  auto l = line();
  std::size_t b = pos_;
  while (pos_ < l.size() && ((l[pos_] >= '0' && l[pos_] <= '9') || l[pos_] == ':' || l[pos_] == ',' ||
                             l[pos_] == '*' || l[pos_] == '$'))
    ++pos_;
  auto s = parse_sequence_set(l.substr(b, pos_ - b), opt_.max_sequence_ranges);
  if (!s) {
    if (s.error() == errc::too_many_items) return fail("Sequence set too large", errc::too_many_items), std::nullopt;
    return fail("Invalid sequence set", errc::bad_sequence_set), std::nullopt;
  }
  items_ += s->ranges.size();
  if (!count_item()) return std::nullopt;
  return std::move(*s);
}

std::optional<Date> Parser::date() {
  bool quoted = eat('"');
  auto l = line();
  std::size_t b = pos_;
  while (pos_ < l.size() && (std::isalnum(static_cast<unsigned char>(l[pos_])) || l[pos_] == '-')) ++pos_;
  auto d = parse_date(l.substr(b, pos_ - b));
  if (!d || (quoted && !eat('"'))) return fail("Invalid date"), std::nullopt;
  return d;
}

}  // namespace refmail::imap::detail
