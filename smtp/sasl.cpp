// smtp/sasl.cpp — RFC 4648 base64 and RFC 4616 PLAIN.
#include "smtp/sasl.hpp"

#include "smtp/errc.hpp"

#include <array>

namespace refmail::smtp {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<signed char, 256> make_table() {
  std::array<signed char, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<signed char>(i);
  return t;
}
constexpr auto kTable = make_table();

constexpr std::size_t kMaxPlainField = 255;  // RFC 4616 2

}  // namespace

boost::system::result<std::string> decode_base64(std::string_view s) {
  if (s.size() % 4 != 0) return errc::bad_base64;
  std::string out;
  out.reserve(s.size() / 4 * 3);
  for (std::size_t i = 0; i < s.size(); i += 4) {
    const bool last = i + 4 == s.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s[i + k];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad) return errc::bad_base64;  // data after padding
      v[k] = kTable[static_cast<unsigned char>(c)];
      if (v[k] < 0) return errc::bad_base64;
    }
    const unsigned n = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                       (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    // RFC 4648 3.5: non-zero pad bits are rejected (one encoding per value).
    if (pad == 2 && (n & 0xFFFF) != 0) return errc::bad_base64;
    if (pad == 1 && (n & 0xFF) != 0) return errc::bad_base64;
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xFF));
  }
  return out;
}

std::string encode_base64(std::string_view s) {
  std::string out;
  out.reserve((s.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= s.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(s[i]) << 16) |
                       (static_cast<unsigned char>(s[i + 1]) << 8) | static_cast<unsigned char>(s[i + 2]);
    out.push_back(kAlphabet[n >> 18]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  if (i < s.size()) {
    unsigned n = static_cast<unsigned char>(s[i]) << 16;
    if (i + 1 < s.size()) n |= static_cast<unsigned char>(s[i + 1]) << 8;
    out.push_back(kAlphabet[n >> 18]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < s.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

bool is_sasl_name(std::string_view s) noexcept {
  if (s.size() > kMaxPlainField) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

boost::system::result<PlainCredentials> parse_sasl_plain(std::string_view d) {
  const std::size_t a = d.find('\0');
  if (a == std::string_view::npos) return errc::malformed_sasl;
  const std::size_t b = d.find('\0', a + 1);
  if (b == std::string_view::npos) return errc::malformed_sasl;
  PlainCredentials c;
  c.authzid.assign(d.substr(0, a));
  c.authcid.assign(d.substr(a + 1, b - a - 1));
  c.password.assign(d.substr(b + 1));
  if (c.authcid.empty() || c.password.empty() || c.password.find('\0') != std::string::npos ||
      c.authzid.size() > kMaxPlainField || c.authcid.size() > kMaxPlainField ||
      c.password.size() > kMaxPlainField || !is_sasl_name(c.authzid) || !is_sasl_name(c.authcid))
    return errc::malformed_sasl;
  return c;
}

}  // namespace refmail::smtp
