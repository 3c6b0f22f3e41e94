// tools/bench/index_build.cpp — refmail-bench-index_build: what the mailbox index costs
// on disk per message, and how long Store::open takes to build it for a data folder
// from before it (the migration). Fills one account through the Store API with
// --rows small messages (every 7th a reply, 5% read), compacts, and measures the data
// folder; then deletes every index key (message index, date views, thread counts and
// members, modseq view, sorted views, mailbox counters), compacts and measures again: the difference
// is the index on disk. Last, opens the store, which rebuilds the index, and times it.
// BM_DeliveryCost: the store's CPU per delivery at 0, 20%, 45% and 95% of --rows.
// Measures only; asserts nothing; the temporary store under $TMPDIR is removed at exit.
// Example: refmail-bench-index_build --benchmark_filter=. --rows=100000
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <benchmark/benchmark.h>

#include "mime/summary.hpp"
#include "storage/impl.hpp"
#include "storage/rocksdb/kv_rocksdb.hpp"
#include "storage/store.hpp"

namespace {

namespace fs = std::filesystem;
using namespace refmail::storage;

long g_rows = 10000;
fs::path g_dir;

void die(const char* what, const boost::system::error_code& ec) {
  std::fprintf(stderr, "%s: %s\n", what, error_detail(ec).c_str());
  std::exit(1);
}

std::uint64_t folder_bytes(const fs::path& p) {
  std::uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(p))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

StoreOptions options() {
  StoreOptions o;
  o.path = g_dir / "data";
  o.sync_writes = false;  // the fill is not what is measured
  o.password_cost = PasswordCost::test_minimal;
  return o;
}

// Key and value bytes of the index, by kind, before compression.
struct RawBytes {
  std::uint64_t keys = 0, bytes = 0;
};

// One small message, as the fill and BM_DeliveryCost deliver it: every 7th a reply to
// the message six before it, 5% read, a real summary so the sorted views get real keys.
void deliver_one(Store& s, const std::string& account, long i) {
  auto d = s.begin_delivery();
  MessageRecord m;
  m.skeleton = "From: a@b.test\r\nSubject: message " + std::to_string(i) + "\r\n\r\nbody\r\n";
  refmail::mime::Summary sum;
  sum.from.push_back(refmail::mime::Address{"Sender " + std::to_string(i % 500), "s" + std::to_string(i % 500) + "@b.test"});
  sum.subject = (i % 7 == 6 ? "Re: " : "") + std::string("Quarterly report number ") + std::to_string(i / 7);
  sum.date = 1'700'000'000 + i;
  m.summary = sum.serialize();
  m.logical_size = m.skeleton.size();
  d.set_message(std::move(m));
  std::vector<std::string> refs;
  if (i % 7 == 6) refs.push_back("m" + std::to_string(i - 6) + "@bench");
  d.set_thread_keys({"m" + std::to_string(i) + "@bench"}, std::move(refs));
  d.add_mailbox_row(account, "INBOX", i % 20 == 0 ? std::vector<std::string>{"$seen"} : std::vector<std::string>{},
                    UnixSeconds(std::chrono::seconds(1'700'000'000 + i)));
  if (auto r = d.commit(); !r) die("commit", r.error());
}

void BM_IndexBuild(benchmark::State& state) {
  const std::string account = "user@bench.test";
  for (auto _ : state) {
    fs::remove_all(g_dir / "data");
    {
      auto s = Store::open(options());
      if (!s) die("open", s.error());
      if (auto r = (*s)->add_domain("bench.test"); !r) die("add_domain", r.error());
      if (auto r = (*s)->add_user(account, "pw"); !r) die("add_user", r.error());
      for (long i = 0; i < g_rows; ++i) deliver_one(**s, account, i);
      if (auto r = (*s)->compact(); !r) die("compact", r.error());
    }
    const auto with_index = folder_bytes(g_dir / "data");
    std::map<char, RawBytes> raw;
    {
      auto kv = rocksdb_backend::open(options());
      if (!kv) die("kv open", kv.error());
      auto it = (*kv)->iterator(kCfMailbox, nullptr);
      for (it->seek_to_first(); it->valid(); it->next()) {
        const char p = it->key()[0];
        if (p != 'E' && p != 'D' && p != 'G' && p != 'T' && p != 'M' && p != 'O') continue;
        raw[p].keys += 1;
        raw[p].bytes += it->key().size() + it->value().size();
      }
      auto b = (*kv)->batch();
      for (const char* range : {"D", "E", "G", "M", "O", "T"}) {
        std::string from(range), to(1, static_cast<char>(range[0] + 1));
        b.delete_range(kCfMailbox, from, to);
      }
      b.delete_range(kCfCounter, "mc/", "mc0");
      b.del(kCfDefault, kIndexFormatKey);
      if (auto r = (*kv)->write(b, KvSync::kAlways); !r) die("drop index", r.error());
      if (auto r = (*kv)->compact(); !r) die("kv compact", r.error());
    }
    const auto without_index = folder_bytes(g_dir / "data");
    auto o = options();
    std::uint64_t built = 0;
    o.on_index_progress = [&](std::string_view stage, std::uint64_t rows) {
      if (stage == "done") built = rows;
    };
    const auto t0 = std::chrono::steady_clock::now();
    auto s = Store::open(o);
    const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!s) die("reopen", s.error());
    state.SetIterationTime(secs);
    state.counters["rows"] = static_cast<double>(built);
    state.counters["build_s"] = secs;
    state.counters["rows_per_s"] = static_cast<double>(built) / secs;
    state.counters["data_B_per_msg"] = static_cast<double>(with_index) / static_cast<double>(g_rows);
    state.counters["index_disk_B_per_msg"] =
        (static_cast<double>(with_index) - static_cast<double>(without_index)) / static_cast<double>(g_rows);
    std::uint64_t raw_total = 0;
    for (const auto& [p, r] : raw) {
      raw_total += r.bytes;
      state.counters[std::string("raw_") + p + "_B_per_msg"] = static_cast<double>(r.bytes) / static_cast<double>(g_rows);
    }
    state.counters["index_raw_B_per_msg"] = static_cast<double>(raw_total) / static_cast<double>(g_rows);
  }
}
BENCHMARK(BM_IndexBuild)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

// CPU seconds of the whole process (every thread: RocksDB's flushes and compactions too).
double process_cpu_s() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU seconds of the calling thread only (the deliveries, without background work).
double thread_cpu_s() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// What one delivery costs the store as the account grows: the process's CPU per message
// (and the delivering thread's own CPU per message, without RocksDB's flushes and
// compactions) over windows of 5,000 deliveries starting at 0 and at 20%, 45% and 95% of --rows (the
// mailbox issue's SMTP goal, without SMTP, MIME or a load client on the same cores).
// The store writes without fsync (what grows is CPU, not the sync).
void BM_DeliveryCost(benchmark::State& state) {
  const std::string account = "user@bench.test";
  const long window = std::min<long>(5000, g_rows);
  for (auto _ : state) {
    fs::remove_all(g_dir / "data");
    auto s = Store::open(options());
    if (!s) die("open", s.error());
    if (auto r = (*s)->add_domain("bench.test"); !r) die("add_domain", r.error());
    if (auto r = (*s)->add_user(account, "pw"); !r) die("add_user", r.error());
    const long starts[] = {0, g_rows / 5, g_rows * 9 / 20, g_rows - window};
    const auto t0 = std::chrono::steady_clock::now();
    long i = 0;
    for (long start : starts) {
      for (; i < start; ++i) deliver_one(**s, account, i);
      const double cpu0 = process_cpu_s(), own0 = thread_cpu_s();
      for (; i < start + window; ++i) deliver_one(**s, account, i);
      const auto at = std::to_string(start / 1000) + "k";
      state.counters["cpu_us_per_msg_at_" + at] = (process_cpu_s() - cpu0) * 1e6 / static_cast<double>(window);
      state.counters["delivering_thread_us_per_msg_at_" + at] =
          (thread_cpu_s() - own0) * 1e6 / static_cast<double>(window);
    }
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}
BENCHMARK(BM_DeliveryCost)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--rows=", 7) == 0) g_rows = std::atol(argv[i] + 7);
    else rest.push_back(argv[i]);
  }
  int n = static_cast<int>(rest.size());
  const char* tmp = std::getenv("TMPDIR");
  g_dir = fs::path(tmp ? tmp : "/tmp") / ("refmail-bench-index-" + std::to_string(::getpid()));
  fs::create_directories(g_dir);
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  fs::remove_all(g_dir);
  return 0;
}
