// server/imap_deadline.hpp — when an IMAP client's next read must be complete: the
// deadline kind imap::Session::deadline() names, the configured timeout for it
// ([limits] imap_*_timeout), and the moment the count starts. Pure (no sockets, no
// clock of its own: `now` is passed in), so the rules are unit tests
// (tests/unit/server/imap_deadline_test.cpp).
// Rules: the count starts at our last answer to the client (bytes the client drips do
// not extend it, as for SMTP commands), or when the kind changes (a command begun after
// a long quiet spell gets the whole command timeout). Untagged updates sent while the
// client IDLEs are not answers: they do not postpone the autologout (RFC 9051 5.4).
// Must never: give a deadline while the session awaits an outcome (Deadline::None).
#pragma once
#include <chrono>
#include <optional>

#include "imap/session.hpp"

namespace refmail::config {
struct Limits;
}

namespace refmail::server {

struct ImapTimeouts {
  std::chrono::seconds login{60};     // Deadline::Unauthenticated
  std::chrono::seconds command{60};   // Deadline::InCommand
  std::chrono::seconds idle{1800};    // Deadline::Authenticated and Deadline::Idle
};

// [limits] imap_login_timeout, imap_command_timeout and imap_idle_timeout: the IMAP
// listeners' and ManageSieve's.
[[nodiscard]] ImapTimeouts imap_timeouts(const config::Limits& limits) noexcept;

// The timeout of a deadline kind; nullopt for Deadline::None.
[[nodiscard]] std::optional<std::chrono::seconds> imap_timeout(imap::Deadline kind, const ImapTimeouts& t) noexcept;
// The kind's name in logs and metric labels: "login", "command", "autologout", "idle", "none".
[[nodiscard]] const char* imap_deadline_name(imap::Deadline kind) noexcept;

class ImapReadClock {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ImapReadClock(ImapTimeouts t, Clock::time_point start) : t_(t), turn_start_(start) {}

  // We answered the client (a reply to its command, the greeting) at `now`.
  void answered(Clock::time_point now) noexcept { turn_start_ = now; }
  // The time by which the read for `kind` must complete, or nullopt (Deadline::None).
  // A kind different from the last one asked for (None is not remembered) restarts
  // the count at `now`.
  [[nodiscard]] std::optional<Clock::time_point> deadline(imap::Deadline kind, Clock::time_point now) noexcept;

 private:
  ImapTimeouts t_;
  Clock::time_point turn_start_;
  imap::Deadline last_ = imap::Deadline::None;
};

}  // namespace refmail::server
