// Tests for config/: embedded defaults, the example file, and refusals that name
// the file, the line and the key.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config/config.hpp"

namespace refmail::config {
namespace {

TEST(Config, EmptyDocumentGivesEmbeddedDefaults) {
  auto r = parse("", "x.toml");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  const Config& c = *r;
  EXPECT_EQ(c.data_dir, "./data");
  EXPECT_EQ(c.smtp.to_string(), "127.0.0.1:2525");
  EXPECT_EQ(c.submission.port, 2587);
  EXPECT_EQ(c.smtps.port, 2465);
  EXPECT_EQ(c.http.port, 8080);
  EXPECT_EQ(c.imap.to_string(), "127.0.0.1:2143");
  EXPECT_EQ(c.imaps.to_string(), "127.0.0.1:2993");
  EXPECT_EQ(c.limits.imap_login_timeout, std::chrono::seconds(60));
  EXPECT_EQ(c.limits.imap_command_timeout, std::chrono::seconds(60));
  EXPECT_EQ(c.limits.imap_idle_timeout, std::chrono::seconds(1800));
  EXPECT_EQ(c.admin_socket(), "./data/refmaild.sock");
  ASSERT_EQ(c.local_domains.size(), 1u);
  EXPECT_EQ(c.limits.message_size_bytes, 50ull << 20);
}

TEST(Config, ExampleFileEqualsTheDefaults) {
  std::ifstream in(std::string(REFMAIL_SOURCE_DIR) + "/config/refmail.toml");
  ASSERT_TRUE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  auto file = parse(ss.str(), "refmail.toml");
  ASSERT_TRUE(file.has_value()) << file.error().message;
  auto def = parse("", "(defaults)");
  ASSERT_TRUE(def.has_value());
  EXPECT_EQ(file->data_dir, def->data_dir);
  EXPECT_EQ(file->hostname, def->hostname);
  EXPECT_EQ(file->local_domains, def->local_domains);
  EXPECT_EQ(file->smtp.to_string(), def->smtp.to_string());
  EXPECT_EQ(file->submission.to_string(), def->submission.to_string());
  EXPECT_EQ(file->smtps.to_string(), def->smtps.to_string());
  EXPECT_EQ(file->http.to_string(), def->http.to_string());
  EXPECT_EQ(file->imap.to_string(), def->imap.to_string());
  EXPECT_EQ(file->imaps.to_string(), def->imaps.to_string());
  EXPECT_EQ(file->managesieve.to_string(), def->managesieve.to_string());
  EXPECT_EQ(file->sieve.max_script_bytes, def->sieve.max_script_bytes);
  EXPECT_EQ(file->sieve.max_scripts, def->sieve.max_scripts);
  EXPECT_EQ(file->sieve.max_redirects, def->sieve.max_redirects);
  EXPECT_EQ(file->limits.imap_connections, def->limits.imap_connections);
  EXPECT_EQ(file->limits.imap_login_timeout, def->limits.imap_login_timeout);
  EXPECT_EQ(file->limits.imap_command_timeout, def->limits.imap_command_timeout);
  EXPECT_EQ(file->limits.imap_idle_timeout, def->limits.imap_idle_timeout);
  EXPECT_EQ(file->smtp_policy.plain_auth_on_loopback, def->smtp_policy.plain_auth_on_loopback);
  EXPECT_EQ(file->limits.message_size_bytes, def->limits.message_size_bytes);
  EXPECT_EQ(file->auth.verify, def->auth.verify);
  EXPECT_EQ(file->auth.skip_networks, def->auth.skip_networks);
  EXPECT_EQ(file->auth.enforce_dmarc_reject, def->auth.enforce_dmarc_reject);
  EXPECT_EQ(file->auth.public_suffix_list, def->auth.public_suffix_list);
  EXPECT_EQ(file->auth.mta_sts_mode, def->auth.mta_sts_mode);
  EXPECT_EQ(file->auth.mta_sts_mx, def->auth.mta_sts_mx);
  EXPECT_EQ(file->auth.mta_sts_max_age, def->auth.mta_sts_max_age);
  EXPECT_EQ(file->limits.recipients, def->limits.recipients);
  EXPECT_EQ(file->limits.connections, def->limits.connections);
  EXPECT_EQ(file->limits.connections_per_ip, def->limits.connections_per_ip);
  EXPECT_EQ(file->limits.read_timeout, def->limits.read_timeout);
  EXPECT_EQ(file->limits.transaction_timeout, def->limits.transaction_timeout);
  EXPECT_EQ(file->limits.session_timeout, def->limits.session_timeout);
  EXPECT_EQ(file->limits.mx_connections, def->limits.mx_connections);
  EXPECT_EQ(file->limits.submission_connections, def->limits.submission_connections);
  EXPECT_EQ(file->limits.http_connections, def->limits.http_connections);
  EXPECT_EQ(file->limits.http_body_bytes, def->limits.http_body_bytes);
  EXPECT_EQ(file->limits.mime_max_parts, def->limits.mime_max_parts);
  EXPECT_EQ(file->smtp_policy.min_cut_bytes, def->smtp_policy.min_cut_bytes);
  EXPECT_EQ(file->relay.max_age, def->relay.max_age);
  EXPECT_EQ(file->relay.retry_schedule, def->relay.retry_schedule);
  EXPECT_EQ(file->relay.dns_servers, def->relay.dns_servers);
  EXPECT_EQ(file->relay.mx_port, def->relay.mx_port);
  EXPECT_EQ(file->relay.concurrency, def->relay.concurrency);
  EXPECT_EQ(file->relay.per_domain_concurrency, def->relay.per_domain_concurrency);
  EXPECT_EQ(file->relay.timeout, def->relay.timeout);
  EXPECT_EQ(file->relay.smarthost.to_string(), def->relay.smarthost.to_string());
  EXPECT_EQ(file->relay.smarthost_tls, def->relay.smarthost_tls);
  EXPECT_EQ(file->relay.smarthost_auth, def->relay.smarthost_auth);
  EXPECT_EQ(file->relay.delay_warning_after, def->relay.delay_warning_after);
  EXPECT_EQ(file->smtp_policy.allow_any_sender, def->smtp_policy.allow_any_sender);
  EXPECT_EQ(file->smtp_policy.check_header_from, def->smtp_policy.check_header_from);
  EXPECT_EQ(file->proxy.trusted, def->proxy.trusted);
  EXPECT_EQ(file->proxy.proxy_protocol, def->proxy.proxy_protocol);
}

TEST(Config, ProxyKeys) {
  auto r = parse(
      "[proxy]\n"
      "trusted = [\"127.0.0.1\", \"10.0.0.0/8\", \"fd00::/8\", \"::1\"]\n"
      "proxy_protocol = [\"smtp\", \"http\"]\n",
      "proxy.toml");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->proxy.trusted, (std::vector<std::string>{"127.0.0.1", "10.0.0.0/8", "fd00::/8", "::1"}));
  EXPECT_TRUE(r->proxy.proxy_protocol_on("smtp"));
  EXPECT_TRUE(r->proxy.proxy_protocol_on("http"));
  EXPECT_FALSE(r->proxy.proxy_protocol_on("submission"));
  auto imap = parse("[proxy]\ntrusted = [\"10.0.0.1\"]\nproxy_protocol = [\"imap\", \"imaps\"]\n", "proxy.toml");
  ASSERT_TRUE(imap.has_value()) << imap.error().message;
  EXPECT_TRUE(imap->proxy.proxy_protocol_on("imap"));
  EXPECT_TRUE(imap->proxy.proxy_protocol_on("imaps"));
  auto def = parse("", "(defaults)");
  ASSERT_TRUE(def.has_value());
  EXPECT_TRUE(def->proxy.trusted.empty());
  EXPECT_FALSE(def->proxy.proxy_protocol_on("smtp"));
}

TEST(Config, CheckHeaderFrom) {
  auto def = parse("", "(defaults)");
  ASSERT_TRUE(def.has_value());
  EXPECT_TRUE(def->smtp_policy.check_header_from);
  auto off = parse("[smtp]\ncheck_header_from = false\n", "x.toml");
  ASSERT_TRUE(off.has_value()) << off.error().message;
  EXPECT_FALSE(off->smtp_policy.check_header_from);
  auto bad = parse("[smtp]\ncheck_header_from = \"yes\"\n", "x.toml");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("x.toml:2: key 'smtp.check_header_from': expected true or false"),
            std::string::npos);
}

TEST(Config, ProxyRefusals) {
  struct Case {
    const char* text;
    const char* needle;
  };
  const Case cases[] = {
      {"[proxy]\ntrusted = [\"proxy.example.org\"]\n", "proxy.toml:2: key 'proxy.trusted': 'proxy.example.org'"},
      {"[proxy]\ntrusted = [\"10.1.0.0/8\"]\n", "bits set beyond its prefix"},
      {"[proxy]\ntrusted = [\"10.0.0.0/33\"]\n", "0-32"},
      {"[proxy]\ntrusted = [\"fd00::/129\"]\n", "0-128"},
      {"[proxy]\ntrusted = [\"10.0.0.0/\"]\n", "0-32"},
      {"[proxy]\ntrusted = \"10.0.0.0/8\"\n", "expected an array"},
      {"[proxy]\ntrusted = [8]\n", "every entry must be a string"},
      {"[proxy]\nproxy_protocol = [\"mx\"]\n", "key 'proxy.proxy_protocol': every entry must be one of"},
      {"[proxy]\nproxy_protocol = [\"imap4\"]\n", "\"imap\", \"imaps\""},
      {"[proxy]\nproxy_protocol = [\"smtp\"]\n", "needs 'proxy.trusted'"},
      {"[proxy]\ntrusted_proxies = []\n", "proxy.toml:2: key 'proxy.trusted_proxies': unknown key"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.text, "proxy.toml");
    ASSERT_FALSE(r.has_value()) << c.text;
    EXPECT_NE(r.error().message.find(c.needle), std::string::npos) << c.text << " -> " << r.error().message;
  }
}

TEST(Config, RelayKeys) {
  auto r = parse(
      "[relay]\n"
      "retry_schedule = [1, 2]\n"
      "dns_servers = [\"127.0.0.1:5353\", \"::1\"]\n"
      "mx_port = 2526\n"
      "smarthost = \"smtp.example.net:587\"\n"
      "smarthost_auth = \"LOGIN\"\n",
      "relay.toml");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->relay.retry_schedule, (std::vector<std::chrono::seconds>{std::chrono::seconds(1),
                                                                         std::chrono::seconds(2)}));
  EXPECT_EQ(r->relay.dns_servers, (std::vector<std::string>{"127.0.0.1:5353", "::1"}));
  EXPECT_EQ(r->relay.mx_port, 2526);
  EXPECT_EQ(r->relay.smarthost.host, "smtp.example.net");
  EXPECT_EQ(r->relay.smarthost_auth, "login");
  auto bad = parse("[relay]\ndns_servers = [\"resolver.example\"]\n", "bad.toml");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("bad.toml:2: key 'relay.dns_servers'"), std::string::npos)
      << bad.error().message;
  auto empty = parse("[relay]\nretry_schedule = []\n", "bad.toml");
  EXPECT_FALSE(empty.has_value());
  auto tls = parse("[relay]\nsmarthost_tls = \"maybe\"\n", "bad.toml");
  EXPECT_FALSE(tls.has_value());
}

TEST(Config, ValuesAreApplied) {
  auto r = parse(
      "data_dir = \"/var/lib/refmail\"\n"
      "hostname = \"MX.Example.ORG\"\n"
      "local_domains = [\"Example.org\", \"example.net\"]\n"
      "[listen]\n"
      "smtp = \"0.0.0.0:25\"\n"
      "submission = \"[::1]:587\"\n"
      "smtps = \"\"\n"
      "imap = \"0.0.0.0:143\"\n"
      "imaps = \"\"\n"
      "managesieve = \"\"\n"
      "[sieve]\n"
      "max_script_bytes = 2048\n"
      "max_scripts = 3\n"
      "[limits]\n"
      "message_size = 10485760\n"
      "read_timeout = 60\n"
      "transaction_timeout = 600\n"
      "session_timeout = 900\n"
      "mx_connections = 7\n"
      "submission_connections = 8\n"
      "http_connections = 9\n"
      "imap_connections = 10\n"
      "imap_login_timeout = 2\n"
      "imap_command_timeout = 3\n"
      "imap_idle_timeout = 4\n",
      "t.toml");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->hostname, "mx.example.org");
  EXPECT_EQ(r->local_domains, (std::vector<std::string>{"example.org", "example.net"}));
  EXPECT_EQ(r->smtp.port, 25);
  EXPECT_EQ(r->submission.host, "::1");
  EXPECT_EQ(r->submission.to_string(), "[::1]:587");
  EXPECT_FALSE(r->smtps.enabled());
  EXPECT_EQ(r->limits.message_size_bytes, 10485760u);
  EXPECT_EQ(r->limits.read_timeout, std::chrono::seconds(60));
  EXPECT_EQ(r->limits.transaction_timeout, std::chrono::seconds(600));
  EXPECT_EQ(r->limits.session_timeout, std::chrono::seconds(900));
  EXPECT_EQ(r->limits.mx_connections, 7u);
  EXPECT_EQ(r->limits.submission_connections, 8u);
  EXPECT_EQ(r->limits.http_connections, 9u);
  EXPECT_EQ(r->imap.to_string(), "0.0.0.0:143");
  EXPECT_FALSE(r->imaps.enabled());
  EXPECT_FALSE(r->managesieve.enabled());
  EXPECT_EQ(r->sieve.max_script_bytes, 2048u);
  EXPECT_EQ(r->sieve.max_scripts, 3u);
  EXPECT_EQ(r->limits.imap_connections, 10u);
  EXPECT_EQ(r->limits.imap_login_timeout, std::chrono::seconds(2));
  EXPECT_EQ(r->limits.imap_command_timeout, std::chrono::seconds(3));
  EXPECT_EQ(r->limits.imap_idle_timeout, std::chrono::seconds(4));
}

struct Refusal {
  const char* text;
  const char* expect;  // substring of the error line
};

class ConfigRefusal : public ::testing::TestWithParam<Refusal> {};

TEST_P(ConfigRefusal, NamesFileLineAndKey) {
  auto r = parse(GetParam().text, "bad.toml");
  ASSERT_FALSE(r.has_value()) << "accepted: " << GetParam().text;
  EXPECT_NE(r.error().message.find(GetParam().expect), std::string::npos) << r.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigRefusal,
    ::testing::Values(
        Refusal{"hostname = \"a\"\ndata_dirr = \"x\"\n", "bad.toml:2: key 'data_dirr': unknown key"},
        Refusal{"\n\n[limits]\nmessage_sise = 5\n", "bad.toml:4: key 'limits.message_sise'"},
        Refusal{"[limits]\nmessage_size = \"big\"\n", "bad.toml:2: key 'limits.message_size': expected an integer"},
        Refusal{"[limits]\nrecipients = 0\n", "bad.toml:2: key 'limits.recipients': must be between"},
        Refusal{"[listen]\nsmtp = \"127.0.0.1\"\n", "bad.toml:2: key 'listen.smtp': expected \"host:port\""},
        Refusal{"[listen]\nsmtp = \"127.0.0.1:70000\"\n", "key 'listen.smtp'"},
        Refusal{"[listen]\nsmtp = \"::1:25\"\n", "key 'listen.smtp'"},
        Refusal{"[listen]\nimap = \"127.0.0.1\"\n", "bad.toml:2: key 'listen.imap': expected \"host:port\""},
        Refusal{"[listen]\nimaps = 993\n", "bad.toml:2: key 'listen.imaps': expected a string"},
        Refusal{"[limits]\nimap_idle_timeout = 0\n", "bad.toml:2: key 'limits.imap_idle_timeout': must be between"},
        Refusal{"[limits]\nimap_login_timeout = \"1m\"\n", "key 'limits.imap_login_timeout': expected an integer"},
        Refusal{"local_domains = \"example.org\"\n", "bad.toml:1: key 'local_domains': expected an array"},
        Refusal{"local_domains = [\"bad domain\"]\n", "key 'local_domains'"},
        Refusal{"local_domains = []\n", "local_domains"},
        Refusal{"listen = 5\n", "bad.toml:1: key 'listen': expected a table"},
        Refusal{"log_level = \"loud\"\n", "key 'log_level'"},
        Refusal{"[smtp]\nplain_auth_on_loopback = 1\n", "expected true or false"},
        Refusal{"[tls]\ncert_file = \"/x.pem\"\n", "'tls.cert_file' and 'tls.key_file'"},
        Refusal{"[admin]\nlisten = \"127.0.0.1:9000\"\n", "'admin.listen' needs 'admin.token'"},
        Refusal{"[admin]\ntoken = \"short\"\n", "key 'admin.token'"},
        Refusal{"hostname = \"x\n", "bad.toml:1:"},
        Refusal{"[limits\n", "bad.toml:1:"}));

TEST(Config, MissingFileIsAClearError) {
  auto r = load_file("/nonexistent/refmail.toml");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, errc::cannot_read);
  EXPECT_NE(r.error().message.find("/nonexistent/refmail.toml"), std::string::npos);
}

TEST(Endpoint, Parsing) {
  Endpoint e;
  EXPECT_TRUE(parse_endpoint("mail.example.org:25", e));
  EXPECT_EQ(e.host, "mail.example.org");
  EXPECT_FALSE(parse_endpoint(":25", e));
  EXPECT_FALSE(parse_endpoint("1.2.3.4:0", e));
  EXPECT_FALSE(parse_endpoint("1.2.3.4:25x", e));
  EXPECT_FALSE(parse_endpoint("[::1]25", e));
  EXPECT_TRUE(parse_endpoint("", e));
  EXPECT_FALSE(e.enabled());
}

TEST(Config, AuthSection) {
  auto c = parse("[auth]\nverify = false\nskip_networks = [\"10.0.0.0/8\"]\nenforce_dmarc_reject = true\n", "t");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_FALSE(c->auth.verify);
  EXPECT_EQ(c->auth.skip_networks, std::vector<std::string>{"10.0.0.0/8"});
  EXPECT_TRUE(c->auth.enforce_dmarc_reject);
  EXPECT_TRUE(parse("[auth]\nmta_sts_mode = \"enforce\"\nmta_sts_mx = [\"*.example.org\"]\n", "t").has_value());
  EXPECT_FALSE(parse("[auth]\nmta_sts_mode = \"on\"\n", "t").has_value());
  EXPECT_FALSE(parse("[auth]\nmta_sts_mx = [\"a.*.org\"]\n", "t").has_value());
  EXPECT_FALSE(parse("[auth]\nmta_sts_max_age = 60\n", "t").has_value());
  auto bad = parse("[auth]\nskip_networks = [\"10.1.0.0/8\"]\n", "t");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("auth.skip_networks"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace refmail::config
