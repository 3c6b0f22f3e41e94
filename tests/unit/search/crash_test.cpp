// tests/unit/search/crash_test.cpp — kill -9 while mail arrives, is read and expunged and
// the full-text index catches up beside it (as the search worker does). A child process
// (this binary re-executed) does both; the parent SIGKILLs it mid-stream, reopens store
// and index, lets the index catch up, and checks that every search answers what an index
// rebuilt from the rows answers: no message indexed twice or lost, no expunged message
// found, the index's cursor never ahead of what it holds. (This test found that Xapian's
// boolean matcher fails on the long posting lists such an index grows: search/index.cpp.)
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "search/index.hpp"
#include "storage/store.hpp"
#include "tests/unit/web/store_setup.hpp"

namespace refmail::search {
namespace {

namespace fs = std::filesystem;

constexpr const char* kChildEnv = "REFMAIL_SEARCH_CRASH_CHILD";
constexpr std::string_view kAlice = "alice@example.test";

std::unique_ptr<storage::Store> open_store(const fs::path& dir) {
  storage::StoreOptions o;
  o.path = dir / "store";
  o.password_cost = storage::PasswordCost::test_minimal;
  auto s = storage::Store::open(std::move(o));
  EXPECT_TRUE(s);
  return s ? std::move(*s) : nullptr;
}

std::unique_ptr<Index> open_index(storage::Store& store, const fs::path& dir) {
  Options o;
  o.dir = dir;
  return std::make_unique<Index>(store, o);
}

// Message i: words that select it by i % 10 (body), i % 7 (subject) and i % 3 (sender).
std::string mail(int i) {
  return "From: Sender" + std::to_string(i % 3) + " <s" + std::to_string(i % 3) + "@outside.test>\r\n"
         "To: alice@example.test\r\nSubject: topic" + std::to_string(i % 7) + " number " + std::to_string(i) +
         "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nwords colour" + std::to_string(i % 10) +
         " harbour\r\n";
}

// The child. Skipped unless started by the crash test with the folder in kChildEnv.
TEST(SearchCrashChild, DeliversAndIndexes) {
  const char* env = std::getenv(kChildEnv);
  if (env == nullptr) GTEST_SKIP() << "only runs as the crash test's child";
  const fs::path dir(env);
  auto store = open_store(dir);
  ASSERT_TRUE(store);
  auto index = open_index(*store, dir / "fts");
  std::atomic<bool> stop{false};
  // The worker's loop: small catch-ups, each a Xapian commit, all the time.
  std::thread indexer([&] {
    while (!stop) {
      auto r = index->catch_up(kAlice, 200);
      if (!r && r.error() != errc::behind) std::abort();
    }
  });
  for (int i = 0;; ++i) {
    const auto id = web::testing::deliver_message(*store, mail(i), {std::string(kAlice)});
    if (id.empty()) std::abort();
    auto rows = store->message_rows(kAlice, id);
    if (!rows || rows->empty()) std::abort();
    const auto uid = rows->front().uid;
    if (i % 4 == 1 && !store->set_keywords(kAlice, "INBOX", uid, {"$seen"})) std::abort();
    if (i % 3 == 2) {
      std::vector<std::uint32_t> uids{uid};
      if (!store->expunge(kAlice, "INBOX", uids)) std::abort();
    }
  }
}

TEST(SearchCrash, KillDashNineWhileIndexingLeavesAnIndexEqualToARebuild) {
  std::random_device rd;
  const fs::path dir = fs::temp_directory_path() / ("refmail-search-crash-" + std::to_string(rd()) + std::to_string(rd()));
  fs::create_directories(dir);
  {
    auto store = open_store(dir);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->add_domain("example.test"));
    ASSERT_TRUE(store->add_user(std::string(kAlice), "pw"));
  }
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv(kChildEnv, dir.c_str(), 1);
    ::execl("/proc/self/exe", "unit_search", "--gtest_filter=SearchCrashChild.DeliversAndIndexes", nullptr);
    ::_exit(127);
  }
  // Until the index has committed many times (its common words' posting lists span
  // several chunks) and mail is still arriving.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::uint64_t delivered = 0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    if (std::chrono::steady_clock::now() > deadline) break;
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, WNOHANG), 0) << "the child ended by itself: status " << status;
    if (fs::exists(dir / "fts")) {
      std::error_code ec;
      std::uintmax_t bytes = 0;
      for (const auto& e : fs::recursive_directory_iterator(dir / "fts", ec)) bytes += e.is_regular_file() ? e.file_size(ec) : 0;
      if (bytes > 2'000'000) break;
    }
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;

  auto store = open_store(dir);
  ASSERT_TRUE(store);
  auto rows = store->list_rows(kAlice, "INBOX");
  ASSERT_TRUE(rows);
  delivered = rows->size();
  ASSERT_GT(delivered, 50u) << "too few deliveries before the kill";
  auto crashed = open_index(*store, dir / "fts");
  auto r = crashed->catch_up(kAlice);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->rebuilt) << r->rebuild_reason;  // it continued from its last commit
  auto fresh = open_index(*store, dir / "fts-rebuilt");
  auto f = fresh->catch_up(kAlice);
  ASSERT_TRUE(f && f->rebuilt);
  EXPECT_EQ(f->indexed, delivered);
  auto ids = [&](Index& x, Field field, std::string_view text) {
    auto got = x.search(kAlice, field, text);
    EXPECT_TRUE(got) << text;
    if (!got) return std::vector<std::string>{};
    std::sort(got->begin(), got->end());
    return *got;
  };
  std::size_t found = 0;
  for (int k = 0; k < 10; ++k) {
    const auto word = "colour" + std::to_string(k);
    const auto want = ids(*fresh, Field::body, word);
    EXPECT_EQ(ids(*crashed, Field::body, word), want) << word;
    found += want.size();
  }
  EXPECT_EQ(found, delivered);  // every row found by exactly one body word
  for (int k = 0; k < 7; ++k) {
    const auto word = "topic" + std::to_string(k);
    EXPECT_EQ(ids(*crashed, Field::subject, word), ids(*fresh, Field::subject, word)) << word;
  }
  for (int k = 0; k < 3; ++k) {
    const auto who = "s" + std::to_string(k) + "@outside.test";
    EXPECT_EQ(ids(*crashed, Field::from, who), ids(*fresh, Field::from, who)) << who;
  }
  EXPECT_EQ(ids(*crashed, Field::text, "harbour").size(), delivered);
  crashed.reset();
  fresh.reset();
  store.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace refmail::search
