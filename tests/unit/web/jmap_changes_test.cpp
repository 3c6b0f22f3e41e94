// tests/unit/web/jmap_changes_test.cpp — Email/Mailbox/Thread changes from the store's
// change log (created, updated, destroyed, maxChanges paging, updatedProperties,
// expired and malformed states), threads (a reply shares its parent's thread,
// Thread/get order, collapseThreads) and a cookie session that survives a restart.
#include <map>
#include <set>

#include "helpers.hpp"

namespace refmail::web::testing {
namespace {

using JmapChanges = WebFixture;

std::string plain(const std::string& id, const std::string& subject, const std::string& in_reply_to = "") {
  std::string m = "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: " + subject +
                  "\r\nMessage-ID: <" + id + ">\r\n";
  if (!in_reply_to.empty()) m += "In-Reply-To: <" + in_reply_to + ">\r\nReferences: <" + in_reply_to + ">\r\n";
  return m + "\r\nhello\r\n";
}

std::set<std::string> strings(const json::value& v) {
  std::set<std::string> out;
  if (v.is_array())
    for (const auto& x : v.as_array()) out.emplace(x.as_string());
  return out;
}

TEST_F(JmapChanges, EmailChangesCreatedUpdatedDestroyed) {
  auto state = [&] {
    auto r = api("alice", json::array{json::array{"Email/get", json::object{{"accountId", acct("alice")}, {"ids", json::array{}}}, "g"}});
    return std::string(r.at(0).at(1).at("state").as_string());
  };
  auto changes = [&](const std::string& since, std::int64_t max = 0) {
    json::object args{{"accountId", acct("alice")}, {"sinceState", since}};
    if (max > 0) args["maxChanges"] = max;
    return api("alice", json::array{json::array{"Email/changes", args, "c"}}).at(0);
  };
  std::string s0 = state();
  std::string a = deliver(plain("a@x", "one"), {"alice@example.test"});
  std::string b = deliver(plain("b@x", "two"), {"alice@example.test"});
  auto c = changes(s0);
  ASSERT_EQ(c.at(0).as_string(), "Email/changes") << json::serialize(c);
  EXPECT_EQ(strings(c.at(1).at("created")), (std::set<std::string>{a, b}));
  EXPECT_TRUE(c.at(1).at("updated").as_array().empty());
  EXPECT_EQ(c.at(1).at("newState").as_string(), state());
  EXPECT_FALSE(c.at(1).at("hasMoreChanges").as_bool());

  // $seen -> updated; destroy -> destroyed; created and destroyed since s0 -> destroyed only.
  std::string s1 = state();
  auto set = api("alice", json::array{json::array{
      "Email/set", json::object{{"accountId", acct("alice")}, {"update", json::object{{a, json::object{{"keywords/$seen", true}}}}}},
      "s"}});
  ASSERT_TRUE(set.at(0).at(1).at("updated").is_object()) << json::serialize(set);
  c = changes(s1);
  EXPECT_EQ(strings(c.at(1).at("updated")), std::set<std::string>{a});
  EXPECT_TRUE(c.at(1).at("created").as_array().empty());
  std::string s2 = state();
  api("alice", json::array{json::array{"Email/set", json::object{{"accountId", acct("alice")}, {"destroy", json::array{b}}}, "d"}});
  c = changes(s2);
  EXPECT_EQ(strings(c.at(1).at("destroyed")), std::set<std::string>{b});
  c = changes(s0);
  EXPECT_EQ(strings(c.at(1).at("created")), std::set<std::string>{a});
  EXPECT_EQ(strings(c.at(1).at("destroyed")), std::set<std::string>{b});
  EXPECT_TRUE(c.at(1).at("updated").as_array().empty());

  // maxChanges pages: one email per page here.
  c = changes(s0, 1);
  EXPECT_TRUE(c.at(1).at("hasMoreChanges").as_bool());
  EXPECT_EQ(c.at(1).at("created").as_array().size() + c.at(1).at("updated").as_array().size() +
                c.at(1).at("destroyed").as_array().size(),
            1u);
  std::string next(c.at(1).at("newState").as_string());
  EXPECT_NE(next, state());
  std::set<std::string> all;
  for (int i = 0; i < 10; ++i) {
    c = changes(next, 1);
    for (const char* k : {"created", "updated", "destroyed"})
      for (const auto& id : strings(c.at(1).at(k))) all.insert(id);
    next = std::string(c.at(1).at("newState").as_string());
    if (!c.at(1).at("hasMoreChanges").as_bool()) break;
  }
  EXPECT_EQ(next, state());
  EXPECT_TRUE(all.count(b));

  // Bad, future and garbage states; queryChanges.
  EXPECT_EQ(changes("nope").at(1).at("type").as_string(), "cannotCalculateChanges");
  EXPECT_EQ(changes("999999").at(1).at("type").as_string(), "cannotCalculateChanges");
  auto bad_max = api("alice", json::array{json::array{
      "Email/changes", json::object{{"accountId", acct("alice")}, {"sinceState", s0}, {"maxChanges", 0}}, "c"}});
  EXPECT_EQ(bad_max.at(0).at(1).at("type").as_string(), "invalidArguments");
  auto qc = api("alice", json::array{json::array{
      "Email/queryChanges", json::object{{"accountId", acct("alice")}, {"sinceQueryState", "nope"}}, "q"}});
  EXPECT_EQ(qc.at(0).at(1).at("type").as_string(), "cannotCalculateChanges");
  qc = api("alice", json::array{json::array{
      "Email/queryChanges", json::object{{"accountId", acct("alice")}, {"sinceQueryState", "999999"}}, "q"}});
  EXPECT_EQ(qc.at(0).at(1).at("type").as_string(), "cannotCalculateChanges");
}

// Email/queryChanges (RFC 8620 5.6) checked the way a client uses it: for each query form,
// the old results with `removed` taken out and `added` put in at their indexes equal the
// results of the same query run now, after deliveries, replies, flag changes, moves and
// destroys. Also maxChanges (tooManyChanges), upToId and calculateTotal.
TEST_F(JmapChanges, QueryChangesRebuildTheCurrentResults) {
  auto boxes = api("alice", json::array{json::array{"Mailbox/get", json::object{{"accountId", acct("alice")}}, "m"}});
  std::string inbox, archive;
  for (const auto& b : boxes.at(0).at(1).at("list").as_array()) {
    if (b.at("role") == "inbox") inbox = std::string(b.at("id").as_string());
    if (b.at("role") == "archive") archive = std::string(b.at("id").as_string());
  }
  ASSERT_FALSE(inbox.empty());
  ASSERT_FALSE(archive.empty());
  auto date = [](std::int64_t t) { return storage::UnixSeconds(std::chrono::seconds(1'700'000'000 + t)); };
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) {
    const std::string mid = "q" + std::to_string(i) + "@x";
    ids.push_back(deliver(plain(mid, "s" + std::to_string(i), i % 3 == 1 ? "q" + std::to_string(i - 1) + "@x" : ""),
                          {"alice@example.test"}, date(i * 10)));
  }
  // Query forms: the mailbox view (either order, collapsed or not) and the filtered path.
  std::vector<json::object> forms;
  for (bool collapse : {false, true}) {
    for (bool asc : {false, true}) {
      forms.push_back(json::object{{"filter", json::object{{"inMailbox", inbox}}},
                                   {"sort", json::array{json::object{{"property", "receivedAt"}, {"isAscending", asc}}}},
                                   {"collapseThreads", collapse}});
    }
    forms.push_back(json::object{{"filter", json::object{{"inMailbox", inbox}, {"notKeyword", "$seen"}}},
                                 {"collapseThreads", collapse}});
    forms.push_back(json::object{{"sort", json::array{json::object{{"property", "size"}}}}, {"collapseThreads", collapse}});
  }
  auto query = [&](json::object form) {
    form["accountId"] = acct("alice");
    auto r = api("alice", json::array{json::array{"Email/query", form, "q"}}).at(0);
    EXPECT_EQ(r.at(0).as_string(), "Email/query") << json::serialize(r);
    EXPECT_TRUE(r.at(1).at("canCalculateChanges").as_bool());
    std::vector<std::string> out;
    for (const auto& id : r.at(1).at("ids").as_array()) out.emplace_back(id.as_string());
    return std::make_pair(std::string(r.at(1).at("queryState").as_string()), out);
  };
  auto query_changes = [&](json::object form, const std::string& since) {
    form["accountId"] = acct("alice");
    form["sinceQueryState"] = since;
    form["calculateTotal"] = true;
    return api("alice", json::array{json::array{"Email/queryChanges", form, "qc"}}).at(0);
  };
  std::vector<std::pair<std::string, std::vector<std::string>>> before;
  for (const auto& f : forms) before.push_back(query(f));

  // Changes of every kind.
  auto set = [&](json::object args) {
    args["accountId"] = acct("alice");
    auto r = api("alice", json::array{json::array{"Email/set", args, "s"}}).at(0);
    EXPECT_EQ(r.at(0).as_string(), "Email/set") << json::serialize(r);
  };
  set(json::object{{"update", json::object{{ids[2], json::object{{"keywords/$seen", true}}},
                                            {ids[5], json::object{{"keywords/$seen", true}}}}}});
  set(json::object{{"update", json::object{{ids[7], json::object{{"mailboxIds", json::object{{archive, true}}}}}}}});
  set(json::object{{"destroy", json::array{ids[9], ids[0]}}});
  ids.push_back(deliver(plain("new@x", "new"), {"alice@example.test"}, date(500)));
  ids.push_back(deliver(plain("reply@x", "re", "q3@x"), {"alice@example.test"}, date(600)));
  ids.push_back(deliver(plain("old@x", "old"), {"alice@example.test"}, date(-5)));

  for (std::size_t f = 0; f < forms.size(); ++f) {
    const auto& [state, old_ids] = before[f];
    auto now = query(forms[f]).second;
    auto qc = query_changes(forms[f], state);
    ASSERT_EQ(qc.at(0).as_string(), "Email/queryChanges") << json::serialize(qc);
    const auto& res = qc.at(1).as_object();
    EXPECT_EQ(res.at("oldQueryState").as_string(), state);
    EXPECT_EQ(res.at("total").as_int64(), static_cast<std::int64_t>(now.size()));
    std::set<std::string> removed = strings(res.at("removed"));
    std::vector<std::string> rebuilt;
    for (const auto& id : old_ids)
      if (!removed.count(id)) rebuilt.push_back(id);
    std::vector<std::pair<std::int64_t, std::string>> added;
    for (const auto& a : res.at("added").as_array())
      added.emplace_back(a.at("index").as_int64(), std::string(a.at("id").as_string()));
    std::sort(added.begin(), added.end());
    for (const auto& [index, id] : added) {
      ASSERT_LE(index, static_cast<std::int64_t>(rebuilt.size())) << json::serialize(forms[f]);
      rebuilt.insert(rebuilt.begin() + index, id);
    }
    EXPECT_EQ(rebuilt, now) << json::serialize(forms[f]) << " -> " << json::serialize(qc);
    // Nothing changed since the new state: nothing removed or added.
    auto again = query_changes(forms[f], std::string(res.at("newQueryState").as_string()));
    EXPECT_TRUE(again.at(1).at("removed").as_array().empty()) << json::serialize(again);
    EXPECT_TRUE(again.at(1).at("added").as_array().empty()) << json::serialize(again);
  }

  // maxChanges below the number of changed emails: tooManyChanges.
  auto limited = forms[0];
  limited["maxChanges"] = 2;
  EXPECT_EQ(query_changes(limited, before[0].first).at(1).at("type").as_string(), "tooManyChanges");
  // upToId: nothing is added after the client's last cached id (newest first, so the
  // oldest delivered email "old@x" lies beyond the first result).
  auto upto = forms[0];
  upto["upToId"] = query(forms[0]).second.front();
  auto cut = query_changes(upto, before[0].first);
  for (const auto& a : cut.at(1).at("added").as_array()) EXPECT_EQ(a.at("index").as_int64(), 0) << json::serialize(cut);
}

TEST_F(JmapChanges, MailboxChangesReportCountsOnly) {
  auto mstate = [&] {
    auto r = api("alice", json::array{json::array{"Mailbox/get", json::object{{"accountId", acct("alice")}}, "m"}});
    return std::string(r.at(0).at(1).at("state").as_string());
  };
  auto mchanges = [&](const std::string& since) {
    return api("alice", json::array{json::array{"Mailbox/changes",
                                                json::object{{"accountId", acct("alice")}, {"sinceState", since}}, "c"}})
        .at(0)
        .at(1);
  };
  std::string s0 = mstate();
  deliver(plain("c@x", "three"), {"alice@example.test"});
  auto c = mchanges(s0);
  ASSERT_EQ(c.at("updated").as_array().size(), 1u) << json::serialize(c);
  ASSERT_TRUE(c.at("updatedProperties").is_array());
  EXPECT_EQ(strings(c.at("updatedProperties")).count("unreadEmails"), 1u);
  std::string s1 = mstate();
  auto created = api("alice", json::array{json::array{
      "Mailbox/set", json::object{{"accountId", acct("alice")}, {"create", json::object{{"k", json::object{{"name", "Work"}}}}}}, "s"}});
  std::string work(created.at(0).at(1).at("created").at("k").at("id").as_string());
  c = mchanges(s1);
  EXPECT_EQ(strings(c.at("created")), std::set<std::string>{work});
  std::string s2 = mstate();
  api("alice", json::array{json::array{
      "Mailbox/set", json::object{{"accountId", acct("alice")}, {"update", json::object{{work, json::object{{"name", "Jobs"}}}}}}, "s"}});
  c = mchanges(s2);
  EXPECT_EQ(strings(c.at("updated")), std::set<std::string>{work});
  EXPECT_TRUE(c.at("updatedProperties").is_null());
  std::string s3 = mstate();
  api("alice", json::array{json::array{"Mailbox/set", json::object{{"accountId", acct("alice")}, {"destroy", json::array{work}}}, "s"}});
  c = mchanges(s3);
  EXPECT_EQ(strings(c.at("destroyed")), std::set<std::string>{work});
}

TEST_F(JmapChanges, IsSubscribedIsStoredAndSharedWithImap) {
  auto subscribed = [&](const std::string& id) {
    auto r = api("alice", json::array{json::array{
        "Mailbox/get", json::object{{"accountId", acct("alice")}, {"ids", json::array{id.c_str()}},
                                    {"properties", json::array{"isSubscribed"}}}, "g"}});
    return r.at(0).at(1).at("list").at(0).at("isSubscribed").as_bool();
  };
  auto created = api("alice", json::array{json::array{
      "Mailbox/set", json::object{{"accountId", acct("alice")},
                                  {"create", json::object{{"a", json::object{{"name", "Quiet"}, {"isSubscribed", false}}},
                                                          {"b", json::object{{"name", "Loud"}}}}}}, "s"}});
  std::string quiet(created.at(0).at(1).at("created").at("a").at("id").as_string());
  std::string loud(created.at(0).at(1).at("created").at("b").at("id").as_string());
  EXPECT_FALSE(subscribed(quiet));
  EXPECT_TRUE(subscribed(loud));
  // Renamed and unsubscribed in one update: both stick, in either order of properties.
  auto r = api("alice", json::array{json::array{
      "Mailbox/set", json::object{{"accountId", acct("alice")},
                                  {"update", json::object{{loud, json::object{{"name", "Louder"}, {"isSubscribed", false}}},
                                                          {quiet, json::object{{"isSubscribed", true}}}}}}, "s"}});
  EXPECT_EQ(r.at(0).at(1).at("updated").as_object().size(), 2u) << json::serialize(r);
  EXPECT_FALSE(subscribed(loud));
  EXPECT_TRUE(subscribed(quiet));
  auto boxes = store_->list_mailboxes("alice@example.test");
  ASSERT_TRUE(boxes);
  std::map<std::string, bool> by_name;
  for (const auto& b : *boxes) by_name[b.name] = b.subscribed;
  EXPECT_EQ(by_name.count("Louder"), 1u);
  EXPECT_FALSE(by_name["Louder"]);
  EXPECT_TRUE(by_name["Quiet"]);
  EXPECT_TRUE(by_name["INBOX"]);
}

TEST_F(JmapChanges, RepliesShareAThread) {
  std::string root = deliver(plain("root@x", "plan"), {"alice@example.test"});
  std::string other = deliver(plain("other@x", "unrelated"), {"alice@example.test"});
  auto ts = api("alice", json::array{json::array{"Thread/get", json::object{{"accountId", acct("alice")}, {"ids", json::array{}}}, "t"}});
  std::string tstate(ts.at(0).at(1).at("state").as_string());
  std::string reply = deliver(plain("reply@x", "Re: plan", "root@x"), {"alice@example.test"});
  auto r = api("alice", json::array{json::array{"Email/get", json::object{{"accountId", acct("alice")},
                                                                          {"ids", json::array{root, reply, other}},
                                                                          {"properties", json::array{"threadId"}}}, "g"}});
  auto list = r.at(0).at(1).at("list").as_array();
  ASSERT_EQ(list.size(), 3u);
  std::string t_root(list[0].at("threadId").as_string());
  EXPECT_EQ(t_root, "T" + root);
  EXPECT_EQ(list[1].at("threadId").as_string(), t_root);
  EXPECT_NE(list[2].at("threadId").as_string(), t_root);
  auto t = api("alice", json::array{json::array{"Thread/get", json::object{{"accountId", acct("alice")}, {"ids", json::array{t_root}}}, "t"}});
  auto ids = t.at(0).at(1).at("list").at(0).at("emailIds").as_array();
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(strings(ids), (std::set<std::string>{root, reply}));  // same second: order by id
  // Unknown and malformed thread ids are not found; the others still answer.
  t = api("alice", json::array{json::array{"Thread/get", json::object{{"accountId", acct("alice")},
                                                                      {"ids", json::array{"Tnope", t_root, "bogus", "T"}}}, "t"}});
  EXPECT_EQ(t.at(0).at(1).at("list").as_array().size(), 1u);
  EXPECT_EQ(strings(t.at(0).at(1).at("notFound")), (std::set<std::string>{"Tnope", "bogus", "T"}));
  auto tc = api("alice", json::array{json::array{"Thread/changes", json::object{{"accountId", acct("alice")}, {"sinceState", tstate}}, "c"}});
  EXPECT_EQ(strings(tc.at(0).at(1).at("updated")), std::set<std::string>{t_root});
  // A thread whose last email goes is destroyed; one that keeps an email is updated.
  tstate = std::string(tc.at(0).at(1).at("newState").as_string());
  std::string lone = deliver(plain("lone@x", "alone"), {"alice@example.test"});
  api("alice", json::array{json::array{"Email/set", json::object{{"accountId", acct("alice")},
                                                                  {"destroy", json::array{lone, reply}}}, "d"}});
  tc = api("alice", json::array{json::array{"Thread/changes", json::object{{"accountId", acct("alice")}, {"sinceState", tstate}}, "c"}});
  EXPECT_EQ(strings(tc.at(0).at(1).at("updated")), std::set<std::string>{t_root}) << json::serialize(tc);
  EXPECT_TRUE(strings(tc.at(0).at(1).at("created")).empty()) << json::serialize(tc);  // created and gone
  EXPECT_EQ(strings(tc.at(0).at(1).at("destroyed")), std::set<std::string>{"T" + lone}) << json::serialize(tc);
  reply = deliver(plain("reply@x", "Re: plan", "root@x"), {"alice@example.test"});
  // collapseThreads: one email per thread.
  auto q = api("alice", json::array{json::array{"Email/query", json::object{{"accountId", acct("alice")}, {"collapseThreads", true}}, "q"}});
  EXPECT_EQ(q.at(0).at(1).at("ids").as_array().size(), 2u);
  q = api("alice", json::array{json::array{"Email/query", json::object{{"accountId", acct("alice")}}, "q"}});
  EXPECT_EQ(q.at(0).at(1).at("ids").as_array().size(), 3u);
  // A reply created through JMAP with inReplyTo joins the thread too.
  auto boxes = api("alice", json::array{json::array{"Mailbox/get", json::object{{"accountId", acct("alice")}}, "m"}});
  std::string drafts;
  for (const auto& b : boxes.at(0).at(1).at("list").as_array()) {
    if (b.at("role") == "drafts") drafts = std::string(b.at("id").as_string());
    if (b.at("role") == "inbox") {
      EXPECT_EQ(b.at("totalEmails").to_number<int>(), 3);
      EXPECT_EQ(b.at("totalThreads").to_number<int>(), 2);  // root + reply share one
      EXPECT_EQ(b.at("unreadThreads").to_number<int>(), 2);
    }
  }
  auto created = api("alice", json::array{json::array{
      "Email/set",
      json::object{{"accountId", acct("alice")},
                   {"create", json::object{{"d", json::object{{"mailboxIds", json::object{{drafts, true}}},
                                                             {"to", json::array{json::object{{"email", "bob@example.test"}}}},
                                                             {"subject", "Re: plan"},
                                                             {"inReplyTo", json::array{"reply@x"}},
                                                             {"references", json::array{"root@x", "reply@x"}}}}}}},
      "s"}});
  auto d = created.at(0).at(1).at("created").at("d");
  EXPECT_EQ(d.at("threadId").as_string(), t_root) << json::serialize(created);
}

TEST_F(JmapChanges, CookieSessionSurvivesARestart) {
  auto login = req("POST", "/api/login", "", R"({"username":"alice@example.test","password":"alice-pw"})",
                   {{"Content-Type", "application/json"}});
  auto r = router_->handle(login);
  ASSERT_EQ(r.status, 200) << r.body;
  std::string cookie = header(r, "Set-Cookie");
  std::string token = cookie.substr(0, cookie.find(';'));
  std::string csrf(json::parse(r.body).at("csrfToken").as_string());
  restart();
  auto get = req("GET", "/.well-known/jmap", "", "", {{"Cookie", token}});
  EXPECT_EQ(router_->handle(get).status, 200);
  // The CSRF token came back with it.
  auto form = req("POST", "/jmap/upload/" + acct("alice") + "/", "", "data",
                  {{"Cookie", token}, {"Content-Type", "application/octet-stream"}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(router_->handle(form).status, 201);
  // Logout removes it from the store too: gone after another restart.
  auto out = router_->handle(req("POST", "/api/logout", "", "{}", {{"Cookie", token}, {"Content-Type", "application/json"}}));
  EXPECT_EQ(out.status, 200);
  restart();
  EXPECT_EQ(router_->handle(get).status, 401);
  auto forged = req("GET", "/.well-known/jmap", "", "", {{"Cookie", "refmail_session=" + std::string(64, 'a')}});
  EXPECT_EQ(router_->handle(forged).status, 401);
}

// Without ids, Email/get and Thread/get answer every email and thread of the account
// (each email once, also when it is in two mailboxes), and requestTooLarge past
// maxObjectsInGet (1000) instead of reading on.
TEST_F(JmapChanges, GetWithoutIdsAnswersAllOrRequestTooLarge) {
  std::string root = deliver(plain("root@x", "plan"), {"alice@example.test"});
  std::string reply = deliver(plain("reply@x", "Re: plan", "root@x"), {"alice@example.test"});
  std::string other = deliver(plain("other@x", "other"), {"alice@example.test"});
  ASSERT_TRUE(store_->copy_row("alice@example.test", "INBOX", 1, "Archive", /*move=*/false));
  auto get_all = [&](const char* method) {
    return api("alice", json::array{json::array{method, json::object{{"accountId", acct("alice")}, {"ids", nullptr}}, "g"}})
        .at(0);
  };
  auto e = get_all("Email/get");
  ASSERT_EQ(e.at(0).as_string(), "Email/get") << json::serialize(e);
  std::set<std::string> ids;
  for (const auto& m : e.at(1).at("list").as_array()) ids.emplace(m.at("id").as_string());
  EXPECT_EQ(e.at(1).at("list").as_array().size(), 3u);
  EXPECT_EQ(ids, (std::set<std::string>{root, reply, other}));
  auto t = get_all("Thread/get");
  ASSERT_EQ(t.at(0).as_string(), "Thread/get") << json::serialize(t);
  std::map<std::string, std::size_t> sizes;
  for (const auto& x : t.at(1).at("list").as_array()) sizes[std::string(x.at("id").as_string())] = x.at("emailIds").as_array().size();
  EXPECT_EQ(sizes, (std::map<std::string, std::size_t>{{"T" + root, 2}, {"T" + other, 1}}));

  for (int i = 0; i < 1000; ++i) deliver(plain("bulk" + std::to_string(i) + "@x", "bulk"), {"alice@example.test"});
  for (const char* method : {"Email/get", "Thread/get"}) {
    auto r = get_all(method);
    EXPECT_EQ(r.at(0).as_string(), "error") << method;
    EXPECT_EQ(r.at(1).at("type").as_string(), "requestTooLarge") << method;
  }
}

}  // namespace
}  // namespace refmail::web::testing
