// tests/unit/trust/inbound_test.cpp — the inbound check over a zone table: SPF, DKIM
// (a key generated here, published in the table) and DMARC joined into one
// Authentication-Results field; forged fields claiming our authserv-id found.
#include <gtest/gtest.h>

#include "trust/dns_table.hpp"
#include "trust/inbound.hpp"

namespace refmail::trust {
namespace {

constexpr std::int64_t kNow = 1'760'000'000;

const char* kMessage =
    "From: Alice <alice@sender.test>\r\n"
    "To: bob@local.test\r\n"
    "Subject: hello\r\n"
    "Date: Thu, 09 Oct 2025 08:53:20 +0000\r\n"
    "Message-ID: <1@sender.test>\r\n"
    "\r\n"
    "Hi Bob,\r\nsee you.\r\n";

struct Fixture {
  DnsTable dns;
  PublicSuffixList psl = PublicSuffixList::parse("test\n");
  std::string signed_message;

  Fixture() {
    auto key = dkim::generate_ed25519_key();
    EXPECT_TRUE(key.has_value());
    dns.add("sel._domainkey.sender.test", "TXT", key->dns_record());
    dns.add("sender.test", "TXT", "v=spf1 ip4:192.0.2.0/24 -all");
    dns.add("_dmarc.sender.test", "TXT", "v=DMARC1; p=reject");
    dns.add("1.2.0.192.in-addr.arpa", "PTR", "out.sender.test");
    dns.add("out.sender.test", "A", "192.0.2.1");
    dkim::SignerConfig c;
    c.domain = "sender.test";
    c.selector = "sel";
    auto sig = dkim::sign(kMessage, c, std::make_shared<const dkim::PrivateKey>(std::move(*key)), kNow);
    EXPECT_TRUE(sig.has_value());
    signed_message = *sig + kMessage;
  }

  InboundVerdict check(std::string_view message, std::string ip, std::string mail_from,
                       std::vector<std::string_view> from = {" Alice <alice@sender.test>"}) {
    InboundFacts f;
    f.authserv_id = "mx.local.test";
    f.client_ip = std::move(ip);
    f.helo = "out.sender.test";
    f.mail_from = std::move(mail_from);
    f.now = kNow;
    InboundCheck c(dns, psl, f);
    // In pieces, as the SMTP intake feeds it.
    for (std::size_t i = 0; i < message.size(); i += 7) c.feed(message.substr(i, 7));
    return c.finish(from);
  }
};

TEST(Inbound, AllPassInOneField) {
  Fixture fx;
  auto v = fx.check(fx.signed_message, "192.0.2.1", "alice@sender.test");
  EXPECT_EQ(v.spf.result, SpfResult::Pass);
  ASSERT_EQ(v.dkim.size(), 1u);
  EXPECT_EQ(v.dkim[0].status, dkim::Status::Pass);
  EXPECT_EQ(v.dmarc.result, DmarcResult::Pass);
  EXPECT_EQ(v.dmarc.disposition, DmarcPolicy::None);
  EXPECT_EQ(v.header.rfind("Authentication-Results: mx.local.test;\r\n\tiprev=pass policy.iprev=192.0.2.1 "
                           "(out.sender.test);\r\n\tspf=pass smtp.mailfrom=alice@sender.test;\r\n\t"
                           "dkim=pass header.d=sender.test header.s=sel header.a=ed25519-sha256",
                           0),
            0u)
      << v.header;
  EXPECT_NE(v.header.find(";\r\n\tdmarc=pass"), std::string::npos) << v.header;
  EXPECT_EQ(v.header.substr(v.header.size() - 2), "\r\n");
}

TEST(Inbound, SpoofedFromFailsDmarcAndSaysReject) {
  Fixture fx;
  // Unsigned, from an address the SPF record does not list: both fail, DMARC p=reject.
  auto v = fx.check(kMessage, "198.51.100.7", "alice@sender.test");
  EXPECT_EQ(v.spf.result, SpfResult::Fail);
  EXPECT_TRUE(v.dkim.empty());
  EXPECT_EQ(v.dmarc.result, DmarcResult::Fail);
  EXPECT_EQ(v.dmarc.disposition, DmarcPolicy::Reject);
  EXPECT_NE(v.header.find("\tdkim=none;"), std::string::npos) << v.header;
  EXPECT_NE(v.header.find("dmarc=fail"), std::string::npos) << v.header;
}

TEST(Inbound, AlteredBodyFailsDkimButAlignedSpfPassesDmarc) {
  Fixture fx;
  std::string m = fx.signed_message;
  m.replace(m.find("see you"), 7, "SEE YOU");
  auto v = fx.check(m, "192.0.2.9", "bounce@sender.test");
  ASSERT_EQ(v.dkim.size(), 1u);
  EXPECT_EQ(v.dkim[0].status, dkim::Status::Fail);
  EXPECT_EQ(v.dmarc.result, DmarcResult::Pass);  // SPF passed for an aligned domain
}

TEST(Inbound, NullReversePathChecksHelo) {
  Fixture fx;
  fx.dns.add("out.sender.test", "TXT", "v=spf1 ip4:192.0.2.1 -all");
  auto v = fx.check(fx.signed_message, "192.0.2.1", "");
  EXPECT_TRUE(v.spf_helo);
  EXPECT_EQ(v.spf.result, SpfResult::Pass);
  EXPECT_NE(v.header.find("spf=pass smtp.helo=out.sender.test"), std::string::npos) << v.header;
}

TEST(Inbound, TwoFromAddressesArePermerror) {
  Fixture fx;
  auto v = fx.check(fx.signed_message, "192.0.2.1", "alice@sender.test", {" a@sender.test, b@other.test"});
  EXPECT_EQ(v.dmarc.result, DmarcResult::PermError);
  EXPECT_NE(v.header.find("dmarc=permerror"), std::string::npos) << v.header;
}

TEST(Inbound, DnsTempErrorsAreTemperrorNotFail) {
  Fixture fx;
  fx.dns.servfail("sender.test");
  fx.dns.servfail("sel._domainkey.sender.test");
  fx.dns.servfail("_dmarc.sender.test");
  auto v = fx.check(fx.signed_message, "192.0.2.1", "alice@sender.test");
  EXPECT_EQ(v.spf.result, SpfResult::TempError);
  ASSERT_EQ(v.dkim.size(), 1u);
  EXPECT_EQ(v.dkim[0].status, dkim::Status::TempError);
  EXPECT_NE(v.dmarc.result, DmarcResult::Fail);
  EXPECT_EQ(v.dmarc.disposition, DmarcPolicy::None);
}

TEST(Inbound, Iprev) {
  DnsTable dns;
  dns.add("1.2.0.192.in-addr.arpa", "PTR", "nothing.test");  // no A: not confirmed
  dns.add("1.2.0.192.in-addr.arpa", "PTR", "mail.test");
  dns.add("mail.test", "A", "192.0.2.9");
  dns.add("mail.test", "A", "192.0.2.1");
  dns.add("2.2.0.192.in-addr.arpa", "PTR", "liar.test");
  dns.add("liar.test", "A", "192.0.2.77");
  dns.add("3.2.0.192.in-addr.arpa", "PTR", "broken.test");
  dns.servfail("broken.test");
  dns.servfail("4.2.0.192.in-addr.arpa");
  dns.add("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "PTR", "v6.test");
  dns.add("v6.test", "AAAA", "2001:db8:0:0::1");
  dns.add("v6.test", "A", "192.0.2.1");
  auto pass = check_iprev("192.0.2.1", dns);
  EXPECT_EQ(pass.result, IprevResult::Pass);
  EXPECT_EQ(pass.name, "mail.test");
  EXPECT_EQ(iprev_auth_result(pass, "192.0.2.1"), "iprev=pass policy.iprev=192.0.2.1 (mail.test)");
  EXPECT_EQ(check_iprev("::ffff:192.0.2.1", dns).result, IprevResult::Pass);  // mapped = IPv4
  EXPECT_EQ(check_iprev("192.0.2.2", dns).result, IprevResult::Fail);
  EXPECT_EQ(check_iprev("192.0.2.3", dns).result, IprevResult::TempError);
  EXPECT_EQ(check_iprev("192.0.2.4", dns).result, IprevResult::TempError);
  EXPECT_EQ(check_iprev("192.0.2.5", dns).result, IprevResult::PermError);  // no PTR
  EXPECT_EQ(check_iprev("not an ip", dns).result, IprevResult::PermError);
  EXPECT_EQ(check_iprev("2001:db8::1", dns).result, IprevResult::Pass);  // AAAA, not A
  EXPECT_EQ(iprev_auth_result(check_iprev("192.0.2.2", dns), "192.0.2.2"), "iprev=fail policy.iprev=192.0.2.2");
  // A hostile PTR name cannot end the comment or the field.
  DnsTable evil;
  evil.add("1.2.0.192.in-addr.arpa", "PTR", "a)b;\r\nX: y");
  evil.add("a)b;\r\nX: y", "A", "192.0.2.1");
  auto e = check_iprev("192.0.2.1", evil);
  EXPECT_EQ(iprev_auth_result(e, "192.0.2.1"), "iprev=pass policy.iprev=192.0.2.1 (abXy)");
}

TEST(Inbound, ClaimedResultsFindsOnlyOurAuthservId) {
  const std::string h =
      "Received: from x\r\n"
      "Authentication-Results: mx.local.test; spf=pass\r\n"
      "authentication-results :\r\n (comment (nested)) MX.Local.Test;\r\n\tdkim=pass\r\n"
      "Authentication-Results: mx.local.test.evil; spf=pass\r\n"
      "Authentication-Results: mx.google.com; dkim=pass\r\n"
      "Authentication-Results: \"mx.local.test\"; none\n"
      "X-Authentication-Results: mx.local.test; none\r\n"
      "\r\n"
      "Authentication-Results: mx.local.test; in the body\r\n";
  const auto r = claimed_results(h, "mx.local.test");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(h.substr(r[0].first, r[0].second - r[0].first), "Authentication-Results: mx.local.test; spf=pass\r\n");
  EXPECT_EQ(h.substr(r[1].first, r[1].second - r[1].first),
            "authentication-results :\r\n (comment (nested)) MX.Local.Test;\r\n\tdkim=pass\r\n");
  EXPECT_EQ(h.substr(r[2].first, r[2].second - r[2].first), "Authentication-Results: \"mx.local.test\"; none\n");
  EXPECT_TRUE(claimed_results(h, "").empty());
  // A field cut by the scan bound is never removed; an unterminated last line neither.
  EXPECT_TRUE(claimed_results("Authentication-Results: mx.local.test; x", "mx.local.test").empty());
  EXPECT_EQ(claimed_results(h, "mx.local.test", 40).size(), 0u);
}

}  // namespace
}  // namespace refmail::trust
