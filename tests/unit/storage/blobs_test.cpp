// tests/unit/storage/blobs_test.cpp — dedup, forced hash collisions, range reads
// across chunk borders, the BlobSink contract (streamed appends, discard), SHA-256.
#include <openssl/sha.h>

#include "helpers.hpp"

namespace refmail::storage::testing {
namespace {

TEST(Blobs, SameBytesTwiceAreOneBlobWithRefcountTwo) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  auto att = random_bytes(5000, 1);
  auto r1 = deliver(*s, {{"a@x.test"}}, {att});
  auto r2 = deliver(*s, {{"b@x.test"}}, {att});
  ASSERT_TRUE(r1 && r2);
  auto m1 = s->get_message(r1->message_id);
  auto m2 = s->get_message(r2->message_id);
  ASSERT_TRUE(m1 && m2);
  ASSERT_EQ(m1->record.blob_ids.size(), 1u);
  EXPECT_EQ(m1->record.blob_ids, m2->record.blob_ids);
  const auto id = m1->record.blob_ids[0];
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  auto info = s->blob_info(id);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->refcount, 2);
  EXPECT_EQ(info->size_bytes, 5000u);
  EXPECT_EQ(r1->new_blob_bytes, 5000u);
  EXPECT_EQ(r2->new_blob_bytes, 0u);
  auto st = s->stats();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->blobs, 1u);
  EXPECT_EQ(st->messages, 2u);
  EXPECT_EQ(read_all(*s, id), att);
  EXPECT_GT(st->saving_ratio, 0.4);
  expect_fsck_clean(*s);
}

TEST(Blobs, ForcedCollisionGivesTwoIdsAndBothReadBackIntact) {
  TempDir dir;
  auto o = test_options(dir.path());
  o.blob_hash_override = [](std::string_view) { return std::string(32, 'c'); };
  auto s = open_store(o);
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  auto a = random_bytes(3000, 1), b = random_bytes(3000, 2), c = random_bytes(10, 3);
  auto r = deliver(*s, {{"a@x.test"}}, {a, b, c});
  ASSERT_TRUE(r) << error_detail(r.error());
  auto m = s->get_message(r->message_id);
  ASSERT_TRUE(m);
  const std::string base(32, 'c');
  ASSERT_EQ(m->record.blob_ids, (std::vector<std::string>{base, base + "-1", base + "-2"}));
  EXPECT_EQ(read_all(*s, base), a);
  EXPECT_EQ(read_all(*s, base + "-1"), b);
  EXPECT_EQ(read_all(*s, base + "-2"), c);
  // The same bytes again find their own id behind the shared hash.
  auto r2 = deliver(*s, {{"a@x.test"}}, {b});
  ASSERT_TRUE(r2);
  auto m2 = s->get_message(r2->message_id);
  EXPECT_EQ(m2->record.blob_ids, std::vector<std::string>{base + "-1"});
  EXPECT_EQ(s->blob_info(base + "-1")->refcount, 2);
  EXPECT_EQ(s->blob_info(base)->refcount, 1);
  expect_fsck_clean(*s);
}

TEST(Blobs, RangeReadsAcrossChunkBorders) {
  TempDir dir;
  auto s = open_store(test_options(dir.path(), 1000));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  auto att = random_bytes(10007, 7);
  auto r = deliver(*s, {{"a@x.test"}}, {att});
  ASSERT_TRUE(r);
  auto id = s->get_message(r->message_id)->record.blob_ids.at(0);
  struct Case { std::uint64_t off; std::size_t len; };
  for (auto c : {Case{0, 1000}, Case{0, 1001}, Case{999, 2}, Case{999, 1002}, Case{1000, 1000},
                 Case{4321, 3333}, Case{10000, 100}, Case{10006, 1}, Case{0, 20000}}) {
    std::string buf(c.len, '\0');
    auto n = s->read_blob(id, c.off, buf);
    ASSERT_TRUE(n);
    auto want = att.substr(c.off, c.len);
    ASSERT_EQ(*n, want.size()) << c.off << "+" << c.len;
    EXPECT_EQ(buf.substr(0, *n), want) << c.off << "+" << c.len;
  }
  std::string buf(10, '\0');
  EXPECT_EQ(*s->read_blob(id, 10007, buf), 0u);
  EXPECT_EQ(*s->read_blob(id, 99999, buf), 0u);
  // Through the joiner's interface.
  auto n = s->blob_source().read(id, 1995, std::span<char>(buf));
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buf.data(), *n), att.substr(1995, 10));
  auto missing = s->read_blob("0123456789abcdef0123456789abcdef", 0, buf);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), errc::not_found);
}

TEST(Blobs, SinkStreamsAppendsAndForgetsDiscardedCandidates) {
  TempDir dir;
  auto s = open_store(test_options(dir.path(), 64));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  auto att = random_bytes(1000, 9);
  auto d = s->begin_delivery();
  auto& sink = d.blob_sink();
  sink.begin();
  sink.append(std::span<const char>(att.data(), 10));
  sink.discard();  // the splitter decided to keep this part in the skeleton
  sink.begin();
  for (std::size_t i = 0; i < att.size(); i += 37)
    sink.append(std::span<const char>(att.data() + i, std::min<std::size_t>(37, att.size() - i)));
  auto id = sink.commit();
  ASSERT_TRUE(id);
  // The streamed id equals the one-shot id of the same bytes.
  auto d2 = s->begin_delivery();
  auto id2 = d2.put_blob(att);
  ASSERT_TRUE(id2);
  EXPECT_EQ(*id, *id2);
  d.set_message(MessageRecord{"skel", "sum", {*id}, 1004});
  d.add_mailbox_row("a@x.test");
  ASSERT_TRUE(d.commit());
  EXPECT_EQ(read_all(*s, *id), att);
  auto st = s->stats();
  EXPECT_EQ(st->blobs, 1u);  // the discarded candidate left nothing
  EXPECT_EQ(st->physical_bytes, 1000u + 4 + 3);
  // d2 never committed: nothing of it is stored, and its pin is gone.
}

TEST(Blobs, Sha256IndexAndGrantedLookup) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  auto att = random_bytes(2500, 11);
  auto r = deliver(*s, {{"a@x.test"}}, {att});
  ASSERT_TRUE(r);
  Sha256 digest;
  SHA256(reinterpret_cast<const unsigned char*>(att.data()), att.size(), digest.data());
  auto id = s->find_blob_by_sha256(digest);
  ASSERT_TRUE(id);
  EXPECT_EQ(s->blob_info(*id)->sha256, digest);
  EXPECT_TRUE(s->find_granted_blob_by_sha256("a@x.test", digest));
  auto other = s->find_granted_blob_by_sha256("b@x.test", digest);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error(), errc::not_found);
  EXPECT_EQ(*s->grant_count("A@X.TEST", *id), 1);
  EXPECT_EQ(*s->grant_count("b@x.test", *id), 0);
  Sha256 zero{};
  EXPECT_FALSE(s->find_blob_by_sha256(zero));
}

TEST(Blobs, ReferencingAnUnknownBlobFailsAndWritesNothing) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  auto d = s->begin_delivery();
  d.set_message(MessageRecord{"skel", "sum", {"0123456789abcdef0123456789abcdef"}, 10});
  d.add_mailbox_row("a@x.test");
  auto r = d.commit();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::not_found);
  EXPECT_EQ(s->stats()->messages, 0u);
}

}  // namespace
}  // namespace refmail::storage::testing
