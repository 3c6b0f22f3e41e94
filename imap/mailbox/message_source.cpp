// imap/mailbox/message_source.cpp — MessageSource: the store's skeleton through the
// joiner (mime/joiner.hpp) with the blob reads windowed (mime/window_source.hpp).
// Skipping to an offset reads and drops the bytes before it.
#include "imap/mailbox/message_source.hpp"

#include <algorithm>
#include <vector>

#include "mime/joiner.hpp"
#include "mime/skeleton.hpp"
#include "mime/window_source.hpp"
#include "storage/errors.hpp"
#include "storage/store.hpp"

namespace refmail::imap::mailbox {

struct MessageSource::State {
  mime::Skeleton skeleton;
  std::unique_ptr<mime::WindowSource> window;
  std::unique_ptr<mime::Joiner> joiner;
};

MessageSource::MessageSource(storage::Store& store, std::string message_id, std::uint64_t offset, std::uint64_t size)
    : store_(store), message_id_(std::move(message_id)), offset_(offset), left_(size) {}

MessageSource::~MessageSource() = default;

boost::system::result<std::size_t> MessageSource::read(std::span<char> out) {
  if (left_ == 0 || out.empty()) return std::size_t{0};
  if (!state_) {
    auto msg = store_.get_message(message_id_);
    if (!msg) return msg.error();
    auto skel = mime::Skeleton::parse(msg->record.skeleton);
    if (!skel) return skel.error();
    auto st = std::make_unique<State>();
    st->skeleton = std::move(*skel);
    st->window = std::make_unique<mime::WindowSource>(store_.blob_source());
    st->joiner = std::make_unique<mime::Joiner>(st->skeleton, *st->window);
    state_ = std::move(st);
    std::vector<char> skip(64 * 1024);
    while (offset_ > 0) {
      auto n = state_->joiner->read(std::span<char>(skip.data(), std::min<std::uint64_t>(skip.size(), offset_)));
      if (!n) return n.error();
      if (*n == 0) return std::size_t{0};  // shorter than announced: the server closes
      offset_ -= *n;
    }
  }
  auto n = state_->joiner->read(out.first(std::min<std::uint64_t>(out.size(), left_)));
  if (!n) return n.error();
  left_ -= *n;
  return *n;
}

}  // namespace refmail::imap::mailbox
