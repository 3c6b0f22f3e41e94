// imap/session.hpp — the IMAP4rev2 / IMAP4rev1 server session (RFC 9051, RFC 3501) without
// I/O: bytes in, actions out (imap/action.hpp), like smtp::Session. No sockets, no clock,
// no storage. It frames and parses commands with imap/reader.hpp and answers them.
// The session implements the connection-level commands itself: CAPABILITY, NOOP,
// LOGOUT, ID (RFC 2971), ENABLE (RFC 5161: IMAP4rev2, UTF8=ACCEPT, CONDSTORE, QRESYNC),
// NAMESPACE (RFC 2342, one personal namespace, "/" separator), STARTTLS (RFC 9051
// 6.2.1), LOGIN, AUTHENTICATE PLAIN (RFC 4616, SASL-IR RFC 4959) and IDLE (RFC 2177).
// With Options::mailbox_requests, every command that needs the mail store (SELECT,
// EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST, LSUB, STATUS, APPEND,
// GETQUOTA(ROOT), SETQUOTA, and in the selected state NOOP, CHECK, CLOSE, UNSELECT,
// EXPUNGE, SEARCH, FETCH, STORE, COPY, MOVE, SORT, THREAD) becomes a MailboxRequest for
// the mailbox layer (imap/mailbox/engine.hpp); an APPEND message is announced to it
// before the "+" and its bytes follow as AppendData actions. Without it they are
// answered "<tag> NO [CANNOT] <command> is not available yet" and the mailbox
// extensions are not advertised. COMPRESS DEFLATE (RFC 4978) asks the server to
// compress from there on (action::StartCompression).
// Must never: answer a command before an asynchronous outcome it depends on, act on
// bytes pipelined after STARTTLS (CVE-2011-0411: they are discarded), accept LOGIN or
// AUTHENTICATE PLAIN in plaintext unless Options::login_without_tls, or write after Close.
// SECURITY: the first code to see an unauthenticated client; every buffer is bounded
// by Limits; auth failures and errors are counted and end the session with BYE.
//
// How the server drives it (one coroutine per connection):
//   Session s(options, limits);
//   perform(s.start());                       // the greeting
//   while (!s.closed()) {
//     n = co_await read_some(buf) with the deadline of s.deadline();
//     if (error or timeout) break;            // (timeout: write "* BYE Autologout" first)
//     perform(s.feed(bytes));
//   }
//   perform(actions): in order:
//     Write          -> append bytes to the output
//     WriteLiteral   -> write exactly size bytes from source (close on a short source)
//     StartTls       -> flush, handshake, perform(s.tls_started()) (close on failure)
//     Authenticate   -> perform(s.auth_result(verify(user, password)))
//     MailboxRequest -> perform(s.mailbox_result(engine.execute(request)))  (on a pool)
//     AppendData     -> engine.append_data(bytes)  (on a pool, in order)
//     StartCompression -> flush, then deflate output / inflate input from here on
//                       (inflate and feed `pending` first)
//     Close          -> flush, close the socket
//   An asynchronous action is the last of its batch; bytes fed meanwhile are buffered
//   (up to Limits::max_input_buffer, then BYE), but the server should stop reading while
//   !wants_input().
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "imap/action.hpp"
#include "imap/reader.hpp"
#include "imap/response.hpp"

namespace refmail::imap {

// Capabilities a session may advertise (RFC 9051 7.2.2 and extensions). The session
// advertises Options::extensions & kImplementedExtensions: an item is switched on in
// kImplementedExtensions by the slice that makes it work end to end.
enum class Extension : std::uint64_t {
  Id = 1ull << 0, Enable = 1ull << 1, Idle = 1ull << 2, Namespace = 1ull << 3, SaslIr = 1ull << 4,
  Utf8Accept = 1ull << 5, Unselect = 1ull << 6, UidPlus = 1ull << 7, Move = 1ull << 8,
  Condstore = 1ull << 9, Qresync = 1ull << 10, Esearch = 1ull << 11, Searchres = 1ull << 12,
  ListExtended = 1ull << 13, ListStatus = 1ull << 14, SpecialUse = 1ull << 15, Children = 1ull << 16,
  Binary = 1ull << 17, StatusSize = 1ull << 18, AppendLimit = 1ull << 19, ObjectId = 1ull << 20,
  Sort = 1ull << 21, ThreadReferences = 1ull << 22, ThreadOrderedSubject = 1ull << 23, Quota = 1ull << 24,
  CompressDeflate = 1ull << 25,
};
using ExtensionSet = std::uint64_t;
[[nodiscard]] constexpr ExtensionSet operator|(Extension a, Extension b) {
  return static_cast<ExtensionSet>(a) | static_cast<ExtensionSet>(b);
}
[[nodiscard]] constexpr ExtensionSet operator|(ExtensionSet a, Extension b) { return a | static_cast<ExtensionSet>(b); }
[[nodiscard]] constexpr bool has(ExtensionSet s, Extension e) { return (s & static_cast<ExtensionSet>(e)) != 0; }

// What works end to end now. The ones in kMailboxExtensions need the mailbox layer
// (imap/mailbox/engine.hpp) and are advertised only with Options::mailbox_requests.
inline constexpr ExtensionSet kMailboxExtensions =
    Extension::Unselect | Extension::UidPlus | Extension::Move | Extension::Esearch | Extension::Searchres |
    Extension::ListExtended |
    Extension::ListStatus | Extension::SpecialUse | Extension::Children | Extension::Binary | Extension::StatusSize |
    Extension::AppendLimit | Extension::ObjectId | Extension::Condstore | Extension::Qresync |
    Extension::Quota | Extension::Sort | Extension::ThreadOrderedSubject |
    Extension::ThreadReferences;
inline constexpr ExtensionSet kImplementedExtensions =
    Extension::Id | Extension::Enable | Extension::Idle | Extension::Namespace | Extension::SaslIr |
    Extension::Utf8Accept | Extension::CompressDeflate | kMailboxExtensions;

// The capability atom of one extension ("APPENDLIMIT" without its "=n").
[[nodiscard]] const char* capability_name(Extension e) noexcept;

struct Options {
  std::string server_name = "refmail";  // in the greeting and the ID response
  std::string server_version;            // ID "version", omitted when empty
  bool tls_available = false;            // STARTTLS can be offered (a TLS context exists)
  bool tls_active = false;               // implicit TLS (port 993): already inside TLS
  bool login_without_tls = false;        // LOGIN/AUTHENTICATE PLAIN before TLS (loopback, by config)
  ExtensionSet extensions = kImplementedExtensions;  // wanted; advertised & kImplementedExtensions
  bool mailbox_requests = false;         // store commands -> MailboxRequest (the mailbox layer)
};

struct Limits {
  CommandLimits command;                 // the reader's limits
  NonSyncLiterals non_sync = NonSyncLiterals::LiteralPlus;  // advertised LITERAL+ / LITERAL-
  unsigned max_errors = 20;              // BAD/NO for protocol errors before BYE + Close
  unsigned max_auth_failures = 3;        // failed LOGIN/AUTHENTICATE before BYE + Close
  unsigned max_unauthenticated_commands = 50;  // commands before a successful login
  std::size_t max_input_buffer = 1u << 20;  // bytes held while an outcome is awaited
};

// Explicit states; every change goes through Session::enter_state().
enum class SessionState {
  Init,              // constructed; start() not called yet
  NotAuthenticated,  // RFC 9051 3.1
  Authenticated,     // RFC 9051 3.2
  Selected,          // RFC 9051 3.3 (SELECT/EXAMINE through the mailbox layer)
  Idle,              // IDLE: waiting for DONE
  AuthContinue,      // AUTHENTICATE sent "+ ", waiting for the SASL response line
  WaitAuth,          // Authenticate issued
  WaitTls,           // StartTls issued
  WaitMailbox,       // MailboxRequest issued
  Logout,            // LOGOUT / BYE: Close issued, nothing more happens
};
[[nodiscard]] const char* to_string(SessionState s) noexcept;

// Which read deadline the server should apply now (the server owns the clock).
enum class Deadline {
  None,             // an outcome is awaited or the session is closed: no read pending
  Unauthenticated,  // before login: short (e.g. 1 minute)
  Authenticated,    // RFC 9051 5.4: at least 30 minutes
  Idle,             // IDLE: RFC 2177 recommends clients re-IDLE within 29 minutes
  InCommand,        // a command (a line or a literal) is partly received: short
};

class Session {
 public:
  // REQUIRES: limits.max_errors >= 1, limits.max_auth_failures >= 1, server_name and
  // server_version without CR, LF or NUL.
  Session(Options options, Limits limits = {});

  // "* OK [CAPABILITY ...] <name> ready". REQUIRES: called once, first.
  [[nodiscard]] std::vector<Action> start();
  // Consumes received bytes (any split). Returns the actions, in order. Bytes fed while
  // StartTls is pending, or after Close, are discarded.
  [[nodiscard]] std::vector<Action> feed(std::string_view bytes);

  // Outcomes; each REQUIRES the matching wait state (a violation aborts).
  [[nodiscard]] std::vector<Action> auth_result(AuthOutcome outcome);
  [[nodiscard]] std::vector<Action> tls_started();
  [[nodiscard]] std::vector<Action> mailbox_result(MailboxReply reply);
  // While IDLE in the selected state with nothing awaited: a MailboxRequest with `poll`
  // (the server calls this when the account changed, or on a timer); else nothing.
  [[nodiscard]] std::vector<Action> poll_mailbox();

  [[nodiscard]] SessionState state() const noexcept { return state_; }
  [[nodiscard]] bool closed() const noexcept { return state_ == SessionState::Logout; }
  [[nodiscard]] bool wants_input() const noexcept;
  [[nodiscard]] Deadline deadline() const noexcept;
  [[nodiscard]] bool tls_active() const noexcept { return tls_active_; }
  [[nodiscard]] const std::optional<std::string>& user() const noexcept { return user_; }
  // Extensions the client enabled (ENABLE), as upper-cased names.
  [[nodiscard]] const std::vector<std::string>& enabled() const noexcept { return enabled_; }
  // The capability list as advertised now (without "CAPABILITY").
  [[nodiscard]] std::string capabilities() const;
  // Bytes received and not yet processed (bounded by the limits plus one feed()).
  [[nodiscard]] std::size_t held_bytes() const noexcept { return reader_.held_bytes(); }

  // Called on every state change (OpenSMTPD-style logging hook); may be empty.
  std::function<void(SessionState from, SessionState to)> on_transition;

 private:
  void enter_state(SessionState next);
  void run();
  void on_command(Command&& c);
  void on_error(const ParseError& e);
  void on_append_begin(const AppendInfo& a);
  void on_sasl_line(const std::string& line);
  void on_idle_done(bool ok);

  // session_connection.cpp
  void cmd_capability(const Command& c);
  void cmd_noop(const Command& c);
  void cmd_logout(const Command& c);
  void cmd_id(const Command& c);
  void cmd_enable(const Command& c);
  void cmd_namespace(const Command& c);
  void cmd_idle(const Command& c);
  void cmd_starttls(const Command& c);
  void cmd_compress(const Command& c);
  void not_available(const Command& c);
  void request_mailbox(const Command& c);
  void note_condstore(const Command& c);
  [[nodiscard]] ExtensionSet advertised() const noexcept;
  [[nodiscard]] action::ClientModes modes() const;
  // session_auth.cpp
  void cmd_login(const Command& c);
  void cmd_authenticate(const Command& c);
  void finish_plain(std::string_view base64);
  void request_auth(std::string mechanism, std::string user, std::string password);
  void auth_failed(std::string_view code, std::string_view text);
  [[nodiscard]] bool plaintext_allowed() const noexcept { return tls_active_ || opt_.login_without_tls; }

  void write(std::string bytes) { out_.emplace_back(action::Write{std::move(bytes)}); }
  void answer(std::string_view tag, Condition s, std::string_view code, std::string_view text);
  // An error answer that counts toward max_errors (BYE + Close past it).
  void error(std::string_view tag, Condition s, std::string_view code, std::string_view text);
  void bye(std::string_view text);
  void apply_reader_options();

  Options opt_;
  Limits lim_;
  CommandReader reader_;
  SessionState state_ = SessionState::Init;
  std::vector<Action> out_;
  bool tls_active_ = false;
  bool imap4rev2_ = false;
  bool utf8_ = false;
  std::optional<std::string> user_;
  std::vector<std::string> enabled_;
  std::string pending_tag_;
  std::string pending_user_;  // the command awaiting an outcome / SASL line / DONE
  SessionState resume_state_ = SessionState::NotAuthenticated;  // after IDLE / a mailbox request
  SessionState wait_resume_ = SessionState::NotAuthenticated;   // after a mailbox request
  bool poll_pending_ = false;
  bool compressing_ = false;  // COMPRESS DEFLATE done
  bool append_pending_ = false;  // a MailboxRequest with append_begin awaits its answer
  bool condstore_ = false;  // ENABLE CONDSTORE / QRESYNC or SELECT (CONDSTORE)
  bool qresync_ = false;
  unsigned errors_ = 0;
  unsigned auth_failures_ = 0;
  unsigned unauth_commands_ = 0;
};

}  // namespace refmail::imap
