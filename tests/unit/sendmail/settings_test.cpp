// The TOML config: accounts, defaults, refusals with file:line, secrets.
#include <gtest/gtest.h>

#include "temp_dir.hpp"
#include "tools/sendmail/settings.hpp"

namespace refmail::sendmail {
namespace {

using test::TempDir;

constexpr std::string_view kGood = R"(# test config
default = "b"

[account.a]
host = "smtp.a.example"
tls = "tls"
user = "u@a.example"
password = "pw"

[account.b]   # the default
host = "127.0.0.1"
port = 2587
auth = "xoauth2"
user = "bot@b.example"
password_command = "echo tok"
ca_file = "/etc/ca.pem"
from = "alerts@b.example"
helo = "host.b.example"
timeout = 5
)";

TEST(Settings, ParsesAccounts) {
  auto s = parse_settings(kGood, "t.toml");
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->accounts.size(), 2u);
  const Account& a = s->accounts[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.tls, TlsSetting::Implicit);
  EXPECT_EQ(a.effective_port(), 465);
  EXPECT_EQ(a.auth, AuthSetting::Auto);
  EXPECT_EQ(a.password, "pw");
  const Account& b = s->accounts[1];
  EXPECT_EQ(b.tls, TlsSetting::StartTls);
  EXPECT_EQ(b.effective_port(), 2587);
  EXPECT_EQ(b.auth, AuthSetting::XOAuth2);
  EXPECT_EQ(b.password_command, "echo tok");
  EXPECT_EQ(b.timeout, std::chrono::seconds(5));
  EXPECT_EQ(b.helo, "host.b.example");
  auto chosen = choose_account(*s, "");
  ASSERT_TRUE(chosen);
  EXPECT_EQ(chosen->name, "b");
  EXPECT_EQ(choose_account(*s, "a")->name, "a");
  EXPECT_FALSE(choose_account(*s, "zzz"));
}

TEST(Settings, DefaultPorts) {
  Account a;
  EXPECT_EQ(a.effective_port(), 587);
  a.tls = TlsSetting::None;
  EXPECT_EQ(a.effective_port(), 25);
}

TEST(Settings, OnlyAccountIsDefault) {
  auto s = parse_settings("[account.x]\nhost = \"h\"\n", "t.toml");
  ASSERT_TRUE(s);
  EXPECT_EQ(choose_account(*s, "")->name, "x");
  auto two = parse_settings("[account.x]\nhost = \"h\"\n[account.y]\nhost = \"h\"\n", "t.toml");
  ASSERT_TRUE(two);
  auto c = choose_account(*two, "");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("--account"), std::string::npos);
  auto none = parse_settings("# nothing\n", "t.toml");
  ASSERT_TRUE(none);
  EXPECT_FALSE(choose_account(*none, ""));
}

struct Bad {
  std::string text;
  std::string message;  // expected exactly
};

TEST(Settings, RefusalsNameFileAndLine) {
  const std::vector<Bad> cases{
      {"[account.a]\nhost = \"h\"\nhots = \"x\"\n", "t.toml:3: key 'account.a.hots': unknown key"},
      {"verbose = true\n", "t.toml:1: key 'verbose': unknown key"},
      {"[account.a]\nhost = \"h\"\ntls = \"ssl\"\n",
       "t.toml:3: key 'account.a.tls': expected \"starttls\", \"tls\" or \"none\""},
      {"[account.a]\nhost = \"h\"\nport = 0\n", "t.toml:3: key 'account.a.port': must be 1..65535"},
      {"[account.a]\nhost = \"h\"\nport = \"25\"\n", "t.toml:3: key 'account.a.port': expected an integer"},
      {"[account.a]\nhost = \"h\"\nauth = \"cram-md5\"\n",
       "t.toml:3: key 'account.a.auth': expected \"auto\", \"plain\", \"login\" or \"xoauth2\""},
      {"[account.a]\nport = 25\n", "t.toml:1: key 'account.a': missing 'host'"},
      {"[account.a]\nhost = \"h\"\nuser = \"u\"\npassword = \"p\"\npassword_file = \"f\"\n",
       "t.toml:1: key 'account.a': give only one of password, password_file, password_command"},
      {"[account.a]\nhost = \"h\"\npassword = \"p\"\n", "t.toml:1: key 'account.a': a password needs a 'user'"},
      {"[account.a]\nhost = \"h\"\nallow_plaintext = \"yes\"\n",
       "t.toml:3: key 'account.a.allow_plaintext': expected true or false"},
      {"default = \"b\"\n[account.a]\nhost = \"h\"\n", "t.toml: default account 'b' has no [account.b] table"},
      {"[account.\"a b\"]\nhost = \"h\"\n", "t.toml:1: key 'account.a b': account names are [A-Za-z0-9_-], 1..64"},
      {"account = 3\n", "t.toml:1: key 'account': expected tables [account.NAME]"},
  };
  for (const Bad& b : cases) {
    auto s = parse_settings(b.text, "t.toml");
    ASSERT_FALSE(s) << b.text;
    EXPECT_EQ(s.error().exit_code, EX_CONFIG);
    EXPECT_EQ(s.error().message, b.message) << b.text;
  }
  auto syntax = parse_settings("[account.a\nhost=1\n", "t.toml");
  ASSERT_FALSE(syntax);
  EXPECT_TRUE(syntax.error().message.starts_with("t.toml:1: ")) << syntax.error().message;
}

TEST(Settings, LoadWarnsAboutReadablePasswordFile) {
  TempDir d;
  std::vector<std::string> w;
  auto open = d.file("open.toml", "[account.a]\nhost = \"h\"\nuser = \"u\"\npassword = \"p\"\n", 0644);
  ASSERT_TRUE(load_settings(open, w));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("readable by group/others"), std::string::npos);
  w.clear();
  auto closed = d.file("closed.toml", "[account.a]\nhost = \"h\"\nuser = \"u\"\npassword = \"p\"\n", 0600);
  ASSERT_TRUE(load_settings(closed, w));
  EXPECT_TRUE(w.empty());
  // No secret in the file: a readable config is fine.
  auto nosecret = d.file("n.toml", "[account.a]\nhost = \"h\"\n", 0644);
  ASSERT_TRUE(load_settings(nosecret, w));
  EXPECT_TRUE(w.empty());
  auto missing = load_settings((d.path / "missing.toml").string(), w);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().exit_code, EX_CONFIG);
  EXPECT_NE(missing.error().message.find("missing.toml"), std::string::npos);
}

TEST(Settings, ResolveSecret) {
  TempDir d;
  std::vector<std::string> w;
  Account a;
  a.name = "a";
  EXPECT_EQ(*resolve_secret(a, w), "");
  a.password = "inline";
  EXPECT_EQ(*resolve_secret(a, w), "inline");
  a.password.reset();
  a.password_file = d.file("pw", "from-file\r\nsecond line\n", 0600);
  EXPECT_EQ(*resolve_secret(a, w), "from-file");
  EXPECT_TRUE(w.empty());
  ::chmod(a.password_file.c_str(), 0640);
  EXPECT_EQ(*resolve_secret(a, w), "from-file");
  EXPECT_EQ(w.size(), 1u);
  a.password_file = (d.path / "nope").string();
  EXPECT_FALSE(resolve_secret(a, w));
  a.password_file.clear();
  a.password_command = "printf 'tok-123\\nignored\\n'";
  EXPECT_EQ(*resolve_secret(a, w), "tok-123");
  a.password_command = "exit 3";
  auto failed = resolve_secret(a, w);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("exit status 3"), std::string::npos);
  a.password_command = "true";
  EXPECT_FALSE(resolve_secret(a, w));  // empty output
  a.password_command = "cat";          // gets no input (stdin may hold the message): no hang
  EXPECT_FALSE(resolve_secret(a, w));
}

}  // namespace
}  // namespace refmail::sendmail
