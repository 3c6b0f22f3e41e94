// smtp/address.hpp — RFC 5321 4.1.2 reverse-path / forward-path parsing (with RFC 6531
// SMTPUTF8 extensions: UTF-8 in local parts and domains, validated as well-formed UTF-8).
// Pure functions over a string_view; no allocation beyond the returned Address.
// SECURITY: enforces RFC 5321 4.5.3.1 size limits (local part 64, domain 255, path 256);
// rejects NUL, control characters, and malformed UTF-8. Source routes are parsed and
// ignored (RFC 5321 C / 4.1.2: "MUST accept ... SHOULD ignore").
#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <string_view>

namespace refmail::smtp {

struct Address {
  // Decoded local part: quotes and quoted-pair backslashes removed
  // ("\"john doe\"@x" -> local_part == "john doe").
  std::string local_part;
  // Domain as received (case preserved), or an address literal with its brackets
  // ("[192.0.2.1]"). Empty for the null reverse-path and for the bare "<postmaster>".
  std::string domain;

  // True for the null reverse-path "<>" (RFC 5321 4.5.5).
  [[nodiscard]] bool is_null() const noexcept { return local_part.empty() && domain.empty(); }
  // True when every byte is ASCII (otherwise the transaction needs SMTPUTF8).
  [[nodiscard]] bool is_ascii() const noexcept;
  // RFC 5321 form without angle brackets: the local part is quoted again when it is not
  // a Dot-string. "" for the null path.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const Address&, const Address&) = default;
};

enum class PathKind {
  Reverse,  // MAIL FROM: the null path "<>" is allowed
  Forward,  // RCPT TO: "<postmaster>" without a domain is allowed (RFC 5321 4.5.1)
};

struct ParsedPath {
  Address address;
  std::string_view rest;  // what follows '>' (ESMTP parameters), a view into the input
};

// Parses a Path starting exactly at '<'. UTF-8 is accepted here; the caller decides
// whether it is permitted (Address::is_ascii()).
// Errors: errc::bad_address, errc::address_too_long.
[[nodiscard]] boost::system::result<ParsedPath> parse_path(std::string_view text, PathKind kind);

// True when s is a well-formed RFC 5321 Dot-string (atext with SMTPUTF8 extensions).
[[nodiscard]] bool is_dot_string(std::string_view s) noexcept;
// True when s is a syntactically valid RFC 5321 Domain (LDH labels or U-labels).
[[nodiscard]] bool is_domain(std::string_view s) noexcept;
// Length of the well-formed UTF-8 sequence starting at s[0] (2..4), or 0 when s does not
// start with one (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
[[nodiscard]] std::size_t utf8_sequence_length(std::string_view s) noexcept;

}  // namespace refmail::smtp
