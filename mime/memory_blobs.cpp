// mime/memory_blobs.cpp — MemoryBlobs.
#include "mime/memory_blobs.hpp"

#include <algorithm>
#include <cstdio>

#include "mime/errc.hpp"

namespace refmail::mime {

boost::system::result<std::string> MemoryBlobs::commit() {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : cur_) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%016llx-%llu", static_cast<unsigned long long>(h),
                static_cast<unsigned long long>(cur_.size()));
  std::string id = buf;
  for (int n = 1;; ++n) {
    auto it = blobs_.find(id);
    if (it == blobs_.end()) {
      unique_bytes_ += cur_.size();
      blobs_.emplace(id, std::move(cur_));
      break;
    }
    if (it->second == cur_) break;
    id = std::string(buf) + "_" + std::to_string(n);
  }
  cur_.clear();
  return id;
}

boost::system::result<std::size_t> MemoryBlobs::read(std::string_view id, std::uint64_t offset, std::span<char> out) {
  auto it = blobs_.find(id);
  if (it == blobs_.end()) return errc::blob_missing;
  if (offset >= it->second.size()) return std::size_t{0};
  const std::size_t n = std::min<std::size_t>(out.size(), it->second.size() - offset);
  std::copy_n(it->second.data() + offset, n, out.data());
  return n;
}

}  // namespace refmail::mime
