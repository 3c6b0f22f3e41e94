// Tests for the relay's connection cache policy (server/relay.hpp IdleCache): most
// recently used first, idle limit, per-destination bound, uses per connection, sweep.
#include "server/relay.hpp"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace refmail::server {
namespace {

using Cache = IdleCache<std::shared_ptr<int>>;
using std::chrono::seconds;

Cache::Clock::time_point t0() { return Cache::Clock::time_point{} + std::chrono::hours(1); }

Cache make(std::size_t per_key = 2, std::uint32_t max_uses = 3) {
  return Cache(Cache::Limits{seconds(5), per_key, max_uses});
}

TEST(IdleCache, TakesTheMostRecentFreshItemOfTheKey) {
  auto c = make();
  auto a = std::make_shared<int>(1), b = std::make_shared<int>(2);
  EXPECT_TRUE(c.put("mx1", a, 0, t0()));
  EXPECT_TRUE(c.put("mx1", b, 0, t0() + seconds(1)));
  EXPECT_FALSE(c.take("mx2", t0()));  // another destination
  auto got = c.take("mx1", t0() + seconds(2));
  ASSERT_TRUE(got);
  EXPECT_EQ(**got, 2);
  got = c.take("mx1", t0() + seconds(2));
  ASSERT_TRUE(got);
  EXPECT_EQ(**got, 1);
  EXPECT_FALSE(c.take("mx1", t0() + seconds(2)));
  EXPECT_TRUE(c.empty());
}

TEST(IdleCache, IdleLimitDropsStaleItemsOnTakeAndSweep) {
  auto c = make();
  auto a = std::make_shared<int>(1);
  std::weak_ptr<int> wa = a;
  ASSERT_TRUE(c.put("mx1", std::move(a), 0, t0()));
  EXPECT_FALSE(c.take("mx1", t0() + seconds(5)));  // idle for the limit: closed, not reused
  EXPECT_TRUE(wa.expired());                      // and released (the socket closes)
  ASSERT_TRUE(c.put("mx1", std::make_shared<int>(2), 0, t0()));
  ASSERT_TRUE(c.put("mx2", std::make_shared<int>(3), 0, t0() + seconds(3)));
  EXPECT_EQ(c.sweep(t0() + seconds(4)), 0u);
  EXPECT_EQ(c.sweep(t0() + seconds(6)), 1u);  // mx1's went, mx2's is 3 s idle
  EXPECT_EQ(c.size(), 1u);
  EXPECT_TRUE(c.take("mx2", t0() + seconds(6)));
  EXPECT_TRUE(c.empty());
}

TEST(IdleCache, BoundedPerDestinationAndByUses) {
  auto c = make(2, 3);
  EXPECT_TRUE(c.put("mx1", std::make_shared<int>(1), 0, t0()));
  EXPECT_TRUE(c.put("mx1", std::make_shared<int>(2), 2, t0()));
  auto third = std::make_shared<int>(3);
  std::weak_ptr<int> w3 = third;
  EXPECT_FALSE(c.put("mx1", std::move(third), 0, t0()));  // per_key reached: refused, dropped
  EXPECT_TRUE(w3.expired());
  EXPECT_TRUE(c.put("mx2", std::make_shared<int>(4), 0, t0()));  // other keys are separate
  EXPECT_FALSE(c.put("mx3", std::make_shared<int>(5), 3, t0()));  // used max_uses times: retired
  EXPECT_EQ(c.size(), 3u);
  c.clear();
  EXPECT_TRUE(c.empty());
  auto none = make(0, 3);
  EXPECT_FALSE(none.put("mx1", std::make_shared<int>(1), 0, t0()));  // caching off
}

}  // namespace
}  // namespace refmail::server
