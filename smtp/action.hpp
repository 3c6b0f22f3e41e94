// smtp/action.hpp — what a Session asks its caller (the server coroutine) to do, in
// order: write a reply, start TLS, check credentials / a sender / a recipient, commit a
// message, close. Plain values; the caller performs them in the order given and reports
// the outcome of each asynchronous one back to the session (see session.hpp).
// SECURITY: Authenticate carries a password; the caller must not log it.
#pragma once

#include "smtp/address.hpp"
#include "smtp/envelope.hpp"
#include "smtp/params.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <variant>

namespace refmail::smtp {

// Write these bytes (one complete reply, possibly multi-line, CRLF-terminated).
struct Reply {
  int code = 0;       // 220, 250, 354, 550, ...
  std::string wire;   // "250 2.1.0 Ok\r\n"

  friend bool operator==(const Reply&, const Reply&) = default;
};

// Write all earlier replies, then run the TLS handshake on the connection, then call
// Session::tls_started() (or close the connection if the handshake fails).
struct StartTls {};

// Check credentials; then call Session::auth_result().
struct Authenticate {
  std::string mechanism;  // "PLAIN" or "LOGIN"
  std::string authzid;    // PLAIN authorization identity, may be empty
  std::string user;       // authentication identity
  std::string password;
};

// An authenticated client wants to send as `address` (RFC 6409 6.1 / issue policy);
// check that the address belongs to `user` (a null sender belongs to nobody: bounces
// are the server's to send); then call Session::sender_result().
struct CheckSender {
  Address address;  // may be null ("<>")
  std::string user;
};

// Decide about one recipient (see classify_recipient() in recipient_policy.hpp);
// then call Session::recipient_result().
struct CheckRecipient {
  Address address;
  RcptParams dsn;
  std::optional<std::string> auth_user;  // set when the session is authenticated
  std::size_t accepted_so_far = 0;       // recipients already accepted in this transaction
  std::optional<std::uint64_t> declared_size;  // MAIL FROM's SIZE= (RFC 1870), when given
};

// The message is complete: commit it durably (ingest), then call
// Session::delivery_result(). The 250 is sent only after that.
struct Deliver {
  Envelope envelope;
  std::string bytes;  // the content exactly as received, after dot-unstuffing ("" when a
                      // ContentConsumer took it as it arrived)
};

// Write all earlier replies, then close the connection.
struct Close {};

using Action = std::variant<Reply, StartTls, Authenticate, CheckSender, CheckRecipient, Deliver, Close>;

// Outcome of CheckRecipient.
enum class RcptVerdict {
  Accept,             // 250 2.1.5
  UnknownUser,        // 550 5.1.1
  RelayDenied,        // 554 5.7.1
  MailboxFull,        // 552 5.2.2
  TooManyRecipients,  // 452 4.5.3
  TempFail,           // 451 4.3.0
};

// Outcome of Deliver.
enum class DeliveryStatus {
  Ok,             // 250 2.0.0 Ok: queued as <queue_id>
  TempFail,       // 451 4.3.0 (store error, disk full: the client retries)
  QuotaExceeded,  // 552 5.2.2
  Rejected,       // 554 5.7.1 (content policy)
  // 550 5.7.1: a From: or Sender: address the authenticated user may not use (RFC 6409 8).
  SenderRejected,
  // 550 5.7.1: the From domain's DMARC policy is reject and the server enforces it
  // (RFC 7489 6.6.4, 10.3: rejected during the SMTP transaction).
  DmarcRejected,
  SpamRejected,  // 550 5.7.1: the content check (rspamd) says reject
  SpamDeferred,  // 451 4.7.1: the content check says try later, or could not run
};

}  // namespace refmail::smtp
