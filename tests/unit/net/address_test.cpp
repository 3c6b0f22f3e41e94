// Tests for net/address.hpp: addresses, networks and membership, IPv4-mapped forms.
#include <gtest/gtest.h>

#include "net/address.hpp"

namespace refmail::net {
namespace {

TEST(IpAddress, ParsesAndPrintsCanonically) {
  EXPECT_EQ(IpAddress::parse("192.0.2.1")->to_string(), "192.0.2.1");
  EXPECT_EQ(IpAddress::parse("2001:DB8:0:0::1")->to_string(), "2001:db8::1");
  // A dual-stack socket's form of an IPv4 peer is the IPv4 address.
  auto mapped = IpAddress::parse("::ffff:203.0.113.9");
  ASSERT_TRUE(mapped);
  EXPECT_FALSE(mapped->v6);
  EXPECT_EQ(mapped->to_string(), "203.0.113.9");
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "[::1]", "::1%lo", "localhost", "1.2.3.4:80", " 1.2.3.4"}) {
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
  }
}

TEST(IpAddress, Loopback) {
  EXPECT_TRUE(IpAddress::parse("127.0.0.1")->is_loopback());
  EXPECT_TRUE(IpAddress::parse("127.200.0.9")->is_loopback());
  EXPECT_TRUE(IpAddress::parse("::1")->is_loopback());
  EXPECT_TRUE(IpAddress::parse("::ffff:127.0.0.1")->is_loopback());
  EXPECT_FALSE(IpAddress::parse("128.0.0.1")->is_loopback());
  EXPECT_FALSE(IpAddress::parse("::2")->is_loopback());
}

TEST(Network, ParsesAndContains) {
  auto n = Network::parse("10.0.0.0/8");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->contains(*IpAddress::parse("10.255.1.2")));
  EXPECT_FALSE(n->contains(*IpAddress::parse("11.0.0.1")));
  EXPECT_FALSE(n->contains(*IpAddress::parse("::a00:1")));  // other family
  auto one = Network::parse("192.0.2.7");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->prefix, 32u);
  EXPECT_TRUE(one->contains(*IpAddress::parse("192.0.2.7")));
  EXPECT_FALSE(one->contains(*IpAddress::parse("192.0.2.6")));
  auto odd = Network::parse("172.16.0.0/12");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains(*IpAddress::parse("172.31.255.255")));
  EXPECT_FALSE(odd->contains(*IpAddress::parse("172.32.0.0")));
  auto v6 = Network::parse("fd00::/8");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(*IpAddress::parse("fdff::1")));
  EXPECT_FALSE(v6->contains(*IpAddress::parse("fe80::1")));
  auto all = Network::parse("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains(*IpAddress::parse("203.0.113.9")));
}

TEST(Network, Refusals) {
  std::string why;
  EXPECT_FALSE(Network::parse("10.1.0.0/8", &why));
  EXPECT_NE(why.find("beyond its prefix"), std::string::npos);
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "fd00::/129",
                          "host.example/8", "10.0.0.0/ 8", ""}) {
    EXPECT_FALSE(Network::parse(bad)) << bad;
  }
}

TEST(NetworkSet, MembershipByText) {
  auto set = NetworkSet::from_strings({"127.0.0.2", "10.0.0.0/8", "::1"});
  EXPECT_TRUE(set.contains("127.0.0.2"));
  EXPECT_TRUE(set.contains("::ffff:127.0.0.2"));
  EXPECT_FALSE(set.contains("127.0.0.1"));
  EXPECT_TRUE(set.contains("10.9.8.7"));
  EXPECT_TRUE(set.contains("::1"));
  EXPECT_FALSE(set.contains("unix"));
  EXPECT_FALSE(set.contains("?"));
  EXPECT_TRUE(NetworkSet().empty());
  EXPECT_FALSE(NetworkSet().contains("127.0.0.1"));
}

}  // namespace
}  // namespace refmail::net
