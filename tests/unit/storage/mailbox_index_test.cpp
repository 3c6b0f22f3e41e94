// tests/unit/storage/mailbox_index_test.cpp — the mailbox index (Store::mailbox_counts,
// Store::scan_mailbox_view, Store::scan_account_view): kept in step with the rows by delivery, keyword changes,
// copy, move, expunge, mailbox and user removal, also under concurrent writers; built
// at open for a data folder from before it; checked and repaired by fsck.
#include <thread>

#include "helpers.hpp"
#include "storage/impl.hpp"
#include "storage/rocksdb/kv_rocksdb.hpp"

namespace refmail::storage::testing {
namespace {

UnixSeconds at(std::int64_t t) { return UnixSeconds(std::chrono::seconds(t)); }

// One message to `account`'s `mailbox`, in the thread of `parent` (a Message-ID) if given.
result<DeliveryReceipt> deliver_to(Store& s, const std::string& account, const std::string& mailbox,
                                   const std::string& own_id, const std::string& parent = {},
                                   std::vector<std::string> keywords = {},
                                   std::optional<UnixSeconds> date = std::nullopt) {
  auto d = s.begin_delivery();
  MessageRecord m;
  m.skeleton = "Subject: x\r\n\r\nbody\r\n";
  m.summary = "summary";
  m.logical_size = m.skeleton.size();
  d.set_message(std::move(m));
  std::vector<std::string> refs;
  if (!parent.empty()) refs.push_back(parent);
  d.set_thread_keys({own_id}, std::move(refs));
  d.add_mailbox_row(account, mailbox, std::move(keywords), date);
  return d.commit();
}

// What the rows say, recomputed here independently of the store's own derivation.
MailboxCounts counts_from_rows(const std::vector<MailboxRow>& rows) {
  MailboxCounts c;
  std::set<std::string> threads, unread_threads;
  for (const auto& r : rows) {
    const bool unread = std::find(r.keywords.begin(), r.keywords.end(), "$seen") == r.keywords.end();
    ++c.total;
    if (unread) ++c.unread;
    threads.insert(r.thread_id);
    if (unread) unread_threads.insert(r.thread_id);
  }
  c.threads = threads.size();
  c.unread_threads = unread_threads.size();
  return c;
}

std::vector<ViewEntry> view(Store& s, const std::string& account, std::uint32_t mailbox_id, bool newest_first) {
  std::vector<ViewEntry> out;
  auto r = s.scan_mailbox_view(account, mailbox_id, newest_first, [&](const ViewEntry& e) {
    out.push_back(e);
    return true;
  });
  EXPECT_TRUE(r) << error_detail(r.error());
  return out;
}

// Every mailbox of the account: counts and both view orders equal what its rows say.
void expect_index_matches_rows(Store& s, const std::string& account) {
  auto boxes = s.list_mailboxes(account);
  ASSERT_TRUE(boxes) << error_detail(boxes.error());
  auto counts = s.mailbox_counts(account);
  ASSERT_TRUE(counts) << error_detail(counts.error());
  for (const auto& b : *boxes) {
    auto rows = s.list_rows(account, b.name);
    ASSERT_TRUE(rows);
    const auto c = counts->count(b.mailbox_id) ? counts->at(b.mailbox_id) : MailboxCounts{};
    const auto want = counts_from_rows(*rows);
    EXPECT_EQ(c.total, want.total) << b.name;
    EXPECT_EQ(c.unread, want.unread) << b.name;
    EXPECT_EQ(c.threads, want.threads) << b.name;
    EXPECT_EQ(c.unread_threads, want.unread_threads) << b.name;
    auto sorted = *rows;
    std::sort(sorted.begin(), sorted.end(), [](const MailboxRow& x, const MailboxRow& y) {
      return std::tie(x.internal_date, x.message_id, x.uid) < std::tie(y.internal_date, y.message_id, y.uid);
    });
    auto oldest = view(s, account, b.mailbox_id, false);
    ASSERT_EQ(oldest.size(), sorted.size()) << b.name;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      EXPECT_EQ(oldest[i].uid, sorted[i].uid);
      EXPECT_EQ(oldest[i].message_id, sorted[i].message_id);
      EXPECT_EQ(oldest[i].thread_id, sorted[i].thread_id);
      EXPECT_EQ(oldest[i].internal_date, sorted[i].internal_date);
    }
    auto newest = view(s, account, b.mailbox_id, true);
    std::reverse(newest.begin(), newest.end());
    ASSERT_EQ(newest.size(), oldest.size());
    for (std::size_t i = 0; i < newest.size(); ++i) EXPECT_EQ(newest[i].uid, oldest[i].uid);
    // The modseq view: every row once, at its own modseq, in (modseq, uid) order, and the
    // mailbox's highest modseq at or above each.
    std::vector<ModseqEntry> by_modseq;
    for (const auto& r : *rows) by_modseq.push_back(ModseqEntry{r.uid, r.modseq});
    std::sort(by_modseq.begin(), by_modseq.end(), [](const ModseqEntry& x, const ModseqEntry& y) {
      return std::pair(x.modseq, x.uid) < std::pair(y.modseq, y.uid);
    });
    auto changed = s.changed_since(account, b.mailbox_id, 0, 1'000'000);
    ASSERT_TRUE(changed) << error_detail(changed.error());
    EXPECT_EQ(*changed, by_modseq) << b.name;
    auto highest = s.highest_modseq(account, b.mailbox_id);
    ASSERT_TRUE(highest);
    for (const auto& e : by_modseq) EXPECT_LE(e.modseq, *highest) << b.name;
    // The sorted views: every row once, in key order then email id (these summaries do
    // not parse, so only size orders; the text and date keys are empty), both ways.
    auto by_size = *rows;
    std::sort(by_size.begin(), by_size.end(), [](const MailboxRow& x, const MailboxRow& y) {
      return std::tie(x.logical_size, x.message_id, x.uid) < std::tie(y.logical_size, y.message_id, y.uid);
    });
    auto by_id = *rows;
    std::sort(by_id.begin(), by_id.end(), [](const MailboxRow& x, const MailboxRow& y) {
      return std::tie(x.message_id, x.uid) < std::tie(y.message_id, y.uid);
    });
    for (auto kind : {SortView::size, SortView::sent_at, SortView::from, SortView::subject}) {
      const auto& want = kind == SortView::size ? by_size : by_id;
      for (bool desc : {false, true}) {
        std::vector<std::pair<std::uint32_t, std::string>> got;
        auto r = s.scan_sorted_view(account, b.mailbox_id, kind, desc, [&](const ViewEntry& e) {
          got.emplace_back(e.uid, e.thread_id);
          return true;
        });
        ASSERT_TRUE(r) << error_detail(r.error());
        if (desc) std::reverse(got.begin(), got.end());
        ASSERT_EQ(got.size(), want.size()) << b.name << " " << static_cast<char>(kind);
        for (std::size_t i = 0; i < got.size(); ++i) {
          EXPECT_EQ(got[i].first, want[i].uid) << b.name << " " << static_cast<char>(kind);
          EXPECT_EQ(got[i].second, want[i].thread_id);
        }
      }
    }
  }
  // Each thread's emails (once each, earliest row's date, ordered by date then id) and
  // the account's message ids, recomputed from all of the account's rows.
  auto all = s.list_account_rows(account);
  ASSERT_TRUE(all);
  std::map<std::string, std::map<std::string, UnixSeconds>> threads;  // thread -> message -> date
  std::set<std::string> ids;
  for (const auto& r : *all) {
    ids.insert(r.message_id);
    auto [it, fresh] = threads[r.thread_id].emplace(r.message_id, r.internal_date);
    if (!fresh) it->second = std::min(it->second, r.internal_date);
  }
  for (const auto& [thread, members] : threads) {
    std::vector<ThreadEmail> want;
    for (const auto& [id, date] : members) want.push_back(ThreadEmail{id, date});
    std::sort(want.begin(), want.end(), [](const ThreadEmail& x, const ThreadEmail& y) {
      return std::tie(x.received, x.message_id) < std::tie(y.received, y.message_id);
    });
    auto got = s.thread_emails(account, thread);
    ASSERT_TRUE(got) << error_detail(got.error());
    EXPECT_EQ(*got, want) << thread;
  }
  auto listed = s.list_message_ids(account, 1'000'000);
  ASSERT_TRUE(listed);
  EXPECT_EQ(*listed, std::vector<std::string>(ids.begin(), ids.end()));
  auto thread_ids = s.list_thread_ids(account, 1'000'000);
  ASSERT_TRUE(thread_ids);
  std::vector<std::string> want_threads;
  for (const auto& [thread, members] : threads) want_threads.push_back(thread);
  EXPECT_EQ(*thread_ids, want_threads);
  if (want_threads.size() > 1) {
    auto first = s.list_thread_ids(account, 1);
    ASSERT_TRUE(first);
    EXPECT_EQ(*first, std::vector<std::string>{want_threads.front()});
  }
}

std::uint32_t mailbox_id(Store& s, const std::string& account, const std::string& name) {
  auto boxes = s.list_mailboxes(account);
  EXPECT_TRUE(boxes);
  if (boxes)
    for (const auto& b : *boxes)
      if (b.name == name) return b.mailbox_id;
  ADD_FAILURE() << "no mailbox " << name;
  return 0;
}

TEST(MailboxIndex, CountsAndViewFollowEveryChange) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  const auto inbox = mailbox_id(*s, "a@x.test", "INBOX");
  // Thread 1: p1 and its reply r1; thread 2: p2 (seen). Dates out of arrival order,
  // one before 1970 (the view's date key is signed).
  auto p1 = deliver_to(*s, "a@x.test", "INBOX", "p1@x", {}, {}, at(2000));
  auto r1 = deliver_to(*s, "a@x.test", "INBOX", "r1@x", "p1@x", {}, at(1000));
  auto p2 = deliver_to(*s, "a@x.test", "INBOX", "p2@x", {}, {"$seen"}, at(-50));
  ASSERT_TRUE(p1 && r1 && p2);
  auto c = s->mailbox_counts("a@x.test");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->at(inbox), (MailboxCounts{3, 2, 2, 1}));
  auto order = view(*s, "a@x.test", inbox, /*newest_first=*/true);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0].message_id, p1->message_id);
  EXPECT_EQ(order[1].message_id, r1->message_id);
  EXPECT_EQ(order[1].thread_id, p1->message_id);  // the reply is in p1's thread
  EXPECT_EQ(order[2].message_id, p2->message_id);
  EXPECT_EQ(order[2].internal_date, at(-50));
  expect_index_matches_rows(*s, "a@x.test");
  auto t1 = s->thread_emails("a@x.test", p1->message_id);
  ASSERT_TRUE(t1);
  EXPECT_EQ(*t1, (std::vector<ThreadEmail>{{r1->message_id, at(1000)}, {p1->message_id, at(2000)}}));
  EXPECT_TRUE(s->thread_emails("a@x.test", "no such thread")->empty());
  EXPECT_TRUE(s->thread_emails("b@x.test", p1->message_id)->empty());  // another account's
  auto some = s->list_message_ids("a@x.test", 2);
  ASSERT_TRUE(some);
  EXPECT_EQ(some->size(), 2u);

  // Reading one of two unread messages of thread 1 keeps the thread unread; both, not.
  ASSERT_TRUE(s->set_keywords("a@x.test", "INBOX", 1, {"$seen"}));
  EXPECT_EQ(s->mailbox_counts("a@x.test")->at(inbox), (MailboxCounts{3, 1, 2, 1}));
  ASSERT_TRUE(s->set_keywords("a@x.test", "INBOX", 2, {"$seen", "$flagged"}));
  EXPECT_EQ(s->mailbox_counts("a@x.test")->at(inbox), (MailboxCounts{3, 0, 2, 0}));
  ASSERT_TRUE(s->set_keywords("a@x.test", "INBOX", 2, {"$flagged", "$seen"}));  // no change in $seen
  ASSERT_TRUE(s->set_keywords("a@x.test", "INBOX", 3, {}));
  EXPECT_EQ(s->mailbox_counts("a@x.test")->at(inbox), (MailboxCounts{3, 1, 2, 1}));
  expect_index_matches_rows(*s, "a@x.test");

  // Copy, move, expunge.
  ASSERT_TRUE(s->create_mailbox("a@x.test", "Work"));
  const auto work = mailbox_id(*s, "a@x.test", "Work");
  ASSERT_TRUE(s->copy_row("a@x.test", "INBOX", 1, "Work", /*move=*/false));
  auto moved = s->copy_row("a@x.test", "INBOX", 2, "Work", /*move=*/true);
  ASSERT_TRUE(moved);
  // A message in two mailboxes is one email of its thread.
  EXPECT_EQ(s->thread_emails("a@x.test", p1->message_id)->size(), 2u);
  c = s->mailbox_counts("a@x.test");
  EXPECT_EQ(c->at(inbox), (MailboxCounts{2, 1, 2, 1}));
  EXPECT_EQ(c->at(work), (MailboxCounts{2, 0, 1, 0}));
  expect_index_matches_rows(*s, "a@x.test");
  std::vector<std::uint32_t> uids{1, 3};
  ASSERT_TRUE(s->expunge("a@x.test", "INBOX", uids));
  c = s->mailbox_counts("a@x.test");
  EXPECT_EQ(c->at(inbox), (MailboxCounts{0, 0, 0, 0}));
  EXPECT_TRUE(view(*s, "a@x.test", inbox, true).empty());
  expect_index_matches_rows(*s, "a@x.test");

  // Another account's index is its own; deleting a mailbox and removing a user leave
  // no index behind (fsck would report it).
  ASSERT_TRUE(deliver_to(*s, "b@x.test", "INBOX", "p1@x"));
  EXPECT_EQ(s->mailbox_counts("b@x.test")->at(mailbox_id(*s, "b@x.test", "INBOX")), (MailboxCounts{1, 1, 1, 1}));
  ASSERT_TRUE(s->delete_mailbox("a@x.test", "Work"));
  EXPECT_FALSE(s->mailbox_counts("a@x.test")->count(work));
  EXPECT_TRUE(view(*s, "a@x.test", work, true).empty());
  ASSERT_TRUE(s->remove_user("b@x.test"));
  expect_index_matches_rows(*s, "a@x.test");
  expect_fsck_clean(*s);
  EXPECT_FALSE(s->mailbox_counts("not an address"));
}

TEST(MailboxIndex, ScanStopsWhenTheVisitorSaysSo) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(deliver_to(*s, "a@x.test", "INBOX", "m" + std::to_string(i), {}, {}, at(i)));
  std::vector<std::uint32_t> seen;
  auto r = s->scan_mailbox_view("a@x.test", mailbox_id(*s, "a@x.test", "INBOX"), true, [&](const ViewEntry& e) {
    seen.push_back(e.uid);
    return seen.size() < 3;
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{10, 9, 8}));
  // An unknown mailbox id has an empty view.
  seen.clear();
  ASSERT_TRUE(s->scan_mailbox_view("a@x.test", 999, false, [&](const ViewEntry& e) {
    seen.push_back(e.uid);
    return true;
  }));
  EXPECT_TRUE(seen.empty());
}

// The account's date order: every row of every mailbox once, merged by (date, email id,
// UID) either way, with its mailbox; a copy in another mailbox is visited again; the walk
// stops when asked; another account's rows never appear.
TEST(MailboxIndex, AccountViewMergesTheMailboxesInDateOrder) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  const char* boxes[] = {"INBOX", "Archive", "Sent", "Trash"};
  for (int i = 0; i < 24; ++i)
    ASSERT_TRUE(deliver_to(*s, "a@x.test", boxes[i % 4], "m" + std::to_string(i), {}, {}, at((i * 5) % 7)));
  ASSERT_TRUE(deliver_to(*s, "b@x.test", "INBOX", "other", {}, {}, at(3)));
  const auto inbox_rows = s->list_rows("a@x.test", "INBOX");
  ASSERT_TRUE(inbox_rows && !inbox_rows->empty());
  ASSERT_TRUE(s->copy_row("a@x.test", "INBOX", inbox_rows->front().uid, "Archive"));
  // Expected: every row of the account sorted by (date, email id, UID), each with its mailbox.
  using Key = std::tuple<std::int64_t, std::string, std::uint32_t, std::uint32_t>;
  std::vector<Key> want;
  for (const char* b : boxes) {
    const auto id = mailbox_id(*s, "a@x.test", b);
    for (const auto& r : *s->list_rows("a@x.test", b))
      want.emplace_back(r.internal_date.time_since_epoch().count(), r.message_id, r.uid, id);
  }
  ASSERT_EQ(want.size(), 25u);
  std::sort(want.begin(), want.end());
  for (bool newest_first : {false, true}) {
    std::vector<Key> got;
    ASSERT_TRUE(s->scan_account_view("a@x.test", newest_first, [&](std::uint32_t box, const ViewEntry& e) {
      got.emplace_back(e.internal_date.time_since_epoch().count(), e.message_id, e.uid, box);
      return true;
    }));
    auto expected = want;
    if (newest_first) std::reverse(expected.begin(), expected.end());
    EXPECT_EQ(got, expected);
  }
  int visited = 0;
  ASSERT_TRUE(s->scan_account_view("a@x.test", true, [&](std::uint32_t, const ViewEntry&) { return ++visited < 5; }));
  EXPECT_EQ(visited, 5);
  visited = 0;
  ASSERT_TRUE(s->scan_account_view("nobody@x.test", true, [&](std::uint32_t, const ViewEntry&) { return ++visited, true; }));
  EXPECT_EQ(visited, 0);
}

// Concurrent deliveries into one mailbox, several of them in the same threads, while
// other writers flip $seen and move rows: the counts stay exact.
TEST(MailboxIndex, ExactUnderConcurrentDeliveriesAndFlagChanges) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  ASSERT_TRUE(s->create_mailbox("a@x.test", "Work"));
  // The thread roots exist first, so replies find them whatever the interleaving.
  for (int t = 0; t < 4; ++t) ASSERT_TRUE(deliver_to(*s, "a@x.test", "INBOX", "root" + std::to_string(t)));
  constexpr int kWriters = 4, kPerWriter = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWriters; ++w) {
    workers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        auto own = "w" + std::to_string(w) + "-" + std::to_string(i);
        std::vector<std::string> kw;
        if (i % 3 == 0) kw.push_back("$seen");
        if (!deliver_to(*s, "a@x.test", "INBOX", own, "root" + std::to_string(i % 4), kw, at(i % 7))) ++failures;
      }
    });
  }
  for (int f = 0; f < 2; ++f) {
    workers.emplace_back([&, f] {
      for (int i = 0; i < 150; ++i) {
        const std::uint32_t uid = 1 + static_cast<std::uint32_t>((i * 7 + f) % 60);
        std::vector<std::string> kw;
        if ((i + f) % 2 == 0) kw.push_back("$seen");
        auto r = s->set_keywords("a@x.test", "INBOX", uid, kw);
        if (!r && r.error() != errc::not_found) ++failures;
        if (i % 25 == f) {
          auto m = s->copy_row("a@x.test", "INBOX", uid, "Work", /*move=*/true);
          if (!m && m.error() != errc::not_found) ++failures;
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(failures.load(), 0);
  expect_index_matches_rows(*s, "a@x.test");
  expect_fsck_clean(*s);
}

// Concurrent deliveries into one mailbox while a reader polls: every UID below the
// horizon it read is already visible (so UIDs appear strictly in ascending order to a
// reader that stops at the horizon), and once the writers are done the horizon is the
// next UID.
TEST(UidHorizon, EveryUidBelowItIsVisible) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test"});
  const auto inbox = mailbox_id(*s, "a@x.test", "INBOX");
  EXPECT_EQ(*s->uid_horizon("a@x.test", inbox), 1u);
  constexpr int kWriters = 4, kPerWriter = 60;
  std::atomic<int> failures{0}, done{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWriters; ++w) {
    workers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i)
        if (!deliver_to(*s, "a@x.test", "INBOX", "w" + std::to_string(w) + "-" + std::to_string(i))) ++failures;
      ++done;
    });
  }
  int polls = 0, gaps = 0;
  std::uint32_t last = 1;
  while (done.load() < kWriters) {
    auto h = s->uid_horizon("a@x.test", inbox);
    ASSERT_TRUE(h);
    EXPECT_GE(*h, last);  // it never goes back
    last = *h;
    auto rows = s->list_rows("a@x.test", "INBOX");
    ASSERT_TRUE(rows);
    std::set<std::uint32_t> uids;
    for (const auto& r : *rows) uids.insert(r.uid);
    for (std::uint32_t u = 1; u < *h; ++u)
      if (!uids.count(u)) ++gaps;
    ++polls;
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(gaps, 0) << "UIDs below the horizon not yet visible, over " << polls << " polls";
  EXPECT_EQ(*s->uid_horizon("a@x.test", inbox), 1u + kWriters * kPerWriter);
  // A copy moves the destination's horizon too; a fresh process reads it from the store.
  ASSERT_TRUE(s->create_mailbox("a@x.test", "Work"));
  const auto work = mailbox_id(*s, "a@x.test", "Work");
  ASSERT_TRUE(s->copy_row("a@x.test", "INBOX", 1, "Work", /*move=*/false));
  EXPECT_EQ(*s->uid_horizon("a@x.test", work), 2u);
  EXPECT_FALSE(s->uid_horizon("not an address", work));
}

// Removes what a data folder of index format `format` lacks and marks it so: "1" had
// only the message index, "2" also the views, thread counts and counters.
void drop_mailbox_index(const StoreOptions& o, const std::string& format) {
  auto kv = rocksdb_backend::open(o);
  ASSERT_TRUE(kv) << error_detail(kv.error());
  auto b = (*kv)->batch();
  if (format == "1") {
    b.delete_range(kCfMailbox, "D", "E");
    b.delete_range(kCfMailbox, "G", "H");
    b.delete_range(kCfCounter, "mc/", "mc0");
  }
  if (format < "3") b.delete_range(kCfMailbox, "T", "U");
  if (format < "4") b.delete_range(kCfMailbox, "M", "N");
  b.delete_range(kCfMailbox, "O", "P");
  b.put(kCfDefault, kIndexFormatKey, format);
  ASSERT_TRUE((*kv)->write(b, KvSync::kAlways));
}

void fill(Store& s) {
  add_users(s, {"a@x.test", "b@x.test"});
  ASSERT_TRUE(deliver_to(s, "a@x.test", "INBOX", "p@x", {}, {}, at(5)));
  ASSERT_TRUE(deliver_to(s, "a@x.test", "INBOX", "q@x", "p@x", {"$seen"}, at(3)));
  ASSERT_TRUE(deliver_to(s, "a@x.test", "Archive", "z@x", {}, {}, at(4)));
  ASSERT_TRUE(deliver_to(s, "b@x.test", "INBOX", "p@x", {}, {}, at(1)));
}

class MailboxIndexFormat : public ::testing::TestWithParam<std::string> {};

TEST_P(MailboxIndexFormat, BuiltAtOpenForAStoreWithoutIt) {
  TempDir dir;
  const auto o = test_options(dir.path());
  {
    auto s = open_store(o);
    ASSERT_TRUE(s);
    fill(*s);
  }
  drop_mailbox_index(o, GetParam());
  auto with_progress = o;
  std::vector<std::pair<std::string, std::uint64_t>> stages;
  with_progress.on_index_progress = [&](std::string_view stage, std::uint64_t rows) {
    stages.emplace_back(std::string(stage), rows);
  };
  auto s = open_store(with_progress);
  ASSERT_TRUE(s);
  EXPECT_EQ(stages, (std::vector<std::pair<std::string, std::uint64_t>>{{"start", 0}, {"done", 4}}));
  for (const auto* a : {"a@x.test", "b@x.test"}) expect_index_matches_rows(*s, a);
  EXPECT_EQ(s->mailbox_counts("a@x.test")->at(mailbox_id(*s, "a@x.test", "INBOX")), (MailboxCounts{2, 1, 1, 1}));
  expect_fsck_clean(*s);
  // Changes after the build keep it exact.
  ASSERT_TRUE(s->set_keywords("a@x.test", "INBOX", 1, {"$seen"}));
  expect_index_matches_rows(*s, "a@x.test");
  expect_fsck_clean(*s);
  // A store whose index is complete builds nothing at open.
  s.reset();
  stages.clear();
  s = open_store(with_progress);
  ASSERT_TRUE(s);
  EXPECT_TRUE(stages.empty());
}

INSTANTIATE_TEST_SUITE_P(FromFormat, MailboxIndexFormat, ::testing::Values("1", "2", "3", "4"));

TEST(MailboxIndex, FsckFindsAndRepairsDrift) {
  TempDir dir;
  const auto o = test_options(dir.path());
  {
    auto s = open_store(o);
    ASSERT_TRUE(s);
    fill(*s);
    ASSERT_TRUE(s->create_mailbox("a@x.test", "Empty"));
  }
  {
    // Marked complete, but wrong: a view key and a thread count lost, one of each stale,
    // a counter off.
    auto kv = rocksdb_backend::open(o);
    ASSERT_TRUE(kv);
    auto b = (*kv)->batch();
    b.delete_range(kCfMailbox, view_prefix("a@x.test", 1), view_prefix("a@x.test", 2));
    b.delete_range(kCfMailbox, thread_count_prefix("b@x.test", 1), thread_count_prefix("b@x.test", 2));
    b.put(kCfMailbox, view_key("a@x.test", 4, 77, "Mjunk", 9), "junk");
    b.put(kCfMailbox, thread_count_key("a@x.test", 4, "Tghost"), "junk");
    b.delete_range(kCfMailbox, thread_member_prefix("b@x.test", ""), thread_member_prefix("b@x.test\x01", ""));
    b.put(kCfMailbox, thread_member_key("a@x.test", "ghost", 1, 1, 1), "junk");
    b.put(kCfCounter, mailbox_count_key("a@x.test", 1, kCountUnread), encode_i64(42));
    b.delete_range(kCfMailbox, modseq_prefix(kModseqView, "b@x.test", 1), modseq_prefix(kModseqView, "b@x.test", 2));
    b.put(kCfMailbox, modseq_key(kModseqView, "a@x.test", 1, 999, 1), "");
    ASSERT_TRUE((*kv)->write(b, KvSync::kAlways));
  }
  auto s = open_store(o);
  ASSERT_TRUE(s);
  auto rep = s->fsck(/*repair=*/false);
  ASSERT_TRUE(rep);
  std::set<std::string> what;
  for (const auto& i : rep->issues) what.insert(i.what + ":" + i.key.substr(0, 8));
  EXPECT_EQ(what, (std::set<std::string>{"counter:mc/a@x.t", "missing_mailbox_view:a@x.test",
                                         "missing_thread_counts:b@x.test", "missing_thread_members:b@x.test",
                                         "missing_modseq_index:b@x.test", "stale_modseq_index:a@x.test",
                                         "stale_mailbox_view:a@x.test", "stale_thread_counts:a@x.test",
                                         "stale_thread_members:a@x.test"}));
  auto fixed = s->fsck(/*repair=*/true);
  ASSERT_TRUE(fixed) << error_detail(fixed.error());
  EXPECT_TRUE(fixed->repaired);
  expect_fsck_clean(*s);
  for (const auto* a : {"a@x.test", "b@x.test"}) expect_index_matches_rows(*s, a);
}

// Modseqs (RFC 7162): each change gives the rows it writes the batch's modseq, the
// modseq view finds exactly the rows changed since a modseq, tombstones the rows removed,
// and a mailbox's highest modseq moves with its own changes only and never back.
TEST(Modseq, RowsTombstonesAndHighestFollowEveryChange) {
  TempDir dir;
  auto o = test_options(dir.path());
  o.change_log_max_states = 8;  // so the test sees tombstones trimmed with the log
  auto s = open_store(o);
  ASSERT_TRUE(s);
  const std::string a = "a@x.test";
  add_users(*s, {a});
  const auto inbox = mailbox_id(*s, a, "INBOX");
  const auto archive = mailbox_id(*s, a, "Archive");
  auto highest = [&](std::uint32_t m) {
    auto h = s->highest_modseq(a, m);
    EXPECT_TRUE(h) << error_detail(h.error());
    return h ? *h : 0;
  };
  auto changed = [&](std::uint32_t m, std::uint64_t since) {
    auto c = s->changed_since(a, m, since, 100);
    EXPECT_TRUE(c) << error_detail(c.error());
    return c ? *c : std::vector<ModseqEntry>{};
  };
  auto vanished = [&](std::uint32_t m, std::uint64_t since) {
    auto v = s->vanished_since(a, m, since, 100);
    EXPECT_TRUE(v) << error_detail(v.error());
    return v ? *v : std::vector<ModseqEntry>{};
  };
  EXPECT_EQ(highest(inbox), 1u);  // empty: at least 1 (RFC 7162 3.1.2.1)

  ASSERT_TRUE(deliver_to(*s, a, "INBOX", "m1@x"));
  const auto after1 = *s->account_state(a);
  EXPECT_EQ(s->get_row(a, "INBOX", 1)->modseq, after1);
  EXPECT_EQ(highest(inbox), after1);
  ASSERT_TRUE(deliver_to(*s, a, "INBOX", "m2@x"));
  const auto after2 = *s->account_state(a);
  EXPECT_GT(after2, after1);
  EXPECT_EQ(changed(inbox, after1), (std::vector<ModseqEntry>{{2, after2}}));
  EXPECT_EQ(changed(inbox, 0), (std::vector<ModseqEntry>{{1, after1}, {2, after2}}));
  const auto archive_before = highest(archive);

  // A keyword change moves that row (only) to a new modseq.
  ASSERT_TRUE(s->set_keywords(a, "INBOX", 1, {"$seen"}));
  const auto after3 = *s->account_state(a);
  EXPECT_EQ(s->get_row(a, "INBOX", 1)->modseq, after3);
  EXPECT_EQ(changed(inbox, after2), (std::vector<ModseqEntry>{{1, after3}}));
  EXPECT_EQ(highest(inbox), after3);
  EXPECT_EQ(highest(archive), archive_before);  // changes elsewhere do not move it
  // UNCHANGEDSINCE: refused (nothing written) when the row moved past it, else applied.
  auto refused = s->set_keywords(a, "INBOX", 1, {}, after2);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::modified);
  EXPECT_EQ(s->get_row(a, "INBOX", 1)->keywords, std::vector<std::string>{"$seen"});
  EXPECT_EQ(*s->account_state(a), after3);
  ASSERT_TRUE(s->set_keywords(a, "INBOX", 1, {"$seen"}, after3));
  const auto after3b = *s->account_state(a);
  EXPECT_EQ(changed(inbox, after3), (std::vector<ModseqEntry>{{1, after3b}}));

  // A move: a tombstone in the source, a new row (new modseq) in the target.
  auto moved = s->copy_row(a, "INBOX", 2, "Archive", /*move=*/true);
  ASSERT_TRUE(moved);
  const auto after4 = *s->account_state(a);
  EXPECT_EQ(vanished(inbox, after3), (std::vector<ModseqEntry>{{2, after4}}));
  EXPECT_TRUE(changed(inbox, after3b).empty());
  EXPECT_EQ(changed(archive, after3), (std::vector<ModseqEntry>{{*moved, after4}}));
  EXPECT_EQ(highest(inbox), after4);
  EXPECT_EQ(highest(archive), after4);

  // An expunge: a tombstone, and the highest modseq moves although no row is left at it.
  ASSERT_TRUE(s->expunge(a, "INBOX", std::vector<std::uint32_t>{1}));
  const auto after5 = *s->account_state(a);
  EXPECT_EQ(vanished(inbox, after3), (std::vector<ModseqEntry>{{2, after4}, {1, after5}}));
  EXPECT_EQ(vanished(inbox, after4), (std::vector<ModseqEntry>{{1, after5}}));
  EXPECT_TRUE(vanished(inbox, after5).empty());
  EXPECT_EQ(highest(inbox), after5);
  expect_index_matches_rows(*s, a);
  expect_fsck_clean(*s);

  // Many more changes elsewhere trim the log and with it the INBOX tombstones: a modseq
  // below the floor is expired, and the highest modseq never goes back.
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(deliver_to(*s, a, "Archive", "n" + std::to_string(i) + "@x"));
  auto old = s->vanished_since(a, inbox, after3, 100);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error(), errc::expired);
  EXPECT_GE(highest(inbox), after5);
  EXPECT_LE(highest(inbox), *s->account_state(a));
  expect_index_matches_rows(*s, a);
  expect_fsck_clean(*s);
}

// Keyword changes racing on rows of one mailbox: each row ends at the modseq of its last
// change and the modseq view holds each row exactly once.
TEST(Modseq, ExactUnderConcurrentFlagChanges) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  const std::string a = "a@x.test";
  add_users(*s, {a});
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(deliver_to(*s, a, "INBOX", "c" + std::to_string(i) + "@x"));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::uint32_t uid = 1 + static_cast<std::uint32_t>((i * 7 + t) % 20);
        EXPECT_TRUE(s->set_keywords(a, "INBOX", uid, (i + t) % 2 ? std::vector<std::string>{"$seen"}
                                                                  : std::vector<std::string>{"$flagged"}));
      }
    });
  }
  for (auto& t : threads) t.join();
  expect_index_matches_rows(*s, a);
  expect_fsck_clean(*s);
}

// A message whose References name two threads makes them one: rows, views, members,
// per-mailbox thread counts and the change log all follow, and a later message naming
// the merged-away thread's ids joins the kept one.
TEST(ThreadMerge, AMessageLinkingTwoThreadsMergesThem) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  const std::string a = "a@x.test";
  add_users(*s, {a});
  auto deliver_refs = [&](const std::string& mailbox, const std::string& own, std::vector<std::string> refs,
                          std::vector<std::string> kw, std::int64_t t) {
    auto d = s->begin_delivery();
    MessageRecord m;
    m.skeleton = "Subject: x\r\n\r\nbody\r\n";
    m.summary = "summary";
    m.logical_size = m.skeleton.size();
    d.set_message(std::move(m));
    d.set_thread_keys({own}, std::move(refs));
    d.add_mailbox_row(a, mailbox, std::move(kw), at(t));
    auto r = d.commit();
    EXPECT_TRUE(r) << error_detail(r.error());
    return r ? r->message_id : std::string();
  };
  const auto m1 = deliver_refs("INBOX", "one@x", {}, {}, 10);
  const auto m2 = deliver_refs("INBOX", "two@x", {}, {"$seen"}, 20);
  const auto m2b = deliver_refs("Archive", "two-reply@x", {"two@x"}, {}, 25);
  const auto m2c = deliver_refs("Archive", "two-reply2@x", {"two@x"}, {}, 27);
  const auto m3 = deliver_refs("Archive", "three@x", {}, {}, 5);
  const auto inbox = mailbox_id(*s, a, "INBOX");
  const auto archive = mailbox_id(*s, a, "Archive");
  EXPECT_EQ(s->mailbox_counts(a)->at(inbox), (MailboxCounts{2, 1, 2, 1}));
  const auto before = *s->account_state(a);
  // Names both threads: the message joins "one" (then 2 rows), and "one" joins "two"
  // (3 rows): the smaller thread moves.
  const auto link = deliver_refs("INBOX", "link@x", {"one@x", "two@x"}, {"$seen"}, 30);
  auto members = s->thread_emails(a, m2);
  ASSERT_TRUE(members);
  std::vector<std::string> ids;
  for (const auto& e : *members) ids.push_back(e.message_id);
  EXPECT_EQ(ids, (std::vector<std::string>{m1, m2, m2b, m2c, link}));
  EXPECT_TRUE(s->thread_emails(a, m1)->empty());
  for (const auto& id : {m1, m2, m2b, m2c, link}) EXPECT_EQ(s->message_rows(a, id)->front().thread_id, m2) << id;
  EXPECT_EQ(s->message_rows(a, m3)->front().thread_id, m3);
  EXPECT_EQ(s->mailbox_counts(a)->at(inbox), (MailboxCounts{3, 1, 1, 1}));
  EXPECT_EQ(s->mailbox_counts(a)->at(archive), (MailboxCounts{3, 3, 2, 2}));
  expect_index_matches_rows(*s, a);
  expect_fsck_clean(*s);
  // The change log says both threads and every moved email changed.
  auto log = s->changes_since(a, before);
  ASSERT_TRUE(log);
  std::set<std::string> threads, emails;
  for (const auto& set : log->sets)
    for (const auto& c : set.changes) {
      if (c.type == ChangeType::thread) threads.insert(c.id);
      if (c.type == ChangeType::email) emails.insert(c.id);
    }
  EXPECT_TRUE(threads.count(m1) && threads.count(m2));
  EXPECT_TRUE(emails.count(m1) && emails.count(link));
  // A later message naming only the merged-away thread's id joins the kept thread; one
  // naming a thread and itself again merges nothing.
  const auto late = deliver_refs("INBOX", "late@x", {"one@x"}, {}, 40);
  EXPECT_EQ(s->message_rows(a, late)->front().thread_id, m2);
  const auto again = deliver_refs("INBOX", "again@x", {"one@x", "two@x", "link@x"}, {}, 50);
  EXPECT_EQ(s->message_rows(a, again)->front().thread_id, m2);
  // Linking the third thread (one row, in Archive) merges it too.
  deliver_refs("Archive", "all@x", {"three@x", "late@x"}, {}, 60);
  EXPECT_EQ(s->message_rows(a, m3)->front().thread_id, m2);
  EXPECT_EQ(s->mailbox_counts(a)->at(archive).threads, 1u);
  expect_index_matches_rows(*s, a);
  expect_fsck_clean(*s);
}

// Deliveries that link threads, racing with flag changes: the index stays
// exact (fsck clean) and every message of a chain ends in one thread.
TEST(ThreadMerge, ExactUnderConcurrentDeliveriesAndFlagChanges) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  const std::string a = "a@x.test";
  add_users(*s, {a});
  // 8 chains of 6 roots each; then links pairwise across roots of a chain, concurrently.
  for (int c = 0; c < 8; ++c)
    for (int r = 0; r < 6; ++r)
      ASSERT_TRUE(deliver_to(*s, a, "INBOX", "r" + std::to_string(c) + "-" + std::to_string(r) + "@x"));
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      for (int c = w; c < 8; c += 4) {
        for (int r = 0; r + 1 < 6; ++r) {
          auto d = s->begin_delivery();
          MessageRecord m;
          m.skeleton = "x";
          m.summary = "s";
          m.logical_size = 1;
          d.set_message(std::move(m));
          const auto p = "r" + std::to_string(c) + "-";
          d.set_thread_keys({"l" + p + std::to_string(r) + "@x"}, {p + std::to_string(r) + "@x", p + std::to_string(r + 1) + "@x"});
          d.add_mailbox_row(a, r % 2 ? "INBOX" : "Archive");
          EXPECT_TRUE(d.commit());
        }
      }
    });
  }
  workers.emplace_back([&] {
    for (int i = 0; i < 60; ++i) (void)s->set_keywords(a, "INBOX", 1 + static_cast<std::uint32_t>(i % 48), {"$seen"});
  });
  for (auto& w : workers) w.join();
  auto rows = s->list_account_rows(a);
  ASSERT_TRUE(rows);
  std::set<std::string> threads;
  for (const auto& r : *rows) threads.insert(r.thread_id);
  EXPECT_EQ(threads.size(), 8u);
  expect_index_matches_rows(*s, a);
  expect_fsck_clean(*s);
}

}  // namespace
}  // namespace refmail::storage::testing
