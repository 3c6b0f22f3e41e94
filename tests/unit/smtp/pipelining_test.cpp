// PIPELINING (RFC 2920): a whole burst in one read, replies in order, errors in the
// middle do not derail later commands, async outcomes hold back later replies.
#include "harness.hpp"

using namespace refmail::smtp;
using namespace refmail::smtp::test;

namespace {

TEST(Pipelining, BurstWithErrorsInTheMiddle) {
  Responder resp;
  resp.rcpt = [](const CheckRecipient& c) {
    return c.address.local_part == "nobody" ? RcptVerdict::UnknownUser : RcptVerdict::Accept;
  };
  auto r = expect_transcript(
      {"EHLO c\r\n",
       "MAIL FROM:<a@b.c>\r\nRCPT TO:<ok1@x.y>\r\nRCPT TO:<nobody@x.y>\r\nRCPT TO:<bad address>\r\n"
       "FOO\r\nRCPT TO:<ok2@x.y>\r\nDATA\r\n",
       "Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<ok3@x.y>\r\nDATA\r\n", "two\r\n.\r\nQUIT\r\n"},
      std::string(kGreeting) + kEhloPlain +
          "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
          "550 5.1.1 <nobody@x.y>: Recipient address rejected: User unknown\r\n"
          "501 5.1.3 Bad recipient address syntax\r\n"
          "500 5.5.2 Error: command not recognized\r\n"
          "250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n[DELIVER 20]\n"
          "250 2.0.0 Ok: queued as Q1\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
          "354 End data with <CR><LF>.<CR><LF>\r\n[DELIVER 5]\n250 2.0.0 Ok: queued as Q1\r\n"
          "221 2.0.0 Bye\r\n[CLOSE]\n",
      resp);
  ASSERT_EQ(r.deliveries.size(), 2u);
  ASSERT_EQ(r.deliveries[0].envelope.rcpt_to.size(), 2u);
  EXPECT_EQ(r.deliveries[0].envelope.rcpt_to[1].address.local_part, "ok2");
}

TEST(Pipelining, NothingParsedWhileAwaiting) {
  Driver d(default_options(), Limits{});
  d.feed("EHLO c\r\n");
  auto acts = d.session().feed(std::string_view("MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nRCPT TO:<w@y.z>\r\n"));
  // 250 for MAIL, then the first CheckRecipient; the second RCPT waits.
  ASSERT_EQ(acts.size(), 2u);
  EXPECT_EQ(std::get<Reply>(acts[0]).code, 250);
  EXPECT_EQ(std::get<CheckRecipient>(acts[1]).address.local_part, "x");
  EXPECT_FALSE(d.session().wants_input());
  EXPECT_GT(d.session().buffered_bytes(), 0u);
  // Bytes arriving meanwhile are buffered, not answered.
  EXPECT_TRUE(d.session().feed(std::string_view("NOOP\r\n")).empty());
  auto next = d.session().recipient_result(RcptVerdict::Accept);
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(std::get<Reply>(next[0]).wire, "250 2.1.5 Ok\r\n");
  EXPECT_EQ(std::get<CheckRecipient>(next[1]).address.local_part, "w");
  EXPECT_EQ(std::get<CheckRecipient>(next[1]).accepted_so_far, 1u);
  auto last = d.session().recipient_result(RcptVerdict::RelayDenied);
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(std::get<Reply>(last[0]).code, 554);
  EXPECT_EQ(std::get<Reply>(last[1]).wire, "250 2.0.0 Ok\r\n");
  EXPECT_EQ(d.session().buffered_bytes(), 0u);
}

TEST(Pipelining, BufferWhileAwaitingIsBounded) {
  Limits l;
  l.max_input_buffer = 1000;
  Driver d(default_options(), l);
  d.feed("EHLO c\r\n");
  (void)d.session().feed(std::string_view("MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\n"));
  EXPECT_EQ(d.session().state(), SessionState::WaitRecipient);
  auto acts = d.session().feed(std::string(2000, 'n'));
  ASSERT_EQ(acts.size(), 2u);
  EXPECT_EQ(std::get<Reply>(acts[0]).wire, "421 4.7.0 mx.test Error: too much pipelined input\r\n");
  EXPECT_TRUE(std::holds_alternative<Close>(acts[1]));
  EXPECT_TRUE(d.session().closed());
}

TEST(Pipelining, BdatBurst) {
  auto r = check_all_splits(default_options(), Limits{},
                            {"EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 3\r\nabcBDAT 3 LAST\r\ndef"
                             "MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 2 LAST\r\ngh"});
  ASSERT_EQ(r.deliveries.size(), 2u);
  EXPECT_EQ(r.deliveries[0].bytes, "abcdef");
  EXPECT_EQ(r.deliveries[1].bytes, "gh");
}

}  // namespace

namespace {

// The server's decision for each recipient travels with it to Deliver (one record per
// recipient, not a side map matched back by address text); a refused one's is dropped.
TEST(Recipients, RouteDecidedAtRcptArrivesWithTheEnvelope) {
  Driver d(default_options(), Limits{});
  d.feed("EHLO c\r\n");
  (void)d.session().feed(std::string_view("MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nRCPT TO:<w@y.z>\r\n"));
  (void)d.session().recipient_result(RcptVerdict::Accept, std::string("route of x"));
  (void)d.session().recipient_result(RcptVerdict::UnknownUser, std::string("route of w"));
  auto acts = d.session().feed(std::string_view("DATA\r\nSubject: s\r\n\r\nhi\r\n.\r\n"));
  const Deliver* deliver = nullptr;
  for (const auto& a : acts)
    if (const auto* p = std::get_if<Deliver>(&a)) deliver = p;
  ASSERT_NE(deliver, nullptr);
  ASSERT_EQ(deliver->envelope.rcpt_to.size(), 1u);
  const auto* route = std::any_cast<std::string>(&deliver->envelope.rcpt_to[0].route);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(*route, "route of x");
}

}  // namespace
