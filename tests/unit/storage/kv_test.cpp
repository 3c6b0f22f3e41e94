// tests/unit/storage/kv_test.cpp — the Kv seam's contract (storage/kv.hpp), run on
// every backend: the embedded RocksDB one and the in-memory one. A new backend (one
// shared by several refmaild processes) must pass these before the store runs on it.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/codec.hpp"
#include "storage/kv.hpp"
#include "storage/memory/kv_memory.hpp"
#include "storage/rocksdb/kv_rocksdb.hpp"
#include "helpers.hpp"

namespace refmail::storage {
namespace {

using testing::TempDir;

struct RocksBackend {
  TempDir dir;
  std::unique_ptr<Kv> open() {
    StoreOptions o = testing::test_options(dir.path() / "kv");
    auto kv = rocksdb_backend::open(o);
    EXPECT_TRUE(kv) << error_detail(kv.error());
    return kv ? std::move(*kv) : nullptr;
  }
};

struct MemoryBackend {
  std::unique_ptr<Kv> open() { return memory_backend::make(); }
};

template <class B>
class KvContract : public ::testing::Test {
 protected:
  void SetUp() override {
    kv_ = backend_.open();
    ASSERT_NE(kv_, nullptr);
  }
  void write(KvBatch& b) {
    auto r = kv_->write(b, KvSync::kIfEnabled);
    ASSERT_TRUE(r) << error_detail(r.error());
  }
  std::optional<std::string> get(Cf cf, std::string_view key, const KvSnapshot* snap = nullptr) {
    auto v = kv_->get(cf, key, snap);
    EXPECT_TRUE(v);
    return v ? *v : std::nullopt;
  }
  std::vector<std::string> keys(Cf cf, std::string_view from, const KvSnapshot* snap = nullptr) {
    std::vector<std::string> out;
    auto it = kv_->iterator(cf, snap);
    for (it->seek(from); it->valid(); it->next()) out.emplace_back(it->key());
    EXPECT_FALSE(it->check("test"));
    return out;
  }
  B backend_;
  std::unique_ptr<Kv> kv_;
};

using Backends = ::testing::Types<RocksBackend, MemoryBackend>;
TYPED_TEST_SUITE(KvContract, Backends);

TYPED_TEST(KvContract, PutGetDeleteAreAtomicPerBatchAndSeparatePerColumnFamily) {
  auto b = this->kv_->batch();
  b.put(kCfAccount, "k", "account");
  b.put(kCfMailbox, "k", std::string("mail\0box", 8));
  b.put(kCfAccount, "gone", "x");
  b.del(kCfAccount, "gone");
  this->write(b);
  EXPECT_EQ(this->get(kCfAccount, "k"), "account");
  EXPECT_EQ(this->get(kCfMailbox, "k"), std::string("mail\0box", 8));
  EXPECT_EQ(this->get(kCfAccount, "gone"), std::nullopt);
  EXPECT_EQ(this->get(kCfQueue, "k"), std::nullopt);
}

TYPED_TEST(KvContract, IteratesInByteOrderFromTheSeekKey) {
  auto b = this->kv_->batch();
  for (const std::string& k : std::vector<std::string>{"b", "a", std::string("\xff", 1), "ab", std::string("a\0", 2)})
    b.put(kCfQueue, k, "v");
  this->write(b);
  EXPECT_EQ(this->keys(kCfQueue, "a"),
            (std::vector<std::string>{"a", std::string("a\0", 2), "ab", "b", std::string("\xff", 1)}));
  EXPECT_EQ(this->keys(kCfQueue, "aa"), (std::vector<std::string>{"ab", "b", std::string("\xff", 1)}));
  auto it = this->kv_->iterator(kCfQueue);
  it->seek_to_first();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key(), "a");
  EXPECT_EQ(it->value(), "v");
}

TYPED_TEST(KvContract, IteratesBackwardsFromTheLastKeyAtOrBefore) {
  auto b = this->kv_->batch();
  for (const std::string& k : std::vector<std::string>{"b", "a", "ab", std::string("a\0", 2), "c"})
    b.put(kCfQueue, k, "v" + k);
  this->write(b);
  auto walk = [&](std::string_view from) {
    std::vector<std::string> out;
    auto it = this->kv_->iterator(kCfQueue);
    for (it->seek_for_prev(from); it->valid(); it->prev()) out.emplace_back(it->key());
    return out;
  };
  EXPECT_EQ(walk("b"), (std::vector<std::string>{"b", "ab", std::string("a\0", 2), "a"}));
  EXPECT_EQ(walk("aa"), (std::vector<std::string>{std::string("a\0", 2), "a"}));
  EXPECT_EQ(walk("zz"), (std::vector<std::string>{"c", "b", "ab", std::string("a\0", 2), "a"}));
  EXPECT_TRUE(walk("0").empty());
  auto it = this->kv_->iterator(kCfQueue);
  it->seek_for_prev("ab");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->value(), "vab");
  it->next();  // forward again from a backward seek
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key(), "b");
}

TYPED_TEST(KvContract, DeleteRangeRemovesHalfOpenRange) {
  auto b = this->kv_->batch();
  for (const char* k : {"C1", "C2", "C3", "D"}) b.put(kCfMailbox, k, "v");
  this->write(b);
  auto d = this->kv_->batch();
  d.delete_range(kCfMailbox, "C1", "C3");
  this->write(d);
  EXPECT_EQ(this->keys(kCfMailbox, ""), (std::vector<std::string>{"C3", "D"}));
}

TYPED_TEST(KvContract, CounterMergesAddAndRaise) {
  auto b = this->kv_->batch();
  b.merge(kCfCounter, "n", add_operand(5));
  b.merge(kCfCounter, "n", add_operand(-2));
  b.merge(kCfCounter, "m", max_operand(7));
  b.merge(kCfGrant, "g", add_operand(1));
  this->write(b);
  auto b2 = this->kv_->batch();
  b2.merge(kCfCounter, "m", max_operand(3));
  b2.merge(kCfCounter, "m", add_operand(1));
  this->write(b2);
  EXPECT_EQ(this->get(kCfCounter, "n"), encode_i64(3));
  EXPECT_EQ(this->get(kCfCounter, "m"), encode_i64(8));
  EXPECT_EQ(this->get(kCfGrant, "g"), encode_i64(1));
}

TYPED_TEST(KvContract, RefcountMergesKeepTheRecord) {
  auto b = this->kv_->batch();
  b.put(kCfMessage, "m", encode_i64(1) + "record");
  b.merge(kCfMessage, "m", add_operand(2));
  b.merge(kCfBlobMeta, "orphan", add_operand(-1));
  this->write(b);
  EXPECT_EQ(this->get(kCfMessage, "m"), encode_i64(3) + "record");
  EXPECT_EQ(this->get(kCfBlobMeta, "orphan"), encode_i64(-1));  // a bare count: fsck's orphan
}

TYPED_TEST(KvContract, SnapshotsAndTheirIteratorsDoNotSeeLaterWrites) {
  auto b = this->kv_->batch();
  b.put(kCfAccount, "a", "1");
  b.merge(kCfCounter, "c", add_operand(1));
  this->write(b);
  auto snap = this->kv_->snapshot();
  auto live_it = this->kv_->iterator(kCfAccount, snap.get());
  auto b2 = this->kv_->batch();
  b2.put(kCfAccount, "a", "2");
  b2.put(kCfAccount, "b", "2");
  b2.merge(kCfCounter, "c", add_operand(1));
  this->write(b2);
  EXPECT_EQ(this->get(kCfAccount, "a", snap.get()), "1");
  EXPECT_EQ(this->get(kCfCounter, "c", snap.get()), encode_i64(1));
  EXPECT_EQ(this->keys(kCfAccount, "", snap.get()), (std::vector<std::string>{"a"}));
  live_it->seek("");
  ASSERT_TRUE(live_it->valid());
  EXPECT_EQ(live_it->value(), "1");
  EXPECT_EQ(this->get(kCfAccount, "a"), "2");
  EXPECT_EQ(this->get(kCfCounter, "c"), encode_i64(2));
}

TYPED_TEST(KvContract, PinnedReadsSeeTheValueAndReportAbsence) {
  const std::string chunk = testing::random_bytes(100000, 7);
  auto b = this->kv_->batch();
  b.put(kCfBlobChunk, "id", chunk);
  this->write(b);
  auto pinned = this->kv_->new_pinned();
  auto found = this->kv_->get_pinned(kCfBlobChunk, "id", *pinned);
  ASSERT_TRUE(found);
  EXPECT_TRUE(*found);
  EXPECT_EQ(pinned->view(), chunk);
  auto missing = this->kv_->get_pinned(kCfBlobChunk, "nope", *pinned);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TYPED_TEST(KvContract, AMalformedMergeBaseIsCorruptionNotACrash) {
  auto b = this->kv_->batch();
  b.put(kCfCounter, "bad", "123");  // not 8 bytes
  this->write(b);
  auto m = this->kv_->batch();
  m.merge(kCfCounter, "bad", add_operand(1));
  // RocksDB merges lazily (the read fails), the in-memory backend at write: either
  // way the value never reads back as a number.
  auto w = this->kv_->write(m, KvSync::kIfEnabled);
  if (w) {
    auto v = this->kv_->get(kCfCounter, "bad");
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error(), errc::corrupt);
  } else {
    EXPECT_EQ(w.error(), errc::corrupt);
  }
}

// The whole store over the in-memory backend: deliveries, dedup, chunked reads, fsck.
TEST(InMemoryStore, DeliversDedupsReadsAndFscksClean) {
  auto o = testing::test_options("in-memory");
  o.in_memory = true;
  auto s = testing::open_store(o);
  ASSERT_NE(s, nullptr);
  testing::add_users(*s, {"a@example.test", "b@example.test"});
  const auto att = testing::random_bytes(2500, 11);  // three 1000-byte chunks
  auto r1 = testing::deliver(*s, {{"a@example.test"}, {"b@example.test"}}, {att});
  ASSERT_TRUE(r1) << error_detail(r1.error());
  auto r2 = testing::deliver(*s, {{"a@example.test"}}, {att});
  ASSERT_TRUE(r2) << error_detail(r2.error());
  EXPECT_EQ(r2->new_blob_bytes, 0u);  // the same bytes are shared, after a full compare
  auto m = s->get_message(r1->message_id);
  ASSERT_TRUE(m) << error_detail(m.error());
  EXPECT_EQ(m->refcount, 2);
  ASSERT_EQ(m->record.blob_ids.size(), 1u);
  EXPECT_EQ(testing::read_all(*s, m->record.blob_ids[0]), att);
  testing::expect_fsck_clean(*s);
}

}  // namespace
}  // namespace refmail::storage
