// mime/blob_io.hpp — how the MIME code hands decoded attachment bytes to whoever
// stores them, and reads them back, without knowing anything about storage.
// The splitter calls a BlobSink (Dovecot's attachment extractor model: the extractor
// knows nothing of storage and calls back into it); the joiner calls a BlobSource.
// SECURITY: blob ids are opaque here; only the store decides what an id means.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace refmail::mime {

// Blob ids are short ASCII strings of [A-Za-z0-9_-], at most kMaxBlobIdBytes long.
inline constexpr std::size_t kMaxBlobIdBytes = 64;

// Receives the decoded bytes of candidate attachments, one candidate at a time:
//   begin(), append()*, then exactly one of commit() or discard().
// The splitter may discard a candidate at its end (its re-encoding did not match the
// received text); the sink must then forget every byte of it.
class BlobSink {
 public:
  virtual ~BlobSink() = default;
  virtual void begin() = 0;
  virtual void append(std::span<const char> decoded) = 0;
  // The candidate is kept: returns its blob id (the store's content id), or an
  // error (e.g. the store failed); on error the splitter keeps the part in the skeleton.
  [[nodiscard]] virtual boost::system::result<std::string> commit() = 0;
  virtual void discard() = 0;
};

// Random access to stored decoded bytes, for the joiner.
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  // Copies up to out.size() bytes of blob `blob_id` starting at `offset` into `out`;
  // returns the number copied (0 only at or past the end), or an error if the blob is
  // unknown or cannot be read.
  [[nodiscard]] virtual boost::system::result<std::size_t> read(std::string_view blob_id,
                                                                std::uint64_t offset,
                                                                std::span<char> out) = 0;
};

}  // namespace refmail::mime
