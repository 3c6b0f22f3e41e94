// smtp/sasl.hpp — base64 (RFC 4648 4) and the SASL PLAIN message (RFC 4616 2) used by
// AUTH (RFC 4954). LOGIN is a de-facto mechanism: base64 user, then base64 password.
// SECURITY: strict base64 (padding required, no whitespace, no trailing bits) so one
// credential has one encoding; decoded sizes are bounded by the input line limit.
// Passwords pass through here; nothing in this module logs them.
#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <string_view>

namespace refmail::smtp {

// Errors: errc::bad_base64.
[[nodiscard]] boost::system::result<std::string> decode_base64(std::string_view s);
[[nodiscard]] std::string encode_base64(std::string_view s);

struct PlainCredentials {
  std::string authzid;   // may be empty ("act as myself")
  std::string authcid;   // user name, non-empty
  std::string password;  // non-empty
};

// A user or authorization name we accept: non-empty-or-empty, at most 255 octets, no
// control characters (so it can never split a log line or a reply).
[[nodiscard]] bool is_sasl_name(std::string_view s) noexcept;

// RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd (each at most 255).
// authzid and authcid must pass is_sasl_name(). Errors: errc::malformed_sasl.
[[nodiscard]] boost::system::result<PlainCredentials> parse_sasl_plain(std::string_view decoded);

}  // namespace refmail::smtp
