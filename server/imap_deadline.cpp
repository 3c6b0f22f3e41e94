// server/imap_deadline.cpp — see imap_deadline.hpp.
#include "server/imap_deadline.hpp"

#include "config/config.hpp"

namespace refmail::server {

ImapTimeouts imap_timeouts(const config::Limits& limits) noexcept {
  return {limits.imap_login_timeout, limits.imap_command_timeout, limits.imap_idle_timeout};
}

std::optional<std::chrono::seconds> imap_timeout(imap::Deadline kind, const ImapTimeouts& t) noexcept {
  switch (kind) {
    case imap::Deadline::None: return std::nullopt;
    case imap::Deadline::Unauthenticated: return t.login;
    case imap::Deadline::InCommand: return t.command;
    case imap::Deadline::Authenticated:
    case imap::Deadline::Idle: return t.idle;  // RFC 9051 5.4, RFC 2177: at least 30 minutes
  }
  return std::nullopt;
}

const char* imap_deadline_name(imap::Deadline kind) noexcept {
  switch (kind) {
    case imap::Deadline::None: return "none";
    case imap::Deadline::Unauthenticated: return "login";
    case imap::Deadline::InCommand: return "command";
    case imap::Deadline::Authenticated: return "autologout";
    case imap::Deadline::Idle: return "idle";
  }
  return "none";
}

std::optional<ImapReadClock::Clock::time_point> ImapReadClock::deadline(imap::Deadline kind,
                                                                         Clock::time_point now) noexcept {
  auto timeout = imap_timeout(kind, t_);
  if (!timeout) return std::nullopt;
  if (kind != last_) {
    // A command begun, finished, or IDLE entered: its own count from now, never one
    // that a previous kind's quiet time has already used up.
    if (last_ != imap::Deadline::None) turn_start_ = now;
    last_ = kind;
  }
  return turn_start_ + *timeout;
}

}  // namespace refmail::server
