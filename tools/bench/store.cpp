// tools/bench/store.cpp — refmail-bench-store: blob put/get throughput (64 KiB..8 MiB),
// dedup-hit put (keyed XXH3 + full byte compare against the stored copy), and durable
// deliveries/s with 10 mailbox rows each from 1 and 8 writer threads (group commit).
// Measures only; asserts nothing. Runs on a temporary store under $TMPDIR, removed
// at exit. Example: refmail-bench-store --benchmark_min_time=0.2
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "storage/store.hpp"

namespace {

namespace fs = std::filesystem;
using refmail::storage::MessageRecord;
using refmail::storage::Store;

Store* g_store = nullptr;
constexpr int kAccounts = 100;

std::string account(int i) { return "user" + std::to_string(i) + "@bench.test"; }

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937_64 gen(seed);
  std::string s(n, '\0');
  for (std::size_t i = 0; i + 8 <= n; i += 8) {
    auto v = gen();
    std::memcpy(s.data() + i, &v, 8);
  }
  return s;
}

void die(const char* what, const boost::system::error_code& ec) {
  std::fprintf(stderr, "%s: %s\n", what, refmail::storage::error_detail(ec).c_str());
  std::exit(1);
}

// Puts a blob of new bytes in a one-row delivery (chunks + SHA-256 + durable commit).
void BM_BlobPut(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  auto bytes = random_bytes(size, 1);
  static std::atomic<std::uint64_t> serial{1};
  for (auto _ : state) {
    auto n = serial++;
    std::memcpy(bytes.data(), &n, sizeof n);  // new content every time
    auto d = g_store->begin_delivery();
    auto id = d.put_blob(bytes);
    if (!id) die("put_blob", id.error());
    d.set_message(MessageRecord{"skeleton", "summary", {*id}, size});
    d.add_mailbox_row(account(0));
    auto r = d.commit();
    if (!r) die("commit", r.error());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

std::string stored_blob(std::size_t size, std::uint32_t seed) {
  auto d = g_store->begin_delivery();
  auto bytes = random_bytes(size, seed);
  auto id = d.put_blob(bytes);
  if (!id) die("put_blob", id.error());
  d.set_message(MessageRecord{"skeleton", "summary", {*id}, size});
  d.add_mailbox_row(account(1));
  auto r = d.commit();
  if (!r) die("commit", r.error());
  return *id;
}

void BM_BlobGet(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  auto id = stored_blob(size, 1000 + static_cast<std::uint32_t>(size));
  std::string buf(1 << 20, '\0');
  for (auto _ : state) {
    std::uint64_t off = 0;
    for (;;) {
      auto n = g_store->read_blob(id, off, buf);
      if (!n) die("read_blob", n.error());
      if (*n == 0) break;
      off += *n;
    }
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

// The same bytes as a stored blob: keyed XXH3-128 while staging, then the full
// comparison with the stored chunks; nothing is written.
void BM_DedupHitPut(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const auto seed = 2000 + static_cast<std::uint32_t>(size);
  auto id = stored_blob(size, seed);
  auto bytes = random_bytes(size, seed);
  for (auto _ : state) {
    auto d = g_store->begin_delivery();
    auto got = d.put_blob(bytes);
    if (!got || *got != id) die("dedup", got ? boost::system::error_code() : got.error());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

// A 3 KiB skeleton + summary delivered to 10 mailboxes, durably (sync WAL).
void BM_Delivery10Rows(benchmark::State& state) {
  const std::string skeleton(3000, 'x');
  const std::string summary(300, 's');
  const int base = state.thread_index() * 10;
  for (auto _ : state) {
    auto d = g_store->begin_delivery();
    d.set_message(MessageRecord{skeleton, summary, {}, 3000});
    for (int i = 0; i < 10; ++i) d.add_mailbox_row(account((base + i) % kAccounts));
    auto r = d.commit();
    if (!r) die("commit", r.error());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Delivery10RowsSharedAttachment(benchmark::State& state) {
  const std::string skeleton(3000, 'x');
  const auto attachment = random_bytes(64 << 10, 77);
  const int base = state.thread_index() * 10;
  for (auto _ : state) {
    auto d = g_store->begin_delivery();
    auto id = d.put_blob(attachment);
    if (!id) die("put_blob", id.error());
    d.set_message(MessageRecord{skeleton, "summary", {*id}, 3000 + attachment.size()});
    for (int i = 0; i < 10; ++i) d.add_mailbox_row(account((base + i) % kAccounts));
    auto r = d.commit();
    if (!r) die("commit", r.error());
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_BlobPut)->RangeMultiplier(4)->Range(64 << 10, 8 << 20)->UseRealTime();
BENCHMARK(BM_BlobGet)->RangeMultiplier(4)->Range(64 << 10, 8 << 20)->UseRealTime();
BENCHMARK(BM_DedupHitPut)->RangeMultiplier(4)->Range(64 << 10, 8 << 20)->UseRealTime();
BENCHMARK(BM_Delivery10Rows)->Threads(1)->Threads(8)->Threads(32)->UseRealTime();
BENCHMARK(BM_Delivery10RowsSharedAttachment)->Threads(1)->Threads(8)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  auto dir = fs::temp_directory_path() / ("refmail-bench-store-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  refmail::storage::StoreOptions o;
  o.path = dir;
  o.password_cost = refmail::storage::PasswordCost::test_minimal;
  auto store = Store::open(o);
  if (!store) die("open", store.error());
  g_store = store->get();
  if (auto r = g_store->add_domain("bench.test"); !r) die("add_domain", r.error());
  for (int i = 0; i < kAccounts; ++i)
    if (auto r = g_store->add_user(account(i), "pw"); !r) die("add_user", r.error());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (auto st = g_store->stats(); st)
    std::printf("store: logical %llu B, physical %llu B, blobs %llu, saving ratio %.3f\n",
                static_cast<unsigned long long>(st->logical_bytes),
                static_cast<unsigned long long>(st->physical_bytes),
                static_cast<unsigned long long>(st->blobs), st->saving_ratio);
  g_store = nullptr;
  store->reset();
  fs::remove_all(dir);
  return 0;
}
