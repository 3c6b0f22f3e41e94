// tests/unit/mime/test_header_rfc2231.cpp — Content-Type/-Disposition parameters,
// RFC 2231 continuations and charsets, leniency, and encode -> parse round trips.
#include <gtest/gtest.h>

#include <string>

#include "mime/rfc2231.hpp"

namespace refmail::mime {
namespace {

TEST(Rfc2231Parse, Basic) {
  auto f = parse_parameterized_field("Text/Plain; charset=\"UTF-8\"; format=flowed");
  EXPECT_EQ(f.value, "text/plain");
  EXPECT_EQ(f.param("charset"), "UTF-8");
  EXPECT_EQ(f.param("format"), "flowed");
  EXPECT_FALSE(f.param("name").has_value());
}

TEST(Rfc2231Parse, CommentsAndWhitespace) {
  auto f = parse_parameterized_field("text/plain (plain text) ; charset = us-ascii (Plain text)");
  EXPECT_EQ(f.value, "text/plain");
  EXPECT_EQ(f.param("charset"), "us-ascii");
  auto g = parse_parameterized_field("multipart/mixed;\r\n\tboundary=\"----=_Part_1\\\"x\"");
  EXPECT_EQ(g.param("boundary"), "----=_Part_1\"x");
}

TEST(Rfc2231Parse, Rfc2231Examples) {
  // RFC 2231 section 3.
  auto a = parse_parameterized_field(
      "message/external-body; access-type=URL;\r\n"
      " URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"");
  EXPECT_EQ(a.param("url"), "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar");
  // Section 4.
  auto b = parse_parameterized_field(
      "application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A");
  EXPECT_EQ(b.param("title"), "This is ***fun***");
  // Section 4.1: mixed extended and plain sections.
  auto c = parse_parameterized_field(
      "application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
      " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"");
  EXPECT_EQ(c.param("title"), "This is even more ***fun*** isn't it!");
}

TEST(Rfc2231Parse, CharsetsAndOrder) {
  auto f = parse_parameterized_field(
      "attachment; filename*1*=%E2%82%AC.txt; filename*0*=UTF-8''price%20");
  EXPECT_EQ(f.value, "attachment");
  EXPECT_EQ(f.param("filename"), "price \xE2\x82\xAC.txt");
  auto g = parse_parameterized_field("attachment; filename*=iso-8859-1''caf%E9.pdf");
  EXPECT_EQ(g.param("filename"), "caf\xC3\xA9.pdf");
  // RFC 2231 form wins over the plain fallback.
  auto h = parse_parameterized_field(
      "attachment; filename=\"fallback.pdf\"; filename*=utf-8''real%20name.pdf");
  EXPECT_EQ(h.param("filename"), "real name.pdf");
  ASSERT_EQ(h.params.size(), 1u);
}

TEST(Rfc2231Parse, Lenient) {
  // RFC 2047 inside a quoted value (Outlook, Gmail).
  auto a = parse_parameterized_field("attachment; filename=\"=?UTF-8?B?0L/RgNC40LLQtdGCLnR4dA==?=\"");
  EXPECT_EQ(a.param("filename"), "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82.txt");
  // Unquoted with spaces, raw UTF-8, missing closing quote, value-less parameter.
  auto b = parse_parameterized_field("attachment; filename=my file.pdf; size=12");
  EXPECT_EQ(b.param("filename"), "my file.pdf");
  EXPECT_EQ(b.param("size"), "12");
  auto c = parse_parameterized_field("inline; filename=\"r\xC3\xA9sum\xC3\xA9.doc");
  EXPECT_EQ(c.param("filename"), "r\xC3\xA9sum\xC3\xA9.doc");
  auto d = parse_parameterized_field("text/plain; junk; charset=utf-8;;");
  EXPECT_EQ(d.param("charset"), "utf-8");
  auto e = parse_parameterized_field("");
  EXPECT_EQ(e.value, "");
  EXPECT_TRUE(e.params.empty());
  // Bad charset in an extended value: best effort, never a failure.
  auto f = parse_parameterized_field("attachment; filename*=x-bogus''a%FFb");
  EXPECT_EQ(f.param("filename"), "a\xC3\xBF" "b");
  // No quotes in the extended value.
  auto g = parse_parameterized_field("attachment; filename*=plain.txt");
  EXPECT_EQ(g.param("filename"), "plain.txt");
}

TEST(Rfc2231Parse, Bounded) {
  std::string s = "text/plain";
  for (int i = 0; i < 1000; ++i) s += "; p" + std::to_string(i) + "=v";
  EXPECT_LE(parse_parameterized_field(s).params.size(), kMaxParams);
  std::string t = "attachment";
  for (int i = 0; i < 1000; ++i) t += "; filename*" + std::to_string(i) + "=a";
  auto f = parse_parameterized_field(t);
  ASSERT_TRUE(f.param("filename"));
  EXPECT_EQ(f.param("filename")->size(), kMaxSections);
}

std::string join_field(std::string_view value, const std::vector<std::string>& segs) {
  std::string out(value);
  for (const auto& s : segs) out += ";\r\n " + s;
  return out;
}

TEST(Rfc2231Encode, RoundTrip) {
  const std::string names[] = {
      "report.pdf",
      "my report (final).pdf",
      "r\xC3\xA9sum\xC3\xA9.docx",
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x95\xE3\x82\xA1\xE3\x82\xA4"
      "\xE3\x83\xAB\xE5\x90\x8D\xE3\x81\xAF\xE3\x81\xA8\xE3\x81\xA6\xE3\x82\x82\xE9\x95\xB7"
      "\xE3\x81\x84\xE3\x81\xA7\xE3\x81\x99.txt",
      std::string(150, 'x') + ".bin",
      "quote\"and\\backslash;semi=equal'apos%pct*star.txt",
  };
  for (const auto& n : names) {
    const auto segs = encode_parameter("filename", n);
    for (const auto& s : segs) {
      EXPECT_LE(s.size() + 2, 78u) << s;
      for (char c : s) EXPECT_LT(static_cast<unsigned char>(c), 0x80u);
    }
    const auto f = parse_parameterized_field(join_field("attachment", segs));
    EXPECT_EQ(f.param("filename"), n) << join_field("attachment", segs);
  }
  EXPECT_EQ(encode_parameter("filename", "a.txt"), std::vector<std::string>{"filename=a.txt"});
}

}  // namespace
}  // namespace refmail::mime
