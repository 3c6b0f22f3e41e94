// tests/unit/mime/test_address.cpp — RFC 5322 3.4 address lists: table of valid,
// obsolete and malformed inputs; formatting round trips.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mime/address.hpp"

namespace refmail::mime {
namespace {

using V = std::vector<Address>;

TEST(AddressParse, Table) {
  struct Case {
    std::string in;
    V want;
  };
  const Case cases[] = {
      {"user@example.com", {{"", "user@example.com"}}},
      {"John Doe <jdoe@machine.example>", {{"John Doe", "jdoe@machine.example"}}},
      {"\"Joe Q. Public\" <john.q.public@example.com>",
       {{"Joe Q. Public", "john.q.public@example.com"}}},
      {"Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
       {{"Mary Smith", "mary@x.test"}, {"", "jdoe@example.org"}, {"Who?", "one@y.test"}}},
      {"<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
       {{"", "boss@nil.test"}, {"Giant; \"Big\" Box", "sysservices@example.net"}}},
      // Groups (RFC 5322 A.1.3).
      {"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
       {{"Ed Jones", "c@a.test"}, {"", "joe@where.test"}, {"John", "jdoe@one.test"}}},
      {"Undisclosed recipients:;", {}},
      {"group: a@b.c;, d@e.f", {{"", "a@b.c"}, {"", "d@e.f"}}},
      // Comments (A.5) and old-style names.
      {"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
       {{"Pete", "pete@silly.test"}}},
      {"jdoe@example.org (John Doe)", {{"John Doe", "jdoe@example.org"}}},
      // Obsolete route and spaces around dots (A.6).
      {"<@node.test,@node2.test:mjones@node3.test>", {{"", "mjones@node3.test"}}},
      {"Joe Q. Public <john.q.public @ example.com>",
       {{"Joe Q. Public", "john.q.public@example.com"}}},
      // RFC 2047 display names, including adjacent words and quoted (lenient).
      {"=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
       {{"Keld J\xC3\xB8rn Simonsen", "keld@dkuug.dk"}}},
      {"\"=?utf-8?Q?Andr=C3=A9?= Pirard\" <PIRARD@vm1.ulg.ac.be>",
       {{"Andr\xC3\xA9 Pirard", "PIRARD@vm1.ulg.ac.be"}}},
      // Quoted local parts.
      {"\"john doe\"@example.com", {{"", "\"john doe\"@example.com"}}},
      {"\"john\"@example.com", {{"", "john@example.com"}}},
      // SMTPUTF8 (RFC 6532).
      {"J\xC3\xB6rg <j\xC3\xB6rg@b\xC3\xBC" "cher.example>",
       {{"J\xC3\xB6rg", "j\xC3\xB6rg@b\xC3\xBC" "cher.example"}}},
      // Domain literal.
      {"x@[192.0.2.1]", {{"", "x@[192.0.2.1]"}}},
      // Malformed but seen: empty entries, unterminated angle, trailing junk.
      {", , a@b.c,,", {{"", "a@b.c"}}},
      {"Name <a@b.c", {{"Name", "a@b.c"}}},
      {"<>", {}},
      {"", {}},
      {"Folded\r\n Name <a@b.c>", {{"Folded Name", "a@b.c"}}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parse_address_list(c.in), c.want) << "input: " << c.in;
  }
}

TEST(AddressParse, Bounded) {
  std::string s;
  for (int i = 0; i < 5000; ++i) s += "a" + std::to_string(i) + "@x.test, ";
  EXPECT_EQ(parse_address_list(s).size(), kMaxAddresses);
  EXPECT_EQ(parse_address_list(s, 3).size(), 3u);
  // Deep comment nesting and unbalanced quotes do not blow up.
  std::string deep(100000, '(');
  EXPECT_TRUE(parse_address_list(deep + "a@b").empty());
  EXPECT_EQ(parse_address_list("\"unterminated <a@b>").size(), 1u);
}

TEST(AddressFormat, RoundTrip) {
  const V lists[] = {
      {{"", "a@b.c"}},
      {{"John Doe", "jdoe@example.com"}, {"Smith, Jane", "jane@example.com"}},
      {{"J\xC3\xB6rg M\xC3\xBCller", "joerg@example.de"}},
      {{"\xE5\xB1\xB1\xE7\x94\xB0\xE5\xA4\xAA\xE9\x83\x8E", "taro@example.jp"},
       {"A very long display name that goes on and on and on", "long@example.com"},
       {"", "plain@example.com"}},
  };
  for (const auto& l : lists) {
    const std::string f = format_address_list(l, 4);
    EXPECT_EQ(parse_address_list(f), l) << f;
    std::size_t start = 0, first = 4;
    while (true) {
      auto end = f.find("\r\n", start);
      const std::size_t len = (end == std::string::npos ? f.size() : end) - start + first;
      EXPECT_LE(len, 78u) << f;
      first = 0;
      if (end == std::string::npos) break;
      start = end + 2;
    }
  }
  EXPECT_EQ(format_address({"", "x@y.z"}), "x@y.z");
  EXPECT_EQ(format_address({"A B", "x@y.z"}), "A B <x@y.z>");
}

}  // namespace
}  // namespace refmail::mime
