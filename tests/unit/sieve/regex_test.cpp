// tests/unit/sieve/regex_test.cpp — the regex match type (draft-ietf-sieve-regex) and
// its Pike VM: POSIX ERE features, case folding per comparator, captures into ${n},
// and the bounded cost of patterns that blow up backtracking matchers.
#include "sieve/regex_internal.hpp"
#include "tests/unit/sieve/sieve_test_util.hpp"

namespace refmail::sieve::test {
namespace {

using detail::compile_regex;
using detail::regex_search;
using detail::RegexProgram;
using detail::RegexResult;

RegexResult re_search(std::string_view re, std::string_view text, std::vector<std::string>* caps = nullptr,
                   bool icase = false) {
  RegexProgram p;
  auto e = compile_regex(re, icase, p);
  EXPECT_FALSE(e) << re << ": " << e.value_or("");
  std::size_t budget = 1000000;
  return regex_search(p, text, icase, caps, budget);
}

TEST(SieveRegex, EreFeatures) {
  struct Case { const char* re; const char* text; bool match; };
  for (const auto& c : std::initializer_list<Case>{
           {"abc", "xxabcxx", true},
           {"^abc", "xxabc", false},
           {"abc$", "xxabc", true},
           {"^$", "", true},
           {"a.c", "abc", true},
           {"a.c", "ac", false},
           {"ab*c", "ac", true},
           {"ab+c", "ac", false},
           {"ab?c", "abbc", false},
           {"(foo|bar)baz", "xbarbaz", true},
           {"a{2,3}b", "ab", false},
           {"a{2,3}b", "aab", true},
           {"^a{2}$", "aaa", false},
           {"a{2,}", "aaaa", true},
           {"[a-c]+x", "zzbcax", true},
           {"[^a-c]x", "ax", false},
           {"[[:digit:]]{3}", "ab123", true},
           {"[[:alpha:]]+[[:space:]]", "abc ", true},
           {"[]a]", "]", true},
           {"[a-]", "-", true},
           {"a\\.b", "axb", false},
           {"a\\.b", "a.b", true},
           {"a|", "zzz", true},
           {"(a|ab)(c|bcd)(d*)", "abcd", true},
       }) {
    EXPECT_EQ(re_search(c.re, c.text) == RegexResult::Match, c.match) << c.re << " ~ " << c.text;
  }
  RegexProgram p;
  for (const char* bad : {"a(b", "a)b", "[abc", "a{3,1}", "a{999}", "[[:nope:]]", "x\\", "[z-a]"})
    EXPECT_TRUE(compile_regex(bad, false, p)) << bad;
}

TEST(SieveRegex, Captures) {
  std::vector<std::string> caps;
  ASSERT_EQ(re_search("([a-z]+)@([a-z.]+)", "mail: joe@example.org!", &caps), RegexResult::Match);
  ASSERT_EQ(caps.size(), 3u);
  EXPECT_EQ(caps[0], "joe@example.org");
  EXPECT_EQ(caps[1], "joe");
  EXPECT_EQ(caps[2], "example.org");
  // Leftmost match wins.
  ASSERT_EQ(re_search("b+", "abbbcbb", &caps), RegexResult::Match);
  EXPECT_EQ(caps[0], "bbb");
}

TEST(SieveRegex, InScripts) {
  auto o = run_script("require [\"regex\", \"variables\", \"fileinto\"];"
                      "if header :regex \"subject\" \"^hello (.*) (m[a-z]+)$\" { fileinto \"${2}-${1}\"; }");
  EXPECT_EQ(mailboxes(o), std::vector<std::string>{"money-W\xC3\xB6rld"});
  // i;ascii-casemap (the default) folds case, i;octet does not.
  EXPECT_TRUE(run_script("require \"regex\"; if header :regex \"subject\" \"HELLO\" { discard; }").discard);
  EXPECT_FALSE(run_script("require \"regex\"; if header :regex :comparator \"i;octet\" \"subject\" \"HELLO\" { discard; }").discard);
  EXPECT_TRUE(run_script("require \"regex\"; if address :regex :domain \"from\" \"^example\\\\.(org|net)$\" { discard; }").discard);
  // A bad pattern built at run time is a run-time error: implicit keep.
  auto bad = run_script("require [\"regex\", \"variables\"]; set \"p\" \"(\"; if header :regex \"subject\" \"${p}\" { discard; }");
  EXPECT_TRUE(bad.runtime_error);
  EXPECT_TRUE(bad.keep);
}

TEST(SieveRegex, CatastrophicPatternsAreLinear) {
  // (a+)+b against 30 'a's: exponential for a backtracking matcher; here a few thousand
  // VM steps, and no match.
  std::string text(30, 'a');
  RegexProgram p;
  ASSERT_FALSE(compile_regex("(a+)+b", false, p));
  std::size_t budget = 1000000;
  EXPECT_EQ(regex_search(p, text, false, nullptr, budget), RegexResult::NoMatch);
  EXPECT_GT(budget, 1000000u - 5000u);
  // Over a 64 KiB header within the interpreter: a clean no-match in linear time...
  std::string big = "Subject: " + std::string(65536, 'a') + "\r\n\r\n";
  const char* script = "require \"regex\"; if header :regex \"subject\" \"(a|aa)*(a+)+b\" { discard; }";
  auto o = run_script(script, big);
  EXPECT_FALSE(o.discard);
  EXPECT_TRUE(o.keep);
  EXPECT_FALSE(o.runtime_error);
  EXPECT_LE(o.steps, Limits{}.max_steps);
  // ... and with a small budget, a clean run-time error (implicit keep).
  Limits small;
  small.max_steps = 1000;
  FakeMessage m(big);
  o = run_script(script, m, {}, small);
  ASSERT_TRUE(o.runtime_error);
  EXPECT_NE(o.runtime_error->find("budget"), std::string::npos);
  EXPECT_TRUE(o.keep);
  EXPECT_LE(o.steps, 1001u);
  // Nested counted repetition is refused at compile time, not expanded without bound.
  EXPECT_EQ(compile_error("require \"regex\"; if header :regex \"s\" \"((a{255}){255}){255}\" {}"),
            "1:39: bad regex \"((a{255}){255}){255}\": regex too large");
}

}  // namespace
}  // namespace refmail::sieve::test
