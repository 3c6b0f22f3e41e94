// The pure parts of the transport: phase tracking, masked transcript, one-line
// failures classified from real smtp::ClientSession results (scripted server replies).
#include <gtest/gtest.h>

#include "smtp/sasl.hpp"
#include "tools/sendmail/transport.hpp"

namespace refmail::sendmail {
namespace {

// Drives a ClientSession with scripted replies (lock-step, as submit() does) and
// tracks the phase as submit() does.
struct Scripted {
  smtp::ClientSession session;
  Phase phase = Phase::Greeting;
  std::string transcript;
  Scripted(smtp::ClientOptions o, smtp::ClientMessage m) : session(std::move(o), std::move(m)) {}
  void act(std::vector<smtp::ClientAction> acts) {
    for (auto& a : acts) {
      if (auto* w = std::get_if<smtp::ClientWrite>(&a)) {
        phase = next_phase(w->bytes, phase);
        transcript += transcript_of_write(w->bytes, phase);
      }
      if (std::holds_alternative<smtp::ClientStartTls>(a)) act(session.tls_started());
    }
  }
  void server(std::string_view replies) { act(session.feed(replies)); }
};

smtp::ClientOptions options(std::optional<smtp::ClientCredentials> auth = std::nullopt) {
  smtp::ClientOptions o;
  o.tls = smtp::TlsMode::Implicit;
  o.use_pipelining = false;
  o.use_bdat = false;
  o.auth = std::move(auth);
  return o;
}

smtp::ClientMessage message(std::vector<std::string> rcpts = {"bob"}) {
  smtp::ClientMessage m;
  m.mail_from = smtp::Address{"alice", "a.example"};
  for (auto& r : rcpts) m.rcpt_to.push_back(smtp::Recipient{smtp::Address{r, "b.example"}, {}});
  m.bytes = "Subject: x\r\n\r\nbody\r\n";
  return m;
}

constexpr std::string_view kEhlo = "250-mx\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN XOAUTH2\r\n";

TEST(Transport, PhaseSequenceAndMaskedTranscript) {
  Scripted s(options(smtp::ClientCredentials{"alice", "hunter2", {smtp::AuthMechanism::Login}}), message());
  s.server("220 mx\r\n");
  EXPECT_EQ(s.phase, Phase::Hello);
  s.server(kEhlo);
  EXPECT_EQ(s.phase, Phase::Auth);
  s.server("334 VXNlcm5hbWU6\r\n");
  s.server("334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(s.phase, Phase::Auth);
  s.server("235 ok\r\n");
  EXPECT_EQ(s.phase, Phase::Mail);
  s.server("250 ok\r\n");
  EXPECT_EQ(s.phase, Phase::Rcpt);
  s.server("250 ok\r\n");
  EXPECT_EQ(s.phase, Phase::Data);
  s.server("354 go\r\n");
  EXPECT_EQ(s.phase, Phase::Content);
  s.server("250 queued\r\n");
  EXPECT_EQ(s.phase, Phase::Content);  // QUIT keeps the phase
  ASSERT_TRUE(s.session.finished());
  EXPECT_TRUE(s.transcript.starts_with("C: EHLO localhost\n")) << s.transcript;
  EXPECT_NE(s.transcript.find("C: AUTH LOGIN\n"), std::string::npos) << s.transcript;
  EXPECT_EQ(s.transcript.find(smtp::encode_base64("hunter2")), std::string::npos);
  EXPECT_EQ(s.transcript.find(smtp::encode_base64("alice")), std::string::npos);
  EXPECT_NE(s.transcript.find("C: <secret masked>\n"), std::string::npos);
  EXPECT_NE(s.transcript.find("C: MAIL FROM:<alice@a.example>\n"), std::string::npos);
  EXPECT_NE(s.transcript.find("C: <message: "), std::string::npos);
  EXPECT_EQ(s.transcript.find("body"), std::string::npos);
}

TEST(Transport, TranscriptMasksInitialResponse) {
  const std::string w = "AUTH PLAIN " + smtp::encode_base64(std::string("\0u\0pw", 5)) + "\r\n";
  EXPECT_EQ(transcript_of_write(w, Phase::Auth), "C: AUTH PLAIN <secret masked>\n");
  EXPECT_EQ(transcript_of_write("AUTH XOAUTH2 dXNlcj1=\r\n", Phase::Auth), "C: AUTH XOAUTH2 <secret masked>\n");
  EXPECT_EQ(transcript_of_write("*\r\n", Phase::Auth), "C: *\n");
  EXPECT_EQ(transcript_of_write("EHLO h\r\n", Phase::Hello), "C: EHLO h\n");
}

TEST(Transport, NextPhaseTable) {
  EXPECT_EQ(next_phase("STARTTLS\r\n", Phase::Hello), Phase::StartTls);
  EXPECT_EQ(next_phase("EHLO x\r\n", Phase::StartTls), Phase::Hello);
  EXPECT_EQ(next_phase("DATA\r\n", Phase::Auth), Phase::Auth);  // a base64 SASL response
  EXPECT_EQ(next_phase("MAIL FROM:<a@b>\r\n", Phase::Auth), Phase::Mail);
  EXPECT_EQ(next_phase("MAIL FROM:<a@b>\r\n", Phase::Data), Phase::Content);
  EXPECT_EQ(next_phase("QUIT\r\n", Phase::Rcpt), Phase::Rcpt);
}

TEST(Transport, AuthenticationFailedWithServerText) {
  Scripted s(options(smtp::ClientCredentials{"alice", "bad", {smtp::AuthMechanism::Plain}}), message());
  s.server("220 mx\r\n");
  s.server(kEhlo);
  s.server("535 5.7.8 Authentication credentials invalid\r\n");
  ASSERT_TRUE(s.session.finished());
  Failure f = classify_failure(s.session.result(), s.phase);
  EXPECT_EQ(f.exit_code, EX_NOPERM);
  EXPECT_EQ(f.message, "authentication failed: 535 5.7.8 Authentication credentials invalid");
  EXPECT_EQ(s.transcript.find(smtp::encode_base64(std::string("\0alice\0bad", 10))), std::string::npos);
}

TEST(Transport, TemporaryAuthFailureIsTempFail) {
  Scripted s(options(smtp::ClientCredentials{"a", "b", {smtp::AuthMechanism::Plain}}), message());
  s.server("220 mx\r\n");
  s.server(kEhlo);
  s.server("454 4.7.0 try later\r\n");
  EXPECT_EQ(classify_failure(s.session.result(), s.phase).exit_code, EX_TEMPFAIL);
}

TEST(Transport, NoCommonMechanism) {
  Scripted s(options(smtp::ClientCredentials{"a", "b", {smtp::AuthMechanism::XOAuth2}}), message());
  s.server("220 mx\r\n");
  s.server("250-mx\r\n250 AUTH PLAIN\r\n");
  Failure f = classify_failure(s.session.result(), s.phase);
  EXPECT_EQ(f.exit_code, EX_NOPERM);
  EXPECT_NE(f.message.find("authentication failed"), std::string::npos);
}

TEST(Transport, StartTlsMissing) {
  smtp::ClientOptions o = options();
  o.tls = smtp::TlsMode::Required;
  Scripted s(o, message());
  s.server("220 mx\r\n");
  s.server("250-mx\r\n250 PIPELINING\r\n");
  Failure f = classify_failure(s.session.result(), s.phase);
  EXPECT_EQ(f.exit_code, EX_PROTOCOL);
  EXPECT_EQ(f.message, "TLS failed: the server does not offer STARTTLS");
}

TEST(Transport, StartTlsRefused) {
  smtp::ClientOptions o = options();
  o.tls = smtp::TlsMode::Required;
  Scripted s(o, message());
  s.server("220 mx\r\n");
  s.server("250-mx\r\n250 STARTTLS\r\n");
  s.server("454 4.7.0 TLS not available\r\n");
  Failure f = classify_failure(s.session.result(), s.phase);
  EXPECT_EQ(f.exit_code, EX_TEMPFAIL);
  EXPECT_EQ(f.message, "TLS failed: the server refused STARTTLS: 454 4.7.0 TLS not available");
}

TEST(Transport, GreetingRefused) {
  Scripted s(options(), message());
  s.server("554 5.7.1 go away\r\n");
  Failure f = classify_failure(s.session.result(), s.phase);
  EXPECT_EQ(f.exit_code, EX_UNAVAILABLE);
  EXPECT_EQ(f.message, "server refused the session: 554 5.7.1 go away");
}

TEST(Transport, SenderRefused) {
  Scripted s(options(), message());
  s.server("220 mx\r\n");
  s.server("250 mx\r\n");
  s.server("553 5.7.1 not your address\r\n");
  ASSERT_TRUE(s.session.finished());
  Failure f = classify_failure(s.session.result(), s.phase);
  EXPECT_EQ(f.exit_code, EX_UNAVAILABLE);
  EXPECT_EQ(f.message, "sender refused: 553 5.7.1 not your address");
}

TEST(Transport, AllRecipientsRefused) {
  Scripted s(options(), message({"x", "y"}));
  s.server("220 mx\r\n");
  s.server("250 mx\r\n");
  s.server("250 ok\r\n");
  s.server("550 5.1.1 no such user\r\n");
  s.server("550 5.1.1 no such user either\r\n");
  ASSERT_TRUE(s.session.finished());
  Failure f = classify_failure(s.session.result(), s.phase);
  EXPECT_EQ(f.exit_code, EX_NOUSER);
  EXPECT_EQ(f.message,
            "recipient refused: x@b.example: 550 5.1.1 no such user; y@b.example: 550 5.1.1 no such user either");
}

TEST(Transport, MessageRefused) {
  Scripted s(options(), message());
  s.server("220 mx\r\n");
  s.server("250 mx\r\n");
  s.server("250 ok\r\n");
  s.server("250 ok\r\n");
  s.server("354 go\r\n");
  s.server("554 5.6.0 looks like spam\r\n");
  ASSERT_TRUE(s.session.finished());
  Failure f = classify_failure(s.session.result(), s.phase);
  EXPECT_EQ(f.exit_code, EX_UNAVAILABLE);
  EXPECT_EQ(f.message, "message refused: 554 5.6.0 looks like spam");
}

TEST(Transport, ConnectionLostAndHostileText) {
  Scripted s(options(), message());
  s.server("220 mx\r\n");
  s.act(s.session.connection_lost("timed out"));
  Failure f = classify_failure(s.session.result(), s.phase);
  EXPECT_EQ(f.exit_code, EX_TEMPFAIL);
  EXPECT_EQ(f.message, "connection lost: timed out");
  EXPECT_EQ(one_line("a\r\nfake: line\x1b[0m"), "a  fake: line [0m");
}

TEST(Transport, Mechanisms) {
  EXPECT_EQ(mechanisms_for(AuthSetting::Auto),
            (std::vector<smtp::AuthMechanism>{smtp::AuthMechanism::Plain, smtp::AuthMechanism::Login}));
  EXPECT_EQ(mechanisms_for(AuthSetting::XOAuth2), std::vector<smtp::AuthMechanism>{smtp::AuthMechanism::XOAuth2});
}

}  // namespace
}  // namespace refmail::sendmail
