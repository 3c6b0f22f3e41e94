// AUTH PLAIN / LOGIN (RFC 4954, RFC 4616): initial responses, "=", "*", bad base64,
// 235 / 535, attempt limit, when AUTH is (not) allowed.
#include "harness.hpp"

#include "smtp/sasl.hpp"

using namespace refmail::smtp;
using namespace refmail::smtp::test;

namespace {

Options auth_options() {
  Options o = default_options();
  o.auth_enabled = true;
  o.tls_active = true;  // implicit TLS: AUTH allowed
  return o;
}

const std::string kEhloAuth =
    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 26214400\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250 DSN\r\n";
const std::string kStart = std::string(kGreeting) + kEhloAuth;

std::string plain(std::string_view authz, std::string_view user, std::string_view pass) {
  std::string m(authz);
  m.push_back('\0');
  m += user;
  m.push_back('\0');
  m += pass;
  return encode_base64(m);
}

TEST(Auth, PlainWithInitialResponse) {
  auto r = expect_transcript(auth_options(), Limits{}, {"EHLO c\r\n", "AUTH PLAIN " + plain("", "alice", "pw") + "\r\n"},
                             kStart + "[AUTH PLAIN /alice/pw]\n235 2.7.0 Authentication successful\r\n");
  EXPECT_EQ(r.final_state, SessionState::Ready);
}

TEST(Auth, PlainWithContinuationAndAuthzid) {
  expect_transcript(auth_options(), Limits{}, {"EHLO c\r\nAUTH plain\r\n", plain("boss", "alice", "p w") + "\r\n"},
                    kStart + "334 \r\n[AUTH PLAIN boss/alice/p w]\n235 2.7.0 Authentication successful\r\n");
}

TEST(Auth, Login) {
  expect_transcript(auth_options(), Limits{},
                    {"EHLO c\r\nAUTH LOGIN\r\n", encode_base64("alice") + "\r\n", encode_base64("secret") + "\r\n"},
                    kStart + "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n[AUTH LOGIN /alice/secret]\n"
                             "235 2.7.0 Authentication successful\r\n");
  expect_transcript(auth_options(), Limits{},
                    {"EHLO c\r\nAUTH LOGIN " + encode_base64("alice") + "\r\n", encode_base64("secret") + "\r\n"},
                    kStart + "334 UGFzc3dvcmQ6\r\n[AUTH LOGIN /alice/secret]\n"
                             "235 2.7.0 Authentication successful\r\n");
}

TEST(Auth, EmptyInitialResponseAndCancel) {
  expect_transcript(auth_options(), Limits{}, {"EHLO c\r\nAUTH PLAIN =\r\nAUTH PLAIN\r\n*\r\nAUTH LOGIN\r\n*\r\nNOOP\r\n"},
                    kStart + "501 5.5.2 Error: malformed authentication response\r\n"
                             "334 \r\n501 5.7.0 Error: authentication aborted\r\n"
                             "334 VXNlcm5hbWU6\r\n501 5.7.0 Error: authentication aborted\r\n"
                             "250 2.0.0 Ok\r\n");
}

TEST(Auth, BadBase64) {
  expect_transcript(auth_options(), Limits{},
                    {"EHLO c\r\nAUTH PLAIN not-base64!\r\nAUTH PLAIN\r\n%%%%\r\nAUTH LOGIN\r\nYWxpY2U\r\nNOOP\r\n"},
                    kStart + "501 5.5.2 Error: invalid base64 data\r\n"
                             "334 \r\n501 5.5.2 Error: invalid base64 data\r\n"
                             "334 VXNlcm5hbWU6\r\n501 5.5.2 Error: invalid base64 data\r\n"
                             "250 2.0.0 Ok\r\n");
}

TEST(Auth, FailureAndAttemptLimit) {
  Responder no;
  no.auth_ok = false;
  Limits l;
  l.max_auth_attempts = 2;
  const std::string a = "AUTH PLAIN " + plain("", "u", "bad") + "\r\n";
  expect_transcript(auth_options(), l, {"EHLO c\r\n" + a + a + "NOOP\r\n"},
                    kStart + "[AUTH PLAIN /u/bad]\n535 5.7.8 Error: authentication failed\r\n"
                             "[AUTH PLAIN /u/bad]\n535 5.7.8 Error: authentication failed\r\n"
                             "421 4.7.0 mx.test Error: too many failed authentications\r\n[CLOSE]\n",
                    no);
}

TEST(Auth, TemporaryFailureIsNotCountedAsAFailure) {
  // Throttled or the verification queue full: 454 (RFC 4954 6), the client may retry,
  // and the session does not close even with max_auth_attempts = 1.
  Responder busy;
  busy.auth_temp_fail = true;
  Limits l;
  l.max_auth_attempts = 1;
  const std::string a = "AUTH PLAIN " + plain("", "u", "pw") + "\r\n";
  expect_transcript(auth_options(), l, {"EHLO c\r\n" + a + a + "NOOP\r\n"},
                    kStart + "[AUTH PLAIN /u/pw]\n454 4.7.0 Temporary authentication failure\r\n"
                             "[AUTH PLAIN /u/pw]\n454 4.7.0 Temporary authentication failure\r\n"
                             "250 2.0.0 Ok\r\n",
                    busy);
}

TEST(Auth, WhenNotAllowed) {
  // MX: not enabled at all.
  expect_transcript({"EHLO c\r\nAUTH PLAIN\r\n"},
                    std::string(kGreeting) + kEhloPlain + "503 5.5.1 Error: authentication not enabled\r\n");
  // Enabled, but no TLS yet.
  Options o = default_options();
  o.auth_enabled = true;
  o.tls_available = true;
  auto r = check_all_splits(o, Limits{}, {"EHLO c\r\nAUTH PLAIN\r\n"});
  EXPECT_NE(r.out.find("538 5.7.11 Encryption required for requested authentication mechanism\r\n"),
            std::string::npos);
  // Before EHLO, after HELO, twice, inside a transaction, unknown mechanism.
  expect_transcript(auth_options(), Limits{},
                    {"AUTH PLAIN\r\nHELO c\r\nAUTH PLAIN\r\nEHLO c\r\nMAIL FROM:<a@b.c>\r\nAUTH PLAIN\r\nRSET\r\n"
                     "AUTH CRAM-MD5\r\nAUTH\r\nAUTH PLAIN " + plain("", "u", "p") + "\r\nAUTH PLAIN\r\n"},
                    std::string(kGreeting) +
                        "503 5.5.1 Error: send HELO/EHLO first\r\n250 mx.test\r\n"
                        "503 5.5.1 Error: send EHLO first\r\n" + kEhloAuth +
                        "250 2.1.0 Ok\r\n503 5.5.1 Error: MAIL transaction in progress\r\n250 2.0.0 Ok\r\n"
                        "504 5.5.4 Error: unsupported authentication mechanism\r\n"
                        "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"
                        "[AUTH PLAIN /u/p]\n235 2.7.0 Authentication successful\r\n"
                        "503 5.5.1 Error: already authenticated\r\n");
}

TEST(Auth, LongAuthLineAllowed) {
  // RFC 4954 4: AUTH lines may exceed 1000 octets (12288 here).
  const std::string big = plain("", "user", std::string(200, 'p'));
  Limits l;
  l.max_command_line = 512;
  auto r = check_all_splits(auth_options(), l, {"EHLO c\r\nAUTH PLAIN " + std::string(600, 'A') + "\r\n"});
  EXPECT_NE(r.out.find("501 5.5.2 Error: malformed authentication response\r\n"), std::string::npos) << r.out;
  r = check_all_splits(auth_options(), Limits{}, {"EHLO c\r\nAUTH PLAIN\r\n" + std::string(13000, 'A') + "\r\nNOOP\r\n"});
  EXPECT_NE(r.out.find("334 \r\n500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n"), std::string::npos) << r.out;
}

TEST(Auth, ControlCharactersInUserNamesAreRefused) {
  expect_transcript(auth_options(), Limits{},
                    {"EHLO c\r\nAUTH LOGIN " + encode_base64("a\r\n250 ok") + "\r\n", encode_base64("pw") + "\r\n",
                     "AUTH PLAIN " + plain("", "x\ny", "pw") + "\r\n"},
                    kStart + "334 UGFzc3dvcmQ6\r\n501 5.5.2 Error: malformed authentication response\r\n"
                             "501 5.5.2 Error: malformed authentication response\r\n");
}

TEST(Auth, IdentityFromServer) {
  Driver d(auth_options(), Limits{});
  d.feed("EHLO c\r\nAUTH PLAIN " + plain("", "Alice", "pw") + "\r\n");
  // The harness answered ok with the AUTH user name.
  EXPECT_EQ(d.session().auth_user(), "Alice");
}

}  // namespace
