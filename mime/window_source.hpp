// mime/window_source.hpp — a BlobSource that reads its inner source in aligned 1 MiB
// windows and serves smaller reads from memory. The joiner asks for 48 KiB slices while
// the store keeps blobs in chunks of up to 1 MiB and fetches (and checksums) a whole
// chunk per read, so slice-by-slice reads cost ~20x the bytes; through this adapter each
// chunk is fetched once per sequential pass.
// Not thread-safe: one per join (it holds the current window). The inner source must
// outlive it.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "mime/blob_io.hpp"

namespace refmail::mime {

class WindowSource final : public BlobSource {
 public:
  static constexpr std::size_t kWindow = std::size_t{1} << 20;
  explicit WindowSource(BlobSource& inner) : inner_(inner) {}

  [[nodiscard]] boost::system::result<std::size_t> read(std::string_view blob_id, std::uint64_t offset,
                                                        std::span<char> out) override;

 private:
  boost::system::result<void> fill(std::string_view blob_id, std::uint64_t start);

  BlobSource& inner_;
  std::string id_;
  std::uint64_t start_ = 0;
  std::size_t len_ = 0;
  std::unique_ptr<char[]> buf_;  // kWindow bytes, allocated on first use
};

}  // namespace refmail::mime
