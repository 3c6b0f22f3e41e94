// imap/mailbox/message_source.cpp — MessageSource: on the first read, the stored
// skeleton and a RangeSource (imap/message_view.hpp: the joiner seeked to the range, so
// only the blob bytes the range covers are read).
#include "imap/mailbox/message_source.hpp"

#include "imap/message_view.hpp"
#include "mime/skeleton.hpp"
#include "storage/errors.hpp"
#include "storage/store.hpp"

namespace refmail::imap::mailbox {

struct MessageSource::State {
  std::unique_ptr<RangeSource> range;
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
    st->range = std::make_unique<RangeSource>(std::make_shared<const mime::Skeleton>(std::move(*skel)),
                                              store_.blob_source(), offset_, left_);
    state_ = std::move(st);
  }
  auto n = state_->range->read(out.first(std::min<std::uint64_t>(out.size(), left_)));
  if (!n) return n.error();
  left_ -= *n;
  return *n;
}

}  // namespace refmail::imap::mailbox
