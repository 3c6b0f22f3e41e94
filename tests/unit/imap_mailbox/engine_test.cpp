// tests/unit/imap_mailbox/engine_test.cpp — the IMAP mailbox layer on a real store:
// SELECT/EXAMINE, FETCH, STORE, SEARCH, EXPUNGE, COPY/MOVE, folders, and updates
// between sessions (another session, a delivery) as NOOP and IDLE report them.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace refmail::imap::test {
namespace {

bool has(const std::string& out, const std::string& what) { return out.find(what) != std::string::npos; }

TEST_P(EngineFixture, SelectReportsCountsAndUids) {
  for (int i = 1; i <= 3; ++i) deliver(message(i));
  auto c = client();
  auto out = c.cmd("a", "SELECT INBOX");
  EXPECT_TRUE(has(out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n")) << out;
  EXPECT_TRUE(has(out, "* 3 EXISTS\r\n")) << out;
  EXPECT_TRUE(has(out, "* 0 RECENT\r\n")) << out;
  EXPECT_TRUE(has(out, "* OK [UNSEEN 1]")) << out;
  EXPECT_TRUE(has(out, "* OK [UIDVALIDITY ")) << out;
  EXPECT_TRUE(has(out, "* OK [UIDNEXT 4]")) << out;
  EXPECT_TRUE(has(out, "a OK [READ-WRITE] SELECT completed\r\n")) << out;
  EXPECT_EQ(c.session().state(), SessionState::Selected);
  out = c.cmd("b", "FETCH 1:* (UID FLAGS RFC822.SIZE)");
  EXPECT_TRUE(has(out, "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE " + std::to_string(message(1).size()) + ")\r\n")) << out;
  EXPECT_TRUE(has(out, "* 3 FETCH (UID 3 FLAGS ()")) << out;
  EXPECT_TRUE(has(out, "b OK FETCH completed")) << out;
}

TEST_P(EngineFixture, Imap4rev2SelectNamesTheMailboxAndDropsRecent) {
  deliver(message(1));
  auto c = client();
  c.cmd("e", "ENABLE IMAP4rev2");
  auto out = c.cmd("a", "SELECT Sent");
  EXPECT_TRUE(has(out, "* LIST (\\Sent) \"/\" \"Sent\"\r\n")) << out;
  EXPECT_FALSE(has(out, "RECENT")) << out;
  out = c.cmd("b", "SELECT inbox");
  EXPECT_TRUE(has(out, "* LIST () \"/\" \"INBOX\"\r\n")) << out;
  EXPECT_TRUE(has(out, "* 1 EXISTS\r\n")) << out;
}

TEST_P(EngineFixture, SelectUnknownMailboxFailsAndDeselects) {
  auto c = client();
  EXPECT_TRUE(has(c.cmd("a", "SELECT INBOX"), "a OK"));
  auto out = c.cmd("b", "SELECT Nowhere");
  EXPECT_TRUE(has(out, "* OK [CLOSED]")) << out;
  EXPECT_TRUE(has(out, "b NO [NONEXISTENT]")) << out;
  EXPECT_EQ(c.session().state(), SessionState::Authenticated);
  EXPECT_TRUE(has(c.cmd("c", "FETCH 1 FLAGS"), "c BAD No mailbox selected"));
}

TEST_P(EngineFixture, BodyFetchIsByteExactAndSetsSeen) {
  const std::string raw = web::testing::mime_with_attachment("report", std::string(100000, 'x'));
  deliver(raw);
  auto c = client();
  c.cmd("a", "SELECT INBOX");
  auto out = c.cmd("b", "FETCH 1 BODY.PEEK[]");
  EXPECT_EQ(out, "* 1 FETCH (BODY[] {" + std::to_string(raw.size()) + "}\r\n" + raw + ")\r\nb OK FETCH completed\r\n");
  out = c.cmd("c", "FETCH 1 FLAGS");
  EXPECT_TRUE(has(out, "FLAGS ()")) << out;
  out = c.cmd("d", "UID FETCH 1 BODY[]<10.20>");
  EXPECT_EQ(out, "* 1 FETCH (UID 1 BODY[]<10> {20}\r\n" + raw.substr(10, 20) + " FLAGS (\\Seen))\r\nd OK UID FETCH completed\r\n");
  out = c.cmd("e", "FETCH 1 RFC822");
  EXPECT_TRUE(has(out, "RFC822 {" + std::to_string(raw.size()) + "}\r\n" + raw + ")")) << out.substr(0, 200);
}

TEST_P(EngineFixture, ExamineIsReadOnly) {
  deliver(message(1));
  auto c = client();
  auto out = c.cmd("a", "EXAMINE INBOX");
  EXPECT_TRUE(has(out, "a OK [READ-ONLY]")) << out;
  EXPECT_TRUE(has(out, "PERMANENTFLAGS ()")) << out;
  EXPECT_TRUE(has(c.cmd("b", "STORE 1 +FLAGS (\\Seen)"), "b NO [READ-ONLY]"));
  c.cmd("c", "FETCH 1 BODY[]");  // no \Seen in a read-only mailbox
  EXPECT_TRUE(has(c.cmd("d", "FETCH 1 FLAGS"), "FLAGS ()"));
}

TEST_P(EngineFixture, StoreFlagsAreJmapKeywords) {
  deliver(message(1));
  auto c = client();
  c.cmd("a", "SELECT INBOX");
  auto out = c.cmd("b", "STORE 1 +FLAGS (\\Seen \\Flagged NonJunk)");
  EXPECT_TRUE(has(out, "* 1 FETCH (FLAGS (\\Seen \\Flagged nonjunk))")) << out;
  auto row = store_->get_row("alice@example.test", "INBOX", 1);
  ASSERT_TRUE(row);
  std::vector<std::string> want{"$seen", "$flagged", "nonjunk"};
  EXPECT_EQ(row->keywords, want);
  out = c.cmd("c", "UID STORE 1 -FLAGS.SILENT (\\Flagged)");
  EXPECT_EQ(out, "c OK UID STORE completed\r\n");
  out = c.cmd("d", "STORE 1 FLAGS (\\Draft)");
  EXPECT_TRUE(has(out, "* 1 FETCH (FLAGS (\\Draft))")) << out;
  EXPECT_TRUE(has(c.cmd("e", "STORE 1 +FLAGS (\\Bogus)"), "e BAD"));
}

TEST_P(EngineFixture, StoreUnchangedSinceReportsModified) {
  deliver(message(1));
  deliver(message(2));
  auto c = client();
  c.cmd("a", "SELECT INBOX");
  auto r1 = store_->get_row("alice@example.test", "INBOX", 1);
  ASSERT_TRUE(r1);
  auto out = c.cmd("b", "STORE 1:2 (UNCHANGEDSINCE " + std::to_string(r1->modseq) + ") +FLAGS (\\Seen)");
  // Message 2 was delivered after message 1: its modseq is above message 1's.
  EXPECT_TRUE(has(out, "b NO [MODIFIED 2]")) << out;
  EXPECT_TRUE(has(out, "* 1 FETCH (FLAGS (\\Seen) MODSEQ (")) << out;
}

TEST_P(EngineFixture, ExpungeRemovesDeletedAndRenumbers) {
  for (int i = 1; i <= 4; ++i) deliver(message(i));
  auto c = client();
  c.cmd("a", "SELECT INBOX");
  c.cmd("b", "STORE 2,4 +FLAGS.SILENT (\\Deleted)");
  auto out = c.cmd("c", "EXPUNGE");
  EXPECT_EQ(out, "* 4 EXPUNGE\r\n* 2 EXPUNGE\r\nc OK EXPUNGE completed\r\n");
  out = c.cmd("d", "FETCH 1:* UID");
  EXPECT_EQ(out, "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 3)\r\nd OK FETCH completed\r\n");
  // UID EXPUNGE only touches the given UIDs.
  c.cmd("e", "STORE 1:2 +FLAGS.SILENT (\\Deleted)");
  out = c.cmd("f", "UID EXPUNGE 3");
  EXPECT_EQ(out, "* 2 EXPUNGE\r\nf OK UID EXPUNGE completed\r\n");
}

TEST_P(EngineFixture, CloseExpungesSilentlyUnselectDoesNot) {
  for (int i = 1; i <= 2; ++i) deliver(message(i));
  auto c = client();
  c.cmd("a", "SELECT INBOX");
  c.cmd("b", "STORE 1 +FLAGS.SILENT (\\Deleted)");
  EXPECT_EQ(c.cmd("c", "UNSELECT"), "c OK UNSELECT completed\r\n");
  EXPECT_TRUE(has(c.cmd("d", "SELECT INBOX"), "* 2 EXISTS"));
  EXPECT_EQ(c.cmd("e", "CLOSE"), "e OK CLOSE completed\r\n");
  EXPECT_EQ(c.session().state(), SessionState::Authenticated);
  EXPECT_TRUE(has(c.cmd("f", "STATUS INBOX (MESSAGES UIDNEXT UNSEEN)"), "* STATUS \"INBOX\" (MESSAGES 1 UIDNEXT 3 UNSEEN 1)"));
}

TEST_P(EngineFixture, CopyAndMoveGiveCopyUid) {
  for (int i = 1; i <= 3; ++i) deliver(message(i));
  auto c = client();
  c.cmd("a", "SELECT INBOX");
  auto out = c.cmd("b", "COPY 1:2 Archive");
  EXPECT_TRUE(has(out, "b OK [COPYUID ")) << out;
  EXPECT_TRUE(has(out, " 1:2 1:2] COPY completed")) << out;
  out = c.cmd("c", "UID MOVE 3 Trash");
  EXPECT_TRUE(has(out, "* OK [COPYUID ")) << out;
  EXPECT_TRUE(has(out, "* 3 EXPUNGE\r\nc OK UID MOVE completed")) << out;
  EXPECT_TRUE(has(c.cmd("d", "COPY 1 Nowhere"), "d NO [TRYCREATE]"));
  EXPECT_TRUE(has(c.cmd("e", "STATUS Archive (MESSAGES)"), "(MESSAGES 2)"));
  EXPECT_TRUE(has(c.cmd("f", "STATUS Trash (MESSAGES)"), "(MESSAGES 1)"));
  // The copies share the message: no second copy of its bytes.
  auto a = store_->get_row("alice@example.test", "Archive", 1);
  auto i = store_->get_row("alice@example.test", "INBOX", 1);
  ASSERT_TRUE(a && i);
  EXPECT_EQ(a->message_id, i->message_id);
}

TEST_P(EngineFixture, SequenceNumbersAreChecked) {
  deliver(message(1));
  auto c = client();
  c.cmd("a", "SELECT INBOX");
  EXPECT_TRUE(has(c.cmd("b", "FETCH 5 FLAGS"), "b BAD Invalid message sequence number"));
  EXPECT_EQ(c.cmd("c", "UID FETCH 5:7 FLAGS"), "c OK UID FETCH completed\r\n");
  // "*" with UIDs is the largest UID in use.
  EXPECT_EQ(c.cmd("d", "UID FETCH 9:* FLAGS"), "* 1 FETCH (UID 1 FLAGS ())\r\nd OK UID FETCH completed\r\n");
}

TEST_P(EngineFixture, EmptyMailboxStarRangeIsEmpty) {
  auto c = client();
  EXPECT_TRUE(has(c.cmd("a", "SELECT INBOX"), "* 0 EXISTS"));
  EXPECT_EQ(c.cmd("b", "FETCH 1:* FLAGS"), "b OK FETCH completed\r\n");
  EXPECT_EQ(c.cmd("c", "SEARCH ALL"), "* SEARCH\r\nc OK SEARCH completed\r\n");
}

TEST_P(EngineFixture, SearchKeys) {
  deliver(message(1));
  deliver(message(2, "Cc: Carol <carol@else.test>\r\nX-Tag: blue\r\n"));
  deliver(message(3));
  auto c = client();
  c.cmd("a", "SELECT INBOX");
  c.cmd("b", "STORE 2 +FLAGS (\\Flagged)");
  EXPECT_TRUE(has(c.cmd("c", "SEARCH FLAGGED"), "* SEARCH 2\r\n"));
  EXPECT_TRUE(has(c.cmd("d", "SEARCH UNFLAGGED"), "* SEARCH 1 3\r\n"));
  EXPECT_TRUE(has(c.cmd("e", "SEARCH SUBJECT \"message 3\""), "* SEARCH 3\r\n"));
  EXPECT_TRUE(has(c.cmd("f", "SEARCH CC carol"), "* SEARCH 2\r\n"));
  EXPECT_TRUE(has(c.cmd("g", "SEARCH HEADER X-Tag BLUE"), "* SEARCH 2\r\n"));
  EXPECT_TRUE(has(c.cmd("h", "SEARCH BODY \"of message 1\""), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(c.cmd("i", "UID SEARCH OR 1 3"), "* SEARCH 1 3\r\n"));
  EXPECT_TRUE(has(c.cmd("j", "SEARCH NOT 2:3"), "* SEARCH 1\r\n"));
  EXPECT_TRUE(has(c.cmd("k", "SEARCH SENTON 1-Jan-2024"), "* SEARCH 1 2 3\r\n"));
  EXPECT_TRUE(has(c.cmd("l", "SEARCH SENTBEFORE 1-Jan-2024"), "* SEARCH\r\n"));
  EXPECT_TRUE(has(c.cmd("m", "SEARCH CHARSET KOI8-R ALL"), "m NO [BADCHARSET"));
  auto out = c.cmd("n", "SEARCH RETURN (MIN MAX COUNT) ALL");
  EXPECT_TRUE(has(out, "* ESEARCH (TAG \"n\") MIN 1 MAX 3 COUNT 3\r\n")) << out;
  out = c.cmd("o", "UID SEARCH RETURN (SAVE) FLAGGED");
  EXPECT_EQ(out, "o OK UID SEARCH completed\r\n");
  EXPECT_EQ(c.cmd("p", "FETCH $ UID"), "* 2 FETCH (UID 2)\r\np OK FETCH completed\r\n");
}

TEST_P(EngineFixture, NoopReportsOtherSessionsChanges) {
  for (int i = 1; i <= 3; ++i) deliver(message(i));
  auto a = client();
  auto b = client();
  a.cmd("a", "SELECT INBOX");
  b.cmd("a", "SELECT INBOX");
  b.cmd("b", "STORE 1 +FLAGS.SILENT (\\Seen)");
  b.cmd("c", "STORE 2 +FLAGS.SILENT (\\Deleted)");
  b.cmd("d", "EXPUNGE");
  deliver(message(4));
  auto out = a.cmd("n", "NOOP");
  EXPECT_EQ(out, "* 2 EXPUNGE\r\n* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n* 3 EXISTS\r\nn OK NOOP completed\r\n");
  EXPECT_EQ(a.cmd("f", "FETCH 1:* UID"), "* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 3)\r\n* 3 FETCH (UID 4)\r\nf OK FETCH completed\r\n");
  // Nothing changed since: nothing to report.
  EXPECT_EQ(a.cmd("g", "NOOP"), "g OK NOOP completed\r\n");
}

TEST_P(EngineFixture, FetchDoesNotReportExpunges) {
  for (int i = 1; i <= 2; ++i) deliver(message(i));
  auto a = client();
  auto b = client();
  a.cmd("a", "SELECT INBOX");
  b.cmd("a", "SELECT INBOX");
  b.cmd("b", "STORE 1 +FLAGS.SILENT (\\Deleted)");
  b.cmd("c", "EXPUNGE");
  // RFC 9051 7.5.1: no EXPUNGE during FETCH; the expunged message is reported missing.
  auto out = a.cmd("f", "FETCH 1:2 UID");
  EXPECT_EQ(out, "* 2 FETCH (UID 2)\r\nf NO [EXPUNGEISSUED] Some messages were expunged meanwhile\r\n");
  EXPECT_EQ(a.cmd("g", "NOOP"), "* 1 EXPUNGE\r\ng OK NOOP completed\r\n");
}

TEST_P(EngineFixture, IdlePollsReportNewMail) {
  deliver(message(1));
  auto c = client();
  c.cmd("a", "SELECT INBOX");
  EXPECT_EQ(c.cmd("i", "IDLE"), "+ idling\r\n");
  EXPECT_EQ(c.poll(), "");
  deliver(message(2));
  EXPECT_EQ(c.poll(), "* 2 EXISTS\r\n");
  EXPECT_EQ(c.send("DONE\r\n"), "i OK IDLE terminated\r\n");
  EXPECT_EQ(c.poll(), "");  // not idling: nothing
}

TEST_P(EngineFixture, ListAndHierarchy) {
  auto c = client();
  EXPECT_TRUE(has(c.cmd("a", "CREATE Lists/rust"), "a OK"));
  EXPECT_TRUE(has(c.cmd("b", "CREATE Lists/rust"), "b NO [ALREADYEXISTS]"));
  auto out = c.cmd("c", "LIST \"\" *");
  EXPECT_TRUE(has(out, "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n")) << out;
  EXPECT_TRUE(has(out, "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n")) << out;
  EXPECT_TRUE(has(out, "* LIST (\\HasChildren) \"/\" \"Lists\"\r\n")) << out;  // CREATE made the parent
  EXPECT_TRUE(has(out, "* LIST (\\HasNoChildren) \"/\" \"Lists/rust\"\r\n")) << out;
  out = c.cmd("d", "LIST \"\" %");
  EXPECT_FALSE(has(out, "Lists/rust")) << out;
  EXPECT_TRUE(has(out, "\"/\" \"Lists\"\r\n")) << out;
  EXPECT_EQ(c.cmd("e", "LIST \"\" \"\""), "* LIST (\\Noselect) \"/\" \"\"\r\ne OK LIST completed\r\n");
  EXPECT_TRUE(has(c.cmd("f", "LIST \"\" inbox"), "\"/\" \"INBOX\"\r\n"));
  EXPECT_TRUE(has(c.cmd("g", "RENAME Nowhere Groups"), "g NO [NONEXISTENT]"));
  EXPECT_TRUE(has(c.cmd("h", "CREATE Lists"), "h NO [ALREADYEXISTS]"));
  EXPECT_TRUE(has(c.cmd("i", "RENAME Lists Groups"), "i OK"));
  // A reference names a level: "Groups" + "%" lists its children.
  EXPECT_TRUE(has(c.cmd("j0", "LIST Groups %"), "* LIST (\\HasNoChildren) \"/\" \"Groups/rust\"\r\n"));
  out = c.cmd("j", "LIST \"\" Groups*");
  EXPECT_TRUE(has(out, "* LIST (\\HasChildren) \"/\" \"Groups\"\r\n")) << out;
  EXPECT_TRUE(has(out, "* LIST (\\HasNoChildren) \"/\" \"Groups/rust\"\r\n")) << out;
  EXPECT_TRUE(has(c.cmd("k", "DELETE INBOX"), "k NO [CANNOT]"));
  EXPECT_TRUE(has(c.cmd("l", "DELETE Groups/rust"), "l OK"));
  EXPECT_TRUE(has(c.cmd("m", "LSUB \"\" *"), "* LSUB () \"/\" \"Groups\"\r\n"));
  EXPECT_TRUE(has(c.cmd("n", "SUBSCRIBE Groups"), "n OK"));
  EXPECT_TRUE(has(c.cmd("p", "SUBSCRIBE Nowhere"), "p NO [NONEXISTENT]"));
  EXPECT_TRUE(has(c.cmd("p1", "UNSUBSCRIBE Nowhere"), "p1 OK"));
  // UNSUBSCRIBE is kept: in the store (JMAP's isSubscribed), for LSUB, LIST (SUBSCRIBED)
  // and LIST RETURN (SUBSCRIBED), across sessions and renames.
  EXPECT_TRUE(has(c.cmd("o", "UNSUBSCRIBE Groups"), "o OK"));
  auto boxes = store_->list_mailboxes("alice@example.test");
  ASSERT_TRUE(boxes);
  for (const auto& m : *boxes) EXPECT_EQ(m.subscribed, m.name != "Groups") << m.name;
  auto c2 = client();
  out = c2.cmd("o1", "LSUB \"\" *");
  EXPECT_FALSE(has(out, "\"Groups\"")) << out;
  EXPECT_TRUE(has(out, "* LSUB () \"/\" \"INBOX\"\r\n")) << out;
  out = c2.cmd("o2", "LIST \"\" Groups RETURN (SUBSCRIBED)");
  EXPECT_TRUE(has(out, "* LIST (\\HasNoChildren) \"/\" \"Groups\"\r\n")) << out;
  EXPECT_FALSE(has(c2.cmd("o3", "LIST (SUBSCRIBED) \"\" *"), "\"Groups\""));
  EXPECT_TRUE(has(c2.cmd("o4", "RENAME Groups Teams"), "o4 OK"));
  EXPECT_TRUE(has(c2.cmd("o5", "LIST \"\" Teams RETURN (SUBSCRIBED)"), "* LIST (\\HasNoChildren) \"/\" \"Teams\"\r\n"));
  EXPECT_TRUE(has(c2.cmd("o6", "SUBSCRIBE Teams"), "o6 OK"));
  EXPECT_TRUE(has(c2.cmd("o7", "LSUB \"\" Teams"), "* LSUB () \"/\" \"Teams\"\r\n"));
  EXPECT_TRUE(has(c2.cmd("o8", "RENAME Teams Groups"), "o8 OK"));
  // A level without a mailbox of its own (made over JMAP, or its parent deleted).
  ASSERT_TRUE(store_->create_mailbox("alice@example.test", "Deep/child"));
  EXPECT_TRUE(has(c.cmd("q", "LIST \"\" %"), "* LIST (\\Noselect \\HasChildren) \"/\" \"Deep\"\r\n"));
  auto sub = c.cmd("r", "LIST (SUBSCRIBED) \"\" %");
  EXPECT_FALSE(has(sub, "\"Deep\"")) << sub;  // not a mailbox: not subscribed
  EXPECT_TRUE(has(sub, "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"\r\n")) << sub;
  EXPECT_TRUE(has(c.cmd("s", "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %"),
                  "* LIST (\\NonExistent \\HasChildren) \"/\" \"Deep\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"));
  // An unsubscribed mailbox with a subscribed child: listed for the child, not \Subscribed.
  ASSERT_TRUE(store_->create_mailbox("alice@example.test", "Deep"));
  EXPECT_TRUE(has(c.cmd("s1", "UNSUBSCRIBE Deep"), "s1 OK"));
  EXPECT_TRUE(has(c.cmd("s2", "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %"),
                  "* LIST (\\HasChildren) \"/\" \"Deep\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"));
  EXPECT_TRUE(has(c.cmd("s3", "UNSUBSCRIBE Deep/child"), "s3 OK"));
  EXPECT_FALSE(has(c.cmd("s4", "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %"), "\"Deep\""));
  auto special = c.cmd("t", "LIST (SPECIAL-USE) \"\" *");
  EXPECT_TRUE(has(special, "\\Sent) \"/\" \"Sent\"")) << special;
  EXPECT_FALSE(has(special, "\"INBOX\"")) << special;
}

TEST_P(EngineFixture, ListStatusAndUtf7Names) {
  auto c = client();
  ASSERT_TRUE(store_->create_mailbox("alice@example.test", "Entwürfe"));
  auto out = c.cmd("a", "LIST \"\" *");
  EXPECT_TRUE(has(out, "\"/\" \"Entw&APw-rfe\"\r\n")) << out;
  out = c.cmd("b", "STATUS Entw&APw-rfe (MESSAGES)");
  EXPECT_TRUE(has(out, "* STATUS \"Entw&APw-rfe\" (MESSAGES 0)")) << out;
  out = c.cmd("c", "LIST \"\" INBOX RETURN (STATUS (MESSAGES UNSEEN))");
  EXPECT_TRUE(has(out, "* STATUS \"INBOX\" (MESSAGES 0 UNSEEN 0)")) << out;
}

TEST_P(EngineFixture, AccountsAreSeparate) {
  deliver(message(1), "bob@example.test");
  auto c = client();
  EXPECT_TRUE(has(c.cmd("a", "SELECT INBOX"), "* 0 EXISTS"));
}

}  // namespace
}  // namespace refmail::imap::test

namespace refmail::imap::test {
namespace {

bool contains(const std::string& out, const std::string& what) { return out.find(what) != std::string::npos; }

TEST_P(EngineFixture, AppendStoresExactBytesThroughDelivery) {
  const std::string raw = web::testing::mime_with_attachment("saved", std::string(50000, 'y'));
  auto c = client();
  auto out = c.send("a APPEND Sent (\\Seen) \"01-Feb-2024 10:00:00 +0100\" {" + std::to_string(raw.size()) + "}\r\n");
  EXPECT_EQ(out, "+ Ready for literal data\r\n");
  // Any split of the bytes.
  out = c.send(raw.substr(0, 1000));
  EXPECT_EQ(out, "");
  out = c.send(raw.substr(1000) + "\r\n");
  EXPECT_TRUE(contains(out, "a OK [APPENDUID ")) << out;
  EXPECT_TRUE(contains(out, " 1] APPEND completed")) << out;
  c.cmd("b", "SELECT Sent");
  out = c.cmd("c", "FETCH 1 (FLAGS INTERNALDATE BODY.PEEK[])");
  EXPECT_EQ(out, "* 1 FETCH (FLAGS (\\Seen) INTERNALDATE \" 1-Feb-2024 09:00:00 +0000\" BODY[] {" +
                     std::to_string(raw.size()) + "}\r\n" + raw + ")\r\nc OK FETCH completed\r\n");
  // The same attachment appended again stores no new blob bytes.
  auto before = store_->stats();
  ASSERT_TRUE(before);
  out = c.send("d APPEND INBOX {" + std::to_string(raw.size()) + "+}\r\n" + raw + "\r\n");
  EXPECT_TRUE(contains(out, "* 1 EXISTS") == false) << out;  // INBOX is not the selected mailbox
  EXPECT_TRUE(contains(out, "d OK [APPENDUID ")) << out;
  auto after = store_->stats();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->blobs, before->blobs);
}

TEST_P(EngineFixture, AppendIntoSelectedMailboxReportsExists) {
  auto c = client();
  c.cmd("a", "SELECT INBOX");
  const std::string raw = message(7);
  auto out = c.send("b APPEND INBOX {" + std::to_string(raw.size()) + "+}\r\n" + raw + "\r\n");
  EXPECT_TRUE(contains(out, "* 1 EXISTS\r\nb OK [APPENDUID ")) << out;
}

TEST_P(EngineFixture, AppendRefusalsComeBeforeTheBytes) {
  auto c = client();
  EXPECT_EQ(c.send("a APPEND Nowhere {10}\r\n"), "a NO [TRYCREATE] No such mailbox\r\n");
  // A refused non-synchronizing literal is skipped; the next command works.
  EXPECT_EQ(c.send("b APPEND Nowhere {5+}\r\nhello\r\nc NOOP\r\n"),
            "b NO [TRYCREATE] No such mailbox\r\nc OK NOOP completed\r\n");
  EXPECT_EQ(c.send("d APPEND INBOX (\\Bogus) {5}\r\n"), "d BAD Invalid flag \\Bogus\r\n");
  auto counts = store_->mailbox_counts("alice@example.test");
  ASSERT_TRUE(counts);
  for (const auto& [id, n] : *counts) EXPECT_EQ(n.total, 0u);
}

TEST_P(EngineFixture, MultiAppendStoresEveryMessage) {
  auto c = client();
  const std::string m1 = message(1), m2 = message(2);
  auto out = c.send("a APPEND Drafts (\\Draft) {" + std::to_string(m1.size()) + "+}\r\n" + m1 + " {" +
                    std::to_string(m2.size()) + "+}\r\n" + m2 + "\r\n");
  EXPECT_TRUE(contains(out, " 1:2] APPEND completed")) << out;
  EXPECT_TRUE(contains(c.cmd("b", "STATUS Drafts (MESSAGES)"), "(MESSAGES 2)"));
}

TEST_P(EngineFixture, AppendOverQuotaIsRefusedAndStoresNothing) {
  ASSERT_TRUE(store_->set_quota("alice@example.test", 100));
  auto c = client();
  const std::string raw = message(1) + std::string(500, 'z');
  auto out = c.send("a APPEND INBOX {" + std::to_string(raw.size()) + "+}\r\n" + raw + "\r\n");
  EXPECT_TRUE(contains(out, "a NO [OVERQUOTA]")) << out;
  EXPECT_TRUE(contains(c.cmd("b", "STATUS INBOX (MESSAGES)"), "(MESSAGES 0)"));
}

}  // namespace
}  // namespace refmail::imap::test

namespace refmail::imap::test {
namespace {

bool in(const std::string& out, const std::string& what) { return out.find(what) != std::string::npos; }

std::uint64_t highest(storage::Store& s, const char* mailbox) {
  auto boxes = s.list_mailboxes("alice@example.test");
  for (const auto& b : *boxes)
    if (b.name == mailbox) return *s.highest_modseq("alice@example.test", b.mailbox_id);
  return 0;
}

TEST_P(EngineFixture, CondstoreModseqs) {
  for (int i = 1; i <= 3; ++i) deliver(message(i));
  auto c = client();
  EXPECT_TRUE(in(c.cmd("e", "ENABLE CONDSTORE"), "* ENABLED CONDSTORE\r\n"));
  const auto h0 = highest(*store_, "INBOX");
  auto out = c.cmd("a", "SELECT INBOX");
  EXPECT_TRUE(in(out, "* OK [HIGHESTMODSEQ " + std::to_string(h0) + "]")) << out;
  out = c.cmd("b", "STORE 2 +FLAGS (\\Answered)");
  const auto h1 = highest(*store_, "INBOX");
  EXPECT_GT(h1, h0);
  EXPECT_EQ(out, "* 2 FETCH (FLAGS (\\Answered) MODSEQ (" + std::to_string(h1) + "))\r\nb OK STORE completed\r\n");
  out = c.cmd("f", "FETCH 1:* (FLAGS) (CHANGEDSINCE " + std::to_string(h0) + ")");
  EXPECT_EQ(out, "* 2 FETCH (FLAGS (\\Answered) MODSEQ (" + std::to_string(h1) + "))\r\nf OK FETCH completed\r\n");
  out = c.cmd("s", "SEARCH MODSEQ " + std::to_string(h1));
  EXPECT_EQ(out, "* SEARCH 2 (MODSEQ " + std::to_string(h1) + ")\r\ns OK SEARCH completed\r\n");
  EXPECT_TRUE(in(c.cmd("t", "STATUS INBOX (HIGHESTMODSEQ)"), "HIGHESTMODSEQ " + std::to_string(h1)));
}

TEST_P(EngineFixture, QresyncReportsVanishedAndChanged) {
  for (int i = 1; i <= 5; ++i) deliver(message(i));
  auto boxes = store_->list_mailboxes("alice@example.test");
  std::uint32_t validity = 0;
  for (const auto& b : *boxes)
    if (b.name == "INBOX") validity = b.uidvalidity;
  const auto h0 = highest(*store_, "INBOX");
  // Another client changes the mailbox while this one is away.
  {
    auto other = client();
    other.cmd("a", "SELECT INBOX");
    other.cmd("b", "STORE 2 +FLAGS.SILENT (\\Seen)");
    other.cmd("c", "STORE 4 +FLAGS.SILENT (\\Deleted)");
    other.cmd("d", "EXPUNGE");
  }
  auto c = client();
  EXPECT_TRUE(in(c.cmd("s", "SELECT INBOX (QRESYNC (1 1))"), "s BAD"));
  EXPECT_TRUE(in(c.cmd("e", "ENABLE QRESYNC"), "* ENABLED QRESYNC\r\n"));
  auto out = c.cmd("a", "SELECT INBOX (QRESYNC (" + std::to_string(validity) + " " + std::to_string(h0) + " 1:5))");
  EXPECT_TRUE(in(out, "* VANISHED (EARLIER) 4\r\n")) << out;
  EXPECT_TRUE(in(out, "* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ (")) << out;
  EXPECT_TRUE(in(out, "* 4 EXISTS\r\n")) << out;
  // Expunges are VANISHED now, never EXPUNGE.
  c.cmd("b", "STORE 1 +FLAGS.SILENT (\\Deleted)");
  EXPECT_EQ(c.cmd("c", "EXPUNGE"), "* VANISHED 1\r\nc OK EXPUNGE completed\r\n");
  out = c.cmd("f", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + std::to_string(h0) + " VANISHED)");
  EXPECT_TRUE(in(out, "* VANISHED (EARLIER) 1,4\r\n")) << out;
  // A wrong UIDVALIDITY: a plain SELECT.
  out = c.cmd("g", "SELECT INBOX (QRESYNC (" + std::to_string(validity + 1) + " " + std::to_string(h0) + "))");
  EXPECT_FALSE(in(out, "VANISHED")) << out;
  EXPECT_TRUE(in(out, "g OK [READ-WRITE]")) << out;
}

}  // namespace
}  // namespace refmail::imap::test

namespace refmail::imap::test {
namespace {

TEST_P(EngineFixture, QuotaRootIsTheAccount) {
  deliver(message(1));
  auto c = client();
  EXPECT_EQ(c.cmd("a", "GETQUOTAROOT INBOX"), "* QUOTAROOT \"INBOX\" \"\"\r\n* QUOTA \"\" ()\r\na OK GETQUOTAROOT completed\r\n");
  ASSERT_TRUE(store_->set_quota("alice@example.test", 10 * 1024 * 1024));
  EXPECT_EQ(c.cmd("b", "GETQUOTA \"\""), "* QUOTA \"\" (STORAGE 1 10240)\r\nb OK GETQUOTA completed\r\n");
  EXPECT_EQ(c.cmd("c", "SETQUOTA \"\" (STORAGE 1)"), "c NO [NOPERM] Quotas are set by the administrator\r\n");
  EXPECT_EQ(c.cmd("d", "GETQUOTAROOT Nowhere"), "d NO [NONEXISTENT] No such mailbox\r\n");
}

}  // namespace
}  // namespace refmail::imap::test

namespace refmail::imap::test {
namespace {

std::string dated(int n, const std::string& subject, const std::string& from, const std::string& date) {
  return "From: " + from + "\r\nTo: alice@example.test\r\nSubject: " + subject + "\r\nDate: " + date +
         "\r\nMessage-ID: <s" + std::to_string(n) + "@outside.test>\r\n\r\nbody " + std::to_string(n) + "\r\n";
}

TEST_P(EngineFixture, SortAndOrderedSubjectThreads) {
  deliver(dated(1, "Lunch", "zed@x.test", "Mon, 1 Jan 2024 12:00:00 +0000"));
  deliver(dated(2, "Re: Lunch", "amy@x.test", "Mon, 1 Jan 2024 13:00:00 +0000"));
  deliver(dated(3, "Budget", "bob@x.test", "Mon, 1 Jan 2024 09:00:00 +0000"));
  deliver(dated(4, "Fwd: lunch", "cat@x.test", "Mon, 1 Jan 2024 14:00:00 +0000"));
  auto c = client();
  c.cmd("a", "SELECT INBOX");
  EXPECT_EQ(c.cmd("b", "SORT (DATE) UTF-8 ALL"), "* SORT 3 1 2 4\r\nb OK SORT completed\r\n");
  EXPECT_EQ(c.cmd("c", "SORT (REVERSE DATE) UTF-8 ALL"), "* SORT 4 2 1 3\r\nc OK SORT completed\r\n");
  EXPECT_EQ(c.cmd("d", "SORT (FROM) UTF-8 ALL"), "* SORT 2 3 4 1\r\nd OK SORT completed\r\n");
  EXPECT_EQ(c.cmd("e", "SORT (SUBJECT DATE) UTF-8 NOT FROM bob"), "* SORT 1 2 4\r\ne OK SORT completed\r\n");
  EXPECT_EQ(c.cmd("f", "UID SORT (SUBJECT) US-ASCII ALL"), "* SORT 3 1 2 4\r\nf OK UID SORT completed\r\n");
  EXPECT_EQ(c.cmd("g", "THREAD ORDEREDSUBJECT UTF-8 ALL"), "* THREAD (3)(1 (2)(4))\r\ng OK THREAD completed\r\n");
  EXPECT_EQ(c.cmd("h", "THREAD ORDEREDSUBJECT UTF-8 NOT SUBJECT fwd"), "* THREAD (3)(1 2)\r\nh OK THREAD completed\r\n");
}

std::string threaded(int n, const std::string& subject, const std::string& date, const std::string& refs) {
  return "From: a@x.test\r\nTo: alice@example.test\r\nSubject: " + subject + "\r\nDate: " + date +
         "\r\nMessage-ID: <t" + std::to_string(n) + "@x>\r\n" + refs + "\r\nbody\r\n";
}

TEST_P(EngineFixture, ThreadReferences) {
  // 1 <- 2 <- 3, 1 <- 4 (two replies to 1, one to 2); 5 alone; 6 replies to a message
  // this mailbox does not have (<gone@x>), as does 7: they join under a dummy; 8 has
  // 5's subject with Re: and no references: it joins 5's thread.
  deliver(threaded(1, "Plan", "Mon, 1 Jan 2024 10:00:00 +0000", ""));
  deliver(threaded(2, "Re: Plan", "Mon, 1 Jan 2024 11:00:00 +0000", "References: <t1@x>\r\n"));
  deliver(threaded(3, "Re: Plan", "Mon, 1 Jan 2024 12:00:00 +0000", "References: <t1@x> <t2@x>\r\n"));
  deliver(threaded(4, "Re: Plan", "Mon, 1 Jan 2024 13:00:00 +0000", "In-Reply-To: <t1@x>\r\n"));
  deliver(threaded(5, "Other", "Mon, 1 Jan 2024 09:00:00 +0000", ""));
  deliver(threaded(6, "Re: Lost", "Mon, 1 Jan 2024 14:00:00 +0000", "References: <gone@x>\r\n"));
  deliver(threaded(7, "Re: Lost", "Mon, 1 Jan 2024 15:00:00 +0000", "References: <gone@x>\r\n"));
  deliver(threaded(8, "Re: Other", "Mon, 1 Jan 2024 16:00:00 +0000", ""));
  auto c = client();
  c.cmd("a", "SELECT INBOX");
  EXPECT_EQ(c.cmd("b", "THREAD REFERENCES UTF-8 ALL"),
            "* THREAD (5 8)(1 (2 3)(4))((6)(7))\r\nb OK THREAD completed\r\n");
  EXPECT_EQ(c.cmd("c", "UID THREAD REFERENCES UTF-8 NOT SUBJECT lost"),
            "* THREAD (5 8)(1 (2 3)(4))\r\nc OK UID THREAD completed\r\n");
  EXPECT_EQ(c.cmd("d", "THREAD REFERENCES UTF-8 SUBJECT nothing"), "* THREAD\r\nd OK THREAD completed\r\n");
}

TEST_P(EngineFixture, ThreadReferencesRefusesLoops) {
  // 1 says it follows 2, 2 says it follows 1: no loop, both shown once.
  deliver(threaded(1, "Loop", "Mon, 1 Jan 2024 10:00:00 +0000", "References: <t2@x>\r\n"));
  deliver(threaded(2, "Loop", "Mon, 1 Jan 2024 11:00:00 +0000", "References: <t1@x>\r\n"));
  auto c = client();
  c.cmd("a", "SELECT INBOX");
  auto out = c.cmd("b", "THREAD REFERENCES UTF-8 ALL");
  EXPECT_TRUE(out == "* THREAD (2 1)\r\nb OK THREAD completed\r\n" || out == "* THREAD (1 2)\r\nb OK THREAD completed\r\n") << out;
}

}  // namespace
}  // namespace refmail::imap::test

namespace refmail::imap::test {
namespace {

bool got(const std::string& out, const std::string& what) { return out.find(what) != std::string::npos; }

TEST_P(EngineFixture, FetchStructureSectionsAndBinary) {
  const std::string payload(60000, 'q');
  const std::string raw = web::testing::mime_with_attachment("report", payload);
  deliver(raw);
  auto c = client();
  c.cmd("a", "SELECT INBOX");
  auto out = c.cmd("b", "FETCH 1 (ENVELOPE BODYSTRUCTURE)");
  EXPECT_TRUE(got(out, "ENVELOPE (\"Mon, 1 Jan 2024 10:00:00 +0000\" \"report\" ((\"Sender\" NIL \"sender\" \"outside.test\"))"))
      << out;
  EXPECT_TRUE(got(out, "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 20 0")) << out;
  EXPECT_TRUE(got(out, "(\"application\" \"pdf\" (\"name\" \"report.pdf\") NIL NIL \"base64\" ")) << out;
  EXPECT_TRUE(got(out, "\"mixed\" (\"boundary\" \"b1\")")) << out;
  EXPECT_TRUE(got(out, "b OK FETCH completed")) << out;
  // Sections are the original bytes.
  const auto header_end = raw.find("\r\n\r\n") + 4;
  out = c.cmd("c", "FETCH 1 (BODY.PEEK[HEADER])");
  EXPECT_EQ(out, "* 1 FETCH (BODY[HEADER] {" + std::to_string(header_end) + "}\r\n" + raw.substr(0, header_end) +
                     ")\r\nc OK FETCH completed\r\n");
  out = c.cmd("d", "FETCH 1 (BODY.PEEK[1])");
  EXPECT_EQ(out, "* 1 FETCH (BODY[1] {20}\r\nSee attached report.)\r\nd OK FETCH completed\r\n");
  out = c.cmd("e", "FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])");
  EXPECT_EQ(out, "* 1 FETCH (BODY[HEADER.FIELDS (Subject)] {19}\r\nSubject: report\r\n\r\n)\r\ne OK FETCH completed\r\n");
  // The cut attachment: BODY[3] as encoded in the message, BINARY[3] the stored blob.
  const auto b64_start = raw.find("base64\r\n\r\n") + 10;
  const auto b64_end = raw.find("--b1--") - 2;
  out = c.cmd("f", "FETCH 1 (BODY.PEEK[3]<0.100>)");
  EXPECT_EQ(out, "* 1 FETCH (BODY[3]<0> {100}\r\n" + raw.substr(b64_start, 100) + ")\r\nf OK FETCH completed\r\n");
  out = c.cmd("g", "FETCH 1 (BINARY.SIZE[3] BINARY.PEEK[3])");
  EXPECT_EQ(out, "* 1 FETCH (BINARY.SIZE[3] 60000 BINARY[3] ~{60000}\r\n" + payload + ")\r\ng OK FETCH completed\r\n");
  out = c.cmd("h", "FETCH 1 (BODY.PEEK[3])");
  EXPECT_TRUE(got(out, "{" + std::to_string(b64_end - b64_start) + "}\r\n" + raw.substr(b64_start, b64_end - b64_start) + ")"));
  out = c.cmd("i", "FETCH 1 (BINARY.PEEK[2])");  // uncut: decoded here
  EXPECT_EQ(out, "* 1 FETCH (BINARY[2] ~{9}\r\ntiny note)\r\ni OK FETCH completed\r\n");
  out = c.cmd("j", "FETCH 1 (RFC822.HEADER)");
  EXPECT_TRUE(got(out, "RFC822.HEADER {" + std::to_string(header_end) + "}")) << out;
  EXPECT_TRUE(got(c.cmd("k", "FETCH 1 FLAGS"), "FLAGS ()"));  // nothing above set \Seen
  EXPECT_EQ(c.cmd("l", "FETCH 1 (BODY.PEEK[9])"), "l NO FETCH: no such part in message 1\r\n");
  out = c.cmd("m", "FETCH 1 (BODY[TEXT])");
  EXPECT_TRUE(got(out, "BODY[TEXT] {" + std::to_string(raw.size() - header_end) + "}\r\n" + raw.substr(header_end) +
                           " FLAGS (\\Seen))"))
      << out.substr(0, 100);
  out = c.cmd("n", "FETCH 1 BODY");
  EXPECT_TRUE(got(out, "BODY ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 20 0)")) << out;
}

INSTANTIATE_TEST_SUITE_P(Feeds, EngineFixture,
                         ::testing::Values(Client::Feed::Whole, Client::Feed::ByteByByte, Client::Feed::Chunks),
                         [](const ::testing::TestParamInfo<Client::Feed>& info) {
                           switch (info.param) {
                             case Client::Feed::Whole: return "Whole";
                             case Client::Feed::ByteByByte: return "ByteByByte";
                             default: return "Chunks";
                           }
                         });

}  // namespace
}  // namespace refmail::imap::test
