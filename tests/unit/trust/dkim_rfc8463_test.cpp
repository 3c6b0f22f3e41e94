// tests/unit/trust/dkim_rfc8463_test.cpp — RFC 8463 Appendix A: the example message
// signed with Ed25519 (selector brisbane) and RSA (selector test), verified with the
// keys of A.2. The message file is dkimpy's copy of the RFC text
// (dkim/tests/data/rfc6376.signed.msg in python3-dkim), LF line endings as stored there.
#include <gtest/gtest.h>

#include "mime/codec.hpp"
#include "trust/dkim.hpp"
#include "tests/unit/trust/dkim_test_util.hpp"

namespace refmail::trust::dkim {
namespace {

using test::MapLookup;

MapLookup rfc8463_dns() {
  MapLookup m;
  // RFC 8463 A.2
  m.records["brisbane._domainkey.football.example.com"] = {
      "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="};
  m.records["test._domainkey.football.example.com"] = {
      "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOK"
      "b2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO"
      "2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"};
  return m;
}

std::string message() {
  return test::read_file(std::string(REFMAIL_SOURCE_DIR) + "/tests/unit/trust/data/rfc8463_appendix_a.eml");
}

TEST(DkimRfc8463, AppendixAVerifies) {
  const std::string lf = message();
  ASSERT_NE(lf.find("brisbane"), std::string::npos);
  for (const std::string& m : {lf, test::lf_to_crlf(lf)}) {
    MapLookup d = rfc8463_dns();
    auto r = verify(m, d, 1'600'000'000);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].status, Status::Pass) << r[0].reason;
    EXPECT_EQ(r[0].algorithm, "ed25519-sha256");
    EXPECT_EQ(r[0].selector, "brisbane");
    EXPECT_EQ(r[0].key_bits, 256u);
    EXPECT_EQ(r[1].status, Status::Pass) << r[1].reason;
    EXPECT_EQ(r[1].algorithm, "rsa-sha256");
    EXPECT_EQ(r[1].key_bits, 1024u);
    EXPECT_EQ(authentication_result(r[0]),
              "dkim=pass header.d=football.example.com header.s=brisbane header.a=ed25519-sha256 "
              "header.b=\"9/dsDChY\"");
  }
}

TEST(DkimRfc8463, AppendixATamperedFails) {
  std::string m = message();
  m.replace(m.find("hungry"), 6, "thirst");
  MapLookup d = rfc8463_dns();
  auto r = verify(m, d, 1'600'000'000);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, Status::Fail);
  EXPECT_EQ(r[1].status, Status::Fail);
}

TEST(DkimRfc8463, SeedGivesAppendixKey) {
  // RFC 8463 A.1: the Ed25519 private key is RFC 8032 7.1 test 1's seed.
  const auto seed = mime::base64_decode_strict("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=");
  ASSERT_TRUE(seed);
  auto key = PrivateKey::from_ed25519_seed(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(seed->data()), seed->size()));
  ASSERT_TRUE(key);
  EXPECT_EQ(key->dns_record(), "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  // Signing the example body with it gives the same body hash as the RFC's (bh=).
  auto field = sign(message(), SignerConfig{"football.example.com", "brisbane", std::nullopt, Canon::Simple,
                                            Canon::Simple},
                    std::make_shared<const PrivateKey>(std::move(*key)), 1518460054);
  ASSERT_TRUE(field);
  EXPECT_NE(field->find("bh=4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ="), std::string::npos) << *field;
}

}  // namespace
}  // namespace refmail::trust::dkim
