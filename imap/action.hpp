// imap/action.hpp — what an imap::Session asks its caller (the server coroutine) to do,
// in order: write bytes, stream a literal from a source, start TLS, check credentials,
// run a mailbox request, hand over APPEND bytes, close. Plain values; the caller performs them in
// the order given and reports each asynchronous outcome back (see session.hpp).
// Must never: carry a view into the session's buffers (every value is owned).
// SECURITY: Authenticate carries a password; the caller must not log it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <boost/system/result.hpp>

#include "imap/command.hpp"
#include "imap/response.hpp"

namespace refmail::imap {

class LiteralSource;

// The actions live in their own namespace: command.hpp already names StartTls,
// Authenticate and Close (the commands).
namespace action {

// Write these bytes (whole response lines, CRLF-terminated, or a literal's prefix).
struct Write {
  std::string bytes;
  friend bool operator==(const Write&, const Write&) = default;
};

}  // namespace action

// Where a streamed literal's bytes come from (the store's joiner, seeked to a section, or
// a blob). The server calls read() until `size` bytes were written.
class LiteralSource {
 public:
  virtual ~LiteralSource() = default;
  // Fills `out` with the next bytes; returns how many (0 only at the end). An error, or
  // an end before the announced size, means the literal cannot be completed: the
  // server must close the connection (a literal cannot be cut short in IMAP).
  [[nodiscard]] virtual boost::system::result<std::size_t> read(std::span<char> out) = 0;
};

namespace action {

// Write exactly `size` bytes read from `source` (its "{size}\r\n" prefix was in the
// previous Write; what follows the literal comes in the next Write).
struct WriteLiteral {
  std::uint64_t size = 0;
  std::shared_ptr<LiteralSource> source;
  friend bool operator==(const WriteLiteral&, const WriteLiteral&) = default;
};

// Write all earlier output, run the TLS handshake, then call Session::tls_started()
// (or close the connection if the handshake fails).
struct StartTls {
  friend bool operator==(const StartTls&, const StartTls&) = default;
};

// Check credentials, then call Session::auth_result().
struct Authenticate {
  std::string mechanism;  // "LOGIN" (the IMAP command) or "PLAIN"
  std::string user;       // authentication identity
  std::string password;
  friend bool operator==(const Authenticate&, const Authenticate&) = default;
};

// What the client switched on (ENABLE, SELECT (CONDSTORE)) that changes how the mailbox
// layer answers.
struct ClientModes {
  bool imap4rev2 = false;  // ENABLE IMAP4rev2 (RFC 9051 responses: no RECENT, ESEARCH...)
  bool utf8 = false;       // UTF8=ACCEPT or IMAP4rev2: UTF-8 in quoted strings
  bool condstore = false;  // ENABLE CONDSTORE (RFC 7162 3.1)
  bool qresync = false;    // ENABLE QRESYNC (RFC 7162 3.2)
  friend bool operator==(const ClientModes&, const ClientModes&) = default;
};

// A command that needs the mail store (SELECT, LIST, FETCH, ...), or with `poll` a
// request for the untagged updates of the selected mailbox (new mail, expunges, flag
// changes: while IDLE, Session::poll_mailbox()). The server runs it through the
// mailbox layer (imap/mailbox/engine.hpp) and answers through Session::mailbox_result().
// Only produced when Options::mailbox_requests is set.
struct MailboxRequest {
  Command command;    // with `poll`: tag "" and Noop
  std::string user;   // the authenticated user
  ClientModes modes;
  bool poll = false;  // untagged updates only; the reply's status is not written
  // APPEND: one message is announced (command: the Append with only that message,
  // append_index its place in a MULTIAPPEND). An Ok reply lets its bytes come (as
  // AppendData actions); any other status refuses the APPEND (the reply's status line
  // is the answer, the message's bytes are discarded). The whole Append command comes
  // as an ordinary MailboxRequest after the last message's bytes.
  bool append_begin = false;
  std::size_t append_index = 0;
  friend bool operator==(const MailboxRequest&, const MailboxRequest&) = default;
};

// The next bytes of the APPEND message being received (after an Ok to its
// MailboxRequest with append_begin): hand them to the mailbox layer
// (MailboxEngine::append_data) in order.
struct AppendData {
  std::string bytes;
  friend bool operator==(const AppendData&, const AppendData&) = default;
};

// COMPRESS=DEFLATE (RFC 4978): write all earlier output as it is, then compress every
// later byte written (imap/compress.hpp Deflater, flushed after each batch) and inflate
// every byte read before feeding it; `pending` are bytes already received after the
// command (compressed: inflate and feed them first).
struct StartCompression {
  std::string pending;
  friend bool operator==(const StartCompression&, const StartCompression&) = default;
};

// Write all earlier output, then close the connection.
struct Close {
  friend bool operator==(const Close&, const Close&) = default;
};

}  // namespace action

using Action = std::variant<action::Write, action::WriteLiteral, action::StartTls, action::Authenticate,
                            action::MailboxRequest, action::AppendData, action::StartCompression, action::Close>;

enum class AuthOutcome {
  Ok,         // "<tag> OK [CAPABILITY ...] Logged in"
  Failed,     // "<tag> NO [AUTHENTICATIONFAILED]", counted toward max_auth_failures
  Temporary,  // "<tag> NO [UNAVAILABLE]" (throttled, backend down); not counted
};

// A mailbox request's answer: the untagged responses (Write / WriteLiteral actions, in
// order) and the tagged status line's parts.
struct MailboxReply {
  // How the command changed the selection (SELECT/EXAMINE: Selected on success,
  // Deselected on failure when a mailbox was selected before (RFC 9051 6.3.2); CLOSE,
  // UNSELECT, a deleted selected mailbox: Deselected).
  enum class Selection { Unchanged, Selected, Deselected };
  Selection selection = Selection::Unchanged;
  std::vector<Action> body;
  Condition status = Condition::Ok;  // Ok, No or Bad
  std::string code;            // without brackets, may be empty
  std::string text;
};

}  // namespace refmail::imap
