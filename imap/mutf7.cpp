// imap/mutf7.cpp — see mutf7.hpp. RFC 3501 5.1.3: "&" + modified BASE64 of UTF-16BE
// (',' for '/', no '=' padding) + "-"; "&-" is "&"; printable ASCII stands for itself.
#include "imap/mutf7.hpp"

#include <cstdint>

namespace refmail::imap {
namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

// Decodes one UTF-8 sequence at s[i]; returns the code point or -1; advances i.
std::int32_t next_code_point(std::string_view s, std::size_t& i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    ++i;
    return c;
  }
  int len = 0;
  std::uint32_t cp = 0, min = 0;
  if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07, min = 0x10000;
  else return -1;
  if (i + len > s.size()) return -1;
  for (int k = 1; k < len; ++k) {
    auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) return -1;
    cp = (cp << 6) | (d & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
  i += len;
  return static_cast<std::int32_t>(cp);
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

void append_shift(std::string& out, const std::u16string& u) {
  out.push_back('&');
  std::uint32_t acc = 0;
  int bits = 0;
  for (char16_t c : u) {
    acc = (acc << 16) | c;
    bits += 16;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kB64[(acc >> bits) & 0x3f]);
    }
    acc &= (1u << bits) - 1;
  }
  if (bits > 0) out.push_back(kB64[(acc << (6 - bits)) & 0x3f]);
  out.push_back('-');
}

}  // namespace

bool valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();)
    if (next_code_point(s, i) < 0) return false;
  return true;
}

boost::system::result<std::string> mutf7_encode(std::string_view utf8) {
  std::string out;
  std::u16string pending;
  for (std::size_t i = 0; i < utf8.size();) {
    std::int32_t cp = next_code_point(utf8, i);
    if (cp < 0) return errc::unsafe_argument;
    if (cp >= 0x20 && cp < 0x7f) {
      if (!pending.empty()) {
        append_shift(out, pending);
        pending.clear();
      }
      if (cp == '&') out += "&-";
      else out.push_back(static_cast<char>(cp));
      continue;
    }
    if (cp >= 0x10000) {
      std::uint32_t v = static_cast<std::uint32_t>(cp) - 0x10000;
      pending.push_back(static_cast<char16_t>(0xd800 + (v >> 10)));
      pending.push_back(static_cast<char16_t>(0xdc00 + (v & 0x3ff)));
    } else {
      pending.push_back(static_cast<char16_t>(cp));
    }
  }
  if (!pending.empty()) append_shift(out, pending);
  return out;
}

boost::system::result<std::string> mutf7_decode(std::string_view in) {
  std::string out;
  bool after_shift = false;  // the previous token was a non-empty shift
  for (std::size_t i = 0; i < in.size();) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x20 || c > 0x7e) return errc::bad_mailbox_name;
    if (c != '&') {
      out.push_back(static_cast<char>(c));
      ++i;
      after_shift = false;
      continue;
    }
    std::size_t end = in.find('-', i + 1);
    if (end == std::string_view::npos) return errc::bad_mailbox_name;
    if (end == i + 1) {  // "&-"
      out.push_back('&');
      i = end + 1;
      after_shift = false;
      continue;
    }
    if (after_shift) return errc::bad_mailbox_name;  // "&AOQ-&AOQ-" must be one shift
    std::uint32_t acc = 0;
    int bits = 0;
    std::uint32_t high = 0;  // a pending high surrogate
    for (std::size_t k = i + 1; k < end; ++k) {
      int v = b64_value(in[k]);
      if (v < 0) return errc::bad_mailbox_name;
      acc = (acc << 6) | static_cast<std::uint32_t>(v);
      bits += 6;
      if (bits >= 16) {
        bits -= 16;
        std::uint32_t u = (acc >> bits) & 0xffff;
        acc &= (1u << bits) - 1;
        if (u >= 0xd800 && u <= 0xdbff) {
          if (high) return errc::bad_mailbox_name;
          high = u;
          continue;
        }
        if (u >= 0xdc00 && u <= 0xdfff) {
          if (!high) return errc::bad_mailbox_name;
          append_utf8(out, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
          high = 0;
          continue;
        }
        if (high) return errc::bad_mailbox_name;
        // RFC 3501 5.1.3: printable US-ASCII must represent itself; controls are no name.
        if (u <= 0x7f) return errc::bad_mailbox_name;
        append_utf8(out, u);
      }
    }
    // Leftover bits: fewer than 6 and all zero, and no half surrogate pair.
    if (high || bits >= 6 || acc != 0) return errc::bad_mailbox_name;
    i = end + 1;
    after_shift = true;
  }
  return out;
}

}  // namespace refmail::imap
