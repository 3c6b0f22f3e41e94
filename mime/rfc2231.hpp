// mime/rfc2231.hpp — parameterised header fields (Content-Type, Content-Disposition:
// RFC 2045 5.1, RFC 2183) with RFC 2231 extended parameters (charset'lang'%XX values,
// continuations name*0*, name*1, ...), decoded to UTF-8; and RFC 2231 encoding of
// parameter values for the composer.
// Lenient like real mail readers: comments, missing quotes, unquoted values with spaces,
// RFC 2047 encoded-words inside quoted values, duplicate or out-of-order sections.
// SECURITY: untrusted input; the number of parameters and continuation sections kept
// is bounded (kMaxParams, kMaxSections); never throws.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace refmail::mime {

inline constexpr std::size_t kMaxParams = 64;
inline constexpr std::size_t kMaxSections = 256;

struct ParameterizedField {
  // The value before the first ';', comments and whitespace removed, lower-cased
  // ("text/plain", "attachment"). Empty if absent.
  std::string value;
  // Parameters in order of first appearance; names lower-cased, RFC 2231 sections
  // joined, values decoded to UTF-8 (RFC 2231 charset, else RFC 2047 words, else raw
  // 8-bit as UTF-8 or windows-1252). A name appears at most once (an RFC 2231 form wins
  // over a plain one; otherwise the first occurrence wins).
  std::vector<std::pair<std::string, std::string>> params;

  // The decoded value of parameter `name` (lower-case), if present.
  [[nodiscard]] std::optional<std::string> param(std::string_view name) const;
};

// Parses a Content-Type / Content-Disposition field body (folded or not).
[[nodiscard]] ParameterizedField parse_parameterized_field(std::string_view field_body);

// Percent-decodes an RFC 2231 extended value ("%E2%82%AC" -> bytes); a malformed %
// is kept literally.
[[nodiscard]] std::string percent_decode(std::string_view in);

// Encodes one parameter for a header the composer writes: returns "name=value"
// segments; the caller writes them as `value;\r\n seg1;\r\n seg2` so lines stay <= 78:
//  - a short RFC 2045 token: name=value;
//  - short printable ASCII: name="quoted";
//  - otherwise RFC 2231: name*=utf-8''%XX.. or, when long, continuations
//    name*0*=utf-8''..; name*1*=.. each at most ~70 characters.
// Invalid UTF-8 is sanitised first. REQUIRES: `name` is an RFC 2045 token.
[[nodiscard]] std::vector<std::string> encode_parameter(std::string_view name,
                                                        std::string_view utf8_value);

// True if `s` is a non-empty RFC 2045 token (no tspecials, no CTLs, no space).
[[nodiscard]] bool is_mime_token(std::string_view s) noexcept;

}  // namespace refmail::mime
