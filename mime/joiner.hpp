// mime/joiner.hpp — Skeleton + BlobSource -> the original message bytes, streamed.
// Each cut is regenerated from its blob with the canonical encoder (codec.hpp) and the
// cut's parameters; the total size is known without reading any blob.
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
