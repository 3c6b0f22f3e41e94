// Server command parser: SELECT/EXAMINE (CONDSTORE, QRESYNC), CREATE (USE), LIST
// (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE), LSUB, STATUS, mailbox name decoding.
#include "tests/unit/imap/harness.hpp"

namespace refmail::imap::test {
namespace {

TEST(ImapMailbox, SelectExamine) {
  auto s = parse_ok<Select>("a SELECT inbox");
  EXPECT_EQ(s.mailbox, "INBOX");
  EXPECT_FALSE(s.examine);
  auto e = parse_ok<Select>("a EXAMINE \"Sent Items\" (CONDSTORE)");
  EXPECT_TRUE(e.examine);
  EXPECT_TRUE(e.condstore);
  EXPECT_EQ(e.mailbox, "Sent Items");
}

TEST(ImapMailbox, SelectQresync) {
  auto s = parse_ok<Select>("A02 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))");
  ASSERT_TRUE(s.qresync);
  EXPECT_EQ(s.qresync->uidvalidity, 67890007u);
  EXPECT_EQ(s.qresync->modseq, 90060115194045000u);
  EXPECT_EQ(format_sequence_set(*s.qresync->known_uids), "41:211,214:541");
  EXPECT_FALSE(s.qresync->seq_match);
  auto t = parse_ok<Select>("B SELECT INBOX (QRESYNC (67890007 9006 1:500 (1:5,8 100:104,200)) CONDSTORE)");
  ASSERT_TRUE(t.qresync && t.qresync->seq_match);
  EXPECT_EQ(format_sequence_set(t.qresync->seq_match->second), "100:104,200");
  EXPECT_TRUE(t.condstore);
  auto u = parse_ok<Select>("C SELECT INBOX (QRESYNC (1 2 (1 5)))");
  ASSERT_TRUE(u.qresync && u.qresync->seq_match);
  EXPECT_FALSE(u.qresync->known_uids);
  parse_bad("a SELECT INBOX (QRESYNC (0 1))");  // uidvalidity is nz-number
  parse_bad("a SELECT INBOX (QRESYNC)");
  parse_bad("a SELECT INBOX (FOO)");
  parse_bad("a SELECT INBOX ()x");
  parse_bad("a SELECT");
}

TEST(ImapMailbox, CreateWithUse) {
  EXPECT_EQ(parse_ok<Create>("a CREATE foo/bar").mailbox, "foo/bar");
  auto c = parse_ok<Create>("a CREATE MyDrafts (USE (\\Drafts \\Sent))");
  EXPECT_EQ(c.special_use, (std::vector<std::string>{"\\Drafts", "\\Sent"}));
  parse_bad("a CREATE x (USE (Drafts))");
  parse_bad("a CREATE x (FOO (\\Drafts))");
}

TEST(ImapMailbox, ListBasic) {
  auto l = parse_ok<List>("a LIST \"\" *");
  EXPECT_EQ(l.reference, "");
  EXPECT_EQ(l.patterns, std::vector<std::string>{"*"});
  EXPECT_FALSE(l.extended);
  auto m = parse_ok<List>("a list \"~/Mail/\" %/f*o]");
  EXPECT_EQ(m.reference, "~/Mail/");
  EXPECT_EQ(m.patterns, std::vector<std::string>{"%/f*o]"});
}

TEST(ImapMailbox, ListExtended) {
  auto l = parse_ok<List>("A01 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" \"Drafts\" %) "
                          "RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN SIZE))");
  EXPECT_TRUE(l.extended && l.subscribed && l.recursive_match);
  EXPECT_EQ(l.patterns, (std::vector<std::string>{"INBOX", "Drafts", "%"}));
  EXPECT_TRUE(l.return_children && l.return_special_use);
  ASSERT_TRUE(l.return_status);
  EXPECT_EQ(*l.return_status, (std::vector<StatusItem>{StatusItem::Messages, StatusItem::Unseen, StatusItem::Size}));
  auto m = parse_ok<List>("a LIST (SPECIAL-USE) \"\" * RETURN (SUBSCRIBED)");
  EXPECT_TRUE(m.special_use && m.return_subscribed);
  auto n = parse_ok<List>("a LIST () \"\" % RETURN ()");
  EXPECT_TRUE(n.extended);
  EXPECT_EQ(parse_ok<List>("a LIST (REMOTE) \"\" *").remote, true);
  parse_bad("a LIST (RECURSIVEMATCH) \"\" *");  // RFC 5258: needs another option
  parse_bad("a LIST (FOO) \"\" *");
  parse_bad("a LIST \"\" * RETURN (FOO)");
  parse_bad("a LIST \"\" * EXTRA");
  parse_bad("a LIST \"\"");
}

TEST(ImapMailbox, Lsub) {
  auto l = parse_ok<Lsub>("a LSUB \"#news.\" \"comp.mail.*\"");
  EXPECT_EQ(l.reference, "#news.");
  EXPECT_EQ(l.pattern, "comp.mail.*");
}

TEST(ImapMailbox, Status) {
  auto s = parse_ok<Status>("a STATUS blurdybloop (UIDNEXT MESSAGES recent uidvalidity unseen deleted size "
                            "highestmodseq appendlimit mailboxid deleted-storage)");
  EXPECT_EQ(s.items.size(), 11u);
  EXPECT_EQ(s.items[7], StatusItem::HighestModSeq);
  EXPECT_EQ(s.items[9], StatusItem::MailboxId);
  parse_bad("a STATUS x ()");
  parse_bad("a STATUS x (FOO)");
  parse_bad("a STATUS x MESSAGES");
}

TEST(ImapMailbox, ModifiedUtf7Names) {
  EXPECT_EQ(parse_ok<Select>("a SELECT \"~peter/mail/&U,BTFw-/&ZeVnLIqe-\"").mailbox,
            "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
  EXPECT_EQ(parse_ok<Create>("a CREATE R&AOk-sum&AOk-").mailbox, "R\xc3\xa9sum\xc3\xa9");
  EXPECT_EQ(parse_ok<Create>("a CREATE A&-B").mailbox, "A&B");
  EXPECT_EQ(parse_bad("a CREATE &Jjo!").code, errc::bad_mailbox_name);
  EXPECT_EQ(parse_bad("a CREATE &AGE-").code, errc::bad_mailbox_name);   // 'a' must be direct
  EXPECT_EQ(parse_bad("a CREATE &AOkA-").code, errc::bad_mailbox_name);  // bits left over
  EXPECT_EQ(parse_bad("a CREATE &2D3-").code, errc::bad_mailbox_name);  // lone surrogate
  EXPECT_EQ(parse_bad("a CREATE &AOk-&AOk-").code, errc::bad_mailbox_name);  // adjacent shifts
  EXPECT_EQ(parse_bad("a CREATE A&").code, errc::bad_mailbox_name);
  // 8-bit names need UTF8=ACCEPT.
  EXPECT_EQ(parse_bad("a CREATE {6+}\r\nR\xc3\xa9sum").code, errc::bad_mailbox_name);
  EXPECT_EQ(parse_bad("a CREATE \"R\xc3\xa9sum\"").code, errc::syntax);
  Policy p;
  p.options.utf8_accept = true;
  EXPECT_EQ(parse_ok<Create>("a CREATE \"R\xc3\xa9sum&\"", p).mailbox, "R\xc3\xa9sum&");
  EXPECT_EQ(parse_bad("a CREATE \"R\xc3sum\"", p).code, errc::syntax);      // invalid UTF-8 quoted
  EXPECT_EQ(parse_bad("a CREATE {4+}\r\nR\xc3su", p).code, errc::bad_mailbox_name);
  EXPECT_EQ(parse_bad("a CREATE {3+}\r\na\x01z", p).code, errc::bad_mailbox_name);
}

}  // namespace
}  // namespace refmail::imap::test
