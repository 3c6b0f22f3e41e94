// mime/rfc2047.cpp — RFC 2047 encoded-word decoding (lenient) and encoding (strict).
// Decoding follows what mail readers do in practice (RFC 2047 6.2, 6.3 and the
// leniency of Thunderbird/MimeKit): words inside words, joined adjacent words, bad
// encodings decoded as far as possible. Encoding follows RFC 2047 2, 4, 5 exactly.
// SECURITY: everything is bounded by the input size; no recursion.
#include "mime/rfc2047.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <cstdint>
#include <vector>

#include "mime/charset.hpp"

namespace refmail::mime {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// RFC 2047 4.2: "_" is a space, "=XX" an octet; a malformed "=" is kept literally.
std::string decode_q(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '_') {
      out.push_back(' ');
    } else if (c == '=' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool is_charset_char(char c) {
  // RFC 2047 2: token chars, no especials; we also allow '*' for the RFC 2231 language.
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7F) return false;
  switch (c) {
    case '(': case ')': case '<': case '>': case '@': case ',': case ';': case ':':
    case '"': case '/': case '[': case ']': case '?': case '.': case '=':
      return false;
    default:
      return true;
  }
}

struct EncodedWord {
  std::size_t end = 0;  // one past the closing "?="
  std::string charset;  // normalised
  std::string bytes;    // decoded octets
};

// Parses an encoded-word starting at s[pos] == '=' && s[pos+1] == '?'.
std::optional<EncodedWord> parse_encoded_word(std::string_view s, std::size_t pos) {
  std::size_t i = pos + 2;
  const std::size_t cs_begin = i;
  while (i < s.size() && is_charset_char(s[i]) && i - cs_begin <= 64) ++i;
  if (i == cs_begin || i >= s.size() || s[i] != '?') return std::nullopt;
  const std::string_view cs = s.substr(cs_begin, i - cs_begin);
  ++i;
  if (i + 1 >= s.size() || s[i + 1] != '?') return std::nullopt;
  const char enc = s[i];
  if (enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q') return std::nullopt;
  i += 2;
  const std::size_t text_begin = i;
  // The encoded-text runs to the first "?=". RFC 2047 forbids whitespace in it; we
  // stop at whitespace too, so a stray "=?" in prose is not taken as a word.
  while (i + 1 < s.size() && !(s[i] == '?' && s[i + 1] == '=')) {
    if (is_wsp(s[i])) return std::nullopt;
    ++i;
  }
  if (i + 1 >= s.size()) return std::nullopt;
  const std::string_view text = s.substr(text_begin, i - text_begin);
  EncodedWord w;
  w.end = i + 2;
  w.charset = normalize_charset(cs);
  if (w.charset.empty()) return std::nullopt;
  w.bytes = (enc == 'B' || enc == 'b') ? decode_base64_lenient(text) : decode_q(text);
  return w;
}

struct Segment {
  bool encoded = false;
  std::string charset;
  std::string bytes;       // decoded octets (encoded) or raw text
  std::size_t raw_begin = 0, raw_end = 0;  // in the unfolded input
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

bool q_literal(unsigned char c) {
  // RFC 2047 5(3): the most restrictive alphabet, valid in every context.
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
}

std::size_t utf8_char_len(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  return std::min(n, s.size() - i);
}

constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string encode_base64(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = (static_cast<unsigned char>(in[i]) << 16) |
                            (static_cast<unsigned char>(in[i + 1]) << 8) |
                            static_cast<unsigned char>(in[i + 2]);
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back(kB64[v & 63]);
  }
  if (in.size() - i == 1) {
    const std::uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out += "==";
  } else if (in.size() - i == 2) {
    const std::uint32_t v = (static_cast<unsigned char>(in[i]) << 16) |
                            (static_cast<unsigned char>(in[i + 1]) << 8);
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

bool is_atext(char c) {
  // RFC 5322 3.2.3
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
    case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

std::string encode_rfc2047_words(std::string_view text, std::size_t first_line_used);

}  // namespace

std::string unfold_header(std::string_view field_body) {
  std::string out;
  out.reserve(field_body.size());
  for (char c : field_body)
    if (c != '\r' && c != '\n') out.push_back(c);
  return out;
}

std::string decode_base64_lenient(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3 + 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;  // '-'/'_': base64url, seen in the wild
    else if (c == '/' || c == '_') v = 63;
    else if (c == '=') break;
    else continue;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string decode_rfc2047(std::string_view field_body, std::string_view fallback_charset) {
  const std::string s = unfold_header(field_body);
  std::vector<Segment> segs;
  std::size_t raw_start = 0;
  std::size_t i = 0;
  auto flush_raw = [&](std::size_t end) {
    if (end > raw_start) {
      Segment r;
      r.bytes = s.substr(raw_start, end - raw_start);
      r.raw_begin = raw_start;
      r.raw_end = end;
      segs.push_back(std::move(r));
    }
  };
  while (i + 1 < s.size()) {
    if (s[i] == '=' && s[i + 1] == '?') {
      if (auto w = parse_encoded_word(s, i)) {
        flush_raw(i);
        Segment e;
        e.encoded = true;
        e.charset = std::move(w->charset);
        e.bytes = std::move(w->bytes);
        e.raw_begin = i;
        e.raw_end = w->end;
        // RFC 2047 6.2: whitespace between adjacent encoded-words is not displayed.
        if (segs.size() >= 2 && segs.back().encoded == false &&
            trim(segs.back().bytes).empty() && segs[segs.size() - 2].encoded)
          segs.pop_back();
        // Join adjacent words of one charset before converting (split multibyte chars).
        if (!segs.empty() && segs.back().encoded && segs.back().charset == e.charset) {
          segs.back().bytes += e.bytes;
          segs.back().raw_end = e.raw_end;
        } else {
          segs.push_back(std::move(e));
        }
        i = w->end;
        raw_start = i;
        continue;
      }
    }
    ++i;
  }
  flush_raw(s.size());

  std::string out;
  out.reserve(s.size());
  for (const Segment& seg : segs) {
    if (seg.encoded) {
      if (auto u = convert_to_utf8(seg.bytes, seg.charset)) {
        out += *u;
      } else {
        out += to_utf8(std::string_view(s).substr(seg.raw_begin, seg.raw_end - seg.raw_begin),
                       fallback_charset);
      }
    } else {
      out += to_utf8(seg.bytes, fallback_charset);
    }
  }
  return std::string(trim(out));
}

std::string fold_header(std::string_view field_body, std::size_t first_line_used) {
  constexpr std::size_t kWant = 78;
  std::string out;
  out.reserve(field_body.size() + 16);
  std::size_t line_len = first_line_used;
  std::size_t i = 0;
  bool first = true;
  while (i < field_body.size()) {
    // A "word" is leading whitespace plus the following non-whitespace run.
    std::size_t j = i;
    while (j < field_body.size() && is_wsp(field_body[j])) ++j;
    while (j < field_body.size() && !is_wsp(field_body[j])) ++j;
    std::string_view word = field_body.substr(i, j - i);
    if (!first && line_len + word.size() > kWant && !word.empty() && is_wsp(word.front())) {
      out += "\r\n";
      line_len = 0;
    }
    out += word;
    line_len += word.size();
    first = false;
    i = j;
  }
  return out;
}

std::string encode_rfc2047(std::string_view text_in, EncodeContext context,
                           std::size_t first_line_used) {
  const std::string text = is_valid_utf8(text_in) ? std::string(text_in) : sanitize_utf8(text_in);
  bool plain = is_ascii(text) && text.find("=?") == std::string::npos;
  std::size_t longest_word = 0, run = 0;
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) plain = false;
    run = is_wsp(c) ? 0 : run + 1;
    longest_word = std::max(longest_word, run);
  }
  if (longest_word > 900) plain = false;  // could not be folded under 998
  if (plain) {
    if (context == EncodeContext::Text) return fold_header(text, first_line_used);
    // Phrase: atoms separated by single spaces stay as they are, else a quoted string.
    bool atoms = !text.empty() && !is_wsp(text.front()) && !is_wsp(text.back());
    for (std::size_t k = 0; k < text.size() && atoms; ++k) {
      if (text[k] == ' ') {
        if (k + 1 < text.size() && text[k + 1] == ' ') atoms = false;
      } else if (!is_atext(text[k])) {
        atoms = false;
      }
    }
    if (atoms) return fold_header(text, first_line_used);
    // A long quoted string could not be folded safely everywhere; encoded-words can.
    if (text.size() > 60) return encode_rfc2047_words(text, first_line_used);
    std::string q = "\"";
    for (char c : text) {
      if (c == '"' || c == '\\') q.push_back('\\');
      q.push_back(c);
    }
    q.push_back('"');
    return q;
  }

  return encode_rfc2047_words(text, first_line_used);
}

namespace {

std::string encode_rfc2047_words(std::string_view text, std::size_t first_line_used) {
  // Q or B: whichever is shorter over the whole text.
  std::size_t q_len = 0;
  for (char c : text) q_len += (c == ' ' || q_literal(static_cast<unsigned char>(c))) ? 1 : 3;
  const bool use_q = q_len <= (text.size() + 2) / 3 * 4;
  const std::string_view prefix = use_q ? "=?UTF-8?Q?" : "=?UTF-8?B?";
  constexpr std::size_t kMaxWord = 75;       // RFC 2047 2
  constexpr std::size_t kMaxLine = 76;       // RFC 2047 2, lines with encoded-words

  std::string out;
  std::string pending;  // raw bytes (B) or encoded text (Q) of the current word
  bool any_word = false;
  // The first word shares its line with the field name; every later word gets a line
  // of its own (" " + word <= 76). A first line too full for a useful word is folded
  // before the first word.
  std::size_t first_room = kMaxLine > first_line_used ? kMaxLine - first_line_used : 0;
  if (first_room < prefix.size() + 2 + 12 && first_line_used > 0) {
    out += "\r\n ";
    first_room = kMaxLine - 1;
  }
  auto capacity = [&]() -> std::size_t {
    const std::size_t room = std::min(any_word ? kMaxLine - 1 : first_room, kMaxWord);
    return room > prefix.size() + 2 ? room - prefix.size() - 2 : 0;
  };
  auto emit = [&]() {
    if (any_word) out += "\r\n ";
    out += prefix;
    out += use_q ? pending : encode_base64(pending);
    out += "?=";
    any_word = true;
    pending.clear();
  };
  std::size_t k = 0;
  while (k < text.size()) {
    const std::size_t n = utf8_char_len(text, k);
    std::string_view ch = std::string_view(text).substr(k, n);
    std::string piece;
    if (use_q) {
      for (char c : ch) {
        const auto u = static_cast<unsigned char>(c);
        if (c == ' ') {
          piece.push_back('_');
        } else if (q_literal(u)) {
          piece.push_back(c);
        } else {
          static constexpr char kHex[] = "0123456789ABCDEF";
          piece.push_back('=');
          piece.push_back(kHex[u >> 4]);
          piece.push_back(kHex[u & 15]);
        }
      }
    }
    const std::size_t would = use_q ? pending.size() + piece.size()
                                    : (pending.size() + n + 2) / 3 * 4;
    if (would > capacity() && !pending.empty()) emit();
    if (use_q) pending += piece;
    else pending.append(ch);
    k += n;
  }
  if (!pending.empty() || !any_word) emit();
  return out;
}

}  // namespace
}  // namespace refmail::mime
