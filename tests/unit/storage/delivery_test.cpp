// tests/unit/storage/delivery_test.cpp — atomic deliveries, grants and counters,
// quota, mailboxes and UIDs (also across reopen), copy/move, keywords, the relay
// queue, and expunge + GC back to zero.
#include "helpers.hpp"

namespace refmail::storage::testing {
namespace {

TEST(Delivery, AllRowsGrantsAndCountersArriveTogether) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@y.test"});
  auto att1 = random_bytes(4000, 1), att2 = random_bytes(10, 2);
  auto d = s->begin_delivery();
  auto id1 = d.put_blob(att1);
  auto id2 = d.put_blob(att2);
  ASSERT_TRUE(id1 && id2);
  d.set_message(MessageRecord{"skeleton", "summary", {*id1, *id2}, 5000});
  d.add_mailbox_row("a@x.test");
  d.add_mailbox_row("A@X.test", "Archive", {"$seen"});
  d.add_mailbox_row("b@y.test", "inbox");
  d.add_queue_row("MAIL FROM:<a@x.test> RCPT TO:<z@far.test>", UnixSeconds(std::chrono::seconds(100)));
  auto r = d.commit();
  ASSERT_TRUE(r) << error_detail(r.error());
  ASSERT_EQ(r->rows.size(), 3u);
  EXPECT_EQ(r->rows[0].uid, 1u);
  EXPECT_EQ(r->rows[1].mailbox, "Archive");
  EXPECT_EQ(r->rows[2].mailbox, "INBOX");
  ASSERT_EQ(r->queue_ids.size(), 1u);

  auto m = s->get_message(r->message_id);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->refcount, 4);  // three rows + one queue row
  EXPECT_EQ(m->record.skeleton, "skeleton");
  EXPECT_EQ(m->record.summary, "summary");
  EXPECT_EQ(*s->grant_count("a@x.test", *id1), 2);
  EXPECT_EQ(*s->grant_count("b@y.test", *id2), 1);
  auto rows = s->list_rows("a@x.test", "Archive");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].message_id, r->message_id);
  EXPECT_EQ((*rows)[0].keywords, std::vector<std::string>{"$seen"});
  EXPECT_EQ((*rows)[0].logical_size, 5000u);

  auto st = s->stats();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->logical_bytes, 15000u);
  EXPECT_EQ(st->physical_bytes, 4010u + 8 + 7);
  EXPECT_EQ(st->mailbox_rows, 3u);
  EXPECT_EQ(st->per_account["a@x.test"].logical_bytes, 10000u);
  EXPECT_EQ(st->per_account["a@x.test"].messages, 2u);
  EXPECT_EQ(st->per_domain["y.test"].logical_bytes, 5000u);
  EXPECT_NEAR(st->saving_ratio, 1.0 - 4025.0 / 15000.0, 1e-9);

  auto q = s->due_queue(UnixSeconds(std::chrono::seconds(1000)), 10);
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].message_id, r->message_id);
  EXPECT_TRUE(s->due_queue(UnixSeconds(std::chrono::seconds(99)), 10)->empty());
  expect_fsck_clean(*s);
}

TEST(Delivery, AFailingRowWritesNothing) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  auto before = *s->stats();
  auto r = deliver(*s, {{"a@x.test"}, {"a@x.test", "NoSuchBox"}}, {random_bytes(3000, 1)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::not_found);
  EXPECT_NE(error_detail(r.error()).find("NoSuchBox"), std::string::npos);
  auto r2 = deliver(*s, {{"nobody@x.test"}}, {});
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error(), errc::not_found);
  auto after = *s->stats();
  EXPECT_EQ(after.physical_bytes, before.physical_bytes);
  EXPECT_EQ(after.blobs, 0u);
  EXPECT_EQ(after.messages, 0u);
  EXPECT_TRUE(s->list_rows("a@x.test", "INBOX")->empty());
  expect_fsck_clean(*s);
}

TEST(Delivery, QuotaRefusesTheWholeDelivery) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  ASSERT_TRUE(s->set_quota("b@x.test", 6000));
  ASSERT_TRUE(deliver(*s, {{"a@x.test"}, {"b@x.test"}}, {random_bytes(4000, 1)}));
  auto r = deliver(*s, {{"a@x.test"}, {"b@x.test"}}, {random_bytes(4000, 2)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::quota_exceeded);
  EXPECT_NE(error_detail(r.error()).find("b@x.test"), std::string::npos);
  EXPECT_EQ(s->list_rows("a@x.test", "INBOX")->size(), 1u);
  EXPECT_EQ(s->stats()->blobs, 1u);
  auto u = s->get_user("b@x.test");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->quota_bytes, 6000u);
  EXPECT_GT(u->used_bytes, 4000u);
  expect_fsck_clean(*s);
}

// Hardening item 1: one full mailbox never costs another recipient its copy.
TEST(Delivery, PerRecipientQuotaLeavesOutOnlyTheFullAccount) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  ASSERT_TRUE(s->set_quota("b@x.test", 3000));
  auto d = s->begin_delivery();
  d.set_per_recipient_quota();
  auto id = d.put_blob(random_bytes(5000, 1));
  ASSERT_TRUE(id);
  d.set_message(MessageRecord{"skeleton", "summary", {*id}, 5008});
  d.add_mailbox_row("a@x.test");
  d.add_mailbox_row("b@x.test");
  d.add_mailbox_row("b@x.test", "Archive");
  auto r = d.commit();
  ASSERT_TRUE(r) << error_detail(r.error());
  EXPECT_EQ(r->over_quota, std::vector<std::string>{"b@x.test"});
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(r->rows[0].account, "a@x.test");
  EXPECT_EQ(s->list_rows("a@x.test", "INBOX")->size(), 1u);
  EXPECT_TRUE(s->list_rows("b@x.test", "INBOX")->empty());
  EXPECT_TRUE(s->list_rows("b@x.test", "Archive")->empty());
  EXPECT_EQ(*s->grant_count("b@x.test", *id), 0);
  EXPECT_EQ(s->get_message(r->message_id)->refcount, 1);
  EXPECT_EQ(s->get_user("b@x.test")->used_bytes, 0u);
  expect_fsck_clean(*s);
}

TEST(Delivery, PerRecipientQuotaFailsWhenNobodyIsLeft) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  ASSERT_TRUE(s->set_quota("a@x.test", 100));
  ASSERT_TRUE(s->set_quota("b@x.test", 100));
  auto d = s->begin_delivery();
  d.set_per_recipient_quota();
  auto id = d.put_blob(random_bytes(5000, 2));
  ASSERT_TRUE(id);
  d.set_message(MessageRecord{"skeleton", "summary", {*id}, 5008});
  d.add_mailbox_row("a@x.test");
  d.add_mailbox_row("b@x.test");
  auto r = d.commit();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::quota_exceeded);
  EXPECT_NE(error_detail(r.error()).find("a@x.test, b@x.test"), std::string::npos);
  EXPECT_EQ(s->stats()->messages, 0u);
  EXPECT_EQ(s->stats()->blobs, 0u);
  expect_fsck_clean(*s);
}

// Hardening item 4: an upload hold's bytes count against the uploader's quota until
// the hold is released, and fsck agrees with the counter.
TEST(Delivery, UploadHoldsCountAgainstQuotaUntilReleased) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  ASSERT_TRUE(s->set_quota("a@x.test", 10000));
  auto hold = [&](std::uint64_t seed) {
    auto d = s->begin_delivery();
    auto bytes = random_bytes(4000, seed);
    auto id = d.put_blob(bytes);
    EXPECT_TRUE(id);
    d.set_message(MessageRecord{"", "", {*id}, 0});
    d.add_upload_hold("a@x.test", UnixSeconds(std::chrono::seconds(std::int64_t(1) << 40)), bytes.size());
    return d.commit();
  };
  auto h1 = hold(1), h2 = hold(2);
  ASSERT_TRUE(h1 && h2);
  expect_fsck_clean(*s);
  auto h3 = hold(3);
  ASSERT_FALSE(h3);
  EXPECT_EQ(h3.error(), errc::quota_exceeded);
  // Mail does not fit either while the uploads hold 8,000 of 10,000 bytes.
  auto mail = deliver(*s, {{"a@x.test"}}, {random_bytes(3000, 4)});
  ASSERT_FALSE(mail);
  ASSERT_TRUE(s->release_upload("a@x.test", h1->upload_ids.at(0)));
  expect_fsck_clean(*s);
  EXPECT_TRUE(hold(5));
  ASSERT_TRUE(s->expire_uploads(UnixSeconds(std::chrono::seconds(std::int64_t(1) << 41))));
  EXPECT_TRUE(deliver(*s, {{"a@x.test"}}, {random_bytes(9000, 6)}));
  expect_fsck_clean(*s);
}

TEST(Delivery, ExpungeAndGcGoBackToZero) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  auto start = *s->stats();
  auto shared = random_bytes(20000, 1);
  auto r1 = deliver(*s, {{"a@x.test"}, {"b@x.test"}}, {shared, random_bytes(3000, 2)});
  auto r2 = deliver(*s, {{"a@x.test"}}, {shared});
  ASSERT_TRUE(r1 && r2);
  auto blob = s->get_message(r2->message_id)->record.blob_ids.at(0);
  EXPECT_EQ(s->blob_info(blob)->refcount, 2);

  std::vector<std::uint32_t> uids{r1->rows[0].uid, r2->rows[0].uid};
  ASSERT_TRUE(s->expunge("a@x.test", "INBOX", uids));
  EXPECT_EQ(s->blob_info(blob)->refcount, 1);  // b still holds message 1
  EXPECT_FALSE(s->get_message(r2->message_id));
  EXPECT_EQ(s->get_message(r1->message_id)->refcount, 1);
  EXPECT_EQ(*s->grant_count("a@x.test", blob), 0);
  EXPECT_EQ(*s->grant_count("b@x.test", blob), 1);
  expect_fsck_clean(*s);

  std::vector<std::uint32_t> b_uids{r1->rows[1].uid};
  ASSERT_TRUE(s->expunge("b@x.test", "INBOX", b_uids));
  auto gone = s->blob_info(blob);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error(), errc::not_found);
  auto end = *s->stats();
  EXPECT_EQ(end.physical_bytes, start.physical_bytes);
  EXPECT_EQ(end.logical_bytes, 0u);
  EXPECT_EQ(end.blobs, 0u);
  EXPECT_EQ(end.messages, 0u);
  auto gc = s->gc();
  ASSERT_TRUE(gc);
  EXPECT_EQ(gc->blobs_deleted, 0u);  // expunge already collected them
  EXPECT_EQ(gc->grants_deleted, 4u);  // a and b each held both blobs; all zero now
  expect_fsck_clean(*s);
}

TEST(Delivery, UidsStrictlyIncreaseAndSurviveReopen) {
  TempDir dir;
  auto o = test_options(dir.path());
  std::uint32_t last = 0;
  {
    auto s = open_store(o);
    ASSERT_TRUE(s);
    add_users(*s, {"a@x.test"});
    for (int i = 0; i < 3; ++i) {
      auto r = deliver(*s, {{"a@x.test"}}, {});
      ASSERT_TRUE(r);
      EXPECT_GT(r->rows[0].uid, last);
      last = r->rows[0].uid;
    }
    std::vector<std::uint32_t> top{last};
    ASSERT_TRUE(s->expunge("a@x.test", "INBOX", top));  // expunge the highest
    auto r = deliver(*s, {{"a@x.test"}}, {});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->rows[0].uid, last + 1);
    last = r->rows[0].uid;
    std::vector<std::uint32_t> again{last};
    ASSERT_TRUE(s->expunge("a@x.test", "INBOX", again));
  }
  auto s = open_store(o);
  ASSERT_TRUE(s);
  auto boxes = s->list_mailboxes("a@x.test");
  ASSERT_TRUE(boxes);
  EXPECT_EQ(boxes->size(), 5u);
  for (const auto& b : *boxes) {
    if (b.name == "INBOX") {
      EXPECT_EQ(b.uidnext, last + 1);
    }
  }
  auto r = deliver(*s, {{"a@x.test"}}, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rows[0].uid, last + 1);
}

TEST(Delivery, MailboxesCreateRenameDeleteCopyMove) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  auto created = s->create_mailbox("a@x.test", "Projects");
  ASSERT_TRUE(created);
  EXPECT_EQ(s->create_mailbox("a@x.test", "Projects").error(), errc::exists);
  EXPECT_EQ(s->delete_mailbox("a@x.test", "INBOX").error(), errc::invalid_argument);
  EXPECT_EQ(s->rename_mailbox("a@x.test", "Sent", "X").error(), errc::invalid_argument);
  EXPECT_FALSE(s->create_mailbox("a@x.test", std::string("bad\0name", 8)));

  auto r = deliver(*s, {{"a@x.test", "Projects"}}, {random_bytes(2000, 1)});
  ASSERT_TRUE(r);
  ASSERT_TRUE(s->rename_mailbox("a@x.test", "Projects", "Work"));
  auto rows = s->list_rows("a@x.test", "Work");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].uid, r->rows[0].uid);

  auto state = *s->account_state("a@x.test");
  ASSERT_TRUE(s->set_keywords("a@x.test", "Work", r->rows[0].uid, {"$flagged", "$seen"}));
  EXPECT_GT(*s->account_state("a@x.test"), state);
  EXPECT_EQ(s->get_row("a@x.test", "Work", r->rows[0].uid)->keywords.size(), 2u);

  auto copied = s->copy_row("a@x.test", "Work", r->rows[0].uid, "Archive");
  ASSERT_TRUE(copied);
  EXPECT_EQ(s->get_message(r->message_id)->refcount, 2);
  auto moved = s->copy_row("a@x.test", "Archive", *copied, "Trash", /*move=*/true);
  ASSERT_TRUE(moved);
  EXPECT_TRUE(s->list_rows("a@x.test", "Archive")->empty());
  EXPECT_EQ(s->list_rows("a@x.test", "Trash")->size(), 1u);
  EXPECT_EQ(s->get_message(r->message_id)->refcount, 2);
  expect_fsck_clean(*s);

  ASSERT_TRUE(s->delete_mailbox("a@x.test", "Work"));
  EXPECT_EQ(s->get_message(r->message_id)->refcount, 1);
  EXPECT_EQ(s->list_rows("a@x.test", "Work").error(), errc::not_found);
  // A re-created mailbox of the same name gets a new id and UIDVALIDITY.
  auto again = s->create_mailbox("a@x.test", "Work");
  ASSERT_TRUE(again);
  EXPECT_NE(again->mailbox_id, created->mailbox_id);
  EXPECT_NE(again->uidvalidity, created->uidvalidity);
  expect_fsck_clean(*s);
}

TEST(Delivery, QueueRowsHoldTheMessageUntilRemoved) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  auto d = s->begin_delivery();
  auto id = d.put_blob(random_bytes(3000, 5));
  ASSERT_TRUE(id);
  d.set_message(MessageRecord{"skel", "sum", {*id}, 3004});
  d.add_queue_row("env", UnixSeconds(std::chrono::seconds(50)));
  auto r = d.commit();
  ASSERT_TRUE(r) << error_detail(r.error());
  const auto qid = r->queue_ids.at(0);
  ASSERT_TRUE(s->reschedule_queue(qid, UnixSeconds(std::chrono::seconds(500)), "451 try later"));
  EXPECT_TRUE(s->due_queue(UnixSeconds(std::chrono::seconds(100)), 10)->empty());
  auto q = s->due_queue(UnixSeconds(std::chrono::seconds(500)), 10);
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].attempts, 1u);
  EXPECT_EQ((*q)[0].last_error, "451 try later");
  EXPECT_EQ((*q)[0].envelope, "env");
  expect_fsck_clean(*s);
  ASSERT_TRUE(s->remove_queue(qid));
  EXPECT_FALSE(s->get_message(r->message_id));
  EXPECT_FALSE(s->blob_info(*id));
  EXPECT_EQ(s->stats()->physical_bytes, 0u);
  EXPECT_EQ(s->remove_queue(qid).error(), errc::not_found);
  expect_fsck_clean(*s);
}

TEST(Delivery, UploadHoldsKeepBlobsAliveUntilTheyExpire) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  const auto bytes = random_bytes(6000, 3);
  // The upload: a blob held for a@x.test, no mailbox row.
  auto up = s->begin_delivery();
  auto id = up.put_blob(bytes);
  ASSERT_TRUE(id);
  up.set_message(MessageRecord{"", "", {*id}, 0});
  up.add_upload_hold("a@x.test", UnixSeconds(std::chrono::seconds(1000)));
  auto ur = up.commit();
  ASSERT_TRUE(ur) << error_detail(ur.error());
  ASSERT_EQ(ur->upload_ids.size(), 1u);
  EXPECT_EQ(*s->grant_count("a@x.test", *id), 1);
  ASSERT_TRUE(s->gc());
  EXPECT_TRUE(s->blob_info(*id));  // held: GC keeps it
  EXPECT_EQ(s->stats()->logical_bytes, 0u);
  expect_fsck_clean(*s);

  // Email/set + EmailSubmission: a message referencing the uploaded blob by id.
  auto d = s->begin_delivery();
  d.set_message(MessageRecord{"skel", "sum", {*id}, 6004});
  d.add_mailbox_row("a@x.test", "Sent");
  d.add_mailbox_row("b@x.test");
  auto r = d.commit();
  ASSERT_TRUE(r) << error_detail(r.error());
  EXPECT_EQ(s->blob_info(*id)->refcount, 2);
  EXPECT_EQ(*s->grant_count("a@x.test", *id), 2);
  EXPECT_EQ(s->list_account_rows("a@x.test")->size(), 1u);
  expect_fsck_clean(*s);

  EXPECT_EQ(*s->expire_uploads(UnixSeconds(std::chrono::seconds(999))), 0u);
  EXPECT_EQ(*s->expire_uploads(UnixSeconds(std::chrono::seconds(1000))), 1u);
  EXPECT_FALSE(s->get_message(ur->message_id));
  EXPECT_EQ(s->blob_info(*id)->refcount, 1);
  EXPECT_EQ(*s->grant_count("a@x.test", *id), 1);
  EXPECT_EQ(s->release_upload("a@x.test", ur->upload_ids[0]).error(), errc::not_found);
  expect_fsck_clean(*s);
  EXPECT_EQ(read_all(*s, *id), bytes);
}

TEST(Import, JobsAreDurableAndOrderedByDueTime) {
  TempDir dir;
  auto o = test_options(dir.path());
  std::string late;
  {
    auto s = open_store(o);
    ASSERT_TRUE(s);
    add_users(*s, {"a@x.test"});
    EXPECT_EQ(s->enqueue_import("nobody@x.test", "p", UnixSeconds{}).error(), errc::not_found);
    auto j1 = s->enqueue_import("A@x.test", "uids 1:5", UnixSeconds(std::chrono::seconds(20)));
    auto j2 = s->enqueue_import("a@x.test", "uids 6", UnixSeconds(std::chrono::seconds(10)));
    ASSERT_TRUE(j1 && j2);
    late = *j1;
    auto due = s->due_imports(UnixSeconds(std::chrono::seconds(15)), 10);
    ASSERT_EQ(due->size(), 1u);
    EXPECT_EQ((*due)[0].job_id, *j2);
    EXPECT_EQ((*due)[0].account, "a@x.test");
    ASSERT_TRUE(s->remove_import(*j2));
    ASSERT_TRUE(s->reschedule_import(*j1, UnixSeconds(std::chrono::seconds(30)), "IMAP timeout"));
  }
  auto s = open_store(o);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->due_imports(UnixSeconds(std::chrono::seconds(29)), 10)->empty());
  auto due = s->due_imports(UnixSeconds(std::chrono::seconds(30)), 10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].job_id, late);
  EXPECT_EQ((*due)[0].payload, "uids 1:5");
  EXPECT_EQ((*due)[0].attempts, 1u);
  EXPECT_EQ((*due)[0].last_error, "IMAP timeout");
}

}  // namespace
}  // namespace refmail::storage::testing
