// Command-line parsing: sendmail(8) flags, the notification and account sub-commands.
#include <gtest/gtest.h>

#include "tools/sendmail/args.hpp"

namespace refmail::sendmail {
namespace {

Result<Invocation> parse(std::vector<std::string> args, std::string_view program = "refmail-sendmail") {
  return parse_args(program, args);
}

TEST(Args, ClassicFlags) {
  auto r = parse({"-t", "-i", "-f", "cron@example.org", "-F", "Cron Daemon", "extra@example.org"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->mode, Mode::Sendmail);
  EXPECT_TRUE(r->sendmail.extract_recipients);
  EXPECT_TRUE(r->sendmail.ignore_dots);
  EXPECT_EQ(r->sendmail.from, "cron@example.org");
  EXPECT_EQ(r->sendmail.full_name, "Cron Daemon");
  EXPECT_EQ(r->sendmail.rcpts, std::vector<std::string>{"extra@example.org"});
}

TEST(Args, ClustersAttachedValuesAndIgnoredOptions) {
  auto r = parse({"-ti", "-fme@x.org", "-FMe", "-oi", "-odi", "-oem", "-bm", "-N", "never", "-U", "-v",
                  "-Cfile.toml", "a@x.org"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->sendmail.extract_recipients);
  EXPECT_TRUE(r->sendmail.ignore_dots);
  EXPECT_EQ(r->sendmail.from, "me@x.org");
  EXPECT_EQ(r->sendmail.full_name, "Me");
  EXPECT_TRUE(r->common.verbose);
  EXPECT_EQ(r->common.config_path, "file.toml");
  EXPECT_EQ(r->sendmail.rcpts.size(), 1u);
  // -r is sendmail's old spelling of -f.
  auto old = parse({"-r", "x@y.org", "a@b.org"});
  ASSERT_TRUE(old);
  EXPECT_EQ(old->sendmail.from, "x@y.org");
}

TEST(Args, DoubleDashEndsOptions) {
  auto r = parse({"-i", "--", "-odd@x.org", "b@x.org"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sendmail.rcpts, (std::vector<std::string>{"-odd@x.org", "b@x.org"}));
}

TEST(Args, LongCommonOptions) {
  auto r = parse({"--config=/tmp/c.toml", "--account", "work", "--dry-run", "--allow-plaintext", "a@b.org"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->common.config_path, "/tmp/c.toml");
  EXPECT_EQ(r->common.account, "work");
  EXPECT_TRUE(r->common.dry_run);
  EXPECT_TRUE(r->common.allow_plaintext);
  EXPECT_FALSE(r->common.verbose);
  auto d = parse({"a@b.org"});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->common.config_path, kDefaultConfigPath);
}

TEST(Args, UsageErrors) {
  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {},                       // no recipients and no -t
           {"-i"},                   // still none
           {"-bs", "a@b.org"},       // SMTP on stdin: not supported
           {"-bp"},                  // mailq
           {"-Z", "a@b.org"},        // unknown
           {"-f"},                   // missing value
           {"--bogus", "a@b.org"},
           {"--config"},
           {"--verbose=yes", "a@b.org"},
       }) {
    auto r = parse(bad);
    ASSERT_FALSE(r) << ::testing::PrintToString(bad);
    EXPECT_EQ(r.error().exit_code, EX_USAGE);
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  }
}

TEST(Args, HelpAndVersion) {
  EXPECT_EQ(parse({"--help"})->mode, Mode::Help);
  EXPECT_EQ(parse({"--version"})->mode, Mode::Version);
  EXPECT_NE(usage_text().find("account set"), std::string::npos);
}

TEST(Args, SendMode) {
  auto r = parse({"--config", "c.toml", "send", "--to", "a@x.org", "--to=b@x.org", "--cc", "c@x.org", "--bcc",
                  "d@x.org", "--subject", "Grüße", "--body-file", "body.txt", "--html-file", "b.html", "--attach",
                  "r.pdf", "--attach", "s.csv", "--from", "me@x.org", "--verbose"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->mode, Mode::Send);
  EXPECT_EQ(r->common.config_path, "c.toml");
  EXPECT_TRUE(r->common.verbose);
  EXPECT_EQ(r->send.to, (std::vector<std::string>{"a@x.org", "b@x.org"}));
  EXPECT_EQ(r->send.cc.size(), 1u);
  EXPECT_EQ(r->send.bcc.size(), 1u);
  EXPECT_EQ(r->send.subject, "Grüße");
  EXPECT_EQ(r->send.body_file, "body.txt");
  EXPECT_EQ(r->send.html_file, "b.html");
  EXPECT_EQ(r->send.attach, (std::vector<std::string>{"r.pdf", "s.csv"}));
  EXPECT_EQ(r->send.from, "me@x.org");

  EXPECT_FALSE(parse({"send", "--subject", "x"}));  // no recipient
  EXPECT_FALSE(parse({"send", "--to", "a@x.org", "--body", "x", "--body-file", "f"}));
  EXPECT_FALSE(parse({"send", "--to", "a@x.org", "stray"}));
  EXPECT_FALSE(parse({"send", "--to"}));
}

TEST(Args, InstalledAsSendmailHasNoSubCommands) {
  auto r = parse({"send", "--", "a@x.org"}, "/usr/sbin/sendmail");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mode, Mode::Sendmail);
  EXPECT_EQ(r->sendmail.rcpts, (std::vector<std::string>{"send", "a@x.org"}));
  EXPECT_EQ(parse({"send", "--to", "a@x.org"}, "/opt/bin/refmail-sendmail")->mode, Mode::Send);
}

TEST(Args, AccountSet) {
  auto r = parse({"account", "set", "work", "--host", "smtp.x.org", "--port", "465", "--tls", "tls", "--user",
                  "u@x.org", "--password-stdin", "--auth", "login", "--from", "u@x.org", "--ca-file", "/ca.pem"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->mode, Mode::AccountSet);
  EXPECT_EQ(r->account.name, "work");
  EXPECT_EQ(r->account.host, "smtp.x.org");
  EXPECT_EQ(r->account.port, 465);
  EXPECT_EQ(r->account.tls, "tls");
  EXPECT_EQ(r->account.auth, "login");
  EXPECT_TRUE(r->account.password_stdin);
  EXPECT_FALSE(parse({"account", "set", "w", "--password", "secret"}));  // never on the command line
  EXPECT_FALSE(parse({"account", "set", "w", "--port", "0"}));
  EXPECT_FALSE(parse({"account", "set", "w", "--port", "70000"}));
  EXPECT_FALSE(parse({"account", "set"}));
  EXPECT_FALSE(parse({"account", "list"}));
  EXPECT_FALSE(parse({"account", "set", "w", "--password-stdin", "--password-file", "f"}));
}

}  // namespace
}  // namespace refmail::sendmail
