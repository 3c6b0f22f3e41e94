// smtp/message_sink.hpp — where DATA/BDAT content bytes go: kept up to a size limit,
// counted beyond it (so the session can drain to the end and then answer 552, RFC 5321
// 4.5.3.1.7 / RFC 1870), with the facts the session's content policy needs: NUL bytes,
// 8-bit bytes, the longest line.
// SECURITY: memory is bounded by max_size_bytes; once over, the stored bytes are freed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace refmail::smtp {

class MessageSink {
 public:
  explicit MessageSink(std::uint64_t max_size_bytes = 0) : max_size_(max_size_bytes) {}

  // Appends content bytes (already unstuffed for DATA).
  void append(std::string_view bytes);
  // Reserves capacity (for a declared SIZE=), capped at the limit and at 4 MiB.
  void reserve(std::uint64_t n);

  [[nodiscard]] std::uint64_t size_bytes() const noexcept { return total_; }
  [[nodiscard]] bool over_size() const noexcept { return total_ > max_size_; }
  [[nodiscard]] bool nul_seen() const noexcept { return nul_; }
  [[nodiscard]] bool eight_bit_seen() const noexcept { return eight_bit_; }
  // Longest line in bytes, LF included (a line ends at any LF; bare CR is content).
  [[nodiscard]] std::size_t longest_line() const noexcept {
    return line_len_ > longest_ ? line_len_ : longest_;
  }
  // Memory given up under pressure (the server's in-flight budget): the stored bytes
  // are freed, later ones only counted; the session answers 452 4.3.1 at the end.
  void shed() {
    shed_ = true;
    std::string().swap(bytes_);
  }
  [[nodiscard]] bool was_shed() const noexcept { return shed_; }
  // Bytes of memory the stored content holds now.
  [[nodiscard]] std::size_t held_bytes() const noexcept { return bytes_.capacity(); }
  // The stored bytes. REQUIRES: !over_size() && !was_shed().
  [[nodiscard]] std::string take();

 private:
  std::uint64_t max_size_;
  std::uint64_t total_ = 0;
  std::string bytes_;
  std::size_t line_len_ = 0;
  std::size_t longest_ = 0;
  bool nul_ = false;
  bool eight_bit_ = false;
  bool shed_ = false;
};

}  // namespace refmail::smtp
