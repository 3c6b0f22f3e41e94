// tests/unit/sieve/variables_test.cpp — RFC 5229 (variables): set, modifiers, ${name},
// match variables from :matches (the RFC's examples) and :regex, the string test.
#include "tests/unit/sieve/sieve_test_util.hpp"

namespace refmail::sieve::test {
namespace {

TEST(SieveVariables, SetAndReference) {
  const char* s = "require [\"variables\", \"vacation\"];\n"
                  "set \"honorific\"  \"Mr\";\nset \"first_name\" \"Wile\";\nset \"last_name\"  \"Coyote\";\n"
                  "set \"vacation\" text:\nDear ${HONORIFIC} ${last_name},\nI'm out, please leave a message after the meep.\n.\n;\n"
                  "vacation :subject \"${first_name}\" \"${vacation}\";";
  auto o = run_script(s);
  ASSERT_TRUE(o.vacation);
  EXPECT_EQ(o.vacation->reason, "Dear Mr Coyote,\r\nI'm out, please leave a message after the meep.\r\n");
  EXPECT_EQ(o.vacation->subject, "Wile");
}

TEST(SieveVariables, Modifiers) {
  struct Case { const char* mods; const char* want; };
  for (const auto& c : std::initializer_list<Case>{
           {":length", "15"},
           {":lower", "jumbled letters"},
           {":upperfirst", "JuMBlEd lEttErS"},
           {":upperfirst :lower", "Jumbled letters"},
           {":lower :upperfirst", "Jumbled letters"},
           {":upper", "JUMBLED LETTERS"},
           {":lowerfirst", "juMBlEd lEttErS"},
       }) {
    std::string s = std::string("require [\"variables\", \"fileinto\"]; set \"a\" \"juMBlEd lEttErS\"; set ") + c.mods +
                    " \"b\" \"${a}\"; fileinto \"${b}\";";
    EXPECT_EQ(mailboxes(run_script(s)), std::vector<std::string>{c.want}) << c.mods;
  }
  EXPECT_EQ(mailboxes(run_script("require [\"variables\", \"fileinto\"]; set :quotewildcard \"b\" \"Rock*\"; fileinto \"${b}\";")),
            std::vector<std::string>{"Rock\\*"});
  EXPECT_EQ(compile_error("require \"variables\"; set :lower :upper \"a\" \"b\";"),
            "1:33: modifier \":upper\" conflicts with an earlier modifier");
  EXPECT_EQ(compile_error("require \"variables\"; set \"1a\" \"b\";"), "1:26: bad variable name \"1a\"");
}

TEST(SieveVariables, Rfc5229MatchVariableExamples) {
  const char* s = R"(require ["fileinto", "variables"];
if header :matches "List-ID" "*<*@*" {
    fileinto "INBOX.lists.${2}"; stop;
}
if header :matches "Subject" "[*] *" {
    fileinto "INBOX.lists.${1}"; stop;
}
if address :matches ["To", "Cc"] ["coyote@**.com",
        "wile@**.com"] {
    fileinto "INBOX.business.${2}"; stop;
}
)";
  EXPECT_EQ(mailboxes(run_script(s, "List-ID: Acme users <acme-users@lists.example.org>\r\n\r\n")),
            std::vector<std::string>{"INBOX.lists.acme-users"});
  EXPECT_EQ(mailboxes(run_script(s, "Subject: [acme-users] [fwd] version 1.0 is out\r\n\r\n")),
            std::vector<std::string>{"INBOX.lists.acme-users"});
  EXPECT_EQ(mailboxes(run_script(s, "To: coyote@ACME.Example.COM\r\n\r\n")),
            std::vector<std::string>{"INBOX.business.ACME.Example"});
}

TEST(SieveVariables, MatchVariablesAllWildcards) {
  auto o = run_script("require [\"variables\", \"fileinto\"]; if header :matches \"subject\" \"H?llo * *\" "
                      "{ fileinto \"${0}|${1}|${2}|${3}|${4}\"; }");
  EXPECT_EQ(mailboxes(o), std::vector<std::string>{"Hello W\xC3\xB6rld money|e|W\xC3\xB6rld|money|"});
  // A failed match leaves the previous values.
  o = run_script("require [\"variables\", \"fileinto\"]; if header :matches \"subject\" \"*\" {} "
                 "if header :matches \"subject\" \"nomatch*\" {} fileinto \"${0}\";");
  EXPECT_EQ(mailboxes(o), std::vector<std::string>{"Hello W\xC3\xB6rld money"});
}

TEST(SieveVariables, StringTest) {
  const char* req = "require [\"variables\", \"relational\", \"comparator-i;ascii-numeric\"];";
  EXPECT_TRUE(run_script(std::string(req) + "set \"x\" \"abc\"; if string :is \"${x}\" \"ABC\" { discard; }").discard);
  EXPECT_FALSE(run_script(std::string(req) + "if string :is \"${unset}\" \"x\" { discard; }").discard);
  EXPECT_TRUE(run_script(std::string(req) + "if string :is \"${unset}\" \"\" { discard; }").discard);
  // RFC 5229 5: :count counts the non-empty strings.
  EXPECT_TRUE(run_script(std::string(req) + "if string :count \"eq\" :comparator \"i;ascii-numeric\" [\"a\", \"\", \"b\"] \"2\" { discard; }").discard);
}

TEST(SieveVariables, NoExpansionWithoutRequire) {
  auto o = run_script("require \"fileinto\"; fileinto \"${x}\";");
  EXPECT_EQ(mailboxes(o), std::vector<std::string>{"${x}"});
  // Malformed references stay as written.
  o = run_script("require [\"fileinto\", \"variables\"]; fileinto \"a${b c}d${\";");
  EXPECT_EQ(mailboxes(o), std::vector<std::string>{"a${b c}d${"});
}

TEST(SieveVariables, VariableCountIsBounded) {
  std::string s = "require \"variables\";";
  for (int i = 0; i < 200; ++i) s += "set \"v" + std::to_string(i) + "\" \"x\";";
  auto o = run_script(s);
  ASSERT_TRUE(o.runtime_error);
  EXPECT_EQ(*o.runtime_error, "too many variables");
}

TEST(SieveVariables, ValueIsBounded) {
  // Doubling a variable 20 times would reach 1 MiB per value: cut at max_string_bytes.
  std::string s = "require [\"variables\", \"fileinto\"]; set \"a\" \"0123456789abcdef\";";
  for (int i = 0; i < 20; ++i) s += "set \"a\" \"${a}${a}\";";
  s += "set :length \"n\" \"${a}\"; fileinto \"${n}\";";
  auto o = run_script(s);
  EXPECT_FALSE(o.runtime_error);
  EXPECT_EQ(mailboxes(o), std::vector<std::string>{std::to_string(256 << 10)});
}

}  // namespace
}  // namespace refmail::sieve::test
