// EHLO / HELO: capabilities per context, syntax, transaction reset (RFC 5321 4.1.1.1, 4.1.4).
#include "harness.hpp"

using namespace refmail::smtp;
using namespace refmail::smtp::test;

namespace {

TEST(Ehlo, DefaultCapabilities) {
  expect_transcript({"EHLO client.example\r\n"}, std::string(kGreeting) + kEhloPlain);
}

TEST(Ehlo, HeloIsPlain) {
  expect_transcript({"HELO client.example\r\n", "helo again\r\n"},
                    std::string(kGreeting) + "250 mx.test\r\n250 mx.test\r\n");
}

TEST(Ehlo, StartTlsAndAuthPerContext) {
  Options o = default_options();
  o.tls_available = true;
  o.auth_enabled = true;
  // Plain text, AUTH needs TLS: STARTTLS offered, AUTH not.
  auto r = check_all_splits(o, Limits{}, {"EHLO c\r\n"});
  EXPECT_NE(r.out.find("250-STARTTLS\r\n"), std::string::npos);
  EXPECT_EQ(r.out.find("AUTH"), std::string::npos);
  // Config switch: plain AUTH allowed.
  o.auth_without_tls = true;
  r = check_all_splits(o, Limits{}, {"EHLO c\r\n"});
  EXPECT_NE(r.out.find("250-AUTH PLAIN LOGIN\r\n"), std::string::npos);
  // Implicit TLS: AUTH offered, STARTTLS not.
  o.auth_without_tls = false;
  o.tls_active = true;
  r = check_all_splits(o, Limits{}, {"EHLO c\r\n"});
  EXPECT_EQ(r.out.find("STARTTLS"), std::string::npos);
  EXPECT_NE(r.out.find("250-AUTH PLAIN LOGIN\r\n"), std::string::npos);
  // Auth disabled (MX): never offered.
  o.auth_enabled = false;
  r = check_all_splits(o, Limits{}, {"EHLO c\r\n"});
  EXPECT_EQ(r.out.find("AUTH"), std::string::npos);
}

TEST(Ehlo, SizeAdvertisesLimit) {
  Limits l;
  l.max_message_size = 12345;
  auto r = check_all_splits(default_options(), l, {"EHLO c\r\n"});
  EXPECT_NE(r.out.find("250-SIZE 12345\r\n"), std::string::npos);
}

TEST(Ehlo, SyntaxErrors) {
  expect_transcript({"EHLO\r\n", "HELO \r\n", "EHLO a\x01" "b\r\n"},
                    std::string(kGreeting) +
                        "501 5.5.4 Syntax: EHLO hostname\r\n"
                        "501 5.5.4 Syntax: HELO hostname\r\n"
                        "501 5.5.2 Error: invalid hostname\r\n");
}

TEST(Ehlo, CommandsNeedHeloFirst) {
  expect_transcript({"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nNOOP\r\n"},
                    std::string(kGreeting) +
                        "503 5.5.1 Error: send HELO/EHLO first\r\n"
                        "503 5.5.1 Error: send HELO/EHLO first\r\n"
                        "503 5.5.1 Error: send HELO/EHLO first\r\n"
                        "250 2.0.0 Ok\r\n");
}

TEST(Ehlo, ResetsTransaction) {
  auto r = expect_transcript({"EHLO c\r\nMAIL FROM:<a@b.c>\r\nEHLO c\r\nRCPT TO:<d@e.f>\r\n"},
                             std::string(kGreeting) + kEhloPlain + "250 2.1.0 Ok\r\n" + kEhloPlain +
                                 "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(r.final_state, SessionState::Ready);
}

TEST(Ehlo, EsmtpParametersNeedEhlo) {
  expect_transcript({"HELO c\r\nMAIL FROM:<a@b.c> SIZE=10\r\nMAIL FROM:<a@b.c>\r\n"
                     "RCPT TO:<d@e.f> NOTIFY=NEVER\r\n"},
                    std::string(kGreeting) + "250 mx.test\r\n"
                        "555 5.5.4 Error: MAIL parameters need EHLO\r\n"
                        "250 2.1.0 Ok\r\n"
                        "555 5.5.4 Error: RCPT parameters need EHLO\r\n");
}

}  // namespace
