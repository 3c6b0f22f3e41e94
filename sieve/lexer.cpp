// sieve/lexer.cpp — the Sieve tokenizer (RFC 5228 2.2-2.4, 8.1). One pass, no
// recursion; every token carries its line:column for compile errors.
// SECURITY: untrusted source: bounded by max_script_bytes and max_string_bytes; NUL and
// invalid UTF-8 are compile errors.
#include "sieve/lexer_internal.hpp"

namespace refmail::sieve::detail {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Offset of the first byte of an ill-formed UTF-8 sequence, or npos.
std::size_t first_bad_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) { ++i; continue; }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
    else return i;
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return i;
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += n + 1;
  }
  return std::string_view::npos;
}

class Lexer {
 public:
  Lexer(std::string_view src, const Limits& limits) : s_(src), limits_(limits) {}

  LexResult run() {
    LexResult out;
    if (s_.size() > limits_.max_script_bytes) {
      out.error = Error{1, 1, "script too large (" + std::to_string(s_.size()) + " bytes, limit " +
                                  std::to_string(limits_.max_script_bytes) + ")"};
      return out;
    }
    if (auto nul = s_.find('\0'); nul != std::string_view::npos) {
      out.error = error_at(nul, "NUL byte in script");
      return out;
    }
    if (auto bad = first_bad_utf8(s_); bad != std::string_view::npos) {
      out.error = error_at(bad, "invalid UTF-8 in script");
      return out;
    }
    for (;;) {
      if (auto e = skip_space(); e) { out.error = e; return out; }
      Token t;
      set_pos(t, i_);
      if (i_ >= s_.size()) {
        t.kind = Tok::End;
        out.tokens.push_back(std::move(t));
        return out;
      }
      char c = s_[i_];
      std::optional<Error> e;
      switch (c) {
        case '[': t.kind = Tok::LBracket; ++i_; break;
        case ']': t.kind = Tok::RBracket; ++i_; break;
        case '(': t.kind = Tok::LParen; ++i_; break;
        case ')': t.kind = Tok::RParen; ++i_; break;
        case ',': t.kind = Tok::Comma; ++i_; break;
        case ';': t.kind = Tok::Semicolon; ++i_; break;
        case '{': t.kind = Tok::LBrace; ++i_; break;
        case '}': t.kind = Tok::RBrace; ++i_; break;
        case '"': e = quoted(t); break;
        case ':':
          ++i_;
          if (i_ >= s_.size() || !is_alpha(s_[i_])) { e = error_at(i_ - 1, "expected a tag name after ':'"); break; }
          t.kind = Tok::Tag;
          t.text = identifier();
          break;
        default:
          if (is_digit(c)) { e = number(t); break; }
          if (is_alpha(c)) {
            std::size_t start = i_;
            std::string id = identifier();
            if (id == "text" && i_ < s_.size() && s_[i_] == ':') { e = multiline(t, start); break; }
            t.kind = Tok::Identifier;
            t.text = std::move(id);
            break;
          }
          e = error_at(i_, std::string("unexpected character '") +
                               (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f
                                    ? std::string("\\x") + hex(c) : std::string(1, c)) + "'");
      }
      if (e) { out.error = e; return out; }
      out.tokens.push_back(std::move(t));
    }
  }

 private:
  static std::string hex(char c) {
    static const char* d = "0123456789abcdef";
    auto u = static_cast<unsigned char>(c);
    return {d[u >> 4], d[u & 15]};
  }
  Error error_at(std::size_t off, std::string msg) const {
    Error e;
    position_of(s_, off, e.line, e.column);
    e.message = std::move(msg);
    return e;
  }
  void set_pos(Token& t, std::size_t off) {
    // Incremental line tracking: the lexer only moves forward.
    while (pos_off_ < off && pos_off_ < s_.size()) {
      if (s_[pos_off_] == '\n') { ++line_; col_ = 1; } else { ++col_; }
      ++pos_off_;
    }
    t.line = line_;
    t.column = col_;
  }
  std::string identifier() {
    std::string id;
    while (i_ < s_.size() && (is_alpha(s_[i_]) || is_digit(s_[i_]))) id.push_back(lower(s_[i_++]));
    return id;
  }
  std::optional<Error> skip_space() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') { ++i_; continue; }
      if (c == '#') {  // RFC 5228 2.3: hash comment to the end of the line
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
        continue;
      }
      if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '*') {  // bracket comment, not nested
        auto end = s_.find("*/", i_ + 2);
        if (end == std::string_view::npos) return error_at(i_, "unterminated comment");
        i_ = end + 2;
        continue;
      }
      break;
    }
    return std::nullopt;
  }
  std::optional<Error> number(Token& t) {
    std::size_t start = i_;
    std::uint64_t v = 0;
    while (i_ < s_.size() && is_digit(s_[i_])) {
      unsigned d = static_cast<unsigned>(s_[i_] - '0');
      if (v > (UINT64_C(1) << 62) / 10) return error_at(start, "number too large");
      v = v * 10 + d;
      ++i_;
    }
    if (i_ < s_.size()) {  // RFC 5228 2.4.1: quantifiers (binary powers)
      char q = lower(s_[i_]);
      unsigned shift = q == 'k' ? 10 : q == 'm' ? 20 : q == 'g' ? 30 : 0;
      if (shift) {
        ++i_;
        if (v > ((UINT64_C(1) << 62) >> shift)) return error_at(start, "number too large");
        v <<= shift;
      }
    }
    if (i_ < s_.size() && (is_alpha(s_[i_]) || is_digit(s_[i_])))
      return error_at(i_, "bad character after a number");
    t.kind = Tok::Number;
    t.number = v;
    return std::nullopt;
  }
  std::optional<Error> quoted(Token& t) {
    std::size_t start = i_;
    ++i_;
    std::string v;
    for (;;) {
      if (i_ >= s_.size()) return error_at(start, "unterminated string");
      char c = s_[i_++];
      if (c == '"') break;
      if (c == '\\') {  // RFC 5228 2.4.2: \" and \\; any other backslash is dropped
        if (i_ >= s_.size()) return error_at(start, "unterminated string");
        c = s_[i_++];
      }
      v.push_back(c);
      if (v.size() > limits_.max_string_bytes) return error_at(start, "string too long");
    }
    t.kind = Tok::String;
    t.text = std::move(v);
    return std::nullopt;
  }
  // RFC 5228 2.4.2 multi-line: "text:" *(SP / HTAB) (hash-comment / CRLF) *(lines) "." CRLF
  std::optional<Error> multiline(Token& t, std::size_t start) {
    ++i_;  // ':'
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
    if (i_ < s_.size() && s_[i_] == '#') {
      while (i_ < s_.size() && s_[i_] != '\n') ++i_;
    } else if (i_ < s_.size() && s_[i_] == '\r') {
      ++i_;
    }
    if (i_ >= s_.size() || s_[i_] != '\n') return error_at(start, "expected a line end after \"text:\"");
    ++i_;
    std::string v;
    for (;;) {
      if (i_ >= s_.size()) return error_at(start, "unterminated multi-line string");
      std::size_t eol = s_.find('\n', i_);
      std::string_view line = s_.substr(i_, eol == std::string_view::npos ? std::string_view::npos : eol - i_);
      std::string_view bare = line;
      if (!bare.empty() && bare.back() == '\r') bare.remove_suffix(1);
      if (bare == ".") {
        if (eol == std::string_view::npos) return error_at(start, "unterminated multi-line string");
        i_ = eol + 1;
        break;
      }
      if (eol == std::string_view::npos) return error_at(start, "unterminated multi-line string");
      if (!line.empty() && line.front() == '.') line.remove_prefix(1);  // dot-stuffing ("..")
      v.append(line);
      v.push_back('\n');
      if (v.size() > limits_.max_string_bytes) return error_at(start, "string too long");
      i_ = eol + 1;
    }
    // Keep line ends as CRLF, as the RFC's grammar writes them, whatever the source used.
    std::string crlf;
    crlf.reserve(v.size() + v.size() / 32);
    for (std::size_t k = 0; k < v.size(); ++k) {
      if (v[k] == '\n' && (k == 0 || v[k - 1] != '\r')) crlf.push_back('\r');
      crlf.push_back(v[k]);
    }
    if (crlf.size() > limits_.max_string_bytes) return error_at(start, "string too long");
    t.kind = Tok::String;
    t.text = std::move(crlf);
    return std::nullopt;
  }

  std::string_view s_;
  const Limits& limits_;
  std::size_t i_ = 0;
  std::size_t pos_off_ = 0;
  unsigned line_ = 1, col_ = 1;
};

}  // namespace

void position_of(std::string_view source, std::size_t offset, unsigned& line, unsigned& column) {
  line = 1;
  column = 1;
  for (std::size_t k = 0; k < offset && k < source.size(); ++k) {
    if (source[k] == '\n') { ++line; column = 1; } else { ++column; }
  }
}

LexResult lex(std::string_view source, const Limits& limits) { return Lexer(source, limits).run(); }

}  // namespace refmail::sieve::detail
