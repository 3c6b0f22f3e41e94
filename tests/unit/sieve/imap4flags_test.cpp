// tests/unit/sieve/imap4flags_test.cpp — RFC 5232 (imap4flags): the internal variable,
// setflag/addflag/removeflag with and without a variable name, hasflag, :flags on
// fileinto and keep, and fileinto :create / :copy (RFC 5490, RFC 3894).
#include "tests/unit/sieve/sieve_test_util.hpp"

namespace refmail::sieve::test {
namespace {

TEST(SieveImap4Flags, InternalVariableGoesWithImplicitKeep) {
  auto o = run_script("require \"imap4flags\"; setflag \"\\\\Seen \\\\Flagged\"; addflag \"\\\\seen $Work\"; "
                      "removeflag \"\\\\Flagged\";");
  EXPECT_TRUE(o.keep);
  EXPECT_EQ(o.keep_flags, (std::vector<std::string>{"\\Seen", "$Work"}));
}

TEST(SieveImap4Flags, FileIntoTakesFlagsAtThatTime) {
  auto o = run_script("require [\"imap4flags\", \"fileinto\"]; addflag \"A\"; fileinto \"one\"; addflag \"B\"; "
                      "fileinto :flags \"X Y\" \"two\"; keep;");
  ASSERT_EQ(o.fileinto.size(), 2u);
  EXPECT_EQ(o.fileinto[0].flags, (std::vector<std::string>{"A"}));
  EXPECT_EQ(o.fileinto[1].flags, (std::vector<std::string>{"X", "Y"}));
  EXPECT_TRUE(o.keep);
  EXPECT_EQ(o.keep_flags, (std::vector<std::string>{"A", "B"}));
}

TEST(SieveImap4Flags, Rfc5232ExampleWithVariable) {
  const char* s = R"(require ["fileinto", "imap4flags", "variables"];
if size :over 1K {
    addflag "MyFlags" "Big";
    if header :is "From" "boss@company.example.com" {
        addflag "MyFlags" "\\Flagged";
    }
    fileinto :flags "${MyFlags}" "Big messages";
}
)";
  FakeMessage m("From: boss@company.example.com\r\n\r\nbody");
  m.set_size(5000);
  auto o = run_script(s, m);
  ASSERT_EQ(o.fileinto.size(), 1u);
  EXPECT_EQ(o.fileinto[0].mailbox, "Big messages");
  EXPECT_EQ(o.fileinto[0].flags, (std::vector<std::string>{"Big", "\\Flagged"}));
  EXPECT_FALSE(o.keep);
  // The internal variable was not touched.
  FakeMessage small("From: boss@company.example.com\r\n\r\nbody");
  small.set_size(10);
  auto k = run_script(s, small);
  EXPECT_TRUE(k.keep);
  EXPECT_TRUE(k.keep_flags.empty());
}

TEST(SieveImap4Flags, HasFlag) {
  const char* req = "require [\"imap4flags\", \"variables\", \"relational\", \"comparator-i;ascii-numeric\"];";
  EXPECT_TRUE(run_script(std::string(req) + "addflag \"\\\\Seen Junk\"; if hasflag \"junk\" { discard; }").discard);
  EXPECT_FALSE(run_script(std::string(req) + "addflag \"\\\\Seen\"; if hasflag \"junk\" { discard; }").discard);
  EXPECT_TRUE(run_script(std::string(req) + "set \"v\" \"a b c\"; if hasflag \"v\" \"b\" { discard; }").discard);
  EXPECT_TRUE(run_script(std::string(req) + "addflag \"a b c\"; if hasflag :count \"eq\" :comparator \"i;ascii-numeric\" \"3\" { discard; }").discard);
  EXPECT_TRUE(run_script(std::string(req) + "addflag \"$Label1\"; if hasflag :matches \"$label*\" { discard; }").discard);
}

TEST(SieveImap4Flags, KeepWithFlags) {
  auto o = run_script("require \"imap4flags\"; addflag \"internal\"; keep :flags \"\\\\Answered\";");
  EXPECT_TRUE(o.keep);
  EXPECT_EQ(o.keep_flags, (std::vector<std::string>{"\\Answered"}));
}

TEST(SieveMailbox, CreateAndExists) {
  Context ctx;
  ctx.mailbox_exists = [](std::string_view mb) { return mb == "INBOX" || mb == "Lists"; };
  FakeMessage m(kSimpleMessage);
  auto o = run_script("require [\"fileinto\", \"mailbox\"]; fileinto :create \"New\";", m, ctx);
  ASSERT_EQ(o.fileinto.size(), 1u);
  EXPECT_TRUE(o.fileinto[0].create);
  EXPECT_FALSE(o.runtime_error);
  // Without :create, a missing mailbox is a run-time error: implicit keep only.
  auto e = run_script("require [\"fileinto\", \"mailbox\"]; redirect \"a@example.net\"; fileinto \"New\";", m, ctx);
  ASSERT_TRUE(e.runtime_error);
  EXPECT_TRUE(e.keep);
  EXPECT_TRUE(e.fileinto.empty());
  EXPECT_TRUE(e.redirects.empty());
  auto x = run_script("require [\"fileinto\", \"mailbox\"]; if mailboxexists [\"INBOX\", \"Lists\"] { fileinto \"Lists\"; }"
                      "if mailboxexists [\"Lists\", \"Nope\"] { fileinto \"INBOX\"; }", m, ctx);
  EXPECT_EQ(mailboxes(x), std::vector<std::string>{"Lists"});
  EXPECT_EQ(compile_error("require \"fileinto\"; fileinto :create \"x\";"), "1:30: tag \":create\" requires \"mailbox\"");
  EXPECT_EQ(compile_error("require \"fileinto\"; fileinto :copy \"x\";"), "1:30: tag \":copy\" requires \"copy\"");
}

}  // namespace
}  // namespace refmail::sieve::test
