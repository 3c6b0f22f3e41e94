// tests/unit/storage/message_index_test.cpp — the message index (Store::message_rows):
// kept in step with the rows by delivery, copy, move, expunge, mailbox and user removal;
// checked and repaired by fsck; built at open for a data folder from before it.
#include "helpers.hpp"
#include "storage/impl.hpp"
#include "storage/rocksdb/kv_rocksdb.hpp"

namespace refmail::storage::testing {
namespace {

std::vector<std::pair<std::string, std::uint32_t>> where(Store& s, const std::string& account,
                                                        const std::string& message_id) {
  auto rows = s.message_rows(account, message_id);
  EXPECT_TRUE(rows) << error_detail(rows.error());
  std::vector<std::pair<std::string, std::uint32_t>> out;
  if (!rows) return out;
  for (const auto& r : *rows) {
    EXPECT_EQ(r.message_id, message_id);
    out.emplace_back(r.mailbox, r.uid);
  }
  std::sort(out.begin(), out.end());
  return out;
}

using Where = std::vector<std::pair<std::string, std::uint32_t>>;

TEST(MessageIndex, FollowsDeliveryCopyMoveAndExpunge) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  auto r = deliver(*s, {{"a@x.test"}, {"b@x.test"}}, {random_bytes(3000, 1)});
  ASSERT_TRUE(r) << error_detail(r.error());
  auto other = deliver(*s, {{"a@x.test"}}, {});
  ASSERT_TRUE(other);
  const auto id = r->message_id;
  EXPECT_EQ(where(*s, "a@x.test", id), (Where{{"INBOX", 1}}));
  EXPECT_EQ(where(*s, "b@x.test", id), (Where{{"INBOX", 1}}));
  EXPECT_EQ(where(*s, "a@x.test", "Mnope"), Where{});
  EXPECT_EQ(where(*s, "a@x.test", ""), Where{});

  ASSERT_TRUE(s->create_mailbox("a@x.test", "Work"));
  auto copied = s->copy_row("a@x.test", "INBOX", 1, "Work", /*move=*/false);
  ASSERT_TRUE(copied) << error_detail(copied.error());
  EXPECT_EQ(where(*s, "a@x.test", id), (Where{{"INBOX", 1}, {"Work", *copied}}));
  auto moved = s->copy_row("a@x.test", "INBOX", 1, "Trash", /*move=*/true);
  ASSERT_TRUE(moved) << error_detail(moved.error());
  EXPECT_EQ(where(*s, "a@x.test", id), (Where{{"Trash", *moved}, {"Work", *copied}}));
  // Keywords change the row, not where it is.
  ASSERT_TRUE(s->set_keywords("a@x.test", "Trash", *moved, {"$seen"}));
  auto rows = s->message_rows("A@X.TEST", id);  // any spelling of the account
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  for (const auto& row : *rows) {
    EXPECT_EQ(row.account, "a@x.test");
    if (row.mailbox == "Trash") EXPECT_EQ(row.keywords, std::vector<std::string>{"$seen"});
  }
  // A renamed mailbox keeps its id: the index needs no change.
  ASSERT_TRUE(s->rename_mailbox("a@x.test", "Work", "Old"));
  EXPECT_EQ(where(*s, "a@x.test", id), (Where{{"Old", *copied}, {"Trash", *moved}}));
  std::vector<std::uint32_t> uids{*moved};
  ASSERT_TRUE(s->expunge("a@x.test", "Trash", uids));
  EXPECT_EQ(where(*s, "a@x.test", id), (Where{{"Old", *copied}}));
  ASSERT_TRUE(s->delete_mailbox("a@x.test", "Old"));
  EXPECT_EQ(where(*s, "a@x.test", id), Where{});
  EXPECT_EQ(where(*s, "b@x.test", id), (Where{{"INBOX", 1}}));
  ASSERT_TRUE(s->remove_user("b@x.test"));
  auto gone = s->message_rows("b@x.test", id);
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->empty());
  EXPECT_EQ(where(*s, "a@x.test", other->message_id), (Where{{"INBOX", 2}}));
  expect_fsck_clean(*s);
}

TEST(MessageIndex, SeveralMessagesAtOnce) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  auto one = deliver(*s, {{"a@x.test"}}, {});
  auto two = deliver(*s, {{"a@x.test"}, {"b@x.test"}}, {});
  auto other = deliver(*s, {{"b@x.test"}}, {});
  ASSERT_TRUE(one && two && other);
  ASSERT_TRUE(s->copy_row("a@x.test", "INBOX", 2, "Archive", false));
  const std::vector<std::string> ids{two->message_id, one->message_id, other->message_id, "Mnope", "",
                                     two->message_id};
  auto m = s->message_rows("a@x.test", ids);
  ASSERT_TRUE(m) << error_detail(m.error());
  ASSERT_EQ(m->size(), 5u);  // every distinct id is a key
  EXPECT_EQ(m->at(one->message_id).size(), 1u);
  ASSERT_EQ(m->at(two->message_id).size(), 2u);  // INBOX and Archive, once each
  EXPECT_TRUE(m->at(other->message_id).empty());  // b's message, not a's
  EXPECT_TRUE(m->at("Mnope").empty());
  EXPECT_TRUE(m->at("").empty());
  for (const auto& r : m->at(two->message_id)) EXPECT_EQ(r.account, "a@x.test");
  EXPECT_FALSE(s->message_rows("not an address", ids));
}

// Deletes the index (and its "complete" mark), as a data folder from before it has none,
// and adds a stale key, through the backend seam.
void damage_index(const StoreOptions& o, bool drop_mark) {
  auto kv = rocksdb_backend::open(o);
  ASSERT_TRUE(kv) << error_detail(kv.error());
  auto b = (*kv)->batch();
  b.delete_range(kCfMailbox, "E", "F");
  if (drop_mark) b.del(kCfDefault, kIndexFormatKey);
  b.put(kCfMailbox, message_index_key("a@x.test", "Mstale", 7, 9), {});
  ASSERT_TRUE((*kv)->write(b, KvSync::kAlways));
}

// A store with one message for a@x.test, in INBOX (uid 1) and, with `copy`, Archive (uid 1).
std::string one_message_store(const StoreOptions& o, bool copy) {
  auto s = open_store(o);
  EXPECT_TRUE(s);
  if (!s) return {};
  add_users(*s, {"a@x.test"});
  auto r = deliver(*s, {{"a@x.test"}}, {random_bytes(2000, 2)});
  EXPECT_TRUE(r);
  if (!r) return {};
  if (copy) EXPECT_TRUE(s->copy_row("a@x.test", "INBOX", 1, "Archive", false));
  return r->message_id;
}

TEST(MessageIndex, BuiltAtOpenForAStoreWithoutOne) {
  TempDir dir;
  const auto o = test_options(dir.path());
  const std::string id = one_message_store(o, /*copy=*/true);
  ASSERT_FALSE(id.empty());
  damage_index(o, /*drop_mark=*/true);
  auto s = open_store(o);
  ASSERT_TRUE(s);
  EXPECT_EQ(where(*s, "a@x.test", id), (Where{{"Archive", 1}, {"INBOX", 1}}));
  // The build indexes rows; it does not vouch for keys it did not write: fsck does.
  auto rep = s->fsck(/*repair=*/false);
  ASSERT_TRUE(rep);
  ASSERT_EQ(rep->issues.size(), 1u);
  EXPECT_EQ(rep->issues[0].what, "stale_message_index");
}

TEST(MessageIndex, FsckFindsAndRepairsDrift) {
  TempDir dir;
  const auto o = test_options(dir.path());
  const std::string id = one_message_store(o, /*copy=*/false);
  ASSERT_FALSE(id.empty());
  damage_index(o, /*drop_mark=*/false);  // marked complete, but wrong: only fsck can tell
  {
    auto s = open_store(o);
    ASSERT_TRUE(s);
    EXPECT_EQ(where(*s, "a@x.test", id), Where{});
    auto rep = s->fsck(/*repair=*/false);
    ASSERT_TRUE(rep);
    std::vector<std::string> what;
    for (const auto& i : rep->issues) what.push_back(i.what);
    std::sort(what.begin(), what.end());
    EXPECT_EQ(what, (std::vector<std::string>{"missing_message_index", "stale_message_index"}));
  }
  {
    auto s = open_store(o);
    ASSERT_TRUE(s);
    auto fixed = s->fsck(/*repair=*/true);
    ASSERT_TRUE(fixed) << error_detail(fixed.error());
    EXPECT_TRUE(fixed->repaired);
    EXPECT_EQ(where(*s, "a@x.test", id), (Where{{"INBOX", 1}}));
    expect_fsck_clean(*s);
  }
}

}  // namespace
}  // namespace refmail::storage::testing
