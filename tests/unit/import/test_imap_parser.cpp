// tests/unit/import/test_imap_parser.cpp — the sans-I/O IMAP client: a golden
// transcript fed whole and split at every byte, literals (normal, oversized, short),
// refusals, and the command builder's quoting.
#include <gtest/gtest.h>

#include "imap/client.hpp"

using namespace refmail::imap;

namespace {

std::vector<Response> parse_all(std::string_view in, Limits lim = {}, std::size_t chunk = 0) {
  Parser p(lim);
  std::vector<Response> out;
  auto drain = [&] {
    for (;;) {
      auto r = p.next();
      if (!r) {
        ADD_FAILURE() << "parse error: " << r.error().message();
        return false;
      }
      if (!*r) return true;
      out.push_back(std::move(**r));
    }
  };
  if (chunk == 0) {
    p.feed(in);
    drain();
  } else {
    for (std::size_t i = 0; i < in.size(); i += chunk) {
      p.feed(in.substr(i, chunk));
      if (!drain()) break;
    }
  }
  EXPECT_EQ(p.buffered(), 0u);
  return out;
}

const std::string kMsg1 = "From: a@x\r\nSubject: hi\r\n\r\nbody with ) and {3}\r\n";
const std::string kTranscript =
    "* OK [CAPABILITY IMAP4rev1 IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n"
    "A0001 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"
    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n"
    "* 3 EXISTS\r\n"
    "* 0 RECENT\r\n"
    "* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
    "* OK [UIDNEXT 8] Predicted next UID\r\n"
    "A0002 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n"
    "* 1 FETCH (UID 5 FLAGS (\\Seen $Forwarded) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
    "RFC822.SIZE " + std::to_string(kMsg1.size()) + " BODY[] {" + std::to_string(kMsg1.size()) + "}\r\n" + kMsg1 +
    ")\r\n"
    "* 2 FETCH (UID 7 FLAGS () INTERNALDATE \" 1-Jan-2024 00:00:00 +0000\" BODY[] {0}\r\n)\r\n"
    "* 3 FETCH (FLAGS (\\Seen))\r\n"
    "A0003 OK Fetch completed.\r\n"
    "* SEARCH 5 7 9\r\n"
    "A0004 OK Search completed.\r\n"
    "+ idling\r\n"
    "* 4 EXISTS\r\n"
    "A0005 NO [TRYCREATE] no such mailbox\r\n"
    "* BYE Logging out\r\n";

void check_transcript(const std::vector<Response>& r) {
  ASSERT_EQ(r.size(), 18u);
  EXPECT_EQ(r[0].kind, Response::Kind::Untagged);
  EXPECT_EQ(r[0].status, "OK");
  EXPECT_EQ(r[0].code, "CAPABILITY IMAP4rev1 IDLE LITERAL+ AUTH=PLAIN");
  EXPECT_EQ(r[0].text, "Dovecot ready.");
  EXPECT_EQ(r[1].kind, Response::Kind::Tagged);
  EXPECT_EQ(r[1].tag, "A0001");
  EXPECT_EQ(r[1].status, "OK");
  EXPECT_EQ(r[2].keyword, "FLAGS");
  EXPECT_EQ(r[2].atoms.size(), 6u);
  EXPECT_EQ(r[3].number, 3u);
  EXPECT_EQ(r[3].keyword, "EXISTS");
  EXPECT_EQ(r[5].code_number("UIDVALIDITY"), 1700000000u);
  EXPECT_EQ(r[6].code_number("UIDVALIDITY"), std::nullopt);
  EXPECT_EQ(r[6].code_number("UIDNEXT"), 8u);
  ASSERT_TRUE(r[8].fetch);
  const auto& f = *r[8].fetch;
  EXPECT_EQ(f.seq, 1u);
  EXPECT_EQ(f.uid, 5u);
  ASSERT_TRUE(f.flags);
  EXPECT_EQ(*f.flags, (std::vector<std::string>{"\\Seen", "$Forwarded"}));
  EXPECT_EQ(f.internal_date, "17-Jul-1996 02:44:25 -0700");
  EXPECT_EQ(f.rfc822_size, kMsg1.size());
  EXPECT_EQ(f.body, kMsg1);
  EXPECT_FALSE(f.body_too_large);
  ASSERT_TRUE(r[9].fetch);
  EXPECT_EQ(r[9].fetch->uid, 7u);
  EXPECT_EQ(r[9].fetch->body, "");
  EXPECT_TRUE(r[9].fetch->flags->empty());
  EXPECT_FALSE(r[10].fetch->uid);
  EXPECT_FALSE(r[10].fetch->body);
  EXPECT_EQ(r[11].tag, "A0003");
  EXPECT_EQ(r[12].numbers, (std::vector<std::uint32_t>{5, 7, 9}));
  EXPECT_EQ(r[14].kind, Response::Kind::Continuation);
  EXPECT_EQ(r[14].text, "idling");
  EXPECT_EQ(r[15].number, 4u);
  EXPECT_EQ(r[16].status, "NO");
  EXPECT_EQ(r[16].code, "TRYCREATE");
  EXPECT_EQ(r[17].status, "BYE");
}

}  // namespace

TEST(ImapParser, GoldenTranscriptWhole) { check_transcript(parse_all(kTranscript)); }

TEST(ImapParser, GoldenTranscriptEveryChunkSize) {
  for (std::size_t chunk : {1, 2, 3, 5, 7, 13, 64}) {
    SCOPED_TRACE(chunk);
    check_transcript(parse_all(kTranscript, {}, chunk));
  }
}

TEST(ImapParser, SplitAtEveryPosition) {
  for (std::size_t cut = 1; cut < kTranscript.size(); ++cut) {
    Parser p;
    std::vector<Response> out;
    for (auto part : {std::string_view(kTranscript).substr(0, cut), std::string_view(kTranscript).substr(cut)}) {
      p.feed(part);
      for (;;) {
        auto r = p.next();
        ASSERT_TRUE(r) << cut;
        if (!*r) break;
        out.push_back(std::move(**r));
      }
    }
    ASSERT_EQ(out.size(), 18u) << cut;
    ASSERT_EQ(out[8].fetch->body, kMsg1) << cut;
  }
}

TEST(ImapParser, OversizedLiteralIsSkippedNotBuffered) {
  std::string big(5000, 'x');
  std::string in = "* 1 FETCH (UID 9 BODY[] {5000}\r\n" + big + " FLAGS (\\Seen))\r\nA1 OK done\r\n";
  Limits lim;
  lim.max_literal_bytes = 1000;
  for (std::size_t chunk : {0, 1, 100}) {
    Parser p(lim);
    std::vector<Response> out;
    std::size_t max_buffered = 0;
    std::string_view v(in);
    std::size_t step = chunk == 0 ? v.size() : chunk;
    for (std::size_t i = 0; i < v.size(); i += step) {
      p.feed(v.substr(i, step));
      max_buffered = std::max(max_buffered, p.buffered());
      for (;;) {
        auto r = p.next();
        ASSERT_TRUE(r);
        if (!*r) break;
        out.push_back(std::move(**r));
      }
    }
    ASSERT_EQ(out.size(), 2u);
    ASSERT_TRUE(out[0].fetch);
    EXPECT_TRUE(out[0].fetch->body_too_large);
    EXPECT_EQ(out[0].fetch->body_size, 5000u);
    EXPECT_FALSE(out[0].fetch->body);
    EXPECT_EQ(out[0].fetch->uid, 9u);
    ASSERT_TRUE(out[0].fetch->flags);
    if (chunk != 0) {
      EXPECT_LT(max_buffered, 200u);
    }
  }
}

TEST(ImapParser, LiteralLongerThanAnnouncedIsAnError) {
  // The server sends 12 bytes after announcing 10: the leftover breaks the syntax.
  Parser p;
  p.feed("* 1 FETCH (UID 1 BODY[] {10}\r\n0123456789AB)\r\n");
  auto r = p.next();
  EXPECT_FALSE(r);
  // Errors are sticky.
  p.feed("A1 OK x\r\n");
  EXPECT_FALSE(p.next());
}

TEST(ImapParser, ShortLiteralWaits) {
  Parser p;
  p.feed("* 1 FETCH (UID 1 BODY[] {10}\r\n01234");
  auto r = p.next();
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  p.feed("56789)\r\n");
  r = p.next();
  ASSERT_TRUE(r);
  ASSERT_TRUE(*r);
  EXPECT_EQ((*r)->fetch->body, "0123456789");
}

TEST(ImapParser, Refusals) {
  const char* bad[] = {
      "garbage\r\n",
      "* 1 FETCH UID 1\r\n",
      "* 1 FETCH (UID x)\r\n",
      "* 1 FETCH (UID)\r\n",
      "* 1 FETCH (UID 1 BODY[] {zz}\r\n)\r\n",
      "* 1 FETCH (FLAGS \\Seen)\r\n",
      "* 1 FETCH (INTERNALDATE \"unterminated)\r\n",
      "A1 MAYBE done\r\n",
      "* SEARCH 1 x\r\n",
      "* 1 FETCH (UID 1) trailing\r\n",
  };
  for (const char* b : bad) {
    Parser p;
    p.feed(std::string_view(b));
    auto r = p.next();
    EXPECT_FALSE(r) << b;
  }
}

TEST(ImapParser, LineLimit) {
  Limits lim;
  lim.max_line_bytes = 100;
  Parser p(lim);
  p.feed(std::string(101, 'a'));
  EXPECT_FALSE(p.next());
  Parser q(lim);
  q.feed("* OK " + std::string(80, 'a') + "\r\n");
  auto r = q.next();
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r);
}

// Found by fuzz_imap_client: a response chaining small literals, each under the literal
// limit and each text segment under the line limit, used to grow without bound.
TEST(ImapParser, ChainedLiteralsAreBoundedPerResponse) {
  Limits lim;
  lim.max_line_bytes = 100;
  lim.max_literal_bytes = 50;
  Parser p(lim);
  p.feed("* 1 FETCH (UID 1 X ");
  bool failed = false;
  for (int i = 0; i < 1000 && !failed; ++i) {
    p.feed("{9}\r\n123456789 ");
    EXPECT_LE(p.buffered(), lim.max_line_bytes + lim.max_literal_bytes + 16);
    auto r = p.next();
    if (!r) failed = true;
    else EXPECT_FALSE(*r);
  }
  EXPECT_TRUE(failed);
  // A response that fits keeps its literals.
  Parser q(lim);
  q.feed("* 1 FETCH (UID 1 BODY[] {9}\r\n123456789)\r\n");
  auto r = q.next();
  ASSERT_TRUE(r);
  ASSERT_TRUE(*r);
  EXPECT_EQ((*r)->fetch->body, "123456789");
}

TEST(ImapParser, DeeplyNestedListRefused) {
  Parser p;
  p.feed("* 1 FETCH (X " + std::string(100, '(') + std::string(100, ')') + ")\r\n");
  EXPECT_FALSE(p.next());
}

TEST(ImapCommands, TagsAndQuoting) {
  Commands c;
  auto l = c.login("alice", "pa ss\"w\\");
  ASSERT_TRUE(l);
  EXPECT_EQ(*l, "A0001 LOGIN alice \"pa ss\\\"w\\\\\"\r\n");
  EXPECT_EQ(c.last_tag(), "A0001");
  EXPECT_FALSE(c.login("bob", "x\r\nA2 DELETE INBOX"));
  auto s = c.select("INBOX");
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, "A0002 SELECT INBOX\r\n");
  EXPECT_EQ(c.uid_fetch_messages({9, 1, 2, 3, 7, 3}),
            "A0003 UID FETCH 1:3,7,9 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])\r\n");
  auto a = c.authenticate_plain("", "tim", "tanstaaftanstaaf");
  ASSERT_TRUE(a);
  // RFC 4616 example: "\0tim\0tanstaaftanstaaf".
  EXPECT_EQ(*a, "A0004 AUTHENTICATE PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
  EXPECT_EQ(Commands::done(), "DONE\r\n");
}

TEST(ImapCommands, MailboxNamesInModifiedUtf7) {
  // RFC 3501 5.1.3 example: "~peter/mail/台北/日本語".
  auto m = mailbox_arg("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  EXPECT_EQ(*mailbox_arg("A&B"), "A&-B");
  EXPECT_EQ(*mailbox_arg("Sent Items"), "\"Sent Items\"");
  EXPECT_FALSE(mailbox_arg("bad\xff"));
}

TEST(ImapHelpers, InternalDate) {
  EXPECT_EQ(parse_internal_date("17-Jul-1996 02:44:25 -0700"), 837596665);
  EXPECT_EQ(parse_internal_date(" 1-Jan-1970 00:00:00 +0000"), 0);
  EXPECT_EQ(parse_internal_date("01-Jan-1970 01:00:00 +0100"), 0);
  EXPECT_FALSE(parse_internal_date("17-Foo-1996 02:44:25 -0700"));
  EXPECT_FALSE(parse_internal_date("17-Jul-1996 02:44:25"));
  EXPECT_FALSE(parse_internal_date(""));
}

TEST(ImapHelpers, FlagsToKeywords) {
  EXPECT_EQ(flags_to_keywords({"\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Recent", "\\Deleted", "$Forwarded",
                               "Junk", "\\SEEN"}),
            (std::vector<std::string>{"$seen", "$answered", "$flagged", "$draft", "$forwarded", "junk"}));
}

TEST(ImapHelpers, UidSet) {
  EXPECT_EQ(uid_set({1}), "1");
  EXPECT_EQ(uid_set({4, 3, 2, 10, 11, 20}), "2:4,10:11,20");
}
