// The SMTP client session: reply parsing, dot-stuffing, pipelined and lock-step
// transactions, STARTTLS, AUTH PLAIN/LOGIN/XOAUTH2, per-recipient outcomes, and a
// loopback run against our own server Session (with every byte split).
#include "smtp/client_session.hpp"
#include "smtp/errc.hpp"
#include "smtp/sasl.hpp"
#include "smtp/session.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <variant>

using namespace refmail::smtp;

namespace {

TEST(ReplyParser, MultiLineAndSplits) {
  const std::string wire = "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n354 go ahead\r\n550 5.1.1 no such user\n";
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    ReplyParser p;
    auto a = p.feed(std::string_view(wire).substr(0, split));
    ASSERT_TRUE(a);
    auto b = p.feed(std::string_view(wire).substr(split));
    ASSERT_TRUE(b);
    std::vector<ServerReply> all = *a;
    all.insert(all.end(), b->begin(), b->end());
    ASSERT_EQ(all.size(), 3u) << split;
    EXPECT_EQ(all[0].code, 250);
    EXPECT_EQ(all[0].lines.size(), 3u);
    EXPECT_EQ(all[0].lines[2], "SIZE 100");
    EXPECT_EQ(all[1].code, 354);
    EXPECT_EQ(all[2].enhanced(), "5.1.1");
    EXPECT_EQ(all[2].text(), "5.1.1 no such user");
  }
  ReplyParser p;
  auto r = p.feed("250\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at(0).lines.at(0), "");
}

TEST(ReplyParser, Malformed) {
  for (const char* bad : {"25\r\n", "abc hello\r\n", "250-a\r\n251 b\r\n", "250xhello\r\n", "199 x\r\n", "600 x\r\n"}) {
    ReplyParser p;
    EXPECT_FALSE(p.feed(bad)) << bad;
    EXPECT_FALSE(p.feed("250 ok\r\n"));  // stays failed
  }
  ReplyParser p;
  EXPECT_FALSE(p.feed(std::string(5000, '2')));
  ReplyParser q;
  std::string many;
  for (int i = 0; i < 200; ++i) many += "250-x\r\n";
  EXPECT_FALSE(q.feed(many));
}

TEST(DotStuff, Table) {
  EXPECT_EQ(dot_stuff(""), ".\r\n");
  EXPECT_EQ(dot_stuff("a\r\n"), "a\r\n.\r\n");
  EXPECT_EQ(dot_stuff("a"), "a\r\n.\r\n");
  EXPECT_EQ(dot_stuff(".a\r\n..\r\n.\r\n"), "..a\r\n...\r\n..\r\n.\r\n");
  EXPECT_EQ(dot_stuff("x\n.\ny"), "x\r\n..\r\ny\r\n.\r\n");
  EXPECT_EQ(dot_stuff("a.b\r\n"), "a.b\r\n.\r\n");
}

// The line-at-a-time dot_stuff against the plain per-byte definition, and
// needs_no_stuffing against "dot_stuff adds only the final dot".
std::string dot_stuff_reference(std::string_view m) {
  std::string out;
  bool line_start = true;
  char prev = 0;
  for (char c : m) {
    if (line_start && c == '.') out.push_back('.');
    if (c == '\n') {
      if (prev != '\r') out.push_back('\r');
      out.push_back('\n');
      line_start = true;
    } else {
      out.push_back(c);
      line_start = false;
    }
    prev = c;
  }
  if (!line_start) out.append("\r\n");
  out.append(".\r\n");
  return out;
}

TEST(DotStuff, MatchesReferenceOnEveryShortInput) {
  // Every string of length <= 6 over the characters that matter.
  const std::string alphabet = ".\r\na";
  std::vector<std::string> inputs{""};
  for (std::size_t len = 1; len <= 6; ++len) {
    std::vector<std::string> next;
    for (const auto& p : inputs)
      if (p.size() == len - 1)
        for (char c : alphabet) next.push_back(p + c);
    inputs.insert(inputs.end(), next.begin(), next.end());
  }
  std::size_t clean = 0;
  for (const auto& in : inputs) {
    const std::string want = dot_stuff_reference(in);
    ASSERT_EQ(dot_stuff(in), want) << "input of " << in.size() << " bytes";
    const bool unchanged = want == in + ".\r\n";
    ASSERT_EQ(needs_no_stuffing(in), unchanged) << "input of " << in.size() << " bytes";
    clean += unchanged ? 1 : 0;
  }
  EXPECT_GT(clean, 10u);  // the property is not vacuous
  // DotStuffer: every input split at every point (and byte by byte) gives dot_stuff().
  for (const auto& in : inputs) {
    const std::string want = dot_stuff_reference(in);
    for (std::size_t cut = 0; cut <= in.size(); ++cut) {
      DotStuffer d;
      std::string out;
      d.feed(std::string_view(in).substr(0, cut), out);
      d.feed(std::string_view(in).substr(cut), out);
      d.finish(out);
      ASSERT_EQ(out + ".\r\n", want) << "split at " << cut << " of " << in.size();
    }
    DotStuffer d;
    std::string out;
    for (char ch : in) d.feed(std::string_view(&ch, 1), out);
    d.finish(out);
    ASSERT_EQ(out + ".\r\n", want);
  }
  EXPECT_TRUE(needs_no_stuffing("a\r\nb.\r\n\r\n"));
  EXPECT_FALSE(needs_no_stuffing("a\r\n.b\r\n"));
  EXPECT_FALSE(needs_no_stuffing("a\nb\r\n"));
  EXPECT_FALSE(needs_no_stuffing("a\r\nb"));
}

// A scripted server: we feed replies and collect what the client writes.
struct Script {
  ClientSession c;
  std::string written;
  bool starttls = false;
  bool finished = false;
  int content_writes = 0;
  Script(ClientOptions o, ClientMessage m) : c(std::move(o), std::move(m)) {}
  void take(std::vector<ClientAction> acts) {
    for (auto& a : acts) {
      if (auto* w = std::get_if<ClientWrite>(&a)) {
        written += w->bytes;
        written += w->body;
        written += w->trailer;
        if (w->content) ++content_writes;
      }
      if (std::holds_alternative<ClientStartTls>(a)) starttls = true;
      if (std::holds_alternative<ClientFinished>(a)) finished = true;
    }
  }
  std::string server(std::string_view replies) {
    written.clear();
    take(c.feed(replies));
    return written;
  }
};

ClientMessage message(std::vector<std::string> rcpts, std::string body = "Subject: hi\r\n\r\n.dot\r\n") {
  ClientMessage m;
  m.mail_from = Address{"alice", "a.example"};
  for (auto& r : rcpts) m.rcpt_to.push_back(Recipient{Address{r, "b.example"}, {}});
  m.bytes = std::move(body);
  return m;
}

TEST(ClientSession, PipelinedDataWithPerRecipientOutcome) {
  ClientOptions o;
  o.ehlo_domain = "relay.a.example";
  o.tls = TlsMode::None;
  auto m = message({"bob", "nobody", "carol"});
  m.rcpt_to[0].dsn.notify = kNotifySuccess | kNotifyFailure;
  m.rcpt_to[0].dsn.orcpt_type = "rfc822";
  m.rcpt_to[0].dsn.orcpt = "bob@b.example";
  m.params.envid = "ID 1";
  m.params.ret = DsnRet::Hdrs;
  Script s(o, m);
  EXPECT_EQ(s.server("220 mx ESMTP\r\n"), "EHLO relay.a.example\r\n");
  EXPECT_EQ(s.server("250-mx\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-DSN\r\n250 8BITMIME\r\n"),
            "MAIL FROM:<alice@a.example> SIZE=21 RET=HDRS ENVID=ID+201\r\n"
            "RCPT TO:<bob@b.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@b.example\r\n"
            "RCPT TO:<nobody@b.example>\r\nRCPT TO:<carol@b.example>\r\nDATA\r\n");
  EXPECT_EQ(s.server("250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n"), "");
  EXPECT_EQ(s.server("250 ok\r\n354 go\r\n"), "Subject: hi\r\n\r\n..dot\r\n.\r\n");
  EXPECT_EQ(s.server("250 2.0.0 queued as X\r\n"), "QUIT\r\n");
  ASSERT_TRUE(s.finished);
  const ClientResult& r = s.c.result();
  EXPECT_EQ(r.status, DeliveryClass::Delivered);
  EXPECT_EQ(r.code, 250);
  ASSERT_EQ(r.rcpts.size(), 3u);
  EXPECT_EQ(r.rcpts[0].status, DeliveryClass::Delivered);
  EXPECT_EQ(r.rcpts[0].code, 250);
  EXPECT_EQ(r.rcpts[1].status, DeliveryClass::PermFail);
  EXPECT_EQ(r.rcpts[1].code, 550);
  EXPECT_EQ(r.rcpts[2].status, DeliveryClass::Delivered);
}

// content_by_reference: the message is not copied into the write unless it needs
// dot-stuffing; the content write is flagged (the relay's "in delivery" mark).
TEST(ClientSession, ContentByReference) {
  ClientOptions o;
  o.tls = TlsMode::None;
  o.content_by_reference = true;
  auto shared = std::make_shared<const std::string>("Subject: hi\r\n\r\nbody\r\n");
  {
    auto m = message({"bob"}, "ignored when shared_bytes is set");
    m.shared_bytes = shared;
    Script s(o, m);
    s.server("220 mx\r\n");
    EXPECT_EQ(s.server("250-mx\r\n250-PIPELINING\r\n250 SIZE\r\n"),
              "MAIL FROM:<alice@a.example> SIZE=21\r\nRCPT TO:<bob@b.example>\r\nDATA\r\n");
    EXPECT_EQ(s.content_writes, 0);
    std::vector<ClientAction> acts = s.c.feed(std::string_view("250 ok\r\n250 ok\r\n354 go\r\n"));
    ASSERT_EQ(acts.size(), 1u);
    auto* w = std::get_if<ClientWrite>(&acts[0]);
    ASSERT_NE(w, nullptr);
    EXPECT_TRUE(w->content);
    EXPECT_EQ(w->bytes, "");
    EXPECT_EQ(w->body.data(), shared->data());  // a view, not a copy
    EXPECT_EQ(w->body.size(), shared->size());
    EXPECT_EQ(w->trailer, ".\r\n");
  }
  {
    Script s(o, message({"bob"}));  // ".dot" needs stuffing: copied, stuffed
    s.server("220 mx\r\n");
    s.server("250-mx\r\n250 PIPELINING\r\n");
    EXPECT_EQ(s.server("250 ok\r\n250 ok\r\n354 go\r\n"), "Subject: hi\r\n\r\n..dot\r\n.\r\n");
    EXPECT_EQ(s.content_writes, 1);
  }
  {
    auto m = message({"bob"});
    m.shared_bytes = shared;
    Script s(o, m);  // pipelined BDAT: commands and the raw content in one flagged write
    s.server("220 mx\r\n");
    EXPECT_EQ(s.server("250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
              "MAIL FROM:<alice@a.example>\r\nRCPT TO:<bob@b.example>\r\nBDAT 21 LAST\r\n" + *shared);
    EXPECT_EQ(s.content_writes, 1);
    EXPECT_EQ(s.server("250 ok\r\n250 ok\r\n250 ok\r\n"), "QUIT\r\n");
    EXPECT_EQ(s.c.result().status, DeliveryClass::Delivered);
  }
  {
    o.content_by_reference = false;  // the default: every byte in ClientWrite::bytes
    auto m = message({"bob"});
    m.shared_bytes = shared;
    Script s(o, m);
    s.server("220 mx\r\n");
    s.server("250-mx\r\n250 PIPELINING\r\n");
    std::vector<ClientAction> acts = s.c.feed(std::string_view("250 ok\r\n250 ok\r\n354 go\r\n"));
    ASSERT_EQ(acts.size(), 1u);
    auto* w = std::get_if<ClientWrite>(&acts[0]);
    ASSERT_NE(w, nullptr);
    EXPECT_TRUE(w->content);
    EXPECT_EQ(w->bytes, *shared + ".\r\n");
    EXPECT_TRUE(w->body.empty());
    EXPECT_TRUE(w->trailer.empty());
  }
}

// A streamed message: sizes from streamed_size, the content left to the driver.
TEST(ClientSession, StreamedContent) {
  ClientOptions o;
  o.tls = TlsMode::None;
  o.content_by_reference = true;
  auto m = message({"bob"}, "");
  m.streamed = true;
  m.streamed_size = 123456;
  {
    Script s(o, m);
    s.server("220 mx\r\n");
    EXPECT_EQ(s.server("250-mx\r\n250-PIPELINING\r\n250 SIZE 200000\r\n"),
              "MAIL FROM:<alice@a.example> SIZE=123456\r\nRCPT TO:<bob@b.example>\r\nDATA\r\n");
    std::vector<ClientAction> acts = s.c.feed(std::string_view("250 ok\r\n250 ok\r\n354 go\r\n"));
    ASSERT_EQ(acts.size(), 1u);
    auto* w = std::get_if<ClientWrite>(&acts[0]);
    ASSERT_NE(w, nullptr);
    EXPECT_TRUE(w->content);
    EXPECT_EQ(w->stream, ClientWrite::Stream::DotStuffed);
    EXPECT_EQ(w->bytes, "");
    EXPECT_TRUE(w->body.empty());
    EXPECT_EQ(w->trailer, ".\r\n");
    EXPECT_EQ(s.server("250 ok\r\n"), "QUIT\r\n");
    EXPECT_EQ(s.c.result().status, DeliveryClass::Delivered);
  }
  {
    Script s(o, m);  // BDAT: the announced size is streamed_size, the content raw
    s.server("220 mx\r\n");
    std::vector<ClientAction> acts = s.c.feed(std::string_view("250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"));
    ASSERT_EQ(acts.size(), 1u);
    auto* w = std::get_if<ClientWrite>(&acts[0]);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->bytes, "MAIL FROM:<alice@a.example>\r\nRCPT TO:<bob@b.example>\r\nBDAT 123456 LAST\r\n");
    EXPECT_EQ(w->stream, ClientWrite::Stream::Raw);
    EXPECT_TRUE(w->trailer.empty());
  }
  {
    Script s(o, m);  // too big for the server: refused before any content
    s.server("220 mx\r\n");
    s.server("250-mx\r\n250 SIZE 1000\r\n");
    EXPECT_TRUE(s.finished);
    EXPECT_EQ(s.content_writes, 0);
    EXPECT_EQ(s.c.result().status, DeliveryClass::PermFail);
  }
}

// A refused recipient list never reaches the content: no content write at all.
TEST(ClientSession, NoContentWriteWhenEveryRecipientIsRefused) {
  ClientOptions o;
  o.tls = TlsMode::None;
  Script s(o, message({"bob"}));
  s.server("220 mx\r\n");
  s.server("250-mx\r\n250 PIPELINING\r\n");
  s.server("250 ok\r\n550 no\r\n554 no valid recipients\r\n");
  EXPECT_TRUE(s.finished);
  EXPECT_EQ(s.content_writes, 0);
}

// keep_open: the connection carries several messages (RSET between them), and is
// given up when the server is out of step or closing.
TEST(ClientSession, KeepOpenReusesTheConnection) {
  ClientOptions o;
  o.tls = TlsMode::None;
  o.keep_open = true;
  Script s(o, message({"bob"}, "one\r\n"));
  s.server("220 mx\r\n");
  EXPECT_EQ(s.server("250-mx\r\n250 PIPELINING\r\n"), "MAIL FROM:<alice@a.example>\r\nRCPT TO:<bob@b.example>\r\nDATA\r\n");
  EXPECT_EQ(s.server("250 ok\r\n250 ok\r\n354 go\r\n"), "one\r\n.\r\n");
  EXPECT_EQ(s.server("250 queued 1\r\n"), "");  // no QUIT
  EXPECT_TRUE(s.finished);
  EXPECT_TRUE(s.c.finished());
  ASSERT_TRUE(s.c.reusable());
  EXPECT_EQ(s.c.result().status, DeliveryClass::Delivered);

  // Second message: RSET leads the pipelined group; the outcome is this message's only.
  s.finished = false;
  s.written.clear();
  s.take(s.c.next_message(message({"carol", "dave"}, "two\r\n")));
  EXPECT_EQ(s.written, "RSET\r\nMAIL FROM:<alice@a.example>\r\nRCPT TO:<carol@b.example>\r\n"
                       "RCPT TO:<dave@b.example>\r\nDATA\r\n");
  EXPECT_FALSE(s.c.finished());
  EXPECT_EQ(s.server("250 reset\r\n250 ok\r\n250 ok\r\n550 no dave\r\n354 go\r\n"), "two\r\n.\r\n");
  EXPECT_EQ(s.server("250 queued 2\r\n"), "");
  ASSERT_TRUE(s.c.reusable());
  const ClientResult& r = s.c.result();
  ASSERT_EQ(r.rcpts.size(), 2u);
  EXPECT_EQ(r.rcpts[0].status, DeliveryClass::Delivered);
  EXPECT_EQ(r.rcpts[0].reply, "queued 2");
  EXPECT_EQ(r.rcpts[1].status, DeliveryClass::PermFail);
  EXPECT_EQ(r.rcpts[1].code, 550);

  // A refused message leaves the connection in step too.
  s.written.clear();
  s.take(s.c.next_message(message({"erin"}, "three\r\n")));
  EXPECT_EQ(s.server("250 reset\r\n250 ok\r\n550 no erin\r\n554 no valid recipients\r\n"), "");
  ASSERT_TRUE(s.c.reusable());
  EXPECT_EQ(s.c.result().status, DeliveryClass::PermFail);

  // The server goes away while idle: the last outcome stands, nothing more to do.
  EXPECT_TRUE(s.c.connection_lost("eof").empty());
  EXPECT_FALSE(s.c.reusable());
  EXPECT_TRUE(s.c.finished());
  EXPECT_EQ(s.c.result().status, DeliveryClass::PermFail);
}

TEST(ClientSession, IdleSessionDropsTheMessageContent) {
  ClientOptions o;
  o.tls = TlsMode::None;
  o.keep_open = true;
  o.content_by_reference = true;
  auto shared = std::make_shared<const std::string>("big\r\n");
  auto m = message({"bob"});
  m.shared_bytes = shared;
  Script s(o, std::move(m));
  s.server("220 mx\r\n");
  s.server("250-mx\r\n250 PIPELINING\r\n");
  s.server("250 ok\r\n250 ok\r\n354 go\r\n");
  EXPECT_GT(shared.use_count(), 1);  // the content write refers to it
  s.server("250 ok\r\n");
  ASSERT_TRUE(s.c.reusable());
  EXPECT_EQ(shared.use_count(), 1);  // an idle cached connection holds no message
}

TEST(ClientSession, KeepOpenLockStepAndQuit) {
  ClientOptions o;
  o.tls = TlsMode::None;
  o.keep_open = true;
  Script s(o, message({"bob"}, "one\r\n"));
  s.server("220 mx\r\n");
  EXPECT_EQ(s.server("250 mx\r\n"), "MAIL FROM:<alice@a.example>\r\n");
  EXPECT_EQ(s.server("250 ok\r\n"), "RCPT TO:<bob@b.example>\r\n");
  EXPECT_EQ(s.server("250 ok\r\n"), "DATA\r\n");
  EXPECT_EQ(s.server("354 go\r\n"), "one\r\n.\r\n");
  EXPECT_EQ(s.server("250 ok\r\n"), "");
  ASSERT_TRUE(s.c.reusable());
  s.written.clear();
  s.take(s.c.next_message(message({"carol"}, "two\r\n")));
  EXPECT_EQ(s.written, "RSET\r\n");  // no PIPELINING: wait for its reply
  EXPECT_EQ(s.server("250 ok\r\n"), "MAIL FROM:<alice@a.example>\r\n");
  EXPECT_EQ(s.server("250 ok\r\n"), "RCPT TO:<carol@b.example>\r\n");
  EXPECT_EQ(s.server("250 ok\r\n"), "DATA\r\n");
  EXPECT_EQ(s.server("354 go\r\n"), "two\r\n.\r\n");
  EXPECT_EQ(s.server("250 ok\r\n"), "");
  ASSERT_TRUE(s.c.reusable());
  EXPECT_EQ(s.c.result().status, DeliveryClass::Delivered);
  s.written.clear();
  s.take(s.c.quit());
  EXPECT_EQ(s.written, "QUIT\r\n");
  EXPECT_FALSE(s.c.reusable());
}

TEST(ClientSession, KeepOpenGivesUpWhenOutOfStep) {
  ClientOptions o;
  o.tls = TlsMode::None;
  o.keep_open = true;
  {
    Script s(o, message({"bob"}, "one\r\n"));  // 421 at RCPT: the server is closing
    s.server("220 mx\r\n");
    s.server("250-mx\r\n250 PIPELINING\r\n");
    EXPECT_EQ(s.server("250 ok\r\n421 4.3.2 shutting down\r\n503 no rcpt\r\n"), "QUIT\r\n");
    EXPECT_FALSE(s.c.reusable());
    EXPECT_EQ(s.c.result().status, DeliveryClass::TempFail);
  }
  {
    Script s(o, message({"bob"}, "one\r\n"));  // a reply nobody asked for
    s.server("220 mx\r\n");
    s.server("250-mx\r\n250 PIPELINING\r\n");
    s.server("250 ok\r\n250 ok\r\n354 go\r\n");
    s.server("250 ok\r\n250 surprise\r\n");
    EXPECT_FALSE(s.c.reusable());
    EXPECT_EQ(s.c.result().status, DeliveryClass::Delivered);
  }
  {
    Script s(o, message({"bob"}, "one\r\n"));  // RSET refused on the next message
    s.server("220 mx\r\n");
    s.server("250-mx\r\n250 PIPELINING\r\n");
    s.server("250 ok\r\n250 ok\r\n354 go\r\n");
    s.server("250 ok\r\n");
    ASSERT_TRUE(s.c.reusable());
    s.take(s.c.next_message(message({"carol"}, "two\r\n")));
    s.written.clear();
    EXPECT_EQ(s.server("500 what\r\n250 ok\r\n250 ok\r\n354 go\r\n"), "QUIT\r\n");
    EXPECT_TRUE(s.c.finished());
    EXPECT_FALSE(s.c.reusable());
    EXPECT_EQ(s.c.result().status, DeliveryClass::PermFail);
    EXPECT_EQ(s.c.result().rcpts.at(0).status, DeliveryClass::PermFail);
  }
}

TEST(ClientSession, LockStepBdat) {
  ClientOptions o;
  o.tls = TlsMode::None;
  Script s(o, message({"bob", "carol"}, "raw\r\n.\r\n"));
  s.server("220 mx\r\n");
  EXPECT_EQ(s.server("250-mx\r\n250 CHUNKING\r\n"), "MAIL FROM:<alice@a.example>\r\n");
  EXPECT_EQ(s.server("250 ok\r\n"), "RCPT TO:<bob@b.example>\r\n");
  EXPECT_EQ(s.server("451 4.3.0 try later\r\n"), "RCPT TO:<carol@b.example>\r\n");
  EXPECT_EQ(s.server("250 ok\r\n"), "BDAT 8 LAST\r\nraw\r\n.\r\n");
  EXPECT_EQ(s.server("250 ok\r\n"), "QUIT\r\n");
  const ClientResult& r = s.c.result();
  EXPECT_EQ(r.status, DeliveryClass::Delivered);
  EXPECT_EQ(r.rcpts[0].status, DeliveryClass::TempFail);
  EXPECT_EQ(r.rcpts[1].status, DeliveryClass::Delivered);
}

TEST(ClientSession, AllRecipientsRejected) {
  ClientOptions o;
  o.tls = TlsMode::None;
  Script s(o, message({"x", "y"}));
  s.server("220 mx\r\n");
  s.server("250-mx\r\n250 PIPELINING\r\n");
  EXPECT_EQ(s.server("250 ok\r\n550 5.1.1 no\r\n550 5.1.1 no\r\n554 5.5.1 no valid recipients\r\n"), "QUIT\r\n");
  EXPECT_EQ(s.c.result().status, DeliveryClass::PermFail);
  EXPECT_EQ(s.c.result().code, 550);
}

TEST(ClientSession, MailRejectedDrainsPipelinedReplies) {
  ClientOptions o;
  o.tls = TlsMode::None;
  Script s(o, message({"x"}));
  s.server("220 mx\r\n");
  s.server("250-mx\r\n250 PIPELINING\r\n");
  EXPECT_EQ(s.server("452 4.3.1 full\r\n503 need mail\r\n"), "");
  EXPECT_FALSE(s.finished);
  EXPECT_EQ(s.server("503 need mail\r\n"), "QUIT\r\n");
  EXPECT_EQ(s.c.result().status, DeliveryClass::TempFail);
  EXPECT_EQ(s.c.result().code, 452);
  EXPECT_EQ(s.c.result().rcpts[0].code, 452);
}

TEST(ClientSession, GreetingAndEhloFailures) {
  ClientOptions o;
  o.tls = TlsMode::None;
  Script a(o, message({"x"}));
  EXPECT_EQ(a.server("554 go away\r\n"), "QUIT\r\n");
  EXPECT_EQ(a.c.result().status, DeliveryClass::PermFail);
  Script b(o, message({"x"}));
  b.server("220 old\r\n");
  EXPECT_EQ(b.server("500 what\r\n"), "HELO localhost\r\n");
  EXPECT_EQ(b.server("250 ok\r\n"), "MAIL FROM:<alice@a.example>\r\n");
}

TEST(ClientSession, StartTlsRequired) {
  ClientOptions o;
  o.tls = TlsMode::Required;
  Script s(o, message({"x"}));
  s.server("220 mx\r\n");
  EXPECT_EQ(s.server("250-mx\r\n250 PIPELINING\r\n"), "QUIT\r\n");
  EXPECT_EQ(s.c.result().status, DeliveryClass::TempFail);
  EXPECT_NE(s.c.result().reply.find("TLS required"), std::string::npos);
}

TEST(ClientSession, StartTlsThenAuthPlain) {
  ClientOptions o;
  o.tls = TlsMode::Required;
  o.auth = ClientCredentials{"alice", "s3cret", {AuthMechanism::Plain}};
  Script s(o, message({"x"}));
  s.server("220 mx\r\n");
  // AUTH offered in plaintext is ignored until after TLS.
  EXPECT_EQ(s.server("250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n"), "STARTTLS\r\n");
  EXPECT_EQ(s.server("220 go\r\n"), "");
  ASSERT_TRUE(s.starttls);
  s.written.clear();
  s.take(s.c.tls_started());
  EXPECT_EQ(s.written, "EHLO localhost\r\n");
  std::string cred("\0alice\0s3cret", 13);
  EXPECT_EQ(s.server("250-mx\r\n250 AUTH LOGIN PLAIN\r\n"), "AUTH PLAIN " + encode_base64(cred) + "\r\n");
  EXPECT_EQ(s.server("235 ok\r\n"), "MAIL FROM:<alice@a.example>\r\n");
  EXPECT_TRUE(s.c.result().tls);
  EXPECT_TRUE(s.c.result().authenticated);
}

TEST(ClientSession, StartTlsInjectionIsAnError) {
  ClientOptions o;
  o.tls = TlsMode::Opportunistic;
  Script s(o, message({"x"}));
  s.server("220 mx\r\n");
  s.server("250-mx\r\n250 STARTTLS\r\n");
  s.server("220 go\r\n250 injected\r\n");
  EXPECT_TRUE(s.finished);
  EXPECT_EQ(s.c.result().status, DeliveryClass::TempFail);
}

TEST(ClientSession, AuthLoginAndFailure) {
  ClientOptions o;
  o.tls = TlsMode::Implicit;
  o.auth = ClientCredentials{"bob", "pw", {AuthMechanism::XOAuth2, AuthMechanism::Login}};
  Script s(o, message({"x"}));
  s.server("220 mx\r\n");
  EXPECT_EQ(s.server("250-mx\r\n250 AUTH=LOGIN\r\n"), "AUTH LOGIN\r\n");
  EXPECT_EQ(s.server("334 VXNlcm5hbWU6\r\n"), encode_base64("bob") + "\r\n");
  EXPECT_EQ(s.server("334 UGFzc3dvcmQ6\r\n"), encode_base64("pw") + "\r\n");
  EXPECT_EQ(s.server("535 5.7.8 bad\r\n"), "QUIT\r\n");
  EXPECT_EQ(s.c.result().status, DeliveryClass::PermFail);
  EXPECT_EQ(s.c.result().code, 535);
}

TEST(ClientSession, XOAuth2) {
  ClientOptions o;
  o.tls = TlsMode::Implicit;
  o.auth = ClientCredentials{"u@x.y", "tok", {AuthMechanism::XOAuth2}};
  Script s(o, message({"x"}));
  s.server("220 mx\r\n");
  EXPECT_EQ(s.server("250-mx\r\n250 AUTH PLAIN XOAUTH2\r\n"),
            "AUTH XOAUTH2 " + encode_base64("user=u@x.y\x01" "auth=Bearer tok\x01\x01") + "\r\n");
  EXPECT_EQ(s.server("334 eyJzdGF0dXMiOiI0MDEifQ==\r\n"), "\r\n");
  EXPECT_EQ(s.server("535 5.7.8 no\r\n"), "QUIT\r\n");
}

TEST(ClientSession, NoCredentialsInPlaintext) {
  ClientOptions o;
  o.tls = TlsMode::Opportunistic;
  o.auth = ClientCredentials{"u", "p", {AuthMechanism::Plain}};
  Script s(o, message({"x"}));
  s.server("220 mx\r\n");
  EXPECT_EQ(s.server("250-mx\r\n250 AUTH PLAIN\r\n"), "QUIT\r\n");
  EXPECT_EQ(s.c.result().status, DeliveryClass::TempFail);
}

TEST(ClientSession, SizeAndSmtputf8Checks) {
  ClientOptions o;
  o.tls = TlsMode::None;
  Script s(o, message({"x"}, std::string(2000, 'a')));
  s.server("220 mx\r\n");
  EXPECT_EQ(s.server("250-mx\r\n250 SIZE 1000\r\n"), "QUIT\r\n");
  EXPECT_EQ(s.c.result().status, DeliveryClass::PermFail);
  auto m = message({"x"});
  m.params.smtputf8 = true;
  Script t(o, m);
  t.server("220 mx\r\n");
  EXPECT_EQ(t.server("250 mx\r\n"), "QUIT\r\n");
  EXPECT_EQ(t.c.result().status, DeliveryClass::PermFail);
}

TEST(ClientSession, MalformedReplyAndConnectionLoss) {
  ClientOptions o;
  o.tls = TlsMode::None;
  Script s(o, message({"x"}));
  s.server("garbage\r\n");
  EXPECT_TRUE(s.finished);
  EXPECT_EQ(s.c.result().status, DeliveryClass::TempFail);
  Script t(o, message({"x"}));
  t.server("220 mx\r\n");
  t.take(t.c.connection_lost("timeout"));
  EXPECT_TRUE(t.finished);
  EXPECT_EQ(t.c.result().rcpts[0].status, DeliveryClass::TempFail);
}

// Our client against our server, with TLS and AUTH on both sides, fed in chunks.
struct Loop {
  ClientOptions co;
  Options so;
  std::vector<std::string> delivered;
  std::vector<Envelope> envelopes;

  ClientResult run(ClientMessage m, std::size_t chunk) {
    ClientSession c(co, std::move(m));
    Session s(so, Limits{});
    std::string to_server, to_client;
    bool finished = false, client_tls = false;
    auto server_do = [&](std::vector<Action> acts, auto& self) -> void {
      for (auto& a : acts) {
        if (auto* r = std::get_if<Reply>(&a)) to_client += r->wire;
        if (std::holds_alternative<StartTls>(a)) { self(s.tls_started(), self); }
        if (auto* au = std::get_if<Authenticate>(&a)) self(s.auth_result(au->user == "alice" && au->password == "pw"), self);
        if (std::holds_alternative<CheckRecipient>(a)) self(s.recipient_result(RcptVerdict::Accept), self);
        if (std::holds_alternative<CheckSender>(a)) self(s.sender_result(true), self);
        if (auto* d = std::get_if<Deliver>(&a)) {
          delivered.push_back(d->bytes);
          envelopes.push_back(d->envelope);
          self(s.delivery_result(DeliveryStatus::Ok, "Q"), self);
        }
      }
    };
    server_do(s.start(), server_do);
    for (int rounds = 0; rounds < 100 && !finished; ++rounds) {
      for (std::size_t i = 0; i < to_client.size() && !finished; i += chunk) {
        for (auto& a : c.feed(std::string_view(to_client).substr(i, chunk))) {
          if (auto* w = std::get_if<ClientWrite>(&a)) to_server += w->bytes;
          if (std::holds_alternative<ClientStartTls>(a)) client_tls = true;
          if (std::holds_alternative<ClientFinished>(a)) finished = true;
        }
      }
      to_client.clear();
      if (client_tls) {
        client_tls = false;
        for (auto& a : c.tls_started())
          if (auto* w = std::get_if<ClientWrite>(&a)) to_server += w->bytes;
      }
      for (std::size_t i = 0; i < to_server.size(); i += chunk)
        server_do(s.feed(std::string_view(to_server).substr(i, chunk)), server_do);
      to_server.clear();
    }
    EXPECT_TRUE(finished);
    return c.result();
  }
};

TEST(ClientSession, LoopbackAgainstOurServer) {
  const std::string body = "Subject: loop\r\n\r\n.starts with dot\r\n..two\r\n.\r\nbare\nlf\r\nend";
  for (bool bdat : {false, true}) {
    for (std::size_t chunk : {std::size_t{1}, std::size_t{5}, std::size_t{100000}}) {
      Loop l;
      l.co.tls = TlsMode::Required;
      l.co.use_bdat = bdat;
      l.co.auth = ClientCredentials{"alice", "pw", {AuthMechanism::Login}};
      l.so.hostname = "mx.test";
      l.so.tls_available = true;
      l.so.auth_enabled = true;
      auto m = message({"bob", "carol"}, body);
      m.rcpt_to[1].dsn.notify = kNotifyNever;
      ClientResult r = l.run(m, chunk);
      EXPECT_EQ(r.status, DeliveryClass::Delivered) << r.reply;
      ASSERT_EQ(l.delivered.size(), 1u);
      // BDAT carries the bytes exactly; DATA normalises bare LF and adds the final CRLF.
      EXPECT_EQ(l.delivered[0], bdat ? body : "Subject: loop\r\n\r\n.starts with dot\r\n..two\r\n.\r\nbare\r\nlf\r\nend\r\n");
      EXPECT_TRUE(l.envelopes[0].tls);
      EXPECT_EQ(l.envelopes[0].auth_user, "alice");
      EXPECT_EQ(l.envelopes[0].chunking, bdat);
      EXPECT_EQ(l.envelopes[0].rcpt_to.at(1).dsn.notify, unsigned{kNotifyNever});
    }
  }
}

}  // namespace
