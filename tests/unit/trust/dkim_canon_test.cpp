// tests/unit/trust/dkim_canon_test.cpp — RFC 6376 3.4 canonicalization: the 3.4.5
// example, the streaming body hasher against a whole-buffer reference written after
// dkimpy's regular expressions (fed whole, byte by byte and split at every position),
// l=, bare LF, and header selection (5.4.2).
#include <gtest/gtest.h>

#include <random>

#include "trust/dkim.hpp"
#include "trust/dkim_internal.hpp"

namespace refmail::trust::dkim {
namespace {

using detail::HeaderCollector;

std::string hex(const std::array<std::uint8_t, 32>& d) {
  static const char* k = "0123456789abcdef";
  std::string s;
  for (auto b : d) {
    s += k[b >> 4];
    s += k[b & 15];
  }
  return s;
}

std::string sha_hex(std::string_view s) { return hex(detail::sha256(s)); }

// Reference body canonicalization: dkimpy's steps on a whole buffer.
std::string reference_body(Canon c, std::string_view raw) {
  // re.split(b"\r?\n") then join with CRLF: bare LF -> CRLF.
  std::string b;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) b += '\r';
    b += raw[i];
  }
  auto strip_trailing_lines = [](std::string s) {
    if (!s.ends_with("\r\n")) return s + "\r\n";
    while (s.ends_with("\r\n\r\n")) s.resize(s.size() - 2);
    if (s == "\r\n") return std::string();
    return s;
  };
  if (c == Canon::Simple) {
    std::string s = strip_trailing_lines(b);
    return s.empty() ? "\r\n" : s;
  }
  // strip [\t ]+ before CRLF, compress [\t ]+ to SP
  std::string t;
  for (std::size_t i = 0; i < b.size();) {
    if (b[i] == ' ' || b[i] == '\t') {
      std::size_t j = i;
      while (j < b.size() && (b[j] == ' ' || b[j] == '\t')) ++j;
      if (b.compare(j, 2, "\r\n") != 0) t += ' ';
      i = j;
    } else {
      t += b[i++];
    }
  }
  std::string s = strip_trailing_lines(t);
  return s == "\r\n" ? "" : s;
}

std::string stream_hash(Canon c, std::string_view body, std::size_t chunk,
                        std::optional<std::uint64_t> limit = std::nullopt) {
  BodyHasher h(c, limit);
  for (std::size_t i = 0; i < body.size(); i += chunk) h.update(body.substr(i, chunk));
  return hex(h.finish());
}

TEST(DkimCanon, Rfc6376Section345Example) {
  const std::string message =
      "A: X\r\n"
      "B : Y\t\r\n"
      "\tZ  \r\n"
      "\r\n"
      " C \r\n"
      "D \t E\r\n"
      "\r\n"
      "\r\n";
  HeaderCollector hc;
  std::string body;
  hc.feed(message, [&](std::string_view b) { body += b; });
  hc.finish();
  ASSERT_EQ(hc.fields().size(), 2u);
  EXPECT_EQ(hc.fields()[1].name, "b");
  EXPECT_EQ(canonicalize_header(Canon::Relaxed, hc.fields()[0].text), "a:X\r\n");
  EXPECT_EQ(canonicalize_header(Canon::Relaxed, hc.fields()[1].text), "b:Y Z\r\n");
  EXPECT_EQ(canonicalize_header(Canon::Simple, hc.fields()[0].text), "A: X\r\n");
  EXPECT_EQ(canonicalize_header(Canon::Simple, hc.fields()[1].text), "B : Y\t\r\n\tZ  \r\n");
  EXPECT_EQ(body, " C \r\nD \t E\r\n\r\n\r\n");
  EXPECT_EQ(stream_hash(Canon::Relaxed, body, body.size()), sha_hex(" C\r\nD E\r\n"));
  EXPECT_EQ(stream_hash(Canon::Simple, body, body.size()), sha_hex(" C \r\nD \t E\r\n"));
}

TEST(DkimCanon, EmptyBodies) {
  // RFC 6376 3.4.3 / 3.4.4: the well-known hashes of the empty body.
  BodyHasher simple(Canon::Simple), relaxed(Canon::Relaxed);
  EXPECT_EQ(detail::base64(std::string_view(reinterpret_cast<const char*>(simple.finish().data()), 32)),
            "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
  EXPECT_EQ(detail::base64(std::string_view(reinterpret_cast<const char*>(relaxed.finish().data()), 32)),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(stream_hash(Canon::Relaxed, "\r\n\r\n \t\r\n", 1), sha_hex(""));
  EXPECT_EQ(stream_hash(Canon::Simple, "\r\n\r\n", 1), sha_hex("\r\n"));
}

TEST(DkimCanon, BareLfCountsAsCrlf) {
  EXPECT_EQ(stream_hash(Canon::Simple, "a\nb\n\n", 3), sha_hex("a\r\nb\r\n"));
  EXPECT_EQ(stream_hash(Canon::Relaxed, "a \nb\t\n\n", 3), sha_hex("a\r\nb\r\n"));
  // A bare CR is an ordinary byte.
  EXPECT_EQ(stream_hash(Canon::Simple, "a\rb\r\n", 1), sha_hex("a\rb\r\n"));
  EXPECT_EQ(stream_hash(Canon::Simple, "a\r", 1), sha_hex("a\r\r\n"));
}

TEST(DkimCanon, StreamingMatchesReferenceAtEverySplit) {
  // Bodies built from the bytes that matter: CR, LF, SP, TAB, a letter.
  std::mt19937 rng(6376);
  const char alphabet[] = {'\r', '\n', ' ', '\t', 'x'};
  for (int round = 0; round < 400; ++round) {
    std::string body;
    const std::size_t n = rng() % 24;
    for (std::size_t i = 0; i < n; ++i) body += alphabet[rng() % 5];
    for (Canon c : {Canon::Simple, Canon::Relaxed}) {
      const std::string want = sha_hex(reference_body(c, body));
      SCOPED_TRACE(::testing::PrintToString(body) + " " + std::string(canon_name(c)));
      EXPECT_EQ(stream_hash(c, body, body.size() + 1), want);
      EXPECT_EQ(stream_hash(c, body, 1), want);
      for (std::size_t split = 1; split < body.size(); ++split) {
        BodyHasher h(c);
        h.update(std::string_view(body).substr(0, split));
        h.update(std::string_view(body).substr(split));
        ASSERT_EQ(hex(h.finish()), want) << "split at " << split;
      }
    }
  }
}

TEST(DkimCanon, LengthLimitHashesPrefixAndCountsAll) {
  const std::string body = "line one\r\nline two\r\n";
  BodyHasher h(Canon::Simple, 10);
  for (char c : body) h.update(std::string_view(&c, 1));
  EXPECT_EQ(hex(h.finish()), sha_hex("line one\r\n"));
  EXPECT_EQ(h.canonical_bytes(), body.size());
  EXPECT_EQ(h.hashed_bytes(), 10u);
  // l= larger than the body: everything hashed.
  BodyHasher big(Canon::Simple, 1000);
  big.update(body);
  EXPECT_EQ(hex(big.finish()), sha_hex(body));
  // l=0: nothing hashed.
  BodyHasher zero(Canon::Relaxed, 0);
  zero.update(body);
  EXPECT_EQ(hex(zero.finish()), sha_hex(""));
}

TEST(DkimCanon, HeaderCollectorSplitsAtEveryPosition) {
  const std::string message = "From: a@b\r\nSubject: hi\r\n there\nX: y\r\n\r\nbody\r\n";
  for (std::size_t split = 0; split <= message.size(); ++split) {
    HeaderCollector hc;
    std::string body;
    auto sink = [&](std::string_view b) { body += b; };
    hc.feed(std::string_view(message).substr(0, split), sink);
    hc.feed(std::string_view(message).substr(split), sink);
    hc.finish();
    ASSERT_EQ(hc.fields().size(), 3u) << split;
    EXPECT_EQ(hc.fields()[1].text, "Subject: hi\r\n there");  // bare LF made CRLF
    EXPECT_EQ(hc.fields()[2].name, "x");
    EXPECT_EQ(body, "body\r\n");
  }
}

TEST(DkimCanon, HeaderBlockOverLimitBecomesBody) {
  std::string message = "From: a@b\r\n";
  while (message.size() < kMaxHeaderBlockBytes + 100) message += "X-Pad: 0123456789012345678901234567890123456789\r\n";
  message += "\r\nbody\r\n";
  HeaderCollector hc;
  std::uint64_t body_bytes = 0;
  hc.feed(message, [&](std::string_view b) { body_bytes += b.size(); });
  hc.finish();
  EXPECT_TRUE(hc.cut());
  EXPECT_GT(body_bytes, 100u);
  EXPECT_LE(message.size() - body_bytes, kMaxHeaderBlockBytes);
}

TEST(DkimCanon, SelectFieldsBottomUpAndOversigned) {
  HeaderCollector hc;
  hc.feed("Received: 1\r\nFrom: a\r\nReceived: 2\r\nSubject: s\r\n\r\n", [](std::string_view) {});
  hc.finish();
  const auto idx = detail::select_fields(hc.fields(), {"received", "received", "received", "from", "to"});
  // RFC 6376 5.4.2: last instance first; a third "received" and "to" select nothing.
  ASSERT_EQ(idx.size(), 3u);
  EXPECT_EQ(idx[0], 2u);
  EXPECT_EQ(idx[1], 0u);
  EXPECT_EQ(idx[2], 1u);
}

TEST(DkimCanon, WithoutBValueKeepsBh) {
  EXPECT_EQ(detail::without_b_value("DKIM-Signature: v=1; bh=abc=; b=xy\r\n z=="),
            "DKIM-Signature: v=1; bh=abc=; b=");
  EXPECT_EQ(detail::without_b_value("DKIM-Signature: b = xy ; d=x"), "DKIM-Signature: b =; d=x");
}

}  // namespace
}  // namespace refmail::trust::dkim
