// delivery/outbound.hpp — what leaves through the relay, without any I/O: the queue
// row's envelope (delivery/queue_envelope.hpp), what a delivery attempt loads from the
// store (skeleton, header section, 8BITMIME need; never blob bytes), the StreamJob that
// joins and dot-stuffs a message piece by piece for the SMTP client session, and the
// bounce / delay report delivered into the local sender's INBOX. The relay's sockets,
// DNS and retries are server/relay.cpp.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "delivery/queue_envelope.hpp"
#include "delivery/service.hpp"
#include "mime/dsn.hpp"
#include "mime/joiner.hpp"
#include "mime/skeleton.hpp"
#include "mime/window_source.hpp"
#include "smtp/client_session.hpp"
#include "storage/store.hpp"

namespace refmail::delivery::outbound {

storage::UnixSeconds now_seconds();
std::string lower(std::string s);
std::string domain_of(std::string_view address);

// The queue row's envelope: delivery/queue_envelope.hpp, its one codec.
using QueuedEnvelope = QueueEnvelope;

std::optional<smtp::Address> parse_address(const std::string& s, smtp::PathKind kind);

// What the sessions of one delivery stream: the trace line for this hop, then the
// stored message joined from its skeleton and blobs, chunk by chunk (StreamJob). The
// message is never held whole in memory.
struct MessageContent {
  std::shared_ptr<const mime::Skeleton> skeleton;
  std::string prefix;     // the Received line
  std::uint64_t size = 0;  // prefix + joined message
};

// What one delivery attempt needs from the store (no blob is read here).
struct Loaded {
  MessageContent content;
  std::string headers;  // the stored message's header section (for bounces)
  bool eight_bit = false;
  std::int64_t created = 0;
  std::string error;  // set on failure
};

// Blocking.
Loaded load_message(storage::Store& store, const std::string& message_id, std::string prefix);

// One streaming of a message's content into a session: next() (blocking, on the pool)
// produces the next piece, joined and, for DATA, dot-stuffed. At most kStreamChunk of
// message bytes per piece; the blob reads go through a WindowSource.
class StreamJob {
 public:
  static constexpr std::size_t kStreamChunk = std::size_t{1} << 20;
  StreamJob(storage::Store& store, const MessageContent& c, bool stuff)
      : content_(c), window_(store.blob_source()), joiner_(*content_.skeleton, window_), stuff_(stuff) {}

  // Fills piece() with the next bytes; false on a failure (error()). done() after the
  // last piece (which, for DATA, ends with the line break the trailer needs).
  bool next();
  // The piece to write: dot-stuffed for DATA, else the joined bytes as they are.
  [[nodiscard]] std::string_view piece() const {
    return stuff_ ? std::string_view(piece_) : std::string_view(raw_.get(), raw_len_);
  }
  [[nodiscard]] bool done() const { return done_; }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  const MessageContent& content_;  // outlives the job (held by the delivery)
  mime::WindowSource window_;
  mime::Joiner joiner_;
  bool stuff_;
  smtp::DotStuffer stuffer_;
  std::size_t prefix_pos_ = 0;
  std::uint64_t produced_ = 0;
  bool done_ = false;
  std::unique_ptr<char[]> raw_;
  std::size_t raw_len_ = 0;
  std::string piece_;
  std::string error_;
};

// A bounce (or delay warning) into the local sender's INBOX, through the delivery
// service (split, summary, one durable commit). Blocking. Returns a log detail.
std::string send_report(Service& mail, const config::Config& cfg, const QueuedEnvelope& env,
                        const std::string& message_bytes, std::int64_t arrival,
                        std::vector<mime::DsnRecipient> rcpts);

}  // namespace refmail::delivery::outbound
