// tests/unit/web/auth_test.cpp — HTTP Basic (loopback/TLS only, cached), cookie
// sessions with CSRF proof, the guessing throttle (per address and per (address,
// account); never an account lock) and server/'s pre-checked passwords.
#include "helpers.hpp"

namespace refmail::web::testing {
namespace {

using WebAuth = WebFixture;

TEST_F(WebAuth, BasicFromLoopbackOnly) {
  auto ok = router_->handle(req("GET", "/.well-known/jmap"));
  EXPECT_EQ(ok.status, 200) << ok.body;
  auto none = router_->handle(req("GET", "/.well-known/jmap", ""));
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(header(none, "WWW-Authenticate").find("Basic"), std::string::npos);
  auto remote = req("GET", "/.well-known/jmap");
  remote.peer = "192.0.2.7:5000";
  EXPECT_EQ(router_->handle(remote).status, 403);
  remote.tls = true;
  EXPECT_EQ(router_->handle(remote).status, 200);
  auto bad = req("GET", "/.well-known/jmap", "");
  bad.headers.emplace_back("Authorization", "Basic " + b64("alice@example.test:wrong"));
  EXPECT_EQ(router_->handle(bad).status, 401);
  auto garbage = req("GET", "/.well-known/jmap", "");
  garbage.headers.emplace_back("Authorization", "Basic !!!not-base64");
  EXPECT_EQ(router_->handle(garbage).status, 401);
}

TEST_F(WebAuth, FailedLoginsAreThrottledPerAddressNeverPerAccount) {
  auto basic = [&](const std::string& user, const std::string& pw, const std::string& ip) {
    auto r = req("GET", "/.well-known/jmap", "");
    r.peer = ip + ":1";
    r.tls = true;
    r.headers.emplace_back("Authorization", "Basic " + b64(user + "@example.test:" + pw));
    return router_->handle(r);
  };
  // 3 free failures for bob from one address, then that (address, account) must wait.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(basic("bob", "nope", "10.0.0.1").status, 401);
  auto throttled = basic("bob", "nope", "10.0.0.1");
  EXPECT_EQ(throttled.status, 429);
  EXPECT_FALSE(header(throttled, "Retry-After").empty());
  // The account is not locked: bob's right password from another address works at once
  // (before this change, 10 failures anywhere locked bob out everywhere).
  EXPECT_EQ(basic("bob", "bob-pw", "10.0.0.2").status, 200);
  // Per address: 5 failures over several accounts make the address wait.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(basic("nobody" + std::to_string(i), "x", "10.9.9.9").status, 401);
  EXPECT_EQ(basic("someone", "x", "10.9.9.9").status, 429);
  // Alice from loopback is unaffected.
  EXPECT_EQ(router_->handle(req("GET", "/.well-known/jmap")).status, 200);
}

TEST_F(WebAuth, PasswordCheckedByTheServerIsUsedAsIs) {
  auto with = [&](std::string user, auth::Outcome outcome, std::string account = {}) {
    auto r = req("GET", "/.well-known/jmap", "");
    r.headers.emplace_back("Authorization", "Basic " + b64(user + ":not-the-password"));
    EXPECT_TRUE(router_->password_attempt(r));  // a route that authenticates, not cached
    r.checked_password = Request::CheckedPassword{user, auth::Verdict{outcome, account, std::chrono::seconds(7)}};
    return router_->handle(r);
  };
  // Ok: no second verification (the header's password is wrong on purpose).
  EXPECT_EQ(with("alice@example.test", auth::Outcome::Ok, "alice@example.test").status, 200);
  EXPECT_EQ(with("bob@example.test", auth::Outcome::Bad).status, 401);
  auto busy = with("bob@example.test", auth::Outcome::Busy);
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(header(busy, "Retry-After"), "7");
  EXPECT_EQ(with("bob@example.test", auth::Outcome::Throttled).status, 429);
  // A verdict for another user is ignored: the header's own credentials are checked.
  auto r = req("GET", "/.well-known/jmap", "");
  r.headers.emplace_back("Authorization", "Basic " + b64("bob@example.test:wrong"));
  r.checked_password = Request::CheckedPassword{"alice@example.test", auth::Verdict{auth::Outcome::Ok, "alice@example.test", {}}};
  EXPECT_EQ(router_->handle(r).status, 401);
  // Routes that do not authenticate carry no attempt; nor does a cached header.
  auto stat = req("GET", "/healthz", "");
  stat.headers.emplace_back("Authorization", "Basic " + b64("bob@example.test:x"));
  EXPECT_FALSE(router_->password_attempt(stat));
  auto ok = req("GET", "/.well-known/jmap");
  EXPECT_TRUE(router_->password_attempt(ok));
  ASSERT_EQ(router_->handle(ok).status, 200);
  EXPECT_FALSE(router_->password_attempt(ok));  // cached after the success
  auto login = req("POST", "/api/login", "", R"({"username":"u@example.test","password":"p"})",
                   {{"Content-Type", "application/json"}});
  auto attempt = router_->password_attempt(login);
  ASSERT_TRUE(attempt);
  EXPECT_EQ(attempt->user, "u@example.test");
  EXPECT_EQ(attempt->password, "p");
}

TEST_F(WebAuth, CookieSessionNeedsJsonOrCsrfForChanges) {
  auto login = req("POST", "/api/login", "", R"({"username":"alice@example.test","password":"alice-pw"})",
                   {{"Content-Type", "application/json"}});
  auto r = router_->handle(login);
  ASSERT_EQ(r.status, 200) << r.body;
  std::string cookie = header(r, "Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_EQ(cookie.find("Secure"), std::string::npos);  // plain loopback
  std::string token = cookie.substr(0, cookie.find(';'));
  std::string csrf(json::parse(r.body).at("csrfToken").as_string());

  auto get = req("GET", "/.well-known/jmap", "", "", {{"Cookie", token}});
  EXPECT_EQ(router_->handle(get).status, 200);
  // A cross-site form post: no JSON type, no token.
  auto form = req("POST", "/jmap/upload/" + acct("alice") + "/", "", "data",
                  {{"Cookie", token}, {"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(router_->handle(form).status, 403);
  form.headers.emplace_back("X-CSRF-Token", csrf);
  EXPECT_EQ(router_->handle(form).status, 201);
  // Logout ends it.
  auto out = router_->handle(req("POST", "/api/logout", "", "{}", {{"Cookie", token}, {"Content-Type", "application/json"}}));
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(router_->handle(get).status, 401);
  // Secure under TLS; bad password 401; wrong content type 415.
  login.tls = true;
  EXPECT_NE(header(router_->handle(login), "Set-Cookie").find("Secure"), std::string::npos);
  auto wrong = req("POST", "/api/login", "", R"({"username":"alice@example.test","password":"x"})",
                   {{"Content-Type", "application/json"}});
  EXPECT_EQ(router_->handle(wrong).status, 401);
  auto form_login = req("POST", "/api/login", "", "username=a&password=b", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(router_->handle(form_login).status, 415);
}

}  // namespace
}  // namespace refmail::web::testing
