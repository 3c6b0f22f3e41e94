// tests/unit/storage/fsck_orphans_test.cpp — damage the store behind its back (raw
// RocksDB writes while it is closed) and check that fsck names each orphan and that
// repair leaves it clean: a chunk with no blob, a SHA-256 index entry pointing
// nowhere, a blob missing from the index, a row pointing to no message, a message no
// row references.
#include <rocksdb/db.h>

#include "helpers.hpp"

namespace refmail::storage::testing {
namespace {

constexpr const char* kCfs[] = {"default", "blob_meta", "blob_sha256", "blob_chunk",
                                "message", "mailbox",   "account",     "grant",
                                "queue",   "import",    "counter"};

struct RawDb {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> h;
  explicit RawDb(const fs::path& p) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfds;
    for (auto* n : kCfs) cfds.emplace_back(n, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::Open(rocksdb::DBOptions(), p.string(), cfds, &h, &raw);
    EXPECT_TRUE(s.ok()) << s.ToString();
    db.reset(raw);
  }
  ~RawDb() {
    for (auto* x : h) (void)db->DestroyColumnFamilyHandle(x);
    (void)db->Close();
  }
  rocksdb::ColumnFamilyHandle* cf(std::string_view name) {
    for (std::size_t i = 0; i < std::size(kCfs); ++i)
      if (name == kCfs[i]) return h[i];
    return nullptr;
  }
};

TEST(Fsck, FindsAndRepairsOrphans) {
  TempDir dir;
  auto o = test_options(dir.path());
  std::string kept_blob, dropped_message;
  Sha256 kept_sha{};
  {
    auto s = open_store(o);
    ASSERT_TRUE(s);
    add_users(*s, {"a@x.test"});
    auto r = deliver(*s, {{"a@x.test"}}, {random_bytes(2500, 1)});
    ASSERT_TRUE(r);
    kept_blob = s->get_message(r->message_id)->record.blob_ids.at(0);
    kept_sha = s->blob_info(kept_blob)->sha256;
    auto r2 = deliver(*s, {{"a@x.test"}}, {});
    ASSERT_TRUE(r2);
    dropped_message = r2->message_id;
    // Flush and fully merge everything, so the raw open below (which has no merge
    // operators) replays no WAL merges.
    ASSERT_TRUE(s->compact());
  }
  {
    RawDb raw(dir.path());
    ASSERT_TRUE(raw.db);
    rocksdb::WriteOptions wo;
    std::string orphan_chunk = std::string("ffffffffffffffffffffffffffffffff") + '\0' +
                               std::string("\0\0\0\0", 4);
    ASSERT_TRUE(raw.db->Put(wo, raw.cf("blob_chunk"), orphan_chunk, "junk").ok());
    ASSERT_TRUE(raw.db->Put(wo, raw.cf("blob_sha256"), std::string(32, 'z'), "nowhere").ok());
    ASSERT_TRUE(raw.db->Delete(wo, raw.cf("blob_sha256"),
                               rocksdb::Slice(reinterpret_cast<const char*>(kept_sha.data()), 32))
                    .ok());
    // The second message loses its row (and so becomes unreferenced) ...
    std::unique_ptr<rocksdb::Iterator> it(raw.db->NewIterator(rocksdb::ReadOptions(), raw.cf("mailbox")));
    std::string last_row;
    for (it->Seek("R"); it->Valid() && it->key()[0] == 'R'; it->Next()) last_row = it->key().ToString();
    ASSERT_FALSE(last_row.empty()) << it->status().ToString();
    ASSERT_TRUE(raw.db->Delete(wo, raw.cf("mailbox"), last_row).ok());
    // ... and a row appears that points to a message that does not exist.
    std::string bogus = last_row;
    bogus.back() = static_cast<char>(0x7f);
    std::string value;
    value.append("\x05\0\0\0Mnone", 9);
    value.append(std::string(8, '\0'));   // internal date
    value.append(std::string(8, '\0'));   // logical size
    value.append(std::string(4, '\0'));   // no keywords
    ASSERT_TRUE(raw.db->Put(wo, raw.cf("mailbox"), bogus, value).ok());
  }
  auto s = open_store(o);
  ASSERT_TRUE(s);
  auto rep = s->fsck(false);
  ASSERT_TRUE(rep);
  std::set<std::string> whats;
  for (const auto& i : rep->issues) whats.insert(i.what);
  for (auto w : {"orphan_chunk", "orphan_sha_index", "missing_sha_index", "dangling_row",
                 "unreferenced_message", "counter"})
    EXPECT_TRUE(whats.count(w)) << "fsck did not report " << w;
  auto fixed = s->fsck(true);
  ASSERT_TRUE(fixed);
  EXPECT_TRUE(fixed->repaired);
  expect_fsck_clean(*s);
  EXPECT_FALSE(s->get_message(dropped_message));
  EXPECT_EQ(*s->find_blob_by_sha256(kept_sha), kept_blob);
  EXPECT_EQ(s->list_rows("a@x.test", "INBOX")->size(), 1u);
  EXPECT_EQ(s->stats()->mailbox_rows, 1u);
}

// Sieve scripts and an active copy of an account that no longer exists (remove_user
// deletes them; a crash or a bug must not leave them to a re-created account).
TEST(Fsck, FindsAndRepairsSieveScriptsOfARemovedAccount) {
  TempDir dir;
  auto o = test_options(dir.path());
  {
    auto s = open_store(o);
    ASSERT_TRUE(s);
    add_users(*s, {"a@x.test"});
    ASSERT_TRUE(s->sieve_put("a@x.test", "mine", "keep;", SieveLimits{}));
    ASSERT_TRUE(s->sieve_activate("a@x.test", "mine"));
    ASSERT_TRUE(s->compact());
  }
  {
    RawDb raw(dir.path());
    ASSERT_TRUE(raw.db);
    rocksdb::WriteOptions wo;
    ASSERT_TRUE(raw.db->Put(wo, raw.cf("account"), std::string("kgone@x.test\0old", 16), "\x01keep;").ok());
    ASSERT_TRUE(raw.db->Put(wo, raw.cf("account"), "Kgone@x.test", std::string("\x01\x03\0\0\0oldkeep;", 13)).ok());
    ASSERT_TRUE(raw.db->Put(wo, raw.cf("account"), std::string("vgone@x.test\0vacation:k", 23), "12345678").ok());
    ASSERT_TRUE(raw.db->Put(wo, raw.cf("account"), "Wgone@x.test", "\x01\x01").ok());
  }
  auto s = open_store(o);
  ASSERT_TRUE(s);
  auto rep = s->fsck(false);
  ASSERT_TRUE(rep);
  std::size_t orphans = 0;
  for (const auto& i : rep->issues) orphans += i.what == "orphan_sieve_script";
  EXPECT_EQ(orphans, 2u);  // the script and the active copy, each once
  std::size_t memos = 0;
  for (const auto& i : rep->issues) memos += i.what == "orphan_sieve_memo";
  EXPECT_EQ(memos, 1u);  // a vacation memo (Store::sieve_remember)
  std::size_t vacations = 0;
  for (const auto& i : rep->issues) vacations += i.what == "orphan_vacation";
  EXPECT_EQ(vacations, 1u);  // the vacation settings (Store::vacation_set)
  ASSERT_TRUE(s->fsck(true));
  expect_fsck_clean(*s);
  EXPECT_FALSE(*s->sieve_active("gone@x.test"));
  EXPECT_EQ((*s->sieve_active("a@x.test"))->name, "mine");  // the live account keeps its own
  EXPECT_EQ(s->sieve_list("a@x.test")->size(), 1u);
}

}  // namespace
}  // namespace refmail::storage::testing
