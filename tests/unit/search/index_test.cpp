// tests/unit/search/index_test.cpp — search::Index over a real (temporary) store:
// fields and their prefixes, stemming, CJK, deletes, hostile query text, catch-up from
// the change log, and rebuilds after a lost, corrupt, expired or restored index.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>

#include "search/index.hpp"
#include "storage/store.hpp"
#include "tests/unit/web/store_setup.hpp"

namespace refmail::search {
namespace {

namespace fs = std::filesystem;
using web::testing::deliver_message;

constexpr std::string_view kAlice = "alice@example.test";

std::string mail(const std::string& subject, const std::string& body, const std::string& from = "Sender <sender@outside.test>",
                 const std::string& extra = "") {
  return "From: " + from + "\r\nTo: Alice Liddell <alice@example.test>\r\n" + extra + "Subject: " + subject +
         "\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n";
}

class SearchIndex : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("refmail-search-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir_);
    open(storage::StoreOptions{});
  }
  void TearDown() override {
    index_.reset();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void open(storage::StoreOptions o) {
    index_.reset();
    store_.reset();
    o.path = dir_ / "store";
    o.sync_writes = false;
    o.password_cost = storage::PasswordCost::test_minimal;
    auto s = storage::Store::open(std::move(o));
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    (void)store_->add_domain("example.test");
    (void)store_->add_user(std::string(kAlice), "pw");
    (void)store_->add_user("bob@example.test", "pw");
    make_index();
  }
  void make_index() {
    Options o;
    o.dir = dir_ / "fts";
    index_ = std::make_unique<Index>(*store_, o);
  }
  std::string deliver(const std::string& raw, const std::string& to = std::string(kAlice)) {
    auto id = deliver_message(*store_, raw, {to});
    EXPECT_FALSE(id.empty());
    return id;
  }
  std::vector<std::string> find(Field f, std::string_view text, std::string_view account = kAlice) {
    auto r = index_->search(account, f, text);
    EXPECT_TRUE(r) << text;
    if (!r) return {};
    std::sort(r->begin(), r->end());
    return *r;
  }
  void caught_up(std::string_view account = kAlice) {
    auto r = index_->catch_up(account);
    ASSERT_TRUE(r) << r.error().message();
  }

  fs::path dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Index> index_;
};

using Ids = std::vector<std::string>;
Ids sorted(Ids v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST_F(SearchIndex, FieldsSearchOnlyTheirPrefixAndTextSearchesAll) {
  auto a = deliver(mail("Quarterly budget", "The numbers are attached.", "Zed Zebra <zed@zoo.test>",
                        "Cc: Carl Cee <carl@cc.test>\r\nBcc: hidden@bcc.test\r\n"));
  auto b = deliver(mail("Lunch", "Shall we discuss the budget over lunch?", "Bob <bob@example.test>"));
  caught_up();
  EXPECT_EQ(find(Field::subject, "budget"), Ids{a});
  EXPECT_EQ(find(Field::body, "budget"), Ids{b});
  EXPECT_EQ(find(Field::text, "budget"), sorted({a, b}));
  EXPECT_EQ(find(Field::from, "zebra"), Ids{a});
  EXPECT_EQ(find(Field::from, "zed@zoo.test"), Ids{a});
  EXPECT_EQ(find(Field::to, "zebra"), Ids{});
  EXPECT_EQ(find(Field::to, "liddell"), sorted({a, b}));
  EXPECT_EQ(find(Field::cc, "carl"), Ids{a});
  EXPECT_EQ(find(Field::bcc, "hidden"), Ids{a});
  EXPECT_EQ(find(Field::cc, "hidden"), Ids{});
  EXPECT_EQ(find(Field::text, "hidden"), Ids{a});
  // Words are ANDed; a phrase keeps its order.
  EXPECT_EQ(find(Field::text, "budget lunch"), Ids{b});
  EXPECT_EQ(find(Field::body, "\"budget over lunch\""), Ids{b});
  EXPECT_EQ(find(Field::body, "\"lunch over budget\""), Ids{});
  // Case-insensitive.
  EXPECT_EQ(find(Field::subject, "QUARTERLY"), Ids{a});
  // Other accounts' index is separate.
  EXPECT_EQ(find(Field::text, "budget", "bob@example.test"), Ids{});
}

TEST_F(SearchIndex, EnglishStemming) {
  auto a = deliver(mail("Status", "The service runs every night."));
  auto b = deliver(mail("Other", "Nothing here."));
  caught_up();
  EXPECT_EQ(find(Field::body, "running"), Ids{a});
  EXPECT_EQ(find(Field::text, "run"), Ids{a});
  EXPECT_EQ(find(Field::text, "nights"), Ids{a});
  EXPECT_EQ(find(Field::text, "nothing"), Ids{b});
}

TEST_F(SearchIndex, CjkIsTokenised) {
  auto a = deliver(mail("会议通知", "明天下午三点开会。"));
  auto b = deliver(mail("日本語のテスト", "東京で会いましょう"));
  caught_up();
  EXPECT_EQ(find(Field::subject, "会议"), Ids{a});
  EXPECT_EQ(find(Field::body, "下午"), Ids{a});
  EXPECT_EQ(find(Field::text, "東京"), Ids{b});
  EXPECT_EQ(find(Field::text, "テスト"), Ids{b});
  EXPECT_EQ(find(Field::text, "北京"), Ids{});
}

TEST_F(SearchIndex, HtmlBodyAndAttachmentNamesAreIndexed) {
  std::string raw =
      "From: a@b.test\r\nTo: alice@example.test\r\nSubject: html\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
      "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>marmalade</b></p><script>secretword</script>\r\n"
      "--b\r\nContent-Type: application/pdf; name=\"invoice-2024.pdf\"\r\nContent-Disposition: attachment; "
      "filename=\"invoice-2024.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";
  auto a = deliver(raw);
  caught_up();
  EXPECT_EQ(find(Field::body, "marmalade"), Ids{a});
  EXPECT_EQ(find(Field::body, "secretword"), Ids{});
  EXPECT_EQ(find(Field::text, "invoice"), Ids{a});
  EXPECT_EQ(find(Field::body, "invoice"), Ids{});
}

TEST_F(SearchIndex, DeletedEmailIsNoLongerFound) {
  auto a = deliver(mail("Ephemeral", "gone soon"));
  auto b = deliver(mail("Ephemeral too", "stays"));
  caught_up();
  EXPECT_EQ(find(Field::subject, "ephemeral"), sorted({a, b}));
  auto rows = store_->message_rows(kAlice, a);
  ASSERT_TRUE(rows && rows->size() == 1);
  std::vector<std::uint32_t> uids{(*rows)[0].uid};
  ASSERT_TRUE(store_->expunge(kAlice, "INBOX", uids));
  auto r = index_->catch_up(kAlice);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->deleted, 1u);
  EXPECT_FALSE(r->rebuilt);
  EXPECT_EQ(find(Field::subject, "ephemeral"), Ids{b});
}

TEST_F(SearchIndex, CatchUpIndexesOnlyWhatTheLogAdds) {
  auto a = deliver(mail("First", "alpha"));
  auto r1 = index_->catch_up(kAlice);
  ASSERT_TRUE(r1);
  EXPECT_TRUE(r1->rebuilt);  // no index yet
  EXPECT_EQ(r1->indexed, 1u);
  auto b = deliver(mail("Second", "alpha beta"));
  auto rows = store_->message_rows(kAlice, a);
  ASSERT_TRUE(rows && !rows->empty());
  ASSERT_TRUE(store_->set_keywords(kAlice, "INBOX", (*rows)[0].uid, {"$seen"}));
  auto r2 = index_->catch_up(kAlice);
  ASSERT_TRUE(r2);
  EXPECT_FALSE(r2->rebuilt);
  EXPECT_EQ(r2->indexed, 1u);  // b; a's keyword change re-indexes nothing
  EXPECT_EQ(r2->indexed_state, *store_->account_state(kAlice));
  EXPECT_EQ(find(Field::body, "alpha"), sorted({a, b}));
  // Nothing new: nothing done. A new Index (a restarted daemon) resumes from the cursor.
  auto r3 = index_->catch_up(kAlice);
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->indexed + r3->deleted, 0u);
  make_index();
  auto c = deliver(mail("Third", "alpha gamma"));
  auto r4 = index_->catch_up(kAlice);
  ASSERT_TRUE(r4);
  EXPECT_FALSE(r4->rebuilt) << r4->rebuild_reason;
  EXPECT_EQ(r4->indexed, 1u);
  EXPECT_EQ(find(Field::body, "alpha"), sorted({a, b, c}));
}

TEST_F(SearchIndex, BoundedCatchUpSaysBehindAndKeepsItsWork) {
  Options o;
  o.dir = dir_ / "fts";
  o.batch_changes = 1;
  index_ = std::make_unique<Index>(*store_, o);
  caught_up();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(deliver(mail("Batch " + std::to_string(i), "bounded")));
  auto r = index_->catch_up(kAlice, 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::behind));
  EXPECT_GT(index_->known_state(kAlice), 0u);
  EXPECT_LT(find(Field::body, "bounded").size(), ids.size());
  caught_up();
  EXPECT_EQ(find(Field::body, "bounded"), sorted(ids));
}

TEST_F(SearchIndex, LostIndexIsRebuilt) {
  auto a = deliver(mail("Survivor", "persistent words"));
  caught_up();
  index_.reset();
  fs::remove_all(dir_ / "fts");
  make_index();
  auto r = index_->catch_up(kAlice);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->rebuilt);
  EXPECT_EQ(find(Field::body, "persistent"), Ids{a});
}

TEST_F(SearchIndex, CorruptIndexIsRebuilt) {
  auto a = deliver(mail("Survivor", "persistent words"));
  caught_up();
  index_.reset();
  auto folder = Index(*store_, Options{dir_ / "fts"}).path_of(kAlice);
  for (const auto& e : fs::directory_iterator(folder)) {
    std::ofstream(e.path(), std::ios::binary | std::ios::trunc) << "garbage, not a Xapian table";
  }
  make_index();
  auto r = index_->catch_up(kAlice);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->rebuilt);
  EXPECT_EQ(find(Field::body, "persistent"), Ids{a});
}

TEST_F(SearchIndex, ExpiredCursorRebuilds) {
  storage::StoreOptions o;
  o.change_log_max_states = 3;
  open(o);
  auto a = deliver(mail("One", "expiry"));
  caught_up();
  std::vector<std::string> ids{a};
  for (int i = 0; i < 10; ++i) ids.push_back(deliver(mail("More", "expiry")));
  auto r = index_->catch_up(kAlice);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->rebuilt);
  EXPECT_EQ(r->rebuild_reason, "expired");
  EXPECT_EQ(find(Field::body, "expiry"), sorted(ids));
}

TEST_F(SearchIndex, RestoredOlderStoreRebuilds) {
  auto a = deliver(mail("Before backup", "kept"));
  ASSERT_TRUE(store_->checkpoint(dir_ / "backup"));
  auto b = deliver(mail("After backup", "kept lost"));
  caught_up();
  EXPECT_EQ(find(Field::body, "kept"), sorted({a, b}));
  index_.reset();
  store_.reset();
  ASSERT_TRUE(storage::Store::restore(dir_ / "backup", dir_ / "store"));
  storage::StoreOptions o;
  o.path = dir_ / "store";
  o.sync_writes = false;
  o.password_cost = storage::PasswordCost::test_minimal;
  auto s = storage::Store::open(std::move(o));
  ASSERT_TRUE(s);
  store_ = std::move(*s);
  make_index();
  auto r = index_->catch_up(kAlice);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->rebuilt);
  EXPECT_EQ(find(Field::body, "kept"), Ids{a});
  EXPECT_EQ(find(Field::body, "lost"), Ids{});
}

TEST_F(SearchIndex, DropDeletesTheFolderAndARecreatedAccountStartsEmpty) {
  deliver(mail("Old life", "forgotten words"));
  caught_up();
  ASSERT_TRUE(fs::exists(index_->path_of(kAlice)));
  ASSERT_TRUE(store_->remove_user(kAlice));
  ASSERT_TRUE(index_->drop(kAlice));
  EXPECT_FALSE(fs::exists(index_->path_of(kAlice)));
  ASSERT_TRUE(store_->add_user(std::string(kAlice), "pw"));
  auto b = deliver(mail("New life", "fresh words"));
  caught_up();
  EXPECT_EQ(find(Field::body, "words"), Ids{b});
}

TEST_F(SearchIndex, RecreatedAccountWithAStaleIndexRebuilds) {
  deliver(mail("Old life", "forgotten words"));
  caught_up();
  ASSERT_TRUE(store_->remove_user(kAlice));  // the index is left behind (no drop)
  ASSERT_TRUE(store_->add_user(std::string(kAlice), "pw"));
  auto b = deliver(mail("New life", "fresh words"));
  make_index();  // a restarted daemon: the history is checked again
  auto r = index_->catch_up(kAlice);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->rebuilt);
  EXPECT_EQ(find(Field::body, "words"), Ids{b});
}

TEST_F(SearchIndex, HostileQueryTextIsBounded) {
  auto a = deliver(mail("Normal", "plain words here"));
  caught_up();
  for (std::string q : {std::string("*"), std::string("\"unbalanced"), std::string("plain\""), std::string(""),
                        std::string("\xff\xfe\xc3"), std::string("a\0b\x01\x1b[31m", 8), std::string("AND OR NOT"),
                        std::string("subject:plain"), std::string("((("), std::string("-plain +words"),
                        std::string("pla*"), std::string(1000, '"'),
                        // found by fuzz_search_query: QueryParser threw on it before clean_query
                        std::string("s\x02\xe4\xbc\x9a\xc3"),
                        std::string("z\x9b\x9b\xbf" "a\xff\xff\xff\x14" "es\x02\xe4\xbc\x9a\xe8\xc3")}) {
    auto r = index_->search(kAlice, Field::text, q);
    EXPECT_TRUE(r) << q;
  }
  // No searchable word: nothing (not every email).
  EXPECT_EQ(find(Field::text, "*"), Ids{});
  EXPECT_EQ(find(Field::text, ""), Ids{});
  EXPECT_EQ(find(Field::text, "\"plain words"), Ids{a});
  EXPECT_EQ(find(Field::text, "plain\x01words\xff"), Ids{a});  // controls, invalid bytes: spaces
  auto big = index_->search(kAlice, Field::text, std::string(1 << 20, 'x'));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), make_error_code(errc::query_too_long));
}

TEST_F(SearchIndex, HostileMessageTextIsIndexed) {
  std::string junk = "\xff\xfe invalid \xc3\x28 utf8 \x01\x02 controls ";
  junk += std::string(300, 'y');  // one term over Xapian's term length limit
  junk += " ";
  for (int i = 0; i < 20000; ++i) junk += "w" + std::to_string(i) + " ";
  auto a = deliver(mail("Junk \xe2\x82", junk));
  caught_up();
  EXPECT_EQ(find(Field::body, "controls"), Ids{a});
  EXPECT_EQ(find(Field::body, "w19999"), Ids{a});
}

}  // namespace
}  // namespace refmail::search
