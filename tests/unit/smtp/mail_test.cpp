// MAIL FROM (RFC 5321 4.1.1.2) with SIZE, BODY, SMTPUTF8, DSN and AUTH= parameters;
// the submission sender check (553 5.7.1).
#include "harness.hpp"

using namespace refmail::smtp;
using namespace refmail::smtp::test;

namespace {

const std::string kStart = std::string(kGreeting) + kEhloPlain;

TEST(Mail, AcceptsAndRecordsParameters) {
  auto r = expect_transcript(
      {"EHLO c\r\n", "MAIL FROM:<a@b.c> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=x+2By\r\n",
       "RCPT TO:<d@e.f>\r\nDATA\r\n", "hi\r\n.\r\n"},
      kStart + "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
               "[DELIVER 4]\n"
               "250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(r.deliveries.size(), 1u);
  const Envelope& e = r.deliveries[0].envelope;
  EXPECT_EQ(e.mail_from.to_string(), "a@b.c");
  EXPECT_EQ(e.params.size, 100u);
  EXPECT_EQ(e.params.body, Body::EightBitMime);
  EXPECT_EQ(e.params.ret, DsnRet::Hdrs);
  EXPECT_EQ(e.params.envid, "x+y");
  EXPECT_EQ(e.ehlo_domain, "c");
  EXPECT_TRUE(e.esmtp);
  EXPECT_FALSE(e.tls);
  EXPECT_FALSE(e.chunking);
  EXPECT_EQ(e.with_protocol(), "ESMTP");
}

TEST(Mail, NullSender) {
  auto r = check_all_splits(default_options(), Limits{},
                            {"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n", "x\r\n.\r\n"});
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_TRUE(r.deliveries[0].envelope.mail_from.is_null());
}

TEST(Mail, Errors) {
  expect_transcript({"EHLO c\r\n"
                     "MAIL TO:<a@b.c>\r\n"
                     "MAIL FROM:a@b.c\r\n"
                     "MAIL FROM:<a@@b.c>\r\n"
                     "MAIL FROM:<a@b.c> FOO=BAR\r\n"
                     "MAIL FROM:<a@b.c> SIZE=x\r\n"
                     "MAIL FROM:<a@b.c> SIZE=26214401\r\n"
                     "MAIL FROM:<j\xC3\xA9@b.c>\r\n"
                     "MAIL FROM:<a@b.c>\r\n"
                     "MAIL FROM:<a@b.c>\r\n"},
                    kStart +
                        "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
                        "501 5.1.7 Bad sender address syntax\r\n"
                        "501 5.1.7 Bad sender address syntax\r\n"
                        "555 5.5.4 Error: unsupported MAIL parameter\r\n"
                        "501 5.5.4 Error: bad MAIL parameter syntax\r\n"
                        "552 5.3.4 Message size exceeds fixed limit\r\n"
                        "553 5.6.7 Error: non-ASCII address needs SMTPUTF8\r\n"
                        "250 2.1.0 Ok\r\n"
                        "503 5.5.1 Error: nested MAIL command\r\n");
}

TEST(Mail, Smtputf8) {
  auto r = expect_transcript(
      {"EHLO c\r\nMAIL FROM:<j\xC3\xA9@b.c> SMTPUTF8\r\nRCPT TO:<\xC3\xBC@e.f>\r\nDATA\r\n",
       "x\r\n.\r\n"},
      kStart + "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
               "[DELIVER 3]\n250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_TRUE(r.deliveries[0].envelope.params.smtputf8);
  EXPECT_EQ(r.deliveries[0].envelope.rcpt_to[0].address.local_part, "\xC3\xBC");
  EXPECT_EQ(r.deliveries[0].envelope.with_protocol(), "UTF8SMTP");
}

TEST(Mail, RequireTlsAndAuth) {
  Options o = default_options();
  o.require_tls = true;
  expect_transcript(o, Limits{}, {"EHLO c\r\nMAIL FROM:<a@b.c>\r\n"},
                    kStart + "530 5.7.0 Must issue a STARTTLS command first\r\n");
  o.require_tls = false;
  o.require_auth = true;
  expect_transcript(o, Limits{}, {"EHLO c\r\nMAIL FROM:<a@b.c>\r\n"},
                    kStart + "530 5.7.0 Authentication required\r\n");
}

Options submission() {
  Options o = default_options();
  o.auth_enabled = true;
  o.auth_without_tls = true;
  o.require_auth = true;
  return o;
}

// "\0alice\0secret"
constexpr const char* kAuthAlice = "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n";

TEST(Mail, SenderCheckForAuthenticatedUser) {
  Responder ok;
  auto r = check_all_splits(submission(), Limits{}, {"EHLO c\r\n", kAuthAlice, "MAIL FROM:<alice@b.c>\r\n"},
                            ok);
  EXPECT_NE(r.out.find("235 2.7.0 Authentication successful\r\n250 2.1.0 Ok\r\n"), std::string::npos);
  ASSERT_EQ(r.sender_checks.size(), 1u);
  EXPECT_EQ(r.sender_checks[0].user, "alice");
  EXPECT_EQ(r.sender_checks[0].address.to_string(), "alice@b.c");
  EXPECT_EQ(r.final_state, SessionState::Mail);

  Responder no;
  no.sender_ok = false;
  r = check_all_splits(submission(), Limits{},
                       {"EHLO c\r\n", kAuthAlice, "MAIL FROM:<bob@b.c>\r\nMAIL FROM:<alice@b.c>\r\n"}, no);
  EXPECT_NE(r.out.find("553 5.7.1 <bob@b.c>: Sender address rejected: not owned by user\r\n"
                       "553 5.7.1 <alice@b.c>"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.final_state, SessionState::Ready);
}

TEST(Mail, AuthenticatedEnvelope) {
  auto r = check_all_splits(submission(), Limits{},
                            {"EHLO c\r\n", kAuthAlice, "MAIL FROM:<alice@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n",
                             "x\r\n.\r\n"});
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_EQ(r.deliveries[0].envelope.auth_user, "alice");
  EXPECT_EQ(r.deliveries[0].envelope.with_protocol(), "ESMTPA");
  ASSERT_EQ(r.rcpt_checks.size(), 1u);
  EXPECT_EQ(r.rcpt_checks[0].auth_user, "alice");
}

}  // namespace
