// smtp/client_session.hpp — sans-I/O SMTP client for one message (relay worker,
// refmail-sendmail): greeting, EHLO (HELO fallback), STARTTLS, AUTH PLAIN / LOGIN /
// XOAUTH2, MAIL with SIZE/BODY/SMTPUTF8/DSN parameters as the server allows, RCPTs
// (pipelined when PIPELINING is offered, RFC 2920), DATA with dot-stuffing (RFC 5321
// 4.5.2) or BDAT (RFC 3030), per-recipient outcomes, QUIT.
// The caller writes ClientWrite bytes, runs the TLS handshake on ClientStartTls and then
// calls tls_started(), and closes the connection on ClientFinished.
// SECURITY: credentials are never sent before TLS unless allow_plaintext_auth; with
// TlsMode::Required a missing STARTTLS is a failure, never a silent downgrade; server
// replies are parsed with bounded lines (ReplyParser); the STARTTLS reply must be the
// last bytes before the handshake (leftover bytes are a protocol error, CVE-2011-0411).
#pragma once

#include "smtp/address.hpp"
#include "smtp/envelope.hpp"
#include "smtp/params.hpp"
#include "smtp/reply_parser.hpp"

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace refmail::smtp {

enum class TlsMode {
  None,           // never STARTTLS
  Opportunistic,  // STARTTLS when offered (MX relay default)
  Required,       // STARTTLS or fail (submission to a smarthost)
  Implicit,       // the connection is already TLS (port 465)
};

enum class AuthMechanism { Plain, Login, XOAuth2 };

struct ClientCredentials {
  std::string user;
  std::string secret;  // password, or the OAuth2 bearer token for XOAUTH2
  // Mechanisms to try, in order of preference; the first one the server offers is used.
  std::vector<AuthMechanism> mechanisms{AuthMechanism::Plain, AuthMechanism::Login};
};

struct ClientOptions {
  std::string ehlo_domain = "localhost";
  TlsMode tls = TlsMode::Opportunistic;
  std::optional<ClientCredentials> auth;
  bool allow_plaintext_auth = false;  // send credentials without TLS (tests only)
  bool use_bdat = true;               // BDAT when CHUNKING is offered
  bool use_pipelining = true;         // when PIPELINING is offered
  // Content writes refer to the message instead of copying it: ClientWrite::body is a
  // view into the session's message (valid while the session lives) and DATA content is
  // copied only when it needs dot-stuffing or line-end repair. Off: every byte is in
  // ClientWrite::bytes.
  bool content_by_reference = false;
  // After a transaction that left the connection in sync, do not QUIT: the session ends
  // reusable() and next_message() sends another message on the same connection
  // (RSET first, as Postfix's connection cache does). Off: QUIT after the message.
  bool keep_open = false;
};

struct ClientMessage {
  Address mail_from;
  MailParams params;                // BODY, SMTPUTF8, RET, ENVID used when supported
  std::vector<Recipient> rcpt_to;   // with DSN NOTIFY/ORCPT
  std::string bytes;                // the message as stored (not dot-stuffed)
  // When set, the message content instead of `bytes` (shared, e.g. by the sessions of
  // one delivery trying several MX hosts, without copying it).
  std::shared_ptr<const std::string> shared_bytes;
  // When set, the driver supplies the content itself (ClientWrite::stream), exactly
  // streamed_size bytes, never held here (REQUIRES: content_by_reference). Lets a
  // relay stream a large message from storage in bounded memory.
  bool streamed = false;
  std::uint64_t streamed_size = 0;

  [[nodiscard]] std::string_view content() const noexcept {
    return shared_bytes ? std::string_view(*shared_bytes) : std::string_view(bytes);
  }
  [[nodiscard]] std::uint64_t content_size() const noexcept {
    return streamed ? streamed_size : content().size();
  }
};

struct ClientWrite {
  std::string bytes;
  // The bytes carry (part of) the message content: once written, the peer may hold the
  // message (the relay marks its queue row "in delivery" before such a write).
  bool content = false;
  // Only with ClientOptions::content_by_reference: written after `bytes`, then `trailer`.
  std::string_view body;
  std::string trailer;
  // Only for a ClientMessage::streamed message: after `bytes` the driver writes the
  // whole content itself, as it is (Raw, BDAT) or through a DotStuffer (DotStuffed,
  // DATA: finish() included), then `trailer`.
  enum class Stream : std::uint8_t { None, Raw, DotStuffed };
  Stream stream = Stream::None;
};
struct ClientStartTls {};
struct ClientFinished {};
using ClientAction = std::variant<ClientWrite, ClientStartTls, ClientFinished>;

enum class DeliveryClass { Delivered, TempFail, PermFail };

struct ClientRcptResult {
  Address address;
  DeliveryClass status = DeliveryClass::TempFail;
  int code = 0;       // the server's reply code, 0 for a local failure
  std::string reply;  // the server's reply text (or a local explanation)
};

struct ClientResult {
  // The session-level outcome: Delivered when the message was accepted for at least one
  // recipient; otherwise why not. Per-recipient outcomes are in rcpts.
  DeliveryClass status = DeliveryClass::TempFail;
  int code = 0;
  std::string reply;
  std::vector<ClientRcptResult> rcpts;
  bool tls = false;
  bool authenticated = false;
};

// Dot-stuffs a message for DATA (RFC 5321 4.5.2), converting bare LF to CRLF (so no
// receiver can see a different end of data), ensuring a final CRLF, appending ".\r\n".
[[nodiscard]] std::string dot_stuff(std::string_view message);
// dot_stuff() in pieces, for content streamed in chunks: feed() appends the stuffed
// form of each chunk to `out`; finish() ends the content with CRLF when it did not end
// with a line break (the ".\r\n" trailer is not included). The concatenation of every
// output plus ".\r\n" equals dot_stuff() of the concatenated input.
class DotStuffer {
 public:
  void feed(std::string_view chunk, std::string& out);
  void finish(std::string& out);

 private:
  bool line_start_ = true;
  char prev_ = 0;
};

// True when dot_stuff(message) == message + ".\r\n" (no line starts with '.', every LF
// follows a CR, the message is empty or ends with CRLF): it can be sent as it is.
[[nodiscard]] bool needs_no_stuffing(std::string_view message) noexcept;

class ClientSession {
 public:
  ClientSession(ClientOptions options, ClientMessage message);

  // Server bytes; returns what to do next. Nothing is written before the greeting.
  [[nodiscard]] std::vector<ClientAction> feed(std::span<const char> bytes);
  template <class S>
    requires std::convertible_to<const S&, std::string_view>
  [[nodiscard]] std::vector<ClientAction> feed(const S& bytes) {
    const std::string_view v(bytes);
    return feed(std::span<const char>(v.data(), v.size()));
  }
  // The TLS handshake after ClientStartTls succeeded. REQUIRES: a ClientStartTls was issued.
  [[nodiscard]] std::vector<ClientAction> tls_started();
  // The connection failed or timed out: finish with a temporary failure.
  [[nodiscard]] std::vector<ClientAction> connection_lost(std::string_view why);

  // True once the message's outcome is decided (ClientFinished was issued).
  [[nodiscard]] bool finished() const noexcept { return state_ == State::Finished || state_ == State::Idle; }
  // With keep_open: the transaction ended cleanly (every reply read, no 421, no error),
  // so the connection can carry another message.
  [[nodiscard]] bool reusable() const noexcept { return state_ == State::Idle; }
  // The next message on this connection: RSET, then the transaction (pipelined with the
  // RSET when the server offers PIPELINING). Capabilities, TLS and AUTH carry over.
  // REQUIRES: reusable().
  [[nodiscard]] std::vector<ClientAction> next_message(ClientMessage message);
  // Ends an idle session politely. REQUIRES: reusable().
  [[nodiscard]] std::vector<ClientAction> quit();
  // REQUIRES: finished().
  [[nodiscard]] const ClientResult& result() const noexcept { return result_; }

 private:
  enum class State {
    Greeting, Ehlo, Helo, StartTls, WaitTls, Auth, Transaction, Quit, Finished,
    Idle,  // keep_open: between messages, the connection in sync
  };
  enum class Expect { Rset, Mail, Rcpt, Data, Content, Bdat, AuthStep, Quit };

  struct Caps {
    bool pipelining = false, size = false, eight_bit = false, smtputf8 = false, starttls = false,
         chunking = false, binarymime = false, dsn = false;
    std::uint64_t max_size = 0;
    bool auth_plain = false, auth_login = false, auth_xoauth2 = false;
  };

  void on_reply(const ServerReply& r);
  void on_ehlo(const ServerReply& r);
  void after_hello();
  void start_auth();
  void on_auth(const ServerReply& r);
  void start_transaction();
  void send_next_unpipelined();
  void on_transaction_reply(const ServerReply& r);
  void send_content();
  void fail(DeliveryClass c, int code, std::string text, bool quit);
  void fail_reply(const ServerReply& r, bool quit);
  void finish_transaction(const ServerReply& r);
  void quit_and_finish();
  void write(std::string bytes, bool content = false);
  // `head`, then the message content (dot-stuffed for DATA), as one content write.
  void write_content(std::string head, bool data);
  [[nodiscard]] std::string mail_command() const;
  [[nodiscard]] std::string rcpt_command(const Recipient& r) const;
  [[nodiscard]] bool use_bdat() const noexcept;

  ClientOptions opt_;
  ClientMessage msg_;
  State state_ = State::Greeting;
  ReplyParser parser_;
  Caps caps_;
  bool esmtp_ = false;
  bool tls_ = false;
  std::vector<ClientAction> out_;
  ClientResult result_;

  // AUTH progress.
  AuthMechanism auth_mech_ = AuthMechanism::Plain;
  int auth_step_ = 0;

  // Transaction progress.
  std::deque<Expect> expect_;
  std::size_t next_rcpt_ = 0;      // next RCPT to send (unpipelined)
  std::size_t rcpt_replies_ = 0;   // RCPT replies received
  std::size_t accepted_ = 0;
  bool mail_ok_ = false;
  bool aborted_ = false;           // the transaction failed; draining pipelined replies
  bool closing_ = false;           // the server said 421: it closes the connection
};

}  // namespace refmail::smtp
