// tests/unit/mime/mime_test_util.hpp — helpers for the MIME core tests: an in-memory
// content-addressed blob store (BlobSink + BlobSource), corpus enumeration, mbox split,
// and split/join drivers with chosen chunkings.
#pragma once
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "mime/blob_io.hpp"
#include "mime/errc.hpp"
#include "mime/joiner.hpp"
#include "mime/splitter.hpp"

namespace refmail::mime::test {

inline std::string fnv_id(std::string_view data) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx-%llu", static_cast<unsigned long long>(h),
                static_cast<unsigned long long>(data.size()));
  return buf;
}

// Content-addressed in-memory store. ids = FNV-1a-64 hex + size.
class MemoryBlobs final : public BlobSink, public BlobSource {
 public:
  std::map<std::string, std::string> blobs;
  std::string current;
  bool open = false;
  int begins = 0, commits = 0, discards = 0;
  bool fail_commit = false;
  std::size_t max_current = 0;  // largest candidate seen (decoded bytes)

  void begin() override {
    EXPECT_FALSE(open) << "begin() while a candidate is open";
    open = true;
    current.clear();
    ++begins;
  }
  void append(std::span<const char> d) override {
    EXPECT_TRUE(open);
    current.append(d.data(), d.size());
    max_current = std::max(max_current, current.size());
  }
  boost::system::result<std::string> commit() override {
    EXPECT_TRUE(open);
    open = false;
    ++commits;
    if (fail_commit) return errc::sink_failed;
    std::string id = fnv_id(current);
    blobs.emplace(id, current);
    current.clear();
    return id;
  }
  void discard() override {
    EXPECT_TRUE(open);
    open = false;
    ++discards;
    current.clear();
  }
  boost::system::result<std::size_t> read(std::string_view id, std::uint64_t off,
                                          std::span<char> out) override {
    auto it = blobs.find(std::string(id));
    if (it == blobs.end()) return errc::blob_missing;
    if (off >= it->second.size()) return std::size_t{0};
    const std::size_t n = std::min<std::size_t>(out.size(), it->second.size() - off);
    std::memcpy(out.data(), it->second.data() + off, n);
    return n;
  }
};

// A sink that only counts (for the bounded-memory test: it keeps nothing).
class CountingSink final : public BlobSink {
 public:
  std::uint64_t bytes = 0, max_append = 0;
  std::uint64_t current = 0;
  void begin() override { current = 0; }
  void append(std::span<const char> d) override {
    current += d.size();
    bytes += d.size();
    max_append = std::max<std::uint64_t>(max_append, d.size());
  }
  boost::system::result<std::string> commit() override { return std::string("blob") + std::to_string(current); }
  void discard() override {}
};

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Splits an mbox into messages on "From " lines at message starts (the separator line
// itself is kept with its message).
inline std::vector<std::string> split_mbox(const std::string& mbox) {
  std::vector<std::string> out;
  std::size_t start = 0;
  std::size_t pos = 0;
  while (true) {
    const std::size_t nl = mbox.find("\nFrom ", pos);
    if (nl == std::string::npos) break;
    if (nl + 1 > start) out.push_back(mbox.substr(start, nl + 1 - start));
    start = nl + 1;
    pos = nl + 1;
  }
  if (start < mbox.size()) out.push_back(mbox.substr(start));
  return out;
}

enum class Chunking { Whole, OneByte, Random };

struct SplitResult {
  Skeleton skeleton;
  SplitStats stats;
};

inline SplitResult split_with(std::string_view m, BlobSink& sink, Chunking ch,
                              std::uint32_t seed = 1, const SplitParams& params = {}) {
  Splitter s(params, sink);
  if (ch == Chunking::Whole) {
    s.feed(m);
  } else if (ch == Chunking::OneByte) {
    for (char c : m) s.feed(std::string_view(&c, 1));
  } else {
    std::mt19937 rng(seed);
    std::size_t pos = 0;
    while (pos < m.size()) {
      const std::size_t k = std::min<std::size_t>(m.size() - pos, 1 + rng() % 700);
      s.feed(m.substr(pos, k));
      pos += k;
    }
  }
  auto r = s.finish();
  EXPECT_TRUE(r.has_value());
  SplitResult out;
  if (r) out.skeleton = std::move(*r);
  out.stats = s.stats();
  return out;
}

inline std::string join_chunked(const Skeleton& sk, BlobSource& src, std::size_t chunk) {
  Joiner j(sk, src);
  std::string out;
  std::string buf(chunk, '\0');
  while (true) {
    auto r = j.read(std::span<char>(buf.data(), buf.size()));
    EXPECT_TRUE(r.has_value());
    if (!r || *r == 0) break;
    out.append(buf.data(), *r);
  }
  return out;
}

inline std::vector<std::filesystem::path> corpus_files() {
  std::vector<std::filesystem::path> out;
  const std::filesystem::path root = std::filesystem::path(REFMAIL_SHARED_DIR) / "corpus";
  for (auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    const auto name = e.path().filename().string();
    if (name == "INVENTORY.tsv" || name == "README.md") continue;
    out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace refmail::mime::test
