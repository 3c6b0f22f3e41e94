// mime/charset.cpp — charset conversion to UTF-8 through glibc iconv, with our own
// handling of the labels mail gets wrong (us-ascii holding 8-bit, latin1 vs cp1252,
// "unknown-8bit", RFC 2231 language suffixes). Never throws out of the module.
// SECURITY: iconv is driven with bounded buffers; an iconv_t never outlives a call.
#include "mime/charset.hpp"

#include <iconv.h>

#include <array>
#include <cerrno>
#include <cstdint>

namespace refmail::mime {
namespace {

// Length of the well-formed UTF-8 sequence at the start of `s`, or 0 if ill-formed
// (RFC 3629 section 4 table).
std::size_t utf8_sequence_length(std::string_view s) noexcept {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  if (s.empty()) return 0;
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  auto cont = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < s.size() && b(i) >= lo && b(i) <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// windows-1252 0x80..0x9F; 0 marks the five undefined bytes (mapped to C1 controls).
constexpr std::array<std::uint16_t, 32> kCp1252High = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
    0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

bool is_latin1_label(std::string_view cs) {
  return cs == "iso-8859-1" || cs == "iso8859-1" || cs == "iso_8859-1" || cs == "latin1" ||
         cs == "latin-1" || cs == "l1" || cs == "cp1252" || cs == "windows-1252" ||
         cs == "x-cp1252" || cs == "cp819" || cs == "ibm819" || cs == "iso-ir-100" ||
         cs == "iso_8859-1:1987" || cs == "csisolatin1";
}

bool is_ascii_label(std::string_view cs) {
  return cs == "us-ascii" || cs == "ascii" || cs == "ansi_x3.4-1968" || cs == "iso646-us" ||
         cs == "us" || cs == "csascii" || cs == "iso-ir-6" || cs == "ibm367" || cs == "cp367";
}

bool is_unknown_label(std::string_view cs) {
  return cs.empty() || cs == "unknown-8bit" || cs == "x-unknown" || cs == "unknown" ||
         cs == "8bit" || cs == "x-user-defined" || cs == "default" || cs == "charset";
}

bool is_utf8_label(std::string_view cs) {
  return cs == "utf-8" || cs == "utf8" || cs == "x-utf-8" || cs == "unicode-1-1-utf-8";
}

// Labels mail software writes that iconv does not know under that spelling.
std::string iconv_name(std::string_view cs) {
  if (cs == "ks_c_5601-1987" || cs == "ks_c_5601" || cs == "ksc5601" || cs == "euc-kr")
    return "CP949";  // what Outlook means by ks_c_5601-1987
  if (cs == "gb2312" || cs == "gbk" || cs == "x-gbk" || cs == "cp936" || cs == "euc-cn")
    return "GB18030";  // superset, as WHATWG decodes it
  if (cs == "shift_jis" || cs == "shift-jis" || cs == "sjis" || cs == "x-sjis" ||
      cs == "windows-31j" || cs == "ms_kanji" || cs == "cp932")
    return "CP932";
  if (cs == "iso-8859-8-i") return "ISO-8859-8";
  if (cs == "big5" || cs == "x-x-big5" || cs == "big5-hkscs") return "BIG5-HKSCS";
  if (cs == "tis-620" || cs == "iso-8859-11") return "CP874";
  if (cs == "ansi_x3.110-1983") return "ANSI_X3.110";
  return std::string(cs);
}

iconv_t open_iconv(std::string_view cs) {
  const std::string name = iconv_name(cs);
  return iconv_open("UTF-8", name.c_str());
}

// Runs an open iconv over `in`; invalid or truncated sequences emit U+FFFD and skip
// one byte. Output is capped to guard against pathological stateful decoders.
std::string run_iconv(iconv_t cd, std::string_view in) {
  std::string out;
  const std::size_t cap = in.size() * 4 + 64;
  out.reserve(in.size() + in.size() / 2 + 16);
  std::array<char, 4096> buf{};
  char* inp = const_cast<char*>(in.data());  // iconv's signature is not const-correct
  std::size_t inleft = in.size();
  while (out.size() <= cap) {
    char* outp = buf.data();
    std::size_t outleft = buf.size();
    const bool flushing = inleft == 0;
    const std::size_t r = flushing ? iconv(cd, nullptr, nullptr, &outp, &outleft)
                                   : iconv(cd, &inp, &inleft, &outp, &outleft);
    const int err = errno;
    out.append(buf.data(), buf.size() - outleft);
    if (r != static_cast<std::size_t>(-1)) {
      if (flushing) break;
      continue;  // all input consumed; loop once more to flush shift state
    }
    if (err == E2BIG) continue;
    if (err == EILSEQ || err == EINVAL) {
      out.append(kReplacementChar);
      if (inleft > 0) {
        ++inp;
        --inleft;
      }
      continue;
    }
    break;  // unexpected: stop with what we have
  }
  if (out.size() > cap) out.resize(cap);
  // Defensive: iconv's UTF-8 output is well-formed, but the cap may have cut a sequence.
  if (!is_valid_utf8(out)) return sanitize_utf8(out);
  return out;
}

}  // namespace

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_valid_utf8(std::string_view bytes) noexcept {
  std::size_t i = 0;
  while (i < bytes.size()) {
    if (static_cast<unsigned char>(bytes[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence_length(bytes.substr(i));
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool is_ascii(std::string_view bytes) noexcept {
  for (char c : bytes)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    const std::size_t n = utf8_sequence_length(bytes.substr(i));
    if (n == 0) {
      out.append(kReplacementChar);
      ++i;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
    }
  }
  return out;
}

void repair_utf8(std::string& s) {
  if (!is_valid_utf8(s)) s = sanitize_utf8(s);
}

std::string latin1_to_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 4);
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else if (c < 0xA0) {
      const std::uint16_t m = kCp1252High[c - 0x80];
      append_utf8(out, m != 0 ? m : c);
    } else {
      append_utf8(out, c);
    }
  }
  return out;
}

std::string normalize_charset(std::string_view charset) {
  auto is_trim = [](char c) { return c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '\r' || c == '\n'; };
  while (!charset.empty() && is_trim(charset.front())) charset.remove_prefix(1);
  while (!charset.empty() && is_trim(charset.back())) charset.remove_suffix(1);
  if (auto star = charset.find('*'); star != std::string_view::npos)  // RFC 2231 5
    charset = charset.substr(0, star);
  std::string out;
  out.reserve(charset.size());
  for (char c : charset) {
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7E)
      return {};  // not a charset label at all
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (out.size() > 64) return {};
  return out;
}

bool is_known_charset(std::string_view charset) {
  const std::string cs = normalize_charset(charset);
  if (is_utf8_label(cs) || is_latin1_label(cs) || is_ascii_label(cs) || is_unknown_label(cs))
    return true;
  iconv_t cd = open_iconv(cs);
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  iconv_close(cd);
  return true;
}

std::optional<std::string> convert_to_utf8(std::string_view bytes, std::string_view charset) {
  const std::string cs = normalize_charset(charset);
  if (is_ascii(bytes)) {
    // Fast path, also right for every ASCII-compatible charset. Stateful charsets
    // (ISO-2022-*, UTF-7, HZ) are ASCII-only on the wire, so they must go to iconv.
    const bool stateful = cs.starts_with("iso-2022") || cs.starts_with("utf-7") ||
                          cs == "hz-gb-2312" || cs.starts_with("utf-16") ||
                          cs.starts_with("utf-32") || cs.starts_with("ucs-") ||
                          cs.starts_with("csiso2022");
    if (!stateful) {
      if (!is_known_charset(cs)) return std::nullopt;
      return std::string(bytes);
    }
  }
  if (is_utf8_label(cs)) return is_valid_utf8(bytes) ? std::string(bytes) : sanitize_utf8(bytes);
  if (is_ascii_label(cs) || is_latin1_label(cs) || is_unknown_label(cs)) {
    // Mislabelled UTF-8 is far more common than latin1 text that happens to be
    // well-formed UTF-8, so prefer UTF-8 when it validates.
    if (is_valid_utf8(bytes)) return std::string(bytes);
    return latin1_to_utf8(bytes);
  }
  iconv_t cd = open_iconv(cs);
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out = run_iconv(cd, bytes);
  iconv_close(cd);
  return out;
}

std::string to_utf8(std::string_view bytes, std::string_view charset) {
  if (auto r = convert_to_utf8(bytes, charset)) return std::move(*r);
  if (is_valid_utf8(bytes)) return std::string(bytes);
  return latin1_to_utf8(bytes);
}

}  // namespace refmail::mime
