// tests/unit/mime/test_charset.cpp — charset conversion to UTF-8 and validation.
#include <gtest/gtest.h>

#include <string>

#include "mime/charset.hpp"

namespace refmail::mime {
namespace {

TEST(Charset, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain"));
  EXPECT_TRUE(is_valid_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_EQ(sanitize_utf8("a\xFF" "b\xE2\x82"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Charset, Conversions) {
  EXPECT_EQ(to_utf8("caf\xE9", "ISO-8859-1"), "caf\xC3\xA9");
  EXPECT_EQ(to_utf8("\x80", "iso-8859-1"), "\xE2\x82\xAC");  // as windows-1252
  EXPECT_EQ(to_utf8("\xF0\xD2\xC9\xD7\xC5\xD4", "koi8-r"),
            "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");
  EXPECT_EQ(to_utf8("\x1B$BF|K\\8l\x1B(B", "iso-2022-jp"), "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E");
  EXPECT_EQ(to_utf8("\x93\xFA\x96\x7B", "Shift_JIS"), "\xE6\x97\xA5\xE6\x9C\xAC");
  EXPECT_EQ(to_utf8("\xA4\xA4", "big5"), "\xE4\xB8\xAD");
  EXPECT_EQ(to_utf8("\xD6\xD0", "gb2312"), "\xE4\xB8\xAD");
  EXPECT_EQ(to_utf8("\xC7\xD1", "ks_c_5601-1987"), "\xED\x95\x9C");
  EXPECT_EQ(to_utf8("\xE0", "windows-1251"), "\xD0\xB0");
  EXPECT_EQ(to_utf8("+AOk-", "utf-7"), "\xC3\xA9");
  EXPECT_EQ(to_utf8(std::string("\xFF\xFE" "a\0", 4), "utf-16"), "a");
}

TEST(Charset, Fallbacks) {
  // Unknown charset: UTF-8 if valid, else latin1.
  EXPECT_FALSE(convert_to_utf8("caf\xE9", "x-bogus").has_value());
  EXPECT_EQ(to_utf8("caf\xE9", "x-bogus"), "caf\xC3\xA9");
  EXPECT_EQ(to_utf8("caf\xC3\xA9", "x-bogus"), "caf\xC3\xA9");
  EXPECT_EQ(to_utf8("caf\xC3\xA9", ""), "caf\xC3\xA9");
  // us-ascii label with UTF-8 content.
  EXPECT_EQ(to_utf8("caf\xC3\xA9", "us-ascii"), "caf\xC3\xA9");
  EXPECT_EQ(to_utf8("caf\xE9", "us-ascii"), "caf\xC3\xA9");
  // Invalid sequences in a known charset become U+FFFD.
  EXPECT_EQ(to_utf8("a\xFF" "b", "utf-8"), "a\xEF\xBF\xBD" "b");
  const std::string sj = to_utf8("a\x82", "shift_jis");
  EXPECT_TRUE(is_valid_utf8(sj));
  EXPECT_EQ(sj.substr(0, 1), "a");
  EXPECT_TRUE(is_known_charset("\"UTF-8\""));
  EXPECT_TRUE(is_known_charset("euc-jp"));
  EXPECT_FALSE(is_known_charset("x-bogus"));
  EXPECT_EQ(normalize_charset(" \"UTF-8*en\" "), "utf-8");
}

TEST(Charset, AlwaysValidUtf8) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (const char* cs : {"utf-8", "iso-8859-1", "koi8-r", "iso-2022-jp", "shift_jis", "big5",
                         "gb2312", "euc-kr", "utf-7", "utf-16", "windows-1255", "x-bogus", ""})
    EXPECT_TRUE(is_valid_utf8(to_utf8(all, cs))) << cs;
}

}  // namespace
}  // namespace refmail::mime
