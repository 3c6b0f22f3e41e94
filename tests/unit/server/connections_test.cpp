// tests/unit/server/connections_test.cpp — admission: budgets per listener, per address
// and in total, and which idle connection is shed for a newcomer.
#include "server/connections.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace refmail::server {
namespace {

using Standing = ConnectionTracker::Standing;
using Refusal = ConnectionTracker::Refusal;
using Clock = ConnectionTracker::Clock;

struct Live {
  ConnectionTracker::Slot slot;
  bool shed = false;
};

// Admits `n` connections from `ip`, each recording in `out` when it is shed.
void admit(ConnectionTracker& t, std::size_t listener, const std::string& ip, int n, std::vector<std::unique_ptr<Live>>& out,
           Clock::time_point at) {
  for (int i = 0; i < n; ++i) {
    auto a = t.acquire(listener, ip, at);
    ASSERT_TRUE(a.slot) << ip << " #" << i << ": " << ConnectionTracker::to_string(a.refused);
    auto live = std::make_unique<Live>();
    live->slot = std::move(a.slot);
    live->slot.set_on_shed([p = live.get()] { p->shed = true; });
    out.push_back(std::move(live));
  }
}

TEST(Connections, ListenerBudgetKeepsRoomForTheOthers) {
  // 500 silent connections on the MX port used to take every slot, HTTP included.
  ConnectionTracker t(10, 100);
  auto mx = t.add_listener("mx", 6);
  auto http = t.add_listener("http", 6);
  std::vector<std::unique_ptr<Live>> live;
  auto now = Clock::now();
  admit(t, mx, "192.0.2.1", 6, live, now);
  for (auto& l : live) l->slot.set_standing(Standing::busy);  // nothing to shed
  auto refused = t.acquire(mx, "192.0.2.2", now);
  EXPECT_FALSE(refused.slot);
  EXPECT_EQ(refused.refused, Refusal::listener);
  auto web = t.acquire(http, "198.51.100.7", now);
  EXPECT_TRUE(web.slot);
  EXPECT_EQ(t.on_listener(mx), 6u);
  EXPECT_EQ(t.on_listener(http), 1u);
}

TEST(Connections, FullBudgetShedsTheFloodersIdleConnectionFirst) {
  ConnectionTracker t(100, 100);
  auto mx = t.add_listener("mx", 5);
  std::vector<std::unique_ptr<Live>> live;
  auto now = Clock::now();
  admit(t, mx, "192.0.2.50", 1, live, now);                           // a legitimate peer, idle longest
  admit(t, mx, "192.0.2.66", 4, live, now + std::chrono::seconds(1));  // the flood
  auto a = t.acquire(mx, "192.0.2.77", now + std::chrono::seconds(2));
  ASSERT_TRUE(a.slot);
  EXPECT_TRUE(a.shed_one);
  EXPECT_FALSE(live[0]->shed) << "the address holding most connections is shed first";
  int shed = 0;
  for (std::size_t i = 1; i < live.size(); ++i) shed += live[i]->shed;
  EXPECT_EQ(shed, 1);
  EXPECT_EQ(t.on_listener(mx), 5u) << "the victim's count is given back at once";
  EXPECT_EQ(t.total(), 5u);
}

TEST(Connections, BusyAndAuthenticatedAreNeverShed) {
  ConnectionTracker t(100, 100);
  auto sub = t.add_listener("submission", 2);
  std::vector<std::unique_ptr<Live>> live;
  auto now = Clock::now();
  admit(t, sub, "192.0.2.1", 2, live, now);
  live[0]->slot.set_standing(Standing::busy, now);
  live[1]->slot.set_standing(Standing::busy, now);
  auto a = t.acquire(sub, "192.0.2.9", now);
  EXPECT_FALSE(a.slot);
  EXPECT_FALSE(live[0]->shed || live[1]->shed);
  live[1]->slot.set_standing(Standing::idle, now);
  auto b = t.acquire(sub, "192.0.2.9", now);
  EXPECT_TRUE(b.slot);
  EXPECT_TRUE(live[1]->shed);
}

TEST(Connections, PreAuthIdleGoesBeforeKeepAlive) {
  ConnectionTracker t(3, 100);
  auto http = t.add_listener("http", 10);
  std::vector<std::unique_ptr<Live>> live;
  auto now = Clock::now();
  admit(t, http, "192.0.2.1", 3, live, now);
  live[0]->slot.set_standing(Standing::keep_alive, now);  // idle longest, but has been served
  live[1]->slot.set_standing(Standing::idle, now + std::chrono::seconds(5));
  live[2]->slot.set_standing(Standing::busy, now);
  auto a = t.acquire(http, "192.0.2.2", now + std::chrono::seconds(6));
  ASSERT_TRUE(a.slot) << "the total is full: shed anywhere";
  EXPECT_FALSE(live[0]->shed);
  EXPECT_TRUE(live[1]->shed);
}

TEST(Connections, PerAddressBudgetIsNotShed) {
  ConnectionTracker t(100, 2);
  auto mx = t.add_listener("mx", 100);
  std::vector<std::unique_ptr<Live>> live;
  auto now = Clock::now();
  admit(t, mx, "192.0.2.1", 2, live, now);
  auto a = t.acquire(mx, "192.0.2.1", now);
  EXPECT_FALSE(a.slot);
  EXPECT_EQ(a.refused, Refusal::per_ip);
  EXPECT_FALSE(live[0]->shed || live[1]->shed);
}

TEST(Connections, ReleaseAfterShedCountsOnce) {
  ConnectionTracker t(100, 100);
  auto mx = t.add_listener("mx", 1);
  std::vector<std::unique_ptr<Live>> live;
  auto now = Clock::now();
  admit(t, mx, "192.0.2.1", 1, live, now);
  auto a = t.acquire(mx, "192.0.2.2", now);
  ASSERT_TRUE(a.slot);
  EXPECT_TRUE(live[0]->shed);
  live.clear();  // the shed session ends later: its release must not count again
  EXPECT_EQ(t.on_listener(mx), 1u);
  EXPECT_EQ(t.total(), 1u);
  a.slot = ConnectionTracker::Slot();
  EXPECT_EQ(t.total(), 0u);
  EXPECT_TRUE(t.acquire(mx, "192.0.2.3", now).slot);
}

TEST(Connections, StopRefusesAndTellsEveryone) {
  ConnectionTracker t(10, 10);
  auto mx = t.add_listener("mx", 10);
  auto a = t.acquire(mx, "192.0.2.1");
  int stopped = 0;
  a.slot.set_on_stop([&stopped] { ++stopped; });
  t.stop();
  EXPECT_EQ(stopped, 1);
  auto b = t.acquire(mx, "192.0.2.1");
  EXPECT_FALSE(b.slot);
  EXPECT_EQ(b.refused, Refusal::draining);
}

}  // namespace
}  // namespace refmail::server
