// tests/unit/storage/changes_test.cpp — the per-account change log (states across
// batches, type filter, max_changes paging, trimming -> expired, remove_user), threads
// assigned at delivery (replies, out-of-order parents, copies keep the thread) and
// browser sessions that survive a reopen.
#include <set>
#include <thread>

#include "helpers.hpp"

namespace refmail::storage::testing {
namespace {

using std::chrono::seconds;

result<DeliveryReceipt> deliver_threaded(Store& s, const std::string& account, std::string own,
                                         std::vector<std::string> refs, std::string mailbox = "INBOX") {
  auto d = s.begin_delivery();
  MessageRecord m;
  m.skeleton = "Message-ID: <" + own + ">\r\n\r\nbody\r\n";
  m.summary = "summary";
  m.logical_size = m.skeleton.size();
  d.set_message(std::move(m));
  d.set_thread_keys({std::move(own)}, std::move(refs));
  d.add_mailbox_row(account, mailbox);
  return d.commit();
}

// Ids of `type` with `kind` in the log.
std::set<std::string> ids(const ChangeLog& log, ChangeType type, std::optional<ChangeKind> kind = std::nullopt) {
  std::set<std::string> out;
  for (const auto& set : log.sets)
    for (const auto& c : set.changes)
      if (c.type == type && (!kind || c.kind == *kind)) out.insert(c.id);
  return out;
}

std::string thread_of(Store& s, const std::string& account, const std::string& message_id) {
  auto rows = s.list_account_rows(account);
  if (!rows) return {};
  for (const auto& r : *rows)
    if (r.message_id == message_id) return r.thread_id;
  return {};
}

TEST(ChangeLog, RecordsEveryChangeAcrossBatches) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  add_users(*s, {"a@x.test", "b@x.test"});
  auto s0 = *s->account_state("a@x.test");
  auto b0 = *s->account_state("b@x.test");

  auto r1 = deliver(*s, {{"a@x.test"}}, {});
  ASSERT_TRUE(r1);
  auto s1 = *s->account_state("a@x.test");
  EXPECT_GT(s1, s0);
  EXPECT_EQ(*s->account_state("b@x.test"), b0);  // another account's state is untouched

  auto log = s->changes_since("a@x.test", s0);
  ASSERT_TRUE(log) << error_detail(log.error());
  EXPECT_EQ(log->state, s1);
  ASSERT_EQ(log->sets.size(), 1u);
  EXPECT_EQ(ids(*log, ChangeType::email, ChangeKind::created), std::set<std::string>{r1->message_id});
  EXPECT_EQ(ids(*log, ChangeType::thread, ChangeKind::created), std::set<std::string>{r1->message_id});
  MailboxInfo inbox;
  for (const auto& m : *s->list_mailboxes("a@x.test"))
    if (m.name == "INBOX") inbox = m;
  ASSERT_EQ(inbox.name, "INBOX");
  EXPECT_EQ(ids(*log, ChangeType::mailbox, ChangeKind::counts), std::set<std::string>{std::to_string(inbox.mailbox_id)});

  // Keywords: $seen changes the counts, $flagged only the email.
  ASSERT_TRUE(s->set_keywords("a@x.test", "INBOX", r1->rows[0].uid, {"$flagged"}));
  auto s2 = *s->account_state("a@x.test");
  log = s->changes_since("a@x.test", s1);
  ASSERT_TRUE(log);
  EXPECT_EQ(ids(*log, ChangeType::email, ChangeKind::updated), std::set<std::string>{r1->message_id});
  EXPECT_TRUE(ids(*log, ChangeType::mailbox).empty());
  ASSERT_TRUE(s->set_keywords("a@x.test", "INBOX", r1->rows[0].uid, {"$flagged", "$seen"}));
  log = s->changes_since("a@x.test", s2);
  ASSERT_TRUE(log);
  EXPECT_EQ(ids(*log, ChangeType::mailbox, ChangeKind::counts).size(), 1u);

  // Mailboxes: created, renamed, a move changes both counts, deletion.
  auto s3 = *s->account_state("a@x.test");
  auto work = s->create_mailbox("a@x.test", "Work");
  ASSERT_TRUE(work);
  ASSERT_TRUE(s->rename_mailbox("a@x.test", "Work", "Jobs"));
  auto moved = s->copy_row("a@x.test", "INBOX", r1->rows[0].uid, "Jobs", /*move=*/true);
  ASSERT_TRUE(moved);
  log = s->changes_since("a@x.test", s3);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->sets.size(), 3u);
  EXPECT_EQ(ids(*log, ChangeType::mailbox, ChangeKind::created), std::set<std::string>{std::to_string(work->mailbox_id)});
  EXPECT_EQ(ids(*log, ChangeType::mailbox).size(), 2u);  // Jobs and INBOX
  EXPECT_EQ(ids(*log, ChangeType::email, ChangeKind::updated), std::set<std::string>{r1->message_id});

  // Expunge: the email and its thread are logged (the reader sees they are gone).
  auto s4 = *s->account_state("a@x.test");
  std::vector<std::uint32_t> uids{*moved};
  ASSERT_TRUE(s->expunge("a@x.test", "Jobs", uids));
  ASSERT_TRUE(s->delete_mailbox("a@x.test", "Jobs"));
  log = s->changes_since("a@x.test", s4, ChangeType::email);
  ASSERT_TRUE(log);
  EXPECT_EQ(ids(*log, ChangeType::email), std::set<std::string>{r1->message_id});
  EXPECT_TRUE(ids(*log, ChangeType::mailbox).empty());  // filtered by type
  log = s->changes_since("a@x.test", s4, ChangeType::thread);
  ASSERT_TRUE(log);
  EXPECT_EQ(ids(*log, ChangeType::thread), std::set<std::string>{r1->message_id});

  // Nothing since the current state; a state from the future is refused.
  auto now = *s->account_state("a@x.test");
  log = s->changes_since("a@x.test", now);
  ASSERT_TRUE(log);
  EXPECT_TRUE(log->sets.empty());
  EXPECT_FALSE(log->has_more);
  EXPECT_EQ(s->changes_since("a@x.test", now + 5).error(), errc::invalid_argument);
  expect_fsck_clean(*s);
}

TEST(ChangeLog, MaxChangesPagesAtBatchBoundaries) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  add_users(*s, {"a@x.test"});
  auto s0 = *s->account_state("a@x.test");
  std::vector<std::string> all;
  for (int i = 0; i < 7; ++i) {
    auto r = deliver(*s, {{"a@x.test"}}, {});
    ASSERT_TRUE(r);
    all.push_back(r->message_id);
  }
  std::vector<std::string> seen;
  std::uint64_t since = s0;
  int pages = 0;
  for (;;) {
    auto log = s->changes_since("a@x.test", since, ChangeType::email, 3);
    ASSERT_TRUE(log) << error_detail(log.error());
    ++pages;
    std::size_t n = 0;
    for (const auto& set : log->sets) {
      for (const auto& c : set.changes) seen.push_back(c.id);
      n += set.changes.size();
    }
    EXPECT_LE(n, 3u);
    if (!log->has_more) break;
    ASSERT_FALSE(log->sets.empty());
    since = log->sets.back().modseq;
    ASSERT_LT(since, log->state);
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, all);
}

TEST(ChangeLog, TrimmedStatesAreExpiredAndSurviveReopen) {
  TempDir dir;
  auto o = test_options(dir.path());
  o.change_log_max_states = 8;
  std::uint64_t s0 = 0;
  {
    auto s = open_store(o);
    add_users(*s, {"a@x.test"});
    s0 = *s->account_state("a@x.test");
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(deliver(*s, {{"a@x.test"}}, {}));
    auto old = s->changes_since("a@x.test", s0);
    ASSERT_FALSE(old);
    EXPECT_EQ(old.error(), errc::expired);
    auto state = *s->account_state("a@x.test");
    auto recent = s->changes_since("a@x.test", state - 5);
    ASSERT_TRUE(recent) << error_detail(recent.error());
    EXPECT_EQ(recent->sets.size(), 5u);
    expect_fsck_clean(*s);
  }
  auto s = open_store(o);
  auto state = *s->account_state("a@x.test");
  EXPECT_EQ(s->changes_since("a@x.test", s0).error(), errc::expired);
  ASSERT_TRUE(s->changes_since("a@x.test", state - 3));
  // New modseqs continue above the old ones after a reopen.
  ASSERT_TRUE(deliver(*s, {{"a@x.test"}}, {}));
  EXPECT_EQ(*s->account_state("a@x.test"), state + 1);
  auto log = s->changes_since("a@x.test", state);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->sets.size(), 1u);
}

TEST(ChangeLog, RemovedAccountLeavesNoLogAndNeverRepeatsAState) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  add_users(*s, {"a@x.test"});
  auto s0 = *s->account_state("a@x.test");
  ASSERT_TRUE(deliver_threaded(*s, "a@x.test", "one@x", {}));
  auto before = *s->account_state("a@x.test");
  ASSERT_TRUE(s->remove_user("a@x.test"));
  expect_fsck_clean(*s);
  ASSERT_TRUE(s->add_user("a@x.test", "pw"));
  EXPECT_GE(*s->account_state("a@x.test"), before);
  EXPECT_EQ(s->changes_since("a@x.test", s0).error(), errc::expired);
  auto r = deliver_threaded(*s, "a@x.test", "two@x", {"one@x"});
  ASSERT_TRUE(r);
  EXPECT_GT(*s->account_state("a@x.test"), before);
  // The old thread index went with the account: a new thread.
  EXPECT_EQ(thread_of(*s, "a@x.test", r->message_id), r->message_id);
  expect_fsck_clean(*s);
}

// Concurrent writers, an incremental reader: following newState never misses a
// change (a state is visible only when every older batch is written).
TEST(ChangeLog, IncrementalReaderMissesNothingUnderConcurrentWriters) {
  TempDir dir;
  auto o = test_options(dir.path());
  o.sync_writes = false;
  auto s = open_store(o);
  add_users(*s, {"a@x.test"});
  std::uint64_t since = *s->account_state("a@x.test");
  constexpr int kThreads = 4, kEach = 15;
  std::atomic<int> done{0};
  std::vector<std::thread> writers;
  std::vector<std::vector<std::string>> written(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = deliver(*s, {{"a@x.test"}}, {});
        if (r) written[t].push_back(r->message_id);
      }
      ++done;
    });
  }
  std::set<std::string> seen;
  for (;;) {
    bool finished = done.load() == kThreads;
    auto log = s->changes_since("a@x.test", since, ChangeType::email);
    ASSERT_TRUE(log) << error_detail(log.error());
    for (const auto& set : log->sets)
      for (const auto& c : set.changes) EXPECT_TRUE(seen.insert(c.id).second) << "twice: " << c.id;
    since = log->state;
    if (finished) break;
  }
  for (auto& w : writers) w.join();
  std::size_t total = 0;
  for (const auto& w : written) {
    total += w.size();
    for (const auto& id : w) EXPECT_TRUE(seen.count(id)) << "missed " << id;
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(seen.size(), total);
}

TEST(ChangeLog, BackupsCarryTheLogThreadsAndSessions) {
  TempDir dir;
  auto data = dir.path() / "data";
  auto cp = dir.path() / "cp";
  std::uint64_t s0 = 0, s1 = 0;
  std::string root_id;
  Sha256 token{};
  token[5] = 9;
  const auto now = std::chrono::time_point_cast<seconds>(std::chrono::system_clock::now());
  {
    auto s = open_store(test_options(data));
    add_users(*s, {"a@x.test"});
    s0 = *s->account_state("a@x.test");
    auto root = deliver_threaded(*s, "a@x.test", "root@x", {});
    ASSERT_TRUE(root);
    root_id = root->message_id;
    s1 = *s->account_state("a@x.test");
    ASSERT_TRUE(s->put_session(token, SessionRecord{"a@x.test", "c", now + seconds(600)}));
    ASSERT_TRUE(s->checkpoint(cp));
  }
  ASSERT_TRUE(Store::restore(cp, data));
  auto s = open_store(test_options(data));
  auto log = s->changes_since("a@x.test", s0);
  ASSERT_TRUE(log) << error_detail(log.error());
  EXPECT_EQ(log->state, s1);
  EXPECT_EQ(ids(*log, ChangeType::email, ChangeKind::created), std::set<std::string>{root_id});
  auto reply = deliver_threaded(*s, "a@x.test", "reply@x", {"root@x"});
  ASSERT_TRUE(reply);
  EXPECT_EQ(thread_of(*s, "a@x.test", reply->message_id), root_id);
  auto got = s->get_session(token, now);
  ASSERT_TRUE(got && *got);
  expect_fsck_clean(*s);
}

TEST(Threads, RepliesJoinTheirParentsThreadEvenOutOfOrder) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  add_users(*s, {"a@x.test", "b@x.test"});
  auto root = deliver_threaded(*s, "a@x.test", "root@x", {});
  ASSERT_TRUE(root);
  EXPECT_EQ(thread_of(*s, "a@x.test", root->message_id), root->message_id);
  auto since = *s->account_state("a@x.test");
  auto reply = deliver_threaded(*s, "a@x.test", "reply@x", {"root@x", "root@x"});
  ASSERT_TRUE(reply);
  EXPECT_EQ(thread_of(*s, "a@x.test", reply->message_id), root->message_id);
  auto log = s->changes_since("a@x.test", since, ChangeType::thread);
  ASSERT_TRUE(log);
  EXPECT_EQ(ids(*log, ChangeType::thread, ChangeKind::updated), std::set<std::string>{root->message_id});
  // A reply to the reply, naming only the reply (References nearest first).
  auto deep = deliver_threaded(*s, "a@x.test", "deep@x", {"<reply@x>", "<unknown@x>", "<reply@x>"});
  ASSERT_TRUE(deep);
  EXPECT_EQ(thread_of(*s, "a@x.test", deep->message_id), root->message_id);
  // Unrelated: its own thread.
  auto other = deliver_threaded(*s, "a@x.test", "other@x", {"nowhere@x"});
  ASSERT_TRUE(other);
  EXPECT_EQ(thread_of(*s, "a@x.test", other->message_id), other->message_id);
  // Out of order: the child first, then its parent joins the child's thread.
  auto child = deliver_threaded(*s, "a@x.test", "child@y", {"parent@y"});
  ASSERT_TRUE(child);
  auto parent = deliver_threaded(*s, "a@x.test", "parent@y", {});
  ASSERT_TRUE(parent);
  EXPECT_EQ(thread_of(*s, "a@x.test", parent->message_id), child->message_id);
  // Threads are per account: b has never seen root@x.
  auto b = deliver_threaded(*s, "b@x.test", "reply2@x", {"root@x"});
  ASSERT_TRUE(b);
  EXPECT_EQ(thread_of(*s, "b@x.test", b->message_id), b->message_id);
  // A copy keeps the thread.
  auto copied = s->copy_row("a@x.test", "INBOX", reply->rows[0].uid, "Archive");
  ASSERT_TRUE(copied);
  auto row = s->get_row("a@x.test", "Archive", *copied);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->thread_id, root->message_id);
  expect_fsck_clean(*s);
}

TEST(Sessions, SurviveReopenAndExpire) {
  TempDir dir;
  auto o = test_options(dir.path());
  Sha256 live{}, old{};
  live[0] = 1;
  old[0] = 2;
  const auto now = std::chrono::time_point_cast<seconds>(std::chrono::system_clock::now());
  {
    auto s = open_store(o);
    add_users(*s, {"a@x.test"});
    ASSERT_TRUE(s->put_session(live, SessionRecord{"a@x.test", "csrf1", now + seconds(3600)}));
    ASSERT_TRUE(s->put_session(old, SessionRecord{"a@x.test", "csrf2", now - seconds(1)}));
  }
  auto s = open_store(o);
  auto got = s->get_session(live, now);
  ASSERT_TRUE(got);
  ASSERT_TRUE(*got);
  EXPECT_EQ((*got)->account, "a@x.test");
  EXPECT_EQ((*got)->csrf, "csrf1");
  EXPECT_EQ((*got)->expires, now + seconds(3600));
  auto expired = s->get_session(old, now);
  ASSERT_TRUE(expired);
  EXPECT_FALSE(*expired);
  EXPECT_EQ(*s->purge_sessions(now + seconds(7200)), 1u);  // `old` went when read
  EXPECT_FALSE(*s->get_session(live, now));
  ASSERT_TRUE(s->put_session(live, SessionRecord{"a@x.test", "c", now + seconds(60)}));
  ASSERT_TRUE(s->delete_session(live));
  EXPECT_FALSE(*s->get_session(live, now));
  // Sessions go with their account.
  ASSERT_TRUE(s->put_session(live, SessionRecord{"a@x.test", "c", now + seconds(60)}));
  ASSERT_TRUE(s->remove_user("a@x.test"));
  EXPECT_FALSE(*s->get_session(live, now));
  expect_fsck_clean(*s);
}

}  // namespace
}  // namespace refmail::storage::testing
