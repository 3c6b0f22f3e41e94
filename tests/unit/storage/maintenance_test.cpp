// tests/unit/storage/maintenance_test.cpp — fsck drift detection and repair, locked
// stores, open errors, checkpoint + restore.
#include <sys/stat.h>

#include "helpers.hpp"

namespace refmail::storage::testing {
namespace {

TEST(Fsck, DetectsAndRepairsDeliberateDrift) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  auto r = deliver(*s, {{"a@x.test"}, {"b@x.test"}}, {random_bytes(3000, 1)});
  ASSERT_TRUE(r);
  auto blob = s->get_message(r->message_id)->record.blob_ids.at(0);
  expect_fsck_clean(*s);

  using D = Store::DebugCount;
  ASSERT_TRUE(s->debug_set_count(D::blob_refcount, blob, 7));
  ASSERT_TRUE(s->debug_set_count(D::message_refcount, r->message_id, 1));
  ASSERT_TRUE(s->debug_set_count(D::grant, std::string("a@x.test") + '\0' + blob, 3));
  ASSERT_TRUE(s->debug_set_count(D::counter, "g/logical_bytes", 42));
  ASSERT_TRUE(s->debug_set_count(D::counter, "ab/b@x.test", 1));

  auto report = s->fsck(false);
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->repaired);
  std::map<std::string, FsckIssue> by_what;
  for (const auto& i : report->issues) by_what[i.what + ":" + i.key] = i;
  ASSERT_EQ(report->issues.size(), 5u);
  EXPECT_EQ(by_what.at("blob_refcount:" + blob).stored, 7);
  EXPECT_EQ(by_what.at("blob_refcount:" + blob).expected, 1);
  EXPECT_EQ(by_what.at("message_refcount:" + r->message_id).expected, 2);
  EXPECT_EQ(by_what.at("grant:a@x.test\\x00" + blob).expected, 1);
  EXPECT_EQ(by_what.at("counter:g/logical_bytes").stored, 42);
  EXPECT_EQ(by_what.count("counter:ab/b@x.test"), 1u);

  auto fixed = s->fsck(true);
  ASSERT_TRUE(fixed);
  EXPECT_TRUE(fixed->repaired);
  EXPECT_EQ(fixed->issues.size(), 5u);
  expect_fsck_clean(*s);
  EXPECT_EQ(s->blob_info(blob)->refcount, 1);
  // Counts work on after the repair: expunging both rows collects everything.
  std::vector<std::uint32_t> a{r->rows[0].uid}, b{r->rows[1].uid};
  ASSERT_TRUE(s->expunge("a@x.test", "INBOX", a));
  ASSERT_TRUE(s->expunge("b@x.test", "INBOX", b));
  EXPECT_FALSE(s->blob_info(blob));
  EXPECT_EQ(s->stats()->logical_bytes, 0u);
  expect_fsck_clean(*s);
}

TEST(Fsck, RepairsAGlobalCounterAndStaysClean) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  ASSERT_TRUE(deliver(*s, {{"a@x.test"}}, {random_bytes(3000, 1)}));
  ASSERT_TRUE(s->debug_set_count(Store::DebugCount::counter, "g/blobs", 9));
  ASSERT_TRUE(s->debug_set_count(Store::DebugCount::counter, "ab/ghost@x.test", 5));
  auto rep = s->fsck(true);
  ASSERT_TRUE(rep);
  ASSERT_EQ(rep->issues.size(), 2u);
  EXPECT_EQ(s->stats()->blobs, 1u);
  expect_fsck_clean(*s);
}

TEST(Open, ASecondOpenIsLocked) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  auto again = Store::open(test_options(dir.path()));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), errc::locked);
  auto line = error_detail(again.error());
  EXPECT_NE(line.find("locked"), std::string::npos) << line;
  EXPECT_NE(line.find(dir.path().string()), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Open, MissingStoreWithoutCreateAndUnwritableFolder) {
  TempDir dir;
  auto o = test_options(dir.path() / "none");
  o.create_if_missing = false;
  auto r = Store::open(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::not_found);
  if (::geteuid() != 0) {  // root ignores permissions
    fs::create_directories(dir.path() / "ro");
    ::chmod((dir.path() / "ro").c_str(), 0500);
    auto p = Store::open(test_options(dir.path() / "ro" / "data"));
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error(), errc::permission_denied);
  }
  // Garbage where the store should be.
  fs::create_directories(dir.path() / "junk");
  {
    std::FILE* f = std::fopen((dir.path() / "junk" / "CURRENT").c_str(), "w");
    std::fputs("MANIFEST-999999\n", f);
    std::fclose(f);
  }
  auto j = Store::open(test_options(dir.path() / "junk"));
  ASSERT_FALSE(j);
  EXPECT_NE(error_detail(j.error()).find("junk"), std::string::npos);
}

TEST(Backup, CheckpointAndRestore) {
  TempDir dir;
  auto data = dir.path() / "data";
  auto cp = dir.path() / "cp";
  auto o = test_options(data);
  std::string first_id, blob_bytes = random_bytes(5000, 3);
  {
    auto s = open_store(o);
    ASSERT_TRUE(s);
    add_users(*s, {"a@x.test"});
    auto r = deliver(*s, {{"a@x.test"}}, {blob_bytes});
    ASSERT_TRUE(r);
    first_id = r->message_id;
    ASSERT_TRUE(s->checkpoint(cp));
    EXPECT_EQ(s->checkpoint(cp).error(), errc::exists);
    ASSERT_TRUE(deliver(*s, {{"a@x.test"}}, {random_bytes(100, 4)}));
    auto locked = Store::restore(cp, data);
    ASSERT_FALSE(locked);
    EXPECT_EQ(locked.error(), errc::locked);
  }
  ASSERT_TRUE(Store::restore(cp, data)) << "restore";
  auto s = open_store(o);
  ASSERT_TRUE(s);
  auto rows = s->list_rows("a@x.test", "INBOX");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].message_id, first_id);
  auto m = s->get_message(first_id);
  ASSERT_TRUE(m);
  EXPECT_EQ(read_all(*s, m->record.blob_ids.at(0)), blob_bytes);
  // The same installation secret came back: the same bytes dedup to the same blob.
  auto r = deliver(*s, {{"a@x.test"}}, {blob_bytes});
  ASSERT_TRUE(r);
  EXPECT_EQ(s->get_message(r->message_id)->record.blob_ids, m->record.blob_ids);
  expect_fsck_clean(*s);
  auto bad = Store::restore(dir.path() / "nothing", data);
  EXPECT_EQ(bad.error(), errc::not_found);
  // A folder that is not a store is never replaced.
  fs::create_directories(dir.path() / "other");
  { std::FILE* f = std::fopen((dir.path() / "other" / "keep.txt").c_str(), "w"); std::fclose(f); }
  EXPECT_EQ(Store::restore(cp, dir.path() / "other").error(), errc::invalid_argument);
  EXPECT_TRUE(fs::exists(dir.path() / "other" / "keep.txt"));
  // Restoring to a new place works too (a fresh machine).
  ASSERT_TRUE(Store::restore(cp, dir.path() / "fresh"));
  auto fresh = open_store(test_options(dir.path() / "fresh"));
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->list_rows("a@x.test", "INBOX")->size(), 1u);
}

}  // namespace
}  // namespace refmail::storage::testing
