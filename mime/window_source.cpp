// mime/window_source.cpp — see window_source.hpp.
#include "mime/window_source.hpp"

#include <algorithm>
#include <cstring>

namespace refmail::mime {

boost::system::result<std::size_t> WindowSource::read(std::string_view blob_id, std::uint64_t offset,
                                                      std::span<char> out) {
  if (out.empty()) return std::size_t{0};
  if (blob_id != id_ || offset < start_ || offset >= start_ + len_) {
    if (auto r = fill(blob_id, offset - offset % kWindow); !r) return r.error();
    if (offset >= start_ + len_) return std::size_t{0};  // at or past the end
  }
  const auto within = static_cast<std::size_t>(offset - start_);
  const std::size_t n = std::min(out.size(), len_ - within);
  std::memcpy(out.data(), buf_.get() + within, n);
  return n;
}

boost::system::result<void> WindowSource::fill(std::string_view blob_id, std::uint64_t start) {
  id_.clear();
  len_ = 0;
  if (!buf_) buf_.reset(new char[kWindow]);  // uninitialised: only what is read is touched
  std::size_t got = 0;
  while (got < kWindow) {
    auto r = inner_.read(blob_id, start + got, std::span<char>(buf_.get() + got, kWindow - got));
    if (!r) return r.error();
    if (*r == 0) break;
    got += *r;
  }
  id_ = std::string(blob_id);
  start_ = start;
  len_ = got;
  return {};
}

}  // namespace refmail::mime
