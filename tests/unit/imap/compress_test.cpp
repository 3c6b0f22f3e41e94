// tests/unit/imap/compress_test.cpp — COMPRESS=DEFLATE's codec: raw deflate both ways,
// flushes the peer can decode at once, bounded pieces, corrupt input.
#include <gtest/gtest.h>

#include <zlib.h>

#include <random>
#include <string>

#include "imap/compress.hpp"

namespace refmail::imap::test {
namespace {

std::string inflate_all(Inflater& in, std::string_view bytes, std::size_t* biggest = nullptr, std::size_t piece = 4096) {
  in.input(bytes);
  std::string out;
  for (;;) {
    auto r = in.output(piece);
    EXPECT_TRUE(r);
    if (!r || r->empty()) break;
    out += *r;
    if (biggest) *biggest = std::max(*biggest, r->size());
  }
  EXPECT_EQ(in.pending(), 0u);
  return out;
}

TEST(ImapCompress, RoundTripWithFlushes) {
  Deflater d;
  Inflater i;
  std::mt19937 rng(7);
  std::string all_in, all_out;
  for (int batch = 0; batch < 50; ++batch) {
    std::string text;
    for (int k = 0; k < 200; ++k) text += "* " + std::to_string(rng() % 1000) + " FETCH (FLAGS (\\Seen))\r\n";
    all_in += text;
    // Each flushed batch decodes completely on its own.
    std::string z = d.compress(text, true);
    EXPECT_LT(z.size(), text.size());
    EXPECT_EQ(inflate_all(i, z), text);
    all_out += text;
  }
  EXPECT_EQ(all_out, all_in);
}

TEST(ImapCompress, OutputComesInBoundedPieces) {
  // 10 MB of zeros deflate to a few KB: inflation must not hand it over at once.
  Deflater d;
  std::string z = d.compress(std::string(10 << 20, '\0'), true);
  EXPECT_LT(z.size(), 64u * 1024);
  Inflater i;
  std::size_t biggest = 0;
  EXPECT_EQ(inflate_all(i, z, &biggest, 4096).size(), 10u << 20);
  EXPECT_LE(biggest, 4096u);
}

TEST(ImapCompress, ByteByByteInput) {
  Deflater d;
  std::string text = "a1 SELECT INBOX\r\na2 FETCH 1:* (FLAGS)\r\n";
  std::string z = d.compress(text, true);
  Inflater i;
  std::string out;
  for (char ch : z) out += inflate_all(i, std::string_view(&ch, 1));
  EXPECT_EQ(out, text);
}

TEST(ImapCompress, CorruptInputIsAnError) {
  Inflater i;
  i.input(std::string("\xff\xff\xff\xff garbage", 12));
  EXPECT_FALSE(i.output(100));
}

TEST(ImapCompress, InteroperatesWithZlibRawDeflate) {
  // A peer using zlib directly (as Thunderbird's and Dovecot's code do): windowBits -15.
  std::string text(5000, 'x');
  z_stream z{};
  ASSERT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(8192, '\0');
  z.next_in = reinterpret_cast<Bytef*>(text.data());
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  ASSERT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  Inflater i;
  EXPECT_EQ(inflate_all(i, out), text);
}

}  // namespace
}  // namespace refmail::imap::test
