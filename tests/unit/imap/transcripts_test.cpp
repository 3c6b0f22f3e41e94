// Server command reader and parser over what real clients send (Thunderbird, iOS Mail,
// mbsync, mutt), each transcript fed whole, byte by byte and in random chunks.
#include "tests/unit/imap/harness.hpp"

namespace refmail::imap::test {
namespace {

using Kind = ReaderEvent::Kind;

std::vector<std::string> names(const std::vector<Rec>& ev) {
  std::vector<std::string> n;
  for (const auto& e : ev) {
    if (e.kind == Kind::Command) n.push_back(command_name(*e.command));
    else if (e.kind == Kind::Error) n.push_back("ERROR " + e.error.text);
    else if (e.kind == Kind::IdleDone) n.push_back("DONE");
    else if (e.kind == Kind::SaslLine) n.push_back("SASL");
    else if (e.kind == Kind::Continuation) n.push_back("+");
    else if (e.kind == Kind::AppendBegin) n.push_back("APPEND-BEGIN");
    else if (e.kind == Kind::AppendData) n.push_back("DATA");
    else if (e.kind == Kind::AppendEnd) n.push_back("APPEND-END");
  }
  return n;
}

TEST(ImapTranscripts, Thunderbird) {
  auto ev = run(
      "1 capability\r\n2 authenticate PLAIN\r\nAGZyZWQAc2VjcmV0\r\n3 capability\r\n"
      "4 ID (\"name\" \"Thunderbird\" \"version\" \"115.6.0\")\r\n5 enable UTF8=ACCEPT CONDSTORE\r\n"
      "6 list (subscribed) \"\" \"*\" return (special-use)\r\n7 lsub \"\" \"*\"\r\n8 select \"INBOX\" (CONDSTORE)\r\n"
      "9 UID fetch 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n10 IDLE\r\nDONE\r\n"
      "12 UID fetch 412 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID "
      "Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])\r\n"
      "13 UID fetch 412 (UID RFC822.SIZE BODY.PEEK[])\r\n14 UID store 412 +FLAGS (\\Seen)\r\n"
      "15 UID copy 410:412 \"Archives/2023\"\r\n16 UID store 410:412 +FLAGS.SILENT (\\Deleted)\r\n17 expunge\r\n"
      "18 getquotaroot \"INBOX\"\r\n19 logout\r\n");
  EXPECT_EQ(names(ev), (std::vector<std::string>{"CAPABILITY", "AUTHENTICATE", "SASL", "CAPABILITY", "ID", "ENABLE",
                                                 "LIST", "LSUB", "SELECT", "UID FETCH", "IDLE", "DONE", "UID FETCH",
                                                 "UID FETCH", "UID STORE", "UID COPY", "UID STORE", "EXPUNGE",
                                                 "GETQUOTAROOT", "LOGOUT"}));
}

TEST(ImapTranscripts, IosMail) {
  auto ev = run(
      "1.1 CAPABILITY\r\n1.2 LOGIN \"user@example.com\" \"p4ss\"\r\n"
      "1.3 ID (\"name\" \"iPhone Mail\" \"version\" \"20E252\" \"os\" \"iOS\" \"os-version\" \"16.4.1 (20E252)\")\r\n"
      "1.4 LIST \"\" \"\"\r\n1.5 LIST \"\" *\r\n1.6 SELECT INBOX\r\n1.7 UID SEARCH 1:* NOT DELETED\r\n"
      "1.8 UID FETCH 1:50 (INTERNALDATE UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (date subject from to cc "
      "message-id in-reply-to references content-type x-priority x-uniform-type-identifier "
      "x-universally-unique-identifier list-id list-unsubscribe)])\r\n"
      "1.9 UID FETCH 50 (BODYSTRUCTURE BODY.PEEK[1]<0.2048>)\r\n1.10 IDLE\r\ndone\r\n");
  EXPECT_EQ(names(ev), (std::vector<std::string>{"CAPABILITY", "LOGIN", "ID", "LIST", "LIST", "SELECT", "UID SEARCH",
                                                 "UID FETCH", "UID FETCH", "IDLE", "DONE"}));
}

TEST(ImapTranscripts, Mbsync) {
  std::string msg = "From: a@example.org\r\nSubject: x\r\n\r\nhello world\r\n";
  auto ev = run("1 CAPABILITY\r\n2 LOGIN \"joe\" {6+}\r\nsecret\r\n3 LIST \"\" \"*\"\r\n4 SELECT \"INBOX\"\r\n"
                "5 UID FETCH 1:1000000000 (UID FLAGS)\r\n6 APPEND \"INBOX\" (\\Seen) {" +
                std::to_string(msg.size()) + "+}\r\n" + msg +
                "\r\n7 UID FETCH 7 (BODY.PEEK[HEADER.FIELDS (X-TUID)])\r\n"
                "8 UID STORE 3,5:6 +FLAGS.SILENT (\\Deleted)\r\n9 UID EXPUNGE 3,5:6\r\n10 CLOSE\r\n11 LOGOUT\r\n");
  EXPECT_EQ(names(ev), (std::vector<std::string>{"CAPABILITY", "LOGIN", "LIST", "SELECT", "UID FETCH", "APPEND-BEGIN",
                                                 "DATA", "APPEND-END", "APPEND", "UID FETCH", "UID STORE",
                                                 "UID EXPUNGE", "CLOSE", "LOGOUT"}));
  EXPECT_EQ(ev[6].data, msg);
}

TEST(ImapTranscripts, Mutt) {
  auto ev = run(
      "a0000 CAPABILITY\r\na0002 AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=\r\na0003 LIST \"\" \"%\"\r\n"
      "a0004 SELECT \"INBOX\"\r\na0005 FETCH 1:12 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS "
      "(DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO "
      "REPLY-TO LINES LIST-POST X-LABEL X-ORIGINAL-TO)])\r\na0006 UID STORE 5 +FLAGS.SILENT (\\Seen)\r\n"
      "a0007 UID MOVE 5 \"Trash\"\r\na0008 STATUS \"Sent\" (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)\r\n");
  EXPECT_EQ(names(ev), (std::vector<std::string>{"CAPABILITY", "AUTHENTICATE", "LIST", "SELECT", "FETCH", "UID STORE",
                                                 "UID MOVE", "STATUS"}));
}

}  // namespace
}  // namespace refmail::imap::test
