// Server command reader and parser under hostile input (issue 16): deep nesting,
// huge sequence sets, out-of-range numbers, and bounded memory throughout.
#include "tests/unit/imap/harness.hpp"

namespace refmail::imap::test {
namespace {

using Kind = ReaderEvent::Kind;

// Feeds `in` in 64 KiB reads; returns the events and the most bytes the reader held.
std::pair<std::vector<ReaderEvent::Kind>, std::size_t> stream(const std::string& in, CommandLimits lim = {},
                                                              ParseError* first_error = nullptr) {
  CommandReader r(lim);
  std::vector<Kind> kinds;
  std::size_t held = 0;
  for (std::size_t at = 0; at < in.size(); at += 65536) {
    r.feed(std::string_view(in).substr(at, 65536));
    held = std::max(held, r.held_bytes());
    for (ReaderEvent e = r.next(); e.kind != Kind::NeedMore; e = r.next()) {
      kinds.push_back(e.kind);
      if (e.kind == Kind::Error && first_error && first_error->text.empty()) *first_error = e.error;
      held = std::max(held, r.held_bytes());
    }
    held = std::max(held, r.held_bytes());
  }
  return {kinds, held};
}

TEST(ImapBadInput, HundredThousandNestedParentheses) {
  std::string in = "a SEARCH " + std::string(100000, '(') + "ALL" + std::string(100000, ')') + "\r\nb NOOP\r\n";
  Policy p;
  p.limits.max_line_bytes = 1 << 20;  // let the line through: the parser's depth bound must stop it
  auto ev = run(in, p);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, Kind::Error);
  EXPECT_EQ(ev[0].error.code, errc::too_deep);
  EXPECT_EQ(ev[0].error.tag, "a");
  EXPECT_EQ(ev[1].kind, Kind::Command);
  // With the default limits the line limit stops it first.
  ParseError err;
  auto [kinds, held] = stream(in, {}, &err);
  EXPECT_EQ(err.code, errc::line_too_long);
  EXPECT_LE(held, 3u * 65536);
}

TEST(ImapBadInput, DeepNotChainAndOr) {
  Policy p;
  p.limits.max_line_bytes = 1 << 20;
  std::string nots;
  for (int i = 0; i < 50000; ++i) nots += "NOT ";
  EXPECT_EQ(parse_bad("a SEARCH " + nots + "ALL", p).code, errc::too_deep);
  std::string ors;
  for (int i = 0; i < 50000; ++i) ors += "OR ALL ";
  EXPECT_EQ(parse_bad("a SEARCH " + ors + "ALL", p).code, errc::too_deep);
  // 63 levels are fine.
  std::string ok = "a SEARCH " + std::string(62, '(') + "SEEN" + std::string(62, ')');
  EXPECT_EQ(parse_ok<Search>(ok).key.children.size(), 1u);
  std::string deep = "a SEARCH " + std::string(64, '(') + "SEEN" + std::string(64, ')');
  EXPECT_EQ(parse_bad(deep).code, errc::too_deep);
}

TEST(ImapBadInput, TenMegabyteSequenceSet) {
  std::string in = "a UID FETCH ";
  in.reserve(10'500'000);
  while (in.size() < 10'000'000) in += "1,";
  in += "1 FLAGS\r\nb NOOP\r\n";
  ParseError err;
  auto [kinds, held] = stream(in, {}, &err);
  ASSERT_EQ(kinds, (std::vector<Kind>{Kind::Error, Kind::Command}));
  EXPECT_EQ(err.code, errc::line_too_long);
  EXPECT_EQ(err.tag, "a");
  EXPECT_LE(held, 64u * 1024 + 65536 + 256);  // never the 10 MB
}

TEST(ImapBadInput, TooManyRanges) {
  Policy p;
  p.limits.max_sequence_ranges = 10;
  EXPECT_EQ(parse_bad("a FETCH 1,2,3,4,5,6,7,8,9,10,11 FLAGS", p).code, errc::too_many_items);
  EXPECT_EQ(parse_ok<Fetch>("a FETCH 1,2,3,4,5,6,7,8,9,10 FLAGS", p).set.ranges.size(), 10u);
}

TEST(ImapBadInput, TooManyItems) {
  Policy p;
  p.limits.max_items = 100;
  std::string atts;
  for (int i = 0; i < 101; ++i) atts += (i ? " " : "") + std::string("UID");
  EXPECT_EQ(parse_bad("a FETCH 1 (" + atts + ")", p).code, errc::too_many_items);
  std::string keys;
  for (int i = 0; i < 101; ++i) keys += " SEEN";
  EXPECT_EQ(parse_bad("a SEARCH" + keys, p).code, errc::too_many_items);
}

TEST(ImapBadInput, UidRangesOutOfBounds) {
  for (const char* bad : {"a UID FETCH 0 UID", "a UID FETCH 0:* UID", "a UID FETCH 1:4294967296 UID",
                          "a UID STORE 4294967296 FLAGS ()", "a UID COPY 18446744073709551616 x",
                          "a UID SEARCH UID 0", "a UID EXPUNGE 5:0", "a UID MOVE *:0 x"})
    EXPECT_EQ(parse_bad(bad).code, errc::bad_sequence_set) << bad;
  EXPECT_EQ(format_sequence_set(parse_ok<Fetch>("a UID FETCH 1:* UID").set), "1:*");
}

TEST(ImapBadInput, HugeLiteralAnnouncements) {
  // Bigger than any limit: refused without allocating.
  auto ev = run("a LOGIN {9999999999999999999}\r\nb NOOP\r\n");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].error.code, errc::literal_too_large);
  // 20 digits: not a literal announcement at all; the command is simply bad.
  ev = run("a LOGIN {99999999999999999999}\r\nb NOOP\r\n");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, Kind::Error);
  EXPECT_EQ(ev[1].kind, Kind::Command);
  ev = run("a APPEND INBOX {9999999999999999999+}\r\n");
  ASSERT_EQ(ev.size(), 0u);  // discarding the announced bytes: nothing to say until they end
}

TEST(ImapBadInput, EightBitAndControls) {
  EXPECT_EQ(std::get<Search>(run("a SEARCH SUBJECT \"x\ty\"\r\n")[0].command->body).key.children[0].text, "x\ty");
  for (std::string bad : {std::string("a SELECT INB\x80X"), std::string("a\x01 NOOP"), std::string("a NOOP\x7f"),
                          std::string("a FETCH 1 BODY[HEADER.FIELDS (\xe9)]")})
    EXPECT_EQ(parse_bad(bad).code == errc::syntax || parse_bad(bad).code == errc::unknown_command, true) << bad;
}

}  // namespace
}  // namespace refmail::imap::test
