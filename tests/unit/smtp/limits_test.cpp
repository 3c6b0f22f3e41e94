// Limits: command line length, errors before disconnect, junk commands before MAIL.
#include "harness.hpp"

using namespace refmail::smtp;
using namespace refmail::smtp::test;

namespace {

TEST(Limits, CommandLineLength) {
  // RFC 5321 4.5.3.1.4: 1000 octets including CRLF.
  const std::string ok = "NOOP " + std::string(1000 - 5 - 2, 'x') + "\r\n";
  const std::string too_long = "NOOP " + std::string(1000 - 5 - 1, 'x') + "\r\n";
  ASSERT_EQ(ok.size(), 1000u);
  expect_transcript({ok, too_long, "NOOP\r\n"},
                    std::string(kGreeting) + "250 2.0.0 Ok\r\n500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n");
}

TEST(Limits, VeryLongLineIsDroppedAsItComes) {
  Driver d(default_options(), Limits{});
  for (int i = 0; i < 100; ++i) {
    d.feed(std::string(10000, 'z'));
    ASSERT_LE(d.session().buffered_bytes(), Limits{}.max_auth_line + 10000);
  }
  d.feed("\r\nNOOP\r\n");
  EXPECT_EQ(d.result().out, std::string(kGreeting) + "500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n");
  // And the same, split differently.
  auto r = check_all_splits(default_options(), Limits{}, {std::string(20000, 'z') + "\r\nNOOP\r\n"});
  EXPECT_EQ(r.out, d.result().out);
}

TEST(Limits, TooManyErrors) {
  Limits l;
  l.max_errors = 3;
  expect_transcript(default_options(), l, {"A\r\nB\r\nC\r\nD\r\n"},
                    std::string(kGreeting) + "500 5.5.2 Error: command not recognized\r\n"
                                             "500 5.5.2 Error: command not recognized\r\n"
                                             "500 5.5.2 Error: command not recognized\r\n"
                                             "421 4.7.0 mx.test Error: too many errors\r\n[CLOSE]\n");
}

TEST(Limits, JunkCommandsBeforeMail) {
  Limits l;
  l.max_junk_commands = 3;
  expect_transcript(default_options(), l, {"NOOP\r\nRSET\r\nVRFY x\r\nNOOP\r\nNOOP\r\n"},
                    std::string(kGreeting) + "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"
                        "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
                        "421 4.7.0 mx.test Error: too many commands\r\n[CLOSE]\n");
}

TEST(Limits, DeliveryResetsJunkCounter) {
  Limits l;
  l.max_junk_commands = 3;
  auto r = check_all_splits(default_options(), l,
                            {"EHLO c\r\nNOOP\r\nNOOP\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n",
                             "x\r\n.\r\nNOOP\r\nNOOP\r\nNOOP\r\n"});
  EXPECT_FALSE(r.closed);
  EXPECT_EQ(r.deliveries.size(), 1u);
}

}  // namespace
