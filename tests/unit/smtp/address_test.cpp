// Address parsing (RFC 5321 4.1.2, RFC 6531): tables of valid and invalid paths.
#include "smtp/address.hpp"
#include "smtp/errc.hpp"

#include <gtest/gtest.h>

using namespace refmail::smtp;

namespace {

struct Valid {
  const char* in;
  PathKind kind;
  const char* local;
  const char* domain;
  const char* rest;
};

TEST(Address, ValidPaths) {
  const Valid cases[] = {
      {"<a@b.example>", PathKind::Forward, "a", "b.example", ""},
      {"<>", PathKind::Reverse, "", "", ""},
      {"<> SIZE=10", PathKind::Reverse, "", "", " SIZE=10"},
      {"<first.last+tag@sub.example.org> NOTIFY=NEVER", PathKind::Forward, "first.last+tag",
       "sub.example.org", " NOTIFY=NEVER"},
      {"<\"john doe\"@example.com>", PathKind::Forward, "john doe", "example.com", ""},
      {"<\"a\\\"b\\\\c\"@example.com>", PathKind::Forward, "a\"b\\c", "example.com", ""},
      {"<@relay.example,@r2.example:user@example.com>", PathKind::Forward, "user", "example.com", ""},
      {"<postmaster>", PathKind::Forward, "postmaster", "", ""},
      {"<PostMaster>", PathKind::Forward, "PostMaster", "", ""},
      {"<user@[192.0.2.1]>", PathKind::Forward, "user", "[192.0.2.1]", ""},
      {"<user@[IPv6:2001:db8::1]>", PathKind::Forward, "user", "[IPv6:2001:db8::1]", ""},
      {"<us3r@a-b.c0>", PathKind::Forward, "us3r", "a-b.c0", ""},
      {"<!#$%&'*+-/=?^_`{|}~@x.y>", PathKind::Forward, "!#$%&'*+-/=?^_`{|}~", "x.y", ""},
      {"<jos\xC3\xA9@\xC3\xA9xample.com>", PathKind::Forward, "jos\xC3\xA9", "\xC3\xA9xample.com", ""},
  };
  for (const auto& c : cases) {
    auto r = parse_path(c.in, c.kind);
    ASSERT_TRUE(r) << c.in << ": " << r.error().message();
    EXPECT_EQ(r->address.local_part, c.local) << c.in;
    EXPECT_EQ(r->address.domain, c.domain) << c.in;
    EXPECT_EQ(r->rest, c.rest) << c.in;
  }
}

TEST(Address, InvalidPaths) {
  const struct {
    const char* in;
    PathKind kind;
  } cases[] = {
      {"", PathKind::Forward},
      {"a@b", PathKind::Forward},                 // no brackets
      {"<a@b", PathKind::Forward},
      {"<>", PathKind::Forward},                  // null path only for MAIL
      {"<postmaster>", PathKind::Reverse},
      {"<user>", PathKind::Forward},              // no domain
      {"<.a@b.c>", PathKind::Forward},
      {"<a.@b.c>", PathKind::Forward},
      {"<a..b@b.c>", PathKind::Forward},
      {"<a b@c.d>", PathKind::Forward},
      {"<a@-b.c>", PathKind::Forward},
      {"<a@b-.c>", PathKind::Forward},
      {"<a@b..c>", PathKind::Forward},
      {"<a@>", PathKind::Forward},
      {"<@b.c>", PathKind::Forward},
      {"<a@b.c", PathKind::Forward},
      {"<\"unterminated@b.c>", PathKind::Forward},
      {"<\"a\0b\"@c.d>", PathKind::Forward},
      {"<a\x01@b.c>", PathKind::Forward},
      {"<a@[]>", PathKind::Forward},
      {"<a@[1.2.3.4>", PathKind::Forward},
      {"<@r.example:>", PathKind::Forward},
      {"<@r.example a@b.c>", PathKind::Forward},
      {"<a\xC3@b.c>", PathKind::Forward},          // truncated UTF-8
      {"<a\xC0\x80@b.c>", PathKind::Forward},      // overlong NUL
      {"<a\xED\xA0\x80@b.c>", PathKind::Forward},  // surrogate
      {"<a@b\xFF.c>", PathKind::Forward},
  };
  for (const auto& c : cases) {
    auto r = parse_path(c.in, c.kind);
    EXPECT_FALSE(r) << "accepted: " << c.in;
  }
}

TEST(Address, LengthLimits) {
  const std::string local64(64, 'a'), local65(65, 'a');
  EXPECT_TRUE(parse_path("<" + local64 + "@x.y>", PathKind::Forward));
  auto r = parse_path("<" + local65 + "@x.y>", PathKind::Forward);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::address_too_long);
  // A domain of 63-octet labels over 255 octets.
  std::string dom;
  for (int i = 0; i < 5; ++i) dom += std::string(63, 'd') + ".";
  dom += "com";
  r = parse_path("<a@" + dom + ">", PathKind::Forward);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::address_too_long);
  // Quoted local part too long.
  r = parse_path("<\"" + local65 + "\"@x.y>", PathKind::Forward);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::address_too_long);
}

TEST(Address, ToStringRequotes) {
  EXPECT_EQ((Address{"john doe", "example.com"}.to_string()), "\"john doe\"@example.com");
  EXPECT_EQ((Address{"a\"b", "x"}.to_string()), "\"a\\\"b\"@x");
  EXPECT_EQ((Address{"plain.user", "x.y"}.to_string()), "plain.user@x.y");
  EXPECT_EQ((Address{"postmaster", ""}.to_string()), "postmaster");
  EXPECT_EQ(Address{}.to_string(), "");
  EXPECT_TRUE(Address{}.is_null());
  EXPECT_FALSE((Address{"a\xC3\xA9", "x"}.is_ascii()));
  // Round trip of a quoted form through the parser.
  auto r = parse_path("<" + Address{"a b\\c", "x.y"}.to_string() + ">", PathKind::Forward);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->address.local_part, "a b\\c");
}

TEST(Address, Utf8Validation) {
  EXPECT_EQ(utf8_sequence_length("\xC3\xA9"), 2u);
  EXPECT_EQ(utf8_sequence_length("\xE2\x82\xAC"), 3u);
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F\x98\x80"), 4u);
  EXPECT_EQ(utf8_sequence_length("\xF4\x90\x80\x80"), 0u);  // > U+10FFFF
  EXPECT_EQ(utf8_sequence_length("\xE0\x80\x80"), 0u);      // overlong
  EXPECT_EQ(utf8_sequence_length("a"), 0u);
  EXPECT_TRUE(is_domain("example.com"));
  EXPECT_FALSE(is_domain("exa_mple.com"));
  EXPECT_TRUE(is_dot_string("a.b"));
  EXPECT_FALSE(is_dot_string("a..b"));
}

}  // namespace
