// tests/unit/web/jmap_core_test.cpp — RFC 8620 request handling: session resource,
// batches with back-references, request-level problems and method errors, limits.
#include "helpers.hpp"

namespace refmail::web::testing {
namespace {

using JmapCore = WebFixture;

TEST_F(JmapCore, SessionResource) {
  auto r = router_->handle(req("GET", "/.well-known/jmap"));
  ASSERT_EQ(r.status, 200);
  auto s = json::parse(r.body).as_object();
  EXPECT_TRUE(s.at("capabilities").as_object().contains("urn:ietf:params:jmap:mail"));
  EXPECT_TRUE(s.at("capabilities").as_object().contains("urn:ietf:params:jmap:submission"));
  EXPECT_EQ(s.at("primaryAccounts").at("urn:ietf:params:jmap:mail").as_string(), acct("alice"));
  EXPECT_EQ(s.at("downloadUrl").as_string(), "/jmap/download/{accountId}/{blobId}/{name}?accept={type}");
  EXPECT_EQ(s.at("uploadUrl").as_string(), "/jmap/upload/{accountId}/");
  EXPECT_TRUE(s.contains("eventSourceUrl"));
  // The vendor admin capability only for admin accounts (carol is one in the fixture).
  EXPECT_FALSE(s.at("capabilities").as_object().contains("urn:refmail:params:admin"));
  auto c = router_->handle(req("GET", "/.well-known/jmap", "carol"));
  ASSERT_EQ(c.status, 200);
  EXPECT_TRUE(json::parse(c.body).at("capabilities").as_object().contains("urn:refmail:params:admin"));
  EXPECT_EQ(*account_from_id(acct("alice")), "alice@example.test");
  EXPECT_FALSE(account_from_id("Azz"));
}

TEST_F(JmapCore, EchoAndBackReferences) {
  deliver(mime_with_attachment("hello", random_bytes(5000, 1)), {"alice@example.test"});
  auto res = api("alice", json::array{
      json::array{"Core/echo", json::object{{"x", 1}}, "e"},
      json::array{"Email/query", json::object{{"accountId", acct("alice")}}, "q"},
      json::array{"Email/get", json::object{{"accountId", acct("alice")},
                                            {"#ids", json::object{{"resultOf", "q"}, {"name", "Email/query"}, {"path", "/ids"}}},
                                            {"properties", json::array{"subject", "threadId"}}}, "g"},
      json::array{"Thread/get", json::object{{"accountId", acct("alice")},
                                             {"#ids", json::object{{"resultOf", "g"}, {"name", "Email/get"}, {"path", "/list/*/threadId"}}}}, "t"},
      json::array{"Email/get", json::object{{"accountId", acct("alice")},
                                            {"#ids", json::object{{"resultOf", "nothing"}, {"name", "Email/query"}, {"path", "/ids"}}}}, "bad"},
      json::array{"Email/get", json::object{{"accountId", acct("alice")},
                                            {"#ids", json::object{{"resultOf", "q"}, {"name", "Email/query"}, {"path", "/nope"}}}}, "bad2"},
  }).as_array();
  ASSERT_EQ(res.size(), 6u);
  EXPECT_EQ(res[0].at(1).at("x").as_int64(), 1);
  EXPECT_EQ(res[2].at(1).at("list").as_array().size(), 1u);
  EXPECT_EQ(res[2].at(1).at("list").at(0).at("subject").as_string(), "hello");
  EXPECT_EQ(res[3].at(1).at("list").as_array().size(), 1u);
  EXPECT_EQ(res[4].at(0).as_string(), "error");
  EXPECT_EQ(res[4].at(1).at("type").as_string(), "invalidResultReference");
  EXPECT_EQ(res[5].at(1).at("type").as_string(), "invalidResultReference");
}

TEST_F(JmapCore, MethodErrors) {
  auto res = api("alice", json::array{
      json::array{"Nope/get", json::object{}, "a"},
      json::array{"Email/get", json::object{{"accountId", acct("bob")}}, "b"},
      json::array{"Email/query", json::object{{"accountId", acct("alice")}, {"filter", json::object{{"weird", 1}}}}, "c"},
      json::array{"Email/query", json::object{{"accountId", acct("alice")}, {"sort", json::array{json::object{{"property", "weird"}}}}}, "d"},
      json::array{"Email/changes", json::object{{"accountId", acct("alice")}, {"sinceState", "nope"}}, "e"},
  }).as_array();
  EXPECT_EQ(res[0].at(1).at("type").as_string(), "unknownMethod");
  EXPECT_EQ(res[1].at(1).at("type").as_string(), "accountNotFound");
  EXPECT_EQ(res[2].at(1).at("type").as_string(), "unsupportedFilter");
  EXPECT_EQ(res[3].at(1).at("type").as_string(), "unsupportedSort");
  EXPECT_EQ(res[4].at(1).at("type").as_string(), "cannotCalculateChanges");
}

TEST_F(JmapCore, RequestLevelProblems) {
  auto post = [&](std::string body) {
    return router_->handle(req("POST", "/jmap/api", "alice", std::move(body), {{"Content-Type", "application/json"}}));
  };
  auto r = post("{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("urn:ietf:params:jmap:error:notJSON"), std::string::npos);
  r = post(R"({"using":[]})");
  EXPECT_NE(r.body.find("notRequest"), std::string::npos);
  r = post(R"({"using":["urn:x:unknown"],"methodCalls":[]})");
  EXPECT_NE(r.body.find("unknownCapability"), std::string::npos);
  r = post(R"({"using":[],"methodCalls":[["Core/echo",{},"a","extra"]]})");
  EXPECT_NE(r.body.find("notRequest"), std::string::npos);
  std::string many = R"({"using":["urn:ietf:params:jmap:core"],"methodCalls":[)";
  for (int i = 0; i < 10000; ++i) many += std::string(i ? "," : "") + R"(["Core/echo",{},"c"])";
  many += "]}";
  r = post(many);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("maxCallsInRequest"), std::string::npos);
  r = post(std::string(11 << 20, ' '));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("maxSizeRequest"), std::string::npos);
  EXPECT_EQ(router_->handle(req("GET", "/jmap/api")).status, 405);
}

// A result referenced twice per call doubles at every call (2^63 times the first one
// after 64 calls): what references substitute into a request is bounded by
// maxSizeRequest, like the request itself.
TEST_F(JmapCore, ResultReferencesCannotAmplifyARequest) {
  json::array calls{json::array{"Core/echo", json::object{{"s", std::string(100000, 'x')}}, "e0"}};
  for (int i = 1; i <= 8; ++i) {
    json::object ref{{"resultOf", "e" + std::to_string(i - 1)}, {"name", "Core/echo"}, {"path", ""}};
    calls.push_back(json::array{"Core/echo", json::object{{"#a", ref}, {"#b", ref}}, "e" + std::to_string(i)});
  }
  auto res = api("alice", calls).as_array();
  ASSERT_EQ(res.size(), 9u);
  // e5 substitutes 2 x 1.6 MB (6.2 MB in all so far); e6 would bring it to 12.6 MB > 10 MiB.
  EXPECT_EQ(res[5].at(0).as_string(), "Core/echo");
  EXPECT_EQ(res[6].at(0).as_string(), "error");
  EXPECT_EQ(res[6].at(1).at("type").as_string(), "requestTooLarge");
  EXPECT_EQ(res[7].at(1).at("type").as_string(), "invalidResultReference");
  EXPECT_LT(json::serialize(res).size(), 10u << 20);
}

}  // namespace
}  // namespace refmail::web::testing
