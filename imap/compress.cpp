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
  std::string in;        // compressed bytes; z.next_in points into it
  std::size_t used = 0;  // of `in`, consumed
  bool ended = false;
  bool full = false;  // the last output() filled its buffer: zlib may hold more
};

Inflater::Inflater() : impl_(std::make_unique<Impl>()) { REFMAIL_CHECK(inflateInit2(&impl_->z, -15) == Z_OK); }

Inflater::~Inflater() { inflateEnd(&impl_->z); }

void Inflater::input(std::string_view compressed) {
  Impl& m = *impl_;
  m.in.erase(0, m.used);
  m.used = 0;
  m.in.append(compressed);
}

std::size_t Inflater::pending() const noexcept { return impl_->in.size() - impl_->used; }

boost::system::result<std::string> Inflater::output(std::size_t max) {
  Impl& m = *impl_;
  std::string out;
  if (max == 0 || (m.used == m.in.size() && !m.full)) return out;
  if (m.ended) {
    if (m.used == m.in.size()) return out;
    return make_error_code(errc::syntax);  // bytes after the end of the stream
  }
  out.resize(max);
  z_stream& z = m.z;
  z.next_in = reinterpret_cast<Bytef*>(m.in.data() + m.used);
  z.avail_in = static_cast<uInt>(m.in.size() - m.used);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(max);
  const int rc = inflate(&z, Z_SYNC_FLUSH);
  if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) return make_error_code(errc::syntax);
  m.used = m.in.size() - z.avail_in;
  m.full = z.avail_out == 0;
  out.resize(max - z.avail_out);
  if (rc == Z_STREAM_END) m.ended = true;
  return out;
}

}  // namespace refmail::imap
