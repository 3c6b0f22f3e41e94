// tests/unit/managesieve/session_test.cpp — managesieve::Session (RFC 5804) without I/O:
// every command, quoted strings and both literal forms, the oversized literal skipped
// without being held, STARTTLS pipelining, AUTHENTICATE PLAIN (initial response,
// continuation, literal, failures), the script request/outcome round trip. Every
// transcript is fed whole, one byte at a time, and in chunks of 7 bytes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "managesieve/session.hpp"

namespace refmail::managesieve {
namespace {

enum class Split { Whole, Bytes, Chunks };
const Split kSplits[] = {Split::Whole, Split::Bytes, Split::Chunks};

std::string b64(std::string_view in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += {t[(n >> 18) & 63], t[(n >> 12) & 63], t[(n >> 6) & 63], t[n & 63]};
  }
  if (in.size() - i == 1) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    out += {t[(n >> 18) & 63], t[(n >> 12) & 63], '=', '='};
  } else if (in.size() - i == 2) {
    unsigned n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {t[(n >> 18) & 63], t[(n >> 12) & 63], t[(n >> 6) & 63], '='};
  }
  return out;
}

std::string plain(std::string_view user, std::string_view pw) {
  return b64(std::string("\0", 1) + std::string(user) + std::string("\0", 1) + std::string(pw));
}

ScriptReply reply(ScriptStatus status) {
  ScriptReply r;
  r.status = status;
  return r;
}

// A session and what it wrote; the other actions are kept in order.
struct Driver {
  explicit Driver(Options o = defaults(), Limits l = {}) : s(std::move(o), l) { take(s.start()); }
  static Options defaults() {
    Options o;
    o.login_without_tls = true;
    o.tls_available = true;
    o.sieve_extensions = "fileinto vacation";
    o.max_redirects = 4;
    o.max_script_bytes = 1000;
    return o;
  }
  void take(std::vector<Action> v) {
    for (auto& a : v) {
      if (auto* w = std::get_if<action::Write>(&a)) {
        out += w->bytes;
      } else {
        actions.push_back(std::move(a));
      }
    }
  }
  void feed(std::string_view in, Split split) {
    if (split == Split::Whole) return take(s.feed(in));
    const std::size_t step = split == Split::Bytes ? 1 : 7;
    for (std::size_t i = 0; i < in.size(); i += step) {
      take(s.feed(in.substr(i, step)));
      max_held = std::max(max_held, s.held_bytes());
    }
  }
  std::string drain() { return std::exchange(out, {}); }
  template <class T>
  T pop() {
    EXPECT_FALSE(actions.empty());
    if (actions.empty()) return T{};
    auto a = std::move(actions.front());
    actions.erase(actions.begin());
    EXPECT_TRUE(std::holds_alternative<T>(a)) << "action index " << a.index();
    return std::holds_alternative<T>(a) ? std::get<T>(std::move(a)) : T{};
  }
  // AUTHENTICATE and a successful outcome.
  void login(Split split) {
    feed("AUTHENTICATE \"PLAIN\" \"" + plain("alice@example.test", "secret") + "\"\r\n", split);
    auto a = pop<action::Authenticate>();
    EXPECT_EQ(a.user, "alice@example.test");
    take(s.auth_result(AuthOutcome::Ok));
    EXPECT_EQ(drain(), "OK \"Logged in\"\r\n");
  }
  Session s;
  std::string out;
  std::vector<Action> actions;
  std::size_t max_held = 0;
};

TEST(ManageSieveSession, GreetingListsCapabilities) {
  Driver d;
  const auto g = d.drain();
  EXPECT_EQ(g,
            "\"IMPLEMENTATION\" \"refmail\"\r\n\"SASL\" \"PLAIN LOGIN\"\r\n\"SIEVE\" \"fileinto vacation\"\r\n"
            "\"STARTTLS\"\r\n\"MAXREDIRECTS\" \"4\"\r\n\"VERSION\" \"1.0\"\r\n\"UNAUTHENTICATE\"\r\n"
            "OK \"refmail ManageSieve ready\"\r\n");
  // Without TLS and without the loopback rule no mechanism is offered (IMAP's LOGINDISABLED).
  Options o = Driver::defaults();
  o.login_without_tls = false;
  Driver d2(o);
  EXPECT_NE(d2.drain().find("\"SASL\" \"\"\r\n"), std::string::npos);
  for (auto split : kSplits) {
    Driver d3(o);
    d3.drain();
    d3.feed("AUTHENTICATE \"PLAIN\" \"" + plain("a@x", "p") + "\"\r\n", split);
    EXPECT_EQ(d3.drain(), "NO (ENCRYPT-NEEDED) \"Use STARTTLS first\"\r\n");
    EXPECT_TRUE(d3.actions.empty());
  }
}

TEST(ManageSieveSession, StartTlsDropsPipelinedBytesAndReissuesCapabilities) {
  Options o = Driver::defaults();
  o.login_without_tls = false;
  for (auto split : kSplits) {
    Driver d(o);
    d.drain();
    d.feed("STARTTLS\r\nLISTSCRIPTS\r\n", split);
    EXPECT_EQ(d.drain(), "OK \"Begin TLS negotiation now\"\r\n");
    d.pop<action::StartTls>();
    d.feed("CAPABILITY\r\n", split);  // before the handshake: dropped as well
    EXPECT_EQ(d.drain(), "");
    d.take(d.s.tls_started());
    const auto caps = d.drain();
    EXPECT_NE(caps.find("\"SASL\" \"PLAIN LOGIN\"\r\n"), std::string::npos);
    EXPECT_EQ(caps.find("STARTTLS"), std::string::npos);
    EXPECT_TRUE(caps.ends_with("OK \"TLS active\"\r\n"));
    d.feed("STARTTLS\r\n", split);
    EXPECT_EQ(d.drain(), "NO \"TLS is not available\"\r\n");
    d.login(split);
  }
}

TEST(ManageSieveSession, AuthenticatePlainForms) {
  for (auto split : kSplits) {
    // Initial response as a literal, both kinds.
    for (const char* plus : {"+", ""}) {
      Driver d;
      d.drain();
      const auto resp = plain("bob@example.test", "pw");
      d.feed("Authenticate plain {" + std::to_string(resp.size()) + plus + "}\r\n" + resp + "\r\n", split);
      auto a = d.pop<action::Authenticate>();
      EXPECT_EQ(a.mechanism, "PLAIN");
      EXPECT_EQ(a.user, "bob@example.test");
      EXPECT_EQ(a.password, "pw");
      d.take(d.s.auth_result(AuthOutcome::Ok));
      EXPECT_EQ(d.drain(), "OK \"Logged in\"\r\n");
      EXPECT_EQ(d.s.user(), "bob@example.test");
      d.feed("CAPABILITY\r\n", split);
      EXPECT_NE(d.drain().find("\"OWNER\" \"bob@example.test\"\r\n"), std::string::npos);
    }
    // A continuation: the empty challenge, then the response as a string.
    Driver d;
    d.drain();
    d.feed("AUTHENTICATE \"PLAIN\"\r\n", split);
    EXPECT_EQ(d.drain(), "\"\"\r\n");
    EXPECT_EQ(d.s.state(), SessionState::AuthContinue);
    d.feed("\"" + plain("carol@example.test", "pw2") + "\"\r\n", split);
    auto a = d.pop<action::Authenticate>();
    EXPECT_EQ(a.user, "carol@example.test");
    EXPECT_EQ(a.password, "pw2");
    d.take(d.s.auth_result(AuthOutcome::Temporary));
    EXPECT_EQ(d.drain(), "NO (TRYLATER) \"Authentication temporarily unavailable\"\r\n");
    // "*" cancels.
    d.feed("AUTHENTICATE \"PLAIN\"\r\n\"*\"\r\n", split);
    EXPECT_EQ(d.drain(), "\"\"\r\nNO \"Authentication cancelled\"\r\n");
    // An authzid other than the user is refused; bad base64 too.
    d.feed("AUTHENTICATE \"PLAIN\" \"" + b64(std::string("x\0bob\0pw", 8)) + "\"\r\n", split);
    EXPECT_EQ(d.drain(), "NO \"Authorization identity must be the user\"\r\n");
    d.feed("AUTHENTICATE \"PLAIN\" \"%%%%\"\r\n", split);
    EXPECT_EQ(d.drain(), "NO \"Invalid base64\"\r\n");
    d.feed("AUTHENTICATE \"DIGEST-MD5\"\r\n", split);
    EXPECT_EQ(d.drain(), "NO \"Unsupported SASL mechanism\"\r\n");
    EXPECT_TRUE(d.actions.empty());
  }
}

TEST(ManageSieveSession, AuthenticateLogin) {
  for (auto split : kSplits) {
    // Challenges "Username:" and "Password:"; the client may pipeline both answers.
    Driver d;
    d.drain();
    d.feed("AUTHENTICATE \"LOGIN\"\r\n\"" + b64("dave@example.test") + "\"\r\n{8+}\r\n" + b64("pw-1") + "\r\n",
           split);
    EXPECT_EQ(d.drain(), "\"VXNlcm5hbWU6\"\r\n\"UGFzc3dvcmQ6\"\r\n");
    auto a = d.pop<action::Authenticate>();
    EXPECT_EQ(a.mechanism, "LOGIN");
    EXPECT_EQ(a.user, "dave@example.test");
    EXPECT_EQ(a.password, "pw-1");
    d.take(d.s.auth_result(AuthOutcome::Ok));
    EXPECT_EQ(d.drain(), "OK \"Logged in\"\r\n");
    EXPECT_EQ(d.s.user(), "dave@example.test");
    // The user as an initial response; an empty password is refused.
    Driver e;
    e.drain();
    e.feed("AUTHENTICATE \"LOGIN\" \"" + b64("erin@example.test") + "\"\r\n\"\"\r\n", split);
    EXPECT_EQ(e.drain(), "\"UGFzc3dvcmQ6\"\r\nNO \"Malformed LOGIN response\"\r\n");
    EXPECT_TRUE(e.actions.empty());
    EXPECT_EQ(e.s.state(), SessionState::NotAuthenticated);
  }
}

TEST(ManageSieveSession, ThreeFailedLoginsEndTheSession) {
  for (auto split : kSplits) {
    Driver d;
    d.drain();
    for (int i = 0; i < 3; ++i) {
      d.feed("AUTHENTICATE \"PLAIN\" \"" + plain("a@x", "bad") + "\"\r\n", split);
      d.pop<action::Authenticate>();
      d.take(d.s.auth_result(AuthOutcome::Failed));
    }
    EXPECT_EQ(d.drain(), "NO \"Authentication failed\"\r\nNO \"Authentication failed\"\r\nNO \"Authentication failed\"\r\n"
                         "BYE \"Too many authentication failures\"\r\n");
    d.pop<action::Close>();
    EXPECT_TRUE(d.s.closed());
    d.feed("CAPABILITY\r\n", split);
    EXPECT_EQ(d.drain(), "");
  }
}

TEST(ManageSieveSession, ScriptCommandsNeedAuthentication) {
  for (auto split : kSplits) {
    Driver d;
    d.drain();
    d.feed("LISTSCRIPTS\r\nPUTSCRIPT \"a\" {5+}\r\nkeep;\r\nFOO\r\nNOOP \"t1\"\r\n", split);
    EXPECT_EQ(d.drain(), "NO \"Authenticate first\"\r\nNO \"Authenticate first\"\r\nNO \"Unknown command\"\r\n"
                         "OK (TAG \"t1\") \"Done\"\r\n");
    EXPECT_TRUE(d.actions.empty());
  }
}

TEST(ManageSieveSession, PutScriptWithLiteralsAndQuotedStrings) {
  for (auto split : kSplits) {
    for (const char* plus : {"+", ""}) {
      Driver d;
      d.drain();
      d.login(split);
      const std::string script = "require \"fileinto\";\r\nfileinto \"Junk\";\r\n";
      d.feed("PUTSCRIPT \"my script\" {" + std::to_string(script.size()) + plus + "}\r\n" + script + "\r\n", split);
      auto r = d.pop<ScriptRequest>();
      EXPECT_EQ(r.op, ScriptOp::Put);
      EXPECT_EQ(r.name, "my script");
      EXPECT_EQ(r.content, script);
      EXPECT_EQ(d.s.deadline(), Deadline::None);
      EXPECT_FALSE(d.s.wants_input());
      d.take(d.s.script_result({}));
      EXPECT_EQ(d.drain(), "OK\r\n");
      // A quoted script with escapes, and a name given as a literal.
      d.feed("putscript {3+}\r\nq\"x \"keep; # \\\"\\\\\"\r\n", split);
      r = d.pop<ScriptRequest>();
      EXPECT_EQ(r.name, "q\"x");
      EXPECT_EQ(r.content, "keep; # \"\\");
      d.take(d.s.script_result(reply(ScriptStatus::MaxScripts)));
      EXPECT_EQ(d.drain(), "NO (QUOTA/MAXSCRIPTS) \"Too many scripts\"\r\n");
    }
  }
}

TEST(ManageSieveSession, OversizedScriptLiteralIsSkippedNotHeld) {
  for (auto split : kSplits) {
    Driver d;  // max_script_bytes 1000, max_string_bytes 8192
    d.drain();
    d.login(split);
    const std::string big(300000, 'x');
    d.max_held = 0;
    d.feed("PUTSCRIPT \"big\" {300000+}\r\n" + big + "\r\nNOOP\r\n", split);
    EXPECT_EQ(d.drain(), "NO (QUOTA/MAXSIZE) \"Script is over the limit of 1000 bytes\"\r\nOK \"Done\"\r\n");
    EXPECT_TRUE(d.actions.empty());
    if (split != Split::Whole) {
      EXPECT_LT(d.max_held, 16u * 1024);  // never the script's bytes
    }
    // The same for "{n}", and for CHECKSCRIPT; a name literal over the string limit.
    d.feed("CHECKSCRIPT {1001}\r\n" + std::string(1001, 'y') + "\r\n", split);
    EXPECT_EQ(d.drain(), "NO (QUOTA/MAXSIZE) \"Script is over the limit of 1000 bytes\"\r\n");
    d.feed("GETSCRIPT {9000+}\r\n" + std::string(9000, 'n') + "\r\n", split);
    EXPECT_EQ(d.drain(), "NO \"String too long\"\r\n");
    // HAVESPACE over the limit is answered at once.
    d.feed("HAVESPACE \"big\" 1001\r\n", split);
    EXPECT_EQ(d.drain(), "NO (QUOTA/MAXSIZE) \"Script is over the limit of 1000 bytes\"\r\n");
    // An absurd literal is not read at all.
    d.feed("PUTSCRIPT \"big\" {17000000+}\r\n", split);
    EXPECT_EQ(d.drain(), "BYE \"Literal too large\"\r\n");
    d.pop<action::Close>();
    EXPECT_TRUE(d.s.closed());
  }
}

TEST(ManageSieveSession, ValidatorRefusesAndCheckScript) {
  Options o = Driver::defaults();
  o.validate = [](std::string_view s) -> std::optional<std::string> {
    if (s.find("bogus") != std::string_view::npos) return std::string("line 1: unknown command \"bogus\"\r\nline 2: x");
    return std::nullopt;
  };
  for (auto split : kSplits) {
    Driver d(o);
    d.drain();
    d.login(split);
    d.feed("PUTSCRIPT \"s\" {6+}\r\nbogus;\r\n", split);
    const std::string msg = "line 1: unknown command \"bogus\"\r\nline 2: x";
    EXPECT_EQ(d.drain(), "NO {" + std::to_string(msg.size()) + "}\r\n" + msg + "\r\n");
    EXPECT_TRUE(d.actions.empty());
    d.feed("CHECKSCRIPT \"bogus;\"\r\nCHECKSCRIPT \"keep;\"\r\n", split);
    EXPECT_EQ(d.drain(), "NO {" + std::to_string(msg.size()) + "}\r\n" + msg + "\r\nOK \"Script is valid\"\r\n");
  }
}

TEST(ManageSieveSession, ListGetDeleteRenameActivateHaveSpace) {
  for (auto split : kSplits) {
    Driver d;
    d.drain();
    d.login(split);
    // Pipelined: each waits for the previous outcome; answers keep their order.
    d.feed("LISTSCRIPTS\r\nGETSCRIPT \"one\"\r\n", split);
    EXPECT_EQ(d.pop<ScriptRequest>().op, ScriptOp::List);
    EXPECT_TRUE(d.actions.empty());
    ScriptReply list;
    list.scripts = {{"one", true}, {"t\"wo", false}};
    d.take(d.s.script_result(list));
    auto get = d.pop<ScriptRequest>();
    EXPECT_EQ(get.op, ScriptOp::Get);
    EXPECT_EQ(get.name, "one");
    ScriptReply content;
    content.content = "keep;\r\n";
    d.take(d.s.script_result(content));
    EXPECT_EQ(d.drain(), "\"one\" ACTIVE\r\n\"t\\\"wo\"\r\nOK\r\n{7}\r\nkeep;\r\n\r\nOK\r\n");
    d.feed("GETSCRIPT \"none\"\r\n", split);
    d.pop<ScriptRequest>();
    d.take(d.s.script_result(reply(ScriptStatus::NonExistent)));
    EXPECT_EQ(d.drain(), "NO (NONEXISTENT) \"There is no script of that name\"\r\n");
    d.feed("DELETESCRIPT \"one\"\r\n", split);
    auto del = d.pop<ScriptRequest>();
    EXPECT_EQ(del.op, ScriptOp::Delete);
    d.take(d.s.script_result(reply(ScriptStatus::Active)));
    EXPECT_EQ(d.drain(), "NO (ACTIVE) \"The script is active\"\r\n");
    d.feed("RENAMESCRIPT \"one\" \"two\"\r\n", split);
    auto ren = d.pop<ScriptRequest>();
    EXPECT_EQ(ren.op, ScriptOp::Rename);
    EXPECT_EQ(ren.name, "one");
    EXPECT_EQ(ren.new_name, "two");
    d.take(d.s.script_result(reply(ScriptStatus::AlreadyExists)));
    EXPECT_EQ(d.drain(), "NO (ALREADYEXISTS) \"A script of that name exists\"\r\n");
    d.feed("SETACTIVE \"\"\r\n", split);
    auto act = d.pop<ScriptRequest>();
    EXPECT_EQ(act.op, ScriptOp::Activate);
    EXPECT_EQ(act.name, "");
    d.take(d.s.script_result({}));
    EXPECT_EQ(d.drain(), "OK\r\n");
    d.feed("HAVESPACE \"new\" 500\r\n", split);
    auto hs = d.pop<ScriptRequest>();
    EXPECT_EQ(hs.op, ScriptOp::HaveSpace);
    EXPECT_EQ(hs.size_bytes, 500u);
    d.take(d.s.script_result(reply(ScriptStatus::TryLater)));
    EXPECT_EQ(d.drain(), "NO (TRYLATER) \"Temporary failure, try again later\"\r\n");
    // Wrong arguments.
    d.feed("GETSCRIPT one\r\nHAVESPACE \"x\" 12a\r\nRENAMESCRIPT \"a\"\r\n", split);
    EXPECT_EQ(d.drain(), "NO \"Syntax error\"\r\nNO \"Syntax error\"\r\nNO \"Syntax error\"\r\n");
    EXPECT_TRUE(d.actions.empty());
  }
}

TEST(ManageSieveSession, UnauthenticateAndLogout) {
  for (auto split : kSplits) {
    Driver d;
    d.drain();
    d.login(split);
    d.feed("UNAUTHENTICATE\r\nLISTSCRIPTS\r\n", split);
    EXPECT_EQ(d.drain(), "OK\r\nNO \"Authenticate first\"\r\n");
    EXPECT_FALSE(d.s.user());
    d.login(split);
    d.feed("LOGOUT\r\nNOOP\r\n", split);
    EXPECT_EQ(d.drain(), "OK \"Logout completed\"\r\n");
    d.pop<action::Close>();
    EXPECT_TRUE(d.s.closed());
  }
}

TEST(ManageSieveSession, LimitsEndTheSession) {
  for (auto split : kSplits) {
    Limits l;
    l.max_line_bytes = 100;
    Driver d(Driver::defaults(), l);
    d.drain();
    d.feed("NOOP \"" + std::string(200, 'a') + "\"\r\n", split);
    EXPECT_EQ(d.drain(), "BYE \"Line too long\"\r\n");
    d.pop<action::Close>();
    Limits e;
    e.max_errors = 2;
    Driver d2(Driver::defaults(), e);
    d2.drain();
    d2.feed("FOO\r\n\"unterminated\r\n", split);
    EXPECT_EQ(d2.drain(), "NO \"Unknown command\"\r\nNO \"Syntax error\"\r\nBYE \"Too many errors\"\r\n");
    d2.pop<action::Close>();
  }
}

TEST(ManageSieveSession, DeadlinesFollowTheState) {
  Driver d;
  d.drain();
  EXPECT_EQ(d.s.deadline(), Deadline::Unauthenticated);
  d.take(d.s.feed("NOO"));
  EXPECT_EQ(d.s.deadline(), Deadline::InCommand);
  d.take(d.s.feed("P\r\n"));
  EXPECT_EQ(d.s.deadline(), Deadline::Unauthenticated);
  EXPECT_EQ(d.drain(), "OK \"Done\"\r\n");
  d.login(Split::Whole);
  EXPECT_EQ(d.s.deadline(), Deadline::Authenticated);
  d.take(d.s.feed("PUTSCRIPT \"a\" {10+}\r\nke"));
  EXPECT_EQ(d.s.deadline(), Deadline::InCommand);
}

TEST(ManageSieveSession, QuotedOrLiteral) {
  EXPECT_EQ(quoted_or_literal("abc"), "\"abc\"");
  EXPECT_EQ(quoted_or_literal("a\"b\\"), "\"a\\\"b\\\\\"");
  EXPECT_EQ(quoted_or_literal("a\r\nb"), "{4}\r\na\r\nb");
  EXPECT_EQ(quoted_or_literal(std::string(1001, 'x')), "{1001}\r\n" + std::string(1001, 'x'));
}

}  // namespace
}  // namespace refmail::managesieve
