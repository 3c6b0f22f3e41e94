// DATA (RFC 5321 4.1.1.4): 354, unstuffing, 250 only after the server's commit,
// size and line limits answered after draining, delivery outcomes.
#include "harness.hpp"

using namespace refmail::smtp;
using namespace refmail::smtp::test;

namespace {

const std::string kTxn = "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n";
const std::string kStart = std::string(kGreeting) + kEhloPlain +
                           "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n";

TEST(Data, StoresUnstuffedBytes) {
  const std::string body = "Subject: t\r\n\r\n..leading dot\r\n.\tx\r\nlast\r\n";
  auto r = expect_transcript({kTxn, body + ".\r\n"},
                             kStart + "[DELIVER 38]\n250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_EQ(r.deliveries[0].bytes, "Subject: t\r\n\r\n.leading dot\r\n\tx\r\nlast\r\n");
  EXPECT_FALSE(r.deliveries[0].envelope.eight_bit_seen);
}

TEST(Data, NoReplyBeforeCommit) {
  Driver d(default_options(), Limits{});
  d.feed(kTxn);
  auto acts = d.session().feed(std::string_view("x\r\n.\r\nNOOP\r\n"));
  ASSERT_EQ(acts.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<Deliver>(acts[0]));  // no 250 yet, NOOP not answered yet
  EXPECT_EQ(d.session().state(), SessionState::WaitDelivery);
  EXPECT_FALSE(d.session().wants_input());
  auto after = d.session().delivery_result(DeliveryStatus::Ok, "ABC");
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(std::get<Reply>(after[0]).wire, "250 2.0.0 Ok: queued as ABC\r\n");
  EXPECT_EQ(std::get<Reply>(after[1]).wire, "250 2.0.0 Ok\r\n");  // the pipelined NOOP
}

TEST(Data, DeliveryOutcomes) {
  const struct {
    DeliveryStatus s;
    const char* reply;
  } cases[] = {
      {DeliveryStatus::TempFail, "451 4.3.0 Error: queue file write error\r\n"},
      {DeliveryStatus::QuotaExceeded, "552 5.2.2 Error: mailbox full\r\n"},
      {DeliveryStatus::Rejected, "554 5.7.1 Error: message rejected\r\n"},
      {DeliveryStatus::SenderRejected,
       "550 5.7.1 Error: From/Sender header address not owned by the authenticated user\r\n"},
      {DeliveryStatus::DmarcRejected, "550 5.7.1 Error: rejected by the DMARC policy of the From domain\r\n"},
      {DeliveryStatus::SpamRejected, "550 5.7.1 Error: message rejected as spam\r\n"},
      {DeliveryStatus::SpamDeferred, "451 4.7.1 Error: content check deferred, try again later\r\n"},
  };
  for (const auto& c : cases) {
    Responder r;
    r.delivery = c.s;
    auto res = expect_transcript({kTxn, "x\r\n.\r\nRCPT TO:<d@e.f>\r\n"},
                                 kStart + "[DELIVER 3]\n" + c.reply + "503 5.5.1 Error: need MAIL command\r\n", r);
    EXPECT_EQ(res.final_state, SessionState::Ready);
  }
}

TEST(Data, StateErrors) {
  expect_transcript({"EHLO c\r\nDATA\r\nMAIL FROM:<a@b.c>\r\nDATA\r\nDATA x\r\n"},
                    std::string(kGreeting) + kEhloPlain +
                        "503 5.5.1 Error: need MAIL command\r\n250 2.1.0 Ok\r\n"
                        "554 5.5.1 Error: no valid recipients\r\n"
                        "501 5.5.4 Syntax: DATA\r\n");
  expect_transcript({"EHLO c\r\nMAIL FROM:<a@b.c> BODY=BINARYMIME\r\nRCPT TO:<d@e.f>\r\nDATA\r\n"},
                    std::string(kGreeting) + kEhloPlain +
                        "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n503 5.5.1 Error: BODY=BINARYMIME requires BDAT\r\n");
}

TEST(Data, OverSizeDrainedThen552) {
  Limits l;
  l.max_message_size = 100;
  std::string body;
  for (int i = 0; i < 10; ++i) body += std::string(30, 'x') + "\r\n";
  auto r = expect_transcript(default_options(), l, {kTxn, body + ".\r\nNOOP\r\n"},
                             std::string(kGreeting) + "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 100\r\n"
                                 "250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n"
                                 "250-BINARYMIME\r\n250 DSN\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                                 "354 End data with <CR><LF>.<CR><LF>\r\n"
                                 "552 5.3.4 Error: message file too big\r\n250 2.0.0 Ok\r\n");
  EXPECT_TRUE(r.deliveries.empty());
}

// Hardening item 5: under the server's in-flight budget the content is dropped while
// it streams (memory given back at once), drained to the end, then 452 4.3.1; the
// session goes on.
TEST(Data, ShedContentIsDrainedThen452) {
  Driver d(default_options(), Limits{});
  d.feed(kTxn);
  d.feed(std::string(5000, 'x') + "\r\n");
  EXPECT_GE(d.session().held_content_bytes(), 5000u);
  d.session().shed_content();
  EXPECT_LT(d.session().held_content_bytes(), 64u);  // the empty string's own buffer
  d.feed(std::string(5000, 'y') + "\r\n");
  EXPECT_LT(d.session().held_content_bytes(), 64u);  // the empty string's own buffer
  d.feed(".\r\nNOOP\r\n");
  auto& r = d.result();
  EXPECT_TRUE(r.deliveries.empty());
  EXPECT_NE(r.out.find("452 4.3.1 Error: insufficient system resources, try again later\r\n250 2.0.0 Ok\r\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.final_state, SessionState::Ready);
}

TEST(Data, ShedOutsideContentDoesNothing) {
  auto r = [] {
    Driver d(default_options(), Limits{});
    d.feed("EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\n");
    d.session().shed_content();
    d.feed("DATA\r\nx\r\n.\r\n");
    return d.result();
  }();
  EXPECT_EQ(r.deliveries.size(), 1u);
}

TEST(Data, ExactlyAtSizeLimitIsAccepted) {
  Limits l;
  l.max_message_size = 10;
  auto r = check_all_splits(default_options(), l, {kTxn, "12345678\r\n.\r\n"});
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_EQ(r.deliveries[0].bytes.size(), 10u);
}

TEST(Data, LongLines) {
  Limits l;
  l.max_data_line = 100;
  // 1000+ byte lines are fine under the default 64 KiB limit...
  auto ok = check_all_splits(default_options(), Limits{}, {kTxn, std::string(5000, 'a') + "\r\n.\r\n"});
  EXPECT_EQ(ok.deliveries.size(), 1u);
  // ...and refused (after draining) over the configured one.
  auto r = expect_transcript(default_options(), l, {kTxn, std::string(99, 'a') + "\r\n" + std::string(120, 'b') + "\r\n.\r\n"},
                             kStart + "552 5.3.4 Error: message line too long\r\n");
  EXPECT_TRUE(r.deliveries.empty());
}

TEST(Data, EightBitWithout8BitMimeIsAcceptedAndFlagged) {
  // Decision: 8-bit content without BODY=8BITMIME is stored as received (like Postfix);
  // the envelope says so, for the relay's downgrade decision.
  auto r = check_all_splits(default_options(), Limits{}, {kTxn, "caf\xC3\xA9\r\n.\r\n"});
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_TRUE(r.deliveries[0].envelope.eight_bit_seen);
  EXPECT_EQ(r.deliveries[0].envelope.params.body, Body::SevenBit);
}

TEST(Data, TwoMessagesOneConnection) {
  auto r = check_all_splits(default_options(), Limits{},
                            {kTxn, "one\r\n.\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n", "two\r\n.\r\n"});
  ASSERT_EQ(r.deliveries.size(), 2u);
  EXPECT_EQ(r.deliveries[0].bytes, "one\r\n");
  EXPECT_EQ(r.deliveries[1].bytes, "two\r\n");
  EXPECT_EQ(r.deliveries[1].envelope.rcpt_to[0].address.to_string(), "x@y.z");
}

}  // namespace
