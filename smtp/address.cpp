// smtp/address.cpp — RFC 5321 4.1.2 Path grammar, RFC 6531 3.3 UTF-8 extensions.
// SECURITY: every loop is bounded by the input; limits from RFC 5321 4.5.3.1.
#include "smtp/address.hpp"

#include "smtp/errc.hpp"

namespace refmail::smtp {
namespace {

constexpr std::size_t kMaxLocalPart = 64;   // RFC 5321 4.5.3.1.1
constexpr std::size_t kMaxDomain = 255;     // RFC 5321 4.5.3.1.2
constexpr std::size_t kMaxPath = 256;       // RFC 5321 4.5.3.1.3 (with punctuation)

bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

// RFC 5322 3.2.3 atext.
bool is_atext(unsigned char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
    case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

// Consumes one sub-domain at s[i]; returns false when none is there.
bool parse_sub_domain(std::string_view s, std::size_t& i) {
  const std::size_t start = i;
  unsigned char last = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (is_alpha(c) || is_digit(c) || c == '-') {
      last = c;
      ++i;
    } else if (c >= 0x80) {
      // RFC 6531 3.3: sub-domain =/ U-label
      const std::size_t n = utf8_sequence_length(s.substr(i));
      if (n == 0) return false;
      last = 'a';
      i += n;
    } else {
      break;
    }
  }
  if (i == start) return false;
  // Let-dig [Ldh-str]: neither first nor last character is '-'.
  if (s[start] == '-' || last == '-') return false;
  return true;
}

// Consumes Domain / address-literal at s[i].
bool parse_domain_or_literal(std::string_view s, std::size_t& i) {
  if (i < s.size() && s[i] == '[') {
    // RFC 5321 4.1.3 address-literal; General-address-literal dcontent = %d33-90 / %d94-126
    ++i;
    const std::size_t start = i;
    while (i < s.size() && s[i] != ']') {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c < 33 || c > 126 || c == '[' || c == '\\') return false;
      ++i;
    }
    if (i == s.size() || i == start) return false;
    ++i;  // ']'
    return true;
  }
  if (!parse_sub_domain(s, i)) return false;
  while (i < s.size() && s[i] == '.') {
    ++i;
    if (!parse_sub_domain(s, i)) return false;
  }
  return true;
}

}  // namespace

std::size_t utf8_sequence_length(std::string_view s) noexcept {
  if (s.empty()) return 0;
  const auto c0 = static_cast<unsigned char>(s[0]);
  std::size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    n = 2;
  } else if (c0 >= 0xE0 && c0 <= 0xEF) {
    n = 3;
    if (c0 == 0xE0) lo = 0xA0;   // no overlongs
    if (c0 == 0xED) hi = 0x9F;   // no surrogates
  } else if (c0 >= 0xF0 && c0 <= 0xF4) {
    n = 4;
    if (c0 == 0xF0) lo = 0x90;
    if (c0 == 0xF4) hi = 0x8F;   // <= U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  const auto c1 = static_cast<unsigned char>(s[1]);
  if (c1 < lo || c1 > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[k]);
    if (c < 0x80 || c > 0xBF) return 0;
  }
  return n;
}

bool is_dot_string(std::string_view s) noexcept {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  std::size_t i = 0;
  bool prev_dot = false;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '.') {
      if (prev_dot) return false;
      prev_dot = true;
      ++i;
    } else if (is_atext(c)) {
      prev_dot = false;
      ++i;
    } else if (c >= 0x80) {
      const std::size_t n = utf8_sequence_length(s.substr(i));
      if (n == 0) return false;
      prev_dot = false;
      i += n;
    } else {
      return false;
    }
  }
  return true;
}

bool is_domain(std::string_view s) noexcept {
  if (s.empty() || s.size() > kMaxDomain) return false;
  std::size_t i = 0;
  if (!parse_sub_domain(s, i)) return false;
  while (i < s.size() && s[i] == '.') {
    ++i;
    if (!parse_sub_domain(s, i)) return false;
  }
  return i == s.size();
}

bool Address::is_ascii() const noexcept {
  for (unsigned char c : local_part)
    if (c >= 0x80) return false;
  for (unsigned char c : domain)
    if (c >= 0x80) return false;
  return true;
}

std::string Address::to_string() const {
  if (is_null()) return {};
  std::string out;
  if (is_dot_string(local_part)) {
    out = local_part;
  } else {
    out.reserve(local_part.size() + 4);
    out.push_back('"');
    for (char c : local_part) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  if (!domain.empty()) {
    out.push_back('@');
    out += domain;
  }
  return out;
}

boost::system::result<ParsedPath> parse_path(std::string_view s, PathKind kind) {
  std::size_t i = 0;
  if (s.empty() || s[0] != '<') return errc::bad_address;
  ++i;
  ParsedPath out;

  if (i < s.size() && s[i] == '>') {
    if (kind == PathKind::Forward) return errc::bad_address;
    out.rest = s.substr(i + 1);
    return out;  // null reverse-path
  }

  // RFC 5321 4.1.2 A-d-l (source route): parsed and ignored (Appendix C).
  if (i < s.size() && s[i] == '@') {
    for (;;) {
      ++i;  // '@'
      std::size_t d = i;
      if (!parse_domain_or_literal(s, i)) return errc::bad_address;
      if (i - d > kMaxDomain) return errc::address_too_long;
      if (i < s.size() && s[i] == ',') {
        ++i;
        if (i >= s.size() || s[i] != '@') return errc::bad_address;
        continue;
      }
      break;
    }
    if (i >= s.size() || s[i] != ':') return errc::bad_address;
    ++i;
  }

  // Local-part = Dot-string / Quoted-string
  if (i < s.size() && s[i] == '"') {
    ++i;
    const std::size_t raw_start = i;
    for (;;) {
      if (i >= s.size()) return errc::bad_address;
      const auto c = static_cast<unsigned char>(s[i]);
      if (c == '"') {
        ++i;
        break;
      }
      if (c == '\\') {
        // quoted-pairSMTP = %d92 %d32-126
        if (i + 1 >= s.size()) return errc::bad_address;
        const auto q = static_cast<unsigned char>(s[i + 1]);
        if (q < 32 || q > 126) return errc::bad_address;
        out.address.local_part.push_back(static_cast<char>(q));
        i += 2;
      } else if (c >= 0x80) {
        const std::size_t n = utf8_sequence_length(s.substr(i));
        if (n == 0) return errc::bad_address;
        out.address.local_part.append(s.substr(i, n));
        i += n;
      } else if (c >= 32 && c <= 126) {  // qtextSMTP: %d32-33 / %d35-91 / %d93-126
        out.address.local_part.push_back(static_cast<char>(c));
        ++i;
      } else {
        return errc::bad_address;
      }
      if (i - raw_start > kMaxLocalPart + 2) return errc::address_too_long;
    }
    if (i - raw_start - 1 > kMaxLocalPart) return errc::address_too_long;
  } else {
    const std::size_t start = i;
    while (i < s.size() && s[i] != '@' && s[i] != '>') ++i;
    const std::string_view local = s.substr(start, i - start);
    if (!is_dot_string(local)) return errc::bad_address;
    if (local.size() > kMaxLocalPart) return errc::address_too_long;
    out.address.local_part.assign(local);
  }

  if (i < s.size() && s[i] == '>') {
    // RFC 5321 4.5.1: "<postmaster>" without a domain, for RCPT only.
    const std::string_view lp = out.address.local_part;
    constexpr std::string_view kPostmaster = "postmaster";
    bool is_postmaster = lp.size() == kPostmaster.size();
    for (std::size_t k = 0; is_postmaster && k < lp.size(); ++k)
      is_postmaster = (lp[k] | 0x20) == kPostmaster[k];
    if (kind != PathKind::Forward || !is_postmaster) return errc::bad_address;
    out.rest = s.substr(i + 1);
    return out;
  }
  if (i >= s.size() || s[i] != '@') return errc::bad_address;
  ++i;
  const std::size_t dstart = i;
  if (!parse_domain_or_literal(s, i)) return errc::bad_address;
  if (i - dstart > kMaxDomain) return errc::address_too_long;
  out.address.domain.assign(s.substr(dstart, i - dstart));
  if (i >= s.size() || s[i] != '>') return errc::bad_address;
  ++i;
  // The whole path, brackets and any source route included, fits in 256 octets.
  if (i > kMaxPath) return errc::address_too_long;
  out.rest = s.substr(i);
  return out;
}

}  // namespace refmail::smtp
