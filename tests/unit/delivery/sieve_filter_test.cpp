// tests/unit/delivery/sieve_filter_test.cpp — the Sieve step of a delivery without a
// store: the message view over a split message (fields unfolded, text parts from the
// summary), the plan of the admin's before script and the user's script merged, errors
// leaving the implicit keep, the upload check and the advertised extensions, and the
// JMAP VacationResponse as the vacation action it stands for.
#include <gtest/gtest.h>

#include "delivery/sieve_filter.hpp"
#include "mime/summary.hpp"
#include "storage/types.hpp"

namespace refmail::delivery {
namespace {

const std::string kHead =
    "Received: from x by y\r\nFrom: Dave <dave@origin.test>\r\nSubject: Invoice\r\n for May\r\n"
    "To: bob+bills@example.test\r\n\r\n";

mime::Summary summary() {
  mime::Summary s;
  mime::PartSummary t;
  t.part_path = "1";
  t.type = "text/plain";
  t.content = "please pay 42 EUR";
  s.text_body.push_back(t);
  mime::PartSummary h = t;
  h.part_path = "2";
  h.type = "text/html";
  h.content = "<p>please pay</p>";
  s.html_body.push_back(h);
  s.html_body.push_back(t);  // shared with textBody: given once
  return s;
}

std::shared_ptr<const sieve::Script> compiled(std::string_view text) {
  auto c = sieve::compile(text);
  EXPECT_FALSE(c.error) << c.error->to_string();
  return c.script;
}

TEST(SieveView, FieldsAndText) {
  const auto sum = summary();
  DeliveredMessage m(kHead, "body", sum, "dave@origin.test", "bob+bills@example.test", 1234);
  ASSERT_EQ(m.header("SUBJECT").size(), 1u);
  EXPECT_EQ(m.header("subject")[0], "Invoice for May");
  EXPECT_EQ(m.headers().size(), 4u);
  EXPECT_EQ(m.body_raw(), "body");
  EXPECT_EQ(m.body_text({"text"}), (std::vector<std::string>{"please pay 42 EUR", "<p>please pay</p>"}));
  EXPECT_EQ(m.body_text({"text/html"}), (std::vector<std::string>{"<p>please pay</p>"}));
  EXPECT_TRUE(m.body_text({"image"}).empty());
  EXPECT_EQ(m.size(), 1234u);
}

TEST(SievePlan, UserScriptAndFlags) {
  const auto sum = summary();
  DeliveredMessage m(kHead, "body", sum, "dave@origin.test", "bob+bills@example.test", 10);
  sieve::Context ctx;
  auto user = compiled(
      "require [\"fileinto\", \"imap4flags\", \"subaddress\", \"body\", \"envelope\"];\r\n"
      "if allof (envelope :detail \"to\" \"bills\", body :text :contains \"42 EUR\") {\r\n"
      "  fileinto :flags \"\\\\Flagged\" \"Bills\";\r\n}\r\n");
  auto plan = plan_sieve(nullptr, user.get(), "", m, ctx, {});
  ASSERT_EQ(plan.rows.size(), 1u);
  EXPECT_EQ(plan.rows[0].mailbox, "Bills");
  EXPECT_FALSE(plan.rows[0].implicit);
  EXPECT_EQ(plan.rows[0].keywords, (std::vector<std::string>{"\\Flagged"}));
  EXPECT_TRUE(plan.error.empty());
}

TEST(SievePlan, BeforeScriptFirstAndMerged) {
  const auto sum = summary();
  DeliveredMessage m(kHead, "body", sum, "dave@origin.test", "bob@example.test", 10);
  sieve::Context ctx;
  auto flagger = compiled("require \"imap4flags\";\r\naddflag \"$seen-by-admin\";\r\n");
  auto filer = compiled("require \"fileinto\";\r\nfileinto \"Admin\";\r\n");
  auto user = compiled("require \"fileinto\";\r\nfileinto \"Mine\";\r\nkeep;\r\n");
  // The before script keeps: the user's runs, its keep takes both flag sets.
  auto plan = plan_sieve(flagger.get(), user.get(), "", m, ctx, {});
  ASSERT_EQ(plan.rows.size(), 2u);
  EXPECT_TRUE(plan.rows[0].implicit);
  EXPECT_EQ(plan.rows[0].keywords, (std::vector<std::string>{"$seen-by-admin"}));
  EXPECT_EQ(plan.rows[1].mailbox, "Mine");
  // The before script files: the user's script does not run.
  plan = plan_sieve(filer.get(), user.get(), "", m, ctx, {});
  ASSERT_EQ(plan.rows.size(), 1u);
  EXPECT_EQ(plan.rows[0].mailbox, "Admin");
}

TEST(SievePlan, ErrorsKeepTheMessage) {
  const auto sum = summary();
  DeliveredMessage m(kHead, "body", sum, "dave@origin.test", "bob@example.test", 10);
  sieve::Context ctx;
  // A stored script that does not compile: kept, the error said.
  auto plan = plan_sieve(nullptr, nullptr, "1:1: bad", m, ctx, {});
  ASSERT_EQ(plan.rows.size(), 1u);
  EXPECT_TRUE(plan.rows[0].implicit);
  EXPECT_EQ(plan.error, "1:1: bad");
  // A run-time error (the step budget): its actions dropped, kept.
  auto spin = compiled("require [\"fileinto\", \"regex\"];\r\nfileinto \"X\";\r\n"
                       "if header :regex \"subject\" \"(a|aa)*(b|c)*(d|e)*z\" { discard; }\r\n");
  sieve::Limits tiny;
  tiny.max_steps = 3;
  plan = plan_sieve(nullptr, spin.get(), "", m, ctx, tiny);
  ASSERT_EQ(plan.rows.size(), 1u);
  EXPECT_EQ(plan.rows[0].mailbox, "INBOX");
  EXPECT_FALSE(plan.error.empty());
  // No script at all: the keep.
  plan = plan_sieve(nullptr, nullptr, "", m, ctx, {});
  ASSERT_EQ(plan.rows.size(), 1u);
  EXPECT_TRUE(plan.error.empty());
}

TEST(SievePlan, RedirectRejectVacation) {
  const auto sum = summary();
  DeliveredMessage m(kHead, "body", sum, "dave@origin.test", "bob@example.test", 10);
  sieve::Context ctx;
  auto s = compiled("require [\"copy\", \"vacation\"];\r\nredirect :copy \"a@x.test\";\r\n"
                    "vacation :days 3 \"away\";\r\n");
  auto plan = plan_sieve(nullptr, s.get(), "", m, ctx, {});
  EXPECT_EQ(plan.redirects, (std::vector<std::string>{"a@x.test"}));
  ASSERT_EQ(plan.rows.size(), 1u);  // :copy keeps
  ASSERT_TRUE(plan.vacation);
  EXPECT_EQ(plan.vacation->period_seconds, 3 * 86400);
  auto r = compiled("require \"reject\";\r\nreject \"no\";\r\n");
  plan = plan_sieve(nullptr, r.get(), "", m, ctx, {});
  EXPECT_TRUE(plan.rows.empty());
  EXPECT_EQ(plan.reject, std::optional<std::string>("no"));
}

TEST(SieveUpload, ValidateAndCapabilities) {
  EXPECT_EQ(validate_sieve("keep;"), "");
  EXPECT_NE(validate_sieve("require \"fileinto\";\nfileint \"x\";").find("2:1"), std::string::npos);
  const auto eh = validate_sieve("require \"editheader\";\naddheader \"X-A\" \"b\";");
  EXPECT_NE(eh.find("editheader"), std::string::npos) << eh;
  const auto caps = " " + sieve_capabilities() + " ";
  EXPECT_EQ(caps.find(" editheader "), std::string::npos);
  EXPECT_NE(caps.find(" fileinto "), std::string::npos);
  EXPECT_NE(caps.find(" vacation "), std::string::npos);
}

TEST(SieveCache, CompilesOnceAndKeepsErrors) {
  SieveCache cache;
  auto a = cache.get("keep;", {});
  auto b = cache.get("keep;", {});
  ASSERT_TRUE(a.script);
  EXPECT_EQ(a.script, b.script);
  auto bad = cache.get("kep;", {});
  EXPECT_FALSE(bad.script);
  EXPECT_NE(bad.error.find("1:1"), std::string::npos);
}

// Off, before fromDate and from toDate on: no action. On: 7 days, no handle, a MIME
// entity in quoted-printable (text only, or text + html as multipart/alternative, the
// text taken from the HTML when there is no textBody).
TEST(VacationResponse, WindowAndReply) {
  storage::VacationSettings v;
  v.subject = "Away";
  v.text_body = "Back soon.\nBye=";
  EXPECT_FALSE(vacation_action(v, 1000));
  v.enabled = true;
  v.from_date = 1000;
  v.to_date = 2000;
  EXPECT_FALSE(vacation_action(v, 999));
  EXPECT_FALSE(vacation_action(v, 2000));
  auto a = vacation_action(v, 1000);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->period_seconds, 7 * 86400);
  EXPECT_TRUE(a->handle.empty());
  EXPECT_EQ(a->subject, "Away");
  EXPECT_TRUE(a->mime);
  EXPECT_EQ(a->reason,
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            "Back soon.\nBye=3D");
  v.from_date.reset();
  v.to_date.reset();
  v.text_body.reset();
  v.subject.reset();
  v.html_body = "<p>Back <b>soon</b></p>";
  a = vacation_action(v, 5);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->subject.empty());  // the reply says "Auto: " + the original's
  EXPECT_TRUE(a->reason.starts_with("Content-Type: multipart/alternative; boundary=\"=_refmail_vacation\"\r\n"))
      << a->reason;
  const auto plain = a->reason.find("quoted-printable\r\n\r\n");
  ASSERT_NE(plain, std::string::npos);
  EXPECT_NE(a->reason.find("Back", plain), a->reason.find("<p>Back"));  // the text from the HTML
  EXPECT_NE(a->reason.find("<p>Back <b>soon</b></p>"), std::string::npos);
  EXPECT_TRUE(a->reason.ends_with("--=_refmail_vacation--\r\n"));
}

}  // namespace
}  // namespace refmail::delivery
