// tests/unit/sieve/parser_test.cpp — grammar and validation errors with exact
// line:column (RFC 5228 8.2, 3.1, 3.2 and the per-command argument rules), and the
// scripts that must compile.
#include "tests/unit/sieve/sieve_test_util.hpp"

namespace refmail::sieve::test {
namespace {

TEST(SieveParser, ValidScriptsCompile) {
  for (const char* s : {
           "",
           "keep;",
           "# nothing but a comment\n",
           "if true { keep; } elsif false { discard; } else { stop; }",
           "if anyof (true, false) { discard; }",
           "if allof (header :contains \"subject\" \"x\", not exists \"x-foo\") { discard; }",
           "require [\"fileinto\", \"envelope\"]; if envelope :is \"from\" \"a@b\" { fileinto \"x\"; }",
           "if header :comparator \"i;octet\" :is [\"to\", \"cc\"] [\"a\", \"b\"] { stop; }",
           "if size :under 1M { keep; }",
           "require \"comparator-i;ascii-numeric\"; if header :comparator \"i;ascii-numeric\" :is \"x\" \"1\" {}",
       }) {
    EXPECT_EQ(compile_error(s), "") << s;
  }
}

TEST(SieveParser, ErrorsWithLineAndColumn) {
  struct Case { const char* script; const char* error; };
  for (const auto& c : std::initializer_list<Case>{
           {"fileint \"x\";", "1:1: unknown command \"fileint\""},
           {"keep;\n  fileinto \"x\";", "2:3: command \"fileinto\" requires \"fileinto\""},
           {"require \"fileinto\";\nif true {\n  fileinto \"a\" \"b\";\n}", "3:16: fileinto takes 1 positional argument, 2 given"},
           {"require \"frobnicate\";", "1:9: unsupported extension \"frobnicate\""},
           {"require [\"fileinto\",\n  \"nope\"];", "1:9: unsupported extension \"nope\""},
           {"keep;\nrequire \"fileinto\";", "2:1: require must come before any other command"},
           {"if true { require \"fileinto\"; }", "1:11: require must come before any other command"},
           {"elsif true { stop; }", "1:1: elsif without if"},
           {"keep;\nelse { stop; }", "2:1: else without if"},
           {"if true { stop; }\nkeep;\nelse { stop; }", "3:1: else without if"},
           {"keep", "1:5: expected ';' after keep, found the end of the script"},
           {"if true { keep; ", "1:17: expected '}', found the end of the script"},
           {"keep; }", "1:7: unexpected '}'"},
           {"if header :frob \"a\" \"b\" { stop; }", "1:11: unknown tag \":frob\" for header"},
           {"if header :is :contains \"a\" \"b\" { stop; }", "1:15: tag \":contains\" conflicts with an earlier tag"},
           {"if header \"a\" :is \"b\" { stop; }", "1:15: tag \":is\" after positional arguments"},
           {"if header :comparator \"i;frob\" \"a\" \"b\" {}", "1:23: unknown comparator \"i;frob\""},
           {"if header :comparator \"i;ascii-numeric\" \"a\" \"b\" {}",
            "1:23: comparator \"i;ascii-numeric\" requires \"comparator-i;ascii-numeric\""},
           {"if size 100 { stop; }", "1:4: size needs :over or :under"},
           {"if size :over \"100\" { stop; }", "1:15: size: expected a number"},
           {"require \"fileinto\"; fileinto [\"a\", \"b\"];", "1:30: fileinto: expected a string, not a list"},
           {"if frob { stop; }", "1:4: unknown test \"frob\""},
           {"if keep { stop; }", "1:4: \"keep\" is a command, not a test"},
           {"true;", "1:1: \"true\" is a test, not a command"},
           {"if true stop;", "1:9: \"stop\" is a command, not a test"},
           {"if true;", "1:1: if needs a block { }"},
           {"stop true;", "1:1: stop takes no test"},
           {"if not (true, false) { stop; }", "1:4: not takes exactly one test"},
           {"if anyof true { stop; }", "1:4: anyof takes a test list in ( )"},
           {"if header :is [\"a\" \"b\"] \"c\" {}", "1:20: expected ',' or ']', found a string"},
           {"if header :is [] \"c\" {}", "1:16: expected a string in the list, found ']'"},
           {"if anyof (true false) {}", "1:11: true takes no test"},
           {"if anyof (true \"x\") {}", "1:16: true takes 0 positional arguments, 1 given"},
           {"if header :count \"gt\" \"a\" \"1\" {}", "1:11: tag \":count\" requires \"relational\""},
           {"require \"relational\"; if header :value \"gg\" \"a\" \"1\" {}",
            "1:40: unknown relational operator \"gg\""},
           {"if address :user \"to\" \"a\" {}", "1:12: tag \":user\" requires \"subaddress\""},
           {"require \"regex\"; if header :regex \"subject\" \"a(b\" {}", "1:45: bad regex \"a(b\": unmatched '('"},
           {"require \"comparator-i;ascii-numeric\"; if header :contains :comparator \"i;ascii-numeric\" \"a\" \"1\" {}",
            "1:42: comparator \"i;ascii-numeric\" supports only :is, :value and :count"},
           {"require \"envelope\"; if envelope \"auth\" \"x\" {}", "1:33: unsupported envelope part \"auth\""},
       }) {
    EXPECT_EQ(compile_error(c.script), c.error) << c.script;
  }
}

TEST(SieveParser, TagArgumentsAreTyped) {
  EXPECT_EQ(compile_error("require \"imap4flags\"; keep :flags;"), "1:28: tag \":flags\" needs a string list");
  EXPECT_EQ(compile_error("require [\"date\", \"index\"]; if header :index \"1\" \"a\" \"b\" {}"),
            "1:45: tag \":index\" needs a number");
  EXPECT_EQ(compile_error("require [\"date\", \"index\"]; if header :index 0 \"a\" \"b\" {}"),
            "1:45: :index must be at least 1");
  EXPECT_EQ(compile_error("require [\"date\", \"index\"]; if header :last \"a\" \"b\" {}"), "1:31: :last needs :index");
}

TEST(SieveParser, NestingIsBounded) {
  // 10,000 nested tests: a clean error, no stack overflow.
  std::string nots = "if ";
  for (int i = 0; i < 10000; ++i) nots += "not ";
  nots += "true { stop; }";
  auto e = compile_error(nots);
  EXPECT_NE(e.find("tests nested too deeply"), std::string::npos) << e;

  std::string allofs = "if ";
  for (int i = 0; i < 10000; ++i) allofs += "allof(";
  allofs += "true";
  for (int i = 0; i < 10000; ++i) allofs += ")";
  allofs += " { stop; }";
  e = compile_error(allofs);
  EXPECT_NE(e.find("tests nested too deeply"), std::string::npos) << e;

  std::string blocks;
  for (int i = 0; i < 10000; ++i) blocks += "if true {";
  for (int i = 0; i < 10000; ++i) blocks += "}";
  e = compile_error(blocks);
  EXPECT_NE(e.find("nested too deeply"), std::string::npos) << e;

  // Just inside the limit compiles and runs.
  std::string ok = "if ";
  for (int i = 0; i < 60; ++i) ok += "not ";
  ok += "true { discard; }";
  EXPECT_EQ(compile_error(ok), "");
  auto o = run_script(ok);
  EXPECT_FALSE(o.keep);  // 60 nots: even, so true
  EXPECT_FALSE(o.runtime_error);
}

}  // namespace
}  // namespace refmail::sieve::test
