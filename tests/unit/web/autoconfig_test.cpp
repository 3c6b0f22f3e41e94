// tests/unit/web/autoconfig_test.cpp — the autoconfig document a mail client fetches.
#include <gtest/gtest.h>

#include "helpers.hpp"
#include "config/mta_sts.hpp"
#include "web/autoconfig.hpp"

namespace refmail::web::testing {
namespace {

TEST(Autoconfig, NamesImapAndSubmissionWithTheirTls) {
  config::Config cfg;
  cfg.hostname = "mail.example.org";
  cfg.local_domains = {"example.org", "example.net"};
  cfg.imaps = {"0.0.0.0", 993};
  cfg.imap = {"0.0.0.0", 143};
  cfg.smtps = {"0.0.0.0", 465};
  cfg.submission = {"0.0.0.0", 587};
  std::string x = autoconfig_xml(cfg, "Alice@Example.NET");
  EXPECT_NE(x.find("<emailProvider id=\"example.net\">"), std::string::npos) << x;
  EXPECT_NE(x.find("<domain>example.org</domain>"), std::string::npos);
  auto imaps = x.find("<incomingServer type=\"imap\">\n    <hostname>mail.example.org</hostname>\n    <port>993</port>\n"
                      "    <socketType>SSL</socketType>");
  auto imap = x.find("<port>143</port>\n    <socketType>STARTTLS</socketType>");
  auto smtps = x.find("<outgoingServer type=\"smtp\">\n    <hostname>mail.example.org</hostname>\n    <port>465</port>");
  auto sub = x.find("<port>587</port>\n    <socketType>STARTTLS</socketType>");
  ASSERT_NE(imaps, std::string::npos) << x;
  ASSERT_NE(imap, std::string::npos) << x;
  ASSERT_NE(smtps, std::string::npos) << x;
  ASSERT_NE(sub, std::string::npos) << x;
  EXPECT_LT(imaps, imap);  // implicit TLS preferred (RFC 8314)
  EXPECT_NE(x.find("<username>%EMAILADDRESS%</username>"), std::string::npos);
  // A disabled listener is left out; a hostile address is not echoed.
  cfg.imap = {};
  x = autoconfig_xml(cfg, "x@<script>");
  EXPECT_EQ(x.find("STARTTLS</socketType>\n    <authentication>password-cleartext</authentication>\n    "
                   "<username>%EMAILADDRESS%</username>\n  </incomingServer>"),
            std::string::npos);
  EXPECT_EQ(x.find("<script>"), std::string::npos);
  EXPECT_NE(x.find("<emailProvider id=\"example.org\">"), std::string::npos);
}

using AutoconfigRoute = WebFixture;

TEST_F(AutoconfigRoute, ServedWithoutAnAccountAtBothPaths) {
  for (const char* path : {"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice%40example.test",
                           "/mail/config-v1.1.xml?emailaddress=alice%40example.test"}) {
    auto r = router_->handle(req("GET", path, ""));
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.content_type, "application/xml; charset=utf-8");
    EXPECT_NE(r.body.find("<emailProvider id=\"example.test\">"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("<incomingServer type=\"imap\">"), std::string::npos);
  }
  EXPECT_EQ(router_->handle(req("POST", "/mail/config-v1.1.xml", "")).status, 405);
}

TEST_F(AutoconfigRoute, MtaStsPolicyOnlyWhenPublished) {
  EXPECT_EQ(router_->handle(req("GET", "/.well-known/mta-sts.txt", "")).status, 404);
  cfg_.hostname = "mx1.example.test";
  cfg_.auth.mta_sts_mode = "enforce";
  make_router();
  auto r = router_->handle(req("GET", "/.well-known/mta-sts.txt", ""));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain");  // RFC 8461 3.2: text/plain, CRLF or LF
  EXPECT_EQ(r.body, "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmax_age: 604800\r\n");
  const auto id = config::mta_sts_id(cfg_);
  EXPECT_EQ(id.size(), 16u);
  cfg_.auth.mta_sts_mx = {"mx1.example.test", "*.backup.example.test"};
  cfg_.auth.mta_sts_mode = "testing";
  make_router();
  r = router_->handle(req("GET", "/.well-known/mta-sts.txt", ""));
  EXPECT_EQ(r.body, "version: STSv1\r\nmode: testing\r\nmx: mx1.example.test\r\nmx: *.backup.example.test\r\n"
                    "max_age: 604800\r\n");
  EXPECT_NE(config::mta_sts_id(cfg_), id);  // a new policy, a new id
}

}  // namespace
}  // namespace refmail::web::testing
