// tests/unit/trust/dkim_sign_verify_test.cpp — signing and verification: round trips
// (RSA and Ed25519, relaxed and simple, streamed one byte at a time), dual signing,
// tampering, oversigning, key problems (revoked, not a key, too small, wrong type),
// DNS failures, expiry, l=, the signature bound, the RFC 8601 text, key generation, and
// the RFC 8463 Appendix A example message with its keys.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "trust/dkim.hpp"
#include "trust/dkim_internal.hpp"
#include "tests/unit/trust/dkim_test_util.hpp"

namespace refmail::trust::dkim {
namespace {

using test::MapLookup;

constexpr std::int64_t kNow = 1'780'000'000;

const std::string kMessage =
    "From: Joe <joe@example.com>\r\n"
    "To: Suzie <suzie@example.net>\r\n"
    "Subject:  Is dinner\r\n"
    "\tready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
    "Message-ID: <1@example.com>\r\n"
    "X-Unsigned: yes\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?  \r\n"
    "\r\n"
    "Joe.\r\n"
    "\r\n";

struct Keys {
  std::shared_ptr<const PrivateKey> rsa;
  std::shared_ptr<const PrivateKey> ed;
};

const Keys& keys() {
  static const Keys k = [] {
    Keys out;
    auto r = generate_rsa_key(2048);
    auto e = generate_ed25519_key();
    if (!r || !e) std::abort();
    out.rsa = std::make_shared<const PrivateKey>(std::move(*r));
    out.ed = std::make_shared<const PrivateKey>(std::move(*e));
    return out;
  }();
  return k;
}

MapLookup dns() {
  MapLookup m;
  m.records["rsa._domainkey.example.com"] = {keys().rsa->dns_record()};
  m.records["ed._domainkey.example.com"] = {keys().ed->dns_record()};
  return m;
}

SignerConfig config(std::string_view selector, Canon hc = Canon::Relaxed, Canon bc = Canon::Relaxed) {
  SignerConfig c;
  c.domain = "example.com";
  c.selector = std::string(selector);
  c.header_canon = hc;
  c.body_canon = bc;
  return c;
}

std::string signed_message(const std::string& message, std::string_view selector, Canon hc = Canon::Relaxed,
                           Canon bc = Canon::Relaxed) {
  auto key = selector == "rsa" ? keys().rsa : keys().ed;
  auto field = sign(message, config(selector, hc, bc), key, kNow);
  if (!field) ADD_FAILURE() << field.error().message();
  return (field ? *field : std::string()) + message;
}

std::vector<SignatureResult> check(const std::string& message, MapLookup m = dns(), std::int64_t now = kNow) {
  return verify(message, m, now);
}

TEST(DkimSignVerify, RoundTripEveryAlgorithmAndCanonicalization) {
  for (std::string_view sel : {"rsa", "ed"}) {
    for (Canon hc : {Canon::Simple, Canon::Relaxed}) {
      for (Canon bc : {Canon::Simple, Canon::Relaxed}) {
        SCOPED_TRACE(std::string(sel) + " " + std::string(canon_name(hc)) + "/" + std::string(canon_name(bc)));
        const std::string m = signed_message(kMessage, sel, hc, bc);
        auto r = check(m);
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0].status, Status::Pass) << r[0].reason;
        EXPECT_EQ(r[0].domain, "example.com");
        EXPECT_EQ(r[0].selector, sel);
        EXPECT_EQ(r[0].key_bits, sel == "rsa" ? 2048u : 256u);
        EXPECT_FALSE(r[0].body_length);
        // Streamed one byte at a time: the same verdict.
        MapLookup d = dns();
        Verifier v(d, kNow);
        for (char c : m) v.feed(std::string_view(&c, 1));
        auto r1 = v.finish();
        ASSERT_EQ(r1.size(), 1u);
        EXPECT_EQ(r1[0].status, Status::Pass) << r1[0].reason;
      }
    }
  }
}

TEST(DkimSignVerify, FieldIsFoldedAndOversigns) {
  auto field = sign(kMessage, config("rsa"), keys().rsa, kNow);
  ASSERT_TRUE(field);
  EXPECT_TRUE(field->starts_with("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=rsa;"));
  EXPECT_TRUE(field->ends_with("\r\n"));
  std::size_t start = 0;
  while (start < field->size()) {
    const std::size_t end = field->find("\r\n", start);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end - start, 78u) << field->substr(start, end - start);
    if (start > 0) {
      EXPECT_EQ((*field)[start], ' ');
    }
    start = end + 2;
  }
  auto parsed = parse_signature(field->substr(field->find(':') + 1));
  ASSERT_TRUE(parsed) << parsed.error().reason;
  // Present: from to subject date message-id once each, plus once more (oversigned);
  // absent oversigned names are not listed; absent plain names not either.
  EXPECT_EQ(parsed->headers,
            (std::vector<std::string>{"from", "from", "to", "to", "subject", "subject", "date", "date",
                                      "message-id", "message-id"}));
  EXPECT_EQ(*parsed->timestamp, kNow);
  EXPECT_FALSE(parsed->expiration);
}

TEST(DkimSignVerify, StreamedSigningEqualsWhole) {
  std::vector<SignRequest> reqs = {{config("rsa"), keys().rsa}, {config("ed", Canon::Simple, Canon::Simple), keys().ed}};
  Signer whole(reqs);
  whole.feed(kMessage);
  auto a = whole.finish(kNow);
  Signer bytes(reqs);
  for (char c : kMessage) bytes.feed(std::string_view(&c, 1));
  auto b = bytes.finish(kNow);
  ASSERT_TRUE(a && b);
  // RSA PKCS#1 v1.5 and Ed25519 are deterministic: identical fields.
  EXPECT_EQ(*a, *b);
  ASSERT_EQ(a->size(), 2u);
  // Dual signing: both verify on the message with both fields prepended.
  auto r = check((*a)[0] + (*a)[1] + kMessage);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, Status::Pass) << r[0].reason;
  EXPECT_EQ(r[1].status, Status::Pass) << r[1].reason;
  EXPECT_EQ(r[0].algorithm, "rsa-sha256");
  EXPECT_EQ(r[1].algorithm, "ed25519-sha256");
}

TEST(DkimSignVerify, KeyQueriesKnownAfterHeaderBlock) {
  std::vector<SignRequest> reqs = {{config("rsa"), keys().rsa}, {config("ed"), keys().ed}};
  Signer s(reqs);
  s.feed(kMessage);
  auto fields = s.finish(kNow);
  ASSERT_TRUE(fields);
  const std::string m = (*fields)[0] + (*fields)[1] + (*fields)[0] + kMessage;
  MapLookup d = dns();
  Verifier v(d, kNow);
  const std::size_t header_end = m.find("\r\n\r\n") + 4;
  v.feed(std::string_view(m).substr(0, header_end - 1));
  EXPECT_FALSE(v.header_complete());
  EXPECT_TRUE(v.key_queries().empty());
  v.feed(std::string_view(m).substr(header_end - 1, 1));
  EXPECT_TRUE(v.header_complete());
  EXPECT_EQ(v.key_queries(),
            (std::vector<std::string>{"rsa._domainkey.example.com", "ed._domainkey.example.com"}));
  v.feed(std::string_view(m).substr(header_end));
  auto r = v.finish();
  ASSERT_EQ(r.size(), 3u);
  for (const auto& x : r) EXPECT_EQ(x.status, Status::Pass) << x.reason;
}

TEST(DkimSignVerify, TamperingFails) {
  for (std::string_view sel : {"rsa", "ed"}) {
    const std::string m = signed_message(kMessage, sel);
    std::string body = m;
    body.replace(body.find("lost"), 4, "won!");
    auto r = check(body);
    EXPECT_EQ(r[0].status, Status::Fail);
    EXPECT_EQ(r[0].reason, "body hash mismatch");

    std::string subject = m;
    subject.replace(subject.find("dinner"), 6, "supper");
    r = check(subject);
    EXPECT_EQ(r[0].status, Status::Fail);
    EXPECT_EQ(r[0].reason, "signature did not verify");

    // Oversigning: a second From added anywhere breaks the signature.
    r = check(m + "");
    EXPECT_EQ(r[0].status, Status::Pass);
    std::string extra = m;
    extra.insert(extra.find("X-Unsigned:"), "From: evil@example.org\r\n");
    r = check(extra);
    EXPECT_EQ(r[0].status, Status::Fail);

    // An unsigned header may change; relaxed whitespace changes are tolerated.
    std::string benign = m;
    benign.replace(benign.find("X-Unsigned: yes"), 15, "X-Unsigned: no");
    benign.replace(benign.find("Joe."), 4, "Joe.   ");
    r = check(benign);
    EXPECT_EQ(r[0].status, Status::Pass) << r[0].reason;
  }
}

TEST(DkimSignVerify, SimpleBodyRejectsWhitespaceChange) {
  std::string m = signed_message(kMessage, "rsa", Canon::Simple, Canon::Simple);
  m.replace(m.find("Joe."), 4, "Joe. ");
  auto r = check(m);
  EXPECT_EQ(r[0].status, Status::Fail);
  EXPECT_EQ(r[0].reason, "body hash mismatch");
}

TEST(DkimSignVerify, LfMessageVerifiesAsCrlf) {
  // Signed in CRLF form, delivered with bare LF (a Maildir file): bare LF counts as CRLF.
  const std::string m = signed_message(kMessage, "ed", Canon::Simple, Canon::Simple);
  std::string lf;
  for (std::size_t i = 0; i < m.size(); ++i)
    if (!(m[i] == '\r' && i + 1 < m.size() && m[i + 1] == '\n')) lf += m[i];
  auto r = check(lf);
  EXPECT_EQ(r[0].status, Status::Pass) << r[0].reason;
}

TEST(DkimSignVerify, KeyProblems) {
  const std::string m = signed_message(kMessage, "rsa");
  auto with = [&](std::vector<std::string> records) {
    MapLookup d;
    d.records["rsa._domainkey.example.com"] = std::move(records);
    return check(m, d)[0];
  };
  auto r = with({"v=DKIM1; p="});
  EXPECT_EQ(r.status, Status::PermError);
  EXPECT_EQ(r.reason, "key revoked");
  r = with({"v=DKIM1; k=rsa; p=dGhpcyBpcyBub3QgYSBrZXk="});
  EXPECT_EQ(r.status, Status::PermError);
  EXPECT_NE(r.reason.find("not an RSA public key"), std::string::npos) << r.reason;
  r = with({"just some text"});
  EXPECT_EQ(r.status, Status::PermError);
  r = with({keys().ed->dns_record()});
  EXPECT_EQ(r.status, Status::PermError);
  EXPECT_EQ(r.reason, "key type does not match a=");
  r = with({keys().rsa->dns_record() + "; s=other"});
  EXPECT_EQ(r.status, Status::PermError);
  // A garbage record followed by a good one: the good one is used.
  r = with({"garbage", keys().rsa->dns_record()});
  EXPECT_EQ(r.status, Status::Pass) << r.reason;
  // t=y is reported.
  r = with({keys().rsa->dns_record() + "; t=y"});
  EXPECT_EQ(r.status, Status::Pass);
  EXPECT_TRUE(r.testing);

  // Another key of the right type: the signature does not verify.
  auto other = generate_rsa_key(1024);
  ASSERT_TRUE(other);
  r = with({other->dns_record()});
  EXPECT_EQ(r.status, Status::Fail);
  EXPECT_EQ(r.key_bits, 1024u);

  // A 512-bit RSA key: refused before any hashing (RFC 8301).
  EVP_PKEY* small = EVP_RSA_gen(512);
  ASSERT_NE(small, nullptr);
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(small, &der);
  const std::string p = detail::base64(std::string_view(reinterpret_cast<char*>(der), n));
  OPENSSL_free(der);
  EVP_PKEY_free(small);
  r = with({"v=DKIM1; k=rsa; p=" + p});
  EXPECT_EQ(r.status, Status::Fail);
  EXPECT_NE(r.reason.find("key too small"), std::string::npos) << r.reason;
}

TEST(DkimSignVerify, DnsFailures) {
  const std::string m = signed_message(kMessage, "rsa");
  MapLookup none;
  auto r = check(m, none);
  EXPECT_EQ(r[0].status, Status::PermError);
  EXPECT_EQ(r[0].reason, "no key for signature");
  MapLookup temp;
  temp.temperror = true;
  r = check(m, temp);
  EXPECT_EQ(r[0].status, Status::TempError);
}

TEST(DkimSignVerify, TimeChecks) {
  SignerConfig c = config("ed");
  c.expire_after_seconds = 3600;
  auto field = sign(kMessage, c, keys().ed, kNow);
  ASSERT_TRUE(field);
  const std::string m = *field + kMessage;
  EXPECT_EQ(check(m, dns(), kNow + 3599)[0].status, Status::Pass);
  auto r = check(m, dns(), kNow + 3601);
  EXPECT_EQ(r[0].status, Status::Fail);
  EXPECT_EQ(r[0].reason, "signature expired");
  r = check(m, dns(), kNow - 3600);  // signed an hour in our future
  EXPECT_EQ(r[0].status, Status::PermError);
  EXPECT_EQ(r[0].reason, "signature timestamp in the future");
}

TEST(DkimSignVerify, BodyLengthLargerThanBody) {
  const std::string m =
      "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=rsa; h=from; l=99999;\r\n"
      " bh=frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=; b=dGVzdA==\r\n" + kMessage;
  MapLookup d = dns();
  auto r = verify(m, d, kNow);
  EXPECT_EQ(r[0].status, Status::PermError);
  EXPECT_EQ(r[0].reason, "l= is larger than the body");
  EXPECT_EQ(d.queries, 0);  // decided before any DNS query
}

TEST(DkimSignVerify, BadSignatureFieldsArePermErrorsWithoutDns) {
  const std::string good = *sign(kMessage, config("ed"), keys().ed, kNow);
  struct Case {
    std::string from, to, reason_part;
  };
  const std::vector<Case> cases = {
      {"a=ed25519-sha256", "a=rsa-sha1", "rsa-sha1"},
      {"v=1;", "v=1; v=1;", "duplicate tag"},
      {"v=1;", "v=1; 9garbage;", "syntax"},
      {"d=example.com;", "d=example.com; i=@evil.example;", "i= domain"},
      {"h=from:from:", "h=", "From is not signed"},
  };
  for (const Case& c : cases) {
    std::string field = good;
    const std::size_t at = field.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    field.replace(at, c.from.size(), c.to);
    MapLookup d = dns();
    auto r = verify(field + kMessage, d, kNow);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status, Status::PermError) << c.to;
    EXPECT_NE(r[0].reason.find(c.reason_part), std::string::npos) << c.to << " -> " << r[0].reason;
    EXPECT_EQ(d.queries, 0);
  }
}

TEST(DkimSignVerify, SignaturesAreBounded) {
  const std::string one = *sign(kMessage, config("ed"), keys().ed, kNow);
  std::string m;
  for (int i = 0; i < 50; ++i) m += one;
  m += kMessage;
  MapLookup d = dns();
  auto r = verify(m, d, kNow);
  ASSERT_EQ(r.size(), 50u);
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (i < kMaxSignaturesVerified) {
      // Each verifies: the other copies are not in its h= (DKIM-Signature is not signed).
      EXPECT_EQ(r[i].status, Status::Pass) << i << " " << r[i].reason;
    } else {
      EXPECT_EQ(r[i].status, Status::None) << i;
      EXPECT_EQ(r[i].reason, "not checked: too many signatures");
      EXPECT_EQ(r[i].domain, "example.com");  // still reported
      EXPECT_TRUE(authentication_result(r[i]).starts_with(
          "dkim=none reason=\"not checked: too many signatures\" header.d=example.com header.s=ed"))
          << authentication_result(r[i]);
    }
  }
  EXPECT_EQ(d.queries, static_cast<int>(kMaxSignaturesVerified));
}

TEST(DkimSignVerify, LargeBodyStreamsInChunks) {
  // 8 MiB of base64-like lines: signed and verified in 64 KiB chunks, never whole.
  std::string line(76, 'A');
  line += "\r\n";
  const std::size_t lines = (8u << 20) / line.size();
  const std::string head = "From: a@example.com\r\nSubject: big\r\n\r\n";
  auto feed_all = [&](auto& sink) {
    sink.feed(head);
    std::string chunk;
    for (std::size_t i = 0; i < lines; ++i) {
      chunk += line;
      if (chunk.size() >= 64 * 1024) {
        sink.feed(chunk);
        chunk.clear();
      }
    }
    sink.feed(chunk);
  };
  Signer s({{config("rsa"), keys().rsa}, {config("ed", Canon::Simple, Canon::Simple), keys().ed}});
  feed_all(s);
  auto fields = s.finish(kNow);
  ASSERT_TRUE(fields);
  MapLookup d = dns();
  Verifier v(d, kNow);
  v.feed((*fields)[0]);
  v.feed((*fields)[1]);
  feed_all(v);
  auto r = v.finish();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, Status::Pass) << r[0].reason;
  EXPECT_EQ(r[1].status, Status::Pass) << r[1].reason;
}

TEST(DkimSignVerify, AuthenticationResultText) {
  auto r = check(signed_message(kMessage, "rsa"));
  const std::string text = authentication_result(r[0]);
  EXPECT_TRUE(text.starts_with("dkim=pass header.d=example.com header.s=rsa header.a=rsa-sha256 header.b="))
      << text;
  SignatureResult f;
  f.status = Status::Fail;
  f.reason = "body hash mismatch";
  f.domain = "example.com";
  f.selector = "s";
  f.algorithm = "ed25519-sha256";
  f.b_prefix = "ab/cdefg";
  EXPECT_EQ(authentication_result(f),
            "dkim=fail reason=\"body hash mismatch\" header.d=example.com header.s=s "
            "header.a=ed25519-sha256 header.b=\"ab/cdefg\"");
  SignatureResult l;
  l.body_length = 10;
  l.body_bytes = 250;
  EXPECT_EQ(l.body_length_note(), "l= covers 10 of 250 body bytes");
}

TEST(DkimSignVerify, KeysRoundTripThroughPemAndDns) {
  for (const auto& k : {keys().rsa, keys().ed}) {
    auto again = PrivateKey::from_pem(k->private_pem());
    ASSERT_TRUE(again);
    EXPECT_EQ(again->dns_record(), k->dns_record());
    EXPECT_EQ(again->algorithm(), k->algorithm());
    auto rec = parse_key_record(k->dns_record());
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->type, k->algorithm() == Algorithm::RsaSha256 ? KeyType::Rsa : KeyType::Ed25519);
  }
  EXPECT_TRUE(keys().rsa->dns_record().starts_with("v=DKIM1; k=rsa; p=MIIBIjAN"));
  EXPECT_FALSE(PrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"));
  EXPECT_FALSE(generate_rsa_key(512));
}

}  // namespace
}  // namespace refmail::trust::dkim
