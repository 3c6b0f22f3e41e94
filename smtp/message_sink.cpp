// smtp/message_sink.cpp — bounded message buffer with content statistics.
#include "smtp/message_sink.hpp"

#include "smtp/check.hpp"

#include <cstring>

namespace refmail::smtp {

void MessageSink::reserve(std::uint64_t n) {
  // SIZE= is peer-declared: a hint, never a reason to commit much memory up front.
  constexpr std::uint64_t kMaxReserve = 4u << 20;
  if (n > max_size_) n = max_size_;
  if (n > kMaxReserve) n = kMaxReserve;
  bytes_.reserve(static_cast<std::size_t>(n));
}

void MessageSink::start(const Envelope& envelope) {
  if (consumer_ == nullptr) return;
  consumer_->begin(envelope);
  started_ = true;
}

void MessageSink::abandon() {
  if (started_) consumer_->discard();
  started_ = false;
}

void MessageSink::append(std::string_view s) {
  if (s.empty()) return;
  const char* p = s.data();
  const std::size_t n = s.size();
  if (!nul_ && std::memchr(p, 0, n) != nullptr) nul_ = true;
  if (!eight_bit_) {
    unsigned char acc = 0;
    for (std::size_t i = 0; i < n; ++i) acc |= static_cast<unsigned char>(p[i]);
    if (acc & 0x80) eight_bit_ = true;
  }
  // Line lengths: every LF ends a line.
  std::size_t pos = 0;
  while (pos < n) {
    const void* lf = std::memchr(p + pos, '\n', n - pos);
    if (lf == nullptr) {
      line_len_ += n - pos;
      break;
    }
    const std::size_t at = static_cast<const char*>(lf) - p;
    line_len_ += at - pos + 1;
    if (line_len_ > longest_) longest_ = line_len_;
    line_len_ = 0;
    pos = at + 1;
  }
  total_ += n;
  if (total_ > max_size_ || shed_) {
    // Over the limit: keep counting, stop storing, give the memory back.
    std::string().swap(bytes_);
    abandon();
    return;
  }
  if (consumer_ != nullptr) {
    if (started_) consumer_->write(s);
    return;
  }
  bytes_.append(s);
}

std::string MessageSink::take() {
  REFMAIL_CHECK(!over_size() && !shed_);
  started_ = false;
  return std::move(bytes_);
}

}  // namespace refmail::smtp
