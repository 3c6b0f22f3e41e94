// tools/bench/mime.cpp — refmail-bench-mime: split and join throughput over a generated
// workload (REFMAIL_WORKLOAD=DIR written by ../shared/bench/gen_workload.py), plus the
// dedup achieved: unique decoded blob bytes vs the generator's unique attachment bytes.
// A benchmark measures; it asserts nothing about time.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "mime/blob_io.hpp"
#include "mime/codec.hpp"
#include "mime/joiner.hpp"
#include "mime/memory_blobs.hpp"
#include "mime/splitter.hpp"

namespace {

using namespace refmail::mime;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Workload {
  std::vector<std::string> messages;
  std::uint64_t bytes = 0;
  std::uint64_t generator_unique_att_bytes = 0;
  bool loaded = false;
};

const Workload& workload() {
  static Workload w = [] {
    Workload w;
    const char* dir = std::getenv("REFMAIL_WORKLOAD");
    if (dir == nullptr) return w;
    std::vector<std::filesystem::path> files;
    for (auto& e : std::filesystem::directory_iterator(std::filesystem::path(dir) / "msgs"))
      files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      w.messages.push_back(slurp(f));
      w.bytes += w.messages.back().size();
    }
    const std::string stats = slurp(std::filesystem::path(dir) / "stats.json");
    const std::size_t k = stats.find("\"unique_att_bytes\":");
    if (k != std::string::npos)
      w.generator_unique_att_bytes = std::strtoull(stats.c_str() + k + 19, nullptr, 10);
    w.loaded = !w.messages.empty();
    return w;
  }();
  return w;
}

// Keeps nothing: measures the splitter alone.
class NullSink final : public BlobSink {
 public:
  void begin() override {}
  void append(std::span<const char> d) override { benchmark::DoNotOptimize(d.data()); }
  boost::system::result<std::string> commit() override { return std::string("x"); }
  void discard() override {}
};

// Content-addressed in-memory store (id = std::hash of content + size; the bench is not
// adversarial, the real store compares bytes).
using MemoryStore = MemoryBlobs;

void BM_Split(benchmark::State& state) {
  const Workload& w = workload();
  if (!w.loaded) {
    state.SkipWithError("set REFMAIL_WORKLOAD to a gen_workload.py output directory");
    return;
  }
  const std::size_t chunk = static_cast<std::size_t>(state.range(0));
  std::uint64_t cuts = 0;
  for (auto _ : state) {
    cuts = 0;
    for (const std::string& m : w.messages) {
      NullSink sink;
      Splitter s(SplitParams{}, sink);
      for (std::size_t i = 0; i < m.size(); i += chunk)
        s.feed(std::string_view(m).substr(i, chunk));
      auto r = s.finish();
      if (r) cuts += r->cuts.size();
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * w.bytes));
  state.counters["cuts"] = static_cast<double>(cuts);
}
BENCHMARK(BM_Split)->Arg(64 * 1024)->Unit(benchmark::kMillisecond)->UseRealTime();

struct Prepared {
  MemoryStore store;
  std::vector<Skeleton> skeletons;
  std::uint64_t skeleton_bytes = 0;
  std::uint64_t unique_blob_bytes = 0;
  std::size_t cut_count = 0;
  bool ok = true;
};

Prepared& prepared() {
  static Prepared p = [] {
    Prepared p;
    for (const std::string& m : workload().messages) {
      auto r = split_message(m, p.store);
      if (!r) {
        p.ok = false;
        continue;
      }
      p.skeleton_bytes += r->bytes.size();
      p.cut_count += r->cuts.size();
      p.skeletons.push_back(std::move(*r));
    }
    for (auto& [id, b] : p.store.blobs()) p.unique_blob_bytes += b.size();
    return p;
  }();
  return p;
}

void BM_Join(benchmark::State& state) {
  const Workload& w = workload();
  if (!w.loaded) {
    state.SkipWithError("set REFMAIL_WORKLOAD to a gen_workload.py output directory");
    return;
  }
  Prepared& p = prepared();
  std::vector<char> buf(static_cast<std::size_t>(state.range(0)));
  std::uint64_t mismatches = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < p.skeletons.size(); ++i) {
      Joiner j(p.skeletons[i], p.store);
      std::uint64_t n = 0;
      while (true) {
        auto r = j.read(std::span<char>(buf.data(), buf.size()));
        if (!r || *r == 0) break;
        benchmark::DoNotOptimize(buf.data());
        n += *r;
      }
      if (n != w.messages[i].size()) ++mismatches;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * w.bytes));
  state.counters["size_mismatches"] = static_cast<double>(mismatches);
}
BENCHMARK(BM_Join)->Arg(64 * 1024)->Unit(benchmark::kMillisecond)->UseRealTime();

// Not timed for speed: verifies the round trip once and reports the dedup.
void BM_Dedup(benchmark::State& state) {
  const Workload& w = workload();
  if (!w.loaded) {
    state.SkipWithError("set REFMAIL_WORKLOAD to a gen_workload.py output directory");
    return;
  }
  Prepared& p = prepared();
  std::uint64_t identical = 0;
  for (auto _ : state) {
    identical = 0;
    for (std::size_t i = 0; i < p.skeletons.size(); ++i) {
      auto j = join_all(p.skeletons[i], p.store);
      if (j && *j == w.messages[i]) ++identical;
    }
  }
  state.counters["messages"] = static_cast<double>(w.messages.size());
  state.counters["identical"] = static_cast<double>(identical);
  state.counters["cuts"] = static_cast<double>(p.cut_count);
  state.counters["input_MB"] = static_cast<double>(w.bytes) / 1e6;
  state.counters["skeleton_MB"] = static_cast<double>(p.skeleton_bytes) / 1e6;
  state.counters["unique_blob_MB"] = static_cast<double>(p.unique_blob_bytes) / 1e6;
  state.counters["generator_unique_att_MB"] =
      static_cast<double>(w.generator_unique_att_bytes) / 1e6;
  state.counters["unique_blob_bytes"] = static_cast<double>(p.unique_blob_bytes);
  state.counters["generator_unique_att_bytes"] =
      static_cast<double>(w.generator_unique_att_bytes);
}
BENCHMARK(BM_Dedup)->Iterations(1)->Unit(benchmark::kMillisecond);

// Codec alone: 8 MiB of random bytes, 76 columns, CRLF.
const std::string& random_8mb() {
  static const std::string s = [] {
    std::string r(8 << 20, '\0');
    std::uint64_t x = 88172645463325252ull;
    for (char& c : r) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = static_cast<char>(x);
    }
    return r;
  }();
  return s;
}

void BM_Base64Encode(benchmark::State& state) {
  const std::string& in = random_8mb();
  std::string out;
  for (auto _ : state) {
    out.clear();
    Base64Encoder enc(Base64Params{});
    enc.update(in, out);
    enc.finish(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(BM_Base64Encode)->Unit(benchmark::kMillisecond);

void BM_Base64Decode(benchmark::State& state) {
  const std::string enc = base64_encode(random_8mb());
  std::string out;
  for (auto _ : state) {
    out.clear();
    Base64Decoder dec;
    dec.update(enc, out);
    dec.finish(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * enc.size()));
}
BENCHMARK(BM_Base64Decode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
