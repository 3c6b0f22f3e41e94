// tests/unit/trust/dkim_parse_test.cpp — RFC 6376 3.2 tag-lists, 3.5 signatures and
// 3.6.1 key records: valid forms, and a table of invalid ones with the reason given.
#include <gtest/gtest.h>

#include "trust/dkim.hpp"

namespace refmail::trust::dkim {
namespace {

// A syntactically valid signature value; tests replace parts of it.
const std::string kBh = "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=";
std::string sig(std::string_view extra = "", std::string_view a = "rsa-sha256",
                std::string_view h = "from:to") {
  return " v=1; a=" + std::string(a) + "; d=Example.COM; s=sel;\r\n\th=" + std::string(h) +
         "; bh=" + kBh + "; b=dGVz\r\n dA==" + std::string(extra);
}

TEST(DkimParse, TagListBasics) {
  auto t = parse_tag_list(" a = 1 ;\r\n b=two words ; c=;");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[0].name, "a");
  EXPECT_EQ((*t)[0].value, "1");
  EXPECT_EQ((*t)[1].value, "two words");
  EXPECT_EQ((*t)[2].value, "");
}

TEST(DkimParse, TagListErrors) {
  EXPECT_EQ(parse_tag_list("a=1; a=2").error(), make_error_code(errc::duplicate_tag));
  EXPECT_EQ(parse_tag_list("novalue").error(), make_error_code(errc::syntax));
  EXPECT_EQ(parse_tag_list("1a=x").error(), make_error_code(errc::syntax));
  EXPECT_EQ(parse_tag_list("a b=x").error(), make_error_code(errc::syntax));
  EXPECT_EQ(parse_tag_list("a=x\x01y").error(), make_error_code(errc::syntax));
  std::string many;
  for (std::size_t i = 0; i <= kMaxTags; ++i) many += "t" + std::to_string(i) + "=1;";
  EXPECT_EQ(parse_tag_list(many).error(), make_error_code(errc::too_large));
}

TEST(DkimParse, ValidSignature) {
  auto s = parse_signature(sig("; c=relaxed; l=12; t=100; x=200; q=dns/txt; i=joe@sub.example.com; zz=unknown"));
  ASSERT_TRUE(s) << s.error().reason;
  EXPECT_EQ(s->domain, "example.com");
  EXPECT_EQ(s->selector, "sel");
  EXPECT_EQ(s->header_canon, Canon::Relaxed);
  EXPECT_EQ(s->body_canon, Canon::Simple);  // "c=relaxed" means relaxed/simple
  EXPECT_EQ(s->headers, (std::vector<std::string>{"from", "to"}));
  EXPECT_EQ(s->b, "test");
  EXPECT_EQ(s->b_text, "dGVzdA==");
  EXPECT_EQ(s->bh.size(), 32u);
  EXPECT_EQ(*s->body_length, 12u);
  EXPECT_EQ(*s->timestamp, 100);
  EXPECT_EQ(*s->expiration, 200);
  EXPECT_EQ(s->identity, "joe@sub.example.com");
  auto e = parse_signature(sig("", "ed25519-sha256", "From : Subject"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->algorithm, Algorithm::Ed25519Sha256);
  EXPECT_EQ(e->identity, "@example.com");
  EXPECT_EQ(e->headers, (std::vector<std::string>{"from", "subject"}));
}

TEST(DkimParse, InvalidSignatures) {
  struct Case {
    std::string value;
    std::string reason_part;
  };
  std::string huge_h = "from";
  for (std::size_t i = 0; i < kMaxSignedHeaders; ++i) huge_h += ":x-h" + std::to_string(i);
  const std::vector<Case> cases = {
      {sig("; a=rsa-sha256"), "duplicate tag"},
      {sig("", "rsa-sha1"), "rsa-sha1"},
      {sig("", "hmac-md5"), "unknown algorithm"},
      {sig("", "rsa-sha256", "to:subject"), "From is not signed"},
      {sig("", "rsa-sha256", huge_h), "too many header names"},
      {sig("; c=fancy/simple"), "canonicalization"},
      {sig("; q=http"), "query method"},
      {sig("; i=joe@example.org"), "i= domain"},
      {sig("; i=joe@badexample.com"), "i= domain"},
      {sig("; i=nobody"), "i="},
      {sig("; l=-1"), "l="},
      {sig("; l=12x"), "l="},
      {sig("; t=200; x=100"), "x= is before t="},
      {sig("; t=1234567890123"), "t="},
      {" v=2; a=rsa-sha256; d=e.com; s=s; h=from; bh=" + kBh + "; b=dGVzdA==", "version"},
      {" v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=" + kBh, "missing required tag b="},
      {" v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=" + kBh + "; b=!!!!", "b="},
      {" v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=" + kBh + "; b=", "b="},
      {" v=1; a=rsa-sha256; d=e.com; s=s; h=from; bh=dGVzdA==; b=dGVzdA==", "bh="},
      {" v=1; a=rsa-sha256; d=e com; s=s; h=from; bh=" + kBh + "; b=dGVzdA==", "d="},
      {" v=1; a=rsa-sha256; d=e.com; s=a/b; h=from; bh=" + kBh + "; b=dGVzdA==", "s="},
      {"garbage", "syntax"},
      {"", "missing"},
      {std::string(kMaxSignatureFieldBytes + 1, 'a'), "too long"},
  };
  for (const Case& c : cases) {
    auto s = parse_signature(c.value);
    ASSERT_FALSE(s) << c.value.substr(0, 200);
    EXPECT_NE(s.error().reason.find(c.reason_part), std::string::npos)
        << c.value.substr(0, 200) << " -> " << s.error().reason;
  }
}

TEST(DkimParse, KeyRecords) {
  auto k = parse_key_record("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->type, KeyType::Ed25519);
  EXPECT_EQ(k->public_key.size(), 32u);
  EXPECT_FALSE(k->revoked);

  auto r = parse_key_record("v=DKIM1; p=");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->revoked);
  EXPECT_EQ(r->type, KeyType::Rsa);

  auto t = parse_key_record("k=rsa; t=y:s; h=sha1:sha256; s=email; p=dGVzdA==");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->testing);
  EXPECT_TRUE(t->strict_identity);
  EXPECT_TRUE(t->sha256_allowed);
  EXPECT_TRUE(t->email_service);

  auto h1 = parse_key_record("h=sha1; s=other; p=dGVzdA==");
  ASSERT_TRUE(h1);
  EXPECT_FALSE(h1->sha256_allowed);
  EXPECT_FALSE(h1->email_service);

  EXPECT_FALSE(parse_key_record("k=rsa; v=DKIM1; p=dGVzdA=="));  // v= not first
  EXPECT_FALSE(parse_key_record("v=DKIM2; p=dGVzdA=="));
  EXPECT_FALSE(parse_key_record("k=dsa; p=dGVzdA=="));
  EXPECT_FALSE(parse_key_record("v=DKIM1; k=rsa"));  // no p=
  EXPECT_FALSE(parse_key_record("p=not base64!"));
  EXPECT_FALSE(parse_key_record("this is not a key"));
  EXPECT_FALSE(parse_key_record(std::string(kMaxKeyRecordBytes + 1, 'p')));
}

}  // namespace
}  // namespace refmail::trust::dkim
