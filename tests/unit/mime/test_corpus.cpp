// tests/unit/mime/test_corpus.cpp — join(split(m)) == m for every file of
// ../shared/corpus (each file whole, and each mbox message on its own), fed whole, one
// byte at a time and in random-size chunks.
#include <gtest/gtest.h>

#include "mime_test_util.hpp"

using namespace refmail::mime;
using namespace refmail::mime::test;

namespace {
void check(const std::string& m, const std::string& what, std::size_t& cuts) {
  for (Chunking ch : {Chunking::Whole, Chunking::OneByte, Chunking::Random}) {
    if (ch == Chunking::OneByte && m.size() > 300000) continue;  // keep the run short
    MemoryBlobs store;
    const SplitResult r = split_with(m, store, ch, static_cast<std::uint32_t>(m.size()));
    auto j = join_all(r.skeleton, store);
    ASSERT_TRUE(j.has_value()) << what;
    ASSERT_TRUE(*j == m) << what << " chunking " << static_cast<int>(ch);
    EXPECT_EQ(r.skeleton.joined_size(), m.size());
    auto parsed = Skeleton::parse(r.skeleton.serialize());
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, r.skeleton);
    if (ch == Chunking::Whole) cuts += r.skeleton.cuts.size();
  }
}
}  // namespace

TEST(Corpus, EveryFileAndEveryMboxMessageRoundTrips) {
  const auto files = corpus_files();
  ASSERT_GT(files.size(), 200u);
  std::size_t messages = 0, cuts = 0;
  for (const auto& f : files) {
    const std::string data = read_file(f);
    check(data, f.string(), cuts);
    ++messages;
    if (data.starts_with("From ")) {
      for (const std::string& m : split_mbox(data)) {
        check(m, f.string() + " (mbox message)", cuts);
        ++messages;
      }
    }
  }
  EXPECT_GE(cuts, 45u);  // 47 when written: every corpus attachment >= 2 KiB but 3 non-canonical ones
  std::printf("corpus: %zu files, %zu messages checked, %zu cuts\n", files.size(), messages, cuts);
}

TEST(Corpus, RoundTripsWithTinyHoldBackWindow) {
  // Forces the release / partial-cut paths on every attachment of the corpus.
  SplitParams sp;
  sp.max_held_body_bytes = 100;
  sp.min_cut_bytes = 16;
  std::size_t cuts = 0;
  for (const auto& f : corpus_files()) {
    const std::string m = read_file(f);
    MemoryBlobs store;
    const SplitResult r = split_with(m, store, Chunking::Random, 7, sp);
    cuts += r.skeleton.cuts.size();
    auto j = join_all(r.skeleton, store);
    ASSERT_TRUE(j.has_value()) << f;
    ASSERT_TRUE(*j == m) << f;
  }
  EXPECT_GE(cuts, 45u);
}
