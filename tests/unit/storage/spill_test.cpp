// tests/unit/storage/spill_test.cpp — staged blobs that spill to the store while they
// arrive (local_state.hpp StagedBlob): bounded memory, exact bytes and SHA-256,
// dedup against stored and concurrently staged bytes, nothing left behind by an
// abandoned delivery, a dedup hit, or a crash, and old (version 1) blob metas.
#include <openssl/sha.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "helpers.hpp"
#include "storage/impl.hpp"

namespace refmail::storage::testing {
namespace {

std::uint64_t staging(Store& s) {
  auto r = s.fsck(false);
  EXPECT_TRUE(r) << error_detail(r.error());
  return r ? r->blobs_staging : 0;
}

Sha256 sha256_of(std::string_view bytes) {
  Sha256 d{};
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), d.data());
  return d;
}

// Streams `bytes` into the delivery's sink in pieces of `piece` bytes; returns the
// largest held_bytes() seen.
std::size_t stream_blob(Delivery& d, std::string_view bytes, std::size_t piece, std::string* id) {
  auto& sink = d.blob_sink();
  sink.begin();
  std::size_t peak = 0;
  for (std::size_t off = 0; off < bytes.size(); off += piece) {
    auto n = std::min(piece, bytes.size() - off);
    sink.append(std::span<const char>(bytes.data() + off, n));
    peak = std::max(peak, d.held_bytes());
  }
  auto r = sink.commit();
  EXPECT_TRUE(r) << error_detail(r.error());
  if (r) *id = *r;
  return peak;
}

// A message of one blob with one INBOX row for `rcpt`, committed.
result<DeliveryReceipt> finish(Delivery& d, const std::string& blob_id, std::uint64_t blob_size,
                               const std::string& rcpt) {
  MessageRecord m;
  m.skeleton = "Subject: " + rcpt + "\r\n\r\nx\r\n";
  m.summary = "summary";
  m.blob_ids = {blob_id};
  m.logical_size = m.skeleton.size() + blob_size;
  d.set_message(std::move(m));
  d.add_mailbox_row(rcpt, "INBOX");
  return d.commit();
}

TEST(Spill, LargeBlobHoldsOneChunkAndReadsBackExactly) {
  TempDir dir;
  auto s = open_store(test_options(dir.path(), 1000));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  const auto att = random_bytes(200'003, 11);  // 201 chunks, the last one partial
  auto d = s->begin_delivery();
  std::string id;
  const auto peak = stream_blob(d, att, 333, &id);
  EXPECT_LE(peak, 1000u + 64u);  // one chunk's buffer, whatever the blob's size
  EXPECT_EQ(staging(*s), 1u);     // written, not yet adopted
  // The staged source reads the spilled bytes before the commit.
  std::string back(att.size(), '\0');
  auto n = d.staged_source().read(id, 0, back);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, att.size());
  EXPECT_EQ(back, att);
  auto r = finish(d, id, att.size(), "a@x.test");
  ASSERT_TRUE(r) << error_detail(r.error());
  EXPECT_EQ(r->new_blob_bytes, att.size());
  EXPECT_EQ(staging(*s), 0u);
  EXPECT_EQ(read_all(*s, id), att);
  auto info = s->blob_info(id);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size_bytes, att.size());
  EXPECT_EQ(info->sha256, sha256_of(att));
  auto by_sha = s->find_blob_by_sha256(sha256_of(att));
  ASSERT_TRUE(by_sha);
  EXPECT_EQ(*by_sha, id);
  expect_fsck_clean(*s);
  // The adopted chunks survive a reopen (they were written unsynced, before the commit).
  s.reset();
  s = open_store(test_options(dir.path(), 1000));
  ASSERT_TRUE(s);
  EXPECT_EQ(read_all(*s, id), att);
  expect_fsck_clean(*s);
}

TEST(Spill, ManySmallBlobsSpillPastTheMemoryBudget) {
  TempDir dir;
  auto s = open_store(test_options(dir.path(), kMaxChunkBytes));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  std::vector<std::string> atts;
  for (std::uint32_t i = 0; i < 12; ++i) atts.push_back(random_bytes(900'000, 100 + i));  // 10.8 MB
  auto d = s->begin_delivery();
  MessageRecord m;
  m.skeleton = "Subject: s\r\n\r\nx\r\n";
  m.summary = "summary";
  m.logical_size = m.skeleton.size();
  std::size_t peak = 0;
  for (const auto& a : atts) {
    std::string id;
    peak = std::max(peak, stream_blob(d, a, 65536, &id));
    peak = std::max(peak, d.held_bytes());
    m.blob_ids.push_back(id);
    m.logical_size += a.size();
  }
  EXPECT_LE(peak, (std::size_t{4} << 20) + kMaxChunkBytes);
  d.set_message(std::move(m));
  d.add_mailbox_row("a@x.test", "INBOX");
  auto r = d.commit();
  ASSERT_TRUE(r) << error_detail(r.error());
  auto got = s->get_message(r->message_id);
  ASSERT_TRUE(got);
  for (std::size_t i = 0; i < atts.size(); ++i) EXPECT_EQ(read_all(*s, got->record.blob_ids[i]), atts[i]);
  EXPECT_EQ(staging(*s), 0u);
  expect_fsck_clean(*s);
}

TEST(Spill, SameBytesAsAStoredBlobShareItAndDropTheSpillAtOnce) {
  TempDir dir;
  auto s = open_store(test_options(dir.path(), 1000));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  const auto att = random_bytes(7'500, 3);
  auto r1 = deliver(*s, {{"a@x.test"}}, {att});
  ASSERT_TRUE(r1);
  auto d = s->begin_delivery();
  std::string id;
  stream_blob(d, att, 1000, &id);
  EXPECT_EQ(staging(*s), 0u);  // the duplicate's spill is gone before the commit
  std::string back(att.size(), '\0');
  auto n = d.staged_source().read(id, 0, back);  // now read from the stored blob
  ASSERT_TRUE(n);
  EXPECT_EQ(back, att);
  auto r2 = finish(d, id, att.size(), "b@x.test");
  ASSERT_TRUE(r2) << error_detail(r2.error());
  EXPECT_EQ(r2->new_blob_bytes, 0u);
  EXPECT_EQ(s->get_message(r1->message_id)->record.blob_ids, std::vector<std::string>{id});
  EXPECT_EQ(s->blob_info(id)->refcount, 2);
  EXPECT_EQ(read_all(*s, id), att);
  expect_fsck_clean(*s);
}

TEST(Spill, TwoDeliveriesStagingTheSameBytesWriteOneBlob) {
  TempDir dir;
  auto s = open_store(test_options(dir.path(), 1000));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  const auto att = random_bytes(12'345, 4);
  auto first = s->begin_delivery();
  auto second = s->begin_delivery();
  std::string id1, id2;
  stream_blob(first, att, 4096, &id1);
  stream_blob(second, att, 999, &id2);
  ASSERT_EQ(id1, id2);
  EXPECT_EQ(staging(*s), 1u);  // the second shares the first's spill
  // The second commits first and writes the shared bytes; then the first is abandoned.
  auto r2 = finish(second, id1, att.size(), "b@x.test");
  ASSERT_TRUE(r2) << error_detail(r2.error());
  EXPECT_EQ(r2->new_blob_bytes, att.size());
  { auto gone = std::move(first); }
  EXPECT_EQ(staging(*s), 0u);
  EXPECT_EQ(read_all(*s, id1), att);
  EXPECT_EQ(s->blob_info(id1)->refcount, 1);
  expect_fsck_clean(*s);
}

TEST(Spill, AbandonedDeliveryAndDiscardedCandidateLeaveNothing) {
  TempDir dir;
  auto s = open_store(test_options(dir.path(), 1000));
  ASSERT_TRUE(s);
  {
    auto d = s->begin_delivery();
    std::string id;
    stream_blob(d, random_bytes(50'000, 5), 512, &id);
    auto& sink = d.blob_sink();
    sink.begin();
    const auto part = random_bytes(9'000, 6);
    sink.append(part);
    EXPECT_EQ(staging(*s), 2u);
    sink.discard();
    EXPECT_EQ(staging(*s), 1u);
  }
  EXPECT_EQ(staging(*s), 0u);
  expect_fsck_clean(*s);
  auto st = s->stats();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->blobs, 0u);
}

constexpr const char* kSpillChildEnv = "REFMAIL_STORAGE_SPILL_CHILD";

// Stages a spilled blob and dies by SIGKILL before any commit. Skipped unless started
// by the test below (this binary re-executed, so RocksDB starts with fresh threads).
TEST(SpillChild, StagesAndDies) {
  const char* env = std::getenv(kSpillChildEnv);
  if (env == nullptr) GTEST_SKIP() << "only runs as the leftover-spill test's child";
  auto s = open_store(test_options(env, 1000));
  if (!s) ::_exit(2);
  auto d = s->begin_delivery();
  std::string id;
  stream_blob(d, random_bytes(30'000, 9), 700, &id);
  if (staging(*s) != 1) ::_exit(3);
  ::raise(SIGKILL);
}

TEST(Spill, LeftoverSpillOfACrashIsSweptAtOpen) {
  TempDir dir;
  const auto data = dir.path() / "data";
  {
    auto s = open_store(test_options(data, 1000));
    ASSERT_TRUE(s);
  }
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv(kSpillChildEnv, data.c_str(), 1);
    ::execl("/proc/self/exe", "unit_storage", "--gtest_filter=SpillChild.StagesAndDies", nullptr);
    ::_exit(127);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child did not stage a spill and die (status " << status << ")";
  auto s = open_store(test_options(data, 1000));
  ASSERT_TRUE(s);
  EXPECT_EQ(staging(*s), 0u);
  expect_fsck_clean(*s);  // and no orphan chunks either
}

TEST(Spill, VersionOneMetaStillDecodesAndNewOnlyWhenSpilled) {
  BlobMeta m;
  m.refcount = 3;
  m.has_record = true;
  m.size = 10;
  m.chunk_count = 1;
  m.chunk_bytes = 10;
  m.first_seen = 42;
  auto v1 = encode_blob_meta(m);
  EXPECT_EQ(v1[8], '\1');  // no physical id: the format older builds read
  auto d1 = decode_blob_meta(v1);
  ASSERT_TRUE(d1);
  EXPECT_TRUE(d1->physical.empty());
  EXPECT_EQ(d1->chunk_id("abc"), "abc");
  m.physical = "~ff";
  auto v2 = encode_blob_meta(m);
  EXPECT_EQ(v2[8], '\2');
  auto d2 = decode_blob_meta(v2);
  ASSERT_TRUE(d2);
  EXPECT_EQ(d2->physical, "~ff");
  EXPECT_EQ(d2->chunk_id("abc"), "~ff");
  EXPECT_EQ(d2->refcount, 3);
  v2.pop_back();
  EXPECT_FALSE(decode_blob_meta(v2));
}

}  // namespace
}  // namespace refmail::storage::testing
