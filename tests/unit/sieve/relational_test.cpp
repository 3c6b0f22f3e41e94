// tests/unit/sieve/relational_test.cpp — RFC 5231 (relational) with the RFC's section 6
// examples, and RFC 5233 (subaddress) with its examples.
#include "tests/unit/sieve/sieve_test_util.hpp"

namespace refmail::sieve::test {
namespace {

constexpr const char* kRfc5231Message =
    "Received: ...\r\n"
    "Received: ...\r\n"
    "Subject: example\r\n"
    "To: foo@example.com.invalid, baz@example.com.invalid\r\n"
    "CC: qux@example.com.invalid\r\n"
    "\r\n"
    "body\r\n";

bool holds(const std::string& test) {
  auto o = run_script("require [\"relational\", \"comparator-i;ascii-numeric\"]; if " + test + " { discard; }",
                      kRfc5231Message);
  EXPECT_FALSE(o.runtime_error);
  return o.discard;
}

TEST(SieveRelational, Rfc5231Section6) {
  EXPECT_TRUE(holds("address :count \"ge\" :comparator \"i;ascii-numeric\" [\"to\", \"cc\"] [\"3\"]"));
  EXPECT_FALSE(holds("anyof ( address :count \"ge\" :comparator \"i;ascii-numeric\" [\"to\"] [\"3\"],"
                     " address :count \"ge\" :comparator \"i;ascii-numeric\" [\"cc\"] [\"3\"] )"));
  EXPECT_FALSE(holds("header :count \"ge\" :comparator \"i;ascii-numeric\" [\"received\"] [\"3\"]"));
  EXPECT_TRUE(holds("header :count \"ge\" :comparator \"i;ascii-numeric\" [\"received\", \"subject\"] [\"3\"]"));
  EXPECT_FALSE(holds("header :count \"ge\" :comparator \"i;ascii-numeric\" [\"to\", \"cc\"] [\"3\"]"));
}

TEST(SieveRelational, ValueOperators) {
  EXPECT_TRUE(holds("header :value \"gt\" \"subject\" \"abc\""));
  EXPECT_TRUE(holds("header :value \"ge\" \"subject\" \"example\""));
  EXPECT_TRUE(holds("header :value \"le\" \"subject\" \"EXAMPLE\""));
  EXPECT_FALSE(holds("header :value \"lt\" \"subject\" \"example\""));
  EXPECT_TRUE(holds("header :value \"ne\" \"subject\" \"other\""));
  EXPECT_TRUE(holds("header :value \"eq\" :comparator \"i;octet\" \"subject\" \"example\""));
  EXPECT_FALSE(holds("header :value \"eq\" :comparator \"i;octet\" \"subject\" \"Example\""));
  // :count of a missing header is 0.
  EXPECT_TRUE(holds("header :count \"eq\" :comparator \"i;ascii-numeric\" \"x-none\" \"0\""));
}

constexpr const char* kRfc5233Script = R"(require ["envelope", "subaddress", "fileinto"];
if envelope :user "to" "postmaster" {
  fileinto "inbox.postmaster";
  stop;
}
if envelope :detail "to" "mta-filters" {
  fileinto "inbox.ietf-mta-filters";
  stop;
}
if envelope :detail "to" "" {
  fileinto "inbox.empty-detail";
  stop;
}
)";

TEST(SieveSubaddress, Rfc5233Examples) {
  auto one = [](const char* to) {
    FakeMessage m("Subject: x\r\n\r\n", "a@example.org", to);
    return mailboxes(run_script(kRfc5233Script, m));
  };
  EXPECT_EQ(one("postmaster+foo@example.org"), std::vector<std::string>{"inbox.postmaster"});
  EXPECT_EQ(one("postmaster@example.org"), std::vector<std::string>{"inbox.postmaster"});
  EXPECT_EQ(one("ken+mta-filters@example.org"), std::vector<std::string>{"inbox.ietf-mta-filters"});
  EXPECT_EQ(one("ken+@example.org"), std::vector<std::string>{"inbox.empty-detail"});
  // No separator: :detail matches nothing, not even "".
  EXPECT_TRUE(one("ken@example.org").empty());
}

TEST(SieveSubaddress, AddressTest) {
  EXPECT_TRUE(run_script("require \"subaddress\"; if address :user \"to\" \"bob\" { discard; }").discard);
  EXPECT_TRUE(run_script("require \"subaddress\"; if address :detail \"to\" \"lists\" { discard; }").discard);
  EXPECT_FALSE(run_script("require \"subaddress\"; if address :detail \"from\" \"\" { discard; }").discard);
}

}  // namespace
}  // namespace refmail::sieve::test
