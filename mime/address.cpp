// mime/address.cpp — lenient RFC 5322 3.4 / 4.4 address-list parsing (a token pass,
// then a small state machine over mailbox / angle-addr / group) and formatting.
// SECURITY: linear, bounded by max_addresses and the input size; no recursion
// (comment nesting is counted, not recursed).
#include "mime/address.hpp"

#include "mime/charset.hpp"
#include "mime/rfc2047.hpp"

namespace refmail::mime {
namespace {

enum class Tok { Atom, Quoted, Comment, Special };

struct Token {
  Tok kind;
  std::string text;     // atom text, quoted/comment content (unescaped), or the special
  bool space_before;    // whitespace (or a comment) preceded it
};

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool is_special(char c) {
  return c == '<' || c == '>' || c == ',' || c == ':' || c == ';' || c == '@';
}

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  bool space = false;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (is_wsp(c)) {
      space = true;
      ++i;
    } else if (c == '"') {
      std::string q;
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        if (s[i] != '\r' && s[i] != '\n') q.push_back(s[i]);
        ++i;
      }
      if (i < s.size()) ++i;
      out.push_back({Tok::Quoted, std::move(q), space});
      space = false;
    } else if (c == '(') {
      std::string comment;
      int depth = 0;
      for (; i < s.size(); ++i) {
        const char d = s[i];
        if (d == '\\' && i + 1 < s.size()) {
          comment.push_back(s[++i]);
          continue;
        }
        if (d == '(') {
          if (depth++ == 0) continue;
        } else if (d == ')') {
          if (--depth == 0) {
            ++i;
            break;
          }
        }
        comment.push_back(d);
      }
      out.push_back({Tok::Comment, std::move(comment), space});
      space = true;  // a comment separates like whitespace
    } else if (c == '[') {
      // Domain literal, kept whole with its brackets.
      const std::size_t b = i;
      while (i < s.size() && s[i] != ']') ++i;
      if (i < s.size()) ++i;
      out.push_back({Tok::Atom, std::string(s.substr(b, i - b)), space});
      space = false;
    } else if (is_special(c)) {
      out.push_back({Tok::Special, std::string(1, c), space});
      space = false;
      ++i;
    } else if (c == ')' || c == '>' || c == ']') {
      ++i;  // stray closer: ignore
    } else {
      const std::size_t b = i;
      while (i < s.size() && !is_wsp(s[i]) && !is_special(s[i]) && s[i] != '"' &&
             s[i] != '(' && s[i] != ')' && s[i] != '[')
        ++i;
      out.push_back({Tok::Atom, std::string(s.substr(b, i - b)), space});
      space = false;
    }
  }
  return out;
}

bool needs_quoting_local(std::string_view q) {
  if (q.empty() || q.front() == '.' || q.back() == '.') return true;
  for (std::size_t k = 0; k < q.size(); ++k) {
    const char c = q[k];
    const auto u = static_cast<unsigned char>(c);
    if (c == '.') {
      if (k + 1 < q.size() && q[k + 1] == '.') return true;
      continue;
    }
    if (u >= 0x80) continue;  // RFC 6532 UTF-8 atext
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) continue;
    switch (c) {
      case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
      case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
      case '|': case '}': case '~':
        continue;
      default:
        return true;
    }
  }
  return false;
}

// Builds the addr-spec text from tokens (comments ignored; CFWS around dots dropped).
std::string addr_spec(const std::vector<const Token*>& toks) {
  std::string out;
  for (const Token* t : toks) {
    if (t->kind == Tok::Comment) continue;
    if (t->kind == Tok::Quoted) {
      if (needs_quoting_local(t->text)) {
        out.push_back('"');
        for (char c : t->text) {
          if (c == '"' || c == '\\') out.push_back('\\');
          out.push_back(c);
        }
        out.push_back('"');
      } else {
        out += t->text;  // RFC 5322 3.4.1: "john"@x is john@x
      }
    } else {
      out += t->text;
    }
  }
  return out;
}

// A display name from phrase tokens: words joined by one space, then RFC 2047 decoded.
std::string phrase(const std::vector<const Token*>& toks) {
  std::string raw;
  for (const Token* t : toks) {
    if (t->kind == Tok::Comment) continue;
    if (!raw.empty() && t->space_before) raw.push_back(' ');
    raw += t->text;
  }
  std::string name = decode_rfc2047(raw);
  // Collapse runs of whitespace and control characters into single spaces.
  std::string out;
  out.reserve(name.size());
  bool sp = false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || c == ' ' || c == 0x7F) {
      sp = !out.empty();
      continue;
    }
    if (sp) out.push_back(' ');
    sp = false;
    out.push_back(c);
  }
  return out;
}

std::string comment_name(const std::vector<const Token*>& toks) {
  for (const Token* t : toks)
    if (t->kind == Tok::Comment) {
      Token w{Tok::Atom, t->text, false};
      std::string n = phrase({&w});
      if (!n.empty()) return n;
    }
  return {};
}

std::size_t last_line_length(std::string_view s) {
  const auto nl = s.rfind('\n');
  return nl == std::string_view::npos ? s.size() : s.size() - nl - 1;
}

}  // namespace

std::vector<Address> parse_address_list(std::string_view field_body, std::size_t max_addresses) {
  const std::vector<Token> toks = tokenize(field_body);
  std::vector<Address> out;
  std::vector<const Token*> before;  // tokens of the current entry outside <>
  std::vector<const Token*> angle;   // tokens inside <>
  std::vector<const Token*> after;   // tokens after '>'
  bool in_angle = false, had_angle = false, in_group = false;

  auto finish = [&]() {
    if (out.size() >= max_addresses) return;
    Address a;
    if (had_angle) {
      // RFC 5322 4.4 obs-route: "<@a,@b:user@host>" -> drop up to the last ':'.
      std::size_t start = 0;
      for (std::size_t k = 0; k < angle.size(); ++k)
        if (angle[k]->kind == Tok::Special && angle[k]->text == ":") start = k + 1;
      std::vector<const Token*> spec(angle.begin() + static_cast<std::ptrdiff_t>(start),
                                     angle.end());
      a.email = addr_spec(spec);
      a.name = phrase(before);
      if (a.name.empty()) a.name = comment_name(after);
    } else {
      a.email = addr_spec(before);
      a.name = comment_name(before);
    }
    // Raw 8-bit bytes in an addr-spec or comment are UTF-8 only if RFC 6532 was
    // followed; anything else must not reach JSON as it is.
    repair_utf8(a.email);
    repair_utf8(a.name);
    if (!a.email.empty()) out.push_back(std::move(a));
  };
  auto reset = [&]() {
    before.clear();
    angle.clear();
    after.clear();
    in_angle = had_angle = false;
  };

  for (const Token& t : toks) {
    if (out.size() >= max_addresses) break;
    if (t.kind == Tok::Special) {
      const char c = t.text[0];
      if (in_angle) {
        if (c == '>') {
          in_angle = false;
        } else if (c == ',' && angle.empty()) {
          // "<,": keep going, harmless
        } else {
          angle.push_back(&t);
        }
        continue;
      }
      if (c == '<') {
        if (had_angle) {  // a second <...> in one entry: start a new entry
          finish();
          reset();
        }
        in_angle = had_angle = true;
        continue;
      }
      if (c == ',') {
        finish();
        reset();
        continue;
      }
      if (c == ':' && !in_group && !had_angle) {
        // Group display name ends here (RFC 5322 3.4): drop it, members follow.
        in_group = true;
        reset();
        continue;
      }
      if (c == ';') {
        finish();
        reset();
        in_group = false;
        continue;
      }
      if (c == '>') continue;
    }
    if (in_angle) angle.push_back(&t);
    else if (had_angle) after.push_back(&t);
    else before.push_back(&t);
  }
  finish();
  return out;
}

std::string format_address(const Address& address, std::size_t first_line_used) {
  if (address.name.empty()) return address.email;
  std::string out = encode_rfc2047(address.name, EncodeContext::Phrase, first_line_used);
  out += " <";
  out += address.email;
  out += ">";
  return out;
}

std::string format_address_list(const std::vector<Address>& addresses,
                                 std::size_t first_line_used) {
  std::string out;
  std::size_t line = first_line_used;
  for (std::size_t k = 0; k < addresses.size(); ++k) {
    std::string one = format_address(addresses[k], k == 0 ? line : 1);
    if (k > 0) {
      out += ",";
      ++line;
      const std::size_t first_len = one.find('\n') == std::string::npos
                                        ? one.size()
                                        : one.find('\r');
      if (line + 1 + first_len > 78) {
        out += "\r\n ";
        line = 1;
        one = format_address(addresses[k], 1);
      } else {
        out += " ";
        ++line;
      }
    }
    out += one;
    line = one.find('\n') == std::string::npos ? line + one.size() : last_line_length(one);
  }
  return out;
}

}  // namespace refmail::mime
