// tests/unit/sieve/body_date_test.cpp — RFC 5173 (body: :raw, :content, :text) and
// RFC 5260 (date, currentdate, :zone, :originalzone, every date-part, index with :last).
#include "tests/unit/sieve/sieve_test_util.hpp"

namespace refmail::sieve::test {
namespace {

TEST(SieveBody, Transforms) {
  FakeMessage m(kSimpleMessage);
  EXPECT_TRUE(run_script("require \"body\"; if body :contains \"money fast\" { discard; }", m).discard);
  EXPECT_EQ(m.last_types, std::vector<std::string>{"text"});
  EXPECT_TRUE(run_script("require \"body\"; if body :raw :contains \"MAKE MONEY\" { discard; }", m).discard);
  EXPECT_FALSE(run_script("require \"body\"; if body :raw :contains \"nothing here\" { discard; }", m).discard);
  EXPECT_TRUE(run_script("require \"body\"; if body :content [\"text/html\", \"image\"] :contains \"body\" { discard; }", m).discard);
  EXPECT_EQ(m.last_types, (std::vector<std::string>{"text/html", "image"}));
  EXPECT_EQ(compile_error("require \"body\"; if body :content :contains \"x\" {}"),
            "1:34: tag \":content\" needs a string list");
  EXPECT_EQ(compile_error("if body :contains \"x\" {}"), "1:4: test \"body\" requires \"body\"");
}

constexpr const char* kDated = "Date: Tue, 1 Apr 1997 09:06:31 -0800\r\n"
                               "Received: from a by b; Wed, 02 Apr 1997 01:00:00 +0000\r\n"
                               "Received: from c by d; Tue, 01 Apr 1997 17:06:32 +0000\r\n"
                               "Subject: x\r\n\r\nbody";

bool date_holds(const std::string& test, int tz = 0) {
  Context ctx;
  ctx.tz_offset_minutes = tz;
  ctx.now_unix = 1700000000;  // 2023-11-14T22:13:20Z, a Tuesday
  FakeMessage m(kDated);
  auto o = run_script("require [\"date\", \"index\", \"relational\"]; if " + test + " { discard; }", m, ctx);
  EXPECT_FALSE(o.runtime_error) << test;
  return o.discard;
}

TEST(SieveDate, OriginalZoneParts) {
  EXPECT_TRUE(date_holds("date :originalzone \"date\" \"date\" \"1997-04-01\""));
  EXPECT_TRUE(date_holds("date :originalzone \"date\" \"year\" \"1997\""));
  EXPECT_TRUE(date_holds("date :originalzone \"date\" \"month\" \"04\""));
  EXPECT_TRUE(date_holds("date :originalzone \"date\" \"day\" \"01\""));
  EXPECT_TRUE(date_holds("date :originalzone \"date\" \"hour\" \"09\""));
  EXPECT_TRUE(date_holds("date :originalzone \"date\" \"minute\" \"06\""));
  EXPECT_TRUE(date_holds("date :originalzone \"date\" \"second\" \"31\""));
  EXPECT_TRUE(date_holds("date :originalzone \"date\" \"time\" \"09:06:31\""));
  EXPECT_TRUE(date_holds("date :originalzone \"date\" \"zone\" \"-0800\""));
  EXPECT_TRUE(date_holds("date :originalzone \"date\" \"iso8601\" \"1997-04-01T09:06:31-08:00\""));
  EXPECT_TRUE(date_holds("date :originalzone \"date\" \"std11\" \"Tue, 01 Apr 1997 09:06:31 -0800\""));
  EXPECT_TRUE(date_holds("date :originalzone \"date\" \"weekday\" \"2\""));
  EXPECT_TRUE(date_holds("date :originalzone \"date\" \"julian\" \"50539\""));
}

TEST(SieveDate, Zones) {
  // 09:06:31 -0800 is 17:06:31 UTC, 02:06:31 next day in +0900.
  EXPECT_TRUE(date_holds("date :zone \"+0000\" \"date\" \"time\" \"17:06:31\""));
  EXPECT_TRUE(date_holds("date :zone \"+0900\" \"date\" \"date\" \"1997-04-02\""));
  EXPECT_TRUE(date_holds("date :zone \"+0900\" \"date\" \"weekday\" \"3\""));
  // Without :zone: the user's zone from the context.
  EXPECT_TRUE(date_holds("date \"date\" \"hour\" \"18\"", 60));
  EXPECT_TRUE(date_holds("date \"date\" \"zone\" \"+0100\"", 60));
  EXPECT_EQ(compile_error("require \"date\"; if date :zone \"0100\" \"date\" \"hour\" \"1\" {}"),
            "1:31: bad zone \"0100\" (expected +hhmm or -hhmm)");
  EXPECT_EQ(compile_error("require \"date\"; if date \"date\" \"fortnight\" \"1\" {}"),
            "1:32: unknown date-part \"fortnight\"");
  EXPECT_EQ(compile_error("require \"date\"; if currentdate :originalzone \"year\" \"1\" {}"),
            "1:32: unknown tag \":originalzone\" for currentdate");
}

TEST(SieveDate, CurrentDate) {
  EXPECT_TRUE(date_holds("currentdate :zone \"+0000\" \"date\" \"2023-11-14\""));
  EXPECT_TRUE(date_holds("currentdate :zone \"+0000\" \"weekday\" \"2\""));
  EXPECT_TRUE(date_holds("currentdate :zone \"+0200\" \"date\" \"2023-11-15\""));
  EXPECT_TRUE(date_holds("currentdate :value \"ge\" \"date\" \"2023-01-01\""));
  EXPECT_FALSE(date_holds("currentdate :value \"lt\" \"date\" \"2023-01-01\""));
  EXPECT_TRUE(date_holds("currentdate \"iso8601\" \"2023-11-14T23:13:20+01:00\"", 60));
  // RFC 5260 example: a time window (between 9 and 17 in the user's zone).
  EXPECT_TRUE(date_holds("allof(currentdate :value \"ge\" \"hour\" \"09\", currentdate :value \"lt\" \"hour\" \"23\")"));
}

TEST(SieveIndex, HeaderAndDate) {
  // The last Received field is the oldest: :index 1 :last.
  EXPECT_TRUE(date_holds("date :zone \"+0000\" :index 1 :last \"received\" \"time\" \"17:06:32\""));
  EXPECT_TRUE(date_holds("date :zone \"+0000\" :index 1 \"received\" \"date\" \"1997-04-02\""));
  EXPECT_FALSE(date_holds("date :zone \"+0000\" :index 3 \"received\" \"year\" \"1997\""));
  EXPECT_TRUE(date_holds("header :index 2 :contains \"received\" \"from c\""));
  EXPECT_FALSE(date_holds("header :index 2 :last :contains \"received\" \"from c\""));
  // A header that is no date never matches.
  EXPECT_FALSE(date_holds("date \"subject\" \"year\" \"1997\""));
}

}  // namespace
}  // namespace refmail::sieve::test

namespace refmail::sieve::test {
namespace {

// The examples of RFC 5173 6, RFC 5260 7 and RFC 5490, as scripts that must compile and
// decide as the RFCs describe.
class MultipartMessage : public FakeMessage {
 public:
  using FakeMessage::FakeMessage;
  std::vector<std::string> body_text(const std::vector<std::string>& types) const override {
    // Parts: text/plain "launch the missile", audio/mp3 (binary).
    std::vector<std::string> out;
    for (const auto& t : types) {
      if (t == "text" || t == "text/plain" || t.empty()) out.push_back("launch the missile");
      if (t == "audio/mp3" || t == "audio" || t.empty()) out.push_back("\x01\x02ID3");
    }
    return out;
  }
};

TEST(SieveRfcExamples, Rfc5173Body) {
  const char* s = R"(require ["body", "fileinto"];
if body :content "text" :contains ["missile", "coordinates"] {
    fileinto "secrets";
}
if body :content "audio/mp3" :contains "" {
    fileinto "jukebox";
}
if body :text :contains "MAKE MONEY FAST" {
    discard;
}
)";
  MultipartMessage m("Subject: x\r\n\r\n");
  auto o = run_script(s, m);
  EXPECT_EQ(mailboxes(o), (std::vector<std::string>{"secrets", "jukebox"}));
  EXPECT_FALSE(o.discard);
}

TEST(SieveRfcExamples, Rfc5260Date) {
  const char* office = R"(require ["date", "relational", "fileinto"];
if allof(header :is "from" "boss@example.com",
         date :value "ge" :originalzone "date" "hour" "09",
         date :value "lt" :originalzone "date" "hour" "17")
{ fileinto "urgent"; }
)";
  EXPECT_EQ(mailboxes(run_script(office, "From: boss@example.com\r\nDate: Tue, 1 Apr 1997 09:06:31 -0800\r\n\r\n")),
            std::vector<std::string>{"urgent"});
  EXPECT_TRUE(mailboxes(run_script(office, "From: boss@example.com\r\nDate: Tue, 1 Apr 1997 18:06:31 -0800\r\n\r\n")).empty());

  const char* away = R"(require ["date", "relational", "vacation"];
if allof(currentdate :value "ge" "date" "2007-06-30",
         currentdate :value "le" "date" "2007-07-07")
{ vacation :days 7  "I'm away during the first week in July."; }
)";
  Context in_july;
  in_july.now_unix = 1183334400;  // 2007-07-02
  FakeMessage m("Subject: x\r\n\r\n");
  EXPECT_TRUE(run_script(away, m, in_july).vacation);
  Context later;
  later.now_unix = 1700000000;
  EXPECT_FALSE(run_script(away, m, later).vacation);

  const char* stamp = R"(require ["date", "variables", "editheader"];
if currentdate :matches "std11" "*" {addheader "Processing-date" "${0}";}
)";
  auto o = run_script(stamp, m, later);
  ASSERT_EQ(o.header_edits.size(), 1u);
  EXPECT_EQ(o.header_edits[0].name, "Processing-date");
  EXPECT_EQ(o.header_edits[0].value, "Tue, 14 Nov 2023 22:13:20 +0000");
}

TEST(SieveRfcExamples, Rfc5490Mailbox) {
  const char* s = R"(require ["fileinto", "reject", "mailbox"];
if mailboxexists "Fnord" {
    fileinto "Fnord";
    stop;
}
reject "Ooops!";
)";
  Context has;
  has.mailbox_exists = [](std::string_view mb) { return mb == "Fnord"; };
  Context hasnt;
  hasnt.mailbox_exists = [](std::string_view) { return false; };
  FakeMessage m("Subject: x\r\n\r\n");
  EXPECT_EQ(mailboxes(run_script(s, m, has)), std::vector<std::string>{"Fnord"});
  auto o = run_script(s, m, hasnt);
  ASSERT_TRUE(o.reject);
  EXPECT_EQ(*o.reject, "Ooops!");
  EXPECT_EQ(mailboxes(run_script("require [\"fileinto\", \"mailbox\"]; fileinto :create \"INBOX.folder\";", m, hasnt)),
            std::vector<std::string>{"INBOX.folder"});
}

}  // namespace
}  // namespace refmail::sieve::test
