// trust/dkim_errc.hpp — the expected failures of the DKIM code as error codes, registered
// as a boost::system error category ("refmail.dkim"): a bad tag, a bad key or an OpenSSL
// failure is a value, never an exception. Per-signature verdicts carry a human reason too.
// SECURITY: messages of this category never include message or key bytes.
#pragma once
#include <boost/system/error_code.hpp>
#include <type_traits>

namespace refmail::trust::dkim {

enum class errc {
  ok = 0,
  syntax = 1,              // a tag-list, signature or key record does not parse
  duplicate_tag = 2,       // RFC 6376 3.2: a tag appears twice
  missing_tag = 3,         // a required tag is absent
  bad_value = 4,           // a tag value is invalid (version, base64, number, domain)
  unsupported = 5,         // algorithm, canonicalization, query method or key type
  too_large = 6,           // a bound of dkim.hpp was exceeded
  bad_key = 7,             // not a usable key (not DER, wrong type, revoked)
  key_too_small = 8,       // RSA below kMinRsaBits
  crypto = 9,              // an OpenSSL call failed
  bad_argument = 10,       // a caller broke a documented REQUIRES (signer config)
};

[[nodiscard]] const boost::system::error_category& dkim_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), dkim_category()};
}

}  // namespace refmail::trust::dkim

template <>
struct boost::system::is_error_code_enum<refmail::trust::dkim::errc> : std::true_type {};
