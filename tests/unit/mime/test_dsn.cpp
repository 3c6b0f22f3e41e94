// Tests for mime/dsn: RFC 3464 report structure, quoting of hostile replies, status codes.
#include "mime/dsn.hpp"

#include <gtest/gtest.h>

namespace refmail::mime {
namespace {

DsnInput sample() {
  DsnInput in;
  in.reporting_mta = "mx.example.test";
  in.to = "alice@example.test";
  in.original_envid = "ENV1";
  in.arrival_date = 1700000000;
  in.date = 1700000100;
  in.original_headers = "From: alice@example.test\r\nTo: bob@remote.test\r\nSubject: hi\r\n\r\n";
  in.original_subject = "hi";
  in.recipients.push_back({"bob@remote.test", "failed", "5.1.1", "mx.remote.test",
                           "550 5.1.1 <bob@remote.test>: no such user"});
  in.random_seed = 42;
  return in;
}

TEST(Dsn, FailureReportStructure) {
  auto m = compose_dsn(sample());
  EXPECT_NE(m.find("Content-Type: multipart/report; report-type=delivery-status;"), std::string::npos);
  EXPECT_NE(m.find("Content-Type: message/delivery-status"), std::string::npos);
  EXPECT_NE(m.find("Content-Type: text/rfc822-headers"), std::string::npos);
  EXPECT_NE(m.find("Reporting-MTA: dns; mx.example.test\r\n"), std::string::npos);
  EXPECT_NE(m.find("Original-Envelope-Id: ENV1\r\n"), std::string::npos);
  EXPECT_NE(m.find("Final-Recipient: rfc822; bob@remote.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"),
            std::string::npos);
  EXPECT_NE(m.find("Diagnostic-Code: smtp; 550 5.1.1 <bob@remote.test>: no such user\r\n"), std::string::npos);
  EXPECT_NE(m.find("    550 5.1.1 <bob@remote.test>: no such user\r\n"), std::string::npos);
  EXPECT_NE(m.find("Subject: Undelivered Mail Returned to Sender: hi\r\n"), std::string::npos);
  EXPECT_NE(m.find("To: bob@remote.test\r\nSubject: hi\r\n"), std::string::npos);
  EXPECT_NE(m.find("To: <alice@example.test>\r\n"), std::string::npos);
  // Only CRLF line ends.
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\n') ASSERT_TRUE(i > 0 && m[i - 1] == '\r') << "bare LF at " << i;
  }
  // Three parts plus the closing delimiter: the scanner sees the report's structure.
  auto b = m.find("boundary=\"");
  ASSERT_NE(b, std::string::npos);
  auto e = m.find('"', b + 10);
  std::string boundary = m.substr(b + 10, e - b - 10);
  std::size_t n = 0;
  for (auto p = m.find("\r\n--" + boundary + "\r\n"); p != std::string::npos;
       p = m.find("\r\n--" + boundary + "\r\n", p + 1))
    ++n;
  EXPECT_EQ(n, 3u);
  EXPECT_NE(m.find("\r\n--" + boundary + "--\r\n"), std::string::npos);
}

TEST(Dsn, HostileReplyCannotInjectFields) {
  auto in = sample();
  std::string reply = "550 bad\r\nAction: delivered\r\n\x01\xff";
  for (int i = 0; i < 10000; ++i) reply += "550-line\r\n";
  in.recipients[0].diagnostic = reply;
  in.original_subject = "x\r\nBcc: evil@x";
  auto m = compose_dsn(in);
  EXPECT_EQ(m.find("\r\nAction: delivered"), std::string::npos);
  EXPECT_EQ(m.find("\r\nBcc:"), std::string::npos);
  EXPECT_LT(m.size(), 8000u);
  EXPECT_NE(m.find("(reply truncated)"), std::string::npos);
}

TEST(Dsn, DelayWarning) {
  auto in = sample();
  in.recipients[0].action = "delayed";
  in.recipients[0].status = "4.4.1";
  auto m = compose_dsn(in);
  EXPECT_NE(m.find("Action: delayed\r\n"), std::string::npos);
  EXPECT_NE(m.find("Subject: Delayed Mail"), std::string::npos);
}

TEST(Dsn, StatusFromReply) {
  EXPECT_EQ(status_from_reply(550, "550 5.1.1 no such user"), "5.1.1");
  EXPECT_EQ(status_from_reply(550, "5.7.1 denied"), "5.7.1");
  EXPECT_EQ(status_from_reply(550, "550 no such user"), "5.0.0");
  EXPECT_EQ(status_from_reply(451, "451 try later"), "4.0.0");
  EXPECT_EQ(status_from_reply(0, "connection refused"), "4.0.0");
  EXPECT_EQ(status_from_reply(452, "452 4.2.2 mailbox full"), "4.2.2");
}

TEST(Dsn, HeaderSection) {
  EXPECT_EQ(header_section("A: 1\r\nB: 2\r\n\r\nbody\r\n"), "A: 1\r\nB: 2\r\n\r\n");
  EXPECT_EQ(header_section("A: 1\nB: 2\n\nbody\n"), "A: 1\nB: 2\n\n");
  EXPECT_EQ(header_section("A: 1\r\n"), "A: 1\r\n");
  EXPECT_EQ(header_section("A: 1\r\nB: 2\r\nC: 3\r\n\r\n", 12), "A: 1\r\nB: 2\r\n");
}

}  // namespace
}  // namespace refmail::mime
