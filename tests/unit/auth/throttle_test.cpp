// tests/unit/auth/throttle_test.cpp — the password-guessing throttle with a fake clock:
// free failures, doubling delays up to the cap, reservations of concurrent attempts,
// decay, reset on success, no lockout of a correct password, the table bound and
// address keys.
#include <gtest/gtest.h>

#include "auth/throttle.hpp"

namespace refmail::auth {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ThrottleTest : public ::testing::Test {
 protected:
  Clock::time_point now_ = Clock::time_point() + std::chrono::hours(1000);  // the fake clock

  // How long an attempt now would wait (ms); -1 when refused.
  long long wait(Throttle& t, std::string_view ip, std::string_view account) {
    auto a = t.admit(ip, account, now_);
    if (a.refused) return -1;
    return std::chrono::duration_cast<milliseconds>(a.at - now_).count();
  }
  // One attempt that waits its turn and fails, as the server does it.
  void guess(Throttle& t, std::string_view ip, std::string_view account) {
    auto a = t.admit(ip, account, now_);
    ASSERT_FALSE(a.refused);
    now_ = std::max(now_, a.at);
    t.failure(ip, account, now_);
  }
};

TEST_F(ThrottleTest, FreeFailuresThenDoublingUpToTheCap) {
  Throttle t;  // 3 free per (address, account), 1 s doubling, 8 s cap
  EXPECT_EQ(t.delay_after(0, 3), milliseconds(0));
  EXPECT_EQ(t.delay_after(2, 3), milliseconds(0));
  EXPECT_EQ(t.delay_after(3, 3), milliseconds(1000));
  EXPECT_EQ(t.delay_after(4, 3), milliseconds(2000));
  EXPECT_EQ(t.delay_after(6, 3), milliseconds(8000));
  EXPECT_EQ(t.delay_after(7, 3), milliseconds(8000));
  EXPECT_EQ(t.delay_after(4000000000u, 3), milliseconds(8000));

  // Each attempt waits its turn, then fails at once.
  const long long expected[] = {0, 0, 0, 1000, 2000, 4000, 8000, 8000, 8000};
  for (long long e : expected) {
    auto a = t.admit("192.0.2.1", "carol@example.test", now_);
    ASSERT_FALSE(a.refused);
    EXPECT_EQ(std::chrono::duration_cast<milliseconds>(a.at - now_).count(), e);
    now_ = a.at;
    t.failure("192.0.2.1", "carol@example.test", now_);
  }
}

TEST_F(ThrottleTest, SequentialGuessesFollowTheSchedule) {
  Throttle t;
  auto start = now_;
  for (int i = 0; i < 10; ++i) guess(t, "192.0.2.1", "carol");
  // 3 free, then 1 + 2 + 4 + 8 + 8 + 8 + 8 s.
  EXPECT_EQ(std::chrono::duration_cast<seconds>(now_ - start).count(), 39);
}

TEST_F(ThrottleTest, CorrectPasswordIsDelayedNeverLockedOut) {
  Throttle t;
  for (int i = 0; i < 15; ++i) guess(t, "127.0.0.1", "carol@example.test");
  // From the guesser's own address: at most the cap, not refused.
  auto a = t.admit("127.0.0.1", "carol@example.test", now_);
  ASSERT_FALSE(a.refused);
  EXPECT_LE(a.at - now_, t.options().max_delay);
  // From any other address, and for any other account from elsewhere: no wait at all.
  EXPECT_EQ(wait(t, "192.0.2.50", "carol@example.test"), 0);
  EXPECT_EQ(wait(t, "2001:db8:9::1", "carol@example.test"), 0);
}

TEST_F(ThrottleTest, ClientRetryingOnceASecondGetsInWithinTheCap) {
  // The acceptance scenario: 15 wrong, then the right password retried 1 s apart by a
  // client that gives up after 30 s; the first attempt is admitted within the cap.
  Throttle t;
  for (int i = 0; i < 15; ++i) guess(t, "127.0.0.1", "carol");
  now_ += seconds(1);
  auto a = t.admit("127.0.0.1", "carol", now_);
  ASSERT_FALSE(a.refused);
  EXPECT_LT(a.at - now_, seconds(30));
  now_ = a.at;
  t.success("127.0.0.1", "carol", now_);
  // The (address, account) key is gone; the address key (15 failures) still spaces
  // attempts but carol's next try is not refused.
  EXPECT_GE(wait(t, "127.0.0.1", "carol"), 0);
}

TEST_F(ThrottleTest, SuccessResetsTheAccountKeyOnly) {
  Throttle t;
  for (int i = 0; i < 5; ++i) guess(t, "192.0.2.1", "dave");
  EXPECT_EQ(t.size(), 2u);
  t.success("192.0.2.1", "DAVE", now_);  // account names compare case-insensitively
  EXPECT_EQ(t.size(), 1u);                // the address key stays
  now_ += seconds(9);
  EXPECT_EQ(wait(t, "192.0.2.1", "dave"), 0);  // 5 < 10 free per address
  t.failure("192.0.2.1", "dave", now_);
  EXPECT_EQ(wait(t, "192.0.2.1", "dave"), 0);  // counting starts again at 1
}

TEST_F(ThrottleTest, AddressKeyCoversEveryAccount) {
  Throttle t;  // 10 free per address
  for (int i = 0; i < 10; ++i) guess(t, "198.51.100.7", "user" + std::to_string(i));
  // A spray over accounts: the 11th account from that address waits.
  EXPECT_EQ(wait(t, "198.51.100.7", "fresh"), 1000);
  EXPECT_EQ(wait(t, "198.51.100.8", "fresh"), 0);
}

TEST_F(ThrottleTest, ConcurrentAttemptsAreSpreadAndBounded) {
  Throttle t;
  for (int i = 0; i < 8; ++i) guess(t, "192.0.2.1", "carol");  // at the cap
  // Three attempts arrive together: turns 8 s apart; the third would wait past max_wait.
  EXPECT_EQ(wait(t, "192.0.2.1", "carol"), 8000);
  EXPECT_EQ(wait(t, "192.0.2.1", "carol"), 16000);
  auto third = t.admit("192.0.2.1", "carol", now_);
  EXPECT_TRUE(third.refused);
  EXPECT_GE(third.retry_after, milliseconds(1000));
  // A refused attempt reserved nothing: after the two turns pass, the next one waits one delay.
  now_ += seconds(16);
  EXPECT_EQ(wait(t, "192.0.2.1", "carol"), 8000);
}

TEST_F(ThrottleTest, QuietPeriodsForgiveFailuresThenForget) {
  Throttle t;  // one failure forgiven per 60 s
  for (int i = 0; i < 5; ++i) guess(t, "192.0.2.1", "carol");  // pair: 5 failures -> 4 s
  now_ += seconds(60);                                        // 4 failures -> 2 s after the last
  auto a = t.admit("192.0.2.1", "carol", now_);
  EXPECT_FALSE(a.refused);
  EXPECT_EQ(a.at, now_);  // the old next-allowed time is long past
  t.failure("192.0.2.1", "carol", now_);  // 5 again
  EXPECT_EQ(wait(t, "192.0.2.1", "carol"), 4000);
  now_ += seconds(5 * 60);
  EXPECT_EQ(t.admit("192.0.2.1", "carol", now_).at, now_);
  EXPECT_EQ(t.size(), 0u);  // both keys forgotten
}

TEST_F(ThrottleTest, TableIsBoundedAndEvictsTheOldest) {
  ThrottleOptions o;
  o.max_entries = 100;
  o.free_failures_per_address = 0;  // one failure is enough to be delayed
  Throttle t(o);
  for (int i = 0; i < 5000; ++i) {
    t.failure("10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256),
              "x", now_);
    now_ += milliseconds(1);
    ASSERT_LE(t.size(), 100u);
  }
  EXPECT_EQ(wait(t, "10.0.0.0", "y"), 0);      // evicted long ago
  EXPECT_GT(wait(t, "10.0.19.135", "y"), 0);  // the last one (4999) is still held
}

TEST_F(ThrottleTest, AddressKeys) {
  EXPECT_EQ(address_key("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(address_key("::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(address_key("2001:db8:1:2::1"), address_key("2001:db8:1:2:ffff::9"));
  EXPECT_NE(address_key("2001:db8:1:2::1"), address_key("2001:db8:1:3::1"));
  EXPECT_EQ(address_key("unix"), "unix");
  // One IPv6 host rotating through its /64 counts as one address.
  Throttle t;
  for (int i = 0; i < 10; ++i) guess(t, "2001:db8:1:2::" + std::to_string(i + 1), "user" + std::to_string(i));
  EXPECT_EQ(wait(t, "2001:db8:1:2::ffff", "fresh"), 1000);
}

}  // namespace
}  // namespace refmail::auth
