// Tests for trust/spf: every mechanism and modifier of RFC 7208 over a zone table
// (trust/dns_table.hpp), the macro examples of RFC 7208 7.4 with their exact
// expansions, the processing limits of 4.6.4 (DNS terms, void lookups, MX hosts),
// include loops, DNS failures, syntax errors, exp=, and the result header fields.
#include "trust/spf.hpp"

#include <string>

#include <gtest/gtest.h>

#include "trust/dns_table.hpp"

namespace refmail::trust {
namespace {

SpfVerdict run(const std::string& zone, const std::string& ip, const std::string& sender = "user@example.com",
               const std::string& helo = "mx.example.org", SpfOptions opt = {}) {
  DnsTable dns(zone);
  EXPECT_EQ(dns.bad_lines(), 0U) << zone;
  return check_mail_from(ip, sender, helo, dns, opt);
}

SpfResult result(const std::string& zone, const std::string& ip, const std::string& sender = "user@example.com") {
  return run(zone, ip, sender).result;
}

// ---- record selection (4.5) ----

TEST(Spf, NoRecordIsNone) {
  EXPECT_EQ(result("example.com TXT hello world\n", "192.0.2.1"), SpfResult::None);
  EXPECT_EQ(result("other.com TXT v=spf1 -all\n", "192.0.2.1"), SpfResult::None);  // NXDOMAIN
}

TEST(Spf, VersionMustBeFollowedBySpace) {
  EXPECT_EQ(result("example.com TXT v=spf10 -all\n", "192.0.2.1"), SpfResult::None);
  EXPECT_EQ(result("example.com TXT V=SPF1 -all\n", "192.0.2.1"), SpfResult::Fail);
  EXPECT_EQ(result("example.com TXT v=spf1\n", "192.0.2.1"), SpfResult::Neutral);
}

TEST(Spf, TwoRecordsArePermerror) {
  auto v = run("example.com TXT v=spf1 +all\nexample.com TXT v=spf1 -all\n", "192.0.2.1");
  EXPECT_EQ(v.result, SpfResult::PermError);
  EXPECT_NE(v.problem.find("more than one"), std::string::npos);
}

TEST(Spf, OtherTxtRecordsAreIgnored) {
  EXPECT_EQ(result("example.com TXT google-site-verification=x\nexample.com TXT v=spf1 -all\n", "192.0.2.1"),
            SpfResult::Fail);
}

TEST(Spf, TxtServfailIsTemperror) {
  EXPECT_EQ(result("example.com SERVFAIL\n", "192.0.2.1"), SpfResult::TempError);
}

TEST(Spf, MalformedDomainIsNone) {
  DnsTable dns("com TXT v=spf1 -all\n");
  EXPECT_EQ(check_host("192.0.2.1", "com", "a@com", "h", dns).result, SpfResult::None);  // single label
  EXPECT_EQ(check_host("192.0.2.1", "a..com", "a@a..com", "h", dns).result, SpfResult::None);
  EXPECT_EQ(check_host("192.0.2.1", std::string(64, 'a') + ".com", "x", "h", dns).result, SpfResult::None);
  EXPECT_TRUE(dns.queries().empty());
}

TEST(Spf, BadClientAddressIsPermerror) {
  DnsTable dns("example.com TXT v=spf1 +all\n");
  EXPECT_EQ(check_host("not-an-ip", "example.com", "a@example.com", "h", dns).result, SpfResult::PermError);
}

// ---- mechanisms (5) ----

TEST(Spf, AllAndQualifiers) {
  EXPECT_EQ(result("example.com TXT v=spf1 all\n", "192.0.2.1"), SpfResult::Pass);
  EXPECT_EQ(result("example.com TXT v=spf1 +all\n", "192.0.2.1"), SpfResult::Pass);
  EXPECT_EQ(result("example.com TXT v=spf1 -all\n", "192.0.2.1"), SpfResult::Fail);
  EXPECT_EQ(result("example.com TXT v=spf1 ~all\n", "192.0.2.1"), SpfResult::SoftFail);
  EXPECT_EQ(result("example.com TXT v=spf1 ?all\n", "192.0.2.1"), SpfResult::Neutral);
  auto v = run("example.com TXT v=spf1 ~all\n", "192.0.2.1");
  EXPECT_EQ(v.mechanism, "~all");
}

TEST(Spf, NothingMatchesIsNeutralDefault) {
  auto v = run("example.com TXT v=spf1 ip4:10.0.0.1\n", "192.0.2.1");
  EXPECT_EQ(v.result, SpfResult::Neutral);
  EXPECT_EQ(v.mechanism, "default");
}

TEST(Spf, Ip4WithCidr) {
  const std::string z = "example.com TXT v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.7 -all\n";
  EXPECT_EQ(result(z, "192.0.2.200"), SpfResult::Pass);
  EXPECT_EQ(result(z, "198.51.100.7"), SpfResult::Pass);
  EXPECT_EQ(result(z, "198.51.100.8"), SpfResult::Fail);
  EXPECT_EQ(result(z, "192.0.3.1"), SpfResult::Fail);
  EXPECT_EQ(result(z, "2001:db8::1"), SpfResult::Fail);  // ip4 never matches IPv6
  EXPECT_EQ(result(z, "::ffff:192.0.2.9"), SpfResult::Pass);  // IPv4-mapped is IPv4
  EXPECT_EQ(run(z, "192.0.2.9").mechanism, "ip4:192.0.2.0/24");
  EXPECT_EQ(result("example.com TXT v=spf1 ip4:0.0.0.0/0 -all\n", "203.0.113.1"), SpfResult::Pass);
}

TEST(Spf, Ip6WithCidr) {
  const std::string z = "example.com TXT v=spf1 ip6:2001:db8::/32 ip6:2001:db9::1 -all\n";
  EXPECT_EQ(result(z, "2001:db8:ffff::1"), SpfResult::Pass);
  EXPECT_EQ(result(z, "2001:db9::1"), SpfResult::Pass);
  EXPECT_EQ(result(z, "2001:db9::2"), SpfResult::Fail);
  EXPECT_EQ(result(z, "192.0.2.1"), SpfResult::Fail);
  EXPECT_EQ(result("example.com TXT v=spf1 ip6:2001:db8::/31 -all\n", "2001:db9::5"), SpfResult::Pass);
}

TEST(Spf, IpSyntaxErrors) {
  for (const char* rec : {"ip4:192.0.2.0/33", "ip4:192.0.2.256", "ip4:192.0.02.1", "ip4:192.0.2", "ip4:",
                          "ip4:192.0.2.0/024", "ip6:2001:db8::/129", "ip6:192.0.2.1", "ip6:zz::1", "ip4:1.2.3.4/"}) {
    EXPECT_EQ(result("example.com TXT v=spf1 " + std::string(rec) + " -all\n", "192.0.2.1"), SpfResult::PermError)
        << rec;
  }
}

TEST(Spf, AMechanism) {
  const std::string z =
      "example.com TXT v=spf1 a -all\n"
      "example.com A 192.0.2.10\n"
      "example.com AAAA 2001:db8::10\n";
  EXPECT_EQ(result(z, "192.0.2.10"), SpfResult::Pass);
  EXPECT_EQ(result(z, "192.0.2.11"), SpfResult::Fail);
  EXPECT_EQ(result(z, "2001:db8::10"), SpfResult::Pass);
  EXPECT_EQ(result(z, "2001:db8::11"), SpfResult::Fail);
}

TEST(Spf, AMechanismWithDomainAndDualCidr) {
  const std::string z =
      "example.com TXT v=spf1 a:mail.example.net/24//64 -all\n"
      "mail.example.net A 192.0.2.10\n"
      "mail.example.net AAAA 2001:db8:1:2::10\n";
  EXPECT_EQ(result(z, "192.0.2.99"), SpfResult::Pass);
  EXPECT_EQ(result(z, "192.0.3.10"), SpfResult::Fail);
  EXPECT_EQ(result(z, "2001:db8:1:2:ffff::1"), SpfResult::Pass);
  EXPECT_EQ(result(z, "2001:db8:1:3::10"), SpfResult::Fail);
  // "//64" alone: IPv4 keeps /32.
  const std::string z6 =
      "example.com TXT v=spf1 a//64 -all\n"
      "example.com A 192.0.2.10\n"
      "example.com AAAA 2001:db8::10\n";
  EXPECT_EQ(result(z6, "192.0.2.11"), SpfResult::Fail);
  EXPECT_EQ(result(z6, "2001:db8::abcd"), SpfResult::Pass);
  EXPECT_EQ(result("example.com TXT v=spf1 a/33 -all\n", "192.0.2.1"), SpfResult::PermError);
  EXPECT_EQ(result("example.com TXT v=spf1 a//129 -all\n", "192.0.2.1"), SpfResult::PermError);
}

TEST(Spf, MxMechanism) {
  const std::string z =
      "example.com TXT v=spf1 mx -all\n"
      "example.com MX 20 mx2.example.com\n"
      "example.com MX 10 mx1.example.com\n"
      "mx1.example.com A 192.0.2.1\n"
      "mx2.example.com A 192.0.2.2\n"
      "mx2.example.com AAAA 2001:db8::2\n";
  EXPECT_EQ(result(z, "192.0.2.1"), SpfResult::Pass);
  EXPECT_EQ(result(z, "192.0.2.2"), SpfResult::Pass);
  EXPECT_EQ(result(z, "2001:db8::2"), SpfResult::Pass);
  EXPECT_EQ(result(z, "192.0.2.3"), SpfResult::Fail);
  const std::string zc =
      "example.com TXT v=spf1 mx:example.net/30 -all\n"
      "example.net MX 10 mx.example.net\n"
      "mx.example.net A 192.0.2.4\n";
  EXPECT_EQ(result(zc, "192.0.2.7"), SpfResult::Pass);
  EXPECT_EQ(result(zc, "192.0.2.8"), SpfResult::Fail);
}

TEST(Spf, MoreThanTenMxHostsIsPermerror) {
  std::string z = "example.com TXT v=spf1 mx -all\n";
  for (int i = 0; i < 11; ++i) z += "example.com MX " + std::to_string(i) + " mx" + std::to_string(i) + ".example.com\n";
  auto v = run(z, "192.0.2.1");
  EXPECT_EQ(v.result, SpfResult::PermError);
  EXPECT_NE(v.problem.find("MX"), std::string::npos);
  // Ten is fine.
  std::string ten = "example.com TXT v=spf1 mx -all\n";
  for (int i = 0; i < 10; ++i) ten += "example.com MX " + std::to_string(i) + " mx" + std::to_string(i) + ".example.com\n";
  ten += "mx9.example.com A 192.0.2.1\n";
  EXPECT_EQ(result(ten, "192.0.2.1"), SpfResult::Pass);
}

TEST(Spf, MxHostServfailIsTemperror) {
  const std::string z =
      "example.com TXT v=spf1 mx -all\n"
      "example.com MX 10 mx.example.com\n"
      "mx.example.com SERVFAIL\n";
  EXPECT_EQ(result(z, "192.0.2.1"), SpfResult::TempError);
}

TEST(Spf, PtrMechanism) {
  const std::string z =
      "example.com TXT v=spf1 ptr -all\n"
      "1.2.0.192.in-addr.arpa PTR mail.example.com\n"
      "mail.example.com A 192.0.2.1\n"
      "2.2.0.192.in-addr.arpa PTR forged.example.com\n"  // forward does not confirm
      "forged.example.com A 203.0.113.9\n"
      "3.2.0.192.in-addr.arpa PTR mail.other.com\n"
      "mail.other.com A 192.0.2.3\n"
      "4.2.0.192.in-addr.arpa PTR badexample.com\n"
      "badexample.com A 192.0.2.4\n";
  EXPECT_EQ(result(z, "192.0.2.1"), SpfResult::Pass);
  EXPECT_EQ(result(z, "192.0.2.2"), SpfResult::Fail);
  EXPECT_EQ(result(z, "192.0.2.3"), SpfResult::Fail);
  EXPECT_EQ(result(z, "192.0.2.4"), SpfResult::Fail);  // a suffix must start at a label
  EXPECT_EQ(result(z, "192.0.2.9"), SpfResult::Fail);  // no PTR at all
  const std::string z2 =
      "example.com TXT v=spf1 ptr:other.com -all\n"
      "3.2.0.192.in-addr.arpa PTR mail.other.com\n"
      "mail.other.com A 192.0.2.3\n";
  EXPECT_EQ(result(z2, "192.0.2.3"), SpfResult::Pass);
  const std::string z6 =
      "example.com TXT v=spf1 ptr -all\n"
      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR v6.example.com\n"
      "v6.example.com AAAA 2001:db8::1\n";
  EXPECT_EQ(result(z6, "2001:db8::1"), SpfResult::Pass);
}

TEST(Spf, PtrDnsErrorIsNoMatch) {
  // RFC 7208 5.5: "If a DNS error occurs while doing the PTR RR lookup, then this
  // mechanism fails to match."
  const std::string z =
      "example.com TXT v=spf1 ptr ~all\n"
      "1.2.0.192.in-addr.arpa SERVFAIL\n";
  EXPECT_EQ(result(z, "192.0.2.1"), SpfResult::SoftFail);
}

TEST(Spf, PtrChecksAtMostTenNames) {
  std::string z = "example.com TXT v=spf1 ptr -all\n";
  for (int i = 0; i < 11; ++i) {
    z += "1.2.0.192.in-addr.arpa PTR h" + std::to_string(i) + ".example.com\n";
  }
  z += "h10.example.com A 192.0.2.1\n";  // only the 11th name validates: ignored
  DnsTable dns(z);
  EXPECT_EQ(check_mail_from("192.0.2.1", "u@example.com", "h", dns).result, SpfResult::Fail);
  std::size_t a_queries = 0;
  for (const auto& q : dns.queries()) a_queries += q.rfind("A ", 0) == 0;
  EXPECT_EQ(a_queries, 10U);
}

TEST(Spf, ExistsMechanism) {
  const std::string z =
      "example.com TXT v=spf1 exists:%{ir}.list.example.net -all\n"
      "1.2.0.192.list.example.net A 127.0.0.2\n";
  EXPECT_EQ(result(z, "192.0.2.1"), SpfResult::Pass);
  EXPECT_EQ(result(z, "192.0.2.2"), SpfResult::Fail);
  // exists always asks for A, even for an IPv6 client.
  const std::string z6 =
      "example.com TXT v=spf1 exists:ok.example.net -all\n"
      "ok.example.net A 127.0.0.2\n";
  EXPECT_EQ(result(z6, "2001:db8::1"), SpfResult::Pass);
  EXPECT_EQ(result("example.com TXT v=spf1 exists -all\n", "192.0.2.1"), SpfResult::PermError);
  EXPECT_EQ(result("example.com TXT v=spf1 exists: -all\n", "192.0.2.1"), SpfResult::PermError);
}

TEST(Spf, IncludeMechanism) {
  const std::string z =
      "example.com TXT v=spf1 include:_spf.example.net -all\n"
      "_spf.example.net TXT v=spf1 ip4:192.0.2.0/24 ~all\n";
  auto v = run(z, "192.0.2.5");
  EXPECT_EQ(v.result, SpfResult::Pass);
  EXPECT_EQ(v.mechanism, "include:_spf.example.net");
  // The include's softfail is "no match": evaluation goes on to -all.
  EXPECT_EQ(result(z, "198.51.100.1"), SpfResult::Fail);
  // Neutral and fail inside do not match either.
  EXPECT_EQ(result("example.com TXT v=spf1 include:n.example.net ?all\nn.example.net TXT v=spf1 -all\n", "192.0.2.1"),
            SpfResult::Neutral);
}

TEST(Spf, IncludeErrorsPropagate) {
  EXPECT_EQ(result("example.com TXT v=spf1 include:none.example.net -all\n", "192.0.2.1"), SpfResult::PermError);
  EXPECT_EQ(result("example.com TXT v=spf1 include:t.example.net -all\nt.example.net SERVFAIL\n", "192.0.2.1"),
            SpfResult::TempError);
  EXPECT_EQ(result("example.com TXT v=spf1 include:p.example.net -all\np.example.net TXT v=spf1 foo -all\n",
                   "192.0.2.1"),
            SpfResult::PermError);
  EXPECT_EQ(result("example.com TXT v=spf1 include -all\n", "192.0.2.1"), SpfResult::PermError);
}

TEST(Spf, IncludeLoopIsBoundedByTheLookupLimit) {
  DnsTable dns("example.com TXT v=spf1 include:example.com -all\n");
  auto v = check_mail_from("192.0.2.1", "u@example.com", "h", dns);
  EXPECT_EQ(v.result, SpfResult::PermError);
  EXPECT_NE(v.problem.find("DNS lookups"), std::string::npos);
  EXPECT_LE(dns.queries().size(), 12U);
  DnsTable two("a.example TXT v=spf1 include:b.example -all\nb.example TXT v=spf1 include:a.example -all\n");
  EXPECT_EQ(check_host("192.0.2.1", "a.example", "u@a.example", "h", two).result, SpfResult::PermError);
}

TEST(Spf, RedirectModifier) {
  const std::string z =
      "example.com TXT v=spf1 redirect=_spf.example.net\n"
      "_spf.example.net TXT v=spf1 ip4:192.0.2.0/24 -all\n";
  EXPECT_EQ(result(z, "192.0.2.7"), SpfResult::Pass);
  EXPECT_EQ(result(z, "198.51.100.7"), SpfResult::Fail);
  // A matching mechanism wins over redirect; redirect is used only when nothing matched.
  EXPECT_EQ(result("example.com TXT v=spf1 ?all redirect=_spf.example.net\n_spf.example.net TXT v=spf1 -all\n",
                   "192.0.2.1"),
            SpfResult::Neutral);
  // Redirect to a domain without a record is permerror (6.1).
  EXPECT_EQ(result("example.com TXT v=spf1 redirect=none.example.net\n", "192.0.2.1"), SpfResult::PermError);
  EXPECT_EQ(result("example.com TXT v=spf1 redirect=a.example.net redirect=b.example.net\n", "192.0.2.1"),
            SpfResult::PermError);
  // %{d} in the target record is the redirect target.
  const std::string zd =
      "example.com TXT v=spf1 redirect=r.example.net\n"
      "r.example.net TXT v=spf1 a:%{d} -all\n"
      "r.example.net A 192.0.2.77\n";
  EXPECT_EQ(result(zd, "192.0.2.77"), SpfResult::Pass);
}

TEST(Spf, UnknownModifiersAreIgnoredButMustParse) {
  EXPECT_EQ(result("example.com TXT v=spf1 foo=bar -all\n", "192.0.2.1"), SpfResult::Fail);
  EXPECT_EQ(result("example.com TXT v=spf1 foo=%{x} -all\n", "192.0.2.1"), SpfResult::PermError);
  EXPECT_EQ(result("example.com TXT v=spf1 foo=% -all\n", "192.0.2.1"), SpfResult::PermError);
}

TEST(Spf, SyntaxErrorsAnywhereArePermerror) {
  // 4.6: the whole record is checked before evaluation, so an error after a match counts.
  for (const char* rec : {"+all foo", "all:x", "-all/24", "include:", "a:", "a:foo", "mx:example.123", "ptr/24",
                          "exists:%{", "ip4", "redirect=", "exp=", "a:%{z}.example.com", "a:%{d0}.example.com",
                          "=foo", "-", "a:exa mple.com"}) {
    EXPECT_EQ(result("example.com TXT v=spf1 +ip4:192.0.2.1 " + std::string(rec) + "\n", "192.0.2.1"),
              SpfResult::PermError)
        << rec;
  }
}

TEST(Spf, CaseInsensitiveMechanisms) {
  EXPECT_EQ(result("example.com TXT v=spf1 IP4:192.0.2.1 -ALL\n", "192.0.2.1"), SpfResult::Pass);
  EXPECT_EQ(result("example.com TXT v=spf1 Redirect=r.example.net\nr.example.net TXT v=spf1 -all\n", "192.0.2.1"),
            SpfResult::Fail);
}

TEST(Spf, MultipleSpacesBetweenTerms) {
  EXPECT_EQ(result("example.com TXT v=spf1   ip4:192.0.2.1    -all  \n", "192.0.2.1"), SpfResult::Pass);
}

// ---- limits (4.6.4) ----

TEST(Spf, TenDnsTermsAreFineElevenArePermerror) {
  std::string ten = "example.com TXT v=spf1";
  std::string zone;
  for (int i = 0; i < 10; ++i) {
    ten += " include:i" + std::to_string(i) + ".example.net";
    zone += "i" + std::to_string(i) + ".example.net TXT v=spf1 ?all\n";
  }
  EXPECT_EQ(result(ten + " -all\n" + zone, "192.0.2.1"), SpfResult::Fail);
  std::string eleven = ten + " include:i10.example.net -all\n" + zone + "i10.example.net TXT v=spf1 +all\n";
  auto v = run(eleven, "192.0.2.1");
  EXPECT_EQ(v.result, SpfResult::PermError);
  EXPECT_NE(v.problem.find("more than 10 DNS lookups"), std::string::npos);
}

TEST(Spf, TermsCountAcrossIncludesAndRedirect) {
  // 4 a-terms at the top + include (1) with 5 a-terms + redirect (1) = 11.
  std::string z = "example.com TXT v=spf1 a a a a include:inc.example.net redirect=r.example.net\n";
  z += "inc.example.net TXT v=spf1 a a a a a\n";
  z += "r.example.net TXT v=spf1 +all\n";
  z += "example.com A 10.0.0.1\ninc.example.net A 10.0.0.1\n";
  EXPECT_EQ(result(z, "192.0.2.1"), SpfResult::PermError);
  // ip4 and all do not count.
  std::string many = "example.com TXT v=spf1";
  for (int i = 0; i < 30; ++i) many += " ip4:10.0.0." + std::to_string(i);
  EXPECT_EQ(result(many + " -all\n", "192.0.2.1"), SpfResult::Fail);
}

TEST(Spf, TheLimitIsCheckedOnlyForTermsEvaluated) {
  // A match before the eleventh term ends evaluation: no permerror.
  std::string z = "example.com TXT v=spf1 ip4:192.0.2.1";
  for (int i = 0; i < 12; ++i) z += " a:h" + std::to_string(i) + ".example.net";
  EXPECT_EQ(result(z + " -all\n", "192.0.2.1"), SpfResult::Pass);
}

TEST(Spf, ThreeVoidLookupsArePermerror) {
  const std::string two = "example.com TXT v=spf1 a:v1.example.net a:v2.example.net -all\n";
  EXPECT_EQ(result(two, "192.0.2.1"), SpfResult::Fail);
  const std::string three = "example.com TXT v=spf1 a:v1.example.net mx:v2.example.net exists:v3.example.net -all\n";
  auto v = run(three, "192.0.2.1");
  EXPECT_EQ(v.result, SpfResult::PermError);
  EXPECT_NE(v.problem.find("void"), std::string::npos);
  // NODATA counts like NXDOMAIN.
  const std::string nodata =
      "example.com TXT v=spf1 a:n.example.net a:n.example.net a:n.example.net -all\n"
      "n.example.net TXT something\n";
  EXPECT_EQ(result(nodata, "192.0.2.1"), SpfResult::PermError);
  SpfOptions lax;
  lax.max_void_lookups = 3;
  EXPECT_EQ(run(three, "192.0.2.1", "user@example.com", "mx.example.org", lax).result, SpfResult::Fail);
}

TEST(Spf, DnsFailuresAreTemperror) {
  EXPECT_EQ(result("example.com TXT v=spf1 a:s.example.net -all\ns.example.net SERVFAIL\n", "192.0.2.1"),
            SpfResult::TempError);
  EXPECT_EQ(result("example.com TXT v=spf1 mx:s.example.net -all\ns.example.net SERVFAIL\n", "192.0.2.1"),
            SpfResult::TempError);
  EXPECT_EQ(result("example.com TXT v=spf1 exists:s.example.net -all\ns.example.net SERVFAIL\n", "192.0.2.1"),
            SpfResult::TempError);
  EXPECT_EQ(result("example.com TXT v=spf1 redirect=s.example.net\ns.example.net SERVFAIL\n", "192.0.2.1"),
            SpfResult::TempError);
  // ...but not when an earlier term already matched.
  EXPECT_EQ(result("example.com TXT v=spf1 +all a:s.example.net\ns.example.net SERVFAIL\n", "192.0.2.1"),
            SpfResult::Pass);
}

// ---- macros (7) ----

MacroContext rfc_context(std::string_view ip) {
  MacroContext c;
  c.ip = ip;
  c.sender = "strong-bad@email.example.com";
  c.domain = "email.example.com";
  c.helo = "mx.example.org";
  c.validated_ptr = "mx.example.org";
  return c;
}

TEST(SpfMacro, Rfc7208Section74Examples) {
  const auto c = rfc_context("192.0.2.3");
  const std::pair<const char*, const char*> cases[] = {
      {"%{s}", "strong-bad@email.example.com"},
      {"%{o}", "email.example.com"},
      {"%{d}", "email.example.com"},
      {"%{d4}", "email.example.com"},
      {"%{d3}", "email.example.com"},
      {"%{d2}", "example.com"},
      {"%{d1}", "com"},
      {"%{dr}", "com.example.email"},
      {"%{d2r}", "example.email"},
      {"%{l}", "strong-bad"},
      {"%{l-}", "strong.bad"},
      {"%{lr}", "strong-bad"},
      {"%{lr-}", "bad.strong"},
      {"%{l1r-}", "strong"},
      {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
      {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
      {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
      {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
      {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
  };
  for (const auto& [in, want] : cases) {
    auto got = expand_macros(in, c);
    ASSERT_TRUE(got) << in;
    EXPECT_EQ(*got, want) << in;
  }
  auto v6 = expand_macros("%{ir}.%{v}._spf.%{d2}", rfc_context("2001:db8::cb01"));
  ASSERT_TRUE(v6);
  EXPECT_EQ(*v6,
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

TEST(SpfMacro, EscapesAndOtherLetters) {
  auto c = rfc_context("192.0.2.3");
  c.receiver = "mx.receiver.example";
  c.now = 1700000000;
  EXPECT_EQ(*expand_macros("%%%_%-", c), "% %20");
  EXPECT_EQ(*expand_macros("%{h}", c), "mx.example.org");
  EXPECT_EQ(*expand_macros("%{p}", c), "mx.example.org");
  EXPECT_EQ(*expand_macros("%{i}", c), "192.0.2.3");
  EXPECT_EQ(*expand_macros("%{c} %{r} %{t}", c, true), "192.0.2.3 mx.receiver.example 1700000000");
  EXPECT_EQ(*expand_macros("%{c}", rfc_context("2001:db8::cb01"), true), "2001:db8::cb01");
  EXPECT_EQ(*expand_macros("%{d1000}", c), "email.example.com");  // more parts than there are
  EXPECT_EQ(*expand_macros("%{d99999999999999999999}", c), "email.example.com");  // no overflow
  // c, r, t only in explanations; spaces only in explanations.
  EXPECT_FALSE(expand_macros("%{c}", c));
  EXPECT_FALSE(expand_macros("%{r}", c));
  EXPECT_FALSE(expand_macros("%{t}", c));
  EXPECT_FALSE(expand_macros("a b", c));
  EXPECT_FALSE(expand_macros("%{d0}", c));
  EXPECT_FALSE(expand_macros("%{x}", c));
  EXPECT_FALSE(expand_macros("%{d", c));
  EXPECT_FALSE(expand_macros("%", c));
  EXPECT_FALSE(expand_macros("%a", c));
  EXPECT_FALSE(expand_macros("%{d2r!}", c));
}

TEST(SpfMacro, UppercaseIsUrlEscaped) {
  MacroContext c = rfc_context("192.0.2.3");
  c.sender = "a b/c=d~e@example.com";  // not a valid local-part, but the escaping shows
  EXPECT_EQ(*expand_macros("%{L}", c), "a%20b%2Fc%3Dd~e");
  EXPECT_EQ(*expand_macros("%{S}", c), "a%20b%2Fc%3Dd~e%40example.com");
  EXPECT_EQ(*expand_macros("%{D2}", c), "example.com");
}

TEST(SpfMacro, SenderWithoutLocalPartIsPostmaster) {
  MacroContext c = rfc_context("192.0.2.3");
  c.sender = "example.com";
  EXPECT_EQ(*expand_macros("%{l} %{s}", c, true), "postmaster postmaster@example.com");
}

TEST(SpfMacro, ExpansionIsCapped) {
  MacroContext c = rfc_context("192.0.2.3");
  std::string bomb;
  for (int i = 0; i < 400; ++i) bomb += "%{s}";
  EXPECT_FALSE(expand_macros(bomb, c));
}

TEST(SpfMacro, LongDomainIsTruncatedFromTheLeft) {
  // 7.3: more than 253 octets loses whole labels on the left.
  std::string local(60, 'x');
  std::string z = "example.com TXT v=spf1 exists:%{l}.%{l}.%{l}.%{l}.%{l}.example.net -all\n";
  DnsTable dns(z);
  (void)check_mail_from("192.0.2.1", local + "@example.com", "h", dns);
  ASSERT_EQ(dns.queries().size(), 2U);
  const std::string q = dns.queries()[1].substr(2);
  EXPECT_LE(q.size(), 253U);
    // five labels of 60 and ".example.net" are 316 octets; two labels go (255 is still too long).
  EXPECT_EQ(q, local + "." + local + "." + local + ".example.net");
}

TEST(Spf, MacrosInMechanisms) {
  const std::string z =
      "example.com TXT v=spf1 exists:%{l}.%{o}.users.example.net a:%{d2}.hosts.example.net -all\n"
      "alice.example.com.users.example.net A 127.0.0.1\n"
      "example.com.hosts.example.net A 192.0.2.50\n";
  EXPECT_EQ(result(z, "198.51.100.1", "alice@example.com"), SpfResult::Pass);
  EXPECT_EQ(result(z, "198.51.100.1", "bob@example.com"), SpfResult::Fail);
  EXPECT_EQ(result(z, "192.0.2.50", "bob@example.com"), SpfResult::Pass);
}

TEST(Spf, PMacroUsesValidatedName) {
  const std::string z =
      "example.com TXT v=spf1 exists:%{p}.ok.example.net -all\n"
      "1.2.0.192.in-addr.arpa PTR host.example.com\n"
      "host.example.com A 192.0.2.1\n"
      "host.example.com.ok.example.net A 127.0.0.1\n"
      "unknown.ok.example.net A 127.0.0.1\n";
  EXPECT_EQ(result(z, "192.0.2.1"), SpfResult::Pass);
  // No validated name: %{p} is "unknown".
  EXPECT_EQ(result(z, "192.0.2.2"), SpfResult::Pass);
}

// ---- exp= (6.2) ----

TEST(Spf, ExplanationOnFail) {
  const std::string z =
      "example.com TXT v=spf1 -all exp=explain._spf.%{d}\n"
      "explain._spf.example.com TXT %{i} is not one of %{d}'s designated mail servers (%{c} via %{r}).\n";
  SpfOptions o;
  o.receiver = "mx.example.org";
  auto v = run(z, "192.0.2.1", "user@example.com", "h", o);
  EXPECT_EQ(v.result, SpfResult::Fail);
  EXPECT_EQ(v.explanation, "192.0.2.1 is not one of example.com's designated mail servers (192.0.2.1 via mx.example.org).");
}

TEST(Spf, ExplanationFailuresAreIgnored) {
  // Missing, multiple, bad macro, DNS error: still fail, empty explanation.
  for (const char* zone : {"e.example.com TXT x\ne.example.com TXT y\n", "e.example.com TXT bad %{z}\n",
                           "e.example.com SERVFAIL\n", ""}) {
    auto v = run("example.com TXT v=spf1 -all exp=e.example.com\n" + std::string(zone), "192.0.2.1");
    EXPECT_EQ(v.result, SpfResult::Fail) << zone;
    EXPECT_EQ(v.explanation, "") << zone;
  }
}

TEST(Spf, ExplanationOnlyOnFailAndNotFromIncludes) {
  auto v = run("example.com TXT v=spf1 ~all exp=e.example.com\ne.example.com TXT nope\n", "192.0.2.1");
  EXPECT_EQ(v.explanation, "");
  // An exp= inside an include is not used (6.2).
  auto w = run(
      "example.com TXT v=spf1 include:i.example.net -all\n"
      "i.example.net TXT v=spf1 -all exp=e.example.net\n"
      "e.example.net TXT from the include\n",
      "192.0.2.1");
  EXPECT_EQ(w.result, SpfResult::Fail);
  EXPECT_EQ(w.explanation, "");
  // After redirect, the target's exp= applies, not the original's.
  auto r = run(
      "example.com TXT v=spf1 exp=e1.example.com redirect=r.example.net\n"
      "r.example.net TXT v=spf1 -all exp=e2.example.net\n"
      "e1.example.com TXT original\n"
      "e2.example.net TXT target\n",
      "192.0.2.1");
  EXPECT_EQ(r.explanation, "target");
}

TEST(Spf, ExplanationIsPrintable) {
  auto v = run("example.com TXT v=spf1 -all exp=e.example.com\ne.example.com TXT a\x01" "b\x7f c\n", "192.0.2.1");
  for (char ch : v.explanation) EXPECT_TRUE(ch >= 0x20 && ch <= 0x7E);
}

// ---- identities (2.3, 2.4) ----

TEST(Spf, NullReversePathChecksHelo) {
  DnsTable dns("mx.example.org TXT v=spf1 a -all\nmx.example.org A 192.0.2.1\n");
  auto v = check_mail_from("192.0.2.1", "", "mx.example.org", dns);
  EXPECT_EQ(v.result, SpfResult::Pass);
  EXPECT_EQ(v.domain, "mx.example.org");
}

TEST(Spf, HeloCheck) {
  DnsTable dns("mx.example.org TXT v=spf1 a -all\nmx.example.org A 192.0.2.1\n");
  EXPECT_EQ(check_helo("192.0.2.1", "mx.example.org", dns).result, SpfResult::Pass);
  EXPECT_EQ(check_helo("192.0.2.2", "mx.example.org", dns).result, SpfResult::Fail);
  EXPECT_EQ(check_helo("192.0.2.2", "[192.0.2.2]", dns).result, SpfResult::None);
  EXPECT_EQ(check_helo("192.0.2.2", "localhost", dns).result, SpfResult::None);
}

// ---- header fields ----

TEST(SpfHeaders, AuthenticationResults) {
  SpfVerdict v;
  v.result = SpfResult::Pass;
  EXPECT_EQ(spf_auth_result(v, "user@example.com"), "spf=pass smtp.mailfrom=user@example.com");
  EXPECT_EQ(spf_auth_result(v, "mx.example.org", true), "spf=pass smtp.helo=mx.example.org");
  v.result = SpfResult::PermError;
  v.problem = "more than 10 DNS lookups (RFC 7208 4.6.4)";
  EXPECT_EQ(spf_auth_result(v, "a b@example.com"),
            "spf=permerror (more than 10 DNS lookups  RFC 7208 4.6.4 ) smtp.mailfrom=\"a b@example.com\"");
}

TEST(SpfHeaders, ReceivedSpf) {
  SpfVerdict v;
  v.result = SpfResult::Pass;
  v.mechanism = "ip4:192.0.2.0/24";
  EXPECT_EQ(received_spf(v, "192.0.2.1", "user@example.com", "mail.example.com", "mx.example.org"),
            "pass (mx.example.org: domain of user@example.com designates 192.0.2.1 as permitted sender) "
            "client-ip=192.0.2.1; envelope-from=\"user@example.com\"; helo=mail.example.com; receiver=mx.example.org; "
            "identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\";");
  v.result = SpfResult::SoftFail;
  v.mechanism = "~all";
  EXPECT_EQ(received_spf(v, "192.0.2.1", "", "h.example", "mx"),
            "softfail (mx: domain of transitioning postmaster@h.example does not designate 192.0.2.1 as permitted "
            "sender) client-ip=192.0.2.1; envelope-from=\"\"; helo=h.example; receiver=mx; identity=helo; "
            "mechanism=~all;");
}

TEST(SpfHeaders, HostileTextCannotBreakTheField) {
  SpfVerdict v;
  v.result = SpfResult::TempError;
  v.problem = "x)\r\nX-Injected: 1 (";
  const auto s = received_spf(v, "192.0.2.1", "a\"b\r\n@example.com", "h", "mx");
  EXPECT_EQ(s.find('\r'), std::string::npos);
  EXPECT_EQ(s.find('\n'), std::string::npos);
  const auto a = spf_auth_result(v, "x\r\ny@example.com");
  EXPECT_EQ(a.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace refmail::trust
