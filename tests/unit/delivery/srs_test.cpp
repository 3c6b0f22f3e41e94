// tests/unit/delivery/srs_test.cpp — SRS0/SRS1 forward and reverse: round trips, the
// first forwarder kept through a chain, hashes compared without case, tampering,
// age and future times refused, what is not SRS left alone.
#include <gtest/gtest.h>

#include "delivery/srs.hpp"

namespace refmail::delivery {
namespace {

constexpr std::time_t kNow = 1'760'000'000;
const std::string kSecret = "0123456789abcdef0123456789abcdef";

TEST(Srs, Srs0RoundTrip) {
  Srs s(kSecret, "fwd.test");
  const auto a = s.forward("Alice.Smith@Origin.Test", kNow);
  ASSERT_EQ(a.rfind("SRS0=", 0), 0u) << a;
  ASSERT_TRUE(a.ends_with("=Origin.Test=Alice.Smith@fwd.test")) << a;
  const auto local = a.substr(0, a.rfind('@'));
  EXPECT_EQ(s.reverse(local, kNow), "Alice.Smith@Origin.Test");
  EXPECT_EQ(s.reverse(local, kNow + 20 * 86400), "Alice.Smith@Origin.Test");
  // Case folded in transit (some MTAs lower-case local parts): still ours.
  std::string lowered = local;
  for (auto& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(s.reverse(lowered, kNow), "alice.smith@origin.test");
  EXPECT_TRUE(Srs::looks_like_srs(lowered));
}

TEST(Srs, RefusesTamperingAgeAndStrangers) {
  Srs s(kSecret, "fwd.test");
  const auto a = s.forward("bob@origin.test", kNow);
  const auto local = a.substr(0, a.rfind('@'));
  std::string other = local;
  other.replace(other.rfind("=bob"), 4, "=eve");  // another sender, same hash
  EXPECT_FALSE(s.reverse(other, kNow));
  std::string hash = local;
  hash[5] = std::tolower(static_cast<unsigned char>(hash[5])) == 'a' ? 'B' : 'A';  // compared without case
  EXPECT_FALSE(s.reverse(hash, kNow));
  EXPECT_FALSE(s.reverse(local, kNow + 22 * 86400));  // older than 21 days
  EXPECT_FALSE(s.reverse(local, kNow - 2 * 86400));   // from the future
  EXPECT_FALSE(Srs(std::string(32, 'x'), "fwd.test").reverse(local, kNow));  // another secret
  for (std::string_view bad : {"SRS0=", "SRS0=abcd", "SRS0=abcd=AA", "SRS0=abcd=AA=d", "SRS0=abcd=A!=d=l",
                               "SRS1=", "SRS1=abcd=host", "SRS1=abcd=host=nodoubleeq", "bob", "srs2=x=y"}) {
    EXPECT_FALSE(s.reverse(bad, kNow)) << bad;
  }
  EXPECT_FALSE(Srs::looks_like_srs("bob"));
  EXPECT_EQ(s.forward("no-at-sign", kNow), "no-at-sign");
}

TEST(Srs, ChainKeepsTheFirstForwarder) {
  Srs first(kSecret, "first.test");
  Srs second("another-secret-another-secret-xx", "second.test");
  Srs third("yet-another-secret-yet-another-s", "third.test");
  const auto a0 = first.forward("carol@origin.test", kNow);
  const auto a1 = second.forward(a0, kNow);
  ASSERT_EQ(a1.rfind("SRS1=", 0), 0u) << a1;
  EXPECT_NE(a1.find("=first.test==") , std::string::npos) << a1;
  EXPECT_TRUE(a1.ends_with("@second.test"));
  // The second forwarder sends a bounce to the first forwarder's SRS0 address...
  const auto back1 = second.reverse(a1.substr(0, a1.rfind('@')), kNow);
  ASSERT_TRUE(back1);
  EXPECT_EQ(*back1, a0);
  // ...which the first forwarder unwraps to the original sender.
  EXPECT_EQ(first.reverse(a0.substr(0, a0.rfind('@')), kNow), "carol@origin.test");
  // A third hop keeps the first forwarder too, with its own hash.
  const auto a2 = third.forward(a1, kNow);
  EXPECT_NE(a2.find("=first.test==") , std::string::npos) << a2;
  EXPECT_EQ(third.reverse(a2.substr(0, a2.rfind('@')), kNow), a0);
  EXPECT_FALSE(second.reverse(a2.substr(0, a2.rfind('@')), kNow));  // not second's hash
}

}  // namespace
}  // namespace refmail::delivery
