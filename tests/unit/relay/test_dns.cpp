// Tests for server/dns: MX routing against a tiny in-process DNS responder on
// 127.0.0.1 (UDP): preference order, implicit MX (RFC 5321 5.1), null MX (RFC 7505),
// NXDOMAIN (permanent) vs SERVFAIL and timeout (temporary), address literals; record
// TTLs and the RouteCache (TTL, caps, negative caching, bound).
#include "server/dns.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/relay/dns_responder.hpp"

namespace refmail::server {
namespace {

using dnstest::Responder;

class Dns : public ::testing::Test {
 protected:
  void SetUp() override {
    r_.records[{"multi.test", 15}] = {Responder::mx(20, "b.multi.test"), Responder::mx(10, "a.multi.test"),
                                      Responder::mx(30, "gone.multi.test")};
    r_.records[{"a.multi.test", 1}] = {Responder::ip4("192.0.2.1")};
    r_.records[{"b.multi.test", 1}] = {Responder::ip4("192.0.2.2"), Responder::ip4("192.0.2.3")};
    r_.records[{"null.test", 15}] = {Responder::mx(0, ".")};
    r_.records[{"implicit.test", 1}] = {Responder::ip4("192.0.2.9")};
    r_.records[{"noaddr.test", 15}] = {Responder::mx(10, "gone.noaddr.test")};
    r_.start();
    opts_.servers = {r_.server()};
    opts_.timeout = std::chrono::milliseconds(300);
    opts_.tries = 1;
  }
  Responder r_;
  DnsOptions opts_;
};

TEST_F(Dns, MxInPreferenceOrderWithAllAddresses) {
  auto r = resolve_mail_route(opts_, "multi.test");
  ASSERT_EQ(r.status, RouteStatus::Ok) << r.detail;
  ASSERT_EQ(r.targets.size(), 3u);
  EXPECT_EQ(r.targets[0].host, "a.multi.test");
  EXPECT_EQ(r.targets[0].ip, "192.0.2.1");
  EXPECT_EQ(r.targets[1].host, "b.multi.test");
  EXPECT_EQ(r.targets[2].ip, "192.0.2.3");
}

TEST_F(Dns, NullMxIsPermanent) {
  auto r = resolve_mail_route(opts_, "null.test");
  EXPECT_EQ(r.status, RouteStatus::PermFail);
  EXPECT_NE(r.detail.find("null MX"), std::string::npos) << r.detail;
}

TEST_F(Dns, NoMxFallsBackToTheDomainsAddress) {
  auto r = resolve_mail_route(opts_, "implicit.test");
  ASSERT_EQ(r.status, RouteStatus::Ok) << r.detail;
  ASSERT_EQ(r.targets.size(), 1u);
  EXPECT_EQ(r.targets[0].host, "implicit.test");
  EXPECT_EQ(r.targets[0].ip, "192.0.2.9");
}

TEST_F(Dns, NxdomainIsPermanentServfailAndSilenceAreTemporary) {
  auto nx = resolve_mail_route(opts_, "nothing-here.test");
  EXPECT_EQ(nx.status, RouteStatus::PermFail);
  EXPECT_NE(nx.detail.find("NXDOMAIN"), std::string::npos) << nx.detail;
  auto sf = resolve_mail_route(opts_, "servfail.test");
  EXPECT_EQ(sf.status, RouteStatus::TempFail) << sf.detail;
  auto silent = resolve_mail_route(opts_, "silent.test");
  EXPECT_EQ(silent.status, RouteStatus::TempFail) << silent.detail;
}

TEST_F(Dns, MxWithoutAnyAddressIsPermanent) {
  auto r = resolve_mail_route(opts_, "noaddr.test");
  EXPECT_EQ(r.status, RouteStatus::PermFail) << r.detail;
}

TEST_F(Dns, AddressLiterals) {
  auto r = resolve_mail_route(opts_, "[192.0.2.7]");
  ASSERT_EQ(r.status, RouteStatus::Ok);
  EXPECT_EQ(r.targets.at(0).ip, "192.0.2.7");
  auto v6 = resolve_mail_route(opts_, "[IPv6:2001:db8::1]");
  ASSERT_EQ(v6.status, RouteStatus::Ok);
  EXPECT_EQ(v6.targets.at(0).ip, "2001:db8::1");
  EXPECT_EQ(resolve_mail_route(opts_, "[not-an-ip]").status, RouteStatus::PermFail);
}

// ---- TTLs and the route cache ----

TEST_F(Dns, RouteTtlIsTheSmallestOfMxAndAddressRecords) {
  r_.records[{"ttl.test", 15}] = {Responder::mx(10, "mx.ttl.test")};
  r_.records[{"mx.ttl.test", 1}] = {Responder::ip4("192.0.2.20")};
  r_.ttl["ttl.test"] = 300;
  r_.ttl["mx.ttl.test"] = 45;
  r_.records[{"short.test", 1}] = {Responder::ip4("192.0.2.21")};  // implicit MX: the address record's TTL
  r_.ttl["short.test"] = 7;
  auto r = resolve_mail_route(opts_, "ttl.test");
  ASSERT_EQ(r.status, RouteStatus::Ok) << r.detail;
  EXPECT_EQ(r.ttl, 45u);
  auto s = resolve_mail_route(opts_, "short.test");
  ASSERT_EQ(s.status, RouteStatus::Ok) << s.detail;
  EXPECT_EQ(s.ttl, 7u);
  EXPECT_EQ(resolve_mail_route(opts_, "[192.0.2.7]").ttl, 0u);  // literals: nothing to cache
}

TEST(MinAnswerTtl, ParsesAndRejects) {
  // Header (1 question, 2 answers), question "a.b" MX IN, answers with TTL 90 and 30.
  std::string m("\x12\x34\x81\x80\x00\x01\x00\x02\x00\x00\x00\x00", 12);
  m += std::string("\x01" "a" "\x01" "b" "\x00" "\x00\x0f\x00\x01", 9);
  auto rr = [](std::uint32_t ttl) {
    std::string x("\xc0\x0c\x00\x01\x00\x01", 6);
    x += static_cast<char>(ttl >> 24);
    x += static_cast<char>((ttl >> 16) & 0xff);
    x += static_cast<char>((ttl >> 8) & 0xff);
    x += static_cast<char>(ttl & 0xff);
    x += std::string("\x00\x04\xc0\x00\x02\x01", 6);
    return x;
  };
  EXPECT_EQ(min_answer_ttl(m + rr(90) + rr(30)), std::optional<std::uint32_t>(30));
  EXPECT_EQ(min_answer_ttl(m + rr(90) + rr(0x80000001)), std::optional<std::uint32_t>(0));  // RFC 2181 8
  EXPECT_EQ(min_answer_ttl(m + rr(90)), std::nullopt);                 // fewer answers than announced
  EXPECT_EQ(min_answer_ttl((m + rr(90) + rr(30)).substr(0, 40)), std::nullopt);  // truncated
  EXPECT_EQ(min_answer_ttl("short"), std::nullopt);
  std::string none = m;
  none[7] = 0;  // no answers
  EXPECT_EQ(min_answer_ttl(none), std::nullopt);
}

Route ok_route(std::uint32_t ttl, std::string ip = "192.0.2.1") {
  Route r;
  r.status = RouteStatus::Ok;
  r.targets.push_back({"mx.example", std::move(ip)});
  r.ttl = ttl;
  return r;
}

TEST(RouteCache, LivesForItsTtlCappedByMaxTtl) {
  RouteCache c(RouteCache::Limits{10, std::chrono::seconds(100), std::chrono::seconds(5)});
  const auto t0 = RouteCache::Clock::time_point{} + std::chrono::hours(1);
  c.put("Example.TEST", ok_route(30), t0);
  auto hit = c.get("example.test", t0 + std::chrono::seconds(29));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->targets.at(0).ip, "192.0.2.1");
  EXPECT_FALSE(c.get("example.test", t0 + std::chrono::seconds(30)));  // expired and dropped
  EXPECT_EQ(c.size(), 0u);
  c.put("long.test", ok_route(86400), t0);  // capped at max_ttl
  EXPECT_TRUE(c.get("long.test", t0 + std::chrono::seconds(99)));
  EXPECT_FALSE(c.get("long.test", t0 + std::chrono::seconds(100)));
  c.put("zero.test", ok_route(0), t0);  // TTL 0: never cached
  EXPECT_FALSE(c.get("zero.test", t0));
}

TEST(RouteCache, FailuresPermanentShortlyTemporaryNever) {
  RouteCache c(RouteCache::Limits{10, std::chrono::seconds(100), std::chrono::seconds(5)});
  const auto t0 = RouteCache::Clock::time_point{} + std::chrono::hours(1);
  Route perm;
  perm.status = RouteStatus::PermFail;
  perm.detail = "domain nx.test not found (NXDOMAIN)";
  c.put("nx.test", perm, t0);
  auto hit = c.get("nx.test", t0 + std::chrono::seconds(4));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->status, RouteStatus::PermFail);
  EXPECT_EQ(hit->detail, perm.detail);
  EXPECT_FALSE(c.get("nx.test", t0 + std::chrono::seconds(5)));
  Route temp;
  temp.status = RouteStatus::TempFail;
  temp.ttl = 600;
  c.put("servfail.test", temp, t0);
  EXPECT_FALSE(c.get("servfail.test", t0));
}

TEST(RouteCache, BoundedExpiredFirstThenSoonestToExpire) {
  RouteCache c(RouteCache::Limits{3, std::chrono::seconds(1000), std::chrono::seconds(5)});
  const auto t0 = RouteCache::Clock::time_point{} + std::chrono::hours(1);
  c.put("a.test", ok_route(10), t0);
  c.put("b.test", ok_route(500), t0);
  c.put("c.test", ok_route(300), t0);
  c.put("d.test", ok_route(400), t0 + std::chrono::seconds(20));  // a.test has expired: it goes
  EXPECT_EQ(c.size(), 3u);
  EXPECT_FALSE(c.get("a.test", t0));
  c.put("e.test", ok_route(900), t0 + std::chrono::seconds(20));  // none expired: c.test (soonest) goes
  EXPECT_EQ(c.size(), 3u);
  const auto t1 = t0 + std::chrono::seconds(21);
  EXPECT_FALSE(c.get("c.test", t1));
  EXPECT_TRUE(c.get("b.test", t1));
  EXPECT_TRUE(c.get("d.test", t1));
  EXPECT_TRUE(c.get("e.test", t1));
  c.put("b.test", ok_route(1, "192.0.2.99"), t1);  // replacing needs no eviction
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.get("b.test", t1)->targets.at(0).ip, "192.0.2.99");
}

}  // namespace
}  // namespace refmail::server
