// Server command parser: the small commands (RFC 9051 6.1-6.3, RFC 2971, 9208, 4978, 5161).
#include "tests/unit/imap/harness.hpp"

namespace refmail::imap::test {
namespace {

TEST(ImapCommands, NoArgumentCommands) {
  auto ev = run("a1 CAPABILITY\r\na2 noop\r\na3 LOGOUT\r\na4 STARTTLS\r\na5 NAMESPACE\r\na6 CHECK\r\n"
                "a7 CLOSE\r\na8 UNSELECT\r\na9 EXPUNGE\r\n");
  ASSERT_EQ(ev.size(), 9u);
  const char* names[] = {"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "NAMESPACE", "CHECK", "CLOSE", "UNSELECT", "EXPUNGE"};
  for (std::size_t i = 0; i < ev.size(); ++i) {
    ASSERT_EQ(ev[i].kind, ReaderEvent::Kind::Command) << i;
    EXPECT_EQ(ev[i].command->tag, "a" + std::to_string(i + 1));
    EXPECT_EQ(command_name(*ev[i].command), names[i]);
  }
}

TEST(ImapCommands, TrailingArgumentsAreBad) {
  auto e = parse_bad("a1 NOOP now");
  EXPECT_EQ(e.tag, "a1");
  EXPECT_EQ(e.code, errc::syntax);
  EXPECT_EQ(parse_bad("a1 CAPABILITY ").tag, "a1");
}

TEST(ImapCommands, UnknownCommand) {
  auto e = parse_bad("x FROB 1");
  EXPECT_EQ(e.tag, "x");
  EXPECT_EQ(e.code, errc::unknown_command);
  EXPECT_EQ(parse_bad("x UID NOOP").code, errc::unknown_command);
}

TEST(ImapCommands, InvalidTags) {
  EXPECT_EQ(parse_bad("+tag NOOP").tag, "");
  EXPECT_EQ(parse_bad("a+b NOOP").tag, "");
  EXPECT_EQ(parse_bad("a(b NOOP").tag, "");
  EXPECT_EQ(parse_bad("* NOOP").tag, "");
  EXPECT_EQ(parse_bad(" NOOP").tag, "");
  EXPECT_EQ(parse_bad("tag").tag, "tag");  // a tag alone: missing command
  // ']' is an ASTRING-CHAR, so allowed in a tag.
  EXPECT_EQ(parse_ok<Noop>("a]1 NOOP"), Noop{});
}

TEST(ImapCommands, Login) {
  auto l = parse_ok<Login>("a LOGIN fred \"pass \\\"word\\\\\"");
  EXPECT_EQ(l.user, "fred");
  EXPECT_EQ(l.password, "pass \"word\\");
  auto l2 = parse_ok<Login>("a login {4+}\r\nfred {3+}\r\n\xc3\xa9x");
  EXPECT_EQ(l2.user, "fred");
  EXPECT_EQ(l2.password, "\xc3\xa9x");  // 8-bit is fine in a literal
  EXPECT_EQ(parse_bad("a LOGIN fred").code, errc::syntax);
  EXPECT_EQ(parse_bad("a LOGIN fred \"x\\y\"").code, errc::syntax);  // only \" and \\ escape
  EXPECT_EQ(parse_bad("a LOGIN fred \"unterminated").code, errc::syntax);
}

TEST(ImapCommands, Authenticate) {
  auto a = parse_ok<Authenticate>("a AUTHENTICATE plain");
  EXPECT_EQ(a.mechanism, "PLAIN");
  EXPECT_FALSE(a.initial_response);
  auto b = parse_ok<Authenticate>("a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0");
  EXPECT_EQ(b.initial_response, "AGZyZWQAc2VjcmV0");
  auto c = parse_ok<Authenticate>("a AUTHENTICATE EXTERNAL =");
  EXPECT_EQ(c.initial_response, "=");
  EXPECT_EQ(parse_ok<Authenticate>("a AUTHENTICATE PLAIN AGZyZQ==").initial_response, "AGZyZQ==");
  parse_bad("a AUTHENTICATE PLAIN AGZ");      // not a multiple of 4
  parse_bad("a AUTHENTICATE PLAIN A=GZ");     // padding in the middle
  parse_bad("a AUTHENTICATE PLAIN AGZ*");
  parse_bad("a AUTHENTICATE");
}

TEST(ImapCommands, AuthenticateSaslLines) {
  auto ev = run("a AUTHENTICATE PLAIN\r\nAGZyZWQAc2VjcmV0\r\nb NOOP\r\n");
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[1].kind, ReaderEvent::Kind::SaslLine);
  EXPECT_EQ(ev[1].line, "AGZyZWQAc2VjcmV0");
  EXPECT_EQ(ev[2].kind, ReaderEvent::Kind::Command);
  // The cancel line "*" comes back as a line too (the session answers BAD).
  ev = run("a AUTHENTICATE LOGIN\r\n*\r\n");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].line, "*");
}

TEST(ImapCommands, Enable) {
  auto e = parse_ok<Enable>("a ENABLE CONDSTORE utf8=accept QRESYNC");
  EXPECT_EQ(e.capabilities, (std::vector<std::string>{"CONDSTORE", "UTF8=ACCEPT", "QRESYNC"}));
  parse_bad("a ENABLE");
  parse_bad("a ENABLE ");
}

TEST(ImapCommands, Idle) {
  auto ev = run("a IDLE\r\nDONE\r\nb IDLE\r\ndone\r\nc IDLE\r\nNOPE\r\nd NOOP\r\n");
  ASSERT_EQ(ev.size(), 7u);
  EXPECT_EQ(ev[1].kind, ReaderEvent::Kind::IdleDone);
  EXPECT_EQ(ev[3].kind, ReaderEvent::Kind::IdleDone);
  EXPECT_EQ(ev[5].kind, ReaderEvent::Kind::Error);
  EXPECT_EQ(ev[6].kind, ReaderEvent::Kind::Command);
  // Without expect_idle_done(), DONE is a (bad) command line.
  Policy p;
  p.auto_idle = false;
  ev = run("a IDLE\r\nDONE\r\n", p);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].kind, ReaderEvent::Kind::Error);
}

TEST(ImapCommands, Id) {
  auto a = parse_ok<Id>("a ID NIL");
  EXPECT_FALSE(a.fields);
  auto b = parse_ok<Id>("a ID (\"name\" \"Thunderbird\" \"version\" \"115.0\" \"os\" NIL)");
  ASSERT_TRUE(b.fields);
  ASSERT_EQ(b.fields->size(), 3u);
  EXPECT_EQ((*b.fields)[1].second, "115.0");
  EXPECT_FALSE((*b.fields)[2].second);
  EXPECT_TRUE(parse_ok<Id>("a ID ()").fields->empty());
  parse_bad("a ID (\"name\")");
  std::string many = "a ID (";
  for (int i = 0; i < 31; ++i) many += (i ? " " : "") + std::string("\"k\" \"v\"");
  EXPECT_EQ(parse_bad(many + ")").code, errc::too_many_items);
}

TEST(ImapCommands, Quota) {
  EXPECT_EQ(parse_ok<GetQuota>("a GETQUOTA \"\"").root, "");
  EXPECT_EQ(parse_ok<GetQuotaRoot>("a GETQUOTAROOT inbox").mailbox, "INBOX");
  auto s = parse_ok<SetQuota>("a SETQUOTA \"\" (STORAGE 512 message 1000)");
  ASSERT_EQ(s.limits.size(), 2u);
  EXPECT_EQ(s.limits[1], (std::pair<std::string, std::uint64_t>{"MESSAGE", 1000}));
  EXPECT_TRUE(parse_ok<SetQuota>("a SETQUOTA \"\" ()").limits.empty());
  parse_bad("a SETQUOTA \"\" (STORAGE)");
}

TEST(ImapCommands, Compress) {
  EXPECT_EQ(parse_ok<Compress>("a COMPRESS deflate").mechanism, "DEFLATE");
  parse_bad("a COMPRESS");
}

TEST(ImapCommands, Rename) {
  auto r = parse_ok<Rename>("a RENAME \"Old\" New/Sub");
  EXPECT_EQ(r.from, "Old");
  EXPECT_EQ(r.to, "New/Sub");
  EXPECT_EQ(parse_ok<Delete>("a DELETE foo").mailbox, "foo");
  EXPECT_EQ(parse_ok<Subscribe>("a SUBSCRIBE foo").mailbox, "foo");
  EXPECT_EQ(parse_ok<Unsubscribe>("a UNSUBSCRIBE {3+}\r\nfoo").mailbox, "foo");
}

}  // namespace
}  // namespace refmail::imap::test
