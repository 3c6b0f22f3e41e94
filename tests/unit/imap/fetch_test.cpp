// Server command parser: FETCH / UID FETCH (every attribute, macros, sections,
// partials, BINARY, CHANGEDSINCE, VANISHED), STORE, COPY, MOVE, UID EXPUNGE.
#include "tests/unit/imap/harness.hpp"

namespace refmail::imap::test {
namespace {

using K = FetchAtt::Kind;

std::vector<K> kinds(const Fetch& f) {
  std::vector<K> k;
  for (const auto& a : f.atts) k.push_back(a.kind);
  return k;
}

TEST(ImapFetch, Macros) {
  EXPECT_EQ(kinds(parse_ok<Fetch>("a FETCH 1 ALL")), (std::vector<K>{K::Flags, K::InternalDate, K::Rfc822Size, K::Envelope}));
  EXPECT_EQ(kinds(parse_ok<Fetch>("a FETCH 1 fast")), (std::vector<K>{K::Flags, K::InternalDate, K::Rfc822Size}));
  EXPECT_EQ(kinds(parse_ok<Fetch>("a FETCH 1 FULL")),
            (std::vector<K>{K::Flags, K::InternalDate, K::Rfc822Size, K::Envelope, K::Body}));
  parse_bad("a FETCH 1 (ALL)");  // macros are not attributes
}

TEST(ImapFetch, EverySimpleAttribute) {
  auto f = parse_ok<Fetch>("a UID FETCH 1:* (ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE "
                           "RFC822.TEXT BODY BODYSTRUCTURE UID MODSEQ EMAILID THREADID SAVEDATE)");
  EXPECT_TRUE(f.uid);
  EXPECT_EQ(kinds(f), (std::vector<K>{K::Envelope, K::Flags, K::InternalDate, K::Rfc822, K::Rfc822Header,
                                      K::Rfc822Size, K::Rfc822Text, K::Body, K::BodyStructure, K::Uid, K::ModSeq,
                                      K::EmailId, K::ThreadId, K::SaveDate}));
  EXPECT_EQ(kinds(parse_ok<Fetch>("a FETCH 2 flags")), std::vector<K>{K::Flags});
}

TEST(ImapFetch, BodySections) {
  auto f = parse_ok<Fetch>("a FETCH 1 (BODY[] BODY.PEEK[HEADER] BODY[1.2.TEXT]<0.2048> "
                           "BODY.PEEK[HEADER.FIELDS (From To \"Subject\")] BODY[3.HEADER.FIELDS.NOT (X-Spam)] "
                           "BODY[2.MIME] BODY[4.1]<10.20>)");
  ASSERT_EQ(f.atts.size(), 7u);
  EXPECT_EQ(f.atts[0].kind, K::BodySection);
  EXPECT_FALSE(f.atts[0].peek);
  EXPECT_TRUE(f.atts[0].section.part.empty());
  EXPECT_EQ(f.atts[0].section.text, Section::Text::None);
  EXPECT_TRUE(f.atts[1].peek);
  EXPECT_EQ(f.atts[1].section.text, Section::Text::Header);
  EXPECT_EQ(f.atts[2].section.part, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(f.atts[2].section.text, Section::Text::Text);
  EXPECT_EQ(f.atts[2].partial, (Partial{0, 2048}));
  EXPECT_EQ(f.atts[3].section.text, Section::Text::HeaderFields);
  EXPECT_EQ(f.atts[3].section.fields, (std::vector<std::string>{"From", "To", "Subject"}));
  EXPECT_EQ(f.atts[4].section.text, Section::Text::HeaderFieldsNot);
  EXPECT_EQ(f.atts[4].section.part, std::vector<std::uint32_t>{3});
  EXPECT_EQ(f.atts[5].section.text, Section::Text::Mime);
  EXPECT_EQ(f.atts[6].partial, (Partial{10, 20}));
  parse_bad("a FETCH 1 BODY[MIME]");        // MIME needs a part
  parse_bad("a FETCH 1 BODY[0]");
  parse_bad("a FETCH 1 BODY[1.]");
  parse_bad("a FETCH 1 BODY[HEADER.FIELDS ()]");
  parse_bad("a FETCH 1 BODY[]<0.0>");
  parse_bad("a FETCH 1 BODY[]<5>");
  parse_bad("a FETCH 1 BODY[FOO]");
  parse_bad("a FETCH 1 BODY[");
  parse_bad("a FETCH 1 BODY.PEEK");
}

TEST(ImapFetch, Binary) {
  auto f = parse_ok<Fetch>("a FETCH 1 (BINARY[] BINARY.PEEK[1.2]<0.100> BINARY.SIZE[3])");
  ASSERT_EQ(f.atts.size(), 3u);
  EXPECT_EQ(f.atts[0].kind, K::Binary);
  EXPECT_TRUE(f.atts[1].peek);
  EXPECT_EQ(f.atts[1].section.part, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(f.atts[2].kind, K::BinarySize);
  parse_bad("a FETCH 1 BINARY[HEADER]");
  parse_bad("a FETCH 1 BINARY[1.TEXT]");
  parse_bad("a FETCH 1 BINARY.SIZE[1]<0.10>");
}

TEST(ImapFetch, Modifiers) {
  auto f = parse_ok<Fetch>("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)");
  EXPECT_EQ(f.changed_since, 12345u);
  EXPECT_TRUE(f.vanished);
  EXPECT_EQ(parse_ok<Fetch>("a FETCH 1:* (FLAGS) (CHANGEDSINCE 1)").changed_since, 1u);
  parse_bad("a FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)");  // VANISHED needs UID FETCH
  parse_bad("a UID FETCH 1 (FLAGS) (VANISHED)");             // and CHANGEDSINCE
  parse_bad("a FETCH 1 (FLAGS) (FOO)");
  parse_bad("a FETCH 1 (FLAGS) ()");
}

TEST(ImapFetch, BadSets) {
  EXPECT_EQ(parse_bad("a FETCH 0 FLAGS").code, errc::bad_sequence_set);
  EXPECT_EQ(parse_bad("a UID FETCH 0:5 FLAGS").code, errc::bad_sequence_set);
  EXPECT_EQ(parse_bad("a UID FETCH 4294967296 FLAGS").code, errc::bad_sequence_set);
  EXPECT_EQ(parse_bad("a UID FETCH 1:99999999999999999999999 FLAGS").code, errc::bad_sequence_set);
  EXPECT_EQ(format_sequence_set(parse_ok<Fetch>("a UID FETCH 4294967295 FLAGS").set), "4294967295");
  EXPECT_EQ(format_sequence_set(parse_ok<Fetch>("a UID FETCH 1:* FLAGS").set), "1:*");
  EXPECT_EQ(format_sequence_set(parse_ok<Fetch>("a FETCH 1:4000000000 FLAGS").set), "1:4000000000");
  parse_bad("a FETCH FLAGS");
  parse_bad("a FETCH 1,,2 FLAGS");
  parse_bad("a FETCH 01 FLAGS");
}

TEST(ImapStore, Forms) {
  auto s = parse_ok<Store>("a STORE 2:4 +FLAGS (\\Deleted $Junk)");
  EXPECT_EQ(s.mode, Store::Mode::Add);
  EXPECT_FALSE(s.silent);
  EXPECT_EQ(s.flags, (FlagList{"\\Deleted", "$Junk"}));
  auto t = parse_ok<Store>("a UID STORE 1 -FLAGS.SILENT \\Seen \\Flagged");
  EXPECT_EQ(t.mode, Store::Mode::Remove);
  EXPECT_TRUE(t.silent && t.uid);
  EXPECT_EQ(t.flags.size(), 2u);
  auto u = parse_ok<Store>("d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)");
  EXPECT_EQ(u.unchanged_since, 320162338u);
  EXPECT_EQ(parse_ok<Store>("a STORE 1 FLAGS ()").mode, Store::Mode::Replace);
  parse_bad("a STORE 1 +FLAGS (\\*)");
  parse_bad("a STORE 1 FLAGZ (\\Seen)");
  parse_bad("a STORE 1 (FOO 1) FLAGS ()");
  parse_bad("a STORE 1 +FLAGS");
  parse_bad("a STORE 1 FLAGS (\\Seen");
}

TEST(ImapCopy, CopyMoveExpunge) {
  auto c = parse_ok<Copy>("a COPY 2:4 MEETING");
  EXPECT_FALSE(c.move || c.uid);
  EXPECT_EQ(c.mailbox, "MEETING");
  auto m = parse_ok<Copy>("a UID MOVE 42:69 \"Archive/2023\"");
  EXPECT_TRUE(m.move && m.uid);
  EXPECT_TRUE(parse_ok<Copy>("a MOVE 1 x").move);
  EXPECT_FALSE(parse_ok<Expunge>("a EXPUNGE").uids);
  EXPECT_EQ(format_sequence_set(*parse_ok<Expunge>("a UID EXPUNGE 3000:3002").uids), "3000:3002");
  parse_bad("a UID EXPUNGE");
  parse_bad("a COPY 1");
}

}  // namespace
}  // namespace refmail::imap::test
