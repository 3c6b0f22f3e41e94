// smtp/limits.hpp — the knobs of an SMTP server session: resource limits (Limits) and
// what this listener offers (Options). Plain data; the server fills them from config.
// SECURITY: every limit bounds memory or work a peer can cause; defaults follow Postfix
// where it has an equivalent (smtpd_hard_error_limit 20, smtpd_junk_command_limit 100,
// message_size_limit ~10 MB -> we use 25 MiB, smtpd_recipient_limit 1000 -> RFC minimum 100).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace refmail::smtp {

struct Limits {
  std::size_t max_command_line = 1000;          // RFC 5321 4.5.3.1.4, CRLF included
  std::size_t max_auth_line = 12288;            // RFC 4954 4: AUTH lines may be longer
  std::uint64_t max_message_size = 25u << 20;   // bytes after unstuffing; SIZE advertises it
  std::size_t max_recipients = 100;             // RFC 5321 4.5.3.1.8 minimum; more -> 452 4.5.3
  unsigned max_errors = 20;                     // 4xx/5xx replies before 421 + close
  unsigned max_junk_commands = 50;              // NOOP/RSET/VRFY/HELP/EHLO/HELO without a
                                                // delivery in between -> 421 + close
  std::size_t max_data_line = 64u << 10;        // DATA/BDAT line (LF included); longer -> 552
                                                // (RFC 5321 says 1000; real mail exceeds it)
  unsigned max_auth_attempts = 3;               // failed AUTH before 421 + close
  std::size_t max_input_buffer = 1u << 20;      // unprocessed input while awaiting an outcome
};

enum class BareLfPolicy {
  Accept,  // bare LF in DATA is content, stored as received (Postfix 3.9 "normalize"
           // tolerates it too). It is never a line end (see data_receiver.hpp).
  Reject,  // drain to <CRLF>.<CRLF>, then 550 5.5.2 (Postfix smtpd_forbid_bare_newline=reject)
};

enum class SessionState;  // session.hpp

struct Options {
  std::string hostname = "localhost";  // in the greeting and the EHLO reply
  bool tls_available = false;          // STARTTLS can be offered (a TLS context exists)
  bool tls_active = false;             // implicit TLS (port 465): already inside TLS
  bool auth_enabled = false;           // AUTH PLAIN LOGIN offered on this listener
  bool auth_without_tls = false;       // config switch: AUTH before TLS (loopback tests)
  bool require_auth = false;           // MAIL needs a successful AUTH (530 5.7.0)
  bool require_tls = false;            // MAIL needs TLS (530 5.7.0)
  bool check_sender = true;            // authenticated MAIL FROM -> Action CheckSender
  BareLfPolicy bare_lf = BareLfPolicy::Accept;
  // Called on every state transition (OpenSMTPD-style logging hook); may be empty.
  std::function<void(SessionState from, SessionState to)> on_transition;
};

}  // namespace refmail::smtp
