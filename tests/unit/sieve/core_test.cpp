// tests/unit/sieve/core_test.cpp — RFC 5228 semantics: the section 9 example, implicit
// keep and what cancels it, stop, if/elsif/else, address/header/exists/size/envelope
// tests, match types and comparators, RFC 2047 decoding of header values.
#include "tests/unit/sieve/sieve_test_util.hpp"

namespace refmail::sieve::test {
namespace {

constexpr const char* kRfc5228Example = R"(#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
)";

TEST(SieveCore, Rfc5228Section9Example) {
  auto c = compile(kRfc5228Example);
  ASSERT_FALSE(c.error) << c.error->to_string();
  {
    FakeMessage m("Sender: owner-ietf-mta-filters@imc.org\r\nTo: me@example.com\r\n\r\nx");
    auto o = run(*c.script, m, {});
    EXPECT_EQ(mailboxes(o), std::vector<std::string>{"filter"});
    EXPECT_FALSE(o.keep);
  }
  {
    FakeMessage m("From: boss@EXAMPLE.com\r\nTo: me@example.com\r\n\r\nx");
    auto o = run(*c.script, m, {});
    EXPECT_TRUE(o.fileinto.empty());
    EXPECT_TRUE(o.keep);
  }
  {
    FakeMessage m("From: spammer@example.net\r\nCc: me@example.com\r\nSubject: Make lots of MONEY fast\r\n\r\nx");
    auto o = run(*c.script, m, {});
    EXPECT_EQ(mailboxes(o), std::vector<std::string>{"spam"});
  }
  {
    FakeMessage m("From: friend@example.net\r\nTo: someone@example.org\r\n\r\nx");
    EXPECT_EQ(mailboxes(run(*c.script, m, {})), std::vector<std::string>{"spam"});
  }
  {
    FakeMessage m("From: friend@example.net\r\nCc: me@example.com\r\nSubject: lunch\r\n\r\nx");
    EXPECT_EQ(mailboxes(run(*c.script, m, {})), std::vector<std::string>{"personal"});
  }
}

TEST(SieveCore, ImplicitKeep) {
  auto o = run_script("");
  EXPECT_TRUE(o.keep);
  EXPECT_FALSE(o.runtime_error);
  EXPECT_FALSE(run_script("discard;").keep);
  EXPECT_TRUE(run_script("discard; keep;").keep);
  EXPECT_FALSE(run_script("redirect \"a@example.net\";").keep);
  EXPECT_FALSE(run_script("require \"fileinto\"; fileinto \"x\";").keep);
  // :copy (RFC 3894) leaves the implicit keep alone.
  EXPECT_TRUE(run_script("require [\"fileinto\", \"copy\"]; fileinto :copy \"x\";").keep);
  auto r = run_script("require \"copy\"; redirect :copy \"a@example.net\";");
  EXPECT_TRUE(r.keep);
  ASSERT_EQ(r.redirects.size(), 1u);
  EXPECT_TRUE(r.redirects[0].copy);
}

TEST(SieveCore, StopEndsTheScript) {
  auto o = run_script("require \"fileinto\"; fileinto \"a\"; stop; fileinto \"b\";");
  EXPECT_EQ(mailboxes(o), std::vector<std::string>{"a"});
  // stop inside a block stops everything.
  o = run_script("if true { stop; } discard;");
  EXPECT_TRUE(o.keep);
}

TEST(SieveCore, IfElsifElseChain) {
  const char* s = "require \"fileinto\";"
                  "if header :contains \"subject\" \"nope\" { fileinto \"1\"; }"
                  "elsif header :contains \"subject\" \"money\" { fileinto \"2\"; }"
                  "elsif true { fileinto \"3\"; }"
                  "else { fileinto \"4\"; }"
                  "if false { fileinto \"5\"; } else { fileinto \"6\"; }";
  EXPECT_EQ(mailboxes(run_script(s)), (std::vector<std::string>{"2", "6"}));
}

TEST(SieveCore, DuplicateFileIntoCollapses) {
  auto o = run_script("require \"fileinto\"; fileinto \"a\"; fileinto \"a\"; fileinto \"b\";");
  EXPECT_EQ(mailboxes(o), (std::vector<std::string>{"a", "b"}));
  auto r = run_script("redirect \"x@example.net\"; redirect \"X@example.net\";");
  EXPECT_EQ(r.redirects.size(), 1u);
}

TEST(SieveCore, HeaderMatchTypes) {
  EXPECT_TRUE(run_script("if header :is \"x-spam-score\" \"12\" { discard; }").discard);
  EXPECT_FALSE(run_script("if header :is \"x-spam-score\" \"1\" { discard; }").discard);
  EXPECT_TRUE(run_script("if header :contains \"subject\" \"MONEY\" { discard; }").discard);
  EXPECT_FALSE(run_script("if header :comparator \"i;octet\" :contains \"subject\" \"MONEY\" { discard; }").discard);
  EXPECT_TRUE(run_script("if header :matches \"subject\" \"hello*\" { discard; }").discard);
  EXPECT_TRUE(run_script("if header :matches \"subject\" \"H?llo *\" { discard; }").discard);
  EXPECT_FALSE(run_script("if header :matches \"subject\" \"hello\" { discard; }").discard);
  // Escaped wildcards are literal.
  EXPECT_FALSE(run_script("if header :matches \"subject\" \"hello\\\\*\" { discard; }").discard);
  auto star = run_script("if header :matches \"x-star\" \"a\\\\*b\" { discard; }", "X-Star: a*b\r\n\r\n");
  EXPECT_TRUE(star.discard);
  // A missing header matches nothing, not even "".
  EXPECT_FALSE(run_script("if header :is \"x-missing\" \"\" { discard; }").discard);
  EXPECT_TRUE(run_script("if header :contains \"subject\" \"\" { discard; }").discard);
}

TEST(SieveCore, HeaderValuesAreRfc2047Decoded) {
  EXPECT_TRUE(run_script("if header :contains \"subject\" \"W\xC3\xB6rld\" { discard; }").discard);
  EXPECT_TRUE(run_script("if header :matches \"subject\" \"* w\xC3\xB6rld *\" { discard; }").discard);
}

TEST(SieveCore, AddressParts) {
  EXPECT_TRUE(run_script("if address :is \"from\" \"alice@example.org\" { discard; }").discard);
  EXPECT_TRUE(run_script("if address :localpart :is \"from\" \"ALICE\" { discard; }").discard);
  EXPECT_TRUE(run_script("if address :domain :is \"to\" \"example.net\" { discard; }").discard);
  EXPECT_FALSE(run_script("if address :domain :is \"from\" \"example.com\" { discard; }").discard);
  // The display name is not part of the address.
  EXPECT_FALSE(run_script("if address :contains \"from\" \"Alice \" { discard; }").discard);
  EXPECT_TRUE(run_script("if exists [\"from\", \"date\"] { discard; }").discard);
  EXPECT_FALSE(run_script("if exists [\"from\", \"x-nope\"] { discard; }").discard);
}

TEST(SieveCore, Size) {
  FakeMessage m(kSimpleMessage);
  m.set_size(2000);
  EXPECT_TRUE(run_script("if size :over 1K { discard; }", m).discard);
  EXPECT_FALSE(run_script("if size :under 1K { discard; }", m).discard);
  EXPECT_FALSE(run_script("if size :over 2000 { discard; }", m).discard);
  EXPECT_FALSE(run_script("if size :under 2000 { discard; }", m).discard);
}

TEST(SieveCore, Envelope) {
  FakeMessage m(kSimpleMessage, "Bounce+123@Lists.Example.org", "user+tag@example.com");
  EXPECT_TRUE(run_script("require \"envelope\"; if envelope :domain :is \"from\" \"lists.example.org\" { discard; }", m).discard);
  EXPECT_TRUE(run_script("require \"envelope\"; if envelope :all :is \"to\" \"user+tag@example.com\" { discard; }", m).discard);
  EXPECT_TRUE(run_script("require [\"envelope\", \"subaddress\"]; if envelope :detail \"to\" \"tag\" { discard; }", m).discard);
  // RFC 5228 5.4: the null reverse-path is "".
  FakeMessage bounce(kSimpleMessage, "", "user@example.com");
  EXPECT_TRUE(run_script("require \"envelope\"; if envelope :is \"from\" \"\" { discard; }", bounce).discard);
}

TEST(SieveCore, AsciiNumericComparator) {
  const char* req = "require [\"relational\", \"comparator-i;ascii-numeric\"];";
  EXPECT_TRUE(run_script(std::string(req) + "if header :value \"gt\" :comparator \"i;ascii-numeric\" \"x-spam-score\" \"9\" { discard; }").discard);
  EXPECT_FALSE(run_script(std::string(req) + "if header :value \"lt\" :comparator \"i;ascii-numeric\" \"x-spam-score\" \"9\" { discard; }").discard);
  // i;ascii-casemap compares as text: "12" < "9".
  EXPECT_TRUE(run_script(std::string(req) + "if header :value \"lt\" \"x-spam-score\" \"9\" { discard; }").discard);
  // A value without leading digits is positive infinity (RFC 4790 9.1).
  EXPECT_TRUE(run_script(std::string(req) + "if header :value \"gt\" :comparator \"i;ascii-numeric\" \"subject\" \"99999999999999999999\" { discard; }").discard);
  EXPECT_TRUE(run_script(std::string(req) + "if header :is :comparator \"i;ascii-numeric\" \"x-spam-score\" \"0012\" { discard; }").discard);
}

}  // namespace
}  // namespace refmail::sieve::test
