// tests/unit/import/test_import_atomic.cpp — issue 9 "never imports a duplicate": the
// import "done" key commits in the imported message's own WriteBatch
// (Delivery::add_import_state via delivery::Import::import_state), so there is no
// moment at which the message is durable and its done key is not (or the reverse):
// a commit that fails writes neither, a delivery dropped before commit writes neither,
// and a store reopened after a commit holds both. Also the metric series names.
#include <gtest/gtest.h>

#include <filesystem>

#include "config/config.hpp"
#include "delivery/service.hpp"
#include "storage/store.hpp"
#include "tests/unit/import/helpers.hpp"
#include "tests/unit/storage/helpers.hpp"
#include "delivery/import_keys.hpp"
#include "web/import_api.hpp"
#include "metrics/metrics.hpp"

using namespace refmail;

namespace {

struct Store : import_testing::TestStore {
  Store() : TestStore({"alice@example.test", "bob@example.test"}, "pw-long-enough-1") {}
};

std::string msg(int i) {
  return "From: sender@outside.test\r\nTo: alice@example.test\r\nSubject: m" + std::to_string(i) +
         "\r\nMessage-ID: <atomic-" + std::to_string(i) + "@legacy.test>\r\n\r\nbody " + std::to_string(i) + "\r\n";
}

delivery::Import request(const std::string& mb, std::uint32_t uid, std::string account = "alice@example.test") {
  delivery::Import req;
  req.account = std::move(account);
  req.bytes = msg(static_cast<int>(uid));
  req.internal_date = 1704189600;
  req.import_state.emplace_back(delivery::import_keys::done(mb, 7, uid), std::string("imported"));
  req.import_state.emplace_back(delivery::import_keys::pending(mb, uid), std::nullopt);
  return req;
}

std::optional<std::string> state(storage::Store& st, const std::string& key) {
  auto r = st.get_import_state(key);
  EXPECT_TRUE(r);
  return r ? *r : std::nullopt;
}

std::size_t rows(storage::Store& st, const char* account = "alice@example.test") {
  auto r = st.list_account_rows(account);
  EXPECT_TRUE(r);
  return r ? r->size() : 0;
}

}  // namespace

TEST(ImportAtomic, DoneKeyCommitsWithTheMessageAndPendingGoes) {
  Store st;
  config::Config cfg;
  const auto mb = delivery::import_keys::mbox("legacy", "alice", "INBOX");
  ASSERT_TRUE(st->write_import_state({{delivery::import_keys::pending(mb, 1), std::string("7")}}));
  auto out = delivery::Service(*st, cfg).import(request(mb, 1));
  ASSERT_EQ(out.status, delivery::Status::ok) << out.detail;
  EXPECT_EQ(rows(*st), 1u);
  EXPECT_EQ(state(*st, delivery::import_keys::done(mb, 7, 1)), std::optional<std::string>("imported"));
  EXPECT_FALSE(state(*st, delivery::import_keys::pending(mb, 1)));
  // The import CF keys do not disturb the store's own accounting.
  auto f = st->fsck(false);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->clean());
}

TEST(ImportAtomic, FailedCommitWritesNeitherMessageNorDoneKey) {
  Store st;
  config::Config cfg;
  const auto mb = delivery::import_keys::mbox("legacy", "alice", "INBOX");
  ASSERT_TRUE(st->write_import_state({{delivery::import_keys::pending(mb, 2), std::string("7")}}));
  ASSERT_TRUE(st->set_quota("alice@example.test", 10));  // the message cannot fit
  auto out = delivery::Service(*st, cfg).import(request(mb, 2));
  EXPECT_EQ(out.status, delivery::Status::quota_exceeded) << out.detail;
  EXPECT_EQ(rows(*st), 0u);
  EXPECT_FALSE(state(*st, delivery::import_keys::done(mb, 7, 2)));
  EXPECT_EQ(state(*st, delivery::import_keys::pending(mb, 2)), std::optional<std::string>("7"));  // retried later
  // Unknown target account: same.
  auto out2 = delivery::Service(*st, cfg).import(request(mb, 3, "nobody@example.test"));
  EXPECT_NE(out2.status, delivery::Status::ok);
  EXPECT_FALSE(state(*st, delivery::import_keys::done(mb, 7, 3)));
}

TEST(ImportAtomic, DeliveryDroppedBeforeCommitLeavesNoKey) {
  Store st;
  const std::string key = delivery::import_keys::done(delivery::import_keys::mbox("legacy", "alice", "INBOX"), 7, 4);
  {
    auto d = st->begin_delivery();
    storage::MessageRecord rec;
    rec.logical_size = 10;
    rec.skeleton = "0123456789";
    d.set_message(std::move(rec));
    d.add_mailbox_row("alice@example.test");
    d.add_import_state({{key, std::string("imported")}});
  }  // destroyed without commit(): a crash before the write
  EXPECT_FALSE(state(*st, key));
  EXPECT_EQ(rows(*st), 0u);
}

TEST(ImportAtomic, ReopenedStoreHoldsMessageAndKeyTogether) {
  storage::testing::TempDir dir;
  const auto mb = delivery::import_keys::mbox("legacy", "alice", "INBOX");
  config::Config cfg;
  {
    auto o = storage::testing::test_options(dir.path(), storage::kMaxChunkBytes);
    o.sync_writes = true;  // what refmaild uses: durable at commit
    auto st = storage::testing::open_store(o);
    ASSERT_TRUE(st->add_domain("example.test"));
    ASSERT_TRUE(st->add_user("alice@example.test", "pw-long-enough-1"));
    for (std::uint32_t uid = 1; uid <= 5; ++uid) {
      auto out = delivery::Service(*st, cfg).import(request(mb, uid));
      ASSERT_EQ(out.status, delivery::Status::ok) << out.detail;
    }
  }
  auto o = storage::testing::test_options(dir.path(), storage::kMaxChunkBytes);
  o.create_if_missing = false;
  auto st = storage::testing::open_store(o);
  auto r = st->list_account_rows("alice@example.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 5u);
  for (std::uint32_t uid = 1; uid <= 5; ++uid)
    EXPECT_TRUE(state(*st, delivery::import_keys::done(mb, 7, uid))) << uid;
}

TEST(ImportMetrics, SeriesCarryTheSourceLabelEscaped) {
  EXPECT_EQ(metrics::with_label("refmail_import_messages_total", "source", "legacy"),
            "refmail_import_messages_total{source=\"legacy\"}");
  EXPECT_EQ(metrics::with_label("x", "source", "a\"b\\c\nd"), "x{source=\"a\\\"b\\\\c\\nd\"}");
  metrics::Metrics m;
  m.add(metrics::with_label("refmail_import_messages_total", "source", "legacy"), 3);
  m.set_gauge(metrics::with_label("refmail_import_idle_watchers", "source", "legacy"), 1);
  auto text = m.render(nullptr);
  EXPECT_NE(text.find("# TYPE refmail_import_messages_total counter\n"
                      "refmail_import_messages_total{source=\"legacy\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("refmail_import_idle_watchers{source=\"legacy\"} 1\n"), std::string::npos) << text;
}
