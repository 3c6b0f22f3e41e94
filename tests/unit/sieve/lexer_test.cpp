// tests/unit/sieve/lexer_test.cpp — RFC 5228 2 lexical rules through compile() and run():
// comments, quoted strings and escapes, text: multi-line strings with dot-stuffing,
// numbers with K/M/G, and refusals (unterminated strings/comments, NUL, bad UTF-8).
#include "sieve/lexer_internal.hpp"
#include "tests/unit/sieve/sieve_test_util.hpp"

namespace refmail::sieve::test {
namespace {

using detail::lex;
using detail::Tok;

TEST(SieveLexer, TokensWithPositions) {
  auto r = lex("if size :over 100K {\n  discard;\n}\n", Limits{});
  ASSERT_FALSE(r.error);
  ASSERT_EQ(r.tokens.size(), 9u);
  EXPECT_EQ(r.tokens[0].kind, Tok::Identifier);
  EXPECT_EQ(r.tokens[2].kind, Tok::Tag);
  EXPECT_EQ(r.tokens[2].text, "over");
  EXPECT_EQ(r.tokens[3].kind, Tok::Number);
  EXPECT_EQ(r.tokens[3].number, 100u * 1024);
  EXPECT_EQ(r.tokens[5].text, "discard");
  EXPECT_EQ(r.tokens[5].line, 2u);
  EXPECT_EQ(r.tokens[5].column, 3u);
  EXPECT_EQ(r.tokens.back().kind, Tok::End);
}

TEST(SieveLexer, Quantifiers) {
  auto r = lex("1k 2M 3G 0", Limits{});
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.tokens[0].number, 1024u);
  EXPECT_EQ(r.tokens[1].number, 2u << 20);
  EXPECT_EQ(r.tokens[2].number, 3ull << 30);
  EXPECT_EQ(r.tokens[3].number, 0u);
  EXPECT_TRUE(lex("99999999999999999999", Limits{}).error);
  EXPECT_TRUE(lex("9999999999G", Limits{}).error);
}

TEST(SieveLexer, QuotedStringEscapes) {
  // RFC 5228 2.4.2: \" and \\ are escapes; any other backslash is removed.
  auto r = lex(R"("a\"b\\c\d" "multi
line")", Limits{});
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.tokens[0].text, "a\"b\\cd");
  EXPECT_EQ(r.tokens[1].text, "multi\nline");
}

TEST(SieveLexer, MultiLineWithDotStuffing) {
  auto r = lex("text: # comment\r\nline one\r\n..dot\r\n.\r\n;", Limits{});
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.tokens[0].kind, Tok::String);
  EXPECT_EQ(r.tokens[0].text, "line one\r\n.dot\r\n");
  EXPECT_EQ(r.tokens[1].kind, Tok::Semicolon);
  // Bare LF source: the value still has CRLF line ends.
  auto lf = lex("text:\nhello\n.\n", Limits{});
  ASSERT_FALSE(lf.error);
  EXPECT_EQ(lf.tokens[0].text, "hello\r\n");
}

TEST(SieveLexer, Comments) {
  auto r = lex("# hash\n/* bracket\n comment */ keep; /**/ stop;", Limits{});
  ASSERT_FALSE(r.error);
  ASSERT_EQ(r.tokens.size(), 5u);
  EXPECT_EQ(r.tokens[0].text, "keep");
  EXPECT_EQ(r.tokens[0].line, 3u);
}

TEST(SieveLexer, Refusals) {
  EXPECT_EQ(compile_error("keep;\n\"abc"), "2:1: unterminated string");
  EXPECT_EQ(compile_error("keep; /* never closed"), "1:7: unterminated comment");
  EXPECT_EQ(compile_error("require \"fileinto\";\nfileinto text:\nabc\n"), "2:10: unterminated multi-line string");
  EXPECT_EQ(compile_error(std::string_view("keep;\0", 6)), "1:6: NUL byte in script");
  EXPECT_EQ(compile_error("keep;\n# caf\xC3\n"), "2:6: invalid UTF-8 in script");
  EXPECT_EQ(compile_error("keep; \xC0\xAF"), "1:7: invalid UTF-8 in script");  // overlong
  EXPECT_EQ(compile_error("keep; @"), "1:7: unexpected character '@'");
  EXPECT_EQ(compile_error("keep :"), "1:6: expected a tag name after ':'");
  EXPECT_EQ(compile_error("if size :over 10X { stop; }"), "1:17: bad character after a number");
}

TEST(SieveLexer, Utf8IsAccepted) {
  EXPECT_EQ(compile_error("require \"fileinto\"; fileinto \"Bo\xC3\xAEte\";"), "");
}

}  // namespace
}  // namespace refmail::sieve::test

namespace refmail::sieve::test {
namespace {

TEST(SieveEncodedCharacter, Rfc5228Section2_4_2_4) {
  const char* req = "require [\"encoded-character\", \"fileinto\"];";
  EXPECT_EQ(mailboxes(run_script(std::string(req) + "fileinto \"${hex:40 41}\";")), std::vector<std::string>{"@A"});
  EXPECT_EQ(mailboxes(run_script(std::string(req) + "fileinto \"a${HEX: 4A\r\n 4b }b\";")), std::vector<std::string>{"aJKb"});
  EXPECT_EQ(mailboxes(run_script(std::string(req) + "fileinto \"${unicode:E9 1F600}\";")),
            std::vector<std::string>{"\xC3\xA9\xF0\x9F\x98\x80"});
  // Malformed sequences stay as written.
  EXPECT_EQ(mailboxes(run_script(std::string(req) + "fileinto \"${hex:4}${hex:zz}${foo:41}\";")),
            std::vector<std::string>{"${hex:4}${hex:zz}${foo:41}"});
  // Without the require nothing is decoded.
  EXPECT_EQ(mailboxes(run_script("require \"fileinto\"; fileinto \"${hex:40}\";")), std::vector<std::string>{"${hex:40}"});
  EXPECT_EQ(compile_error(std::string(req) + "fileinto \"${unicode:D800}\";"), "1:52: bad code point in ${unicode:...}");
}

}  // namespace
}  // namespace refmail::sieve::test
