// tools/sendmail/transport.hpp — submits one message: a blocking TCP connection
// (connect and I/O timeouts), OpenSSL TLS (implicit or after STARTTLS) and the
// sans-I/O smtp::ClientSession driving the dialogue lock-step (no PIPELINING, DATA
// rather than BDAT), so every failure is attributed to the command that caused it
// and reported as one line: cannot connect, TLS failed (reason), certificate not
// trusted, authentication failed (server's text), sender/recipient/message refused.
// SECURITY: certificate and host-name verification are always on (TLS 1.2+; the
// account's ca_file or the system store; SSL_set1_host, or the IP address for a
// literal); credentials only after TLS unless the caller allowed plaintext; the
// --verbose transcript masks every AUTH payload.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/client_session.hpp"
#include "tools/sendmail/failure.hpp"
#include "tools/sendmail/settings.hpp"

namespace refmail::sendmail {

struct SubmitOptions {
  std::string host;
  std::uint16_t port = 587;
  TlsSetting tls = TlsSetting::StartTls;
  std::string ca_file;                      // "" = system trust store
  std::chrono::seconds timeout{60};         // connect, and each read/write
  std::string ehlo_domain = "localhost";
  std::optional<smtp::ClientCredentials> auth;
  bool allow_plaintext = false;             // REQUIRES: true when tls == None
  std::ostream* transcript = nullptr;       // --verbose: the dialogue, secrets masked
};

struct SubmitReport {
  // Recipients refused while others were accepted: "addr: 550 5.1.1 text".
  std::vector<std::string> refused;
  int exit_code = 0;  // 0, or EX_NOUSER / EX_TEMPFAIL when some recipients were refused
};

// Connects, submits, quits. A failure for the whole message is a Failure.
[[nodiscard]] Result<SubmitReport> submit(const SubmitOptions& options, smtp::ClientMessage message);

// --- pure pieces, exposed for tests ---

// Which command the client is in, judged from what it writes (lock-step dialogue).
enum class Phase { Greeting, Hello, StartTls, Auth, Mail, Rcpt, Data, Content };

// The phase after the client wrote `written` while in `current` ("QUIT" keeps it).
[[nodiscard]] Phase next_phase(std::string_view written, Phase current);

// What --verbose shows for bytes written in `phase` (the phase they start):
// "C: " lines, AUTH secrets and SASL responses masked, message content summarised.
[[nodiscard]] std::string transcript_of_write(std::string_view written, Phase phase);

// The one-line error for a finished session that delivered nothing.
[[nodiscard]] Failure classify_failure(const smtp::ClientResult& result, Phase phase);

// Mechanisms to offer for the account's auth setting (auto: PLAIN, then LOGIN).
[[nodiscard]] std::vector<smtp::AuthMechanism> mechanisms_for(AuthSetting auth);

}  // namespace refmail::sendmail
