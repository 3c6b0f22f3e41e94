// web/auth.hpp — who is asking: HTTP Basic (RFC 7617) against the store's accounts,
// accepted only over TLS or from a loopback peer, and browser sessions (POST
// /api/login sets an HttpOnly, SameSite=Strict cookie, Secure under TLS; POST
// /api/logout ends it). Sessions are kept in memory and persisted in the store by
// SHA-256 of the token (Store::put_session), so they survive a daemon restart; the
// idle expiry slides in memory and is re-persisted once half the lifetime is used.
// Successful Basic credentials are cached for a short time
// (keyed by a SHA-256 of the header, never the password) because argon2id costs
// ~0.1 s per check and JMAP clients send many requests.
// SECURITY: failed logins are throttled by auth::Throttle per source address and per
// (address, account): server/ waits out the delay and verifies before the handler runs
// (Request::checked_password); without it (tests, embedders) a throttled attempt gets
// 429 + Retry-After before any password check. No account is ever locked; a state-changing request authenticated by
// cookie needs "Content-Type: application/json" or the session's X-CSRF-Token
// (a form post from another site can send neither); session tokens are 256-bit
// random; nothing here logs a password or a token. Thread-safe.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "auth/throttle.hpp"
#include "web/http.hpp"

namespace refmail::storage {
class Store;
}

namespace refmail::web {

struct AuthOptions {
  std::chrono::seconds basic_cache_ttl{60};
  std::chrono::seconds session_ttl{12 * 3600};  // idle lifetime of a cookie session
  // The guessing throttle, shared with server/ (every protocol that checks passwords
  // counts in the same table); one with default options is made when null.
  std::shared_ptr<auth::Throttle> throttle;
  std::size_t max_cache_entries = 10000;        // Basic cache and sessions each
  std::string cookie_name = "refmail_session";
};

// Credentials a request carries that need a password check (argon2id).
struct PasswordAttempt {
  std::string user;
  std::string password;
};

class Auth {
 public:
  Auth(storage::Store& store, AuthOptions options = {});

  // The HTTP Basic credentials of `req` when they would be verified (TLS or loopback,
  // well-formed, not in the success cache); nullopt otherwise.
  [[nodiscard]] std::optional<PasswordAttempt> basic_attempt(const Request& req);
  // The username and password of a well-formed POST /api/login body.
  [[nodiscard]] std::optional<PasswordAttempt> login_attempt(const Request& req) const;

  // The canonical account of the request's credentials; or nullopt with `err` set to
  // the answer (401 with WWW-Authenticate, 403 for Basic over plain TCP from a
  // non-loopback peer or a cookie request without CSRF proof, 429 when throttled, 503
  // when the verification queue is full; both with Retry-After).
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
  // The account for `user`/`password`: server/'s verdict when it checked this user
  // already, else the throttle then a (slow) verification here. On failure `err` is the
  // answer (401 from `unauthorized`, 429, 503).
  std::optional<std::string> check_password(const Request& req, const std::string& user,
                                            const std::string& password, Response& err);
  std::string cookie_token(const Request& req) const;
  // The session of a token: the in-memory cache, else the store (then cached).
  std::optional<Session> find_session(const std::string& token);

  storage::Store& store_;
  AuthOptions opt_;
  std::mutex mu_;
  std::unordered_map<std::string, Cached> basic_cache_;  // sha256(header) -> account
  std::unordered_map<std::string, Session> sessions_;    // token -> session
  Clock::time_point last_purge_{};                       // expired stored sessions purged
};

}  // namespace refmail::web
