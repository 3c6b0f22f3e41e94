// The IMAP value types: sequence sets, modified UTF-7, dates (imap/sequence_set.hpp,
// imap/mutf7.hpp, imap/datetime.hpp), and the client's use of the shared pieces.
#include <gtest/gtest.h>

#include "imap/client.hpp"
#include "imap/datetime.hpp"
#include "imap/mutf7.hpp"
#include "imap/reader.hpp"
#include "imap/sequence_set.hpp"
#include "imap/strings.hpp"

namespace refmail::imap {
namespace {

TEST(ImapSequenceSet, ParseAndFormat) {
  auto s = parse_sequence_set("1:4,7,9:*,*:3,10:2", 100);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->ranges.size(), 5u);
  EXPECT_EQ(s->ranges[0], (SeqRange{1, 4}));
  EXPECT_EQ(s->ranges[1], (SeqRange{7, 7}));
  EXPECT_EQ(s->ranges[2], (SeqRange{9, SeqRange::kStar}));
  EXPECT_EQ(s->ranges[3], (SeqRange{SeqRange::kStar, 3}));
  EXPECT_EQ(s->ranges[4], (SeqRange{2, 10}));
  EXPECT_EQ(format_sequence_set(*s), "1:4,7,9:*,*:3,2:10");
  EXPECT_EQ(format_sequence_set(*parse_sequence_set("*", 1)), "*");
  EXPECT_TRUE(parse_sequence_set("$", 1)->saved);
  EXPECT_EQ(format_sequence_set(*parse_sequence_set("$", 1)), "$");
}

TEST(ImapSequenceSet, Compact) {
  auto s = parse_sequence_set("1:4000000000", 1);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->ranges.size(), 1u);
  EXPECT_TRUE(s->contains(3999999999u, 5));
  EXPECT_FALSE(s->contains(4000000001u, 5));
  auto t = parse_sequence_set("5:*", 1);
  EXPECT_TRUE(t->contains(3, 3));  // "*" is 3: 5:* is 3:5
  EXPECT_FALSE(t->contains(6, 3));
}

TEST(ImapSequenceSet, Errors) {
  for (const char* bad : {"", "0", "0:5", "1:0", "4294967296", "1:4294967296", "99999999999999999999", "01",
                          "1,", ",1", "1::2", "1:", ":1", "a", "1 2", "$,1", "$$", "-1", "1:*:2"})
    EXPECT_FALSE(parse_sequence_set(bad, 100)) << bad;
  EXPECT_TRUE(parse_sequence_set("4294967295", 1));
  EXPECT_EQ(parse_sequence_set("1,2,3", 2).error(), errc::too_many_items);
  EXPECT_EQ(parse_sequence_set("0", 2).error(), errc::bad_sequence_set);
}

TEST(ImapMutf7, RoundTrip) {
  const std::pair<const char*, const char*> cases[] = {
      {"INBOX", "INBOX"},
      {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
      {"A&B", "A&-B"},
      {"&", "&-"},
      {"R\xc3\xa9sum\xc3\xa9", "R&AOk-sum&AOk-"},
      {"\xf0\x9f\x98\x80", "&2D3eAA-"},  // U+1F600: a surrogate pair
      {"", ""},
  };
  for (auto [utf8, wire] : cases) {
    EXPECT_EQ(mutf7_encode(utf8).value(), wire);
    EXPECT_EQ(mutf7_decode(wire).value(), utf8);
  }
}

TEST(ImapMutf7, StrictDecode) {
  for (const char* bad : {"&", "&U,BTFw", "&AGE-", "&AOkA-", "&2D3-", "&3gA-", "&2D3YPQ-", "&AOk-&AOk-", "&*-",
                          "a\x01", "\xc3\xa9", "&AAA-", "&AH8-", "&AOk=-", "&AOk/-"})
    EXPECT_FALSE(mutf7_decode(bad)) << bad;
  EXPECT_TRUE(mutf7_decode("&AOk-x&AOk-"));  // shifts separated by ASCII are fine
  EXPECT_TRUE(mutf7_decode("&AOk-&-"));      // a shift then "&-"
  EXPECT_FALSE(mutf7_encode("\xc3"));        // invalid UTF-8
  EXPECT_FALSE(mutf7_encode("\xed\xa0\x80"));  // an encoded surrogate
}

TEST(ImapMutf7, ValidUtf8) {
  EXPECT_TRUE(valid_utf8("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  for (const char* bad : {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80", "\xc3", "\xf8\x88\x80\x80\x80"})
    EXPECT_FALSE(valid_utf8(bad)) << bad;
}

TEST(ImapMutf7, ClientMailboxArgumentUsesIt) {
  EXPECT_EQ(mailbox_arg("R\xc3\xa9sum\xc3\xa9").value(), "R&AOk-sum&AOk-");
  EXPECT_EQ(mailbox_arg("Sent Items").value(), "\"Sent Items\"");
}

TEST(ImapDate, ParseFormat) {
  EXPECT_EQ(parse_date("1-Feb-1994"), (Date{1994, 2, 1}));
  EXPECT_EQ(parse_date("29-feb-2024"), (Date{2024, 2, 29}));
  for (const char* bad : {"29-Feb-2023", "0-Jan-2000", "32-Jan-2000", "1-Jan-99", "1-Janu-2000", "1Jan-2000",
                          "001-Jan-2000", "1-Jan-2000 ", ""})
    EXPECT_FALSE(parse_date(bad)) << bad;
  EXPECT_EQ(format_date(Date{1994, 2, 1}), "1-Feb-1994");
  auto t = parse_date_time(" 7-Feb-1994 21:52:25 -0800");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->zone_minutes, -480);
  EXPECT_EQ(format_date_time(*t), " 7-Feb-1994 21:52:25 -0800");
  EXPECT_EQ(parse_date_time("17-Jul-1996 02:44:25 -0700")->to_unix(), 837596665);
  for (const char* bad : {"17-Jul-1996 24:00:00 +0000", "17-Jul-1996 02:60:00 +0000", "17-Jul-1996 02:44:25 +0060",
                          "17-Jul-1996 02:44:25", "17-Jul-1996 02:44:25 0700", "17-Jul-1996  02:44:25 +0000",
                          "31-Apr-1996 02:44:25 +0000"})
    EXPECT_FALSE(parse_date_time(bad)) << bad;
  // The client's INTERNALDATE parser is the same code, tolerant of padding.
  EXPECT_EQ(parse_internal_date("  1-Jan-1970 00:00:00 +0000"), 0);
}

TEST(ImapStrings, QuoteForCommands) {
  EXPECT_EQ(quote("INBOX").value(), "INBOX");
  EXPECT_EQ(quote("a b").value(), "\"a b\"");
  EXPECT_EQ(quote("nil").value(), "\"nil\"");
  EXPECT_EQ(quote("").value(), "\"\"");
  EXPECT_EQ(quote("x\"y\\").value(), "\"x\\\"y\\\\\"");
  EXPECT_FALSE(quote("a\r\nb"));
  EXPECT_FALSE(quote("\xc3\xa9"));
}

// What the writer produces, the server's reader reads back as the same bytes.
TEST(ImapStrings, QuotedOrLiteralRoundTripsThroughTheReader) {
  for (bool utf8 : {false, true}) {
    for (std::string v : {std::string("plain"), std::string("sp ace"), std::string("q\"b\\"), std::string(""),
                          std::string("cr\r\nlf"), std::string("R\xc3\xa9sum\xc3\xa9"), std::string("bad\xc3"),
                          std::string("{5}")}) {
      std::string w = quoted_or_literal(v, utf8);
      CommandReader r(CommandLimits{}, ReaderOptions{NonSyncLiterals::LiteralPlus, utf8});
      r.feed("a LOGIN " + w + " x\r\n");
      ReaderEvent e = r.next();
      if (e.kind == ReaderEvent::Kind::Continuation) e = r.next();
      ASSERT_EQ(e.kind, ReaderEvent::Kind::Command) << w;
      EXPECT_EQ(std::get<Login>(e.command->body).user, v) << w;
    }
  }
  EXPECT_EQ(quoted_or_literal("R\xc3\xa9", true), "\"R\xc3\xa9\"");
  EXPECT_EQ(quoted_or_literal("R\xc3\xa9", false), "{3}\r\nR\xc3\xa9");
}

}  // namespace
}  // namespace refmail::imap
