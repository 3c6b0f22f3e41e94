// managesieve/session.hpp — the ManageSieve server session (RFC 5804) without I/O:
// bytes in, actions out, like imap::Session and smtp::Session. No sockets, no clock,
// no storage: script commands become ScriptRequest actions the server runs on the
// store and answers with script_result(); passwords become Authenticate actions.
// Commands: CAPABILITY, STARTTLS, AUTHENTICATE (PLAIN, with an initial response or
// a continuation; LOGIN), UNAUTHENTICATE, LOGOUT, NOOP, HAVESPACE, PUTSCRIPT, CHECKSCRIPT,
// LISTSCRIPTS, SETACTIVE, GETSCRIPT, DELETESCRIPT, RENAMESCRIPT.
// Must never: hold a literal larger than the limit that applies to it (a script
// literal over Options::max_script_bytes is skipped as it streams and answered
// NO (QUOTA/MAXSIZE); one over Limits::max_literal_skip ends the session with BYE),
// act on bytes pipelined after STARTTLS (CVE-2011-0411), accept PLAIN without TLS
// unless Options::login_without_tls, or write after Close.
// SECURITY: the first code to see an unauthenticated client; every buffer is bounded
// by Limits; auth failures and errors are counted and end the session with BYE.
//
// Literals: RFC 5804 4 has clients send "{n+}"; a client literal never gets a
// continuation in ManageSieve (Dovecot and Cyrus send none), so "{n}" is read exactly
// like "{n+}": the client sends its bytes at once and a refused literal's bytes are
// consumed (not held) so they cannot be read as commands.
//
// How the server drives it (one coroutine per connection):
//   perform(s.start());                       // capabilities + OK
//   loop: read with s.deadline(); perform(s.feed(bytes));
//   perform(actions) in order:
//     Write         -> append to the output
//     StartTls      -> flush, handshake, perform(s.tls_started())
//     Authenticate  -> perform(s.auth_result(verify(user, password)))
//     ScriptRequest -> perform(s.script_result(run on the store))   (on a pool)
//     Close         -> flush, close
//   An asynchronous action is the last of its batch; bytes fed meanwhile are buffered
//   (up to Limits::max_input_buffer, then BYE).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace refmail::managesieve {

// Checks a script (PUTSCRIPT, CHECKSCRIPT): nullopt when it is valid, else the error
// message to show the client (e.g. "3:14: unknown command"; may hold line breaks).
using Validator = std::function<std::optional<std::string>(std::string_view script)>;

struct Options {
  std::string implementation = "refmail";  // IMPLEMENTATION capability
  std::string sieve_extensions;             // SIEVE capability: space-separated names
  unsigned max_redirects = 0;               // MAXREDIRECTS; 0: not advertised
  bool tls_available = false;               // STARTTLS can be offered
  bool tls_active = false;                  // the connection is inside TLS
  bool login_without_tls = false;           // PLAIN before TLS (loopback, by config)
  std::uint64_t max_script_bytes = 256u << 10;  // [sieve] max_script_bytes
  Validator validate;                       // empty: every script is valid
};

struct Limits {
  std::size_t max_line_bytes = 8192;   // one line of a command, literals excluded; over: BYE
  std::size_t max_string_bytes = 8192;  // a literal that is not a script (names, SASL)
  std::uint64_t max_literal_skip = 16u << 20;  // a refused literal up to this is skipped; over: BYE
  unsigned max_args = 8;               // arguments of one command
  unsigned max_errors = 20;            // NO for protocol errors before BYE
  unsigned max_auth_failures = 3;      // failed AUTHENTICATEs before BYE
  unsigned max_unauthenticated_commands = 50;
  std::size_t max_input_buffer = 1u << 20;  // bytes held while an outcome is awaited
};

// ---- actions ----
enum class ScriptOp { List, Get, Put, Delete, Rename, Activate, HaveSpace };
[[nodiscard]] const char* to_string(ScriptOp op) noexcept;

// A command on the account's scripts. `name`: the script (Activate: "" deactivates);
// `new_name`: Rename's target; `content`: Put's script (already validated);
// `size_bytes`: HaveSpace's size.
struct ScriptRequest {
  ScriptOp op = ScriptOp::List;
  std::string name;
  std::string new_name;
  std::string content;
  std::uint64_t size_bytes = 0;
};

namespace action {
struct Write {
  std::string bytes;  // whole response lines (CRLF-terminated)
};
struct StartTls {};
// Check the password. SECURITY: carries a password; never log it.
struct Authenticate {
  std::string mechanism;
  std::string user;
  std::string password;
};
struct Close {};
}  // namespace action

using Action = std::variant<action::Write, action::StartTls, action::Authenticate, ScriptRequest, action::Close>;

// ---- outcomes ----
enum class AuthOutcome { Ok, Failed, Temporary };

// What the store made of a ScriptRequest (the server maps its errors to these).
enum class ScriptStatus {
  Ok,
  NonExistent,    // NO (NONEXISTENT)
  Active,         // NO (ACTIVE): deleting the active script
  AlreadyExists,  // NO (ALREADYEXISTS): rename onto a taken name
  MaxSize,        // NO (QUOTA/MAXSIZE)
  MaxScripts,     // NO (QUOTA/MAXSCRIPTS)
  Invalid,        // NO: a bad name or argument
  TryLater,       // NO (TRYLATER): the store failed
};
struct ScriptEntry {
  std::string name;
  bool active = false;
};
struct ScriptReply {
  ScriptStatus status = ScriptStatus::Ok;
  std::string text;                     // optional human text for a NO
  std::optional<std::string> content;   // Get
  std::vector<ScriptEntry> scripts;     // List
};

enum class SessionState {
  Init,              // start() not called yet
  NotAuthenticated,  // RFC 5804 1.2
  Authenticated,
  AuthContinue,      // AUTHENTICATE sent a challenge; the next line is the SASL response
  WaitAuth,          // Authenticate issued
  WaitTls,           // StartTls issued
  WaitScript,        // ScriptRequest issued
  Logout,            // Close issued
};
[[nodiscard]] const char* to_string(SessionState s) noexcept;

// The read deadline the server should apply now (the server owns the clock).
enum class Deadline { None, Unauthenticated, Authenticated, InCommand };

class Session {
 public:
  // REQUIRES: limits.max_errors >= 1, limits.max_auth_failures >= 1; implementation
  // and sieve_extensions without '"', '\\', CR, LF or NUL.
  explicit Session(Options options, Limits limits = {});

  // The capability listing and OK. REQUIRES: called once, first.
  [[nodiscard]] std::vector<Action> start();
  // Consumes received bytes (any split). Bytes fed while StartTls is pending, or after
  // Close, are discarded.
  [[nodiscard]] std::vector<Action> feed(std::string_view bytes);

  // Outcomes; each REQUIRES the matching wait state (a violation aborts).
  [[nodiscard]] std::vector<Action> auth_result(AuthOutcome outcome);
  [[nodiscard]] std::vector<Action> tls_started();
  [[nodiscard]] std::vector<Action> script_result(ScriptReply reply);

  [[nodiscard]] SessionState state() const noexcept { return state_; }
  [[nodiscard]] bool closed() const noexcept { return state_ == SessionState::Logout; }
  [[nodiscard]] bool wants_input() const noexcept;
  [[nodiscard]] Deadline deadline() const noexcept;
  [[nodiscard]] bool tls_active() const noexcept { return tls_active_; }
  // The user of the last successful AUTHENTICATE (cleared by UNAUTHENTICATE).
  [[nodiscard]] const std::optional<std::string>& user() const noexcept { return user_; }
  // The capability lines as sent now (each CRLF-terminated), without the OK.
  [[nodiscard]] std::string capabilities() const;
  // Bytes received and not yet consumed plus the current command's parts: bounded by
  // the limits (plus one feed()).
  [[nodiscard]] std::size_t held_bytes() const noexcept;

  // Called on every state change; may be empty.
  std::function<void(SessionState from, SessionState to)> on_transition;

  // A parsed argument (public for the command handlers in session_commands.cpp).
  struct Arg {
    enum Kind { Atom, String } kind = Atom;
    std::string value;
  };

 private:
  enum class Mode { Line, Literal };
  void enter_state(SessionState next);
  void run();
  void end_fragment(std::string_view fragment);
  void end_command();
  void dispatch(std::vector<Arg>& args);
  void on_sasl_response(std::vector<Arg>& args);

  // session_commands.cpp
  void cmd_capability(const std::vector<Arg>& a);
  void cmd_logout(const std::vector<Arg>& a);
  void cmd_noop(const std::vector<Arg>& a);
  void cmd_starttls(const std::vector<Arg>& a);
  void cmd_authenticate(const std::vector<Arg>& a);
  void cmd_unauthenticate(const std::vector<Arg>& a);
  void cmd_putscript(std::vector<Arg>& a);
  void cmd_checkscript(const std::vector<Arg>& a);
  void cmd_script(ScriptOp op, const std::vector<Arg>& a);
  void finish_plain(std::string_view base64);
  void login_step(std::string_view base64);
  void auth_failed(std::string_view text);

  void write(std::string bytes);
  void ok(std::string_view code, std::string_view text);
  void no(std::string_view code, std::string_view text);
  // A NO that counts toward max_errors (BYE past it).
  void error(std::string_view code, std::string_view text);
  void bye(std::string_view code, std::string_view text);
  void request(ScriptRequest r);
  [[nodiscard]] bool plaintext_allowed() const noexcept { return tls_active_ || opt_.login_without_tls; }
  [[nodiscard]] bool authenticated() const noexcept { return user_.has_value(); }

  Options opt_;
  Limits lim_;
  SessionState state_ = SessionState::Init;
  std::vector<Action> out_;
  std::string in_;       // received, not yet consumed (from pos_)
  std::size_t pos_ = 0;
  Mode mode_ = Mode::Line;
  std::string line_;     // the current line fragment
  std::vector<Arg> args_;  // the command so far
  std::size_t held_ = 0;   // bytes in args_
  std::uint64_t literal_left_ = 0;
  bool literal_keep_ = true;  // false: the literal is skipped (refused)
  // A refused part of the current command: the answer given at its end instead.
  std::optional<std::pair<std::string, std::string>> refusal_;  // code, text
  bool syntax_error_ = false;
  bool tls_active_ = false;
  std::optional<std::string> user_;
  std::string pending_user_;
  ScriptOp pending_op_ = ScriptOp::List;
  // AUTHENTICATE in progress: LOGIN (draft-murchison-sasl-login) asks for the user, then
  // the password; PLAIN takes one response.
  bool sasl_login_ = false;
  std::string login_user_;
  unsigned errors_ = 0;
  unsigned auth_failures_ = 0;
  unsigned unauth_commands_ = 0;
};

// Writes `s` as a ManageSieve string: quoted when it is short and holds no CR, LF,
// NUL, else a literal "{n}\r\n" + bytes (RFC 5804 4, literal-s2c).
[[nodiscard]] std::string quoted_or_literal(std::string_view s);

}  // namespace refmail::managesieve
