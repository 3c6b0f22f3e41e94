// tests/unit/storage/crash_test.cpp — kill -9 in the middle of a stream of durable
// deliveries. A child process (this test binary re-executed, so RocksDB starts with
// fresh threads) commits deliveries in a loop and reports each message id on a pipe
// only after commit() returned; the parent SIGKILLs it mid-stream, reopens the store,
// and checks that every reported delivery is whole and fsck finds no drift (fsck also
// derives the mailbox index from the rows: views, thread counts, counters).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "helpers.hpp"

namespace refmail::storage::testing {
namespace {

constexpr const char* kChildEnv = "REFMAIL_STORAGE_CRASH_CHILD";
constexpr std::size_t kShared = 70000;

std::string attachment_for(int i) { return random_bytes(500 + (i * 7919) % 9000, 5000 + i); }

// The writer. Skipped unless started by CrashTest with "<data dir>:<pipe fd>".
TEST(CrashChild, Writer) {
  const char* env = std::getenv(kChildEnv);
  if (env == nullptr) GTEST_SKIP() << "only runs as the crash test's child";
  std::string arg(env);
  auto colon = arg.rfind(':');
  fs::path data = arg.substr(0, colon);
  int fd = std::atoi(arg.c_str() + colon + 1);
  auto s = open_store(test_options(data));
  ASSERT_TRUE(s);
  const auto shared = random_bytes(kShared, 99);
  // Two writers, so the kill also lands in the middle of group commits.
  auto writer = [&](int t) {
    for (int k = 0; k < 50000; ++k) {
      const int i = 2 * k + t;
      auto r = deliver(*s, {{"a@x.test"}, {"b@x.test"}}, {shared, attachment_for(i)});
      if (!r) std::abort();  // the parent sees SIGABRT instead of SIGKILL
      if (i % 3 == 0) {      // exercise expunge + GC too: b drops its copy
        std::vector<std::uint32_t> uid{r->rows[1].uid};
        if (!s->expunge("b@x.test", "INBOX", uid)) std::abort();
      }
      // And the mailbox index's other writers: a flag change and a copy.
      if (i % 4 == 1 && !s->set_keywords("a@x.test", "INBOX", r->rows[0].uid, {"$seen"})) std::abort();
      if (i % 5 == 2 && !s->copy_row("a@x.test", "INBOX", r->rows[0].uid, "Archive", /*move=*/false)) std::abort();
      // One write() per line (< PIPE_BUF), so lines of the two writers never mix.
      std::string line = std::to_string(i) + " " + r->message_id + "\n";
      if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) std::abort();
    }
  };
  std::thread t0(writer, 0), t1(writer, 1);
  t0.join();
  t1.join();
}

TEST(Crash, KillDashNineMidStreamLosesNothingCommitted) {
  TempDir dir;
  auto data = dir.path() / "data";
  {
    auto s = open_store(test_options(data));
    ASSERT_TRUE(s);
    add_users(*s, {"a@x.test", "b@x.test"});
  }
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string env = data.string() + ":" + std::to_string(fds[1]);
    ::setenv(kChildEnv, env.c_str(), 1);
    ::execl("/proc/self/exe", "unit_storage", "--gtest_filter=CrashChild.Writer", nullptr);
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  auto lines = [&] { return std::count(got.begin(), got.end(), '\n'); };
  char buf[4096];
  while (lines() < 60 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    auto n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  // Whatever the child reported before dying was committed too.
  for (;;) {
    auto n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child ended by itself: status " << status;
  ASSERT_GE(lines(), 10) << "too few deliveries before the kill";

  auto s = open_store(test_options(data));
  ASSERT_TRUE(s);
  const auto shared = random_bytes(kShared, 99);
  std::istringstream in(got);
  int i = 0;
  std::string id;
  int checked = 0;
  std::string shared_blob;
  while (in >> i >> id) {
    auto m = s->get_message(id);
    ASSERT_TRUE(m) << "committed message " << i << " " << id << " is missing";
    ASSERT_EQ(m->record.blob_ids.size(), 2u);
    EXPECT_EQ(m->refcount, (i % 3 == 0 ? 1 : 2) + (i % 5 == 2 ? 1 : 0)) << i;
    if (shared_blob.empty()) {
      shared_blob = m->record.blob_ids[0];
      EXPECT_EQ(read_all(*s, shared_blob), shared);
    }
    EXPECT_EQ(m->record.blob_ids[0], shared_blob);
    EXPECT_EQ(read_all(*s, m->record.blob_ids[1]), attachment_for(i)) << i;
    ++checked;
  }
  EXPECT_EQ(checked, lines());
  // Deliveries after the last report may exist too (committed but not yet reported);
  // either way every count adds up.
  auto rows = s->list_rows("a@x.test", "INBOX");
  ASSERT_TRUE(rows);
  EXPECT_GE(rows->size(), static_cast<std::size_t>(checked));
  expect_fsck_clean(*s);
  // And the store keeps working: UIDs continue above every one seen.
  std::uint32_t max_uid = 0;
  for (const auto& r : *rows) max_uid = std::max(max_uid, r.uid);
  auto r = deliver(*s, {{"a@x.test"}}, {shared});
  ASSERT_TRUE(r);
  EXPECT_GT(r->rows[0].uid, max_uid);
}

}  // namespace
}  // namespace refmail::storage::testing
