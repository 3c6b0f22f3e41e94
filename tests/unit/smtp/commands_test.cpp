// The small commands: NOOP, RSET, VRFY (252), EXPN, HELP, QUIT, unknown and forbidden
// verbs, and the greeting.
#include "harness.hpp"

using namespace refmail::smtp;
using namespace refmail::smtp::test;

namespace {

TEST(Commands, NoopRsetVrfyHelpExpn) {
  expect_transcript({"NOOP\r\nnoop anything\r\nRSET\r\nVRFY alice\r\nVRFY\r\nHELP\r\nEXPN list\r\nRSET x\r\n"},
                    std::string(kGreeting) +
                        "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"
                        "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
                        "501 5.5.4 Syntax: VRFY address\r\n"
                        "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH\r\n"
                        "502 5.5.1 Error: command not implemented\r\n"
                        "501 5.5.4 Syntax: RSET\r\n");
}

TEST(Commands, RsetClearsTransaction) {
  auto r = expect_transcript({"EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nRSET\r\nDATA\r\n"},
                             std::string(kGreeting) + kEhloPlain +
                                 "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n"
                                 "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(r.final_state, SessionState::Ready);
}

TEST(Commands, QuitClosesAndIgnoresTheRest) {
  auto r = expect_transcript({"QUIT\r\nNOOP\r\n", "NOOP\r\n"}, std::string(kGreeting) + "221 2.0.0 Bye\r\n[CLOSE]\n");
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.final_state, SessionState::Closed);
}

TEST(Commands, UnknownAndCaseInsensitive) {
  expect_transcript({"XYZZY\r\n\r\nnOoP\r\nehlo c\r\n"},
                    std::string(kGreeting) + "500 5.5.2 Error: command not recognized\r\n"
                                             "500 5.5.2 Error: command not recognized\r\n"
                                             "250 2.0.0 Ok\r\n" + kEhloPlain);
}

TEST(Commands, HttpVerbsDisconnect) {
  expect_transcript({"GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
                    std::string(kGreeting) + "221 2.7.0 Error: I can break rules, too. Goodbye.\r\n[CLOSE]\n");
}

TEST(Commands, TransitionsAreReported) {
  std::vector<std::pair<SessionState, SessionState>> seen;
  Options o = default_options();
  o.on_transition = [&](SessionState a, SessionState b) { seen.emplace_back(a, b); };
  Driver d(o, Limits{});
  d.feed("EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n");
  const std::vector<SessionState> want{SessionState::Connected, SessionState::Ready, SessionState::Mail,
                                       SessionState::WaitRecipient, SessionState::Rcpt, SessionState::Data,
                                       SessionState::Rcpt, SessionState::WaitDelivery, SessionState::Ready,
                                       SessionState::Closed};
  ASSERT_EQ(seen.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(seen[i].second, want[i]) << i << " " << to_string(want[i]);
}

}  // namespace
