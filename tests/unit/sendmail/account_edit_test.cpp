// `account set`: text-level rewrite keeping comments and other accounts; atomic 0600 write.
#include <gtest/gtest.h>

#include <sstream>

#include "temp_dir.hpp"
#include "tools/sendmail/account_edit.hpp"
#include "tools/sendmail/app.hpp"
#include "tools/sendmail/settings.hpp"

namespace refmail::sendmail {
namespace {

using test::mode_of;
using test::slurp;
using test::TempDir;

constexpr std::string_view kConfig = R"(# Appliance mail settings -- edited by hand AND by the UI
default = "work"

# The work relay.
[account.work]
host = "old.example.org"   # old relay
port = 25
user = "u@example.org"
password_file = "/etc/refmail/pw"
# trailing comment inside work

[account.home]  # untouched
host = "home.example.org"
password = "home-secret"
user = "h@example.org"
notes = """
[account.work]
host = "fake"
"""
)";

AccountUpdate update_for(std::vector<std::string> args, std::optional<std::string> password = std::nullopt) {
  std::vector<std::string> all{"account", "set"};
  all.insert(all.end(), args.begin(), args.end());
  auto inv = parse_args("refmail-sendmail", all);
  EXPECT_TRUE(inv) << (inv ? "" : inv.error().message);
  auto u = make_account_update(inv->account, password);
  EXPECT_TRUE(u);
  return *u;
}

TEST(AccountEdit, TomlString) {
  EXPECT_EQ(toml_string("a\"b\\c\n\x01é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
}

TEST(AccountEdit, RewritesOneTableKeepingEverythingElse) {
  // The "notes" key is not in the schema, so use a config without it for validation;
  // first check that the multi-line string decoy is never taken for a header.
  std::string cfg(kConfig);
  cfg.erase(cfg.find("notes = "), cfg.find("\"\"\"\n", cfg.find("notes = ") + 12) + 4 - cfg.find("notes = "));
  auto u = update_for({"work", "--host", "new.example.org", "--port", "587", "--tls", "starttls"}, "s3cr\"et");
  auto out = apply_account_update(cfg, u, "c.toml");
  ASSERT_TRUE(out) << out.error().message;
  const std::string expected = R"(# Appliance mail settings -- edited by hand AND by the UI
default = "work"

# The work relay.
[account.work]
host = "new.example.org"
port = 587
user = "u@example.org"
tls = "starttls"
password = "s3cr\"et"
# trailing comment inside work

[account.home]  # untouched
host = "home.example.org"
password = "home-secret"
user = "h@example.org"
)";
  EXPECT_EQ(*out, expected);
  auto s = parse_settings(*out, "c.toml");
  ASSERT_TRUE(s);
  auto work = choose_account(*s, "work");
  ASSERT_TRUE(work);
  EXPECT_EQ(work->password, "s3cr\"et");
  EXPECT_TRUE(work->password_file.empty());
  EXPECT_EQ(choose_account(*s, "home")->password, "home-secret");
}

TEST(AccountEdit, MultiLineStringIsNotAHeader) {
  // Unknown key 'notes' makes the result invalid for refmail-sendmail, so the edit is
  // refused, but the decoy inside the string must not be what gets edited: the error
  // is the schema's, not "edit by hand".
  auto u = update_for({"work", "--host", "x.example.org"});
  auto out = apply_account_update(kConfig, u, "c.toml");
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find("unknown key"), std::string::npos) << out.error().message;
}

TEST(AccountEdit, NewAccountAppended) {
  const std::string cfg = "# only a comment\n[account.a]\nhost = \"a\"";  // no final newline
  auto u = update_for({"b", "--host", "b.example.org", "--user", "u@b", "--password-file", "/pw"});
  auto out = apply_account_update(cfg, u, "c.toml");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, "# only a comment\n[account.a]\nhost = \"a\"\n\n[account.b]\nhost = \"b.example.org\"\n"
                  "user = \"u@b\"\npassword_file = \"/pw\"\n");
  auto fresh = apply_account_update("", u, "c.toml");
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(fresh->starts_with("[account.b]\n"));
}

TEST(AccountEdit, NewAccountWithoutHostRefused) {
  auto u = update_for({"nohost", "--user", "x"});
  auto out = apply_account_update("", u, "c.toml");
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find("missing 'host'"), std::string::npos);
}

TEST(AccountEdit, RefusesFormsItCannotEdit) {
  auto u = update_for({"work", "--host", "n.example.org"});
  // Inline table: no [account.work] header, the appended table would redefine it.
  auto inline_table = apply_account_update("[account]\nwork = { host = \"h\" }\n", u, "c.toml");
  ASSERT_FALSE(inline_table);
  EXPECT_NE(inline_table.error().message.find("by hand"), std::string::npos) << inline_table.error().message;
  auto broken = apply_account_update("[account.work\n", u, "c.toml");
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message.find("not rewritten"), std::string::npos);
  AccountSetArgs bad_name;
  bad_name.name = "bad name";
  EXPECT_FALSE(make_account_update(bad_name, std::nullopt));
  AccountSetArgs bad_tls;
  bad_tls.name = "a";
  bad_tls.tls = "ssl";
  EXPECT_FALSE(make_account_update(bad_tls, std::nullopt));
}

TEST(AccountEdit, AtomicWriteMode0600) {
  TempDir d;
  const std::string p = d.file("c.toml", "old", 0644);
  ASSERT_TRUE(write_file_atomically(p, "new content\n"));
  EXPECT_EQ(slurp(p), "new content\n");
  EXPECT_EQ(mode_of(p), 0600u);
  std::size_t entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(d.path)) ++entries;
  EXPECT_EQ(entries, 1u);  // no temp file left behind
  auto bad = write_file_atomically((d.path / "no/such/dir/c.toml").string(), "x");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().exit_code, EX_CANTCREAT);
}

int run_app(std::vector<std::string> args, std::string stdin_text, std::string& out, std::string& err) {
  std::istringstream in(stdin_text);
  std::ostringstream o, e;
  int rc = run("refmail-sendmail", args, in, o, e);
  out = o.str();
  err = e.str();
  return rc;
}

TEST(AccountEdit, CommandEndToEnd) {
  TempDir d;
  std::string cfg(kConfig);
  cfg.erase(cfg.find("notes = "));
  const std::string p = d.file("sendmail.toml", cfg, 0644);
  std::string out, err;
  ASSERT_EQ(run_app({"account", "set", "work", "--config", p, "--host", "h.example.org", "--password-stdin"},
                    "typed-secret\n", out, err),
            0)
      << err;
  EXPECT_EQ(out.find("typed-secret"), std::string::npos);
  EXPECT_EQ(mode_of(p), 0600u);
  const std::string text = slurp(p);
  EXPECT_NE(text.find("# trailing comment inside work\n"), std::string::npos);
  EXPECT_NE(text.find("[account.home]  # untouched\nhost = \"home.example.org\"\npassword = \"home-secret\"\n"),
            std::string::npos);
  EXPECT_NE(text.find("password = \"typed-secret\"\n"), std::string::npos);
  EXPECT_EQ(text.find("password_file"), std::string::npos);
  // The file loads and the account is usable.
  std::vector<std::string> w;
  auto s = load_settings(p, w);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(choose_account(*s, "")->host, "h.example.org");
  // An empty password line is refused and nothing is written.
  EXPECT_EQ(run_app({"account", "set", "work", "--config", p, "--password-stdin"}, "\n", out, err), EX_DATAERR);
  EXPECT_EQ(slurp(p), text);
  // A new file is created with mode 0600.
  const std::string fresh = (d.path / "new.toml").string();
  ASSERT_EQ(run_app({"account", "set", "x", "--config", fresh, "--host", "h", "--tls", "tls"}, "", out, err), 0)
      << err;
  EXPECT_EQ(mode_of(fresh), 0600u);
  EXPECT_EQ(slurp(fresh), "[account.x]\nhost = \"h\"\ntls = \"tls\"\n");
}

}  // namespace
}  // namespace refmail::sendmail
