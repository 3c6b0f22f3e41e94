// Sendmail input (dots, CRLF, -t, Bcc, added headers) and notification composition.
#include <gtest/gtest.h>

#include <sstream>

#include "smtp/sasl.hpp"
#include "tools/sendmail/message.hpp"

namespace refmail::sendmail {
namespace {

std::string read(std::string in, bool ignore_dots) {
  std::istringstream s(in);
  auto r = read_sendmail_input(s, ignore_dots);
  EXPECT_TRUE(r);
  return r ? *r : "";
}

TEST(Input, LoneDotEndsUnlessIgnored) {
  EXPECT_EQ(read("a\n.\nb\n", false), "a\r\n");
  EXPECT_EQ(read("a\r\n.\r\nb\r\n", false), "a\r\n");
  EXPECT_EQ(read("a\n.\nb\n", true), "a\r\n.\r\nb\r\n");
  // Only a line that is exactly "." ends it; no un-stuffing of "..".
  EXPECT_EQ(read("..\n.x\n x\n", false), "..\r\n.x\r\n x\r\n");
  EXPECT_EQ(read("no final newline", false), "no final newline\r\n");
  EXPECT_EQ(read("", false), "");
}

HeaderDefaults defaults() { return HeaderDefaults{"cron@example.org", "Cron Daemon", 0, "id1@example.org"}; }

TEST(Prepare, ExtractsRecipientsAndRemovesBcc) {
  std::string m =
      "To: a@example.org,\r\n \"B b\" <b@example.org>\r\nCc: c@example.org\r\n"
      "Bcc: hidden@example.org,\r\n\tother@example.org\r\nSubject: s\r\nFrom: x@example.org\r\n"
      "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <m@x>\r\n\r\nbody\r\nBcc: not a header\r\n";
  auto p = prepare_sendmail_message(m, true, {"a@example.org", "extra@example.org"}, defaults());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->rcpts, (std::vector<std::string>{"a@example.org", "extra@example.org", "b@example.org",
                                                "c@example.org", "hidden@example.org", "other@example.org"}));
  EXPECT_EQ(p->bytes.find("hidden"), std::string::npos);
  EXPECT_EQ(p->bytes.find("other@"), std::string::npos);
  EXPECT_NE(p->bytes.find("\r\n\r\nbody\r\nBcc: not a header\r\n"), std::string::npos);  // body untouched
  EXPECT_EQ(p->bytes.find("Cron"), std::string::npos);  // From present: nothing added
  EXPECT_EQ(p->bytes.find("id1@"), std::string::npos);
}

TEST(Prepare, WithoutDashTBccIsStillRemovedAndNotARecipient) {
  auto p = prepare_sendmail_message("To: a@example.org\r\nBcc: h@example.org\r\n\r\nx\r\n", false,
                                    {"z@example.org"}, defaults());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->rcpts, std::vector<std::string>{"z@example.org"});
  EXPECT_EQ(p->bytes.find("h@example.org"), std::string::npos);
}

TEST(Prepare, AddsMissingFromDateMessageId) {
  auto p = prepare_sendmail_message("Subject: hi\r\n\r\nbody\r\n", false, {"a@example.org"}, defaults());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->bytes,
            "Subject: hi\r\nFrom: Cron Daemon <cron@example.org>\r\nDate: Thu, 1 Jan 1970 00:00:00 +0000\r\n"
            "Message-ID: <id1@example.org>\r\n\r\nbody\r\n");
}

TEST(Prepare, NonAsciiFullNameIsEncoded) {
  HeaderDefaults d = defaults();
  d.full_name = "Sauvegarde été";
  d.message_id.clear();
  auto p = prepare_sendmail_message("Subject: x\r\nDate: x\r\n\r\n", false, {"a@example.org"}, d);
  ASSERT_TRUE(p);
  EXPECT_NE(p->bytes.find("From: =?UTF-8?"), std::string::npos) << p->bytes;
  for (unsigned char c : p->bytes) EXPECT_LT(c, 0x80);
  EXPECT_EQ(p->bytes.find("Message-ID"), std::string::npos);
}

TEST(Prepare, NoHeaderBlock) {
  // Without -t: the text becomes the body of a message with generated headers.
  auto p = prepare_sendmail_message("just text\r\nmore\r\n", false, {"a@example.org"}, defaults());
  ASSERT_TRUE(p);
  EXPECT_NE(p->bytes.find("\r\n\r\njust text\r\nmore\r\n"), std::string::npos) << p->bytes;
  EXPECT_TRUE(p->bytes.starts_with("From: "));
  // With -t there is nothing to read recipients from.
  auto t = prepare_sendmail_message("just text\r\n", true, {}, defaults());
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().exit_code, EX_DATAERR);
  auto e = prepare_sendmail_message("", true, {}, defaults());
  ASSERT_FALSE(e);
}

TEST(Prepare, MboxFromLineDropped) {
  auto p = prepare_sendmail_message("From cron Mon Jan  1 00:00:00 2024\r\nTo: a@example.org\r\n\r\nx\r\n", true,
                                    {}, defaults());
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->bytes.starts_with("To: a@example.org\r\n"));
}

TEST(Prepare, BadRecipients) {
  for (std::vector<std::string> bad :
       std::vector<std::vector<std::string>>{{"bob"}, {"a@example.org", "bob"}, {"<>"}, {"a@"}, {"a@b.org, c"}}) {
    auto p = prepare_sendmail_message("Subject: x\r\n\r\n", false, bad, defaults());
    ASSERT_FALSE(p) << ::testing::PrintToString(bad);
    EXPECT_EQ(p.error().exit_code, EX_DATAERR);
  }
  auto none = prepare_sendmail_message("Subject: x\r\n\r\n", true, {}, defaults());
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, "no recipients");
  auto no_from = prepare_sendmail_message("Subject: x\r\n\r\n", false, {"a@b.org"}, HeaderDefaults{});
  ASSERT_FALSE(no_from);
}

TEST(Recipients, ListsDisplayNamesAndDuplicates) {
  auto r = parse_recipients({"a@x.org, B <b@x.org>", "A@X.org", "\"q d\"@x.org"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, (std::vector<std::string>{"a@x.org", "b@x.org", "\"q d\"@x.org"}));
  EXPECT_FALSE(parse_recipients({"nobody"}));
  EXPECT_TRUE(check_address("ü@exämple.org", "recipient"));  // SMTPUTF8 is the server's call
  EXPECT_FALSE(check_address("a@b.org>x", "recipient"));
}

std::string decode_base64_lines(std::string_view b64) {
  std::string compact;
  for (char c : b64)
    if (c != '\r' && c != '\n') compact += c;
  auto d = smtp::decode_base64(compact);
  return d ? *d : "<bad base64>";
}

TEST(Notification, ComposedWithEncodedSubjectAndFileName) {
  Notification n;
  n.from = "alerts@example.org";
  n.to = {{"Ops Team", "ops@example.org"}};
  n.bcc = {{"", "audit@example.org"}};
  n.subject = "Sauvegarde réussie ✓";
  n.text_body = "Tout va bien.\n";
  std::string payload(5000, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7);
  n.attachments.push_back({"rapport-été.pdf", guess_media_type("rapport-été.pdf"), payload});
  n.now = 1700000000;
  n.random = 42;
  auto m = build_notification(n);
  ASSERT_TRUE(m) << m.error().message;
  for (unsigned char c : *m) ASSERT_LT(c, 0x80) << "message must be 7-bit";
  EXPECT_NE(m->find("Subject: =?UTF-8?"), std::string::npos);
  EXPECT_NE(m->find("filename*=utf-8''rapport-%C3%A9t%C3%A9.pdf"), std::string::npos) << *m;
  EXPECT_NE(m->find("Content-Type: application/pdf"), std::string::npos);
  EXPECT_EQ(m->find("audit@"), std::string::npos);  // Bcc never written
  EXPECT_NE(m->find("Date: Tue, 14 Nov 2023"), std::string::npos);
  EXPECT_NE(m->find("To: Ops Team <ops@example.org>\r\n"), std::string::npos);
  EXPECT_NE(m->find("Message-ID: <"), std::string::npos);
  // The attachment's base64 decodes to the file's bytes.
  const auto start = m->find("\r\n\r\n", m->find("rapport")) + 4;
  const auto end = m->find("\r\n--", start);
  EXPECT_EQ(decode_base64_lines(std::string_view(*m).substr(start, end - start)), payload);
}

TEST(Notification, HtmlOnlyAndTypes) {
  Notification n;
  n.from = "a@example.org";
  n.to = {{"", "b@example.org"}};
  n.subject = "s";
  n.html_body = "<p>hi</p>";
  auto m = build_notification(n);
  ASSERT_TRUE(m);
  EXPECT_NE(m->find("text/html"), std::string::npos);
  EXPECT_EQ(guess_media_type("x.CSV"), "text/csv");
  EXPECT_EQ(guess_media_type("noext"), "application/octet-stream");
  EXPECT_EQ(guess_media_type("a.weird"), "application/octet-stream");
}

TEST(Notification, MissingFile) {
  auto r = read_file("/nonexistent/file.bin", "attachment");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit_code, EX_NOINPUT);
  EXPECT_NE(r.error().message.find("/nonexistent/file.bin"), std::string::npos);
}

TEST(MessageId, RandomAndDomain) {
  auto a = make_message_id("example.org"), b = make_message_id("example.org");
  EXPECT_NE(a, b);
  EXPECT_TRUE(a.ends_with("@example.org"));
  EXPECT_EQ(a.size(), 32u + 12u);
}

}  // namespace
}  // namespace refmail::sendmail
