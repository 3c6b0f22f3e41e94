// tests/unit/mime/test_joiner_seek.cpp — Joiner::seek: any byte range of the joined
// message equals the same slice of the original (every offset of small messages with
// identity, base64 (wrapped, unwrapped, LF, no last line ending) and QP cuts; random
// ranges over the corpus), and a range reads only the blob bytes it needs.
#include <gtest/gtest.h>

#include <random>

#include "mime/codec.hpp"
#include "mime_test_util.hpp"

using namespace refmail::mime;
using namespace refmail::mime::test;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Text with lines of varying lengths, '=' and trailing spaces (QP soft and hard breaks).
std::string texty(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < n) {
    const std::size_t len = rng() % 150;
    for (std::size_t i = 0; i < len; ++i) s.push_back("abc= \tdef\xe9"[rng() % 10]);
    s += "\r\n";
  }
  return s;
}

std::string with_part(const std::string& ctype, const std::string& cte, const std::string& body,
                      const std::string& eol = "\r\n") {
  return "From: a@example.test" + eol + "MIME-Version: 1.0" + eol +
         "Content-Type: multipart/mixed; boundary=\"XX\"" + eol + eol + "--XX" + eol +
         "Content-Type: text/plain" + eol + eol + "hello" + eol + "--XX" + eol +
         "Content-Type: " + ctype + eol + "Content-Transfer-Encoding: " + cte + eol +
         "Content-Disposition: attachment; filename=\"f\"" + eol + eol + body + eol +
         "--XX" + eol + "Content-Type: application/pdf; name=x.pdf" + eol +
         "Content-Transfer-Encoding: base64" + eol + eol +
         base64_encode(random_bytes(3000, 9), {76, LineEnding::Crlf, true}) + "--XX--" + eol;
}

std::vector<std::string> samples() {
  std::vector<std::string> out;
  const std::string data = random_bytes(5003, 2);
  out.push_back(with_part("application/octet-stream", "base64", base64_encode(data, {76, LineEnding::Crlf, true})));
  out.push_back(with_part("application/octet-stream", "base64", base64_encode(data, {64, LineEnding::Lf, false}), "\n"));
  out.push_back(with_part("application/octet-stream", "base64", base64_encode(data, {0, LineEnding::Crlf, true})));
  out.push_back(with_part("application/octet-stream", "base64", base64_encode(data, {0, LineEnding::Crlf, false})));
  out.push_back(with_part("application/octet-stream", "base64", base64_encode(random_bytes(4560, 3), {76, LineEnding::Crlf, true})));
  out.push_back(with_part("text/plain", "quoted-printable", qp_encode(texty(4000, 4), {LineEnding::Crlf, 76})));
  std::string bin = texty(3000, 5);
  out.push_back(with_part("application/octet-stream", "8bit", bin));
  return out;
}

std::string read_range(const Skeleton& sk, BlobSource& src, std::uint64_t off, std::uint64_t len,
                       std::size_t chunk) {
  Joiner j(sk, src);
  auto s = j.seek(off, len);
  EXPECT_TRUE(s.has_value());
  std::string out, buf(chunk, '\0');
  while (true) {
    auto r = j.read(std::span<char>(buf.data(), buf.size()));
    EXPECT_TRUE(r.has_value());
    if (!r || *r == 0) break;
    out.append(buf.data(), *r);
  }
  return out;
}

// Counts the blob bytes read, per blob.
class CountingSource final : public BlobSource {
 public:
  explicit CountingSource(BlobSource& inner) : inner_(inner) {}
  std::map<std::string, std::uint64_t> bytes;
  boost::system::result<std::size_t> read(std::string_view id, std::uint64_t off,
                                          std::span<char> out) override {
    auto r = inner_.read(id, off, out);
    if (r) bytes[std::string(id)] += *r;
    return r;
  }

 private:
  BlobSource& inner_;
};

}  // namespace

TEST(JoinerSeek, EveryOffsetOfSmallMessages) {
  int kinds[3] = {0, 0, 0};
  for (const std::string& m : samples()) {
    MemoryBlobs store;
    const Skeleton sk = split_with(m, store, Chunking::Whole).skeleton;
    ASSERT_EQ(sk.cuts.size(), 2u) << m.substr(0, 300);
    ++kinds[static_cast<int>(sk.cuts[0].encoding)];
    for (std::uint64_t off = 0; off <= m.size(); ++off) {
      // A short range at every offset, and the rest of the message at some.
      ASSERT_EQ(read_range(sk, store, off, 7, 5), m.substr(off, 7)) << off;
      if (off % 97 == 0) ASSERT_EQ(read_range(sk, store, off, UINT64_MAX, 4096), m.substr(off)) << off;
    }
    // One Joiner seeking back and forth.
    Joiner j(sk, store);
    std::mt19937 rng(7);
    for (int i = 0; i < 200; ++i) {
      const std::uint64_t off = rng() % (m.size() + 1);
      const std::uint64_t len = rng() % 300;
      ASSERT_TRUE(j.seek(off, len).has_value());
      std::string got(len + 10, '\0');
      std::size_t n = 0;
      while (true) {
        auto r = j.read(std::span<char>(got.data() + n, got.size() - n));
        ASSERT_TRUE(r.has_value());
        if (*r == 0) break;
        n += *r;
      }
      got.resize(n);
      ASSERT_EQ(got, m.substr(off, len));
      EXPECT_EQ(j.position(), off + got.size());
    }
  }
  EXPECT_EQ(kinds[0], 1);  // identity
  EXPECT_EQ(kinds[1], 5);  // base64
  EXPECT_EQ(kinds[2], 1);  // quoted-printable
}

TEST(JoinerSeek, RandomRangesOverTheCorpus) {
  std::size_t messages = 0, cuts = 0;
  std::mt19937 rng(11);
  for (const auto& path : corpus_files()) {
    for (const std::string& m : split_mbox(read_file(path))) {
      MemoryBlobs store;
      const Skeleton sk = split_with(m, store, Chunking::Whole).skeleton;
      ++messages;
      cuts += sk.cuts.size();
      for (int i = 0; i < 20; ++i) {
        const std::uint64_t off = rng() % (m.size() + 1);
        const std::uint64_t len = i % 4 == 0 ? UINT64_MAX : rng() % 5000;
        ASSERT_EQ(read_range(sk, store, off, len, 1 + rng() % 9000), m.substr(off, len)) << path;
      }
      // Each cut's exact text.
      std::uint64_t shift = 0;
      for (const Cut& c : sk.cuts) {
        const std::uint64_t at = c.offset + shift;
        ASSERT_EQ(read_range(sk, store, at, c.encoded_size, 65536), m.substr(at, c.encoded_size));
        shift += c.encoded_size;
      }
    }
  }
  EXPECT_GT(messages, 200u);
  EXPECT_GT(cuts, 20u);
}

TEST(JoinerSeek, ARangeReadsOnlyTheBlobBytesItNeeds) {
  const std::string data = random_bytes(2'000'000, 3);
  const std::string m = with_part("application/octet-stream", "base64", base64_encode(data, {76, LineEnding::Crlf, true}));
  MemoryBlobs store;
  const Skeleton sk = split_with(m, store, Chunking::Whole).skeleton;
  ASSERT_EQ(sk.cuts.size(), 2u);
  const Cut& big = sk.cuts[0];
  {  // 100 bytes in the middle of the big cut: ~75 blob bytes + one line, no other blob.
    CountingSource src(store);
    const std::uint64_t off = big.offset + 1'000'003;
    EXPECT_EQ(read_range(sk, src, off, 100, 65536), m.substr(off, 100));
    EXPECT_EQ(src.bytes.size(), 1u);
    EXPECT_LE(src.bytes[big.blob_id], 100u / 4 * 3 + 57 + 6);
    EXPECT_GE(src.bytes[big.blob_id], 100u / 4 * 3);
  }
  {  // The small attachment's text: its blob only.
    CountingSource src(store);
    const Cut& small = sk.cuts[1];
    const std::uint64_t at = small.offset + big.encoded_size;
    EXPECT_EQ(read_range(sk, src, at, small.encoded_size, 65536), m.substr(at, small.encoded_size));
    EXPECT_EQ(src.bytes.size(), 1u);
    EXPECT_EQ(src.bytes[small.blob_id], small.decoded_size);
  }
  {  // The header: no blob at all.
    CountingSource src(store);
    EXPECT_EQ(read_range(sk, src, 0, 200, 65536), m.substr(0, 200));
    EXPECT_TRUE(src.bytes.empty());
  }
}

TEST(JoinerSeek, ErrorsAreValues) {
  const std::string m = samples()[0];
  MemoryBlobs store;
  Skeleton sk = split_with(m, store, Chunking::Whole).skeleton;
  {
    Joiner j(sk, store);
    EXPECT_FALSE(j.seek(m.size() + 1).has_value());
    EXPECT_FALSE(j.read(std::span<char>()).has_value());  // stays failed
  }
  {
    Joiner j(sk, store);
    ASSERT_TRUE(j.seek(m.size()).has_value());
    char c;
    auto r = j.read(std::span<char>(&c, 1));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, 0u);
  }
  Skeleton bad = sk;
  std::swap(bad.cuts[0], bad.cuts[1]);  // out of order
  Joiner j(bad, store);
  EXPECT_FALSE(j.seek(m.size() - 1).has_value());
  Skeleton missing = sk;
  missing.cuts[0].blob_id = "nope";
  Joiner k(missing, store);
  ASSERT_TRUE(k.seek(missing.cuts[0].offset).has_value());  // no blob read before the cut
  Joiner l(missing, store);
  EXPECT_FALSE(l.seek(missing.cuts[0].offset + 5).has_value());  // skipping reads the line
  std::string buf(10, '\0');
  EXPECT_FALSE(k.read(std::span<char>(buf.data(), buf.size())).has_value());
}
