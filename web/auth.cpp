// web/auth.cpp — see auth.hpp.
#include "web/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>

#include <boost/json.hpp>

#include "storage/store.hpp"

namespace refmail::web {
namespace {

namespace json = boost::json;

std::string to_hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s.push_back(digits[p[i] >> 4]);
    s.push_back(digits[p[i] & 15]);
  }
  return s;
}

std::string sha256_hex(std::string_view s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  return to_hex(d, sizeof d);
}

storage::Sha256 token_hash(std::string_view token) {
  storage::Sha256 h{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), h.data());
  return h;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

storage::UnixSeconds unix_seconds(std::int64_t s) { return storage::UnixSeconds(std::chrono::seconds(s)); }

std::string random_token() {
  unsigned char b[32];
  if (RAND_bytes(b, sizeof b) != 1) std::abort();  // no CSPRNG: nothing safe to do
  return to_hex(b, sizeof b);
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0 || in.size() > 4096) return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

// A login body is a user name and a password; parsed on the io thread by login_attempt.
constexpr std::size_t kMaxLoginBody = 64 * 1024;

Response unauthorized(std::string_view why) {
  Response r = error_response(401, why);
  r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"refmail\", charset=\"UTF-8\"");
  return r;
}

bool state_changing(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

}  // namespace

Auth::Auth(storage::Store& store, AuthOptions options) : store_(store), opt_(std::move(options)) {
  if (!opt_.throttle) opt_.throttle = std::make_shared<auth::Throttle>();
}

std::optional<std::string> Auth::check_password(const Request& req, const std::string& user,
                                                const std::string& password, Response& err) {
  auto answer = [&](const auth::Verdict& v) -> std::optional<std::string> {
    switch (v.outcome) {
      case auth::Outcome::Ok:
        return v.account;
      case auth::Outcome::Bad:
        err = unauthorized("bad credentials");
        return std::nullopt;
      case auth::Outcome::Throttled:
        err = error_response(429, "too many failed logins from this address; try again later");
        break;
      case auth::Outcome::Busy:
        err = error_response(503, "too many password checks in progress; try again later");
        break;
    }
    err.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(1, v.retry_after.count())));
    return std::nullopt;
  };
  if (req.checked_password && req.checked_password->user == user) return answer(req.checked_password->verdict);
  // Nobody checked it before the handler: the throttle cannot be waited out here (this
  // runs on a pool thread), so a throttled attempt is answered 429 at once.
  const std::string ip = req.peer_ip();
  auto adm = opt_.throttle->admit(ip, user, Clock::now());
  if (adm.at > Clock::now() || adm.refused) {
    auto wait = std::chrono::ceil<std::chrono::seconds>(adm.refused ? adm.retry_after : adm.at - Clock::now());
    return answer(auth::Verdict{auth::Outcome::Throttled, {}, wait});
  }
  auto r = store_.verify_password(user, password);  // slow (argon2id): no lock held
  if (r) {
    opt_.throttle->success(ip, user, Clock::now());
    return answer(auth::Verdict{auth::Outcome::Ok, *r, {}});
  }
  opt_.throttle->failure(ip, user, Clock::now());
  return answer(auth::Verdict{auth::Outcome::Bad, {}, {}});
}

std::optional<PasswordAttempt> Auth::basic_attempt(const Request& req) {
  std::string_view authz = req.header("Authorization");
  if (authz.size() <= 6 || (authz.substr(0, 6) != "Basic " && authz.substr(0, 6) != "basic ")) return std::nullopt;
  if (!req.tls && !req.peer_is_loopback()) return std::nullopt;
  {
    std::lock_guard lock(mu_);
    auto it = basic_cache_.find(sha256_hex(authz));
    if (it != basic_cache_.end() && it->second.expires > Clock::now()) return std::nullopt;
  }
  auto decoded = base64_decode(authz.substr(6));
  auto colon = decoded ? decoded->find(':') : std::string::npos;
  if (!decoded || colon == std::string::npos) return std::nullopt;
  return PasswordAttempt{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::optional<PasswordAttempt> Auth::login_attempt(const Request& req) const {
  if (req.method != "POST" || (!req.tls && !req.peer_is_loopback())) return std::nullopt;
  if (req.body.size() > kMaxLoginBody) return std::nullopt;
  if (req.header("Content-Type").substr(0, 16) != "application/json") return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* u = o ? o->if_contains("username") : nullptr;
  const json::value* p = o ? o->if_contains("password") : nullptr;
  if (!u || !p || !u->is_string() || !p->is_string()) return std::nullopt;
  return PasswordAttempt{std::string(u->as_string()), std::string(p->as_string())};
}

std::string Auth::cookie_token(const Request& req) const {
  std::string_view cookies = req.header("Cookie");
  while (!cookies.empty()) {
    auto semi = cookies.find(';');
    std::string_view c = cookies.substr(0, semi);
    while (!c.empty() && c.front() == ' ') c.remove_prefix(1);
    auto eq = c.find('=');
    if (eq != std::string_view::npos && c.substr(0, eq) == opt_.cookie_name) return std::string(c.substr(eq + 1));
    if (semi == std::string_view::npos) break;
    cookies.remove_prefix(semi + 1);
  }
  return {};
}

std::optional<Auth::Session> Auth::find_session(const std::string& token) {
  auto now = Clock::now();
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(token);
    if (it != sessions_.end()) {
      if (it->second.expires > now) return it->second;
      sessions_.erase(it);
      return std::nullopt;
    }
  }
  // Not cached (e.g. after a restart): the store, outside the lock.
  auto stored = store_.get_session(token_hash(token), unix_seconds(unix_now()));
  if (!stored || !*stored) return std::nullopt;
  const auto& rec = **stored;
  const auto left = rec.expires.time_since_epoch().count() - unix_now();
  Session s{rec.account, rec.csrf, now + std::chrono::seconds(std::max<std::int64_t>(0, left)),
            rec.expires.time_since_epoch().count()};
  std::lock_guard lock(mu_);
  if (sessions_.size() >= opt_.max_cache_entries) {
    std::erase_if(sessions_, [&](const auto& kv) { return kv.second.expires <= now; });
  }
  if (sessions_.size() < opt_.max_cache_entries) sessions_[token] = s;
  return s;
}

std::optional<std::string> Auth::authenticate(const Request& req, Response& err) {
  std::string_view authz = req.header("Authorization");
  if (authz.size() > 6 && (authz.substr(0, 6) == "Basic " || authz.substr(0, 6) == "basic ")) {
    if (!req.tls && !req.peer_is_loopback()) {
      err = error_response(403, "HTTP Basic authentication needs TLS");
      return std::nullopt;
    }
    std::string key = sha256_hex(authz);
    auto now = Clock::now();
    {
      std::lock_guard lock(mu_);
      auto it = basic_cache_.find(key);
      if (it != basic_cache_.end()) {
        if (it->second.expires > now) return it->second.account;
        basic_cache_.erase(it);
      }
    }
    auto decoded = base64_decode(authz.substr(6));
    auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (!decoded || colon == std::string::npos) {
      err = unauthorized("malformed Basic credentials");
      return std::nullopt;
    }
    auto account = check_password(req, decoded->substr(0, colon), decoded->substr(colon + 1), err);
    if (!account) return std::nullopt;
    std::lock_guard lock(mu_);
    if (basic_cache_.size() >= opt_.max_cache_entries) basic_cache_.clear();
    basic_cache_[key] = Cached{*account, Clock::now() + opt_.basic_cache_ttl};
    return account;
  }
  std::string token = cookie_token(req);
  if (!token.empty()) {
    auto session = find_session(token);
    if (!session) {
      err = unauthorized("the session has expired");
      return std::nullopt;
    }
    if (state_changing(req.method)) {
      // A cross-site form can send neither a JSON content type nor our header.
      std::string_view ct = req.header("Content-Type");
      bool json_type = ct.substr(0, 16) == "application/json";
      std::string_view csrf = req.header("X-CSRF-Token");
      bool csrf_ok = csrf.size() == session->csrf.size() &&
                     CRYPTO_memcmp(csrf.data(), session->csrf.data(), csrf.size()) == 0;
      if (!json_type && !csrf_ok) {
        err = error_response(403, "a cookie request that changes state needs a JSON body or X-CSRF-Token");
        return std::nullopt;
      }
    }
    // Sliding idle expiry: in memory at every use; in the store once half of the
    // persisted lifetime is used (one write per session_ttl/2 at most).
    const auto now_unix = unix_now();
    const auto ttl = static_cast<std::int64_t>(opt_.session_ttl.count());
    bool persist = session->stored_expires - now_unix < ttl / 2;
    {
      std::lock_guard lock(mu_);
      auto it = sessions_.find(token);
      if (it != sessions_.end()) {
        it->second.expires = Clock::now() + opt_.session_ttl;
        if (persist) it->second.stored_expires = now_unix + ttl;
      }
    }
    if (persist) {
      (void)store_.put_session(token_hash(token),
                               storage::SessionRecord{session->account, session->csrf, unix_seconds(now_unix + ttl)});
    }
    return session->account;
  }
  err = unauthorized("authentication required");
  return std::nullopt;
}

Response Auth::login(const Request& req) {
  if (req.method != "POST") return error_response(405, "use POST");
  if (!req.tls && !req.peer_is_loopback()) return error_response(403, "log in over TLS");
  if (req.header("Content-Type").substr(0, 16) != "application/json") {
    return error_response(415, "the login body must be application/json");
  }
  if (req.body.size() > kMaxLoginBody) return error_response(413, "the login body is too large");
  auto attempt = login_attempt(req);
  if (!attempt) return error_response(400, "{\"username\", \"password\"} expected");
  Response err;
  auto account = check_password(req, attempt->user, attempt->password, err);
  if (!account) {
    if (err.status == 401) return error_response(401, "bad credentials");  // no Basic challenge for the form
    return err;
  }
  std::string token = random_token(), csrf = random_token();
  {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    if (sessions_.size() >= opt_.max_cache_entries) {
      std::erase_if(sessions_, [&](const auto& kv) { return kv.second.expires <= now; });
    }
    if (sessions_.size() >= opt_.max_cache_entries) return error_response(503, "too many sessions");
    sessions_[token] = Session{*account, csrf, now + opt_.session_ttl, unix_now() + opt_.session_ttl.count()};
  }
  auto stored = store_.put_session(token_hash(token), storage::SessionRecord{*account, csrf,
                                                                             unix_seconds(unix_now() + opt_.session_ttl.count())});
  if (!stored) {
    std::lock_guard lock(mu_);
    sessions_.erase(token);
    return error_response(503, "cannot store the session");
  }
  bool purge = false;
  {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    if (now - last_purge_ > std::chrono::hours(1)) {
      last_purge_ = now;
      purge = true;
    }
  }
  if (purge) (void)store_.purge_sessions(unix_seconds(unix_now()));  // lazily, at most hourly
  Response r;
  r.body = json::serialize(json::object{{"account", *account}, {"csrfToken", csrf}});
  std::string cookie = opt_.cookie_name + "=" + token + "; Path=/; HttpOnly; SameSite=Strict";
  if (req.tls) cookie += "; Secure";
  r.headers.emplace_back("Set-Cookie", cookie);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Response Auth::logout(const Request& req) {
  if (req.method != "POST") return error_response(405, "use POST");
  Response err;
  std::string token = cookie_token(req);
  if (token.empty()) return unauthorized("no session");
  if (!authenticate(req, err)) return err;
  {
    std::lock_guard lock(mu_);
    sessions_.erase(token);
  }
  (void)store_.delete_session(token_hash(token));
  Response r;
  r.body = "{}";
  r.headers.emplace_back("Set-Cookie", opt_.cookie_name + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" +
                                           std::string(req.tls ? "; Secure" : ""));
  return r;
}

}  // namespace refmail::web
