// tests/unit/storage/concurrency_test.cpp — many threads delivering the same
// attachment (one blob, exact refcount), and deliveries racing expunges/GC of the
// very blob they reuse.
#include <thread>

#include "helpers.hpp"

namespace refmail::storage::testing {
namespace {

TEST(Concurrency, EightThreadsSameAttachmentOneBlobExactRefcount) {
  TempDir dir;
  auto s = open_store(test_options(dir.path(), 4096));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  const auto shared = random_bytes(50000, 42);
  constexpr int kThreads = 8, kEach = 6;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = deliver(*s, {{"a@x.test"}, {"b@x.test"}},
                         {shared, random_bytes(3000, 1000 + t * 100 + i)});
        if (!r) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  auto rows = s->list_rows("a@x.test", "INBOX");
  ASSERT_EQ(rows->size(), static_cast<std::size_t>(kThreads * kEach));
  auto blob = s->get_message((*rows)[0].message_id)->record.blob_ids.at(0);
  EXPECT_EQ(s->blob_info(blob)->refcount, kThreads * kEach);
  EXPECT_EQ(*s->grant_count("b@x.test", blob), kThreads * kEach);
  auto st = s->stats();
  EXPECT_EQ(st->blobs, static_cast<std::uint64_t>(1 + kThreads * kEach));
  EXPECT_EQ(read_all(*s, blob), shared);
  // UIDs are distinct.
  std::set<std::uint32_t> uids;
  for (const auto& r : *rows) uids.insert(r.uid);
  EXPECT_EQ(uids.size(), rows->size());
  expect_fsck_clean(*s);
}

TEST(Concurrency, DeliveriesRacingExpungeAndGcOfTheSameBlob) {
  TempDir dir;
  auto s = open_store(test_options(dir.path(), 4096));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  const auto shared = random_bytes(20000, 7);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  // Each writer delivers the shared attachment; the reaper expunges everything it
  // sees, so the blob's refcount keeps touching zero while writers reuse it.
  std::vector<std::thread> writers;
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < 15; ++i)
        if (!deliver(*s, {{"a@x.test"}}, {shared})) ++failures;
    });
  }
  std::thread reaper([&] {
    while (!stop) {
      auto rows = s->list_rows("a@x.test", "INBOX");
      if (!rows) { ++failures; return; }
      std::vector<std::uint32_t> uids;
      for (const auto& r : *rows) uids.push_back(r.uid);
      if (!s->expunge("a@x.test", "INBOX", uids)) ++failures;
      if (!s->gc()) ++failures;
    }
  });
  for (auto& w : writers) w.join();
  stop = true;
  reaper.join();
  ASSERT_EQ(failures.load(), 0);
  // Whatever survived is whole.
  auto rows = s->list_rows("a@x.test", "INBOX");
  ASSERT_TRUE(rows);
  for (const auto& r : *rows) {
    auto m = s->get_message(r.message_id);
    ASSERT_TRUE(m);
    EXPECT_EQ(read_all(*s, m->record.blob_ids.at(0)), shared);
  }
  expect_fsck_clean(*s);
  ASSERT_TRUE(deliver(*s, {{"a@x.test"}}, {shared}));
  expect_fsck_clean(*s);
}

TEST(Concurrency, QuotaHoldsExactlyUnderConcurrentDeliveries) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  const std::string skeleton(1000, 'k');  // logical size 1000 per message
  ASSERT_TRUE(s->set_quota("a@x.test", 10500));
  std::atomic<int> ok{0}, over{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 4; ++i) {
        auto r = deliver(*s, {{"a@x.test"}}, {}, skeleton);
        if (r) ++ok;
        else if (r.error() == errc::quota_exceeded) ++over;
        else ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(over.load(), 22);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(s->get_user("a@x.test")->used_bytes, 10000u);
  expect_fsck_clean(*s);
}

TEST(Concurrency, RacingExpungesOfTheSameRowsCountOnce) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  std::vector<std::uint32_t> uids;
  for (int i = 0; i < 20; ++i) {
    auto r = deliver(*s, {{"a@x.test"}, {"b@x.test"}}, {random_bytes(2000, i % 4)});
    ASSERT_TRUE(r);
    uids.push_back(r->rows[0].uid);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] { EXPECT_TRUE(s->expunge("a@x.test", "INBOX", uids)); });
  for (auto& t : threads) t.join();
  EXPECT_TRUE(s->list_rows("a@x.test", "INBOX")->empty());
  EXPECT_EQ(s->stats()->mailbox_rows, 20u);
  EXPECT_EQ(s->stats()->blobs, 4u);
  expect_fsck_clean(*s);
}

}  // namespace
}  // namespace refmail::storage::testing
