// web/auth.hpp — who is asking: HTTP Basic (RFC 7617) against the store's accounts,
// accepted only over TLS or from a loopback peer, and browser sessions (POST
// /api/login sets an HttpOnly, SameSite=Strict cookie, Secure under TLS; POST
// /api/logout ends it). Sessions are kept in memory and persisted in the store by
// SHA-256 of the token (Store::put_session), so they survive a daemon restart; the
// idle expiry slides in memory and is re-persisted once half the lifetime is used.
// Successful Basic credentials are cached for a short time
// (keyed by a SHA-256 of the header, never the password) because argon2id costs
// ~0.1 s per check and JMAP clients send many requests.
// SECURITY: failed logins are rate-limited per IP and per account (429 before any
// password check once over the limit); a state-changing request authenticated by
// cookie needs "Content-Type: application/json" or the session's X-CSRF-Token
// (a form post from another site can send neither); session tokens are 256-bit
// random; nothing here logs a password or a token. Thread-safe.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "web/http.hpp"

namespace refmail::storage {
class Store;
}

namespace refmail::web {

struct AuthOptions {
  std::chrono::seconds basic_cache_ttl{60};
  std::chrono::seconds session_ttl{12 * 3600};  // idle lifetime of a cookie session
  std::uint32_t max_failures_per_ip = 20;       // within failure_window
  std::uint32_t max_failures_per_account = 10;  // within failure_window
  std::chrono::seconds failure_window{600};
  std::size_t max_cache_entries = 10000;        // Basic cache and sessions each
  std::string cookie_name = "refmail_session";
};

class Auth {
 public:
  Auth(storage::Store& store, AuthOptions options = {}) : store_(store), opt_(options) {}

  // The canonical account of the request's credentials; or nullopt with `err` set to
  // the answer (401 with WWW-Authenticate, 403 for Basic over plain TCP from a
  // non-loopback peer or a cookie request without CSRF proof, 429 when rate-limited).
  [[nodiscard]] std::optional<std::string> authenticate(const Request& req, Response& err);

  // POST /api/login {"username","password"} -> 200 {"account","csrfToken"} + Set-Cookie.
  [[nodiscard]] Response login(const Request& req);
  // POST /api/logout: forgets the cookie's session, expires the cookie.
  [[nodiscard]] Response logout(const Request& req);

 private:
  using Clock = std::chrono::steady_clock;
  struct Cached {
    std::string account;
    Clock::time_point expires;
  };
  struct Session {
    std::string account;
    std::string csrf;
    Clock::time_point expires;
    std::int64_t stored_expires = 0;  // unix seconds of the persisted expiry
  };
  struct Failures {
    std::uint32_t count = 0;
    Clock::time_point window_start;
  };
  // Verifies a password (or says the IP/account is rate-limited: status 429).
  std::optional<std::string> check_password(const std::string& ip, const std::string& user,
                                            const std::string& password, int& status);
  bool limited(const std::string& key, std::uint32_t max, Clock::time_point now);
  void record_failure(const std::string& key, Clock::time_point now);
  std::string cookie_token(const Request& req) const;
  // The session of a token: the in-memory cache, else the store (then cached).
  std::optional<Session> find_session(const std::string& token);

  storage::Store& store_;
  AuthOptions opt_;
  std::mutex mu_;
  std::unordered_map<std::string, Cached> basic_cache_;  // sha256(header) -> account
  std::unordered_map<std::string, Session> sessions_;    // token -> session
  std::unordered_map<std::string, Failures> failures_;   // "ip:.." / "acct:.." -> count
  Clock::time_point last_purge_{};                       // expired stored sessions purged
};

}  // namespace refmail::web
