// mime/codec_base64.cpp — base64 (RFC 2045 6.8): table-driven encoder writing straight
// into preallocated output (12-bit pair table: two output characters per lookup) and a
// tolerant decoder. See codec.hpp for the contracts.
// SECURITY: all table lookups are on unsigned char; decoders never read past the input.
#include <array>
#include <cstring>

#include "mime/codec.hpp"
#include "mime/codec_internal.hpp"

namespace refmail::mime {
namespace detail {

namespace {
constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct Tables {
  std::array<std::uint16_t, 4096> pair{};   // 12 bits -> two characters (memory order)
  std::array<std::uint8_t, 256> value{};    // char -> 0..63, kInvalid, kPad, kSpace
  Tables() {
    for (int i = 0; i < 4096; ++i) {
      const char hi = kAlphabet[i >> 6];
      const char lo = kAlphabet[i & 63];
      char two[2] = {hi, lo};
      std::uint16_t v;
      std::memcpy(&v, two, 2);
      pair[i] = v;
    }
    value.fill(kB64Invalid);
    for (int i = 0; i < 64; ++i) value[static_cast<unsigned char>(kAlphabet[i])] = i;
    value['='] = kB64Pad;
    for (unsigned char c : {' ', '\t', '\r', '\n'}) value[c] = kB64Space;
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}
}  // namespace

const std::uint8_t* base64_value_table() noexcept { return tables().value.data(); }

char* base64_encode_groups(const unsigned char* in, std::size_t groups, char* out) noexcept {
  const auto& pair = tables().pair;
  for (std::size_t g = 0; g < groups; ++g, in += 3, out += 4) {
    const std::uint32_t v = (std::uint32_t{in[0]} << 16) | (std::uint32_t{in[1]} << 8) | in[2];
    std::memcpy(out, &pair[v >> 12], 2);
    std::memcpy(out + 2, &pair[v & 0xfff], 2);
  }
  return out;
}

char* base64_encode_tail(const unsigned char* in, std::size_t n, char* out) noexcept {
  // n is 1 or 2: RFC 2045 6.8 padding.
  const std::uint32_t v = (std::uint32_t{in[0]} << 16) | (n > 1 ? std::uint32_t{in[1]} << 8 : 0);
  out[0] = kAlphabet[(v >> 18) & 63];
  out[1] = kAlphabet[(v >> 12) & 63];
  out[2] = n > 1 ? kAlphabet[(v >> 6) & 63] : '=';
  out[3] = '=';
  return out + 4;
}

}  // namespace detail

std::uint64_t base64_encoded_size(std::uint64_t decoded_size, const Base64Params& p) noexcept {
  if (decoded_size == 0) return 0;
  const std::uint32_t width = p.line_length - p.line_length % 4;  // as Base64Encoder
  const std::uint64_t chars = (decoded_size + 2) / 3 * 4;
  const std::uint64_t eol = line_ending_text(p.line_ending).size();
  std::uint64_t lines = 1;
  if (width > 0) lines = (chars + width - 1) / width;
  return chars + (lines - 1) * eol + (p.last_line_ending ? eol : 0);
}

std::size_t Base64Encoder::max_output(std::size_t n) const noexcept {
  const std::size_t chars = (n + 3) / 3 * 4 + 4;
  const std::size_t eol = line_ending_text(p_.line_ending).size();
  const std::size_t lines = p_.line_length ? chars / p_.line_length + 2 : 2;
  return chars + lines * eol;
}

void Base64Encoder::update(std::string_view in_sv, std::string& out) {
  if (in_sv.empty()) return;
  const auto* in = reinterpret_cast<const unsigned char*>(in_sv.data());
  std::size_t n = in_sv.size();
  const std::size_t old = out.size();
  out.resize(old + max_output(n));
  char* o = out.data() + old;
  const std::string_view eol = line_ending_text(p_.line_ending);
  const std::uint64_t width = p_.line_length;

  auto put_group = [&](const unsigned char* g) {
    if (width && column_ == width) {
      std::memcpy(o, eol.data(), eol.size());
      o += eol.size();
      column_ = 0;
    }
    o = detail::base64_encode_groups(g, 1, o);
    column_ += 4;
    any_ = true;
  };

  // Complete a carried partial group first.
  while (carry_len_ > 0 && carry_len_ < 3 && n > 0) {
    carry_[carry_len_++] = *in++;
    --n;
  }
  if (carry_len_ == 3) {
    put_group(carry_);
    carry_len_ = 0;
  }
  // Bulk: whole lines at a time.
  while (n >= 3) {
    if (width && column_ == width) {
      std::memcpy(o, eol.data(), eol.size());
      o += eol.size();
      column_ = 0;
    }
    std::size_t groups = n / 3;
    if (width) groups = std::min<std::size_t>(groups, (width - column_) / 4);
    o = detail::base64_encode_groups(in, groups, o);
    in += groups * 3;
    n -= groups * 3;
    column_ += groups * 4;
    any_ = true;
  }
  for (std::size_t i = 0; i < n; ++i) carry_[carry_len_++] = in[i];
  out.resize(static_cast<std::size_t>(o - out.data()));
}

void Base64Encoder::finish(std::string& out) {
  const std::string_view eol = line_ending_text(p_.line_ending);
  if (carry_len_ > 0) {
    if (p_.line_length && column_ == p_.line_length) {
      out.append(eol);
      column_ = 0;
    }
    char tail[4];
    detail::base64_encode_tail(carry_, carry_len_, tail);
    out.append(tail, 4);
    column_ += 4;
    carry_len_ = 0;
    any_ = true;
  }
  if (any_ && p_.last_line_ending) out.append(eol);
  column_ = 0;
  any_ = false;
}

std::string base64_encode(std::string_view in, const Base64Params& p) {
  std::string out;
  out.reserve(static_cast<std::size_t>(base64_encoded_size(in.size(), p)));
  Base64Encoder enc(p);
  enc.update(in, out);
  enc.finish(out);
  return out;
}

void Base64Decoder::update(std::string_view in, std::string& out) {
  const std::uint8_t* val = detail::base64_value_table();
  const std::size_t old = out.size();
  out.resize(old + in.size() / 4 * 3 + 3);
  char* o = out.data() + old;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const auto* end = p + in.size();
  while (p < end) {
    // Fast path: four alphabet characters in a row.
    if (n_ == 0 && !padded_ && end - p >= 4) {
      const std::uint8_t a = val[p[0]], b = val[p[1]], c = val[p[2]], d = val[p[3]];
      if (((a | b | c | d) & 0xC0) == 0) {
        const std::uint32_t v = (std::uint32_t{a} << 18) | (std::uint32_t{b} << 12) |
                                (std::uint32_t{c} << 6) | d;
        o[0] = static_cast<char>(v >> 16);
        o[1] = static_cast<char>(v >> 8);
        o[2] = static_cast<char>(v);
        o += 3;
        p += 4;
        continue;
      }
    }
    const std::uint8_t v = val[*p++];
    if (v < 64) {
      if (padded_) {
        garbage_ = true;  // data after padding: ignored
        continue;
      }
      acc_ = (acc_ << 6) | v;
      if (++n_ == 4) {
        o[0] = static_cast<char>(acc_ >> 16);
        o[1] = static_cast<char>(acc_ >> 8);
        o[2] = static_cast<char>(acc_);
        o += 3;
        n_ = 0;
        acc_ = 0;
      }
    } else if (v == detail::kB64Pad) {
      padded_ = true;
    } else if (v == detail::kB64Invalid) {
      garbage_ = true;
    }
  }
  out.resize(static_cast<std::size_t>(o - out.data()));
  if (padded_ && n_ > 0) finish(out);
}

void Base64Decoder::finish(std::string& out) {
  // A partial quantum carries n_*6 bits: whole bytes only.
  if (n_ >= 2) out.push_back(static_cast<char>(acc_ >> (n_ * 6 - 8)));
  if (n_ >= 3) out.push_back(static_cast<char>(acc_ >> (n_ * 6 - 16)));
  n_ = 0;
  acc_ = 0;
}

std::optional<std::string> base64_decode_strict(std::string_view s) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (s.size() % 4 != 0) return std::nullopt;
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
      if (pad) return std::nullopt;  // data after padding
      v[k] = value(c);
      if (v[k] < 0) return std::nullopt;
    }
    const unsigned n = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                       (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    // RFC 4648 3.5: non-zero pad bits are rejected (one encoding per value).
    if (pad == 2 && (n & 0xFFFF) != 0) return std::nullopt;
    if (pad == 1 && (n & 0xFF) != 0) return std::nullopt;
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xFF));
  }
  return out;
}

Base64Decoded base64_decode(std::string_view encoded) {
  Base64Decoded r;
  Base64Decoder dec;
  dec.update(encoded, r.bytes);
  dec.finish(r.bytes);
  // Detect parameters from the text: first line's length and ending, final ending.
  const std::size_t nl = encoded.find('\n');
  if (nl == std::string_view::npos) {
    r.params.line_length = static_cast<std::uint32_t>(encoded.size());
    r.params.last_line_ending = false;
  } else {
    const bool crlf = nl > 0 && encoded[nl - 1] == '\r';
    r.params.line_ending = crlf ? LineEnding::Crlf : LineEnding::Lf;
    r.params.line_length = static_cast<std::uint32_t>(crlf ? nl - 1 : nl);
    r.params.last_line_ending = encoded.ends_with(line_ending_text(r.params.line_ending));
  }
  if (r.params.line_length % 4 != 0) {
    r.canonical = false;
    return r;
  }
  r.canonical = base64_encode(r.bytes, r.params) == encoded;
  return r;
}

}  // namespace refmail::mime
