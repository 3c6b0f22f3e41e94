// Tests for server/dns_lookup (trust::DnsLookup on c-ares) against an in-process DNS
// responder on 127.0.0.1, UDP and TCP on one port: TXT records of several strings come
// back concatenated, a 4000-octet TXT record arrives (truncated over UDP, then TCP),
// MX by preference with a null MX, PTR names, NXDOMAIN vs NODATA vs SERVFAIL vs
// silence, CNAMEs followed by the resolver; and check_host() over the real resolver.
// Also the Public Suffix List file loader (server/public_suffix_file.hpp).
#include "server/dns_lookup.hpp"
#include "server/public_suffix_file.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/relay/dns_responder.hpp"

#include "trust/spf.hpp"

namespace refmail::server {
namespace {

using dnstest::Responder;


class DnsLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& R = r_.records;
    R[{"multi.test", 16}] = {Responder::txt({"v=spf1 ", "ip4:192.0.2.0/24", " -all"}), Responder::txt({"other"})};
    R[{"big.test", 16}] = {Responder::txt({std::string(250, 'a'), std::string(250, 'b'), std::string(250, 'c'),
                                           std::string(250, 'd'), std::string(250, 'e'), std::string(250, 'f'),
                                           std::string(250, 'g'), std::string(250, 'h'), std::string(250, 'i'),
                                           std::string(250, 'j'), std::string(250, 'k'), std::string(250, 'l'),
                                           std::string(250, 'm'), std::string(250, 'n'), std::string(250, 'o'),
                                           std::string(250, 'p')})};
    R[{"host.test", 1}] = {Responder::ip4("192.0.2.1"), Responder::ip4("192.0.2.2")};
    R[{"host.test", 28}] = {Responder::ip6("2001:db8::1")};
    R[{"mail.test", 15}] = {Responder::mx(20, "b.mail.test"), Responder::mx(10, "a.mail.test")};
    R[{"nullmx.test", 15}] = {Responder::mx(0, ".")};
    R[{"1.2.0.192.in-addr.arpa", 12}] = {Responder::name("host.test")};
    R[{"alias.test", 5}] = {Responder::name("host.test")};
    r_.start();
    opts_.servers = {r_.server()};
    opts_.timeout = std::chrono::milliseconds(300);
    opts_.tries = 1;
  }
  Responder r_;
  DnsOptions opts_;
};

TEST_F(DnsLookupTest, TxtStringsOfOneRecordAreConcatenated) {
  AresDnsLookup dns(opts_);
  auto a = dns.txt("multi.test");
  ASSERT_EQ(a.status, trust::DnsStatus::Ok);
  ASSERT_EQ(a.records.size(), 2U);
  EXPECT_EQ(a.records[0], "v=spf1 ip4:192.0.2.0/24 -all");
  EXPECT_EQ(a.records[1], "other");
}

TEST_F(DnsLookupTest, LargeTxtRecordComesOverTcp) {
  ASSERT_TRUE(r_.tcp_ok());
  AresDnsLookup dns(opts_);
  auto a = dns.txt("big.test");
  ASSERT_EQ(a.status, trust::DnsStatus::Ok);
  ASSERT_EQ(a.records.size(), 1U);
  EXPECT_EQ(a.records[0].size(), 4000U);
  EXPECT_EQ(a.records[0].substr(248, 4), "aabb");
  EXPECT_GE(r_.tcp_queries.load(), 1);
}

TEST_F(DnsLookupTest, AddressesMxAndPtr) {
  AresDnsLookup dns(opts_);
  EXPECT_EQ(dns.a("host.test").records, (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
  EXPECT_EQ(dns.aaaa("host.test").records, (std::vector<std::string>{"2001:db8::1"}));
  EXPECT_EQ(dns.mx("mail.test").records, (std::vector<std::string>{"a.mail.test", "b.mail.test"}));
  EXPECT_EQ(dns.mx("nullmx.test").records, (std::vector<std::string>{""}));
  EXPECT_EQ(dns.ptr("192.0.2.1").records, (std::vector<std::string>{"host.test"}));
  EXPECT_EQ(dns.a("alias.test").records, (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));  // via CNAME
}

TEST_F(DnsLookupTest, NxdomainNodataServfailSilence) {
  AresDnsLookup dns(opts_);
  auto nx = dns.txt("nothing.test");
  EXPECT_EQ(nx.status, trust::DnsStatus::NxDomain);
  auto nodata = dns.txt("host.test");
  EXPECT_EQ(nodata.status, trust::DnsStatus::Ok);
  EXPECT_TRUE(nodata.records.empty());
  EXPECT_EQ(dns.txt("servfail.test").status, trust::DnsStatus::TempError);
  EXPECT_EQ(dns.a("silent.test").status, trust::DnsStatus::TempError);
  EXPECT_EQ(dns.a(std::string(64, 'x') + ".test").status, trust::DnsStatus::NxDomain);  // label too long
  EXPECT_EQ(dns.ptr("not an ip").status, trust::DnsStatus::NxDomain);
}

TEST_F(DnsLookupTest, SpfOverTheRealResolver) {
  AresDnsLookup dns(opts_);
  EXPECT_EQ(trust::check_host("192.0.2.9", "multi.test", "a@multi.test", "h", dns).result, trust::SpfResult::Pass);
  EXPECT_EQ(trust::check_host("198.51.100.1", "multi.test", "a@multi.test", "h", dns).result,
            trust::SpfResult::Fail);
  EXPECT_EQ(trust::check_host("192.0.2.9", "servfail.test", "a@servfail.test", "h", dns).result,
            trust::SpfResult::TempError);
}

TEST(PublicSuffixFile, DebianListLoadsAndBadFilesAreRefused) {
  std::string why;
  auto psl = load_public_suffix_list(trust::kDebianPublicSuffixPath, &why);
  ASSERT_TRUE(psl) << why << " (install Debian's publicsuffix package)";
  EXPECT_EQ(psl->organizational_domain("mx.mail.example.co.uk"), "example.co.uk");
  EXPECT_FALSE(load_public_suffix_list("/nonexistent/public_suffix_list.dat", &why));
  EXPECT_NE(why.find("cannot be read"), std::string::npos);
  EXPECT_FALSE(load_public_suffix_list("/dev/null", &why));  // no rules
}

}  // namespace
}  // namespace refmail::server
