// Whole invocations in-process (dry runs and bad input): everything is checked before
// any connection, with one error line and a sysexits.h code.
#include <gtest/gtest.h>

#include <sysexits.h>

#include <algorithm>
#include <sstream>

#include "temp_dir.hpp"
#include "tools/sendmail/app.hpp"

namespace refmail::sendmail {
namespace {

using test::TempDir;

struct Outcome {
  int rc;
  std::string out, err;
};

Outcome run_app(std::vector<std::string> args, const std::string& stdin_text = "",
                std::string_view program = "refmail-sendmail") {
  std::istringstream in(stdin_text);
  std::ostringstream o, e;
  int rc = run(program, args, in, o, e);
  return {rc, o.str(), e.str()};
}

struct Fixture : ::testing::Test {
  TempDir d;
  std::string cfg = d.file("s.toml",
                           "[account.main]\nhost = \"127.0.0.1\"\nport = 1\nuser = \"me@example.org\"\n"
                           "password = \"pw\"\n\n[account.plain]\nhost = \"127.0.0.1\"\ntls = \"none\"\n"
                           "from = \"x@example.org\"\n");
};

using App = Fixture;

TEST_F(App, DryRunDashT) {
  auto r = run_app({"--config", cfg, "--account", "main", "--dry-run", "-t", "-F", "Backup"},
                   "To: a@example.org\nBcc: b@example.org\nSubject: s\n\nline\n.\nignored\n");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err, "# dry run: account main (127.0.0.1:1)\n# MAIL FROM:<me@example.org>\n"
                   "# RCPT TO:<a@example.org>\n# RCPT TO:<b@example.org>\n");
  EXPECT_TRUE(r.out.starts_with("To: a@example.org\r\nSubject: s\r\nFrom: Backup <me@example.org>\r\nDate: "))
      << r.out;
  EXPECT_TRUE(r.out.ends_with("\r\n\r\nline\r\n")) << r.out;
  EXPECT_EQ(r.out.find("ignored"), std::string::npos);
}

TEST_F(App, DryRunNotification) {
  const std::string att = d.file("report.csv", "a,b\n1,2\n");
  auto r = run_app({"send", "--config", cfg, "--account", "main", "--dry-run", "--to", "ops@example.org",
                    "--subject", "Disk 95%", "--body-file", "-", "--attach", att},
                   "body from stdin\n");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("# RCPT TO:<ops@example.org>\n"), std::string::npos);
  EXPECT_NE(r.out.find("Subject: Disk 95%\r\n"), std::string::npos);
  EXPECT_NE(r.out.find("filename=report.csv"), std::string::npos);
  EXPECT_NE(r.out.find("Content-Type: text/csv"), std::string::npos);
}

TEST_F(App, BadInputIsOneLineAndNonZero) {
  struct Case {
    std::vector<std::string> args;
    std::string stdin_text;
    int rc;
    std::string error;
  };
  const std::string missing = (d.path / "missing.toml").string();
  const std::vector<Case> cases{
      {{"--config", missing, "a@example.org"}, "x\n", EX_CONFIG, "cannot read config " + missing},
      {{"--config", cfg, "--account", "nope", "a@example.org"}, "x\n", EX_CONFIG, "no account named 'nope'"},
      {{"--config", cfg, "a@example.org"}, "x\n", EX_CONFIG, "several accounts and no 'default'"},
      {{"--config", cfg, "--account", "plain", "a@example.org"}, "x\n", EX_CONFIG, "tls = \"none\""},
      {{"--config", cfg, "--account", "main", "bob"}, "x\n", EX_DATAERR, "recipient without '@': bob"},
      {{"--config", cfg, "--account", "main", "-t"}, "no header here\n", EX_DATAERR, "no header"},
      {{"--config", cfg, "--account", "main", "-t"}, "Subject: x\n\nbody\n", EX_DATAERR, "no recipients"},
      {{"--config", cfg, "--account", "main", "-f", "nobody", "a@example.org"}, "x\n", EX_DATAERR,
       "sender without '@'"},
      {{"send", "--config", cfg, "--account", "main", "--to", "a@example.org", "--attach",
        (d.path / "nope.pdf").string()},
       "", EX_NOINPUT, "cannot read attachment"},
      {{"-bs"}, "", EX_USAGE, "not supported"},
  };
  for (const Case& c : cases) {
    auto r = run_app(c.args, c.stdin_text);
    EXPECT_EQ(r.rc, c.rc) << ::testing::PrintToString(c.args) << r.err;
    EXPECT_TRUE(r.err.starts_with("refmail-sendmail: ")) << r.err;
    EXPECT_NE(r.err.find(c.error), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(App, PlaintextAllowedByFlagStillValidates) {
  auto r = run_app({"--config", cfg, "--account", "plain", "--allow-plaintext", "--dry-run", "a@example.org"},
                   "Subject: x\n\nx\n");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("# MAIL FROM:<x@example.org>"), std::string::npos);
}

TEST_F(App, ConnectionRefusedIsTempFail) {
  auto r = run_app({"--config", cfg, "--account", "main", "a@example.org"}, "Subject: x\n\nx\n");
  EXPECT_EQ(r.rc, EX_TEMPFAIL);
  EXPECT_EQ(r.err, "refmail-sendmail: cannot connect to 127.0.0.1:1: Connection refused\n");
}

}  // namespace
}  // namespace refmail::sendmail
