// mime/memory_blobs.hpp — an in-memory, content-addressed BlobSink + BlobSource: what
// splits and joins without a store use (refmailctl mime check, the MIME and IMAP
// benchmarks, the fuzz targets). Ids are FNV-1a-64 hex + "-" + size (a colliding
// different content gets "_n" appended), so the same bytes are kept once.
// Not thread-safe. Holds every blob in memory: for bounded inputs only.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "mime/blob_io.hpp"

namespace refmail::mime {

class MemoryBlobs final : public BlobSink, public BlobSource {
 public:
  void begin() override { cur_.clear(); }
  void append(std::span<const char> d) override { cur_.append(d.data(), d.size()); }
  [[nodiscard]] boost::system::result<std::string> commit() override;
  void discard() override { cur_.clear(); }
  [[nodiscard]] boost::system::result<std::size_t> read(std::string_view id, std::uint64_t offset,
                                                        std::span<char> out) override;

  // The stored blobs by id.
  [[nodiscard]] const std::map<std::string, std::string, std::less<>>& blobs() const noexcept { return blobs_; }
  // Bytes of the distinct blobs.
  [[nodiscard]] std::uint64_t unique_bytes() const noexcept { return unique_bytes_; }

 private:
  std::map<std::string, std::string, std::less<>> blobs_;
  std::string cur_;
  std::uint64_t unique_bytes_ = 0;
};

}  // namespace refmail::mime
