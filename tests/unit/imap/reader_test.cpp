// Server command reader: literals ({n}, {n+}, LITERAL-, ~{n}), APPEND streaming and
// MULTIAPPEND, APPENDLIMIT (TOOBIG), resynchronisation after errors.
#include "tests/unit/imap/harness.hpp"

namespace refmail::imap::test {
namespace {

using Kind = ReaderEvent::Kind;

std::vector<Kind> kinds(const std::vector<Rec>& ev) {
  std::vector<Kind> k;
  for (const auto& e : ev) k.push_back(e.kind);
  return k;
}

TEST(ImapReader, SynchronizingLiteralAsksForContinuation) {
  auto ev = run("a LOGIN {4}\r\nfred {6}\r\nsecret\r\nb NOOP\r\n");
  EXPECT_EQ(kinds(ev), (std::vector<Kind>{Kind::Continuation, Kind::Continuation, Kind::Command, Kind::Command}));
  auto& l = std::get<Login>(ev[2].command->body);
  EXPECT_EQ(l.user, "fred");
  EXPECT_EQ(l.password, "secret");
}

TEST(ImapReader, ContinuationComesBeforeTheLiteralArrives) {
  CommandReader r;
  r.feed("a LOGIN {4}\r\n");
  EXPECT_EQ(r.next().kind, Kind::Continuation);
  EXPECT_EQ(r.next().kind, Kind::NeedMore);
  r.feed("fred x\r\n");
  auto e = r.next();
  ASSERT_EQ(e.kind, Kind::Command);
  EXPECT_EQ(std::get<Login>(e.command->body).password, "x");
}

TEST(ImapReader, NonSynchronizingLiteral) {
  auto ev = run("a LOGIN {4+}\r\nfred {0+}\r\n\r\n");
  ASSERT_EQ(kinds(ev), std::vector<Kind>{Kind::Command});
  EXPECT_EQ(std::get<Login>(ev[0].command->body).user, "fred");
  EXPECT_EQ(std::get<Login>(ev[0].command->body).password, "");
  // A literal may hold CR, LF and '{' without ending anything.
  ev = run("a LOGIN {8+}\r\nf\r\n{1}\r\n x\r\n");
  ASSERT_EQ(kinds(ev), std::vector<Kind>{Kind::Command});
  EXPECT_EQ(std::get<Login>(ev[0].command->body).user, "f\r\n{1}\r\n");
}

TEST(ImapReader, LiteralMinus) {
  Policy p;
  p.options.non_sync = NonSyncLiterals::LiteralMinus;
  std::string big(4097, 'x');
  auto ev = run("a LOGIN fred {4097+}\r\n" + big + "\r\nb NOOP\r\n", p);
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[0].error.tag, "a");
  EXPECT_EQ(ev[0].error.code, errc::literal_too_large);
  ev = run("a LOGIN fred {4096+}\r\n" + big.substr(1) + "\r\n", p);
  ASSERT_EQ(kinds(ev), std::vector<Kind>{Kind::Command});
  // A synchronizing literal of the same size is fine under LITERAL-.
  ev = run("a LOGIN fred {4097}\r\n" + big + "\r\n", p);
  EXPECT_EQ(kinds(ev), (std::vector<Kind>{Kind::Continuation, Kind::Command}));
}

TEST(ImapReader, NonSyncRefusedWhenNotAdvertised) {
  Policy p;
  p.options.non_sync = NonSyncLiterals::None;
  auto ev = run("a LOGIN {4+}\r\nfred x\r\nb NOOP\r\n", p);
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[0].error.code, errc::bad_literal);
}

TEST(ImapReader, LiteralTooLargeSynchronizing) {
  Policy p;
  p.limits.max_literal_bytes = 100;
  // No "+" is sent; the client does not send the literal; the next line is a command.
  auto ev = run("a LOGIN fred {101}\r\nb NOOP\r\n", p);
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[0].error.tag, "a");
  EXPECT_EQ(ev[0].error.code, errc::literal_too_large);
}

TEST(ImapReader, LiteralTooLargeNonSyncIsDiscarded) {
  Policy p;
  p.limits.max_literal_bytes = 100;
  std::string junk(500, 'z');
  junk.replace(100, 9, "\r\nc NOOP\r\n");  // looks like a command, but is literal data
  auto ev = run("a LOGIN fred {500+}\r\n" + junk + " more {3+}\r\nabc\r\nb NOOP\r\n", p);
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[0].error.code, errc::literal_too_large);
  EXPECT_EQ(ev[1].command->tag, "b");
}

TEST(ImapReader, Append) {
  std::string msg = "From: a@b\r\nSubject: hi\r\n\r\nbody {5}\r\n";
  auto ev = run("A003 APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {" +
                std::to_string(msg.size()) + "}\r\n" + msg + "\r\n");
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::AppendBegin, Kind::Continuation, Kind::AppendData, Kind::AppendEnd,
                                          Kind::Command}));
  EXPECT_EQ(ev[0].append.tag, "A003");
  EXPECT_EQ(ev[0].append.mailbox, "saved-messages");
  EXPECT_EQ(ev[0].append.message.flags, FlagList{"\\Seen"});
  ASSERT_TRUE(ev[0].append.message.date);
  EXPECT_EQ(ev[0].append.message.date->zone_minutes, -480);
  EXPECT_EQ(ev[0].append.message.size, msg.size());
  EXPECT_TRUE(ev[0].append.synchronizing);
  EXPECT_EQ(ev[2].data, msg);
  auto& a = std::get<Append>(ev[4].command->body);
  ASSERT_EQ(a.messages.size(), 1u);
  EXPECT_EQ(a.messages[0].size, msg.size());
}

TEST(ImapReader, MultiAppendLiteralPlusAndBinary) {
  std::string in = "a APPEND {5+}\r\nDraft {3+}\r\none (\\Draft $X) ~{4+}\r\nt\0w\n \"01-Jan-2020 00:00:00 +0000\" {0}\r\n\r\n";
  in.assign("a APPEND {5+}\r\nDraft {3+}\r\none (\\Draft $X) ~{4+}\r\nt");
  in.push_back('\0');
  in += "w\n \"01-Jan-2020 00:00:00 +0000\" {0}\r\n\r\n";
  auto ev = run(in);
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::AppendBegin, Kind::AppendData, Kind::AppendEnd, Kind::AppendBegin,
                                          Kind::AppendData, Kind::AppendEnd, Kind::AppendBegin, Kind::Continuation,
                                          Kind::AppendEnd, Kind::Command}));
  EXPECT_EQ(ev[0].append.mailbox, "Draft");
  EXPECT_FALSE(ev[0].append.synchronizing);
  EXPECT_EQ(ev[1].data, "one");
  EXPECT_EQ(ev[3].append.index, 1u);
  EXPECT_EQ(ev[3].append.mailbox, "Draft");
  EXPECT_TRUE(ev[3].append.message.binary);
  EXPECT_EQ(ev[3].append.message.flags, (FlagList{"\\Draft", "$X"}));
  EXPECT_EQ(ev[4].data, std::string("t\0w\n", 4));
  EXPECT_EQ(ev[6].append.message.size, 0u);
  auto& a = std::get<Append>(ev[9].command->body);
  ASSERT_EQ(a.messages.size(), 3u);
  EXPECT_TRUE(a.messages[1].binary);
  EXPECT_EQ(a.messages[2].date->date.year, 2020);
}

TEST(ImapReader, AppendOverLimitSynchronizingIsTooBig) {
  Policy p;
  p.limits.max_append_bytes = 1000;
  auto ev = run("a APPEND INBOX {1001}\r\nb NOOP\r\n", p);
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[0].error.tag, "a");
  EXPECT_EQ(ev[0].error.code, errc::too_big);
}

TEST(ImapReader, AppendOverLimitNonSyncIsDiscardedAsItStreams) {
  Policy p;
  p.limits.max_append_bytes = 1000;
  std::string msg(5000, 'm');
  std::size_t max_buffered = 0;
  std::string in = "a APPEND INBOX {5000+}\r\n" + msg + "\r\nb NOOP\r\n";
  auto ev = drive(in, {64}, p, &max_buffered);
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[0].error.code, errc::too_big);
  EXPECT_LE(max_buffered, 64u);
  EXPECT_EQ(run(in, p), ev);
}

TEST(ImapReader, AppendMessageIsNotBuffered) {
  // 20 MB in 64 KiB reads: the reader never holds more than one read.
  CommandReader r;
  r.feed("a APPEND INBOX {20000000+}\r\n");
  auto b = r.next();
  ASSERT_EQ(b.kind, Kind::AppendBegin);
  std::string chunk(65536, 'x');
  std::uint64_t got = 0;
  for (std::uint64_t sent = 0; sent < 20000000;) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), 20000000 - sent));
    r.feed(std::string_view(chunk).substr(0, n));
    sent += n;
    EXPECT_LE(r.buffered(), 65536u);
    for (ReaderEvent e = r.next(); e.kind != Kind::NeedMore; e = r.next()) {
      if (e.kind == Kind::AppendData) got += e.data.size();
      else ASSERT_EQ(e.kind, Kind::AppendEnd);
    }
  }
  EXPECT_EQ(got, 20000000u);
  r.feed("\r\n");
  EXPECT_EQ(r.next().kind, Kind::Command);
}

TEST(ImapReader, AbortAppend) {
  Policy p;
  p.reject_append = [](const AppendInfo& a) { return a.mailbox == "Nope"; };
  // Synchronizing: no "+", nothing more for this command, the next line is a command.
  auto ev = run("a APPEND Nope {10}\r\nb NOOP\r\n", p);
  EXPECT_EQ(kinds(ev), (std::vector<Kind>{Kind::AppendBegin, Kind::Command}));
  // Non-synchronizing: its bytes and the rest of the command are dropped silently.
  ev = run("a APPEND Nope {10+}\r\n0123456789 {2+}\r\nxy\r\nb NOOP\r\n", p);
  EXPECT_EQ(kinds(ev), (std::vector<Kind>{Kind::AppendBegin, Kind::Command}));
  EXPECT_EQ(ev[1].command->tag, "b");
}

TEST(ImapReader, AbortAppendAfterContinuationDiscards) {
  CommandReader r;
  r.feed("a APPEND INBOX {5}\r\n");
  EXPECT_EQ(r.next().kind, Kind::AppendBegin);
  EXPECT_EQ(r.next().kind, Kind::Continuation);
  r.abort_append();  // "+" went out: the 5 bytes come and are dropped
  r.feed("b NOO\r\nc NOOP\r\n");
  auto e = r.next();
  ASSERT_EQ(e.kind, Kind::Command);
  EXPECT_EQ(e.command->tag, "c");
}

TEST(ImapReader, OverlongIdleLineDoesNotLeakATag) {
  Policy p;
  p.limits.max_line_bytes = 20;
  auto ev = run("a IDLE\r\nx " + std::string(50, 'y') + "\r\nb NOOP\nc NOOP\r\n", p);
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Command, Kind::Error, Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[1].error.tag, "");
  EXPECT_EQ(ev[2].error.tag, "b");
}

TEST(ImapReader, OverlongLineTagDoesNotDependOnTheCut) {
  // fuzz_imap_command: fed whole, the tag scan ran past a DEL byte and found no tag; fed
  // byte by byte, it stopped at the line limit and took the 65 bytes as a tag.
  Policy p;
  p.limits.max_line_bytes = 64;
  std::string in = "a APPENBOX {11}0+\n" + std::string(70, 'x') + "\x7f" + std::string(9, 'x') + "\r\n\n";
  auto ev = run(in, p);  // run() checks every cut gives the same events
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Error, Kind::Error}));
  EXPECT_EQ(ev[0].error.tag, "a");
  EXPECT_EQ(ev[1].error.tag, "");
  EXPECT_EQ(run("t" + std::string(100, 'x') + " NOOP\r\n", p)[0].error.tag, "");
  EXPECT_EQ(run("tag NOOP " + std::string(100, 'x') + "\r\n", p)[0].error.tag, "tag");
}

TEST(ImapReader, LiteralAnnouncedAndNeverSent) {
  // The reader waits; the session's deadline ends it. Nothing but "+" comes out.
  auto ev = run("a LOGIN fred {10}\r\n");
  EXPECT_EQ(kinds(ev), std::vector<Kind>{Kind::Continuation});
  ev = run("a APPEND INBOX {10}\r\n");
  EXPECT_EQ(kinds(ev), (std::vector<Kind>{Kind::AppendBegin, Kind::Continuation}));
  ev = run("a APPEND INBOX {10+}\r\nabc");
  EXPECT_EQ(kinds(ev), (std::vector<Kind>{Kind::AppendBegin, Kind::AppendData}));
}

TEST(ImapReader, AppendErrors) {
  auto ev = run("a APPEND INBOX (\\Seen {3+}\r\nabc\r\nb NOOP\r\n");
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  ev = run("a APPEND INBOX \"31-Feb-2020 00:00:00 +0000\" {3}\r\nb NOOP\r\n");
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[0].error.tag, "a");
  ev = run("a APPEND INBOX {3+}\r\nabc junk\r\n");  // junk after the message
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::AppendBegin, Kind::AppendData, Kind::AppendEnd, Kind::Error}));
  ev = run("a APPEND INBOX\r\n");
  ASSERT_EQ(kinds(ev), std::vector<Kind>{Kind::Error});
  // literal8 outside APPEND data.
  ev = run("a LOGIN ~{4+}\r\nfred x\r\nb NOOP\r\n");
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[0].error.code, errc::bad_literal);
  Policy p;
  p.limits.max_append_messages = 2;
  ev = run("a APPEND INBOX {1+}\r\nx {1+}\r\ny {1+}\r\nz\r\nb NOOP\r\n", p);
  ASSERT_EQ(ev.back().kind, Kind::Command);
  EXPECT_EQ(ev[ev.size() - 2].error.code, errc::too_many_items);
}

TEST(ImapReader, LineTooLongKeepsTagAndResyncs) {
  Policy p;
  p.limits.max_line_bytes = 1000;
  std::string line = "tag1 SEARCH " + std::string(5000, 'A') + "\r\nb NOOP\r\n";
  auto ev = run(line, p);
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[0].error.tag, "tag1");
  EXPECT_EQ(ev[0].error.code, errc::line_too_long);
  // An overlong line that announces a non-synchronizing literal: its bytes are skipped.
  line = "t2 LOGIN " + std::string(5000, 'A') + " {8+}\r\nc NOOP\r\n\r\nb NOOP\r\n";
  ev = run(line, p);
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[1].command->tag, "b");
}

TEST(ImapReader, CommandTooLarge) {
  Policy p;
  p.limits.max_command_bytes = 3000;
  std::string lit(1000, 'x');
  auto ev = run("a SEARCH TEXT {1000+}\r\n" + lit + " TEXT {1000+}\r\n" + lit + " TEXT {1000+}\r\n" + lit +
                    "\r\nb NOOP\r\n",
                p);
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[0].error.code, errc::command_too_large);
}

TEST(ImapReader, BareLineEndsAndControlBytes) {
  auto ev = run("a NOOP\nb NOOP\r\n");
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[0].error.tag, "a");
  ev = run("a NO\rOP\r\nb NOOP\r\n");
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  ev = run(std::string("a LOGIN fr\0ed x\r\nb NOOP\r\n", 25));
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  ev = run(std::string("a LOGIN \"fr\0ed\" x\r\n", 19));
  ASSERT_EQ(kinds(ev), std::vector<Kind>{Kind::Error});
  ev = run(std::string("a LOGIN {5+}\r\nfr\0ed x\r\n", 23));  // NUL is no CHAR8
  ASSERT_EQ(kinds(ev), std::vector<Kind>{Kind::Error});
  ev = run("a LOGIN fr\xe9" "d x\r\n");  // 8-bit in an atom
  ASSERT_EQ(kinds(ev), std::vector<Kind>{Kind::Error});
  ev = run("\r\n\r\nb NOOP\r\n");  // empty lines
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[0].error.tag, "");
  // A bare LF still frames a literal announcement: the literal's bytes are accounted.
  ev = run("a LOGIN {5+}\nfr\ned x\r\nb NOOP\r\n");
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[1].command->tag, "b");
}

TEST(ImapReader, SaslAndIdleLinesAreBounded) {
  Policy p;
  p.limits.max_line_bytes = 100;
  auto ev = run("a AUTHENTICATE PLAIN\r\n" + std::string(1000, 'Q') + "\r\nb NOOP\r\n", p);
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Command, Kind::Error, Kind::Command}));
  EXPECT_EQ(ev[1].error.code, errc::line_too_long);
  ev = run("a IDLE\r\nDONE\nb NOOP\r\n", p);
  ASSERT_EQ(kinds(ev), (std::vector<Kind>{Kind::Command, Kind::Error, Kind::Command}));
}

TEST(ImapReader, StartTlsSeesPipelinedBytes) {
  CommandReader r;
  r.feed("a STARTTLS\r\nb LOGIN x y\r\n");
  auto e = r.next();
  ASSERT_EQ(e.kind, Kind::Command);
  EXPECT_GT(r.buffered(), 0u);  // the session refuses this (CVE-2011-0411 class)
  r.discard_buffered();
  EXPECT_EQ(r.next().kind, Kind::NeedMore);
  EXPECT_TRUE(r.at_command_boundary());
}

}  // namespace
}  // namespace refmail::imap::test
