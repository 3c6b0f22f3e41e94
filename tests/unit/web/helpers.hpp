// tests/unit/web/helpers.hpp — a temporary store with users, a delivered message,
// and request/response helpers for the web handlers (no sockets).
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

#include <boost/json.hpp>

#include "config/config.hpp"
#include "storage/store.hpp"
#include "store_setup.hpp"
#include "web/router.hpp"

namespace refmail::web::testing {

namespace json = boost::json;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("refmail-web-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(g());
  return s;
}

class WebFixture : public ::testing::Test {
 public:
  void SetUp() override {
    open_store();
    ASSERT_TRUE(store_->add_domain("example.test"));
    for (const char* u : {"alice", "bob", "carol"}) {
      ASSERT_TRUE(store_->add_user(std::string(u) + "@example.test", std::string(u) + "-pw", std::string(u) == "carol"));
    }
    make_router();
  }

  void open_store() {
    auto s = open_test_store(dir_.path() / "data");
    ASSERT_TRUE(s);
    store_ = std::move(*s);
  }

  void make_router() {
    AuthOptions ao;
    auth::ThrottleOptions to;
    to.free_failures_per_account = 3;
    to.free_failures_per_address = 5;
    ao.throttle = std::make_shared<auth::Throttle>(to);
    router_ = std::make_unique<Router>(*store_, cfg_, nullptr, ao);
  }

  // A daemon restart: router and store closed, the store reopened, a new router.
  void restart() {
    router_.reset();
    reference_router_.reset();
    store_.reset();
    open_store();
    make_router();
  }

  // Delivers `raw` to the accounts' INBOXes; returns the message id.
  std::string deliver(const std::string& raw, std::vector<std::string> to,
                      std::optional<storage::UnixSeconds> internal_date = std::nullopt) {
    std::string id = deliver_message(*store_, raw, to, internal_date);
    EXPECT_FALSE(id.empty());
    return id;
  }

  Request req(std::string method, std::string target, std::string user = "alice", std::string body = {},
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.peer = "127.0.0.1:40000";
    r.headers = std::move(headers);
    if (!user.empty()) r.headers.emplace_back("Authorization", "Basic " + b64(user + "@example.test:" + user + "-pw"));
    return r;
  }

  static std::string drain(Response& r) {
    if (!r.stream) return r.body;
    std::string out;
    std::vector<char> buf(64 * 1024);
    for (;;) {
      auto n = r.stream->read(buf);
      EXPECT_TRUE(n);
      if (!n || *n == 0) break;
      out.append(buf.data(), *n);
    }
    EXPECT_EQ(out.size(), r.stream->size());
    return out;
  }

  json::value api(const std::string& user, json::array calls) { return api_of(*router_, user, std::move(calls)); }

  // The same request answered without the mailbox index's views: every Email/query
  // filters and sorts the account's rows in memory (the reference for the indexed paths).
  json::value reference_api(const std::string& user, json::array calls) {
    if (!reference_router_) {
      JmapLimits limits;
      limits.query_in_memory = true;
      reference_router_ = std::make_unique<Router>(*store_, cfg_, nullptr, AuthOptions{}, limits);
    }
    return api_of(*reference_router_, user, std::move(calls));
  }

  json::value api_of(Router& router, const std::string& user, json::array calls) {
    json::object body{{"using", json::array{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
                                            "urn:ietf:params:jmap:submission"}},
                      {"methodCalls", std::move(calls)}};
    auto r = router.handle(req("POST", "/jmap/api", user, json::serialize(body), {{"Content-Type", "application/json"}}));
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body).at("methodResponses");
  }

  static std::string acct(const std::string& user) { return account_id_for(user + "@example.test"); }

  std::string header(const Response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return {};
  }

  TempDir dir_;
  config::Config cfg_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<Router> reference_router_;  // reference_api's
};

}  // namespace refmail::web::testing
