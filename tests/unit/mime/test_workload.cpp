// tests/unit/mime/test_workload.cpp — a small generated workload (../shared/bench/
// gen_workload.py, seeded): every message round-trips, every attachment is cut, and the
// unique decoded blob bytes equal the generator's unique attachment bytes (every
// duplicate found across 76/72/64-column base64 and quoted-printable).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include "mime_test_util.hpp"

using namespace refmail::mime;
using namespace refmail::mime::test;

namespace {
std::uint64_t json_number(const std::string& text, const std::string& key) {
  const std::size_t k = text.find("\"" + key + "\":");
  if (k == std::string::npos) return ~0ull;
  return std::stoull(text.substr(k + key.size() + 3));
}
}  // namespace

TEST(Workload, GeneratedMailSplitsDedupsAndRoundTrips) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("refmail_mime_workload_" + std::to_string(::getpid()));
  const std::string gen = std::string(REFMAIL_SHARED_DIR) + "/bench/gen_workload.py";
  const std::string cmd = "python3 '" + gen + "' --messages 40 --seed 7 --out '" +
                          dir.string() + "' > /dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "python3 or gen_workload.py unavailable";
  const std::string stats = read_file(dir / "stats.json");
  const std::uint64_t want_unique = json_number(stats, "unique_att_bytes");
  const std::uint64_t att_parts = json_number(stats, "att_parts");
  ASSERT_NE(want_unique, ~0ull);
  MemoryBlobs store;
  std::size_t messages = 0, cuts = 0;
  for (auto& e : std::filesystem::directory_iterator(dir / "msgs")) {
    const std::string m = read_file(e.path());
    const SplitResult r = split_with(m, store, Chunking::Random, static_cast<unsigned>(messages));
    auto j = join_all(r.skeleton, store);
    ASSERT_TRUE(j.has_value()) << e.path();
    ASSERT_TRUE(*j == m) << e.path();
    cuts += r.skeleton.cuts.size();
    ++messages;
  }
  std::uint64_t unique = 0;
  for (auto& [id, b] : store.blobs) unique += b.size();
  EXPECT_EQ(messages, 40u);
  EXPECT_EQ(cuts, att_parts);
  EXPECT_EQ(unique, want_unique);
  std::filesystem::remove_all(dir);
}
