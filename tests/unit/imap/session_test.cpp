// tests/unit/imap/session_test.cpp — imap::Session transcripts (RFC 9051 connection-level
// commands, LOGIN / AUTHENTICATE PLAIN, STARTTLS, IDLE, state and reader errors, limits),
// each fed whole, one byte at a time and in random chunkings (session_harness.hpp).
#include "imap/session.hpp"

#include <gtest/gtest.h>

#include "session_harness.hpp"

namespace refmail::imap::test {
namespace {

const std::string kCore = "IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE IDLE NAMESPACE SASL-IR UTF8=ACCEPT";
const std::string kBase = kCore + " COMPRESS=DEFLATE";
const std::string kPreTls = kBase + " STARTTLS LOGINDISABLED";
const std::string kPlain = kBase + " AUTH=PLAIN";

std::string greeting(const std::string& caps) { return "* OK [CAPABILITY " + caps + "] refmail IMAP server ready\r\n"; }

Options plain_opts() {  // STARTTLS offered, not active
  Options o;
  o.tls_available = true;
  o.server_version = "1.0";
  return o;
}
Options tls_opts() {  // implicit TLS
  Options o = plain_opts();
  o.tls_active = true;
  return o;
}

// "\0user\0pass"
const std::string kPlainB64 = "AHVzZXIAcGFzcw==";
const std::string kLoggedIn = greeting(kPlain) + "<<Auth LOGIN user pass>>a OK [CAPABILITY " + kBase + "] Logged in\r\n";
// With the mailbox layer (Options::mailbox_requests) its extensions are advertised too.
const std::string kMailboxCaps = kCore +
    " UNSELECT UIDPLUS MOVE CONDSTORE QRESYNC ESEARCH SEARCHRES LIST-EXTENDED LIST-STATUS SPECIAL-USE CHILDREN BINARY STATUS=SIZE APPENDLIMIT=52428800 OBJECTID SORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT QUOTA QUOTA=RES-STORAGE COMPRESS=DEFLATE";
const std::string kLoggedInMailbox = greeting(kMailboxCaps + " AUTH=PLAIN") +
                                     "<<Auth LOGIN user pass>>a OK [CAPABILITY " + kMailboxCaps + "] Logged in\r\n";
std::vector<Step> login_steps() { return {c("a LOGIN user pass\r\n"), auth(AuthOutcome::Ok)}; }
std::vector<Step> after_login(std::vector<Step> more) {
  auto s = login_steps();
  s.insert(s.end(), more.begin(), more.end());
  return s;
}

TEST(ImapSession, GreetingAndCapabilityBeforeTls) {
  expect_transcript(plain_opts(), {}, {c("a CAPABILITY\r\n")},
                    greeting(kPreTls) + "* CAPABILITY " + kPreTls + "\r\na OK CAPABILITY completed\r\n");
}

TEST(ImapSession, CapabilityOnLoopbackPlaintextAndWithoutTls) {
  Options o = plain_opts();
  o.login_without_tls = true;
  expect_transcript(o, {}, {c("a capability\r\n")},
                    greeting(kBase + " STARTTLS AUTH=PLAIN") + "* CAPABILITY " + kBase +
                        " STARTTLS AUTH=PLAIN\r\na OK CAPABILITY completed\r\n");
  Options none;
  expect_transcript(none, {}, {}, greeting(kBase + " LOGINDISABLED"));
}

TEST(ImapSession, CapabilityFollowsLimitsAndOnlyImplementedExtensions) {
  Options o = tls_opts();
  // Without the mailbox layer its extensions (SORT...) are not advertised.
  o.extensions = kImplementedExtensions;
  Limits l;
  l.non_sync = NonSyncLiterals::LiteralMinus;
  Session s(o, l);
  EXPECT_EQ(s.capabilities(),
            "IMAP4rev1 IMAP4rev2 LITERAL- ID ENABLE IDLE NAMESPACE SASL-IR UTF8=ACCEPT COMPRESS=DEFLATE AUTH=PLAIN");
  o.extensions = static_cast<ExtensionSet>(Extension::Id);
  l.non_sync = NonSyncLiterals::None;
  Session s2(o, l);
  EXPECT_EQ(s2.capabilities(), "IMAP4rev1 IMAP4rev2 ID AUTH=PLAIN");
}

TEST(ImapSession, NoopAndLogout) {
  expect_transcript(plain_opts(), {}, {c("a NOOP\r\nb LOGOUT\r\nc NOOP\r\n"), c("d NOOP\r\n")},
                    greeting(kPreTls) +
                        "a OK NOOP completed\r\n* BYE Logging out\r\nb OK LOGOUT completed\r\n<<Close>>");
}

TEST(ImapSession, LoginBeforeTlsRefused) {
  expect_transcript(plain_opts(), {}, {c("a LOGIN user pass\r\nb AUTHENTICATE PLAIN " + kPlainB64 + "\r\n")},
                    greeting(kPreTls) +
                        "a NO [PRIVACYREQUIRED] Plaintext login is disabled: use STARTTLS first\r\n"
                        "b NO [PRIVACYREQUIRED] Plaintext authentication is disabled: use STARTTLS first\r\n");
}

TEST(ImapSession, StartTlsThenLogin) {
  expect_transcript(plain_opts(), {},
                    {c("a STARTTLS\r\n"), tls(), c("b CAPABILITY\r\nc LOGIN user pass\r\n"), auth(AuthOutcome::Ok),
                     c("d CAPABILITY\r\n")},
                    greeting(kPreTls) + "a OK Begin TLS negotiation now\r\n<<StartTls>>* CAPABILITY " + kPlain +
                        "\r\nb OK CAPABILITY completed\r\n<<Auth LOGIN user pass>>c OK [CAPABILITY " + kBase +
                        "] Logged in\r\n* CAPABILITY " + kBase + "\r\nd OK CAPABILITY completed\r\n");
}

TEST(ImapSession, StartTlsPipelinedCommandsAreDiscarded) {
  // CVE-2011-0411: the LOGIN was sent in plaintext after STARTTLS, in the same packet
  // and in a later one before the handshake; it must never run inside TLS.
  expect_transcript(plain_opts(), {},
                    {c("a STARTTLS\r\nb LOGIN user pass\r\n"), c("c LOGIN user pass\r\n"), tls(), c("d NOOP\r\n")},
                    greeting(kPreTls) + "a OK Begin TLS negotiation now\r\n<<StartTls>>d OK NOOP completed\r\n");
}

TEST(ImapSession, StartTlsRefusedWhenActiveOrUnavailable) {
  expect_transcript(tls_opts(), {}, {c("a STARTTLS\r\n")}, greeting(kPlain) + "a BAD TLS is already active\r\n");
  Options o;
  o.login_without_tls = true;
  expect_transcript(o, {}, {c("a STARTTLS\r\n")},
                    greeting(kBase + " AUTH=PLAIN") + "a BAD STARTTLS is not available\r\n");
  expect_transcript(tls_opts(), {}, after_login({c("b STARTTLS\r\n")}), kLoggedIn + "b BAD Already authenticated\r\n");
}

TEST(ImapSession, LoginWithLiteral) {
  expect_transcript(tls_opts(), {}, {c("a LOGIN {4}\r\n"), c("user {4+}\r\npass\r\n"), auth(AuthOutcome::Ok)},
                    greeting(kPlain) + "+ Ready for literal data\r\n<<Auth LOGIN user pass>>a OK [CAPABILITY " +
                        kBase + "] Logged in\r\n");
}

TEST(ImapSession, AuthenticatePlainWithInitialResponse) {
  expect_transcript(tls_opts(), {}, {c("a AUTHENTICATE PLAIN " + kPlainB64 + "\r\n"), auth(AuthOutcome::Ok)},
                    greeting(kPlain) + "<<Auth PLAIN user pass>>a OK [CAPABILITY " + kBase + "] Logged in\r\n");
}

TEST(ImapSession, AuthenticatePlainWithContinuation) {
  // authzid equal to the authcid is allowed: "user\0user\0pass"
  expect_transcript(tls_opts(), {},
                    {c("a AUTHENTICATE PLAIN\r\n"), c("dXNlcgB1c2VyAHBhc3M=\r\n"), auth(AuthOutcome::Ok), c("b NOOP\r\n")},
                    greeting(kPlain) + "+ \r\n<<Auth PLAIN user pass>>a OK [CAPABILITY " + kBase +
                        "] Logged in\r\nb OK NOOP completed\r\n");
}

TEST(ImapSession, AuthenticateCancelledAndBadBase64) {
  expect_transcript(tls_opts(), {},
                    {c("a AUTHENTICATE PLAIN\r\n*\r\nb AUTHENTICATE PLAIN\r\nnot base64!\r\n"
                       "c AUTHENTICATE PLAIN AHVzZXIAcGFzcw=\r\nd NOOP\r\n")},
                    greeting(kPlain) + "+ \r\na BAD Authentication cancelled\r\n+ \r\nb BAD Invalid base64\r\n"
                        "c BAD Invalid initial response\r\nd OK NOOP completed\r\n");
}

TEST(ImapSession, AuthenticateRefusals) {
  // "other\0user\0pass": acting as another user; "=": empty; "\0user\0": no password.
  expect_transcript(tls_opts(), {},
                    {c("a AUTHENTICATE PLAIN b3RoZXIAdXNlcgBwYXNz\r\nb AUTHENTICATE PLAIN =\r\n"
                       "c AUTHENTICATE CRAM-MD5\r\n")},
                    greeting(kPlain) + "a NO [AUTHORIZATIONFAILED] Cannot act as another user\r\n"
                        "b NO [AUTHENTICATIONFAILED] Invalid SASL PLAIN message\r\n"
                        "c NO Unsupported authentication mechanism\r\n");
}

TEST(ImapSession, AuthFailuresEndTheSession) {
  expect_transcript(tls_opts(), {},
                    {c("a LOGIN user bad\r\n"), auth(AuthOutcome::Failed), c("b LOGIN user bad\r\n"),
                     auth(AuthOutcome::Temporary), c("c LOGIN user bad\r\n"), auth(AuthOutcome::Failed),
                     c("d AUTHENTICATE PLAIN " + kPlainB64 + "\r\n"), auth(AuthOutcome::Failed), c("e NOOP\r\n")},
                    greeting(kPlain) + "<<Auth LOGIN user bad>>a NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
                        "<<Auth LOGIN user bad>>b NO [UNAVAILABLE] Temporary authentication failure, try again later\r\n"
                        "<<Auth LOGIN user bad>>c NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
                        "<<Auth PLAIN user pass>>d NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
                        "* BYE Too many authentication failures\r\n<<Close>>");
}

TEST(ImapSession, StateErrors) {
  expect_transcript(tls_opts(), {}, {c("a SELECT INBOX\r\nb FETCH 1 FLAGS\r\nc ENABLE IMAP4rev2\r\nd IDLE\r\n")},
                    greeting(kPlain) + "a BAD SELECT needs authentication first\r\n"
                        "b BAD FETCH needs authentication first\r\nc BAD ENABLE needs authentication first\r\n"
                        "d BAD IDLE needs authentication first\r\n");
  expect_transcript(tls_opts(), {},
                    after_login({c("b LOGIN x y\r\nc AUTHENTICATE PLAIN\r\nd UID FETCH 1 FLAGS\r\ne CLOSE\r\n")}),
                    kLoggedIn + "b BAD Already authenticated\r\nc BAD Already authenticated\r\n"
                                "d BAD No mailbox selected\r\ne BAD No mailbox selected\r\n");
}

TEST(ImapSession, StoreCommandsAreNotAvailableYet) {
  expect_transcript(tls_opts(), {},
                    after_login({c("b SELECT INBOX\r\nc LIST \"\" *\r\nd STATUS INBOX (MESSAGES)\r\n"
                                   "e APPEND INBOX {3}\r\n"),
                                 c("f APPEND INBOX {3+}\r\nabc\r\n")}),
                    kLoggedIn + "b NO [CANNOT] SELECT is not available yet\r\n"
                                "c NO [CANNOT] LIST is not available yet\r\n"
                                "d NO [CANNOT] STATUS is not available yet\r\n"
                                "e NO [CANNOT] APPEND is not available yet\r\n"
                                "f NO [CANNOT] APPEND is not available yet\r\n");
}

TEST(ImapSession, CompressHandsOverWhatFollows) {
  expect_transcript(tls_opts(), {}, {c("a COMPRESS DEFLATE\r\n")}, greeting(kPlain) + "a BAD COMPRESS needs authentication first\r\n");
  Session s(tls_opts(), {});
  (void)s.start();
  (void)s.feed("a LOGIN user pass\r\n");
  (void)s.auth_result(AuthOutcome::Ok);
  EXPECT_EQ(std::get<action::Write>(s.feed("b COMPRESS LZW\r\n")[0]).bytes, "b BAD Unknown compression mechanism\r\n");
  // The bytes after the command are already compressed: handed over, not parsed.
  auto out = s.feed("c COMPRESS DEFLATE\r\n\x01\x02\x03");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<action::Write>(out[0]).bytes, "c OK DEFLATE active\r\n");
  EXPECT_EQ(std::get<action::StartCompression>(out[1]).pending, "\x01\x02\x03");
  EXPECT_EQ(std::get<action::Write>(s.feed("d COMPRESS DEFLATE\r\n")[0]).bytes,
            "d NO [COMPRESSIONACTIVE] DEFLATE is already active\r\n");
}

TEST(ImapSession, MailboxRequestHook) {
  Options o = tls_opts();
  o.mailbox_requests = true;
  // In the selected state NOOP, FETCH and IDLE's polls go to the mailbox layer too;
  // a poll's reply has no status line and the session idles on.
  expect_transcript(o, {},
                    after_login({c("b SELECT INBOX\r\nc NOOP\r\n"), mailbox(), mailbox("NOOP completed"),
                                 c("d FETCH 1 FLAGS\r\n"), mailbox("FETCH completed"), c("e CAPABILITY\r\n")}),
                    kLoggedInMailbox + "<<Mailbox SELECT user>>* 3 EXISTS\r\nb OK [READ-WRITE] SELECT completed\r\n"
                                "<<Mailbox NOOP user>>c OK NOOP completed\r\n"
                                "<<Mailbox FETCH user>>d OK FETCH completed\r\n"
                                "* CAPABILITY " + kMailboxCaps + "\r\ne OK CAPABILITY completed\r\n");
}

TEST(ImapSession, IdlePollsTheSelectedMailbox) {
  Options o = tls_opts();
  o.mailbox_requests = true;
  Session s(o, {});
  (void)s.start();
  (void)s.feed("a LOGIN user pass\r\n");
  (void)s.auth_result(AuthOutcome::Ok);
  EXPECT_TRUE(s.poll_mailbox().empty());  // nothing selected
  (void)s.feed("b SELECT INBOX\r\n");
  MailboxReply sel;
  sel.selection = MailboxReply::Selection::Selected;
  (void)s.mailbox_result(std::move(sel));
  ASSERT_EQ(s.state(), SessionState::Selected);
  EXPECT_TRUE(s.poll_mailbox().empty());  // not idling
  (void)s.feed("c IDLE\r\n");
  ASSERT_EQ(s.state(), SessionState::Idle);
  auto p = s.poll_mailbox();
  ASSERT_EQ(p.size(), 1u);
  auto* req = std::get_if<action::MailboxRequest>(&p[0]);
  ASSERT_NE(req, nullptr);
  EXPECT_TRUE(req->poll);
  EXPECT_TRUE(s.poll_mailbox().empty());  // one at a time
  // DONE arrives while the poll runs: it waits in the reader.
  EXPECT_TRUE(s.feed("DONE\r\n").empty());
  MailboxReply upd;
  upd.body.push_back(action::Write{"* 4 EXISTS\r\n"});
  std::string wire;
  for (auto& a : s.mailbox_result(std::move(upd)))
    if (auto* w = std::get_if<action::Write>(&a)) wire += w->bytes;
  EXPECT_EQ(wire, "* 4 EXISTS\r\nc OK IDLE terminated\r\n");
  EXPECT_EQ(s.state(), SessionState::Selected);
}

TEST(ImapSession, AppendAsksTheMailboxLayerBeforeTheContinuation) {
  Options o = tls_opts();
  o.mailbox_requests = true;
  Session s(o, {});
  (void)s.start();
  (void)s.feed("a LOGIN user pass\r\n");
  (void)s.auth_result(AuthOutcome::Ok);
  auto begin = s.feed("b APPEND INBOX (\\Seen) {5}\r\n");
  ASSERT_EQ(begin.size(), 1u);
  auto* req = std::get_if<action::MailboxRequest>(&begin[0]);
  ASSERT_NE(req, nullptr);
  EXPECT_TRUE(req->append_begin);
  auto go = s.mailbox_result(MailboxReply{});
  ASSERT_EQ(go.size(), 1u);
  EXPECT_EQ(std::get<action::Write>(go[0]).bytes, "+ Ready for literal data\r\n");
  auto data = s.feed("hel");
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(std::get<action::AppendData>(data[0]).bytes, "hel");
  auto end = s.feed("lo\r\n");
  ASSERT_EQ(end.size(), 2u);
  EXPECT_EQ(std::get<action::AppendData>(end[0]).bytes, "lo");
  auto* cmd = std::get_if<action::MailboxRequest>(&end[1]);
  ASSERT_NE(cmd, nullptr);
  EXPECT_FALSE(cmd->append_begin);
  EXPECT_TRUE(std::holds_alternative<Append>(cmd->command.body));
  // A refusal before the bytes: no "+", the status line is the answer.
  MailboxReply done;
  done.code = "APPENDUID 1 1";
  done.text = "APPEND completed";
  (void)s.mailbox_result(std::move(done));
  (void)s.feed("c APPEND Nowhere {5}\r\n");
  MailboxReply no;
  no.status = Condition::No;
  no.code = "TRYCREATE";
  no.text = "No such mailbox";
  auto refused = s.mailbox_result(std::move(no));
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(std::get<action::Write>(refused[0]).bytes, "c NO [TRYCREATE] No such mailbox\r\n");
  EXPECT_EQ(s.state(), SessionState::Authenticated);
}

TEST(ImapSession, AppendBeforeLoginAndTooBig) {
  expect_transcript(tls_opts(), {}, {c("a APPEND INBOX {3+}\r\nabc\r\nb NOOP\r\n")},
                    greeting(kPlain) + "a BAD APPEND needs authentication first\r\nb OK NOOP completed\r\n");
  Limits l;
  l.command.max_append_bytes = 10;
  expect_transcript(tls_opts(), l, after_login({c("b APPEND INBOX {11}\r\nc NOOP\r\n")}),
                    kLoggedIn + "b NO [TOOBIG] Message larger than APPENDLIMIT\r\nc OK NOOP completed\r\n");
}

TEST(ImapSession, EnableSwitchesUtf8) {
  // Before ENABLE an 8-bit quoted string is a syntax error; after IMAP4rev2 it is a name.
  expect_transcript(tls_opts(), {},
                    after_login({c("b SELECT \"Entw\xc3\xbcrfe\"\r\nc ENABLE IMAP4rev2 CONDSTORE FOO\r\n"
                                   "d SELECT \"Entw\xc3\xbcrfe\"\r\ne ENABLE IMAP4rev2 UTF8=ACCEPT\r\n")}),
                    kLoggedIn + "b BAD 8-bit characters in a quoted string\r\n* ENABLED IMAP4rev2\r\nc OK ENABLE completed\r\n"
                                "d NO [CANNOT] SELECT is not available yet\r\n"
                                "* ENABLED UTF8=ACCEPT\r\ne OK ENABLE completed\r\n");
}

TEST(ImapSession, Id) {
  std::string many = "a ID (";
  for (int i = 0; i < 31; ++i) many += "\"k" + std::to_string(i) + "\" \"v\" ";
  many.back() = ')';
  many += "\r\n";
  expect_transcript(plain_opts(), {},
                    {c("a ID NIL\r\nb ID (\"name\" \"Thunderbird\" \"version\" NIL)\r\n"), c(many),
                     c("c ID (\"" + std::string(31, 'k') + "\" \"v\")\r\n")},
                    greeting(kPreTls) + "* ID (\"name\" \"refmail\" \"version\" \"1.0\")\r\na OK ID completed\r\n"
                        "* ID (\"name\" \"refmail\" \"version\" \"1.0\")\r\nb OK ID completed\r\n"
                        "a BAD Too many ID fields\r\nc BAD ID field too long\r\n");
}

TEST(ImapSession, Namespace) {
  expect_transcript(tls_opts(), {}, after_login({c("b NAMESPACE\r\n")}),
                    kLoggedIn + "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\nb OK NAMESPACE completed\r\n");
}

TEST(ImapSession, Idle) {
  expect_transcript(tls_opts(), {}, after_login({c("b IDLE\r\n"), c("done\r\nc IDLE\r\nnope\r\nd NOOP\r\n")}),
                    kLoggedIn + "+ idling\r\nb OK IDLE terminated\r\n+ idling\r\nc BAD Expected DONE\r\n"
                                "d OK NOOP completed\r\n");
}

TEST(ImapSession, ReaderErrors) {
  expect_transcript(plain_opts(), {}, {c("a FOO\r\n"), c("\r\n"), c("b NOOP extra\r\n"), c("c LOGIN {99999999}\r\n")},
                    greeting(kPreTls) + "a BAD Unknown command FOO\r\n* BAD Empty command line\r\n"
                        "b BAD Unexpected extra arguments\r\nc BAD Literal too large\r\n");
}

TEST(ImapSession, TooManyErrors) {
  Limits l;
  l.max_errors = 3;
  expect_transcript(tls_opts(), l, {c("a FOO\r\nb FOO\r\nc NOOP\r\nd FOO\r\ne NOOP\r\n")},
                    greeting(kPlain) + "a BAD Unknown command FOO\r\nb BAD Unknown command FOO\r\n"
                        "c OK NOOP completed\r\nd BAD Unknown command FOO\r\n* BYE Too many errors\r\n<<Close>>");
}

TEST(ImapSession, TooManyCommandsBeforeLogin) {
  Limits l;
  l.max_unauthenticated_commands = 3;
  expect_transcript(tls_opts(), l, {c("a NOOP\r\nb NOOP\r\nc CAPABILITY\r\nd NOOP\r\ne NOOP\r\n")},
                    greeting(kPlain) + "a OK NOOP completed\r\nb OK NOOP completed\r\n* CAPABILITY " + kPlain +
                        "\r\nc OK CAPABILITY completed\r\n* BYE Too many commands before login\r\n<<Close>>");
}

TEST(ImapSession, InputBoundedWhileWaiting) {
  Limits l;
  l.max_input_buffer = 100;
  Session s(tls_opts(), l);
  (void)s.start();
  auto a = s.feed("a LOGIN user pass\r\n");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<action::Authenticate>(a[0]));
  EXPECT_FALSE(s.wants_input());
  EXPECT_TRUE(s.feed(std::string(50, 'x')).empty());
  auto b = s.feed(std::string(60, 'x'));
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(std::get<action::Write>(b[0]).bytes, "* BYE Too much input while waiting\r\n");
  EXPECT_TRUE(std::holds_alternative<action::Close>(b[1]));
  EXPECT_TRUE(s.closed());
  EXPECT_TRUE(s.auth_result(AuthOutcome::Ok).empty());  // the late outcome is ignored
}

TEST(ImapSession, Deadlines) {
  Session s(tls_opts(), {});
  (void)s.start();
  EXPECT_EQ(s.deadline(), Deadline::Unauthenticated);
  (void)s.feed("a LOG");
  EXPECT_EQ(s.deadline(), Deadline::InCommand);
  (void)s.feed("IN user pass\r\n");
  EXPECT_EQ(s.deadline(), Deadline::None);
  (void)s.auth_result(AuthOutcome::Ok);
  EXPECT_EQ(s.deadline(), Deadline::Authenticated);
  EXPECT_EQ(s.user(), std::optional<std::string>("user"));
  (void)s.feed("b APPEND INBOX {5+}\r\nab");
  EXPECT_EQ(s.deadline(), Deadline::InCommand);
  (void)s.feed("cde\r\nc IDLE\r\n");
  EXPECT_EQ(s.state(), SessionState::Idle);
  EXPECT_EQ(s.deadline(), Deadline::Idle);
  (void)s.feed("DONE\r\nd LOGOUT\r\n");
  EXPECT_EQ(s.deadline(), Deadline::None);
  EXPECT_TRUE(s.closed());
}

TEST(ImapSession, TransitionsAreReported) {
  Session s(tls_opts(), {});
  std::vector<std::string> seen;
  s.on_transition = [&](SessionState from, SessionState to) {
    seen.push_back(std::string(to_string(from)) + ">" + to_string(to));
  };
  (void)s.start();
  (void)s.feed("a LOGIN user pass\r\n");
  (void)s.auth_result(AuthOutcome::Ok);
  (void)s.feed("b LOGOUT\r\n");
  EXPECT_EQ(seen, (std::vector<std::string>{"Init>NotAuthenticated", "NotAuthenticated>WaitAuth",
                                            "WaitAuth>Authenticated", "Authenticated>Logout"}));
}

}  // namespace
}  // namespace refmail::imap::test

namespace refmail::imap::test {
namespace {

// A LiteralSource over a string, read in small pieces as the server would.
class StringSource : public LiteralSource {
 public:
  explicit StringSource(std::string s) : s_(std::move(s)) {}
  boost::system::result<std::size_t> read(std::span<char> out) override {
    std::size_t n = std::min(out.size(), s_.size() - at_);
    std::copy_n(s_.data() + at_, n, out.data());
    at_ += n;
    return n;
  }

 private:
  std::string s_;
  std::size_t at_ = 0;
};

TEST(ImapSession, MailboxReplyStreamsALiteralInOrder) {
  Options o = tls_opts();
  o.mailbox_requests = true;
  Session s(o, {});
  (void)s.start();
  (void)s.feed("a LOGIN user pass\r\n");
  (void)s.auth_result(AuthOutcome::Ok);
  auto req = s.feed("b STATUS INBOX (MESSAGES)\r\n");
  ASSERT_EQ(req.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<action::MailboxRequest>(req[0]));
  EXPECT_EQ(s.deadline(), Deadline::None);
  MailboxReply r;
  ResponseBuilder b;
  b.atom("* 1 FETCH (BODY[] ").literal_prefix(11, false);
  r.body.push_back(action::Write{b.take()});
  r.body.push_back(action::WriteLiteral{11, std::make_shared<StringSource>("Hello world")});
  r.body.push_back(action::Write{")\r\n"});
  r.text = "done";
  auto out = s.mailbox_result(std::move(r));
  ASSERT_EQ(out.size(), 4u);
  std::string wire;
  for (auto& a : out) {
    if (auto* w = std::get_if<action::Write>(&a)) wire += w->bytes;
    if (auto* l = std::get_if<action::WriteLiteral>(&a)) {
      std::string got;
      char buf[4];
      for (;;) {
        auto n = l->source->read(buf);
        ASSERT_TRUE(n.has_value());
        if (*n == 0) break;
        got.append(buf, *n);
      }
      EXPECT_EQ(got.size(), l->size);
      wire += got;
    }
  }
  EXPECT_EQ(wire, "* 1 FETCH (BODY[] {11}\r\nHello world)\r\nb OK done\r\n");
  EXPECT_EQ(s.state(), SessionState::Authenticated);
}

}  // namespace
}  // namespace refmail::imap::test
