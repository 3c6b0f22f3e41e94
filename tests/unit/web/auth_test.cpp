// tests/unit/web/auth_test.cpp — HTTP Basic (loopback/TLS only, cached), cookie
// sessions with CSRF proof, rate limiting per account and per IP.
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

TEST_F(WebAuth, FailedLoginsAreRateLimitedPerAccountAndIp) {
  auto bad = [&](const std::string& user, const std::string& ip) {
    auto r = req("GET", "/.well-known/jmap", "");
    r.peer = ip + ":1";
    r.tls = true;
    r.headers.emplace_back("Authorization", "Basic " + b64(user + "@example.test:nope"));
    return router_->handle(r).status;
  };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bad("bob", "10.0.0." + std::to_string(i + 1)), 401);
  EXPECT_EQ(bad("bob", "10.0.0.9"), 429);  // the account is locked, from any IP
  // Even the right password is refused while locked.
  auto good = req("GET", "/.well-known/jmap", "bob");
  EXPECT_EQ(router_->handle(good).status, 429);
  // Per IP: 5 failures over several accounts lock the IP.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(bad("nobody" + std::to_string(i), "10.9.9.9"), 401);
  EXPECT_EQ(bad("someone", "10.9.9.9"), 429);
  // Alice from loopback is unaffected.
  EXPECT_EQ(router_->handle(req("GET", "/.well-known/jmap")).status, 200);
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
