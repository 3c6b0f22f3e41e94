// Tests for trust/dmarc and trust/public_suffix: record parsing (RFC 7489 6.3, the
// permissive cases of 6.6.3), the organizational domain over a list given as text
// (exact, wildcard and exception rules) and over Debian's real list, alignment, policy
// discovery, From-field handling (6.6.1), pct, np= (RFC 9091), the RFC 8601 result.
#include "trust/dmarc.hpp"

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "trust/dns_table.hpp"
#include "trust/public_suffix.hpp"

namespace refmail::trust {
namespace {

// ---- the record ----

TEST(DmarcRecord, Minimal) {
  auto p = parse_dmarc_record("v=DMARC1; p=reject");
  ASSERT_EQ(p.status, DmarcParseStatus::Ok);
  EXPECT_EQ(p.record.p, DmarcPolicy::Reject);
  EXPECT_FALSE(p.record.sp);
  EXPECT_EQ(p.record.pct, 100U);
  EXPECT_EQ(p.record.adkim, DmarcAlignment::Relaxed);
  EXPECT_EQ(p.record.aspf, DmarcAlignment::Relaxed);
  EXPECT_EQ(p.record.fo, "0");
  EXPECT_EQ(p.record.ri, 86400U);
  EXPECT_FALSE(p.record.policy_assumed);
}

TEST(DmarcRecord, AllTags) {
  auto p = parse_dmarc_record(
      "v=DMARC1;p=quarantine;sp=reject;np=reject;pct=25;adkim=s;aspf=s;"
      "rua=mailto:agg@example.com,mailto:agg2@example.net!10m;ruf=mailto:f@example.com;fo=1:d;ri=3600;rf=afrf");
  ASSERT_EQ(p.status, DmarcParseStatus::Ok);
  const auto& r = p.record;
  EXPECT_EQ(r.p, DmarcPolicy::Quarantine);
  EXPECT_EQ(r.sp, DmarcPolicy::Reject);
  EXPECT_EQ(r.np, DmarcPolicy::Reject);
  EXPECT_EQ(r.pct, 25U);
  EXPECT_EQ(r.adkim, DmarcAlignment::Strict);
  EXPECT_EQ(r.aspf, DmarcAlignment::Strict);
  ASSERT_EQ(r.rua.size(), 2U);
  EXPECT_EQ(r.rua[1], "mailto:agg2@example.net!10m");
  ASSERT_EQ(r.ruf.size(), 1U);
  EXPECT_EQ(r.fo, "1:d");
  EXPECT_EQ(r.ri, 3600U);
  EXPECT_TRUE(r.ignored.empty());
}

TEST(DmarcRecord, WhitespaceAndCase) {
  auto p = parse_dmarc_record("  v = DMARC1 ;  P = Reject ; pct = 50 ; ");
  ASSERT_EQ(p.status, DmarcParseStatus::Ok);
  EXPECT_EQ(p.record.p, DmarcPolicy::Reject);
  EXPECT_EQ(p.record.pct, 50U);
}

TEST(DmarcRecord, NotDmarc) {
  for (const char* t : {"", "p=reject; v=DMARC1", "v=DMARC2; p=reject", "v=dmarc1; p=reject", "v=DMARC1x; p=none",
                        "v=spf1 -all"}) {
    EXPECT_EQ(parse_dmarc_record(t).status, DmarcParseStatus::NotDmarc) << t;
  }
}

TEST(DmarcRecord, MissingOrInvalidPolicy) {
  // 6.6.3 step 6: without a valid p and without rua, no DMARC processing...
  EXPECT_EQ(parse_dmarc_record("v=DMARC1").status, DmarcParseStatus::Invalid);
  EXPECT_EQ(parse_dmarc_record("v=DMARC1; p=bogus").status, DmarcParseStatus::Invalid);
  EXPECT_EQ(parse_dmarc_record("v=DMARC1; p=reject; sp=bogus").status, DmarcParseStatus::Invalid);
  EXPECT_EQ(parse_dmarc_record("v=DMARC1; p=reject; rua=not a uri").status, DmarcParseStatus::Ok);
  // ...with a valid rua, p=none.
  auto p = parse_dmarc_record("v=DMARC1; p=bogus; rua=mailto:r@example.com");
  ASSERT_EQ(p.status, DmarcParseStatus::Ok);
  EXPECT_EQ(p.record.p, DmarcPolicy::None);
  EXPECT_TRUE(p.record.policy_assumed);
  auto q = parse_dmarc_record("v=DMARC1; rua=mailto:r@example.com");
  ASSERT_EQ(q.status, DmarcParseStatus::Ok);
  EXPECT_EQ(q.record.p, DmarcPolicy::None);
}

TEST(DmarcRecord, InvalidValuesFallBackToDefaults) {
  auto p = parse_dmarc_record("v=DMARC1; p=reject; pct=101; adkim=x; aspf=; fo=2; ri=-1; np=maybe; foo=bar");
  ASSERT_EQ(p.status, DmarcParseStatus::Ok);
  EXPECT_EQ(p.record.pct, 100U);
  EXPECT_EQ(p.record.adkim, DmarcAlignment::Relaxed);
  EXPECT_EQ(p.record.aspf, DmarcAlignment::Relaxed);
  EXPECT_EQ(p.record.fo, "0");
  EXPECT_EQ(p.record.ri, 86400U);
  EXPECT_FALSE(p.record.np);
  EXPECT_EQ(p.record.ignored.size(), 6U);  // foo is unknown: ignored silently
  EXPECT_EQ(parse_dmarc_record("v=DMARC1; p=reject; pct=0").record.pct, 0U);
  EXPECT_EQ(parse_dmarc_record("v=DMARC1; p=reject; pct=99999999999999999999").record.pct, 100U);
}

TEST(DmarcRecord, DuplicateTagsFirstWins) {
  auto p = parse_dmarc_record("v=DMARC1; p=reject; p=none");
  ASSERT_EQ(p.status, DmarcParseStatus::Ok);
  EXPECT_EQ(p.record.p, DmarcPolicy::Reject);
}

TEST(DmarcRecord, ReportUrisAreBounded) {
  std::string rec = "v=DMARC1; p=none; rua=";
  for (int i = 0; i < 100; ++i) rec += "mailto:r" + std::to_string(i) + "@example.com,";
  EXPECT_EQ(parse_dmarc_record(rec).record.rua.size(), kMaxReportUris);
  EXPECT_TRUE(parse_dmarc_record("v=DMARC1; p=none; rua=mailto:x@example.com!x").record.rua.empty());
}

// ---- the Public Suffix List ----

const char* kList =
    "// a test list\n"
    "com\n"
    "uk\n"
    "co.uk\n"
    "*.ck\n"
    "!www.ck\n"
    "jp\n"
    "*.kawasaki.jp\n"
    "!city.kawasaki.jp\n"
    "// ===BEGIN PRIVATE DOMAINS===\n"
    "github.io\n";

TEST(PublicSuffix, ExactRules) {
  auto psl = PublicSuffixList::parse(kList);
  EXPECT_EQ(psl.public_suffix("www.example.co.uk"), "co.uk");
  EXPECT_EQ(psl.organizational_domain("www.example.co.uk"), "example.co.uk");
  EXPECT_EQ(psl.organizational_domain("example.co.uk"), "example.co.uk");
  EXPECT_EQ(psl.organizational_domain("a.b.example.com"), "example.com");
  EXPECT_EQ(psl.organizational_domain("Mail.Example.COM."), "example.com");
  EXPECT_EQ(psl.organizational_domain("example.uk"), "example.uk");
  EXPECT_EQ(psl.organizational_domain("user.github.io"), "user.github.io");
}

TEST(PublicSuffix, WildcardsAndExceptions) {
  auto psl = PublicSuffixList::parse(kList);
  EXPECT_EQ(psl.public_suffix("a.b.ck"), "b.ck");  // *.ck
  EXPECT_EQ(psl.organizational_domain("x.a.b.ck"), "a.b.ck");
  EXPECT_EQ(psl.public_suffix("www.ck"), "ck");  // !www.ck
  EXPECT_EQ(psl.organizational_domain("www.ck"), "www.ck");
  EXPECT_EQ(psl.organizational_domain("mail.www.ck"), "www.ck");
  EXPECT_EQ(psl.organizational_domain("a.b.kawasaki.jp"), "a.b.kawasaki.jp");
  EXPECT_EQ(psl.organizational_domain("x.city.kawasaki.jp"), "city.kawasaki.jp");
}

TEST(PublicSuffix, ImplicitStarRuleAndSuffixesThemselves) {
  auto psl = PublicSuffixList::parse(kList);
  EXPECT_EQ(psl.organizational_domain("a.b.example.unlisted"), "example.unlisted");
  EXPECT_EQ(psl.organizational_domain("co.uk"), "co.uk");
  EXPECT_EQ(psl.organizational_domain("com"), "com");
  EXPECT_EQ(psl.organizational_domain("b.ck"), "b.ck");
  PublicSuffixList empty;
  EXPECT_EQ(empty.organizational_domain("a.b.example.co.uk"), "co.uk");
}

TEST(PublicSuffix, DebianList) {
  std::ifstream in{std::string(kDebianPublicSuffixPath)};
  ASSERT_TRUE(in) << "install Debian's publicsuffix package (tools/install-deps.sh)";
  std::stringstream buf;
  buf << in.rdbuf();
  auto psl = PublicSuffixList::parse(buf.str());
  EXPECT_GT(psl.size(), 5000U);
  EXPECT_EQ(psl.organizational_domain("mail.example.co.uk"), "example.co.uk");
  EXPECT_EQ(psl.organizational_domain("a.b.example.com.au"), "example.com.au");
  EXPECT_EQ(psl.organizational_domain("www.ck"), "www.ck");
  EXPECT_EQ(psl.organizational_domain("x.y.ck"), "x.y.ck");
  EXPECT_EQ(psl.organizational_domain("smtp.example.org"), "example.org");
}

// ---- the From domain (6.6.1) ----

TEST(DmarcFrom, ExactlyOneAddressWithADomain) {
  auto f = from_domain({"Alice <alice@Mail.Example.COM>"});
  EXPECT_EQ(f.status, FromStatus::Ok);
  EXPECT_EQ(f.domain, "mail.example.com");
  EXPECT_EQ(from_domain({"bob@example.org (Bob)"}).domain, "example.org");
  EXPECT_EQ(from_domain({"\"a@evil.example, b\" <x@good.example>"}).domain, "good.example");
  EXPECT_EQ(from_domain({}).status, FromStatus::NoFrom);
  EXPECT_EQ(from_domain({""}).status, FromStatus::NoFrom);
  EXPECT_EQ(from_domain({"a@example.com", "b@example.com"}).status, FromStatus::MultipleFromFields);
  EXPECT_EQ(from_domain({"a@example.com, b@example.net"}).status, FromStatus::MultipleAddresses);
  EXPECT_EQ(from_domain({"a@example.com, a@example.com"}).status, FromStatus::MultipleAddresses);
  EXPECT_EQ(from_domain({"Undisclosed <nobody>"}).status, FromStatus::NoDomain);
  EXPECT_EQ(from_domain({"x@[192.0.2.1]"}).status, FromStatus::NoDomain);
}

// ---- discovery and evaluation ----

const PublicSuffixList& psl() {
  static const PublicSuffixList p = PublicSuffixList::parse(kList);
  return p;
}

TEST(DmarcDiscovery, AtTheDomainThenTheOrganizationalDomain) {
  DnsTable dns(
      "_dmarc.example.com TXT v=DMARC1; p=reject; sp=quarantine\n"
      "_dmarc.sub.example.com TXT v=DMARC1; p=none\n");
  auto a = discover_policy("sub.example.com", dns, psl());
  ASSERT_EQ(a.status, DiscoveryStatus::Found);
  EXPECT_EQ(a.policy_domain, "sub.example.com");
  auto b = discover_policy("other.example.com", dns, psl());
  ASSERT_EQ(b.status, DiscoveryStatus::Found);
  EXPECT_EQ(b.policy_domain, "example.com");
  EXPECT_EQ(discover_policy("example.net", dns, psl()).status, DiscoveryStatus::None);
}

TEST(DmarcDiscovery, OtherTxtRecordsAreDiscardedButTwoDmarcRecordsStop) {
  DnsTable dns(
      "_dmarc.example.com TXT some verification token\n"
      "_dmarc.example.com TXT v=DMARC1; p=reject\n"
      "_dmarc.two.example TXT v=DMARC1; p=reject\n"
      "_dmarc.two.example TXT v=DMARC1; p=none\n"
      "_dmarc.example.net TXT v=DMARC1; p=reject\n"
      "_dmarc.a.example.net TXT v=DMARC1; p=reject\n"
      "_dmarc.a.example.net TXT v=DMARC1; p=none\n");
  EXPECT_EQ(discover_policy("example.com", dns, psl()).status, DiscoveryStatus::Found);
  EXPECT_EQ(discover_policy("two.example", dns, psl()).status, DiscoveryStatus::None);
  // Several records at the From domain end discovery: the org domain is not asked.
  EXPECT_EQ(discover_policy("a.example.net", dns, psl()).status, DiscoveryStatus::None);
}

TEST(DmarcDiscovery, TempError) {
  DnsTable dns("_dmarc.example.com SERVFAIL\n");
  EXPECT_EQ(discover_policy("example.com", dns, psl()).status, DiscoveryStatus::TempError);
  DnsTable org("_dmarc.example.com SERVFAIL\n");
  EXPECT_EQ(discover_policy("a.example.com", org, psl()).status, DiscoveryStatus::TempError);
}

TEST(DmarcAlignment, StrictAndRelaxed) {
  EXPECT_TRUE(aligned("example.com", "example.com", DmarcAlignment::Strict, psl()));
  EXPECT_TRUE(aligned("Example.COM.", "example.com", DmarcAlignment::Strict, psl()));
  EXPECT_FALSE(aligned("mail.example.com", "example.com", DmarcAlignment::Strict, psl()));
  EXPECT_TRUE(aligned("mail.example.com", "example.com", DmarcAlignment::Relaxed, psl()));
  EXPECT_TRUE(aligned("a.example.com", "b.example.com", DmarcAlignment::Relaxed, psl()));
  EXPECT_FALSE(aligned("example.net", "example.com", DmarcAlignment::Relaxed, psl()));
  // Two registrations under co.uk are different organizations.
  EXPECT_FALSE(aligned("a.co.uk", "b.co.uk", DmarcAlignment::Relaxed, psl()));
  EXPECT_TRUE(aligned("mail.a.co.uk", "a.co.uk", DmarcAlignment::Relaxed, psl()));
  EXPECT_FALSE(aligned("", "example.com", DmarcAlignment::Relaxed, psl()));
}

DmarcInput input(std::string_view from) {
  DmarcInput in;
  in.from_fields = {from};
  return in;
}

TEST(Dmarc, PassBySpfOrDkim) {
  DnsTable dns("_dmarc.example.com TXT v=DMARC1; p=reject\n");
  auto in = input("a@example.com");
  in.spf = DmarcSpfInput{"bounce.example.com", SpfResult::Pass};
  auto v = check_dmarc(in, dns, psl());
  EXPECT_EQ(v.result, DmarcResult::Pass);
  EXPECT_TRUE(v.spf_aligned);
  EXPECT_FALSE(v.dkim_aligned);
  EXPECT_EQ(v.disposition, DmarcPolicy::None);
  EXPECT_EQ(dmarc_auth_result(v), "dmarc=pass (p=reject dis=none) header.from=example.com");

  auto k = input("a@example.com");
  k.spf = DmarcSpfInput{"example.com", SpfResult::SoftFail};
  k.dkim = {{"other.net", DmarcAuthResult::Pass}, {"example.com", DmarcAuthResult::Pass}};
  auto w = check_dmarc(k, dns, psl());
  EXPECT_EQ(w.result, DmarcResult::Pass);
  EXPECT_FALSE(w.spf_aligned);
  EXPECT_TRUE(w.dkim_aligned);
}

TEST(Dmarc, FailWhenNothingAlignedPasses) {
  DnsTable dns("_dmarc.example.com TXT v=DMARC1; p=reject\n");
  auto in = input("a@example.com");
  in.spf = DmarcSpfInput{"example.net", SpfResult::Pass};            // passes, not aligned
  in.dkim = {{"example.com", DmarcAuthResult::Fail}};                 // aligned, fails
  auto v = check_dmarc(in, dns, psl());
  EXPECT_EQ(v.result, DmarcResult::Fail);
  EXPECT_EQ(v.policy, DmarcPolicy::Reject);
  EXPECT_EQ(v.disposition, DmarcPolicy::Reject);
  EXPECT_EQ(dmarc_auth_result(v), "dmarc=fail (p=reject dis=reject) header.from=example.com");
}

TEST(Dmarc, StrictAlignmentRefusesSubdomains) {
  DnsTable dns("_dmarc.example.com TXT v=DMARC1; p=quarantine; aspf=s; adkim=s\n");
  auto in = input("a@example.com");
  in.spf = DmarcSpfInput{"mail.example.com", SpfResult::Pass};
  in.dkim = {{"mail.example.com", DmarcAuthResult::Pass}};
  EXPECT_EQ(check_dmarc(in, dns, psl()).result, DmarcResult::Fail);
}

TEST(Dmarc, PctDowngradesTheDisposition) {
  DnsTable dns(
      "_dmarc.example.com TXT v=DMARC1; p=reject; pct=20\n"
      "_dmarc.example.net TXT v=DMARC1; p=quarantine; pct=20\n");
  auto in = input("a@example.com");
  in.random_percent = 19;
  EXPECT_EQ(check_dmarc(in, dns, psl()).disposition, DmarcPolicy::Reject);
  in.random_percent = 20;
  auto v = check_dmarc(in, dns, psl());
  EXPECT_EQ(v.result, DmarcResult::Fail);
  EXPECT_EQ(v.disposition, DmarcPolicy::Quarantine);
  EXPECT_EQ(dmarc_auth_result(v), "dmarc=fail (p=reject dis=quarantine) header.from=example.com");
  auto q = input("a@example.net");
  q.random_percent = 50;
  EXPECT_EQ(check_dmarc(q, dns, psl()).disposition, DmarcPolicy::None);
}

TEST(Dmarc, SubdomainPolicyAndNonExistentSubdomains) {
  DnsTable dns(
      "_dmarc.example.com TXT v=DMARC1; p=none; sp=quarantine; np=reject\n"
      "real.example.com A 192.0.2.1\n"
      "_dmarc.example.org TXT v=DMARC1; p=quarantine\n");
  EXPECT_EQ(check_dmarc(input("a@example.com"), dns, psl()).policy, DmarcPolicy::None);
  EXPECT_EQ(check_dmarc(input("a@real.example.com"), dns, psl()).policy, DmarcPolicy::Quarantine);
  EXPECT_EQ(check_dmarc(input("a@ghost.example.com"), dns, psl()).policy, DmarcPolicy::Reject);
  // No sp: subdomains get p.
  EXPECT_EQ(check_dmarc(input("a@x.example.org"), dns, psl()).policy, DmarcPolicy::Quarantine);
}

TEST(Dmarc, NoPolicyIsNone) {
  DnsTable dns("");
  auto v = check_dmarc(input("a@example.com"), dns, psl());
  EXPECT_EQ(v.result, DmarcResult::None);
  EXPECT_EQ(dmarc_auth_result(v), "dmarc=none header.from=example.com");
  DnsTable invalid("_dmarc.example.com TXT v=DMARC1; p=bogus\n");
  EXPECT_EQ(check_dmarc(input("a@example.com"), invalid, psl()).result, DmarcResult::None);
}

TEST(Dmarc, DnsFailureIsTemperror) {
  DnsTable dns("_dmarc.example.com SERVFAIL\n");
  EXPECT_EQ(check_dmarc(input("a@example.com"), dns, psl()).result, DmarcResult::TempError);
}

TEST(Dmarc, BadFromIsAnExplicitPermerror) {
  DnsTable dns("_dmarc.example.com TXT v=DMARC1; p=reject\n");
  DmarcInput two;
  two.from_fields = {"a@example.com, b@example.net"};
  auto v = check_dmarc(two, dns, psl());
  EXPECT_EQ(v.result, DmarcResult::PermError);
  EXPECT_EQ(v.from_status, FromStatus::MultipleAddresses);
  EXPECT_EQ(dmarc_auth_result(v), "dmarc=permerror (multiple From addresses)");
  DmarcInput none;
  EXPECT_EQ(check_dmarc(none, dns, psl()).from_status, FromStatus::NoFrom);
  DmarcInput fields;
  fields.from_fields = {"a@example.com", "a@example.com"};
  EXPECT_EQ(check_dmarc(fields, dns, psl()).from_status, FromStatus::MultipleFromFields);
  EXPECT_TRUE(dns.queries().empty());  // nothing is looked up for such a message
}

}  // namespace
}  // namespace refmail::trust
