// tests/unit/imap_mailbox/uid_list_test.cpp — UidList (the selected mailbox's UIDs as
// runs) answers exactly as the sorted vector it replaces, under random appends and
// removals, and stays a handful of runs for a dense mailbox.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "imap/mailbox/uid_list.hpp"

namespace refmail::imap::mailbox {
namespace {

void expect_same(const UidList& l, const std::vector<std::uint32_t>& ref) {
  ASSERT_EQ(l.size(), ref.size());
  ASSERT_EQ(l.empty(), ref.empty());
  EXPECT_EQ(l.to_vector(), ref);
  for (std::size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(l[i], ref[i]) << i;
  if (!ref.empty()) {
    EXPECT_EQ(l.back(), ref.back());
    EXPECT_EQ(l.front(), ref.front());
  }
  // Searches as the engine does them (sequence numbers from UIDs, UID ranges).
  const std::uint32_t top = ref.empty() ? 10 : ref.back() + 3;
  for (std::uint32_t u = 0; u <= top; ++u) {
    auto a = std::lower_bound(l.begin(), l.end(), u) - l.begin();
    auto b = std::lower_bound(ref.begin(), ref.end(), u) - ref.begin();
    ASSERT_EQ(a, b) << u;
    auto c = std::upper_bound(l.begin(), l.end(), u) - l.begin();
    auto d = std::upper_bound(ref.begin(), ref.end(), u) - ref.begin();
    ASSERT_EQ(c, d) << u;
  }
  std::vector<std::uint32_t> walked;
  for (auto u : l) walked.push_back(u);
  EXPECT_EQ(walked, ref);
  std::vector<std::uint32_t> backwards;
  for (auto it = l.end(); it != l.begin();) backwards.push_back(*--it);
  EXPECT_EQ(std::vector<std::uint32_t>(backwards.rbegin(), backwards.rend()), ref);
}

TEST(UidList, DenseMailboxIsOneRun) {
  UidList l;
  for (std::uint32_t u = 1; u <= 100000; ++u) l.push_back(u);
  EXPECT_EQ(l.size(), 100000u);
  EXPECT_EQ(l.runs(), 1u);
  EXPECT_EQ(l[99999], 100000u);
  l.remove({1, 50000, 100000});
  EXPECT_EQ(l.size(), 99997u);
  EXPECT_EQ(l.runs(), 2u);
  EXPECT_EQ(l[0], 2u);
  EXPECT_EQ(l[49997], 49999u);
  EXPECT_EQ(l[49998], 50001u);
  EXPECT_EQ(l.back(), 99999u);
}

TEST(UidList, RemovalsAtEveryPlace) {
  UidList l;
  std::vector<std::uint32_t> ref;
  for (std::uint32_t u : {1u, 2u, 3u, 7u, 8u, 20u, 21u, 22u, 23u, 40u}) {
    l.push_back(u);
    ref.push_back(u);
  }
  expect_same(l, ref);
  l.remove({0, 1, 5, 8, 21, 23, 99});  // absent ones are ignored
  ref = {2, 3, 7, 20, 22, 40};
  expect_same(l, ref);
  l.remove({2, 3, 7, 20, 22, 40});
  expect_same(l, {});
  l.push_back(5);
  expect_same(l, {5});
  l.remove({});
  expect_same(l, {5});
}

TEST(UidList, RandomOperationsMatchAVector) {
  std::mt19937 rng(16);
  for (int round = 0; round < 40; ++round) {
    UidList l;
    std::vector<std::uint32_t> ref;
    std::uint32_t next = 1 + rng() % 5;
    for (int step = 0; step < 60; ++step) {
      if (rng() % 3 != 0) {
        const int n = 1 + static_cast<int>(rng() % 8);
        for (int i = 0; i < n; ++i) {
          l.push_back(next);
          ref.push_back(next);
          next += rng() % 4 == 0 ? 2 + rng() % 3 : 1;  // mostly consecutive, some gaps
        }
      } else if (!ref.empty()) {
        std::set<std::uint32_t> gone;
        const int n = static_cast<int>(rng() % 6);
        for (int i = 0; i < n; ++i) gone.insert(ref[rng() % ref.size()]);
        gone.insert(next + 7);  // never held
        l.remove(std::vector<std::uint32_t>(gone.begin(), gone.end()));
        std::erase_if(ref, [&](std::uint32_t u) { return gone.count(u) != 0; });
      }
      expect_same(l, ref);
    }
  }
}

}  // namespace
}  // namespace refmail::imap::mailbox
