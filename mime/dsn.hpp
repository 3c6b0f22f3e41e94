// mime/dsn.hpp — RFC 3464 delivery status notifications (bounces and delay warnings):
// a multipart/report (RFC 6522) with a human-readable text part quoting the remote
// server's reply, a message/delivery-status part, and the original message's header
// section as text/rfc822-headers. Sans-I/O: no clock, no randomness of its own (the
// caller passes the date and a seed for the boundary and Message-ID).
// Must never: include the original body (only its headers), or let peer text break
// the structure: every quoted reply is reduced to printable single lines.
// SECURITY: remote replies and addresses are peer-controlled; they are folded into
// bounded, CR/LF-free lines before they reach a header or status field.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace refmail::mime {

struct DsnRecipient {
  std::string address;       // final recipient (RFC 5321 form, no angle brackets)
  std::string action;        // "failed" or "delayed" (RFC 3464 2.3.3)
  std::string status;        // "5.1.1", "4.4.1", ... (RFC 3463)
  std::string remote_mta;    // host that answered, "" if none was reached
  std::string diagnostic;    // the peer's reply ("550 5.1.1 no such user") or local reason
};

struct DsnInput {
  std::string reporting_mta;       // our host name
  std::string from = "MAILER-DAEMON";  // local part; "@reporting_mta" is appended
  std::string to;                  // the original sender (RFC 5321 form)
  std::string original_envid;      // ENVID, "" when absent
  std::int64_t arrival_date = 0;   // epoch seconds the message was accepted
  std::int64_t date = 0;           // epoch seconds now
  std::string original_headers;    // the original header section (up to the blank line)
  std::string original_subject;    // for our Subject line, may be ""
  std::vector<DsnRecipient> recipients;  // REQUIRES: at least one
  std::uint64_t random_seed = 0;   // boundary and Message-ID
};

// The complete message bytes (CRLF line ends). A report for "delayed" recipients only
// is a delay warning, otherwise a failure report.
[[nodiscard]] std::string compose_dsn(const DsnInput& in);

// The header section of a message: bytes up to and including the first empty line
// (CRLF CRLF or LF LF), or the whole input when there is none; bounded by max_bytes.
[[nodiscard]] std::string header_section(std::string_view message, std::size_t max_bytes = 256 * 1024);

// "550 5.1.1 <x>: no such user" -> "5.1.1"; without an enhanced code, "5.0.0" / "4.0.0"
// from the basic code's first digit (RFC 3463 3.1).
[[nodiscard]] std::string status_from_reply(int code, std::string_view reply);

}  // namespace refmail::mime
