// tests/unit/web/autoconfig_test.cpp — the autoconfig document a mail client fetches.
#include <gtest/gtest.h>

#include "helpers.hpp"
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

}  // namespace
}  // namespace refmail::web::testing
