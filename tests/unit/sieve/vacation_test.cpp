// tests/unit/sieve/vacation_test.cpp — RFC 5230 (vacation) and RFC 6131
// (vacation-seconds): the action's arguments, the RFC's examples, whether a reply may be
// sent (4.5, 4.6), the reply message (5) and the per-sender key.
#include "tests/unit/sieve/sieve_test_util.hpp"

namespace refmail::sieve::test {
namespace {

TEST(SieveVacation, Rfc5230Examples) {
  const char* s = R"(require ["vacation"];
if header :contains "subject" "cyrus" {
    vacation "I'm out -- send mail to cyrus-bugs";
} else {
    vacation "I'm out -- call me at +1 304 555 0123";
}
)";
  auto o = run_script(s, "Subject: cyrus is broken\r\n\r\nx");
  ASSERT_TRUE(o.vacation);
  EXPECT_EQ(o.vacation->reason, "I'm out -- send mail to cyrus-bugs");
  EXPECT_EQ(o.vacation->period_seconds, 7 * 86400);
  EXPECT_TRUE(o.keep);  // vacation does not cancel the implicit keep

  const char* s2 = R"(require "vacation";
vacation :days 23 :addresses ["tjs@example.edu",
                              "ts4z@landru.example.edu"]
   "I'm away until October 19.
   If it's an emergency, call 911, I guess." ;
)";
  o = run_script(s2);
  ASSERT_TRUE(o.vacation);
  EXPECT_EQ(o.vacation->period_seconds, 23 * 86400);
  EXPECT_EQ(o.vacation->addresses, (std::vector<std::string>{"tjs@example.edu", "ts4z@landru.example.edu"}));

  const char* s3 = R"(require "vacation";
vacation :mime text:
Content-Type: multipart/alternative; boundary=foo

--foo

I'm at the beach relaxing.  Mmmm, surf...

--foo
Content-Type: text/html; charset=us-ascii

<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.0//EN"
 "http://www.w3.org/TR/REC-html40/strict.dtd">
<HTML><HEAD><TITLE>How to relax</TITLE>
<BASE HREF="http://home.example.com/pictures/"></HEAD>
<BODY><P>I'm at the <A HREF="beach.gif">beach</A> relaxing.
Mmmm, <A HREF="ocean.gif">surf</A>...
</BODY></HTML>

--foo--
.
;
)";
  o = run_script(s3);
  ASSERT_TRUE(o.vacation);
  EXPECT_TRUE(o.vacation->mime);
  EXPECT_EQ(o.vacation->reason.rfind("Content-Type: multipart/alternative; boundary=foo\r\n\r\n--foo", 0), 0u);
}

TEST(SieveVacation, Tags) {
  auto o = run_script("require [\"vacation\", \"vacation-seconds\"]; vacation :seconds 1800 :subject \"Away\" "
                      ":from \"me@example.com\" :handle \"h1\" \"gone\";");
  ASSERT_TRUE(o.vacation);
  EXPECT_EQ(o.vacation->period_seconds, 1800);
  EXPECT_EQ(o.vacation->subject, "Away");
  EXPECT_EQ(o.vacation->from, "me@example.com");
  EXPECT_EQ(o.vacation->handle, "h1");
  // RFC 5230 4.1: :days 0 is raised to 1.
  EXPECT_EQ(run_script("require \"vacation\"; vacation :days 0 \"x\";").vacation->period_seconds, 86400);
  EXPECT_EQ(compile_error("require \"vacation\"; vacation :seconds 10 \"x\";"),
            "1:30: tag \":seconds\" requires \"vacation-seconds\"");
  EXPECT_EQ(compile_error("require \"vacation-seconds\"; vacation :seconds 10 :days 1 \"x\";"),
            "1:50: tag \":days\" conflicts with an earlier tag");
  EXPECT_EQ(compile_error("require \"vacation\"; vacation :days \"1\" \"x\";"), "1:36: tag \":days\" needs a number");
  auto twice = run_script("require \"vacation\"; vacation \"a\"; vacation \"b\";");
  EXPECT_TRUE(twice.runtime_error);
}

Context user_ctx() {
  Context c;
  c.now_unix = 1700000000;
  c.user_addresses = {"user@example.com", "alias@example.com"};
  return c;
}

bool allowed(std::string_view headers, std::string from = "sender@example.org", Vacation v = {}) {
  FakeMessage m(headers, std::move(from), "user@example.com");
  return vacation_allowed(m, user_ctx(), v);
}

TEST(SieveVacation, WhenToReply) {
  const std::string base = "From: s@example.org\r\nTo: user@example.com\r\nSubject: hi\r\n";
  EXPECT_TRUE(allowed(base + "\r\n"));
  EXPECT_TRUE(allowed("To: Someone <ALIAS@example.com>\r\n\r\n"));
  EXPECT_TRUE(allowed("To: a@b.c\r\nCc: x@y.z, user@example.com\r\n\r\n"));
  EXPECT_TRUE(allowed("Resent-To: user@example.com\r\n\r\n"));
  // Not addressed to the user (Bcc'd or via a list): no reply.
  EXPECT_FALSE(allowed("To: other@example.org\r\n\r\n"));
  // ... unless :addresses names the address used.
  Vacation v;
  v.addresses = {"other@example.org"};
  EXPECT_TRUE(allowed("To: other@example.org\r\n\r\n", "sender@example.org", v));
  EXPECT_FALSE(allowed(base + "\r\n", ""));
  EXPECT_FALSE(allowed(base + "\r\n", "MAILER-DAEMON@example.org"));
  EXPECT_FALSE(allowed(base + "\r\n", "owner-list@example.org"));
  EXPECT_FALSE(allowed(base + "\r\n", "list-request@example.org"));
  EXPECT_FALSE(allowed(base + "\r\n", "user@example.com"));  // oneself
  EXPECT_FALSE(allowed(base + "List-Id: <l.example.org>\r\n\r\n"));
  EXPECT_FALSE(allowed(base + "List-Unsubscribe: <mailto:x@example.org>\r\n\r\n"));
  EXPECT_FALSE(allowed(base + "Precedence: bulk\r\n\r\n"));
  EXPECT_FALSE(allowed(base + "Precedence: JUNK\r\n\r\n"));
  EXPECT_FALSE(allowed(base + "Auto-Submitted: auto-replied\r\n\r\n"));
  EXPECT_FALSE(allowed(base + "Auto-Submitted: auto-generated; type=x\r\n\r\n"));
  EXPECT_TRUE(allowed(base + "Auto-Submitted: no\r\n\r\n"));
  EXPECT_TRUE(allowed(base + "Precedence: first-class\r\n\r\n"));
}

TEST(SieveVacation, Reply) {
  FakeMessage m("From: s@example.org\r\nTo: user@example.com\r\nSubject: =?utf-8?q?caf=C3=A9?= plans\r\n"
                "Message-ID: <orig@example.org>\r\nReferences: <older@example.org>\r\n\r\nx",
                "s@example.org", "user@example.com");
  Vacation v;
  v.reason = "I'm away.\nBack Monday.";
  auto r = vacation_reply(m, user_ctx(), v, "mx.example.com", "abc123");
  EXPECT_NE(r.find("From: user@example.com\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("To: s@example.org\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("Subject: =?"), std::string::npos) << r;  // "Auto: café plans", encoded
  EXPECT_NE(r.find("In-Reply-To: <orig@example.org>\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("References: <older@example.org> <orig@example.org>\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("Auto-Submitted: auto-replied\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("Message-ID: <abc123@mx.example.com>\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\n\r\nI'm away.\r\nBack Monday.\r\n"), std::string::npos) << r;
  // Every line ends in CRLF.
  for (std::size_t i = 0; i < r.size(); ++i)
    if (r[i] == '\n') ASSERT_TRUE(i > 0 && r[i - 1] == '\r') << i;

  // :subject and :from, with CR/LF injection attempts stripped.
  v.subject = "Away\r\nBcc: victim@example.net";
  v.from = "Me <me@example.com>\r\nX-Evil: 1";
  r = vacation_reply(m, user_ctx(), v, "mx.example.com", "id");
  EXPECT_EQ(r.find("\r\nBcc:"), std::string::npos) << r;
  EXPECT_EQ(r.find("\r\nX-Evil:"), std::string::npos) << r;
  EXPECT_NE(r.find("From: Me <me@example.com>\r\n"), std::string::npos) << r;
  v.from = "J\xC3\xBCrgen <j@example.com>";
  r = vacation_reply(m, user_ctx(), v, "mx.example.com", "id");
  EXPECT_NE(r.find("From: =?"), std::string::npos) << r;
  EXPECT_NE(r.find("<j@example.com>\r\n"), std::string::npos) << r;

  // :mime: the reason is the entity.
  Vacation mv;
  mv.mime = true;
  mv.reason = "Content-Type: text/html\r\n\r\n<p>away</p>\r\n";
  r = vacation_reply(m, user_ctx(), mv, "h", "i");
  EXPECT_NE(r.find("MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n<p>away</p>\r\n"), std::string::npos) << r;
}

TEST(SieveVacation, Key) {
  Vacation a;
  a.reason = "away";
  Vacation b = a;
  b.reason = "gone";
  EXPECT_EQ(vacation_key(a, "S@example.org"), vacation_key(a, "s@example.org"));
  EXPECT_NE(vacation_key(a, "s@example.org"), vacation_key(b, "s@example.org"));
  EXPECT_NE(vacation_key(a, "s@example.org"), vacation_key(a, "t@example.org"));
  EXPECT_EQ(vacation_key(a, "s@example.org").size(), 32u);
  // With a handle only the handle counts.
  a.handle = b.handle = "h";
  EXPECT_EQ(vacation_key(a, "s@example.org"), vacation_key(b, "s@example.org"));
}

}  // namespace
}  // namespace refmail::sieve::test
