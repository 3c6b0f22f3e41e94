// RCPT TO (RFC 5321 4.1.1.3): DSN parameters, server verdicts, recipient limit.
#include "harness.hpp"

using namespace refmail::smtp;
using namespace refmail::smtp::test;

namespace {

const std::string kStart = std::string(kGreeting) + kEhloPlain + "250 2.1.0 Ok\r\n";

TEST(Rcpt, DsnParametersKept) {
  auto r = check_all_splits(default_options(), Limits{},
                            {"EHLO c\r\nMAIL FROM:<a@b.c>\r\n"
                             "RCPT TO:<d@e.f> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;d+40e.f\r\n"
                             "RCPT TO:<postmaster>\r\nDATA\r\n",
                             ".\r\n"});
  ASSERT_EQ(r.deliveries.size(), 1u);
  const auto& rc = r.deliveries[0].envelope.rcpt_to;
  ASSERT_EQ(rc.size(), 2u);
  EXPECT_EQ(rc[0].dsn.notify, unsigned{kNotifySuccess | kNotifyDelay});
  EXPECT_EQ(rc[0].dsn.orcpt_type, "rfc822");
  EXPECT_EQ(rc[0].dsn.orcpt, "d@e.f");
  EXPECT_EQ(rc[1].address.to_string(), "postmaster");
  EXPECT_EQ(r.deliveries[0].bytes, "");
}

TEST(Rcpt, Verdicts) {
  Responder resp;
  resp.rcpt = [](const CheckRecipient& c) {
    const std::string& l = c.address.local_part;
    if (l == "unknown") return RcptVerdict::UnknownUser;
    if (l == "relay") return RcptVerdict::RelayDenied;
    if (l == "full") return RcptVerdict::MailboxFull;
    if (l == "many") return RcptVerdict::TooManyRecipients;
    if (l == "temp") return RcptVerdict::TempFail;
    return RcptVerdict::Accept;
  };
  auto r = expect_transcript(
      {"EHLO c\r\nMAIL FROM:<a@b.c>\r\n"
       "RCPT TO:<unknown@x.y>\r\nRCPT TO:<relay@far.example>\r\nRCPT TO:<full@x.y>\r\n"
       "RCPT TO:<many@x.y>\r\nRCPT TO:<temp@x.y>\r\nRCPT TO:<ok@x.y>\r\nRCPT TO:<ok@x.y>\r\n"},
      kStart +
          "550 5.1.1 <unknown@x.y>: Recipient address rejected: User unknown\r\n"
          "554 5.7.1 <relay@far.example>: Relay access denied\r\n"
          "552 5.2.2 <full@x.y>: Mailbox full\r\n"
          "452 4.5.3 Error: too many recipients\r\n"
          "451 4.3.0 <temp@x.y>: Temporary lookup failure\r\n"
          "250 2.1.5 Ok\r\n"
          "250 2.1.5 Ok\r\n",
      resp);
  EXPECT_EQ(r.rcpt_checks.size(), 6u);  // the duplicate is not asked again
  EXPECT_EQ(r.final_state, SessionState::Rcpt);
  EXPECT_EQ(r.rcpt_checks[5].accepted_so_far, 0u);
}

TEST(Rcpt, Errors) {
  expect_transcript({"EHLO c\r\nRCPT TO:<d@e.f>\r\nMAIL FROM:<a@b.c>\r\n"
                     "RCPT FROM:<d@e.f>\r\nRCPT TO:<d@e>f>\r\nRCPT TO:<>\r\nRCPT TO:<d@e.f> SIZE=1\r\n"
                     "RCPT TO:<d@e.f> NOTIFY=NEVER,DELAY\r\nRCPT TO:<\xC3\xBC@e.f>\r\n"},
                    std::string(kGreeting) + kEhloPlain + "503 5.5.1 Error: need MAIL command\r\n"
                        "250 2.1.0 Ok\r\n"
                        "501 5.5.4 Syntax: RCPT TO:<address>\r\n"
                        "501 5.5.4 Syntax: RCPT TO:<address>\r\n"  // junk after '>'
                        "501 5.1.3 Bad recipient address syntax\r\n"
                        "555 5.5.4 Error: unsupported RCPT parameter\r\n"
                        "501 5.5.4 Error: bad RCPT parameter syntax\r\n"
                        "553 5.6.7 Error: non-ASCII address needs SMTPUTF8\r\n");
}

TEST(Rcpt, RecipientLimitGives452WithoutAskingServer) {
  Limits l;
  l.max_recipients = 3;
  std::string burst = "EHLO c\r\nMAIL FROM:<a@b.c>\r\n";
  for (int i = 0; i < 5; ++i) burst += "RCPT TO:<u" + std::to_string(i) + "@x.y>\r\n";
  burst += "DATA\r\n";
  auto r = expect_transcript(default_options(), l, {burst, "x\r\n.\r\n"},
                             kStart + "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                                      "452 4.5.3 Error: too many recipients\r\n"
                                      "452 4.5.3 Error: too many recipients\r\n"
                                      "354 End data with <CR><LF>.<CR><LF>\r\n[DELIVER 3]\n"
                                      "250 2.0.0 Ok: queued as Q1\r\n");
  EXPECT_EQ(r.rcpt_checks.size(), 3u);
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_EQ(r.deliveries[0].envelope.rcpt_to.size(), 3u);
}

TEST(Rcpt, TenThousandRecipients) {
  // Bad input from the issue: 10,000 RCPTs in one pipelined burst. The first 100 are
  // checked, the rest get 452 (not counted as errors), nothing grows without bound.
  std::string burst = "EHLO c\r\nMAIL FROM:<a@b.c>\r\n";
  for (int i = 0; i < 10000; ++i) burst += "RCPT TO:<user" + std::to_string(i) + "@x.y>\r\n";
  burst += "DATA\r\n";
  const std::vector<std::string> turns{burst, "hello\r\n.\r\n"};
  RunResult whole = run_transcript(default_options(), Limits{}, turns, {}, 0);
  RunResult small = run_transcript(default_options(), Limits{}, turns, {}, 3);
  EXPECT_EQ(whole.out, small.out);
  EXPECT_EQ(whole.rcpt_checks.size(), 100u);
  ASSERT_EQ(whole.deliveries.size(), 1u);
  EXPECT_EQ(whole.deliveries[0].envelope.rcpt_to.size(), 100u);
  std::size_t n452 = 0;
  for (std::size_t p = 0; (p = whole.out.find("452 4.5.3", p)) != std::string::npos; ++p) ++n452;
  EXPECT_EQ(n452, 9900u);
  EXPECT_FALSE(whole.closed);
}

TEST(Rcpt, UnknownUsersCountAsErrors) {
  Limits l;
  l.max_errors = 3;
  Responder resp;
  resp.rcpt = [](const CheckRecipient&) { return RcptVerdict::UnknownUser; };
  auto r = check_all_splits(default_options(), l,
                            {"EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<a@x.y>\r\nRCPT TO:<b@x.y>\r\n"
                             "RCPT TO:<c@x.y>\r\nRCPT TO:<d@x.y>\r\n"},
                            resp);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.rcpt_checks.size(), 3u);
  EXPECT_NE(r.out.find("421 4.7.0 mx.test Error: too many errors\r\n[CLOSE]\n"), std::string::npos);
}

}  // namespace
