// tests/unit/web/jmap_sieve_test.cpp — JMAP for Sieve Scripts (RFC 9661, web/jmap_sieve.cpp):
// the capability, SieveScript/set from uploads (create, update, destroy, activation),
// invalidSieve with line:column, the limits, /get, /query, /changes, /validate, the
// script blobs on the download endpoint, and that nothing crosses accounts.
#include "helpers.hpp"

namespace refmail::web::testing {
namespace {

constexpr const char* kSieve = "urn:ietf:params:jmap:sieve";

class JmapSieve : public WebFixture {
 protected:
  std::string upload(const std::string& user, const std::string& bytes) {
    auto r = router_->handle(req("POST", "/jmap/upload/" + acct(user) + "/", user, bytes,
                                 {{"Content-Type", "application/sieve"}}));
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(json::parse(r.body).at("blobId").as_string());
  }
  json::object call(const std::string& user, const std::string& method, json::object args) {
    args["accountId"] = acct(user);
    auto res = api(user, json::array{json::array{method, std::move(args), "c"}}).as_array();
    EXPECT_EQ(res.size(), 1u);
    return res.at(0).at(1).as_object();
  }
  std::string download(const std::string& user, const std::string& blob, int expect = 200) {
    auto r = router_->handle(req("GET", "/jmap/download/" + acct(user) + "/" + blob + "/s.sieve", user));
    EXPECT_EQ(r.status, expect);
    return expect == 200 ? drain(r) : std::string();
  }
};

TEST_F(JmapSieve, SessionAdvertisesTheCapability) {
  auto r = router_->handle(req("GET", "/.well-known/jmap"));
  ASSERT_EQ(r.status, 200);
  auto s = json::parse(r.body).as_object();
  EXPECT_TRUE(s.at("capabilities").as_object().contains(kSieve));
  EXPECT_EQ(s.at("primaryAccounts").at(kSieve).as_string(), acct("alice"));
  const auto& c = s.at("accounts").at(acct("alice")).at("accountCapabilities").at(kSieve).as_object();
  EXPECT_EQ(c.at("maxSizeScriptName").as_int64(), 128);
  EXPECT_EQ(c.at("maxSizeScript").to_number<std::uint64_t>(), cfg_.sieve.max_script_bytes);
  EXPECT_EQ(c.at("maxNumberScripts").to_number<std::uint64_t>(), cfg_.sieve.max_scripts);
  EXPECT_EQ(c.at("maxNumberRedirects").to_number<std::uint64_t>(), cfg_.sieve.max_redirects);
  EXPECT_TRUE(c.at("notificationMethods").is_null());
  EXPECT_TRUE(c.at("externalLists").is_null());
  EXPECT_EQ(c.at("implementation").as_string(), "refmail");
  std::vector<std::string> ext;
  for (const auto& e : c.at("sieveExtensions").as_array()) ext.emplace_back(e.as_string());
  EXPECT_NE(std::find(ext.begin(), ext.end(), "fileinto"), ext.end());
  EXPECT_EQ(std::find(ext.begin(), ext.end(), "editheader"), ext.end());  // not carried out
  EXPECT_EQ(std::find(ext.begin(), ext.end(), ""), ext.end());
  // "using" accepts it.
  auto a = router_->handle(req("POST", "/jmap/api", "alice",
                               R"({"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:sieve"],)"
                               R"("methodCalls":[["SieveScript/get",{"accountId":")" + acct("alice") + R"("},"g"]]})",
                               {{"Content-Type", "application/json"}}));
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_NE(a.body.find("\"SieveScript/get\""), std::string::npos);
}

TEST_F(JmapSieve, CreateActivateGetAndDownload) {
  const std::string script = "require \"fileinto\";\r\nif header :contains \"subject\" \"x\" { fileinto \"X\"; }\r\n";
  const std::string blob = upload("alice", script);
  auto set = call("alice", "SieveScript/set",
                  json::object{{"create", json::object{{"a", json::object{{"name", "main"}, {"blobId", blob}}}}},
                               {"onSuccessActivateScript", "#a"}});
  ASSERT_TRUE(set.at("created").is_object()) << json::serialize(set);
  const auto& created = set.at("created").at("a").as_object();
  const std::string id(created.at("id").as_string());
  EXPECT_TRUE(created.at("isActive").as_bool());
  EXPECT_NE(set.at("oldState"), set.at("newState"));
  // Delivery's view: the active script.
  auto active = store_->sieve_active("alice@example.test");
  ASSERT_TRUE(active && *active);
  EXPECT_EQ((*active)->name, "main");
  EXPECT_EQ((*active)->content, script);

  auto get = call("alice", "SieveScript/get", json::object{{"ids", json::array{json::value(id), "nope"}}});
  ASSERT_EQ(get.at("list").as_array().size(), 1u);
  const auto& s = get.at("list").at(0).as_object();
  EXPECT_EQ(s.at("name").as_string(), "main");
  EXPECT_TRUE(s.at("isActive").as_bool());
  EXPECT_EQ(get.at("notFound").as_array().size(), 1u);
  EXPECT_EQ(get.at("state"), set.at("newState"));
  const std::string script_blob(s.at("blobId").as_string());
  EXPECT_EQ(script_blob, created.at("blobId").as_string());
  EXPECT_EQ(download("alice", script_blob), script);  // byte for byte
  // Another account: the same 404 as any unknown blob.
  download("bob", script_blob, 404);
  EXPECT_EQ(call("bob", "SieveScript/get", json::object{}).at("list").as_array().size(), 0u);
  // alice naming bob's account.
  auto res = api("alice", json::array{json::array{"SieveScript/get", json::object{{"accountId", acct("bob")}}, "x"}});
  EXPECT_EQ(res.at(0).at(1).at("type").as_string(), "accountNotFound");
}

TEST_F(JmapSieve, InvalidScriptsAreRefusedWithLineAndColumn) {
  const std::string bad = upload("alice", "require \"fileinto\";\nfileint \"x\";\n");
  auto set = call("alice", "SieveScript/set",
                  json::object{{"create", json::object{{"a", json::object{{"name", "bad"}, {"blobId", bad}}}}}});
  ASSERT_TRUE(set.at("notCreated").is_object()) << json::serialize(set);
  const auto& e = set.at("notCreated").at("a").as_object();
  EXPECT_EQ(e.at("type").as_string(), "invalidSieve");
  EXPECT_TRUE(std::string(e.at("description").as_string()).starts_with("2:")) << e.at("description");
  EXPECT_TRUE(store_->sieve_list("alice@example.test")->empty());
  // editheader is refused as ManageSieve refuses it.
  const std::string eh = upload("alice", "require \"editheader\";\naddheader \"X\" \"y\";\n");
  auto v = call("alice", "SieveScript/validate", json::object{{"blobId", eh}});
  EXPECT_EQ(v.at("error").at("type").as_string(), "invalidSieve");
  v = call("alice", "SieveScript/validate", json::object{{"blobId", bad}});
  EXPECT_EQ(v.at("error").at("type").as_string(), "invalidSieve");
  v = call("alice", "SieveScript/validate", json::object{{"blobId", upload("alice", "keep;")}});
  EXPECT_TRUE(v.at("error").is_null());
  v = call("alice", "SieveScript/validate", json::object{{"blobId", "nosuchblob"}});
  EXPECT_EQ(v.at("error").at("type").as_string(), "blobNotFound");
  // Not UTF-8.
  v = call("alice", "SieveScript/validate", json::object{{"blobId", upload("alice", "# \xff\nkeep;")}});
  EXPECT_EQ(v.at("error").at("type").as_string(), "invalidSieve");
  // bob cannot use alice's upload.
  const std::string good = upload("alice", "discard;");
  v = call("bob", "SieveScript/validate", json::object{{"blobId", good}});
  EXPECT_EQ(v.at("error").at("type").as_string(), "blobNotFound");
  // Missing blobId, server-set and unknown properties.
  set = call("alice", "SieveScript/set",
             json::object{{"create", json::object{{"a", json::object{{"name", "x"}}},
                                                  {"b", json::object{{"blobId", good}, {"isActive", true}}},
                                                  {"c", json::object{{"blobId", good}, {"name", "a/b"}}},
                                                  {"d", json::object{{"blobId", good}, {"what", 1}}}}}});
  for (const char* k : {"a", "b", "c", "d"}) {
    EXPECT_EQ(set.at("notCreated").at(k).at("type").as_string(), "invalidProperties") << k;
  }
}

TEST_F(JmapSieve, DestroyActiveRefusedThenDeactivateAndDestroy) {
  const std::string blob = upload("alice", "keep;");
  auto set = call("alice", "SieveScript/set",
                  json::object{{"create", json::object{{"a", json::object{{"name", "one"}, {"blobId", blob}}},
                                                       {"b", json::object{{"name", "two"}, {"blobId", blob}}}}},
                               {"onSuccessActivateScript", "#a"}});
  const std::string one(set.at("created").at("a").at("id").as_string());
  const std::string two(set.at("created").at("b").at("id").as_string());
  EXPECT_FALSE(set.at("created").at("b").at("isActive").as_bool());
  auto d = call("alice", "SieveScript/set", json::object{{"destroy", json::array{json::value(one)}}});
  EXPECT_EQ(d.at("notDestroyed").at(one).at("type").as_string(), "sieveIsActive");
  // A failed change means no activation change (RFC 9661: only if all succeed).
  d = call("alice", "SieveScript/set",
           json::object{{"destroy", json::array{json::value(one)}}, {"onSuccessActivateScript", two}});
  EXPECT_TRUE(d.at("updated").is_null());
  EXPECT_EQ((*store_->sieve_active("alice@example.test"))->name, "one");
  // Switch the active script: both reported in updated.
  d = call("alice", "SieveScript/set", json::object{{"onSuccessActivateScript", two}});
  EXPECT_FALSE(d.at("updated").at(one).at("isActive").as_bool());
  EXPECT_TRUE(d.at("updated").at(two).at("isActive").as_bool());
  d = call("alice", "SieveScript/set", json::object{{"onSuccessDeactivateScript", true}});
  EXPECT_FALSE(d.at("updated").at(two).at("isActive").as_bool());
  EXPECT_FALSE(*store_->sieve_active("alice@example.test"));
  d = call("alice", "SieveScript/set", json::object{{"destroy", json::array{json::value(one), json::value(two), "zz"}}});
  EXPECT_EQ(d.at("destroyed").as_array().size(), 2u);
  EXPECT_EQ(d.at("notDestroyed").at("zz").at("type").as_string(), "notFound");
  EXPECT_TRUE(store_->sieve_list("alice@example.test")->empty());
}

TEST_F(JmapSieve, UpdateKeepsTheIdAndChangesTheBlob) {
  const std::string v1 = "keep;", v2 = "discard;";
  auto set = call("alice", "SieveScript/set",
                  json::object{{"create", json::object{{"a", json::object{{"name", "one"}, {"blobId", upload("alice", v1)}}},
                                                       {"b", json::object{{"name", "two"}, {"blobId", upload("alice", v1)}}}}},
                               {"onSuccessActivateScript", "#a"}});
  const std::string id(set.at("created").at("a").at("id").as_string());
  const std::string old_blob(set.at("created").at("a").at("blobId").as_string());
  auto u = call("alice", "SieveScript/set",
                json::object{{"update", json::object{{id, json::object{{"name", "uno"}, {"blobId", upload("alice", v2)}}}}}});
  ASSERT_TRUE(u.at("updated").is_object()) << json::serialize(u);
  const std::string new_blob(u.at("updated").at(id).at("blobId").as_string());
  EXPECT_NE(new_blob, old_blob);
  EXPECT_EQ(download("alice", new_blob), v2);
  download("alice", old_blob, 404);  // a blob is immutable: the old content is gone
  auto g = call("alice", "SieveScript/get", json::object{{"ids", json::array{json::value(id)}}});
  EXPECT_EQ(g.at("list").at(0).at("name").as_string(), "uno");
  EXPECT_TRUE(g.at("list").at(0).at("isActive").as_bool());  // the rename kept it active
  auto active = store_->sieve_active("alice@example.test");
  EXPECT_EQ((*active)->name, "uno");
  EXPECT_EQ((*active)->content, v2);
  // Name clashes on update and create.
  u = call("alice", "SieveScript/set", json::object{{"update", json::object{{id, json::object{{"name", "two"}}}}}});
  EXPECT_EQ(u.at("notUpdated").at(id).at("type").as_string(), "alreadyExists");
  u = call("alice", "SieveScript/set",
           json::object{{"create", json::object{{"c", json::object{{"name", "uno"}, {"blobId", new_blob}}}}}});
  EXPECT_EQ(u.at("notCreated").at("c").at("type").as_string(), "alreadyExists");
  EXPECT_EQ(u.at("notCreated").at("c").at("existingId").as_string(), id);
  // isActive cannot be set directly; a name of null is given a free one on create.
  u = call("alice", "SieveScript/set", json::object{{"update", json::object{{id, json::object{{"isActive", false}}}}}});
  EXPECT_EQ(u.at("notUpdated").at(id).at("type").as_string(), "invalidProperties");
  u = call("alice", "SieveScript/set",
           json::object{{"create", json::object{{"n", json::object{{"name", nullptr}, {"blobId", new_blob}}}}}});
  EXPECT_EQ(u.at("created").at("n").at("name").as_string(), "script-1");
  // Copying a script's own blob into the new one kept the bytes.
  EXPECT_EQ(**store_->sieve_get("alice@example.test", "script-1"), v2);
}

TEST_F(JmapSieve, LimitsAnswerTooLargeAndOverQuota) {
  cfg_.sieve.max_scripts = 1;
  cfg_.sieve.max_script_bytes = 64;
  auto set = call("alice", "SieveScript/set",
                  json::object{{"create", json::object{{"a", json::object{{"name", "one"}, {"blobId", upload("alice", "keep;")}}},
                                                       {"b", json::object{{"name", "two"}, {"blobId", upload("alice", "stop;")}}},
                                                       {"c", json::object{{"name", "big"},
                                                                          {"blobId", upload("alice", std::string(65, '#'))}}}}}});
  EXPECT_TRUE(set.at("created").as_object().contains("a"));
  EXPECT_EQ(set.at("notCreated").at("b").at("type").as_string(), "overQuota");
  EXPECT_EQ(set.at("notCreated").at("c").at("type").as_string(), "tooLarge");
}

TEST_F(JmapSieve, QueryChangesAndState) {
  const std::string blob = upload("alice", "keep;");
  auto set = call("alice", "SieveScript/set",
                  json::object{{"create", json::object{{"a", json::object{{"name", "b-work"}, {"blobId", blob}}},
                                                       {"b", json::object{{"name", "a-home"}, {"blobId", blob}}},
                                                       {"c", json::object{{"name", "c-Work-2"}, {"blobId", blob}}}}},
                               {"onSuccessActivateScript", "#c"}});
  auto id = [&](const char* c) { return std::string(set.at("created").at(c).at("id").as_string()); };
  auto q = call("alice", "SieveScript/query", json::object{{"calculateTotal", true}});
  ASSERT_EQ(q.at("ids").as_array().size(), 3u);
  EXPECT_EQ(q.at("ids").at(0).as_string(), id("b"));  // name order by default
  EXPECT_EQ(q.at("total").as_int64(), 3);
  q = call("alice", "SieveScript/query",
           json::object{{"filter", json::object{{"name", "work"}}},
                        {"sort", json::array{json::object{{"property", "name"}, {"isAscending", false}}}}});
  ASSERT_EQ(q.at("ids").as_array().size(), 2u);
  EXPECT_EQ(q.at("ids").at(0).as_string(), id("c"));
  EXPECT_EQ(q.at("ids").at(1).as_string(), id("a"));
  q = call("alice", "SieveScript/query", json::object{{"filter", json::object{{"isActive", true}}}});
  ASSERT_EQ(q.at("ids").as_array().size(), 1u);
  EXPECT_EQ(q.at("ids").at(0).as_string(), id("c"));
  q = call("alice", "SieveScript/query",
           json::object{{"filter", json::object{{"operator", "NOT"},
                                                {"conditions", json::array{json::object{{"isActive", true}}}}}},
                        {"sort", json::array{json::object{{"property", "isActive"}}, json::object{{"property", "name"}}}},
                        {"position", 1}});
  ASSERT_EQ(q.at("ids").as_array().size(), 1u);
  EXPECT_EQ(q.at("ids").at(0).as_string(), id("a"));
  auto res = api("alice", json::array{
      json::array{"SieveScript/query", json::object{{"accountId", acct("alice")}, {"filter", json::object{{"size", 1}}}}, "f"},
      json::array{"SieveScript/query", json::object{{"accountId", acct("alice")},
                                                    {"sort", json::array{json::object{{"property", "size"}}}}}, "s"}});
  EXPECT_EQ(res.at(0).at(1).at("type").as_string(), "unsupportedFilter");
  EXPECT_EQ(res.at(1).at(1).at("type").as_string(), "unsupportedSort");

  // The state follows every change; /changes answers only from the current state.
  const std::string state(call("alice", "SieveScript/get", json::object{}).at("state").as_string());
  EXPECT_EQ(state, set.at("newState").as_string());
  auto c = call("alice", "SieveScript/changes", json::object{{"sinceState", state}});
  EXPECT_EQ(c.at("newState").as_string(), state);
  EXPECT_TRUE(c.at("created").as_array().empty());
  c = call("alice", "SieveScript/changes", json::object{{"sinceState", set.at("oldState")}});
  EXPECT_EQ(c.at("type").as_string(), "cannotCalculateChanges");
  // A change made over ManageSieve (the store) changes the state too.
  ASSERT_TRUE(store_->sieve_put("alice@example.test", "b-work", "discard;", storage::SieveLimits{}));
  EXPECT_NE(call("alice", "SieveScript/get", json::object{}).at("state").as_string(), state);
  auto m = call("alice", "SieveScript/set",
                json::object{{"ifInState", state}, {"destroy", json::array{json::value(id("a"))}}});
  EXPECT_EQ(m.at("type").as_string(), "stateMismatch");
}

}  // namespace
}  // namespace refmail::web::testing
