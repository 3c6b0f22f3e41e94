// smtp/params.hpp — ESMTP parameters of MAIL FROM and RCPT TO (RFC 5321 4.1.2
// Mail-parameters): SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531),
// RET/ENVID/NOTIFY/ORCPT (DSN, RFC 3461), AUTH= (RFC 4954 5).
// SECURITY: values are bounded (ENVID/ORCPT 100 octets decoded, RFC 3461 4.4/4.2 say
// the *encoded* length should be; we bound both), duplicates are errors, xtext is decoded
// and validated (no NUL, no controls).
#pragma once

#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace refmail::smtp {

enum class Body { SevenBit, EightBitMime, BinaryMime };
enum class DsnRet { Unspecified, Full, Hdrs };

struct MailParams {
  std::optional<std::uint64_t> size;   // SIZE= declared by the client
  Body body = Body::SevenBit;          // BODY=, 7BIT when absent
  bool smtputf8 = false;               // SMTPUTF8
  DsnRet ret = DsnRet::Unspecified;    // RET=FULL|HDRS
  std::string envid;                   // ENVID=, xtext-decoded, "" when absent
  std::optional<std::string> auth;     // AUTH=, xtext-decoded ("<>" kept as "<>")

  friend bool operator==(const MailParams&, const MailParams&) = default;
};

// RFC 3461 4.1 NOTIFY bits; 0 = parameter absent.
enum NotifyFlags : unsigned {
  kNotifyNever = 1,
  kNotifySuccess = 2,
  kNotifyFailure = 4,
  kNotifyDelay = 8,
};

struct RcptParams {
  unsigned notify = 0;        // NotifyFlags; NEVER is exclusive
  std::string orcpt_type;     // ORCPT addr-type, e.g. "rfc822"; "" when absent
  std::string orcpt;          // ORCPT address, xtext-decoded

  friend bool operator==(const RcptParams&, const RcptParams&) = default;
};

// Parses the text after the closing '>' of the path: "" or SP-separated esmtp-params.
// Errors: errc::unknown_parameter, errc::bad_parameter, errc::syntax_error.
[[nodiscard]] boost::system::result<MailParams> parse_mail_params(std::string_view rest);
[[nodiscard]] boost::system::result<RcptParams> parse_rcpt_params(std::string_view rest);

// RFC 3461 4: xtext. decode_xtext returns nullopt on malformed input or on a decoded
// byte outside printable ASCII.
[[nodiscard]] std::optional<std::string> decode_xtext(std::string_view s);
[[nodiscard]] std::string encode_xtext(std::string_view s);

}  // namespace refmail::smtp
