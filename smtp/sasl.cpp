// smtp/sasl.cpp — RFC 4648 base64 (decoding: mime::base64_decode_strict) and RFC 4616 PLAIN.
#include "smtp/sasl.hpp"

#include "mime/codec.hpp"
#include "smtp/errc.hpp"


namespace refmail::smtp {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";


constexpr std::size_t kMaxPlainField = 255;  // RFC 4616 2

}  // namespace

boost::system::result<std::string> decode_base64(std::string_view s) {
  auto out = mime::base64_decode_strict(s);
  if (!out) return errc::bad_base64;
  return std::move(*out);
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
