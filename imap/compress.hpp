// imap/compress.hpp — COMPRESS=DEFLATE (RFC 4978): raw deflate (RFC 1951, no zlib or gzip
// header) in both directions once the server said "OK DEFLATE active". Sans-I/O: the
// server passes every byte it writes through a Deflater (flushed at the end of each
// batch so the client can act on it) and every byte it reads through an Inflater before
// Session::feed().
// SECURITY: inflation output is produced in bounded pieces (a few bytes of a hostile
// stream can expand a thousandfold); a corrupt stream is an error (the server closes).
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace refmail::imap {

class Deflater {
 public:
  Deflater();
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  // Compresses `in`; with `flush` the output ends on a byte boundary the peer can
  // decode completely (Z_SYNC_FLUSH, RFC 4978 4). Never fails on valid state.
  [[nodiscard]] std::string compress(std::string_view in, bool flush);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Inflater {
 public:
  // `max_piece`: the most bytes handed to `out` at once.
  explicit Inflater(std::size_t max_piece = 64 * 1024);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  // Decompresses `in`, calling `out` with each piece (at most max_piece bytes) in
  // order. An error for a corrupt stream or data after its end.
  [[nodiscard]] boost::system::result<void> decompress(std::string_view in,
                                                       const std::function<void(std::string_view)>& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace refmail::imap
