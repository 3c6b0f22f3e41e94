// imap/compress.hpp — COMPRESS=DEFLATE (RFC 4978): raw deflate (RFC 1951, no zlib or gzip
// header) in both directions once the server said "OK DEFLATE active". Sans-I/O: the
// server passes every byte it writes through a Deflater (flushed at the end of each
// batch so the client can act on it) and every byte it reads through an Inflater before
// Session::feed().
// SECURITY: inflation is pulled in bounded pieces (a few bytes of a hostile stream can
// expand a thousandfold): the server asks for the next piece only when the session
// wants input and reads from the socket only when the inflater has nothing left, so it
// never holds more than one read of compressed bytes and one piece of plain ones. A
// corrupt stream is an error (the server closes).
#pragma once
#include <cstddef>
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
  Inflater();
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  // Appends compressed bytes (kept until output() has consumed them).
  void input(std::string_view compressed);
  // The next decompressed bytes, at most `max` of them; "" when every byte given so far
  // is consumed and its output handed out. An error for a corrupt stream or data
  // after its end.
  [[nodiscard]] boost::system::result<std::string> output(std::size_t max);
  // Compressed bytes given and not consumed yet.
  [[nodiscard]] std::size_t pending() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace refmail::imap
