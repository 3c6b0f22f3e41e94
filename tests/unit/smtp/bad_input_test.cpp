// The "Bad input" list: bare LF in DATA (both policies), NUL bytes, lines over
// 1000 bytes, a message over SIZE, smuggling attempts, garbage.
#include "harness.hpp"

using namespace refmail::smtp;
using namespace refmail::smtp::test;

namespace {

const std::string kTxn = "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n";
const std::string kStart = std::string(kGreeting) + kEhloPlain +
                           "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n";

TEST(BadInput, BareLfAcceptedAsContent) {
  auto r = expect_transcript({kTxn, "line1\nline2\n.\nstill data\r\n.\r\n"},
                             kStart + "[DELIVER 26]\n250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_EQ(r.deliveries[0].bytes, "line1\nline2\n.\nstill data\r\n");
  EXPECT_TRUE(r.deliveries[0].envelope.bare_lf_seen);
}

TEST(BadInput, BareLfRejectedByPolicy) {
  Options o = default_options();
  o.bare_lf = BareLfPolicy::Reject;
  auto r = expect_transcript(o, Limits{}, {kTxn, "a\nb\r\n.\r\nNOOP\r\n"},
                             kStart + "550 5.5.2 Error: bare <LF> received\r\n250 2.0.0 Ok\r\n");
  EXPECT_TRUE(r.deliveries.empty());
}

TEST(BadInput, SmugglingDoesNotEndData) {
  // An attacker hides a second transaction behind a non-standard end of data.
  auto r = check_all_splits(default_options(), Limits{},
                            {kTxn, "x\r\n.\nMAIL FROM:<evil@x.y>\r\nRCPT TO:<v@x.y>\r\nDATA\r\nspoof\r\n.\r\n"});
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_EQ(r.deliveries[0].envelope.rcpt_to.size(), 1u);
  EXPECT_NE(r.deliveries[0].bytes.find("MAIL FROM:<evil@x.y>"), std::string::npos);
  EXPECT_EQ(r.rcpt_checks.size(), 1u);
}

TEST(BadInput, NulInCommandAndData) {
  expect_transcript({std::string("NO\0OP\r\n", 7) + std::string("EHLO a\0b\r\n", 10)},
                    std::string(kGreeting) + "500 5.5.2 Error: bad syntax\r\n500 5.5.2 Error: bad syntax\r\n");
  auto r = expect_transcript({kTxn, std::string("a\0b\r\n.\r\n", 8)},
                             kStart + "554 5.6.0 Error: message contains NUL characters\r\n");
  EXPECT_TRUE(r.deliveries.empty());
}

TEST(BadInput, BareCrInCommand) {
  expect_transcript({"NOOP\rRSET\r\n"}, std::string(kGreeting) + "500 5.5.2 Error: bad syntax\r\n");
}

TEST(BadInput, LfOnlyCommandsAreTolerated) {
  // Commands ending in a bare LF are read (as Postfix does); DATA's end is still strict.
  auto r = check_all_splits(default_options(), Limits{},
                            {"EHLO c\nMAIL FROM:<a@b.c>\nRCPT TO:<d@e.f>\nDATA\n", "x\r\n.\r\n"});
  EXPECT_EQ(r.deliveries.size(), 1u);
}

TEST(BadInput, MessageOverDeclaredSizeIsStillMeasuredByTheLimit) {
  // SIZE is a hint; the limit is what counts (RFC 1870 6.3).
  Limits l;
  l.max_message_size = 50;
  auto r = check_all_splits(default_options(), l,
                            {"EHLO c\r\nMAIL FROM:<a@b.c> SIZE=10\r\nRCPT TO:<d@e.f>\r\nDATA\r\n",
                             std::string(60, 'x') + "\r\n.\r\n"});
  EXPECT_TRUE(r.deliveries.empty());
  EXPECT_NE(r.out.find("552 5.3.4 Error: message file too big\r\n"), std::string::npos);
}

TEST(BadInput, BinaryGarbageBeforeHelo) {
  std::string junk;
  for (int i = 0; i < 300; ++i) junk.push_back(static_cast<char>((i * 37) & 0xff));
  auto r = check_all_splits(default_options(), Limits{}, {junk, "\r\nQUIT\r\n"});
  // Whatever the garbage was, the session ends cleanly and every reply is well formed.
  EXPECT_TRUE(r.closed);
}

}  // namespace
