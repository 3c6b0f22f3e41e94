// tests/unit/import/test_import_config.cpp — the [import] section: valid sources and
// mappings, defaults, and every refusal naming the line and key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/config.hpp"

using namespace refmail::config;

namespace {

const char* kGood = R"(
[import]
coalesce_window = 5
batch_size = 50
retry_schedule = [1, 2]

[[import.sources]]
name = "legacy"
host = "127.0.0.1"
port = 1143
tls = "none"
token = "0123456789abcdef0123"
master_user = "admin"
master_password = "secret"
idle = true

[[import.mappings]]
source = "legacy"
user = "alice"
account = "alice@example.test"
password = "pw"
mailboxes = ["INBOX", "Archive/2020"]

[[import.mappings]]
source = "legacy"
user = "bob"
account = "bob@example.test"
)";

}  // namespace

TEST(ImportConfig, DefaultsWithoutSection) {
  auto c = parse("hostname = \"x.test\"\n", "t.toml");
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->import.sources.empty());
  EXPECT_EQ(c->import.coalesce_window, std::chrono::seconds(30));
  EXPECT_EQ(c->import.batch_size, 200u);
}

TEST(ImportConfig, ParsesSourcesAndMappings) {
  auto c = parse(kGood, "t.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  const auto& imp = c->import;
  ASSERT_EQ(imp.sources.size(), 1u);
  EXPECT_EQ(imp.coalesce_window, std::chrono::seconds(5));
  EXPECT_EQ(imp.batch_size, 50u);
  ASSERT_EQ(imp.retry_schedule.size(), 2u);
  const auto* s = imp.find_source("legacy");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->port, 1143);
  EXPECT_EQ(s->tls, ImportTls::None);
  EXPECT_TRUE(s->idle);
  const auto* m = imp.find_mapping("legacy", "alice");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->account, "alice@example.test");
  ASSERT_EQ(m->mailboxes.size(), 2u);
  EXPECT_EQ(m->mailboxes[1], "Archive/2020");
  const auto* b = imp.find_mapping("legacy", "bob");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->mailboxes, std::vector<std::string>{"INBOX"});
  EXPECT_EQ(imp.find_mapping("legacy", "carol"), nullptr);
  EXPECT_EQ(imp.find_mapping("other", "alice"), nullptr);
}

struct Bad {
  const char* toml;
  const char* want;  // substring of the error
};

TEST(ImportConfig, Refusals) {
  const Bad cases[] = {
      {"[import]\nbogus = 1\n", "import.bogus': unknown key"},
      {"[import]\ncoalesce_window = -1\n", "import.coalesce_window"},
      {"[import]\nbatch_size = 0\n", "import.batch_size"},
      {"[[import.sources]]\nname = \"a\"\n", "needs a host"},
      {"[[import.sources]]\nname = \"a b\"\nhost = \"h\"\n", "import.sources.name"},
      {"[[import.sources]]\nname = \"a\"\nhost = \"h\"\ntls = \"ssl\"\n", "import.sources.tls"},
      {"[[import.sources]]\nname = \"a\"\nhost = \"h\"\ntoken = \"short\"\n", "at least 16"},
      {"[[import.sources]]\nname = \"a\"\nhost = \"h\"\nport = 0\n", "import.sources.port"},
      {"[[import.sources]]\nname = \"a\"\nhost = \"h\"\ncolour = 1\n", "unknown key"},
      {"[[import.sources]]\nname = \"a\"\nhost = \"h\"\n[[import.sources]]\nname = \"a\"\nhost = \"h\"\n",
       "duplicate source"},
      {"[[import.mappings]]\nsource = \"x\"\nuser = \"u\"\naccount = \"u@d\"\npassword = \"p\"\n",
       "unknown source 'x'"},
      {"[[import.sources]]\nname = \"a\"\nhost = \"h\"\n[[import.mappings]]\nsource = \"a\"\nuser = \"u\"\n"
       "account = \"u@d\"\n",
       "no password"},
      {"[[import.sources]]\nname = \"a\"\nhost = \"h\"\n[[import.mappings]]\nsource = \"a\"\nuser = \"u\"\n"
       "account = \"nodomain\"\npassword = \"p\"\n",
       "user@domain"},
      {"[[import.sources]]\nname = \"a\"\nhost = \"h\"\n[[import.mappings]]\nsource = \"a\"\nuser = \"u\"\n"
       "account = \"u@d\"\npassword = \"p\"\n[[import.mappings]]\nsource = \"a\"\nuser = \"u\"\n"
       "account = \"v@d\"\npassword = \"p\"\n",
       "mapped twice"},
      {"[[import.sources]]\nname = \"a\"\nhost = \"h\"\n[[import.mappings]]\nsource = \"a\"\nuser = \"u\"\n"
       "account = \"u@d\"\npassword = \"p\"\npassword_file = \"/f\"\n",
       "exclusive"},
      {"import = 3\n", "expected a table"},
  };
  for (const auto& b : cases) {
    auto c = parse(b.toml, "bad.toml");
    ASSERT_FALSE(c.has_value()) << b.toml;
    EXPECT_NE(c.error().message.find(b.want), std::string::npos) << b.toml << " -> " << c.error().message;
    EXPECT_EQ(c.error().message.rfind("bad.toml", 0), 0u) << c.error().message;
  }
}

TEST(ImportConfig, GrantRecipientsPerSourceAndMapping) {
  // Default off.
  {
    auto c = parse(kGood, "t.toml");
    ASSERT_TRUE(c.has_value()) << c.error().message;
    const auto* m = c->import.find_mapping("legacy", "alice");
    ASSERT_NE(m, nullptr);
    EXPECT_FALSE(c->import.sources[0].grant_recipients);
    EXPECT_FALSE(m->grant_recipients.has_value());
    EXPECT_FALSE(c->import.grants_recipients(*m));
  }
  // On for the source; one mapping turns it off again.
  const char* toml = R"(
[[import.sources]]
name = "a"
host = "h"
grant_recipients = true

[[import.mappings]]
source = "a"
user = "u"
account = "u@d"
password = "p"

[[import.mappings]]
source = "a"
user = "v"
account = "v@d"
password = "p"
grant_recipients = false
)";
  auto c = parse(toml, "t.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_TRUE(c->import.sources[0].grant_recipients);
  EXPECT_TRUE(c->import.grants_recipients(*c->import.find_mapping("a", "u")));
  EXPECT_FALSE(c->import.grants_recipients(*c->import.find_mapping("a", "v")));
  // Off for the source; a mapping turns it on.
  auto c2 = parse("[[import.sources]]\nname = \"a\"\nhost = \"h\"\n[[import.mappings]]\nsource = \"a\"\n"
                  "user = \"u\"\naccount = \"u@d\"\npassword = \"p\"\ngrant_recipients = true\n",
                  "t.toml");
  ASSERT_TRUE(c2.has_value()) << c2.error().message;
  EXPECT_TRUE(c2->import.grants_recipients(c2->import.mappings[0]));
  // Not a boolean: refused with the key.
  for (const char* bad :
       {"[[import.sources]]\nname = \"a\"\nhost = \"h\"\ngrant_recipients = \"yes\"\n",
        "[[import.sources]]\nname = \"a\"\nhost = \"h\"\n[[import.mappings]]\nsource = \"a\"\nuser = \"u\"\n"
        "account = \"u@d\"\npassword = \"p\"\ngrant_recipients = 1\n"}) {
    auto b = parse(bad, "bad.toml");
    ASSERT_FALSE(b.has_value()) << bad;
    EXPECT_NE(b.error().message.find("grant_recipients': expected true or false"), std::string::npos)
        << b.error().message;
  }
}

TEST(ImportConfig, ErrorsNameTheLine) {
  auto c = parse("hostname = \"h\"\n[import]\nbatch_size = 0\n", "l.toml");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().message.rfind("l.toml:3:", 0), 0u) << c.error().message;
}

TEST(ImportConfig, ReadSecretFromFile) {
  std::string why;
  auto inl = read_secret("abc", "", why);
  ASSERT_TRUE(inl);
  EXPECT_EQ(*inl, "abc");
  auto path = std::filesystem::temp_directory_path() / ("refmail-secret-" + std::to_string(::getpid()));
  {
    std::ofstream f(path);
    f << "s3cret\n";
  }
  auto fs = read_secret("", path.string(), why);
  std::filesystem::remove(path);
  ASSERT_TRUE(fs);
  EXPECT_EQ(*fs, "s3cret");
  EXPECT_FALSE(read_secret("", "/nonexistent/refmail/secret", why));
  EXPECT_NE(why.find("/nonexistent"), std::string::npos);
}
