// STARTTLS (RFC 3207): offered only when possible, resets the session, discards
// plaintext pipelined after the command (CVE-2011-0411).
#include "harness.hpp"

using namespace refmail::smtp;
using namespace refmail::smtp::test;

namespace {

Options tls_options() {
  Options o = default_options();
  o.tls_available = true;
  o.auth_enabled = true;
  return o;
}

const std::string kEhloTls =
    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 26214400\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250 DSN\r\n";
const std::string kEhloAfterTls =
    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 26214400\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250 DSN\r\n";

TEST(StartTls, HandshakeThenNewEhlo) {
  auto r = expect_transcript(tls_options(), Limits{},
                             {"EHLO c\r\n", "STARTTLS\r\n", "MAIL FROM:<a@b.c>\r\n", "EHLO c\r\n",
                              "MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n", "x\r\n.\r\n"},
                             std::string(kGreeting) + kEhloTls + "220 2.0.0 Ready to start TLS\r\n[STARTTLS]\n"
                                 "503 5.5.1 Error: send HELO/EHLO first\r\n" + kEhloAfterTls +
                                 "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
                                 "[DELIVER 3]\n250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_TRUE(r.deliveries[0].envelope.tls);
  EXPECT_EQ(r.deliveries[0].envelope.with_protocol(), "ESMTPS");
}

TEST(StartTls, PipelinedPlaintextIsDiscarded) {
  // Fed whole: the injected commands arrive in the same read as STARTTLS.
  Driver d(tls_options(), Limits{});
  d.feed("EHLO c\r\n");
  auto acts = d.session().feed(std::string_view("STARTTLS\r\nMAIL FROM:<evil@x.y>\r\nRCPT TO:<v@x.y>\r\n"));
  ASSERT_EQ(acts.size(), 2u);
  EXPECT_EQ(std::get<Reply>(acts[0]).wire, "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_TRUE(std::holds_alternative<StartTls>(acts[1]));
  // Bytes arriving before the handshake completes are not commands either.
  EXPECT_TRUE(d.session().feed(std::string_view("NOOP\r\n")).empty());
  EXPECT_EQ(d.session().buffered_bytes(), 0u);
  EXPECT_TRUE(d.session().tls_started().empty());
  auto after = d.session().feed(std::string_view("MAIL FROM:<a@b.c>\r\n"));
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(std::get<Reply>(after[0]).wire, "503 5.5.1 Error: send HELO/EHLO first\r\n");
}

TEST(StartTls, ForgetsAuthAndTransactionState) {
  Options o = tls_options();
  o.auth_without_tls = true;
  Driver d(o, Limits{});
  d.feed("EHLO c\r\nAUTH PLAIN AHUAcA==\r\n");
  EXPECT_EQ(d.session().auth_user(), "u");
  d.feed("STARTTLS\r\n");
  EXPECT_FALSE(d.session().auth_user().has_value());
  EXPECT_TRUE(d.session().tls_active());
  EXPECT_EQ(d.session().state(), SessionState::Connected);
}

TEST(StartTls, Errors) {
  // Not available.
  expect_transcript({"EHLO c\r\nSTARTTLS\r\n"},
                    std::string(kGreeting) + kEhloPlain + "502 5.5.1 Error: command not implemented\r\n");
  // Already active.
  Options o = tls_options();
  o.tls_active = true;
  auto r = check_all_splits(o, Limits{}, {"EHLO c\r\nSTARTTLS\r\n"});
  EXPECT_NE(r.out.find("554 5.5.1 Error: TLS already active\r\n"), std::string::npos);
  // Arguments; inside a transaction.
  expect_transcript(tls_options(), Limits{}, {"EHLO c\r\nSTARTTLS now\r\nMAIL FROM:<a@b.c>\r\nSTARTTLS\r\n"},
                    std::string(kGreeting) + kEhloTls + "501 5.5.4 Syntax: STARTTLS\r\n250 2.1.0 Ok\r\n"
                        "503 5.5.1 Error: MAIL transaction in progress\r\n");
}

TEST(StartTls, BeforeEhloIsAllowed) {
  expect_transcript(tls_options(), Limits{}, {"STARTTLS\r\n", "EHLO c\r\n"},
                    std::string(kGreeting) + "220 2.0.0 Ready to start TLS\r\n[STARTTLS]\n" + kEhloAfterTls);
}

}  // namespace
