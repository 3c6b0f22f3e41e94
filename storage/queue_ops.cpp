// storage/queue_ops.cpp — relay queue operations beyond due/reschedule/remove: read one
// row, and rewrite a row's due time, attempt count, last error and (after a partial
// delivery) its envelope, in one batch. Hold = a due time far in the future.
// Must never: touch the message reference (only remove_queue drops it).
// SECURITY: envelopes stay opaque bytes; ids are looked up through the "I" index only.
#include "storage/impl.hpp"

namespace refmail::storage {

namespace {

struct Loaded {
  std::uint64_t due = 0;
  QueueValue value;
};

result<Loaded> load_row(Store::Impl& impl, std::string_view queue_id) {
  auto idx = impl.get(kCfQueue, "I" + std::string(queue_id));
  if (!idx) return idx.error();
  if (!*idx || (*idx)->size() != 8)
    return fail(errc::not_found, "queue row " + std::string(queue_id) + " not found");
  Loaded l;
  l.due = get_be64(**idx);
  auto v = impl.get(kCfQueue, queue_key(l.due, queue_id));
  if (!v) return v.error();
  if (!*v) return fail(errc::corrupt, "queue row " + std::string(queue_id) + " is missing");
  auto q = decode_queue(**v);
  if (!q) return fail(errc::corrupt, "queue row " + std::string(queue_id) + " is corrupt");
  l.value = std::move(*q);
  return l;
}

}  // namespace

result<QueueEntry> Store::get_queue(std::string_view queue_id) {
  std::lock_guard lock(impl_->local.queue_mu);
  auto l = load_row(*impl_, queue_id);
  if (!l) return l.error();
  QueueEntry e;
  e.queue_id = std::string(queue_id);
  e.message_id = std::move(l->value.message_id);
  e.envelope = std::move(l->value.envelope);
  e.due = UnixSeconds(std::chrono::seconds(static_cast<std::int64_t>(l->due)));
  e.attempts = l->value.attempts;
  e.last_error = std::move(l->value.last_error);
  return e;
}

result<void> Store::update_queue(std::string_view queue_id, UnixSeconds due, std::uint32_t attempts,
                                 std::string_view last_error,
                                 std::optional<std::string> envelope, bool durable) {
  std::lock_guard lock(impl_->local.queue_mu);
  auto l = load_row(*impl_, queue_id);
  if (!l) return l.error();
  l->value.attempts = attempts;
  l->value.last_error = std::string(last_error);
  if (envelope) l->value.envelope = std::move(*envelope);
  auto due_raw = due.time_since_epoch().count();
  const auto due_s = static_cast<std::uint64_t>(due_raw < 0 ? 0 : due_raw);
  auto batch = impl_->kv->batch();
  batch.del(kCfQueue, queue_key(l->due, queue_id));
  batch.put(kCfQueue, queue_key(due_s, queue_id), encode_queue(l->value));
  std::string nidx;
  put_be64(nidx, due_s);
  batch.put(kCfQueue, "I" + std::string(queue_id), nidx);
  return impl_->write(batch, durable);
}

}  // namespace refmail::storage
