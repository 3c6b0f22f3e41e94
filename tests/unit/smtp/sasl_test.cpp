// base64 and SASL PLAIN.
#include "smtp/errc.hpp"
#include "smtp/sasl.hpp"

#include <gtest/gtest.h>

using namespace refmail::smtp;

namespace {

TEST(Sasl, Base64RoundTrip) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto d = decode_base64(encode_base64(s));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(encode_base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(encode_base64(std::string("\0u\0p", 4)), "AHUAcA==");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(*decode_base64(encode_base64(all)), all);
}

TEST(Sasl, Base64Rejects) {
  for (const char* bad : {"Zm9", "Zm9v!", "Zm 9v", "Z===", "Zm=v", "Zh==", "Zm9=Zm9v", "====", "Zm9v\r\n"}) {
    auto d = decode_base64(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error(), errc::bad_base64);
  }
}

TEST(Sasl, Plain) {
  auto c = parse_sasl_plain(std::string("\0user\0pass", 10));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->authzid, "");
  EXPECT_EQ(c->authcid, "user");
  EXPECT_EQ(c->password, "pass");
  c = parse_sasl_plain(std::string("admin\0user\0pa ss", 16));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->authzid, "admin");
  EXPECT_EQ(c->password, "pa ss");
  EXPECT_FALSE(parse_sasl_plain("userpass"));
  EXPECT_FALSE(parse_sasl_plain(std::string("\0user", 5)));
  EXPECT_FALSE(parse_sasl_plain(std::string("\0\0pass", 6)));
  EXPECT_FALSE(parse_sasl_plain(std::string("\0user\0", 6)));
  EXPECT_FALSE(parse_sasl_plain(std::string("\0user\0pa\0ss", 11)));
  EXPECT_FALSE(parse_sasl_plain(std::string(1, '\0') + std::string(256, 'u') + std::string(1, '\0') + "p"));
  // Control characters in names could split replies or log lines.
  EXPECT_FALSE(parse_sasl_plain(std::string("\0us\r\ner\0pass", 12)));
  EXPECT_FALSE(parse_sasl_plain(std::string("a\x7f\0user\0pass", 12)));
  EXPECT_TRUE(parse_sasl_plain(std::string("\0us\xC3\xA9r\0p\r\nw", 11)));  // passwords may hold anything but NUL
}

}  // namespace
