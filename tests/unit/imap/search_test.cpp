// Server command parser: SEARCH / UID SEARCH (every key of RFC 9051 and RFC 3501,
// ESEARCH RETURN, SAVE and "$", MODSEQ, EMAILID/THREADID, OLDER/YOUNGER), SORT, THREAD.
#include "tests/unit/imap/harness.hpp"

namespace refmail::imap::test {
namespace {

using K = SearchKey::Kind;

SearchKey only(const Search& s) {
  EXPECT_EQ(s.key.kind, K::And);
  EXPECT_EQ(s.key.children.size(), 1u);
  return s.key.children.empty() ? SearchKey{} : s.key.children[0];
}

TEST(ImapSearch, EveryFlagKey) {
  const std::pair<const char*, K> keys[] = {
      {"ALL", K::All},         {"ANSWERED", K::Answered},     {"DELETED", K::Deleted},
      {"DRAFT", K::Draft},     {"FLAGGED", K::Flagged},       {"NEW", K::New},
      {"OLD", K::Old},         {"RECENT", K::Recent},         {"SEEN", K::Seen},
      {"UNANSWERED", K::Unanswered}, {"UNDELETED", K::Undeleted}, {"UNDRAFT", K::Undraft},
      {"UNFLAGGED", K::Unflagged},   {"UNSEEN", K::Unseen}};
  for (auto [name, kind] : keys) EXPECT_EQ(only(parse_ok<Search>(std::string("a SEARCH ") + name)).kind, kind) << name;
}

TEST(ImapSearch, StringKeys) {
  const std::pair<const char*, K> keys[] = {{"BCC", K::Bcc},   {"BODY", K::Body}, {"CC", K::Cc},
                                            {"FROM", K::From}, {"SUBJECT", K::Subject},
                                            {"TEXT", K::Text}, {"TO", K::To}};
  for (auto [name, kind] : keys) {
    auto k = only(parse_ok<Search>(std::string("a SEARCH ") + name + " \"hello world\""));
    EXPECT_EQ(k.kind, kind);
    EXPECT_EQ(k.text, "hello world");
  }
  auto h = only(parse_ok<Search>("a SEARCH HEADER Message-ID <x@y>"));
  EXPECT_EQ(h.kind, K::Header);
  EXPECT_EQ(h.field, "Message-ID");
  EXPECT_EQ(h.text, "<x@y>");
  auto kw = only(parse_ok<Search>("a SEARCH KEYWORD $Forwarded"));
  EXPECT_EQ(kw.kind, K::Keyword);
  EXPECT_EQ(kw.text, "$Forwarded");
  EXPECT_EQ(only(parse_ok<Search>("a SEARCH UNKEYWORD Junk")).kind, K::Unkeyword);
}

TEST(ImapSearch, DateAndSizeKeys) {
  const std::pair<const char*, K> keys[] = {{"BEFORE", K::Before},         {"ON", K::On},
                                            {"SINCE", K::Since},           {"SENTBEFORE", K::SentBefore},
                                            {"SENTON", K::SentOn},         {"SENTSINCE", K::SentSince}};
  for (auto [name, kind] : keys) {
    auto k = only(parse_ok<Search>(std::string("a SEARCH ") + name + " 1-Feb-1994"));
    EXPECT_EQ(k.kind, kind);
    EXPECT_EQ(k.date, (Date{1994, 2, 1}));
  }
  EXPECT_EQ(only(parse_ok<Search>("a SEARCH SINCE \"17-jul-2023\"")).date, (Date{2023, 7, 17}));
  parse_bad("a SEARCH SINCE 30-Feb-2023");
  parse_bad("a SEARCH SINCE 1-Foo-2023");
  parse_bad("a SEARCH SINCE 1-Feb-94");
  auto l = only(parse_ok<Search>("a SEARCH LARGER 10000"));
  EXPECT_EQ(l.kind, K::Larger);
  EXPECT_EQ(l.number, 10000u);
  EXPECT_EQ(only(parse_ok<Search>("a SEARCH SMALLER 5")).kind, K::Smaller);
  EXPECT_EQ(only(parse_ok<Search>("a SEARCH OLDER 3600")).kind, K::Older);
  EXPECT_EQ(only(parse_ok<Search>("a SEARCH YOUNGER 60")).kind, K::Younger);
  parse_bad("a SEARCH YOUNGER 0");
  parse_bad("a SEARCH LARGER 99999999999999999999");
}

TEST(ImapSearch, SetsAndLogic) {
  auto s = parse_ok<Search>("a UID SEARCH 1:* NOT DELETED OR (FROM a TO b) UID 5,7:9 1");
  EXPECT_TRUE(s.uid);
  ASSERT_EQ(s.key.children.size(), 4u);
  EXPECT_EQ(s.key.children[0].kind, K::SequenceSet);
  EXPECT_EQ(format_sequence_set(s.key.children[0].set), "1:*");
  EXPECT_EQ(s.key.children[1].kind, K::Not);
  EXPECT_EQ(s.key.children[1].children[0].kind, K::Deleted);
  EXPECT_EQ(s.key.children[2].kind, K::Or);
  EXPECT_EQ(s.key.children[2].children[0].kind, K::And);
  EXPECT_EQ(s.key.children[2].children[0].children.size(), 2u);
  EXPECT_EQ(s.key.children[2].children[1].kind, K::Uid);
  EXPECT_EQ(format_sequence_set(s.key.children[2].children[1].set), "5,7:9");
  EXPECT_EQ(format_sequence_set(s.key.children[3].set), "1");
}

TEST(ImapSearch, CharsetAndLiteral) {
  auto s = parse_ok<Search>("A284 SEARCH CHARSET UTF-8 TEXT {6+}\r\nXXXXXX");
  EXPECT_EQ(s.charset, "UTF-8");
  EXPECT_EQ(only(s).text, "XXXXXX");
  auto ev = run("A284 SEARCH CHARSET UTF-8 TEXT {4}\r\n\xd0\xbf\xd1\x80\r\n");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, ReaderEvent::Kind::Continuation);
  EXPECT_EQ(only(std::get<Search>(ev[1].command->body)).text, "\xd0\xbf\xd1\x80");
  // 8-bit in a quoted string: only with UTF8=ACCEPT.
  parse_bad("a SEARCH TEXT \"\xd0\xbf\"");
  Policy p;
  p.options.utf8_accept = true;
  EXPECT_EQ(only(parse_ok<Search>("a SEARCH TEXT \"\xd0\xbf\"", p)).text, "\xd0\xbf");
}

TEST(ImapSearch, ReturnOptionsAndSaved) {
  auto s = parse_ok<Search>("a UID SEARCH RETURN (MIN MAX COUNT ALL SAVE) UNSEEN");
  EXPECT_TRUE(s.esearch && s.ret_min && s.ret_max && s.ret_count && s.ret_all && s.ret_save);
  auto t = parse_ok<Search>("a SEARCH RETURN () FLAGGED");
  EXPECT_TRUE(t.esearch);
  EXPECT_FALSE(t.ret_all);
  auto u = parse_ok<Search>("a UID SEARCH UID $ SEEN");
  EXPECT_TRUE(u.key.children[0].set.saved);
  EXPECT_TRUE(only(parse_ok<Search>("a SEARCH $")).set.saved);
  parse_bad("a SEARCH RETURN (FOO) ALL");
  parse_bad("a SEARCH RETURN ALL");
  parse_bad("a SEARCH $,1");
}

TEST(ImapSearch, ModSeqAndObjectIds) {
  auto m = only(parse_ok<Search>("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338"));
  EXPECT_EQ(m.kind, K::ModSeq);
  EXPECT_EQ(m.field, "/flags/\\draft");
  EXPECT_EQ(m.text, "ALL");
  EXPECT_EQ(m.number, 620162338u);
  EXPECT_EQ(only(parse_ok<Search>("a SEARCH MODSEQ 5")).number, 5u);
  parse_bad("a SEARCH MODSEQ \"/flags/x\" bogus 5");
  parse_bad("a SEARCH MODSEQ \"x\" all 5");
  auto e = only(parse_ok<Search>("a SEARCH EMAILID M6d99ac3275bb4e"));
  EXPECT_EQ(e.kind, K::EmailId);
  EXPECT_EQ(e.text, "M6d99ac3275bb4e");
  EXPECT_EQ(only(parse_ok<Search>("a SEARCH THREADID T64b478a75b7ea9")).kind, K::ThreadId);
  parse_bad("a SEARCH EMAILID a.b");
}

TEST(ImapSearch, Errors) {
  parse_bad("a SEARCH");
  parse_bad("a SEARCH FOO");
  parse_bad("a SEARCH (SEEN");
  parse_bad("a SEARCH ()");
  parse_bad("a SEARCH OR SEEN");
  parse_bad("a SEARCH NOT");
  parse_bad("a SEARCH SEEN  UNSEEN");  // two spaces
  EXPECT_EQ(parse_bad("a SEARCH 0").code, errc::bad_sequence_set);
  EXPECT_EQ(parse_bad("a SEARCH UID 1:4294967296").code, errc::bad_sequence_set);
}

TEST(ImapSearch, Sort) {
  auto s = parse_ok<Sort>("A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL");
  ASSERT_EQ(s.criteria.size(), 2u);
  EXPECT_EQ(s.criteria[0].key, SortCriterion::Key::Subject);
  EXPECT_TRUE(s.criteria[1].reverse);
  EXPECT_EQ(s.charset, "UTF-8");
  auto u = parse_ok<Sort>("a UID SORT (DISPLAYFROM) us-ascii SUBJECT \"afternoon\" SINCE 1-Feb-1994");
  EXPECT_TRUE(u.uid);
  EXPECT_EQ(u.key.children.size(), 2u);
  parse_bad("a SORT () UTF-8 ALL");
  parse_bad("a SORT (FOO) UTF-8 ALL");
  parse_bad("a SORT (DATE) UTF-8");
  parse_bad("a SORT (REVERSE) UTF-8 ALL");
}

TEST(ImapSearch, Thread) {
  auto t = parse_ok<Thread>("A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000");
  EXPECT_EQ(t.algorithm, "ORDEREDSUBJECT");
  EXPECT_EQ(t.key.children[0].kind, K::Since);
  EXPECT_TRUE(parse_ok<Thread>("a UID THREAD references US-ASCII ALL").uid);
  parse_bad("a THREAD REFERENCES");
}

}  // namespace
}  // namespace refmail::imap::test
