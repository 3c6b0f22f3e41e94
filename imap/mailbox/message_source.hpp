// imap/mailbox/message_source.hpp — a LiteralSource (imap/action.hpp) over one stored
// message: the bytes [offset, offset + size) of the joined message (skeleton + blobs),
// read from the store only when the server writes the literal (the skeleton is loaded
// then, so a reply of many literals holds no skeletons).
// Must never: produce more than `size` bytes, or hold the whole message.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "imap/action.hpp"

namespace refmail::storage {
class Store;
}

namespace refmail::imap::mailbox {

class MessageSource final : public LiteralSource {
 public:
  // `store` outlives the source.
  MessageSource(storage::Store& store, std::string message_id, std::uint64_t offset, std::uint64_t size);
  ~MessageSource() override;
  [[nodiscard]] boost::system::result<std::size_t> read(std::span<char> out) override;

 private:
  struct State;
  storage::Store& store_;
  std::string message_id_;
  std::uint64_t offset_, left_;
  std::unique_ptr<State> state_;  // loaded on the first read
};

}  // namespace refmail::imap::mailbox
