// mime/rfc2231.cpp — lenient parsing of parameterised MIME fields (RFC 2045 5.1,
// RFC 2183) with RFC 2231 extended values and continuations, and strict encoding.
// SECURITY: bounded (kMaxParams names, kMaxSections sections per name, comment depth),
// linear in the input size, never throws.
#include "mime/rfc2231.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include "mime/charset.hpp"
#include "mime/rfc2047.hpp"

namespace refmail::mime {
namespace {

constexpr int kMaxCommentDepth = 32;

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Skips an RFC 5322 comment starting at s[i] == '('; returns the index after it.
std::size_t skip_comment(std::string_view s, std::size_t i) {
  int depth = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\') {
      ++i;
    } else if (c == '(') {
      if (++depth > kMaxCommentDepth) depth = kMaxCommentDepth;
    } else if (c == ')') {
      if (--depth == 0) return i + 1;
    }
  }
  return s.size();
}

std::size_t skip_cfws(std::string_view s, std::size_t i) {
  while (i < s.size()) {
    if (is_wsp(s[i])) ++i;
    else if (s[i] == '(') i = skip_comment(s, i);
    else break;
  }
  return i;
}

struct Pieces {
  std::size_t order = 0;
  std::optional<std::string> plain;          // name=value
  std::optional<std::string> extended;       // name*=charset'lang'value
  std::map<unsigned, std::pair<std::string, bool>> sections;  // n -> (value, extended)
};

// Splits charset'lang'rest (RFC 2231 4); returns {charset, rest}. Lenient: without two
// quotes, no charset.
std::pair<std::string, std::string_view> split_charset(std::string_view v) {
  const auto q1 = v.find('\'');
  if (q1 == std::string_view::npos) return {{}, v};
  const auto q2 = v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return {{}, v};
  return {std::string(v.substr(0, q1)), v.substr(q2 + 1)};
}

std::string decode_extended(std::string_view charset, std::string_view bytes) {
  return to_utf8(bytes, charset);
}

bool is_attribute_char(unsigned char c) {
  // RFC 2231 7: attribute-char := <any (US-ASCII) CHAR except SPACE, CTLs, "*", "'",
  // "%", or tspecials>
  if (c <= 0x20 || c >= 0x7F) return false;
  switch (c) {
    case '*': case '\'': case '%': case '(': case ')': case '<': case '>': case '@':
    case ',': case ';': case ':': case '\\': case '"': case '/': case '[': case ']':
    case '?': case '=':
      return false;
    default:
      return true;
  }
}

}  // namespace

bool is_mime_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) return false;
    switch (c) {
      case '(': case ')': case '<': case '>': case '@': case ',': case ';': case ':':
      case '\\': case '"': case '/': case '[': case ']': case '?': case '=':
        return false;
      default:
        break;
    }
  }
  return true;
}

std::optional<std::string> ParameterizedField::param(std::string_view name) const {
  for (const auto& [n, v] : params)
    if (n == name) return v;
  return std::nullopt;
}

std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 &&
        hex_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

ParameterizedField parse_parameterized_field(std::string_view field_body) {
  const std::string s = unfold_header(field_body);
  ParameterizedField out;
  std::size_t i = 0;

  // The value: everything up to ';', comments and whitespace dropped.
  {
    std::string v;
    while (i < s.size() && s[i] != ';') {
      if (s[i] == '(') {
        i = skip_comment(s, i);
      } else if (s[i] == '"') {  // a quoted type is wrong but seen; take its content
        ++i;
      } else {
        if (!is_wsp(s[i])) v.push_back(lower(s[i]));
        ++i;
      }
    }
    out.value = std::move(v);
  }

  std::map<std::string, Pieces> by_name;
  std::size_t order = 0;
  while (i < s.size()) {
    // At ';' (or garbage): move past it.
    if (s[i] == ';') ++i;
    i = skip_cfws(s, i);
    if (i >= s.size()) break;
    // Attribute name up to '=' or ';'.
    const std::size_t name_begin = i;
    while (i < s.size() && s[i] != '=' && s[i] != ';' && s[i] != '"') ++i;
    std::string name = to_lower(trim(std::string_view(s).substr(name_begin, i - name_begin)));
    if (i >= s.size() || s[i] != '=') {
      // No value: skip to the next ';' (past any quoted string).
      while (i < s.size() && s[i] != ';') {
        if (s[i] == '"') {
          ++i;
          while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
        }
        ++i;
      }
      continue;
    }
    ++i;  // '='
    i = skip_cfws(s, i);
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        value.push_back(s[i]);
        ++i;
      }
      if (i < s.size()) ++i;  // closing quote
      while (i < s.size() && s[i] != ';') ++i;  // junk after the quoted string
    } else {
      const std::size_t vb = i;
      while (i < s.size() && s[i] != ';') ++i;
      std::string_view raw = trim(std::string_view(s).substr(vb, i - vb));
      // A trailing comment ("us-ascii (Plain text)") is not part of the value.
      if (!raw.empty() && raw.back() == ')') {
        const auto open = raw.rfind(" (");
        if (open != std::string_view::npos) raw = trim(raw.substr(0, open));
      }
      value = std::string(raw);
    }
    if (name.empty()) continue;

    // RFC 2231 3, 4: name*N, name*N*, name*.
    bool extended = false;
    std::string base = name;
    std::optional<unsigned> section;
    if (!base.empty() && base.back() == '*') {
      extended = true;
      base.pop_back();
    }
    if (const auto star = base.find('*'); star != std::string::npos) {
      const std::string_view num = std::string_view(base).substr(star + 1);
      if (!num.empty() && num.size() <= 4 &&
          std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        unsigned n = 0;  // 1-4 digits; from_chars never throws
        std::from_chars(num.data(), num.data() + num.size(), n);
        section = n;
        base.resize(star);
      }
    }
    if (base.empty()) continue;
    auto it = by_name.find(base);
    if (it == by_name.end()) {
      if (by_name.size() >= kMaxParams) continue;
      it = by_name.emplace(base, Pieces{}).first;
      it->second.order = order++;
    }
    Pieces& p = it->second;
    if (section) {
      if (p.sections.size() < kMaxSections && !p.sections.contains(*section))
        p.sections.emplace(*section, std::make_pair(std::move(value), extended));
    } else if (extended) {
      if (!p.extended) p.extended = std::move(value);
    } else {
      if (!p.plain) p.plain = std::move(value);
    }
  }

  std::vector<std::pair<std::size_t, std::pair<std::string, std::string>>> ordered;
  for (auto& [base, p] : by_name) {
    std::string decoded;
    if (!p.sections.empty()) {
      // RFC 2231 3: sections in numeric order; only section 0 carries charset'lang'.
      std::string charset;
      std::string bytes;
      bool any_extended = false;
      bool first = true;
      for (auto& [n, sv] : p.sections) {
        auto& [v, ext] = sv;
        if (ext) {
          any_extended = true;
          std::string_view rest = v;
          if (first) {
            auto [cs, r] = split_charset(v);
            charset = std::move(cs);
            rest = r;
          }
          bytes += percent_decode(rest);
        } else {
          bytes += v;
        }
        first = false;
      }
      decoded = any_extended ? decode_extended(charset, bytes) : decode_rfc2047(bytes);
    } else if (p.extended) {
      auto [cs, rest] = split_charset(*p.extended);
      decoded = decode_extended(cs, percent_decode(rest));
    } else if (p.plain) {
      // Not standard, but common: RFC 2047 encoded-words in a quoted parameter value,
      // and raw UTF-8 or latin1 8-bit text.
      decoded = decode_rfc2047(*p.plain);
    }
    ordered.push_back({p.order, {base, std::move(decoded)}});
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& o : ordered) out.params.push_back(std::move(o.second));
  return out;
}

std::vector<std::string> encode_parameter(std::string_view name, std::string_view utf8_value) {
  const std::string value =
      is_valid_utf8(utf8_value) ? std::string(utf8_value) : sanitize_utf8(utf8_value);
  std::vector<std::string> out;
  constexpr std::size_t kShort = 60;
  bool printable = is_ascii(value);
  for (char c : value)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) printable = false;
  if (value.size() <= kShort && is_mime_token(value)) {
    out.push_back(std::string(name) + "=" + value);
    return out;
  }
  if (printable && value.size() <= kShort) {
    std::string q = std::string(name) + "=\"";
    for (char c : value) {
      if (c == '"' || c == '\\') q.push_back('\\');
      q.push_back(c);
    }
    q.push_back('"');
    out.push_back(std::move(q));
    return out;
  }
  // RFC 2231: percent-encode per UTF-8 character so no section splits a character.
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::vector<std::string> chars;
  for (std::size_t i = 0; i < value.size();) {
    const auto c0 = static_cast<unsigned char>(value[i]);
    std::size_t n = c0 < 0x80 ? 1 : c0 < 0xE0 ? 2 : c0 < 0xF0 ? 3 : 4;
    n = std::min(n, value.size() - i);
    std::string enc;
    for (std::size_t k = 0; k < n; ++k) {
      const auto c = static_cast<unsigned char>(value[i + k]);
      if (is_attribute_char(c)) {
        enc.push_back(static_cast<char>(c));
      } else {
        enc.push_back('%');
        enc.push_back(kHex[c >> 4]);
        enc.push_back(kHex[c & 15]);
      }
    }
    chars.push_back(std::move(enc));
    i += n;
  }
  std::size_t total = 0;
  for (const auto& c : chars) total += c.size();
  const std::string single_prefix = std::string(name) + "*=utf-8''";
  if (single_prefix.size() + total <= 70) {
    std::string seg = single_prefix;
    for (const auto& c : chars) seg += c;
    out.push_back(std::move(seg));
    return out;
  }
  unsigned section = 0;
  std::string seg;
  auto start_section = [&]() {
    seg = std::string(name) + "*" + std::to_string(section) + "*=";
    if (section == 0) seg += "utf-8''";
  };
  start_section();
  std::size_t in_seg = 0;
  for (const auto& c : chars) {
    if (in_seg > 0 && seg.size() + c.size() > 70) {
      out.push_back(std::move(seg));
      ++section;
      start_section();
      in_seg = 0;
    }
    seg += c;
    ++in_seg;
  }
  out.push_back(std::move(seg));
  return out;
}

}  // namespace refmail::mime
