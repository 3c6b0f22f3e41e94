// tests/unit/import/test_import_notify.cpp — the notify endpoint: both JSON forms,
// refusals, token checks, and the durable coalesced enqueue (one job per mailbox per
// window, pending UIDs keyed so repeats are idempotent) on a temporary store.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "config/config.hpp"
#include "storage/store.hpp"
#include "web/import_api.hpp"

using namespace refmail;

namespace {

const char* kToml = R"(
[import]
coalesce_window = 30
[[import.sources]]
name = "legacy"
host = "127.0.0.1"
token = "tok-0123456789abcdef"
[[import.mappings]]
source = "legacy"
user = "alice"
account = "alice@example.test"
password = "pw"
)";

class TempStore {
 public:
  TempStore() {
    dir_ = std::filesystem::temp_directory_path() /
           ("refmail-import-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove_all(dir_);
    storage::StoreOptions o;
    o.path = dir_;
    o.sync_writes = false;
    o.password_cost = storage::PasswordCost::test_minimal;
    auto s = storage::Store::open(o);
    EXPECT_TRUE(s);
    store_ = std::move(*s);
    EXPECT_TRUE(store_->add_domain("example.test"));
    EXPECT_TRUE(store_->add_user("alice@example.test", "pw-alice-123"));
  }
  ~TempStore() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  storage::Store& operator*() { return *store_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<storage::Store> store_;
};

web::Request request(std::string body, std::string auth, std::string target = "/api/import/notify") {
  web::Request r;
  r.method = "POST";
  r.target = std::move(target);
  r.body = std::move(body);
  if (!auth.empty()) r.headers.emplace_back("Authorization", std::move(auth));
  r.peer = "127.0.0.1:1";
  return r;
}

}  // namespace

TEST(ImportNotify, ParsesRefmailJson) {
  auto n = web::parse_notification(
      R"({"source":"legacy","user":"alice","mailbox":"Archive","uidvalidity":7,"uids":[5,3,5,"9"]})");
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(n->source, "legacy");
  EXPECT_EQ(n->mailbox, "Archive");
  EXPECT_EQ(n->uidvalidity, 7u);
  EXPECT_EQ(n->uids, (std::vector<std::uint32_t>{3, 5, 9}));
  EXPECT_FALSE(n->ignored);
}

TEST(ImportNotify, ParsesDovecotOxJson) {
  // As sent by Dovecot's push_notification ox driver.
  auto n = web::parse_notification(
      R"({"user":"alice","event":"messageNew","folder":"INBOX","imap-uidvalidity":1700000000,)"
      R"("imap-uid":42,"from":"Bob <bob@x>","subject":"hi","snippet":"...","unseen":3})");
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(n->source, "");
  EXPECT_EQ(n->user, "alice");
  EXPECT_EQ(n->mailbox, "INBOX");
  EXPECT_EQ(n->uidvalidity, 1700000000u);
  EXPECT_EQ(n->uids, (std::vector<std::uint32_t>{42}));
  auto other = web::parse_notification(R"({"user":"alice","event":"messageRead","folder":"INBOX","imap-uid":1})");
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->ignored);
}

TEST(ImportNotify, Refusals) {
  const char* bad[] = {
      "",
      "{",
      "[]",
      R"({"uids":[1]})",
      R"({"user":"","uids":[1]})",
      R"({"user":5,"uids":[1]})",
      R"({"user":"a","uids":[]})",
      R"({"user":"a","uids":[0]})",
      R"({"user":"a","uids":[-1]})",
      R"({"user":"a","uids":[4294967296]})",
      R"({"user":"a","uids":"1"})",
      R"({"user":"a","uids":[1.5]})",
      R"({"user":"a","mailbox":"x\ny","uids":[1]})",
      R"({"user":"a","event":"messageNew","folder":"INBOX"})",
      R"({"user":"a","event":"messageNew","folder":"INBOX","imap-uid":"abc"})",
  };
  for (const char* b : bad) EXPECT_FALSE(web::parse_notification(b)) << b;
  std::string huge = R"({"user":"a","uids":[)" + std::string(70000, ' ') + "1]}";
  EXPECT_FALSE(web::parse_notification(huge));
}

TEST(ImportNotify, HandlerChecksTokenSourceAndUser) {
  auto cfg = config::parse(kToml, "t.toml");
  ASSERT_TRUE(cfg) << cfg.error().message;
  TempStore st;
  int woken = 0;
  web::ImportContext ctx{*st, *cfg, [&](storage::UnixSeconds) { ++woken; }};
  std::string body = R"({"source":"legacy","user":"alice","uids":[1,2]})";
  EXPECT_EQ(web::handle_import(request(body, ""), ctx).status, 401);
  EXPECT_EQ(web::handle_import(request(body, "Bearer tok-0123456789abcdeX"), ctx).status, 401);
  EXPECT_EQ(web::handle_import(request(R"({"source":"nope","user":"alice","uids":[1]})",
                                       "Bearer tok-0123456789abcdef"),
                               ctx)
                .status,
            401);
  EXPECT_EQ(web::handle_import(request(R"({"source":"legacy","user":"carol","uids":[1]})",
                                       "Bearer tok-0123456789abcdef"),
                               ctx)
                .status,
            404);
  EXPECT_EQ(web::handle_import(request("{bad", "Bearer tok-0123456789abcdef"), ctx).status, 400);
  EXPECT_EQ(woken, 0);
  auto all = (*st).due_imports(storage::UnixSeconds::max(), 10);
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());  // nothing refused reached the store

  // Good: Bearer, and Basic with source as user name (the ox driver's URL credentials).
  auto r = web::handle_import(request(body, "Bearer tok-0123456789abcdef"), ctx);
  EXPECT_EQ(r.status, 202) << r.body;
  auto ox = R"({"user":"alice","event":"messageNew","folder":"INBOX","imap-uid":3})";
  // base64("legacy:tok-0123456789abcdef")
  r = web::handle_import(request(ox, "Basic bGVnYWN5OnRvay0wMTIzNDU2Nzg5YWJjZGVm"), ctx);
  EXPECT_EQ(r.status, 202) << r.body;
  r = web::handle_import(request(ox, "Bearer tok-0123456789abcdef", "/api/import/notify?source=legacy"), ctx);
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(woken, 1);  // coalesced: one job, one wake-up
  all = (*st).due_imports(storage::UnixSeconds::max(), 10);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].account, "alice@example.test");
  auto mb = web::import_keys::mbox("legacy", "alice", "INBOX");
  auto pending = (*st).scan_import_state(web::import_keys::pending_prefix(mb), 100);
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->size(), 3u);  // UIDs 1, 2, 3 once each
}

TEST(ImportNotify, EnqueueCoalescesPerMailboxAndWindow) {
  auto cfg = config::parse(kToml, "t.toml");
  ASSERT_TRUE(cfg);
  TempStore st;
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  web::ImportNotification n;
  n.source = "legacy";
  n.user = "alice";
  n.uids = {1};
  auto a = web::enqueue_notification(*st, cfg->import, n, now);
  ASSERT_TRUE(a) << a.error();
  EXPECT_TRUE(a->new_job);
  EXPECT_EQ(a->due, now + std::chrono::seconds(30));
  n.uids = {1, 2};
  auto b = web::enqueue_notification(*st, cfg->import, n, now);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->new_job);
  EXPECT_EQ(b->job_id, a->job_id);
  n.mailbox = "Archive";  // another mailbox: its own job
  auto c = web::enqueue_notification(*st, cfg->import, n, now);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->new_job);
  // Not due before the window ends.
  auto due = (*st).due_imports(now, 10);
  ASSERT_TRUE(due);
  EXPECT_TRUE(due->empty());
  due = (*st).due_imports(now + std::chrono::seconds(30), 10);
  ASSERT_TRUE(due);
  EXPECT_EQ(due->size(), 2u);
  n.user = "zed";
  EXPECT_FALSE(web::enqueue_notification(*st, cfg->import, n, now));
}
