// mime/joiner.hpp — Skeleton + BlobSource -> the original message bytes, streamed.
// Each cut is regenerated from its blob with the canonical encoder (codec.hpp) and the
// cut's parameters; the total size is known without reading any blob. seek() starts at
// any offset reading only what follows it (byte ranges: IMAP BODY[]<o.l>, BODY[2]).
// SECURITY: a missing/short blob or a blob longer than its cut is an error value;
// output never exceeds Skeleton::joined_size().
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <boost/system/result.hpp>

#include "mime/blob_io.hpp"
#include "mime/skeleton.hpp"

namespace refmail::mime {

class Joiner {
 public:
  // `skeleton` and `source` must outlive the Joiner.
  Joiner(const Skeleton& skeleton, BlobSource& source);
  ~Joiner();
  Joiner(const Joiner&) = delete;
  Joiner& operator=(const Joiner&) = delete;

  // Fills `out` with the next bytes; returns how many (0 only at the end), or an error
  // (after which the Joiner stays failed).
  [[nodiscard]] boost::system::result<std::size_t> read(std::span<char> out);
  // Positions the next read() at `offset` of the joined message (backwards too), without
  // reading any blob byte before it: identity cuts start at the blob byte, base64 cuts at
  // the start of the encoded line holding `offset` (line_length characters + line ending
  // per line, 4 characters per 3 bytes: arithmetic), then at most one line is regenerated
  // and skipped; quoted-printable cuts are re-encoded from the cut's start and skipped
  // (QP line breaks depend on the content, no arithmetic gives the blob offset).
  // A read() asked for few bytes reads about that many blob bytes, not a 48 KiB slice.
  // Errors: bad_argument if offset > total_size(); skeleton_corrupt for cuts out of order
  // or past the bytes; the source's errors while skipping. After an error the Joiner stays
  // failed.
  // With `length`, read() ends (returns 0) after that many bytes, and blob reads are sized
  // to what the range still needs (a 100-byte range inside a base64 cut reads ~80 bytes
  // of the blob plus at most one line), so a range costs what it returns.
  [[nodiscard]] boost::system::result<void> seek(std::uint64_t offset,
                                                 std::uint64_t length = UINT64_MAX);
  [[nodiscard]] std::uint64_t total_size() const noexcept;  // == skeleton.joined_size()
  [[nodiscard]] std::uint64_t position() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whole-message convenience.
[[nodiscard]] boost::system::result<std::string> join_all(const Skeleton& skeleton,
                                                          BlobSource& source);

}  // namespace refmail::mime
