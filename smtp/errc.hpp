// smtp/errc.hpp — expected failures of the SMTP parsers (peer input), as error codes.
// Every one of them becomes an SMTP reply in the session (cmd_mail()/cmd_rcpt() etc.
// in session.cpp map them to 5xx codes); none is ever thrown.
#pragma once

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace refmail::smtp {

enum class errc {
  line_too_long = 1,     // RFC 5321 4.5.3.1.4/6
  syntax_error,          // command or argument grammar
  bad_address,           // RFC 5321 4.1.2 Path/Mailbox grammar
  address_too_long,      // RFC 5321 4.5.3.1.1-3
  utf8_not_permitted,    // non-ASCII without SMTPUTF8 (RFC 6531 3.5: 553 5.6.7)
  unknown_parameter,     // ESMTP parameter not supported (555 5.5.4)
  bad_parameter,         // malformed or duplicate parameter value (501 5.5.4)
  bad_base64,            // RFC 4954 4: 501 5.5.2
  malformed_sasl,        // SASL response decodes but does not parse
};

[[nodiscard]] const boost::system::error_category& smtp_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), smtp_category()};
}

}  // namespace refmail::smtp

template <>
struct boost::system::is_error_code_enum<refmail::smtp::errc> : std::true_type {};
