// The search worker's pacing: an account catches up at once when its mail stops, in
// batches while it streams, and never later than max_delay.
#include <gtest/gtest.h>

#include "server/search_worker.hpp"

namespace refmail::server {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(IndexPacing, CatchesUpWhenTheMailStops) {
  IndexPacing p;
  const auto t0 = Clock::now();
  EXPECT_FALSE(p.due("a", 3, 0, t0));  // first seen behind: wait one pass
  p.end_pass();
  EXPECT_TRUE(p.due("a", 3, 0, t0 + 1s));  // nothing new since: quiet
  p.end_pass();
  EXPECT_FALSE(p.due("a", 3, 3, t0 + 2s));  // current: nothing to do
}

TEST(IndexPacing, WaitsWhileMailStreamsThenBatches) {
  IndexPacing p;
  p.batch_states = 100;
  p.max_delay = 10s;
  const auto t0 = Clock::now();
  std::uint64_t state = 0;
  int due_at = -1;
  for (int pass = 0; pass < 5; ++pass) {
    state += 30;  // 30 states a second
    if (p.due("a", state, 0, t0 + std::chrono::seconds(pass))) {
      due_at = pass;
      break;
    }
    p.end_pass();
  }
  EXPECT_EQ(due_at, 3);  // 120 >= 100 states behind
}

TEST(IndexPacing, NeverLaterThanMaxDelay) {
  IndexPacing p;
  p.batch_states = 1'000'000;
  p.max_delay = 5s;
  const auto t0 = Clock::now();
  std::uint64_t state = 0;
  int due_at = -1;
  for (int pass = 0; pass < 10; ++pass) {
    ++state;  // a trickle: never quiet, never a batch
    if (p.due("a", state, 0, t0 + std::chrono::seconds(pass))) {
      due_at = pass;
      break;
    }
    p.end_pass();
  }
  EXPECT_EQ(due_at, 5);
  // Caught up: the delay counts again from the next time it falls behind.
  p.end_pass();
  EXPECT_FALSE(p.due("a", state, state, t0 + 6s));
  p.end_pass();
  EXPECT_FALSE(p.due("a", state + 1, state, t0 + 7s));
  p.end_pass();
  EXPECT_FALSE(p.due("a", state + 2, state, t0 + 11s));
  p.end_pass();
  EXPECT_TRUE(p.due("a", state + 3, state, t0 + 12s));
}

TEST(IndexPacing, AccountsArePacedApartAndForgotten) {
  IndexPacing p;
  const auto t0 = Clock::now();
  EXPECT_FALSE(p.due("a", 5, 0, t0));
  EXPECT_FALSE(p.due("b", 5, 0, t0));
  p.end_pass();
  EXPECT_TRUE(p.due("a", 5, 0, t0 + 1s));   // a stopped
  EXPECT_FALSE(p.due("b", 9, 0, t0 + 1s));  // b still receiving
  p.end_pass();
  // "a" removed: not seen in a pass, then forgotten (seen again = first seen).
  EXPECT_FALSE(p.due("b", 9, 9, t0 + 2s));
  p.end_pass();
  p.end_pass();
  EXPECT_FALSE(p.due("a", 5, 0, t0 + 3s));
}

}  // namespace
}  // namespace refmail::server
