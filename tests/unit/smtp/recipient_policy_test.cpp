// classify_recipient / sender_owned_by: the MX and submission policy (issue #4 item 3).
#include "smtp/recipient_policy.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace refmail::smtp;

namespace {

RecipientDirectory directory() {
  RecipientDirectory d;
  d.is_local_domain = [](std::string_view dom) {
    if (dom == "broken.example") return Lookup::TempFail;
    return (dom == "local.example" || dom == "LOCAL.example") ? Lookup::Yes : Lookup::No;
  };
  d.has_mailbox = [](const Address& a) {
    if (a.local_part == "flaky") return Lookup::TempFail;
    return (a.local_part == "alice" || a.local_part == "sales") ? Lookup::Yes : Lookup::No;
  };
  return d;
}

TEST(RecipientPolicy, Table) {
  const std::optional<std::string> anon, alice{"alice"};
  const auto d = directory();
  EXPECT_EQ(classify_recipient({"alice", "local.example"}, anon, d), RcptVerdict::Accept);
  EXPECT_EQ(classify_recipient({"sales", "LOCAL.example"}, anon, d), RcptVerdict::Accept);
  EXPECT_EQ(classify_recipient({"nobody", "local.example"}, anon, d), RcptVerdict::UnknownUser);
  EXPECT_EQ(classify_recipient({"flaky", "local.example"}, anon, d), RcptVerdict::TempFail);
  EXPECT_EQ(classify_recipient({"PostMaster", "local.example"}, anon, d), RcptVerdict::Accept);
  EXPECT_EQ(classify_recipient({"postmaster", ""}, anon, d), RcptVerdict::Accept);
  // Never an open relay.
  EXPECT_EQ(classify_recipient({"bob", "far.example"}, anon, d), RcptVerdict::RelayDenied);
  EXPECT_EQ(classify_recipient({"postmaster", "far.example"}, anon, d), RcptVerdict::RelayDenied);
  EXPECT_EQ(classify_recipient({"bob", "far.example"}, alice, d), RcptVerdict::Accept);
  EXPECT_EQ(classify_recipient({"bob", "broken.example"}, alice, d), RcptVerdict::TempFail);
  // Authenticated users still get 550 for unknown local users.
  EXPECT_EQ(classify_recipient({"nobody", "local.example"}, alice, d), RcptVerdict::UnknownUser);
}

TEST(RecipientPolicy, SenderOwnership) {
  const std::vector<std::string> owned{"alice@local.example", "sales@local.example"};
  EXPECT_TRUE(sender_owned_by({"alice", "local.example"}, owned));
  EXPECT_TRUE(sender_owned_by({"Alice", "LOCAL.EXAMPLE"}, owned));
  EXPECT_FALSE(sender_owned_by({"bob", "local.example"}, owned));
  EXPECT_FALSE(sender_owned_by(Address{}, owned));
  EXPECT_FALSE(sender_owned_by({"alice", "local.example.evil"}, owned));
}

}  // namespace
