// imap/compress.cpp — Deflater and Inflater over zlib with raw deflate (windowBits -15).
#include "imap/compress.hpp"

#include <zlib.h>

#include <vector>

#include "imap/check.hpp"
#include "imap/errc.hpp"

namespace refmail::imap {

struct Deflater::Impl {
  z_stream z{};
};

Deflater::Deflater() : impl_(std::make_unique<Impl>()) {
  // RFC 4978 4: level and memory are the server's choice; the window must be 32 KiB or
  // less for the client to decode with any window (15 = 32 KiB).
  REFMAIL_CHECK(deflateInit2(&impl_->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
}

Deflater::~Deflater() { deflateEnd(&impl_->z); }

std::string Deflater::compress(std::string_view in, bool flush) {
  std::string out;
  z_stream& z = impl_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  char buf[16 * 1024];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int rc = deflate(&z, flush ? Z_SYNC_FLUSH : Z_NO_FLUSH);
    REFMAIL_CHECK(rc == Z_OK || rc == Z_BUF_ERROR);
    out.append(buf, sizeof buf - z.avail_out);
    if (z.avail_in == 0 && z.avail_out != 0) break;
  }
  return out;
}

struct Inflater::Impl {
  z_stream z{};
  std::size_t max_piece = 0;
  bool ended = false;
  std::vector<char> buf;
};

Inflater::Inflater(std::size_t max_piece) : impl_(std::make_unique<Impl>()) {
  impl_->max_piece = max_piece == 0 ? 1 : max_piece;
  impl_->buf.resize(impl_->max_piece);
  REFMAIL_CHECK(inflateInit2(&impl_->z, -15) == Z_OK);
}

Inflater::~Inflater() { inflateEnd(&impl_->z); }

boost::system::result<void> Inflater::decompress(std::string_view in,
                                                 const std::function<void(std::string_view)>& out) {
  Impl& m = *impl_;
  z_stream& z = m.z;
  if (in.empty()) return {};
  if (m.ended) return make_error_code(errc::syntax);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(m.buf.data());
    z.avail_out = static_cast<uInt>(m.buf.size());
    int rc = inflate(&z, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) return make_error_code(errc::syntax);
    const std::size_t n = m.buf.size() - z.avail_out;
    if (n > 0) out(std::string_view(m.buf.data(), n));
    if (rc == Z_STREAM_END) {
      m.ended = true;
      if (z.avail_in != 0) return make_error_code(errc::syntax);
      return {};
    }
    if (z.avail_in == 0 && z.avail_out != 0) return {};
    if (rc == Z_BUF_ERROR && n == 0) return {};
  }
}

}  // namespace refmail::imap
