// Tests for net/forwarded.hpp: the client address behind trusted proxies, and the
// scheme the nearest proxy reports.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/forwarded.hpp"

namespace refmail::net {
namespace {

std::string client(std::vector<std::string_view> values, const NetworkSet& trusted) {
  auto a = forwarded_client(values, trusted);
  return a ? a->to_string() : "-";
}

TEST(ForwardedClient, RightmostUntrusted) {
  auto trusted = NetworkSet::from_strings({"127.0.0.1", "10.0.0.0/8"});
  struct Case {
    std::vector<std::string_view> values;
    const char* want;
  } cases[] = {
      {{"203.0.113.9"}, "203.0.113.9"},
      // The client wrote the leftmost element; our proxy appended the real peer.
      {{"198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
      {{"198.51.100.1, 203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
      // Several fields form one list, in order (RFC 9110 5.3).
      {{"198.51.100.1", "203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
      // Every hop is ours: the leftmost.
      {{"10.0.0.5, 127.0.0.1"}, "10.0.0.5"},
      {{" 2001:db8::7 "}, "2001:db8::7"},
      {{"[2001:db8::7]:4711"}, "2001:db8::7"},
      {{"[2001:db8::7]"}, "2001:db8::7"},
      {{"203.0.113.9:5555"}, "203.0.113.9"},
      {{"::ffff:203.0.113.9"}, "203.0.113.9"},
      {{"garbage, 203.0.113.9"}, "203.0.113.9"},  // never looked at
      // Nothing usable: the caller keeps the socket's peer.
      {{}, "-"},
      {{""}, "-"},
      {{" , "}, "-"},
      {{"unknown"}, "-"},
      {{"203.0.113.9, _hidden"}, "-"},
      {{"[203.0.113.9]"}, "-"},
      {{"2001:db8::7:80"}, "2001:db8::7:80"},  // an IPv6 address, not an address with a port
      {{"[2001:db8::7]x"}, "-"},
  };
  for (const auto& c : cases) {
    std::string joined;
    for (auto v : c.values) joined += std::string(v) + "|";
    EXPECT_EQ(client(c.values, trusted), c.want) << joined;
  }
}

TEST(ForwardedClient, TrustingNothingTakesTheLastHop) {
  EXPECT_EQ(client({"198.51.100.1, 203.0.113.9"}, NetworkSet()), "203.0.113.9");
}

TEST(ForwardedClient, BoundedWalk) {
  auto trusted = NetworkSet::from_strings({"10.0.0.0/8"});
  std::string many = "203.0.113.9";
  for (std::size_t i = 0; i < kMaxHops - 1; ++i) many += ", 10.0.0.1";
  EXPECT_EQ(client({many}, trusted), "203.0.113.9");  // exactly kMaxHops elements
  many = "203.0.113.9, " + many;
  many += ", 10.0.0.1";
  EXPECT_EQ(client({many}, trusted), "-");
}

TEST(ForwardedHttps, NearestProxyDecides) {
  auto https = [](std::vector<std::string_view> v) { return forwarded_https(v); };
  EXPECT_TRUE(https({"https"}));
  EXPECT_TRUE(https({"HTTPS"}));
  EXPECT_TRUE(https({" https "}));
  EXPECT_TRUE(https({"http, https"}));
  EXPECT_FALSE(https({"https, http"}));
  EXPECT_FALSE(https({"https", "http"}));
  EXPECT_FALSE(https({}));
  EXPECT_FALSE(https({""}));
  EXPECT_FALSE(https({"http"}));
  EXPECT_FALSE(https({"httpsx"}));
  EXPECT_FALSE(https({"httpS\x01"}));
}

}  // namespace
}  // namespace refmail::net
