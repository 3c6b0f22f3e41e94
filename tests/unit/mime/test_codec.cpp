// tests/unit/mime/test_codec.cpp — base64 and quoted-printable codecs: known vectors
// (RFC 4648 10, CPython binascii.b2a_qp outputs), sizes, streaming == whole, tolerance.
#include <gtest/gtest.h>

#include <random>

#include "mime/codec.hpp"

using namespace refmail::mime;

namespace {
std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}
}  // namespace

TEST(Base64, Rfc4648Vectors) {
  const Base64Params p{0, LineEnding::Crlf, false};
  EXPECT_EQ(base64_encode("", p), "");
  EXPECT_EQ(base64_encode("f", p), "Zg==");
  EXPECT_EQ(base64_encode("fo", p), "Zm8=");
  EXPECT_EQ(base64_encode("foo", p), "Zm9v");
  EXPECT_EQ(base64_encode("foob", p), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba", p), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar", p), "Zm9vYmFy");
  EXPECT_EQ(base64_decode("Zm9vYmE=").bytes, "fooba");
  EXPECT_EQ(base64_decode("Zm9vYg==").bytes, "foob");
}

TEST(Base64, LineWrappingAndLastLine) {
  const std::string data(57 * 2 + 10, 'x');
  const std::string crlf = base64_encode(data, {76, LineEnding::Crlf, true});
  // 2 full lines + one of 16 chars, each ended by CRLF.
  ASSERT_EQ(crlf.size(), 76 + 2 + 76 + 2 + 16 + 2);
  EXPECT_EQ(crlf.substr(76, 2), "\r\n");
  EXPECT_TRUE(crlf.ends_with("\r\n"));
  const std::string lf_nolast = base64_encode(data, {64, LineEnding::Lf, false});
  EXPECT_FALSE(lf_nolast.ends_with("\n"));
  EXPECT_EQ(lf_nolast.find('\r'), std::string::npos);
  EXPECT_EQ(lf_nolast.find('\n'), 64u);
  // Exact multiple of a line: no empty line at the end.
  const std::string full = base64_encode(std::string(57, 'y'), {76, LineEnding::Crlf, true});
  EXPECT_EQ(full.size(), 78u);
}

TEST(Base64, EncodedSizeMatchesEncoder) {
  for (std::uint32_t width : {0u, 4u, 64u, 72u, 76u, 100u}) {
    for (LineEnding e : {LineEnding::Crlf, LineEnding::Lf}) {
      for (bool last : {false, true}) {
        for (std::size_t n : {0, 1, 2, 3, 4, 56, 57, 58, 113, 114, 1000, 4097}) {
          const Base64Params p{width, e, last};
          const std::string enc = base64_encode(random_bytes(n, static_cast<unsigned>(n)), p);
          EXPECT_EQ(enc.size(), base64_encoded_size(n, p)) << width << " " << n;
        }
      }
    }
  }
}

TEST(Base64, StreamingEqualsWholeAtAnySplit) {
  const std::string data = random_bytes(1000, 7);
  for (std::uint32_t width : {0u, 64u, 76u}) {
    const Base64Params p{width, LineEnding::Lf, true};
    const std::string whole = base64_encode(data, p);
    for (std::size_t chunk : {1u, 2u, 3u, 5u, 57u, 100u, 999u}) {
      Base64Encoder enc(p);
      std::string out;
      for (std::size_t i = 0; i < data.size(); i += chunk)
        enc.update(std::string_view(data).substr(i, chunk), out);
      enc.finish(out);
      EXPECT_EQ(out, whole) << width << " chunk " << chunk;
      // Decoder, streamed too.
      Base64Decoder dec;
      std::string back;
      for (std::size_t i = 0; i < out.size(); i += chunk)
        dec.update(std::string_view(out).substr(i, chunk), back);
      dec.finish(back);
      EXPECT_EQ(back, data);
    }
  }
}

TEST(Base64, RoundTripRandomAndCanonicalDetection) {
  for (unsigned seed = 0; seed < 30; ++seed) {
    const std::string data = random_bytes(seed * 37, seed);
    for (std::uint32_t width : {64u, 72u, 76u}) {
      for (LineEnding e : {LineEnding::Crlf, LineEnding::Lf}) {
        const Base64Params p{width, e, seed % 2 == 0};
        const std::string enc = base64_encode(data, p);
        const Base64Decoded d = base64_decode(enc);
        EXPECT_EQ(d.bytes, data);
        if (enc.size() > width + 2) {  // more than one line: params are detectable
          EXPECT_TRUE(d.canonical);
          EXPECT_EQ(d.params, p);
        }
      }
    }
  }
}

TEST(Base64, TolerantDecodeOfMalformedInput) {
  // Garbage and whitespace skipped, data after padding ignored, no padding accepted.
  EXPECT_EQ(base64_decode("Zm9v\r\n YmFy").bytes, "foobar");
  EXPECT_EQ(base64_decode("Zm9v*YmFy").bytes, "foobar");
  EXPECT_EQ(base64_decode("Zm8=Zm9v").bytes, "fo");
  EXPECT_EQ(base64_decode("Zm8").bytes, "fo");
  EXPECT_EQ(base64_decode("Z").bytes, "");
  EXPECT_FALSE(base64_decode("Zm9v YmFy").canonical);
  EXPECT_FALSE(base64_decode("Zm9=").canonical);  // non-zero pad bits
  EXPECT_FALSE(base64_decode("Zm8").canonical);
  EXPECT_TRUE(base64_decode("Zm9vYmFy").canonical);
  // Arbitrary bytes never crash.
  const std::string junk = random_bytes(5000, 99);
  (void)base64_decode(junk);
}

TEST(QuotedPrintable, MatchesPythonB2aQp) {
  const QpParams lf{LineEnding::Lf, 76};
  EXPECT_EQ(qp_encode("hello world", lf), "hello world");
  EXPECT_EQ(qp_encode(std::string(100, 'a'), lf),
            std::string(75, 'a') + "=\n" + std::string(25, 'a'));
  EXPECT_EQ(qp_encode("x = y\n", lf), "x =3D y\n");
  EXPECT_EQ(qp_encode("trailing space \nnext", lf), "trailing space=20\nnext");
  EXPECT_EQ(qp_encode("tab\t\nend\t", lf), "tab=09\nend=09");
  EXPECT_EQ(qp_encode("caf\xc3\xa9 \xe2\x82\xac\n", lf), "caf=C3=A9 =E2=82=AC\n");
  EXPECT_EQ(qp_encode(".\nline\n.", lf), "=2E\nline\n=2E");
  EXPECT_EQ(qp_encode("line1\r\nline2\r\n", {LineEnding::Crlf, 76}), "line1\r\nline2\r\n");
  EXPECT_EQ(qp_encode(std::string(74, 'w') + " z\n" + std::string(80, 'q'), lf),
            std::string(74, 'w') + " z\n" + std::string(75, 'q') + "=\n" + std::string(5, 'q'));
  std::string eq;
  for (int i = 0; i < 25; ++i) eq += "=3D";
  std::string eq2;
  for (int i = 0; i < 15; ++i) eq2 += "=3D";
  EXPECT_EQ(qp_encode(std::string(40, '='), lf), eq + "=\n" + eq2);
}

// Mail written with LF by b2a_qp and sent with CRLF (as SMTP requires) must still
// re-encode exactly: no soft break before a CRLF hard break, as before an LF one.
TEST(QuotedPrintable, CrlfTextBreaksLikeLfText) {
  const std::string line75 = std::string(75, 'r');
  const std::string lf_text = line75 + "x\n" + line75 + "y\nend";
  std::string crlf_text = line75 + "x\r\n" + line75 + "y\r\nend";
  const std::string lf_enc = qp_encode(lf_text, {LineEnding::Lf, 76});
  EXPECT_EQ(lf_enc, lf_text);  // 76 characters then a hard break: no soft break
  std::string converted;
  for (char c : lf_enc) {
    if (c == '\n') converted += '\r';
    converted += c;
  }
  EXPECT_EQ(qp_encode(crlf_text, {LineEnding::Crlf, 76}), converted);
  EXPECT_TRUE(qp_decode(converted).canonical);
  // The streaming encoder agrees at every split, including between "\r" and "\n".
  for (std::size_t cut = 0; cut <= crlf_text.size(); ++cut) {
    QpEncoder enc({LineEnding::Crlf, 76});
    std::string out;
    enc.update(std::string_view(crlf_text).substr(0, cut), out);
    enc.update(std::string_view(crlf_text).substr(cut), out);
    enc.finish(out);
    ASSERT_EQ(out, converted) << "split at " << cut;
  }
}

TEST(QuotedPrintable, DecodeAndCanonical) {
  const QpDecoded d = qp_decode("caf=C3=A9 =E2=82=AC\nsoft=\nbreak\n");
  EXPECT_EQ(d.bytes, "caf\xc3\xa9 \xe2\x82\xac\nsoftbreak\n");
  EXPECT_EQ(d.params.line_ending, LineEnding::Lf);
  EXPECT_FALSE(d.canonical);  // the encoder would not break there
  EXPECT_TRUE(qp_decode("caf=C3=A9 =E2=82=AC\nsoftbreak\n").canonical);
  EXPECT_EQ(qp_decode("a=3d b   \r\nc").bytes, "a= b\r\nc");  // lower hex, trailing ws
  EXPECT_FALSE(qp_decode("a=3d b   \r\nc").canonical);
  EXPECT_EQ(qp_decode("bad =ZZ and =").bytes, "bad =ZZ and ");
}

TEST(QuotedPrintable, StreamingEqualsWholeAndRoundTrips) {
  std::mt19937 rng(3);
  for (int round = 0; round < 40; ++round) {
    std::string text;
    const int n = 50 + static_cast<int>(rng() % 400);
    const char alphabet[] = "abc xyz=\t.\n\xe9\r";
    for (int i = 0; i < n; ++i) text.push_back(alphabet[rng() % (sizeof alphabet - 1)]);
    for (LineEnding e : {LineEnding::Crlf, LineEnding::Lf}) {
      const QpParams p{e, 76};
      const std::string whole = qp_encode(text, p);
      for (std::size_t chunk : {1u, 2u, 7u, 64u}) {
        QpEncoder enc(p);
        std::string out;
        for (std::size_t i = 0; i < text.size(); i += chunk)
          enc.update(std::string_view(text).substr(i, chunk), out);
        enc.finish(out);
        ASSERT_EQ(out, whole);
        QpDecoder dec;
        std::string back;
        for (std::size_t i = 0; i < whole.size(); i += chunk)
          dec.update(std::string_view(whole).substr(i, chunk), back);
        dec.finish(back);
        EXPECT_EQ(back, qp_decode(whole).bytes);
      }
      for (std::size_t pos = 0; pos < whole.size();) {  // lines <= 76 chars
        const std::size_t nl = whole.find('\n', pos);
        const std::size_t end = nl == std::string::npos ? whole.size() : nl;
        std::size_t len = end - pos;
        if (len > 0 && whole[end - 1] == '\r') --len;
        EXPECT_LE(len, 78u);
        pos = end + 1;
      }
    }
  }
}

// The strict decoder SMTP AUTH and IMAP AUTHENTICATE share: one encoding per value.
TEST(Base64Strict, AcceptsOnlyCanonicalPaddedBase64) {
  using refmail::mime::base64_decode_strict;
  EXPECT_EQ(base64_decode_strict("AGFsaWNlAHB3"), std::string("\0alice\0pw", 9));
  EXPECT_EQ(base64_decode_strict("YQ=="), "a");
  EXPECT_EQ(base64_decode_strict("YWI="), "ab");
  EXPECT_EQ(base64_decode_strict(""), "");
  for (const char* bad : {"YQ", "YQ=", "Y Q==", "YR==", "YWJ=", "YQ==YQ==", "=QQQ", "YQ=a", "YQ\r\n", "Y!=="})
    EXPECT_FALSE(base64_decode_strict(bad).has_value()) << bad;
}
