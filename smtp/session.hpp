// smtp/session.hpp — RFC 5321 server session. No sockets, no clock, no storage.
// The caller feeds received bytes and performs the returned actions in order; for the
// asynchronous ones (Authenticate, CheckSender, CheckRecipient, Deliver, StartTls) it
// reports the outcome through the matching *_result() / tls_started() call, which
// returns the next actions. Extensions: PIPELINING (RFC 2920), SIZE (RFC 1870),
// 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), ENHANCEDSTATUSCODES (RFC 2034, 3463),
// STARTTLS (RFC 3207), AUTH PLAIN/LOGIN (RFC 4954, 4616), CHUNKING/BINARYMIME (RFC 3030),
// DSN (RFC 3461).
// SECURITY: every buffer is bounded by Limits; a 250 for a message is only produced by
// delivery_result(Ok); plaintext pipelined after STARTTLS is discarded (CVE-2011-0411);
// end of DATA is only <CRLF>.<CRLF> (SMTP smuggling); errors and junk commands are
// counted and end the session with 421.
//
// How the server drives it (one coroutine per connection):
//   Session s(options, limits);
//   perform(s.start());
//   while (!s.closed()) {
//     n = co_await read_some(buf) with a deadline (longer while s.in_content());
//     if (error or timeout) break;               // nothing is delivered: no Deliver was done
//     perform(s.feed(span(buf, n), now));
//   }
//   perform(actions): for each action in order:
//     Reply          -> append wire to the output; write it before the next read
//     StartTls       -> flush output, handshake, perform(s.tls_started()) (or close on failure)
//     Authenticate   -> perform(s.auth_result(verify(user, password)))
//     CheckSender    -> perform(s.sender_result(owns(user, address)))
//     CheckRecipient -> perform(s.recipient_result(classify_recipient(...)))
//     Deliver        -> commit durably, then perform(s.delivery_result(status, queue_id))
//     Close          -> flush output, close the socket
//   Every asynchronous action is the last of its batch; feed() may be called while one
//   is pending (bytes are buffered), but the server should stop reading (wants_input()).
#pragma once

#include "smtp/action.hpp"
#include "smtp/data_receiver.hpp"
#include "smtp/envelope.hpp"
#include "smtp/limits.hpp"
#include "smtp/message_sink.hpp"

#include <chrono>
#include <concepts>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace refmail::smtp {

// OpenSMTPD-style explicit states; every change goes through Session::enter_state().
enum class SessionState {
  Init,           // constructed; start() not called yet
  Connected,      // greeting sent, no HELO/EHLO yet (also after STARTTLS)
  Ready,          // HELO/EHLO done, no transaction
  Mail,           // MAIL accepted, no recipient yet
  Rcpt,           // at least one recipient accepted (a BDAT transaction may be open)
  Data,           // receiving DATA content
  BdatChunk,      // receiving the bytes of one BDAT chunk
  AuthContinue,   // sent 334, waiting for a SASL response line
  WaitSender,     // CheckSender issued
  WaitRecipient,  // CheckRecipient issued
  WaitAuth,       // Authenticate issued
  WaitDelivery,   // Deliver issued
  WaitTls,        // StartTls issued
  Closed,         // Close issued; nothing more happens
};

[[nodiscard]] const char* to_string(SessionState s) noexcept;

class Session {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // REQUIRES: limits.max_command_line >= 512 (RFC 5321 4.5.3.1.4), max_auth_line >=
  // max_command_line, max_errors >= 1, max_auth_attempts >= 1, hostname without CR/LF.
  Session(Options options, Limits limits);

  // The 220 greeting. REQUIRES: called once, first.
  [[nodiscard]] std::vector<Action> start();

  // Consumes received bytes (any split of the stream). Returns the actions to perform,
  // in order. While an asynchronous outcome is awaited, bytes are only buffered (see
  // wants_input()). Bytes fed while StartTls is pending, or after Close, are discarded.
  // `now` is recorded for last_activity(); the session never reads a clock.
  [[nodiscard]] std::vector<Action> feed(std::span<const char> bytes, TimePoint now = {});
  // Convenience for anything string-like (std::string, string_view, literals).
  template <class S>
    requires std::convertible_to<const S&, std::string_view>
  [[nodiscard]] std::vector<Action> feed(const S& bytes, TimePoint now = {}) {
    const std::string_view v(bytes);
    return feed(std::span<const char>(v.data(), v.size()), now);
  }

  // Outcomes. Each REQUIRES the matching wait state (a contract violation aborts).
  // identity: the authenticated user to record; empty -> the AUTH user name.
  [[nodiscard]] std::vector<Action> auth_result(bool ok, std::string_view identity = {});
  // The password could not be checked now (throttled, verification queue full):
  // RFC 4954 6 "454 4.7.0 Temporary authentication failure"; not counted as a failure.
  [[nodiscard]] std::vector<Action> auth_temp_failure();
  [[nodiscard]] std::vector<Action> sender_result(bool allowed);
  // route: what the server decided for an accepted recipient (its routing), kept in
  // the envelope's Recipient::route until Deliver; dropped for other verdicts.
  [[nodiscard]] std::vector<Action> recipient_result(RcptVerdict verdict, std::any route = {});
  // queue_id is shown in "250 2.0.0 Ok: queued as <queue_id>".
  [[nodiscard]] std::vector<Action> delivery_result(DeliveryStatus status,
                                                    std::string_view queue_id = {});
  // The TLS handshake succeeded: RFC 3207 4.2, forget everything, expect a new EHLO.
  [[nodiscard]] std::vector<Action> tls_started();

  // From now on message content goes to `consumer` as it arrives (streaming ingest)
  // instead of being kept for Deliver::bytes, which is then empty. `consumer` must
  // outlive the session or be replaced; nullptr keeps the content here again.
  void set_content_consumer(ContentConsumer* consumer) noexcept { consumer_ = consumer; }

  [[nodiscard]] SessionState state() const noexcept { return state_; }
  // False while an outcome is awaited or after Close: the server should not read more
  // (bytes already read may still be fed; they are buffered up to max_input_buffer).
  [[nodiscard]] bool wants_input() const noexcept;
  // True while message content is being received (the server may use a longer timeout).
  [[nodiscard]] bool in_content() const noexcept {
    return state_ == SessionState::Data || state_ == SessionState::BdatChunk;
  }
  [[nodiscard]] bool closed() const noexcept { return state_ == SessionState::Closed; }
  [[nodiscard]] const std::optional<std::string>& auth_user() const noexcept { return auth_user_; }
  [[nodiscard]] bool tls_active() const noexcept { return tls_active_; }
  [[nodiscard]] TimePoint last_activity() const noexcept { return last_activity_; }
  // Memory the message content being received holds now (0 outside content).
  [[nodiscard]] std::size_t held_content_bytes() const noexcept { return sink_.held_bytes(); }
  // Under memory pressure: frees the content being received and keeps draining it;
  // the end of DATA / the last BDAT is answered 452 4.3.1 (the client retries later).
  // No effect outside content.
  void shed_content() {
    if (in_content()) sink_.shed();
  }
  // Bytes received but not yet processed (bounded by the limits).
  [[nodiscard]] std::size_t buffered_bytes() const noexcept { return in_.size() - pos_; }

 private:
  struct CommandSpec;
  static const CommandSpec* find_spec(int verb) noexcept;

  void enter_state(SessionState next);
  void run();
  std::size_t process(std::string_view v);
  void handle_line(std::string_view line, bool too_long);
  void handle_command(std::string_view line);
  void handle_auth_response(std::string_view line);

  void cmd_helo(std::string_view args);
  void cmd_ehlo(std::string_view args);
  void helo_common(std::string_view args, bool esmtp);
  void cmd_expn(std::string_view args);
  void cmd_mail(std::string_view args);
  void cmd_rcpt(std::string_view args);
  void cmd_data(std::string_view args);
  void cmd_bdat(std::string_view args);
  void cmd_rset(std::string_view args);
  void cmd_noop(std::string_view args);
  void cmd_quit(std::string_view args);
  void cmd_vrfy(std::string_view args);
  void cmd_help(std::string_view args);
  void cmd_starttls(std::string_view args);
  void cmd_auth(std::string_view args);

  void start_auth_plain(std::optional<std::string_view> response);
  void finish_auth_plain(std::string_view decoded);
  void accept_mail(Address from, MailParams params);
  void finish_data();
  void finish_bdat_chunk();
  void request_delivery();
  void reset_transaction();
  [[nodiscard]] bool in_transaction() const noexcept;
  [[nodiscard]] bool auth_offered() const noexcept;
  [[nodiscard]] bool reject_content(bool binary);  // replies and resets when bad

  std::vector<Action> take_out() { return std::exchange(out_, {}); }
  void reply(int code, std::string_view text);
  void reply_lines(int code, const std::vector<std::string>& lines);
  void fail(int code, std::string_view text);  // an error reply; counts toward max_errors
  void close_with(int code, std::string_view text);

  Options opt_;
  Limits lim_;
  SessionState state_ = SessionState::Init;
  std::vector<Action> out_;
  TimePoint last_activity_{};

  // Input: in_[pos_..] is unprocessed. line_scanned_: bytes of the pending partial line
  // already known to hold no LF; discarding_line_: a line over the limit is being dropped.
  std::string in_;
  std::size_t pos_ = 0;
  std::size_t line_scanned_ = 0;
  bool discarding_line_ = false;
  bool drop_input_ = false;

  // Connection-level facts.
  std::string ehlo_domain_;
  bool esmtp_ = false;
  bool tls_active_ = false;
  std::optional<std::string> auth_user_;
  unsigned errors_ = 0;
  unsigned junk_ = 0;
  unsigned auth_failures_ = 0;

  // AUTH in progress.
  enum class AuthStep { None, PlainResponse, LoginUser, LoginPassword };
  AuthStep auth_step_ = AuthStep::None;
  std::string auth_login_user_;
  std::string auth_pending_user_;

  // The transaction.
  bool has_mail_ = false;
  Envelope env_;
  std::optional<MailParams> pending_mail_params_;
  std::optional<Address> pending_mail_from_;
  std::optional<Recipient> pending_rcpt_;
  MessageSink sink_;
  ContentConsumer* consumer_ = nullptr;
  DataReceiver data_rx_;
  bool bdat_active_ = false;      // a BDAT transaction is open (chunks seen)
  std::uint64_t bdat_remaining_ = 0;
  bool bdat_last_ = false;
  int bdat_error_code_ = 0;       // != 0: this chunk is drained then answered with it
  std::string bdat_error_text_;
  SessionState bdat_return_state_ = SessionState::Ready;
};

}  // namespace refmail::smtp
