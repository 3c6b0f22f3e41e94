// mime/charset.hpp — conversion of text in any declared charset to UTF-8, and UTF-8
// validation. Used by header decoding (RFC 2047/2231) and by body extraction for reading.
// It never throws and never fails: an unknown charset or an invalid byte sequence gives a
// best-effort result (valid UTF-8 kept, else windows-1252, invalid bytes -> U+FFFD).
// SECURITY: input is untrusted; output is always valid UTF-8 and its size is bounded by
// a small multiple of the input size (at most 4 bytes per input byte, plus iconv's
// expansion for stateful charsets, which is capped).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace refmail::mime {

// U+FFFD REPLACEMENT CHARACTER, UTF-8 encoded.
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// True if `bytes` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF).
[[nodiscard]] bool is_valid_utf8(std::string_view bytes) noexcept;

// Appends code point `cp` as UTF-8. REQUIRES: cp <= 0x10FFFF and not a surrogate.
void append_utf8(std::string& out, std::uint32_t cp);

// True if every byte is < 0x80.
[[nodiscard]] bool is_ascii(std::string_view bytes) noexcept;

// Returns `bytes` with every ill-formed UTF-8 sequence replaced by U+FFFD.
[[nodiscard]] std::string sanitize_utf8(std::string_view bytes);

// The one repair for text that leaves refmail (summaries, JSON): a string that is valid
// UTF-8 (RFC 6532 allows raw UTF-8 in header fields) is left as it is; otherwise every
// ill-formed sequence becomes U+FFFD. Raw 8-bit header bytes carry no charset label, so
// nothing better than U+FFFD can be said for them.
void repair_utf8(std::string& s);

// windows-1252 (a superset of ISO-8859-1's printable range, as WHATWG and most mail
// readers treat "iso-8859-1") to UTF-8. Bytes 0x81, 0x8D, 0x8F, 0x90, 0x9D map to
// the C1 controls of ISO-8859-1.
[[nodiscard]] std::string latin1_to_utf8(std::string_view bytes);

// Canonical lower-case form of a charset label: trims whitespace and quotes, drops an
// RFC 2231 language suffix ("utf-8*en" -> "utf-8"), lower-cases.
[[nodiscard]] std::string normalize_charset(std::string_view charset);

// True if `charset` is a label this module can convert (iconv knows it, or it is a
// label we map ourselves such as "us-ascii", "unknown-8bit").
[[nodiscard]] bool is_known_charset(std::string_view charset);

// Converts `bytes` declared as `charset` to UTF-8. Returns std::nullopt only if the
// charset is unknown (callers such as the RFC 2047 decoder then keep the raw text).
// Invalid sequences in a known charset become U+FFFD. ASCII/latin1 labels that turn out
// to hold valid UTF-8 are taken as UTF-8 (a common mislabel).
[[nodiscard]] std::optional<std::string> convert_to_utf8(std::string_view bytes,
                                                         std::string_view charset);

// Best effort, never fails: convert_to_utf8(), or if the charset is unknown/empty,
// the bytes as UTF-8 if valid, else as windows-1252.
[[nodiscard]] std::string to_utf8(std::string_view bytes, std::string_view charset);

}  // namespace refmail::mime
