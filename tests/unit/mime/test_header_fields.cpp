// tests/unit/mime/test_header_fields.cpp — RFC 5322 date-time parsing/formatting,
// msg-id lists and named fields of a raw header block (mime/headers.hpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mime/headers.hpp"

namespace refmail::mime {
namespace {

TEST(Date, Parses) {
  struct Case {
    const char* in;
    std::int64_t want;
  };
  const Case cases[] = {
      {"Fri, 21 Nov 1997 09:55:06 -0600", 880127706},     // RFC 5322 A.1.1
      {"Tue, 1 Jul 2003 10:52:37 +0200", 1057049557},     // RFC 5322 A.1.2
      {"Thu,\r\n 13\r\n   Feb\r\n  1969\r\n 23:32\r\n  -0330 (Newfoundland Time)", -27723480},
      {"21 Nov 97 09:55:06 GMT", 880106106},              // A.5 obsolete year + zone
      {"Sat, 01 Jan 2000 00:00:00 +0000", 946684800},
      {"1 Jan 2000 00:00 EST", 946702800},
      {"Mon, 2 Jan 2006 15:04:05 +0100 (CET)", 1136210645},
      {"mon, 2 JAN 2006 15:04:05 z", 1136214245},
      {"Thu, 01 Jan 1970 00:00:00 +0000", 0},
      {"Wed, 29 Feb 2012 12:00:00 +0000", 1330516800},
      {"Jan 2 2006 15:04:05 +0000", 1136214245},          // month first (seen in the wild)
      {"2 Jan 2006 15:04:05", 1136214245},                // no zone: UTC
  };
  for (const auto& c : cases) {
    auto d = parse_rfc5322_date(c.in);
    ASSERT_TRUE(d.has_value()) << c.in;
    EXPECT_EQ(*d, c.want) << c.in;
  }
  const char* bad[] = {"", "yesterday", "32 Jan 2006 10:00:00 +0000",
                       "29 Feb 2011 10:00:00 +0000", "1 Jan 2006 25:00:00 +0000",
                       "1 Jan 2006", "1 Foo 2006 10:00:00 +0000", "1 Jan 2006 10:61 +0000"};
  for (const char* b : bad) EXPECT_FALSE(parse_rfc5322_date(b).has_value()) << b;
}

TEST(Date, FormatsAndRoundTrips) {
  EXPECT_EQ(format_rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(format_rfc5322_date(880127706), "Fri, 21 Nov 1997 15:55:06 +0000");
  EXPECT_EQ(format_rfc5322_date(-27723480), "Fri, 14 Feb 1969 03:02:00 +0000");
  for (std::int64_t t : {0LL, 1LL, 951782400LL, 1700000000LL, 4102444799LL, -86400LL})
    EXPECT_EQ(parse_rfc5322_date(format_rfc5322_date(t)), t);
}

TEST(MessageIds, Parses) {
  using V = std::vector<std::string>;
  EXPECT_EQ(parse_message_ids("<1234@local.machine.example>"), V{"1234@local.machine.example"});
  EXPECT_EQ(parse_message_ids("<1234@local.machine.example>\r\n <3456@example.net>"),
            (V{"1234@local.machine.example", "3456@example.net"}));
  EXPECT_EQ(parse_message_ids(" <a@b> (comment <not@id>) \"quoted <no@id>\" <c@d>"),
            (V{"a@b", "c@d"}));
  EXPECT_EQ(parse_message_ids("<a @ b>"), V{"a@b"});
  EXPECT_EQ(parse_message_ids("bare@id.example other"), V{"bare@id.example"});
  EXPECT_EQ(parse_message_ids(""), V{});
  EXPECT_EQ(parse_message_ids("<unterminated@x"), V{});
  std::string many;
  for (int i = 0; i < 3000; ++i) many += "<" + std::to_string(i) + "@x> ";
  EXPECT_EQ(parse_message_ids(many).size(), kMaxMessageIds);
}

TEST(HeaderFieldBodies, PicksNamedTopLevelFieldsInOrder) {
  const std::string msg =
      "Received: from x\r\n"
      "FROM: Alice <alice@example.test>,\r\n"
      "\tbob@example.test\r\n"
      "To: carol@example.test\r\n"
      "Sender : dave@example.test\r\n"
      "X-From: not@this.one\r\n"
      "\r\n"
      "From: body@example.test\r\n";
  auto got = header_field_bodies(msg, {"from", "sender"});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], " Alice <alice@example.test>,\tbob@example.test");
  EXPECT_EQ(got[1], " dave@example.test");
  EXPECT_EQ(header_field_bodies(msg, {"to"}), std::vector<std::string>{" carol@example.test"});
  // LF-only line endings; no blank line; nothing wanted.
  EXPECT_EQ(header_field_bodies("From: a@b.c\nTo: d@e.f\n", {"from"}), std::vector<std::string>{" a@b.c"});
  EXPECT_TRUE(header_field_bodies("Subject: x\r\n\r\n", {"from"}).empty());
  EXPECT_TRUE(header_field_bodies("", {"from"}).empty());
  // A field without its line ending (a cut message) is not read.
  EXPECT_TRUE(header_field_bodies("From: a@b.c", {"from"}).empty());
}

TEST(HeaderFieldBodies, Bounded) {
  std::string big = "From: a@b.c\r\n";
  for (int i = 0; i < 5000; ++i) big += "\t" + std::string(40, 'x') + "\r\n";
  auto got = header_field_bodies(big, {"from"});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_LE(got[0].size(), kMaxFieldBodyBytes + 64);
  // Past the scan limit nothing more is looked at.
  std::string late = std::string("X: ") + std::string(1000, 'y') + "\r\nFrom: late@b.c\r\n";
  EXPECT_TRUE(header_field_bodies(late, {"from"}, 500).empty());
  EXPECT_EQ(header_field_bodies(late, {"from"}).size(), 1u);
}

TEST(TruncateUtf8, NeverSplitsASequence) {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC";
  EXPECT_EQ(truncate_utf8(s, 100), s);
  EXPECT_EQ(truncate_utf8(s, 2), "a");
  EXPECT_EQ(truncate_utf8(s, 3), "a\xC3\xA9");
  EXPECT_EQ(truncate_utf8(s, 5), "a\xC3\xA9");
  EXPECT_EQ(truncate_utf8(s, 0), "");
}

}  // namespace
}  // namespace refmail::mime
