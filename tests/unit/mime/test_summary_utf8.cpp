// tests/unit/mime/test_summary_utf8.cpp — every string of a summary is valid UTF-8, as
// JMAP emits it in JSON: raw latin1 bytes in addresses, Message-ID, In-Reply-To,
// References and Content-ID become U+FFFD (identifiers: no guessed transcoding);
// display names, Subject and attachment names are decoded as the header policy says
// (UTF-8 if valid, else windows-1252); raw UTF-8
// (RFC 6532) is kept; old stored summaries with raw bytes are repaired by parse().
#include <gtest/gtest.h>

#include <string>

#include "mime/address.hpp"
#include "mime/charset.hpp"
#include "mime/headers.hpp"
#include "mime/summary.hpp"

namespace refmail::mime {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

const std::string kLatin1Message =
    "From: J\xE9r\xF4me <j\xE9r@ex\xE4mple.org>\r\n"
    "To: M\xFCller <m\xFC@b.example>, plain@c.example\r\n"
    "Reply-To: <r\xE9@d.example>\r\n"
    "Subject: Caf\xE9\r\n"
    "Message-ID: <id\xE9@x>\r\n"
    "In-Reply-To: <p\xE9@x>\r\n"
    "References: <a\xE9@x> <b@x>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "\r\n"
    "d\xE9j\xE0 vu\r\n"
    "--b\r\n"
    "Content-Type: application/octet-stream; name=\"r\xE9sum\xE9.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"r\xE9sum\xE9.pdf\"\r\n"
    "Content-ID: <c\xE9@x>\r\n"
    "\r\n"
    "xyz\r\n"
    "--b--\r\n";

TEST(SummaryUtf8, RawLatin1HeaderBytesBecomeReplacementCharacters) {
  const Summary s = summarize(kLatin1Message, Skeleton{});
  ASSERT_EQ(s.from.size(), 1u);
  EXPECT_EQ(s.from[0].email, "j" + kFffd + "r@ex" + kFffd + "mple.org");
  // Phrases and unstructured text follow the header decoding policy (UTF-8 if valid,
  // else windows-1252, as mail readers do); identifiers get U+FFFD, not a guess.
  EXPECT_EQ(s.from[0].name, "J\xC3\xA9r\xC3\xB4me");
  ASSERT_EQ(s.to.size(), 2u);
  EXPECT_EQ(s.to[0].email, "m" + kFffd + "@b.example");
  EXPECT_EQ(s.to[0].name, "M\xC3\xBCller");
  EXPECT_EQ(s.to[1].email, "plain@c.example");
  ASSERT_EQ(s.reply_to.size(), 1u);
  EXPECT_EQ(s.reply_to[0].email, "r" + kFffd + "@d.example");
  EXPECT_EQ(s.subject, "Caf\xC3\xA9");
  EXPECT_EQ(s.message_id, std::vector<std::string>{"id" + kFffd + "@x"});
  EXPECT_EQ(s.in_reply_to, std::vector<std::string>{"p" + kFffd + "@x"});
  EXPECT_EQ(s.references, (std::vector<std::string>{"a" + kFffd + "@x", "b@x"}));
  ASSERT_EQ(s.attachments.size(), 1u);
  EXPECT_TRUE(is_valid_utf8(s.attachments[0].name));
  EXPECT_NE(s.attachments[0].name.find("sum"), std::string::npos);
  EXPECT_EQ(s.attachments[0].cid, "c" + kFffd + "@x");
  // The labelled body is decoded as its charset says, not replaced.
  ASSERT_EQ(s.text_body.size(), 1u);
  EXPECT_EQ(s.text_body[0].content.substr(0, 9), "d\xC3\xA9j\xC3\xA0 vu");
}

TEST(SummaryUtf8, RawUtf8HeaderBytesAreKept) {  // RFC 6532
  const std::string m =
      "From: J\xC3\xA9r\xC3\xB4me <j\xC3\xA9r@example.org>\r\n"
      "Message-ID: <\xC3\xA9t\xC3\xA9@x>\r\n"
      "Subject: Caf\xC3\xA9\r\n\r\nhi\r\n";
  const Summary s = summarize(m, Skeleton{});
  ASSERT_EQ(s.from.size(), 1u);
  EXPECT_EQ(s.from[0].email, "j\xC3\xA9r@example.org");
  EXPECT_EQ(s.from[0].name, "J\xC3\xA9r\xC3\xB4me");
  EXPECT_EQ(s.message_id, std::vector<std::string>{"\xC3\xA9t\xC3\xA9@x"});
  EXPECT_EQ(s.subject, "Caf\xC3\xA9");
}

TEST(SummaryUtf8, AddressAndIdParsersRepairTheirOutput) {
  const auto a = parse_address_list("x\xFF@y (n\xFE)");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(is_valid_utf8(a[0].email));
  EXPECT_TRUE(is_valid_utf8(a[0].name));
  for (const std::string& id : parse_message_ids("<a\xFF@b> <\xC0\xAF@c>")) EXPECT_TRUE(is_valid_utf8(id));
  for (const std::string& id : parse_message_ids("bare\xFF@id")) EXPECT_TRUE(is_valid_utf8(id));
}

TEST(SummaryUtf8, ParseRepairsOldStoredSummaries) {
  Summary old;
  old.from.push_back({"N\xE9", "a\xE9@b"});
  old.subject = "S\xE9";
  old.message_id = {"i\xE9@x"};
  PartSummary p;
  p.part_path = "2";
  p.type = "application/pdf";
  p.name = "r\xE9.pdf";
  old.attachments.push_back(p);
  auto back = Summary::parse(old.serialize());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->from[0].email, "a" + kFffd + "@b");
  EXPECT_EQ(back->from[0].name, "N" + kFffd);
  EXPECT_EQ(back->subject, "S" + kFffd);
  EXPECT_EQ(back->message_id[0], "i" + kFffd + "@x");
  EXPECT_EQ(back->attachments[0].name, "r" + kFffd + ".pdf");
}

// Hardening issue item 0 through the whole summary path (what SMTP ingest runs).
TEST(SummaryHardening, ContentTypeEndingInCommentBackslash) {
  for (const std::string value : {"(\\", "((a\\"}) {
    const std::string m = "Content-Type: " + value + "\r\n\r\nbody\r\n";
    Summary s;
    EXPECT_NO_THROW(s = summarize(m, Skeleton{}));
    ASSERT_EQ(s.text_body.size(), 1u);
    EXPECT_EQ(s.text_body[0].content, "body\n");
  }
}

TEST(SummaryUtf8, RepairUtf8) {
  std::string ok = "plain \xC3\xA9";
  repair_utf8(ok);
  EXPECT_EQ(ok, "plain \xC3\xA9");
  std::string bad = "a\xE9" "b\xC3";
  repair_utf8(bad);
  EXPECT_EQ(bad, "a" + kFffd + "b" + kFffd);
}

}  // namespace
}  // namespace refmail::mime
