// tests/fuzz/fuzz_mime_roundtrip.cpp — libFuzzer target: arbitrary bytes -> splitter ->
// joiner must give the same bytes back (the lossless rule), whatever the chunking.
// The first input byte picks the chunking seed and the cut threshold; the rest is the
// message. Also checked (abort on violation): the skeleton does not depend on the
// chunking, survives serialize()/parse(), its joined_size() is the input size, blobs
// hold what the cuts say, and the summary of message + skeleton does not crash.
// Seed with ../shared/corpus; run: fuzz_mime_roundtrip -max_total_time=30 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"
#include "mime/errc.hpp"
#include "mime/joiner.hpp"
#include "mime/splitter.hpp"
#include "mime/summary.hpp"

using namespace refmail::mime;

namespace {

class MemoryBlobs final : public BlobSink, public BlobSource {
 public:
  std::map<std::string, std::string> blobs;
  std::string cur;
  bool open = false;
  void begin() override {
    FUZZ_CHECK(!open);
    open = true;
    cur.clear();
  }
  void append(std::span<const char> d) override {
    FUZZ_CHECK(open);
    cur.append(d.data(), d.size());
  }
  boost::system::result<std::string> commit() override {
    FUZZ_CHECK(open);
    open = false;
    std::string id = "b" + std::to_string(blobs.size());
    blobs.emplace(id, cur);
    return id;
  }
  void discard() override {
    FUZZ_CHECK(open);
    open = false;
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

Skeleton split(std::string_view m, MemoryBlobs& store, const SplitParams& sp,
               std::uint32_t seed) {
  Splitter s(sp, store);
  if (seed == 0) {
    s.feed(m);
  } else {
    std::uint64_t x = seed;
    std::size_t pos = 0;
    while (pos < m.size()) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      const std::size_t k = std::min<std::size_t>(m.size() - pos, 1 + (x >> 33) % 97);
      s.feed(m.substr(pos, k));
      pos += k;
    }
  }
  auto r = s.finish();
  FUZZ_CHECK(r.has_value());
  FUZZ_CHECK(!store.open);
  return std::move(*r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t ctl = data[0];
  const std::string_view m(reinterpret_cast<const char*>(data + 1), size - 1);
  SplitParams sp;
  sp.min_cut_bytes = (ctl & 0x80) ? 2048 : (ctl & 0x0f);
  if (ctl & 0x40) sp.max_held_body_bytes = 64;  // exercise release / partial cuts
  sp.limits.max_depth = 1 + (ctl & 0x30);
  sp.limits.max_parts = 8 + (ctl & 0x3f) * 4;
  sp.limits.max_header_bytes = 2048;

  MemoryBlobs whole_store, chunk_store;
  const Skeleton whole = split(m, whole_store, sp, 0);
  const Skeleton chunked = split(m, chunk_store, sp, 1u + ctl);

  for (const Skeleton* sk : {&whole, &chunked}) {
    MemoryBlobs& store = sk == &whole ? whole_store : chunk_store;
    FUZZ_CHECK(sk->joined_size() == m.size());
    auto joined = join_all(*sk, store);
    FUZZ_CHECK(joined.has_value());
    FUZZ_CHECK(*joined == m);
    for (const Cut& c : sk->cuts) FUZZ_CHECK(store.blobs.at(c.blob_id).size() == c.decoded_size);
    auto back = Skeleton::parse(sk->serialize());
    FUZZ_CHECK(back.has_value());
    FUZZ_CHECK(*back == *sk);
  }
  // Without a tiny hold-back window the result cannot depend on chunk boundaries.
  if (!(ctl & 0x40)) {
    FUZZ_CHECK(whole.bytes == chunked.bytes);
    FUZZ_CHECK(whole.cuts.size() == chunked.cuts.size());
    for (std::size_t i = 0; i < whole.cuts.size(); ++i) {
      FUZZ_CHECK(whole.cuts[i].offset == chunked.cuts[i].offset);
      FUZZ_CHECK(whole.cuts[i].encoded_size == chunked.cuts[i].encoded_size);
      FUZZ_CHECK(whole_store.blobs.at(whole.cuts[i].blob_id) ==
                 chunk_store.blobs.at(chunked.cuts[i].blob_id));
    }
  }
  SummaryLimits sl;
  sl.limits = sp.limits;
  const Summary sum = summarize(m, whole, sl);
  FUZZ_CHECK(sum.preview.size() <= 4 * sl.max_preview_chars);
  const Summary from_skeleton = summarize(whole.bytes, whole, sl);
  (void)from_skeleton;
  return 0;
}
