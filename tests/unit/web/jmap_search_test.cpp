// tests/unit/web/jmap_search_test.cpp — Email/query text conditions through the search
// index (search/index.hpp) against the summary scan it replaces: the same ids and
// totals for whole words, ANDed/ORed/NOTed with the other conditions; words not
// substrings; new mail found by the next query; over-long text refused.
#include "helpers.hpp"
#include "search/index.hpp"

namespace refmail::web::testing {
namespace {

class JmapSearch : public WebFixture {
 public:
  void SetUp() override {
    WebFixture::SetUp();
    search::Options o;
    o.dir = dir_.path() / "fts";
    index_ = std::make_shared<search::Index>(*store_, o);
    router_->set_search(index_);
    // The index exists (as the worker makes it at start): queries only catch up.
    ASSERT_TRUE(index_->catch_up("alice@example.test"));
    AuthOptions ao;
    scan_ = std::make_unique<Router>(*store_, cfg_, nullptr, ao);  // no index: the scan
  }
  void TearDown() override {
    scan_.reset();
    router_.reset();
    index_.reset();
  }

  json::object query(Router& r, json::value filter, json::object extra = {}) {
    json::object args{{"accountId", acct("alice")}, {"filter", filter}, {"calculateTotal", true}};
    for (auto& kv : extra) args[kv.key()] = kv.value();
    json::object body{{"using", json::array{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"}},
                      {"methodCalls", json::array{json::array{"Email/query", args, "q"}}}};
    auto resp = r.handle(req("POST", "/jmap/api", "alice", json::serialize(body), {{"Content-Type", "application/json"}}));
    EXPECT_EQ(resp.status, 200);
    auto call = json::parse(resp.body).at("methodResponses").at(0).as_array();
    if (call.at(0) != "Email/query") return json::object{{"error", call.at(1)}};
    return call.at(1).as_object();
  }

  std::shared_ptr<search::Index> index_;
  std::unique_ptr<Router> scan_;
};

TEST_F(JmapSearch, IndexAnswersEqualTheScanForWholeWords) {
  std::vector<std::string> ids;
  ids.push_back(deliver("From: Zed Zebra <zed@zoo.test>\r\nTo: alice@example.test\r\nCc: carl@copies.test\r\n"
                        "Subject: budget review\r\n\r\nthe numbers\r\n", {"alice@example.test"}));
  ids.push_back(deliver("From: bob@example.test\r\nTo: alice@example.test\r\nSubject: lunch\r\n\r\nbudget over lunch\r\n",
                        {"alice@example.test"}));
  ids.push_back(deliver(mime_with_attachment("paperwork", random_bytes(5000, 9)), {"alice@example.test"}));
  for (int i = 0; i < 20; ++i) {
    deliver("From: noise@outside.test\r\nTo: alice@example.test\r\nSubject: noise " + std::to_string(i) +
                "\r\n\r\nfiller text\r\n", {"alice@example.test"});
  }
  deliver("From: bob@example.test\r\nTo: bob@example.test\r\nSubject: budget\r\n\r\nbob's budget\r\n", {"bob@example.test"});
  auto rows = store_->message_rows("alice@example.test", ids[1]);
  ASSERT_TRUE(rows && !rows->empty());
  ASSERT_TRUE(store_->set_keywords("alice@example.test", "INBOX", (*rows)[0].uid, {"$flagged"}));
  auto boxes = store_->list_mailboxes("alice@example.test");
  ASSERT_TRUE(boxes);
  std::string inbox, trash;
  for (const auto& b : *boxes) {
    if (b.name == "INBOX") inbox = "m" + std::to_string(b.mailbox_id);
    if (b.name == "Trash") trash = "m" + std::to_string(b.mailbox_id);
  }
  auto obj = [](std::string_view k, json::value v) { return json::object{{k, v}}; };
  auto op = [](std::string_view o, json::array c) { return json::object{{"operator", o}, {"conditions", c}}; };
  std::vector<json::value> filters = {
      obj("subject", "budget"), obj("body", "budget"), obj("text", "budget"), obj("text", "BUDGET"),
      obj("from", "zed@zoo.test"), obj("from", "zebra"), obj("to", "alice@example.test"), obj("cc", "carl"),
      obj("bcc", "carl"), obj("text", "filler"), obj("text", "nothinglikethis"),
      json::object{{"text", "budget"}, {"hasKeyword", "$flagged"}},
      json::object{{"text", "budget"}, {"inMailbox", inbox}},
      json::object{{"text", "budget"}, {"inMailbox", trash}},
      op("AND", {obj("text", "budget"), op("NOT", {obj("hasKeyword", "$flagged")})}),
      op("OR", {obj("subject", "lunch"), obj("subject", "paperwork")}),
      op("OR", {obj("subject", "lunch"), obj("hasAttachment", true)}),
      op("NOT", {obj("text", "filler")}),
      op("AND", {obj("text", "numbers"), obj("text", "budget"), obj("from", "zebra")}),
      json::object{{"text", "filler"}, {"after", "2000-01-01T00:00:00Z"}, {"minSize", 10}},
  };
  for (const auto& f : filters) {
    for (bool collapse : {false, true}) {
      json::object extra{{"collapseThreads", collapse}, {"limit", 7}, {"position", 1}};
      auto a = query(*router_, f, extra);
      auto b = query(*scan_, f, extra);
      EXPECT_FALSE(a.contains("error")) << json::serialize(f);
      EXPECT_EQ(a["ids"], b["ids"]) << json::serialize(f);
      EXPECT_EQ(a["total"], b["total"]) << json::serialize(f);
    }
  }
  // The index was used (the scan alone would find "budg" inside "budget").
  EXPECT_EQ(query(*router_, obj("text", "budg"))["total"], 0);
  EXPECT_EQ(query(*scan_, obj("text", "budg"))["total"], 2);
  // Stems.
  EXPECT_EQ(query(*router_, obj("body", "numbering"))["total"], 1);
}

TEST_F(JmapSearch, NewMailIsFoundByTheNextQuery) {
  EXPECT_EQ(query(*router_, json::object{{"text", "marmalade"}})["total"], 0);
  auto id = deliver("From: a@b.test\r\nTo: alice@example.test\r\nSubject: jars\r\n\r\nmarmalade\r\n", {"alice@example.test"});
  auto r = query(*router_, json::object{{"text", "marmalade"}});
  EXPECT_EQ(r["ids"], (json::array{json::value(id)}));
  auto rows = store_->message_rows("alice@example.test", id);
  ASSERT_TRUE(rows && rows->size() == 1);
  std::vector<std::uint32_t> uids{(*rows)[0].uid};
  ASSERT_TRUE(store_->expunge("alice@example.test", "INBOX", uids));
  EXPECT_EQ(query(*router_, json::object{{"text", "marmalade"}})["total"], 0);
}

// A query rebuilds a lost index only for a small account (here: none with more than
// 1,000 emails); else it scans and leaves the rebuild to the worker.
TEST_F(JmapSearch, LostIndexOfALargeAccountIsScannedUntilTheWorkerRebuilds) {
  deliver("From: a@b.test\r\nTo: alice@example.test\r\nSubject: jars\r\n\r\nmarmalade runs\r\n", {"alice@example.test"});
  for (int i = 0; i < 1000; ++i) {
    deliver("From: a@b.test\r\nTo: alice@example.test\r\nSubject: n" + std::to_string(i) + "\r\n\r\nx\r\n",
            {"alice@example.test"});
  }
  deliver("From: a@b.test\r\nTo: bob@example.test\r\nSubject: jars\r\n\r\nmarmalade runs\r\n", {"bob@example.test"});
  index_.reset();
  router_->set_search(nullptr);
  std::filesystem::remove_all(dir_.path() / "fts");
  search::Options o;
  o.dir = dir_.path() / "fts";
  index_ = std::make_shared<search::Index>(*store_, o);
  router_->set_search(index_);
  EXPECT_EQ(query(*router_, json::object{{"text", "marma"}})["total"], 1);  // substring: the scan
  EXPECT_EQ(query(*router_, json::object{{"text", "running"}})["total"], 0);
  auto r = index_->catch_up("alice@example.test");  // the worker's call
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->rebuilt);
  EXPECT_EQ(r->indexed, 1001u);
  EXPECT_EQ(query(*router_, json::object{{"text", "marma"}})["total"], 0);  // words: the index
  EXPECT_EQ(query(*router_, json::object{{"text", "running"}})["total"], 1);
  // Bob's account is small: his first query rebuilds it.
  json::object args{{"accountId", acct("bob")}, {"filter", json::object{{"text", "running"}}}, {"calculateTotal", true}};
  auto bob = api("bob", json::array{json::array{"Email/query", args, "q"}});
  EXPECT_EQ(bob.at(0).at(1).at("total"), 1);
}

TEST_F(JmapSearch, OverlongOrEmptyText) {
  deliver("From: a@b.test\r\nTo: alice@example.test\r\nSubject: x\r\n\r\nwords\r\n", {"alice@example.test"});
  auto r = query(*router_, json::object{{"text", std::string(5000, 'a')}});
  ASSERT_TRUE(r.contains("error"));
  EXPECT_EQ(r["error"].at("type"), "unsupportedFilter");
  EXPECT_EQ(query(*router_, json::object{{"text", "*"}})["total"], 0);
  EXPECT_EQ(query(*router_, json::object{{"body", 42}})["total"], 0);
}

}  // namespace
}  // namespace refmail::web::testing
