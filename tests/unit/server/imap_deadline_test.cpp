// Tests for server/imap_deadline.hpp: which timeout an IMAP read gets, and when its
// count starts (our last answer, or a change of deadline kind; never the client's drip,
// never an IDLE poll).
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "server/imap_deadline.hpp"

namespace refmail::server {
namespace {

using imap::Deadline;
using std::chrono::seconds;
using Clock = ImapReadClock::Clock;

const ImapTimeouts kT{seconds(60), seconds(30), seconds(1800)};

TEST(ImapTimeout, EachKindHasItsOwn) {
  EXPECT_EQ(imap_timeout(Deadline::Unauthenticated, kT), seconds(60));
  EXPECT_EQ(imap_timeout(Deadline::InCommand, kT), seconds(30));
  EXPECT_EQ(imap_timeout(Deadline::Authenticated, kT), seconds(1800));
  EXPECT_EQ(imap_timeout(Deadline::Idle, kT), seconds(1800));
  EXPECT_FALSE(imap_timeout(Deadline::None, kT).has_value());
  EXPECT_STREQ(imap_deadline_name(Deadline::Unauthenticated), "login");
  EXPECT_STREQ(imap_deadline_name(Deadline::InCommand), "command");
  EXPECT_STREQ(imap_deadline_name(Deadline::Authenticated), "autologout");
  EXPECT_STREQ(imap_deadline_name(Deadline::Idle), "idle");
}

TEST(ImapTimeout, EachComesFromItsOwnLimit) {
  config::Limits l;
  l.imap_login_timeout = seconds(11);
  l.imap_command_timeout = seconds(22);
  l.imap_idle_timeout = seconds(33);
  const ImapTimeouts t = imap_timeouts(l);
  EXPECT_EQ(t.login, seconds(11));
  EXPECT_EQ(t.command, seconds(22));
  EXPECT_EQ(t.idle, seconds(33));
}

TEST(ImapReadClock, LoginDeadlineCountsFromTheGreeting) {
  const auto t0 = Clock::now();
  ImapReadClock c(kT, t0);
  // Several reads while the client says nothing complete: the same deadline.
  EXPECT_EQ(c.deadline(Deadline::Unauthenticated, t0 + seconds(5)), t0 + seconds(60));
  EXPECT_EQ(c.deadline(Deadline::Unauthenticated, t0 + seconds(50)), t0 + seconds(60));
}

TEST(ImapReadClock, DrippingBytesDoNotExtendACommand) {
  const auto t0 = Clock::now();
  ImapReadClock c(kT, t0);
  (void)c.deadline(Deadline::Authenticated, t0);
  // The first bytes of a command after 10 minutes of quiet: the command's own count.
  EXPECT_EQ(c.deadline(Deadline::InCommand, t0 + seconds(600)), t0 + seconds(630));
  // One byte at a time: still the same end.
  EXPECT_EQ(c.deadline(Deadline::InCommand, t0 + seconds(620)), t0 + seconds(630));
  EXPECT_EQ(c.deadline(Deadline::InCommand, t0 + seconds(629)), t0 + seconds(630));
}

TEST(ImapReadClock, AnAnswerRestartsTheCount) {
  const auto t0 = Clock::now();
  ImapReadClock c(kT, t0);
  EXPECT_EQ(c.deadline(Deadline::Authenticated, t0), t0 + seconds(1800));
  c.answered(t0 + seconds(100));
  EXPECT_EQ(c.deadline(Deadline::Authenticated, t0 + seconds(100)), t0 + seconds(1900));
}

TEST(ImapReadClock, IdlePollsDoNotPostponeTheAutologout) {
  const auto t0 = Clock::now();
  ImapReadClock c(kT, t0);
  (void)c.deadline(Deadline::Authenticated, t0);
  c.answered(t0 + seconds(1));  // "+ idling"
  EXPECT_EQ(c.deadline(Deadline::Idle, t0 + seconds(1)), t0 + seconds(1801));
  // Each poll: the session awaits the mailbox layer (None, no deadline), then idles again.
  for (int i = 1; i <= 10; ++i) {
    EXPECT_FALSE(c.deadline(Deadline::None, t0 + seconds(1 + i)).has_value());
    EXPECT_EQ(c.deadline(Deadline::Idle, t0 + seconds(1 + i)), t0 + seconds(1801));
  }
}

TEST(ImapReadClock, LeavingIdleGivesTheNextKindItsWholeTimeout) {
  const auto t0 = Clock::now();
  ImapReadClock c(kT, t0);
  (void)c.deadline(Deadline::Idle, t0);
  EXPECT_EQ(c.deadline(Deadline::InCommand, t0 + seconds(1700)), t0 + seconds(1730));
}

}  // namespace
}  // namespace refmail::server
