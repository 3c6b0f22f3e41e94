// smtp/command.hpp — RFC 5321 4.1.1 command-line parsing: the verb, and the arguments of
// MAIL, RCPT, BDAT (RFC 3030 2) and AUTH (RFC 4954 4). Pure; views point into the line.
// SECURITY: the caller enforces line length limits before calling; these functions
// reject NUL and control characters in arguments.
#pragma once

#include "smtp/address.hpp"
#include "smtp/params.hpp"

#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace refmail::smtp {

enum class Verb {
  Unknown,
  Helo, Ehlo, Mail, Rcpt, Data, Bdat, Rset, Noop, Quit, Vrfy, Expn, Help, StartTls, Auth,
  Forbidden,  // GET / POST / CONNECT / ...: a web client or proxy abuse (Postfix
              // smtpd_forbidden_commands); answered and disconnected
};

struct CommandLine {
  Verb verb = Verb::Unknown;
  std::string_view args;  // after the verb and its separating spaces, trailing spaces cut
};

// Splits "VERB args" (case-insensitive verb). REQUIRES: line has no CRLF.
[[nodiscard]] CommandLine split_command(std::string_view line) noexcept;

struct MailFrom {
  Address reverse_path;
  MailParams params;
};
// "FROM:<path> [params]" (a space after the colon is tolerated, as by Postfix).
// Errors: syntax_error (no "FROM:"), bad_address, address_too_long, unknown_parameter,
// bad_parameter, utf8_not_permitted (non-ASCII path without SMTPUTF8).
[[nodiscard]] boost::system::result<MailFrom> parse_mail_from(std::string_view args);

struct RcptTo {
  Address forward_path;
  RcptParams params;
};
// "TO:<path> [params]". smtputf8: the transaction's MAIL had SMTPUTF8.
[[nodiscard]] boost::system::result<RcptTo> parse_rcpt_to(std::string_view args, bool smtputf8);

struct BdatArgs {
  std::uint64_t size = 0;
  bool last = false;
};
// RFC 3030 2: "BDAT" SP chunk-size [SP end-marker]; chunk-size = 1*DIGIT.
[[nodiscard]] boost::system::result<BdatArgs> parse_bdat(std::string_view args);

struct AuthArgs {
  std::string_view mechanism;                       // as sent; compare case-insensitively
  std::optional<std::string_view> initial_response; // base64, or "=" for empty (RFC 4954 4)
};
[[nodiscard]] boost::system::result<AuthArgs> parse_auth(std::string_view args);

// ASCII case-insensitive comparison.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace refmail::smtp
