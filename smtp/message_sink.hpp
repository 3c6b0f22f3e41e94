// smtp/message_sink.hpp — where DATA/BDAT content bytes go: kept up to a size limit,
// counted beyond it (so the session can drain to the end and then answer 552, RFC 5321
// 4.5.3.1.7 / RFC 1870), with the facts the session's content policy needs: NUL bytes,
// 8-bit bytes, the longest line.
// With a ContentConsumer the bytes are not kept here but handed on as they arrive (the
// server's streaming ingest), and the consumer is told when they will not be delivered.
// SECURITY: memory is bounded by max_size_bytes; once over, the stored bytes are freed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/envelope.hpp"

namespace refmail::smtp {

// Takes a message's content as it arrives instead of the session keeping it
// (Session::set_content_consumer). Called from inside Session::feed(), so each call
// must be quick (buffer, do not parse or store there).
class ContentConsumer {
 public:
  virtual ~ContentConsumer() = default;
  // A message's content starts (DATA, or the first BDAT), for this envelope.
  virtual void begin(const Envelope& envelope) = 0;
  // Content bytes, in order (unstuffed for DATA).
  virtual void write(std::string_view bytes) = 0;
  // The content begun will not be delivered (over the size limit, shed, refused by
  // policy, RSET, a new transaction): forget it.
  virtual void discard() = 0;
  // Memory this consumer holds for the content now (the in-flight budget).
  [[nodiscard]] virtual std::size_t held_bytes() const = 0;
};

class MessageSink {
 public:
  explicit MessageSink(std::uint64_t max_size_bytes = 0, ContentConsumer* consumer = nullptr)
      : max_size_(max_size_bytes), consumer_(consumer) {}

  // Content starts: tells the consumer (if any).
  void start(const Envelope& envelope);
  // The content will not be delivered: tells the consumer (if it was started).
  void abandon();

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
    abandon();
  }
  [[nodiscard]] bool was_shed() const noexcept { return shed_; }
  // Bytes of memory the stored content holds now (the consumer's, when there is one).
  [[nodiscard]] std::size_t held_bytes() const noexcept {
    return consumer_ != nullptr ? (started_ ? consumer_->held_bytes() : 0) : bytes_.capacity();
  }
  // The stored bytes ("" with a consumer: it has them). REQUIRES: !over_size() &&
  // !was_shed(). The consumer is no longer this sink's to abandon.
  [[nodiscard]] std::string take();

 private:
  std::uint64_t max_size_;
  ContentConsumer* consumer_ = nullptr;
  bool started_ = false;  // the consumer was begun and not yet abandoned or taken
  std::uint64_t total_ = 0;
  std::string bytes_;
  std::size_t line_len_ = 0;
  std::size_t longest_ = 0;
  bool nul_ = false;
  bool eight_bit_ = false;
  bool shed_ = false;
};

}  // namespace refmail::smtp
