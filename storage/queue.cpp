// storage/queue.cpp — message lookup and the durable relay queue. A queue row holds a
// message reference (counted in the message's refcount) until it is removed.
// Keys: "Q" due(be64 seconds) queue_id -> row; "I" queue_id -> due (the index).
// Must never: lose the message reference of a queued row, or drop one twice.
// SECURITY: envelopes are opaque bytes for the relay; the store does not parse them.
#include "storage/impl.hpp"

namespace refmail::storage {


result<StoredMessage> Store::get_message(std::string_view message_id) {
  auto mv = impl_->load_message(message_id);
  if (!mv) return mv.error();
  if (!*mv) return fail(errc::not_found, "message " + std::string(message_id) + " not found");
  StoredMessage m;
  m.message_id = std::string(message_id);
  m.refcount = (*mv)->refcount;
  m.created = UnixSeconds(std::chrono::seconds((*mv)->created));
  m.record = std::move((*mv)->record);
  return m;
}

result<std::vector<QueueEntry>> Store::due_queue(UnixSeconds now, std::size_t limit) {
  std::vector<QueueEntry> out;
  const auto now_s = static_cast<std::uint64_t>(now.time_since_epoch().count());
  auto it = impl_->iter(kCfQueue);
  for (it->seek("Q"); it->valid() && out.size() < limit; it->next()) {
    auto key = std::string_view(it->key().data(), it->key().size());
    if (key.size() < 9 || key[0] != 'Q') break;
    auto due = get_be64(key.substr(1, 8));
    if (due > now_s) break;
    auto q = decode_queue(std::string_view(it->value().data(), it->value().size()));
    if (!q) return fail(errc::corrupt, "queue row is corrupt");
    QueueEntry e;
    e.queue_id = std::string(key.substr(9));
    e.message_id = std::move(q->message_id);
    e.envelope = std::move(q->envelope);
    e.due = UnixSeconds(std::chrono::seconds(static_cast<std::int64_t>(due)));
    e.attempts = q->attempts;
    e.last_error = std::move(q->last_error);
    out.push_back(std::move(e));
  }
  if (auto ec = it->check("listing the queue")) return ec;
  return out;
}

result<void> Store::reschedule_queue(std::string_view queue_id, UnixSeconds due,
                                     std::string_view last_error) {
  std::lock_guard lock(impl_->local.queue_mu);
  auto idx = impl_->get(kCfQueue, "I" + std::string(queue_id));
  if (!idx) return idx.error();
  if (!*idx || (*idx)->size() != 8) return fail(errc::not_found, "queue row " + std::string(queue_id) + " not found");
  auto old_key = queue_key(get_be64(**idx), queue_id);
  auto v = impl_->get(kCfQueue, old_key);
  if (!v) return v.error();
  if (!*v) return fail(errc::corrupt, "queue row " + std::string(queue_id) + " is missing");
  auto q = decode_queue(**v);
  if (!q) return fail(errc::corrupt, "queue row " + std::string(queue_id) + " is corrupt");
  ++q->attempts;
  q->last_error = std::string(last_error);
  const auto due_s = static_cast<std::uint64_t>(due.time_since_epoch().count());
  auto batch = impl_->kv->batch();
  batch.del(kCfQueue, old_key);
  batch.put(kCfQueue, queue_key(due_s, queue_id), encode_queue(*q));
  std::string nidx;
  put_be64(nidx, due_s);
  batch.put(kCfQueue, "I" + std::string(queue_id), nidx);
  return impl_->write(batch);
}

result<void> Store::remove_queue(std::string_view queue_id, bool durable) {
  std::vector<std::string> gc;
  {
    std::shared_lock admin(impl_->local.admin_mu);
    std::lock_guard lock(impl_->local.queue_mu);
    auto idx = impl_->get(kCfQueue, "I" + std::string(queue_id));
    if (!idx) return idx.error();
    if (!*idx || (*idx)->size() != 8)
      return fail(errc::not_found, "queue row " + std::string(queue_id) + " not found");
    auto key = queue_key(get_be64(**idx), queue_id);
    auto v = impl_->get(kCfQueue, key);
    if (!v) return v.error();
    auto batch = impl_->kv->batch();
    batch.del(kCfQueue, key);
    batch.del(kCfQueue, "I" + std::string(queue_id));
    std::optional<QueueValue> q;
    if (*v) q = decode_queue(**v);
    if (!q) {
      auto w = impl_->write(batch, durable);
      if (!w) return w;
    } else {
      std::lock_guard mlock(impl_->message_lock(q->message_id));
      auto mv = impl_->load_message(q->message_id);
      if (!mv) return mv.error();
      if (*mv) impl_->drop_message_ref(batch, q->message_id, **mv, &gc);
      auto w = impl_->write(batch, durable);
      if (!w) return w;
    }
    if (!durable && !gc.empty()) {
      // Blobs go only once the dropped reference is durable.
      auto synced = impl_->sync_wal();
      if (!synced) return synced;
    }
    impl_->gc_blobs(gc);
  }
  return {};
}

result<void> Store::sync_queue() { return impl_->sync_wal(); }

}  // namespace refmail::storage
