// tests/unit/sieve/limits_test.cpp — every Limits bound, hostile inputs (huge scripts,
// huge strings, many actions, step budget) ending in clean compile errors or run-time
// errors with the implicit keep, and a compiled Script shared across runs.
#include <thread>

#include "tests/unit/sieve/sieve_test_util.hpp"

namespace refmail::sieve::test {
namespace {

TEST(SieveLimits, ScriptSize) {
  std::string big(2 << 20, ' ');
  big += "keep;";
  EXPECT_EQ(compile_error(big), "1:1: script too large (2097157 bytes, limit 1048576)");
  Limits l;
  l.max_script_bytes = 3 << 20;
  EXPECT_EQ(compile_error(big, l), "");
}

TEST(SieveLimits, StringSize) {
  std::string s = "require \"fileinto\"; fileinto \"" + std::string(1 << 20, 'x') + "\";";
  Limits big;
  big.max_script_bytes = 4 << 20;
  EXPECT_EQ(compile_error(s, big), "1:30: string too long");
  EXPECT_EQ(compile_error(s), "1:1: script too large (1048608 bytes, limit 1048576)");
  std::string t = "require \"fileinto\"; fileinto text:\n" + std::string(300 << 10, 'x') + "\n.\n;";
  EXPECT_EQ(compile_error(t), "1:30: string too long");
}

TEST(SieveLimits, Actions) {
  std::string s = "require \"fileinto\";";
  for (int i = 0; i < 100; ++i) s += "fileinto \"box" + std::to_string(i) + "\";";
  auto o = run_script(s);
  ASSERT_TRUE(o.runtime_error);
  EXPECT_EQ(*o.runtime_error, "too many actions");
  EXPECT_TRUE(o.keep);
  EXPECT_TRUE(o.fileinto.empty());
  std::string r;
  for (int i = 0; i < 5; ++i) r += "redirect \"a" + std::to_string(i) + "@example.net\";";
  o = run_script(r);
  ASSERT_TRUE(o.runtime_error);
  EXPECT_EQ(*o.runtime_error, "too many redirects");
  EXPECT_TRUE(o.redirects.empty());
}

TEST(SieveLimits, StepBudget) {
  std::string s;
  for (int i = 0; i < 2000; ++i) s += "if header :contains \"subject\" \"x\" { stop; }";
  Limits l;
  l.max_steps = 1000;
  FakeMessage m(kSimpleMessage);
  auto o = run_script(s, m, {}, l);
  ASSERT_TRUE(o.runtime_error);
  EXPECT_EQ(*o.runtime_error, "step budget exceeded");
  EXPECT_LE(o.steps, 1001u);
  // The default budget is enough for the same script.
  EXPECT_FALSE(run_script(s, m).runtime_error);
}

TEST(SieveLimits, WildcardWorkIsCharged) {
  // "*a*a*a*...b" against a long run of 'a's: O(text x pattern) work, charged.
  std::string pat;
  for (int i = 0; i < 200; ++i) pat += "*a";
  pat += "*b";
  std::string msg = "Subject: " + std::string(60000, 'a') + "\r\n\r\n";
  auto o = run_script("if header :matches \"subject\" \"" + pat + "\" { discard; }", msg);
  EXPECT_FALSE(o.discard);
  EXPECT_TRUE(o.keep);
  EXPECT_LE(o.steps, Limits{}.max_steps + 1);
}

TEST(SieveLimits, BadRedirectAddress) {
  for (const char* a : {"", "no-at-sign", "a@b, c@d", "a@b\r\nRCPT TO:<x@y>", "<>"}) {
    auto o = run_script(std::string("require \"variables\"; set \"a\" \"") + a + "\"; redirect \"${a}\";");
    EXPECT_TRUE(o.runtime_error) << a;
    EXPECT_TRUE(o.redirects.empty());
  }
}

TEST(SieveLimits, CompiledScriptIsReusable) {
  auto c = compile("require [\"fileinto\", \"variables\"]; if header :matches \"subject\" \"*\" { fileinto \"${1}\"; }");
  ASSERT_TRUE(c.script);
  FakeMessage a("Subject: one\r\n\r\n"), b("Subject: two\r\n\r\n");
  EXPECT_EQ(mailboxes(run(*c.script, a, {})), std::vector<std::string>{"one"});
  EXPECT_EQ(mailboxes(run(*c.script, b, {})), std::vector<std::string>{"two"});
  EXPECT_EQ(mailboxes(run(*c.script, a, {})), std::vector<std::string>{"one"});
}

TEST(SieveLimits, CompiledScriptIsSharedAcrossThreads) {
  auto c = compile("require [\"fileinto\", \"variables\", \"regex\"];"
                   "if header :regex \"subject\" \"^(.*)-([0-9]+)$\" { fileinto \"${1}.${2}\"; }");
  ASSERT_TRUE(c.script);
  std::vector<std::thread> threads;
  std::vector<int> good(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string subject = "box" + std::to_string(t) + "-" + std::to_string(i);
        FakeMessage m("Subject: " + subject + "\r\n\r\n");
        auto o = run(*c.script, m, {});
        if (o.fileinto.size() == 1 && o.fileinto[0].mailbox == "box" + std::to_string(t) + "." + std::to_string(i)) ++good[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good, (std::vector<int>{200, 200, 200, 200}));
}

TEST(SieveLimits, Capabilities) {
  std::string caps(capabilities());
  for (const char* ext : {"fileinto", "reject", "ereject", "envelope", "vacation", "imap4flags", "variables",
                          "relational", "subaddress", "copy", "body", "date", "index", "mailbox", "regex",
                          "editheader", "comparator-i;ascii-numeric"}) {
    EXPECT_NE((" " + caps + " ").find(std::string(" ") + ext + " "), std::string::npos) << ext;
    EXPECT_EQ(compile_error(std::string("require \"") + ext + "\";"), "") << ext;
  }
}

}  // namespace
}  // namespace refmail::sieve::test
