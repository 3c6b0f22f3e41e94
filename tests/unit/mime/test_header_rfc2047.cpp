// tests/unit/mime/test_header_rfc2047.cpp — RFC 2047 decoding (tables, leniency) and
// encoding (line lengths, round trip through the decoder).
#include <gtest/gtest.h>

#include <string>

#include "mime/charset.hpp"
#include "mime/rfc2047.hpp"

namespace refmail::mime {
namespace {

struct Case {
  const char* in;
  const char* want;
};

TEST(Rfc2047Decode, Table) {
  const Case cases[] = {
      // RFC 2047 section 8 examples.
      {"=?ISO-8859-1?Q?a?=", "a"},
      {"=?ISO-8859-1?Q?a?= b", "a b"},
      {"=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab"},
      {"=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=", "ab"},
      {"=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=", "ab"},
      {"=?ISO-8859-1?Q?a_b?=", "a b"},
      {"=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b"},
      {"(=?ISO-8859-1?Q?a?=)", "(a)"},
      {"=?US-ASCII?Q?Keith_Moore?=", "Keith Moore"},
      {"=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=", "Keld J\xC3\xB8rn Simonsen"},
      {"=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xC3\xA9 Pirard"},
      {"=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
       " =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
       "If you can read this you understand the example."},
      // Lower-case encodings, UTF-8, RFC 2231 language suffix.
      {"=?utf-8?b?w6lsw6h2ZQ==?=", "\xC3\xA9l\xC3\xA8ve"},
      {"=?UTF-8*en?Q?caf=C3=A9?=", "caf\xC3\xA9"},
      // A multi-byte character split across two words.
      {"=?UTF-8?Q?=E2=82?= =?UTF-8?Q?=AC?=", "\xE2\x82\xAC"},
      // Missing base64 padding; encoded-word glued to text.
      {"=?utf-8?B?w6k?=", "\xC3\xA9"},
      {"Re:=?utf-8?Q?caf=C3=A9?=!", "Re:caf\xC3\xA9!"},
      // Unknown charset: kept raw.
      {"=?x-no-such-charset?Q?abc?=", "=?x-no-such-charset?Q?abc?="},
      // Malformed: not an encoded-word.
      {"=?utf-8?Q?no end", "=?utf-8?Q?no end"},
      {"=?utf-8?X?abc?=", "=?utf-8?X?abc?="},
      {"a =? b ?= c", "a =? b ?= c"},
      // Raw 8-bit: UTF-8 kept, latin1 converted.
      {"caf\xC3\xA9", "caf\xC3\xA9"},
      {"caf\xE9", "caf\xC3\xA9"},
      // Other charsets via iconv.
      {"=?koi8-r?B?8NLJ18XU?=", "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"},
      {"=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"},
      {"=?windows-1252?Q?=80?=", "\xE2\x82\xAC"},
      // Whitespace between an encoded word and text is kept.
      {"Hello =?utf-8?Q?W=C3=B6rld?= again", "Hello W\xC3\xB6rld again"},
      {"  padded  ", "padded"},
      {"", ""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(decode_rfc2047(c.in), c.want) << "input: " << c.in;
  }
}

TEST(Rfc2047Decode, OutputIsAlwaysValidUtf8) {
  const char* bad[] = {"=?utf-8?Q?=FF=FE?=", "\xFF\xFE\xFD", "=?utf-8?B?////?=",
                       "=?iso-2022-jp?B?GyQ=?=", "=?shift_jis?Q?=82?="};
  for (const char* b : bad) EXPECT_TRUE(is_valid_utf8(decode_rfc2047(b))) << b;
}

TEST(Rfc2047Decode, EveryPrefixIsSafe) {
  const std::string s = "=?UTF-8?B?w6lsw6h2ZQ==?= =?ISO-8859-1?Q?Andr=E9?= x";
  for (std::size_t n = 0; n <= s.size(); ++n)
    EXPECT_TRUE(is_valid_utf8(decode_rfc2047(s.substr(0, n))));
}

// Every line of an encoded header: <= 76 characters, each encoded-word <= 75.
void expect_lines_ok(const std::string& field, std::size_t first_used) {
  std::size_t start = 0;
  bool first = true;
  while (start <= field.size()) {
    auto end = field.find("\r\n", start);
    if (end == std::string::npos) end = field.size();
    const std::size_t len = end - start + (first ? first_used : 0);
    EXPECT_LE(len, 76u) << field;
    first = false;
    if (end == field.size()) break;
    EXPECT_TRUE(end + 2 < field.size() && field[end + 2] == ' ') << "fold without WSP";
    start = end + 2;
  }
  EXPECT_TRUE(is_ascii(field));
}

TEST(Rfc2047Encode, AsciiUnchanged) {
  EXPECT_EQ(encode_rfc2047("Hello world"), "Hello world");
  EXPECT_EQ(encode_rfc2047("John Smith", EncodeContext::Phrase), "John Smith");
  EXPECT_EQ(encode_rfc2047("Smith, John", EncodeContext::Phrase), "\"Smith, John\"");
  EXPECT_EQ(encode_rfc2047("a \"b\"", EncodeContext::Phrase), "\"a \\\"b\\\"\"");
}

TEST(Rfc2047Encode, RoundTripsAndFolds) {
  const std::string texts[] = {
      "caf\xC3\xA9",
      "R\xC3\xA9sum\xC3\xA9 of the quarterly meeting held in Z\xC3\xBCrich, with notes and "
      "action items for everyone involved in the project",
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE4\xBB\xB6\xE5\x90\x8D\xE3\x81\xA7"
      "\xE3\x81\x99\xE3\x80\x82\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE4\xBB\xB6"
      "\xE5\x90\x8D\xE3\x81\xA7\xE3\x81\x99\xE3\x80\x82\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",
      "looks like =?utf-8?Q?an_encoded_word?= but is not",
      "emoji \xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80",
      "line\r\nbreak injected",
  };
  for (const auto& t : texts) {
    for (auto ctx : {EncodeContext::Text, EncodeContext::Phrase}) {
      for (std::size_t used : {0u, 9u, 40u, 70u}) {
        const std::string enc = encode_rfc2047(t, ctx, used);
        expect_lines_ok(enc, used);
        std::string want = t;
        if (t.find('\r') != std::string::npos) want = "line\r\nbreak injected";
        EXPECT_EQ(decode_rfc2047(enc), want) << enc;
        EXPECT_EQ(enc.find("\r\n\r\n"), std::string::npos);
      }
    }
  }
}

TEST(Rfc2047Encode, LongAsciiSubjectFoldsAtSpaces) {
  std::string s;
  for (int i = 0; i < 30; ++i) s += "word" + std::to_string(i) + " ";
  s.pop_back();
  const std::string enc = encode_rfc2047(s, EncodeContext::Text, 9);
  EXPECT_NE(enc.find("\r\n "), std::string::npos);
  EXPECT_EQ(decode_rfc2047(enc), s);
}

TEST(Base64Lenient, Decodes) {
  EXPECT_EQ(decode_base64_lenient("aGVsbG8="), "hello");
  EXPECT_EQ(decode_base64_lenient("aGVsbG8"), "hello");
  EXPECT_EQ(decode_base64_lenient("aGVs\r\nbG8="), "hello");
  EXPECT_EQ(decode_base64_lenient(""), "");
}

}  // namespace
}  // namespace refmail::mime
