// storage/records.cpp — value encodings of the store's records (the merge operators
// that adjust their counts live with the backend: storage/rocksdb/merge.cpp).
// Must never: trust a stored value's lengths (every decode is bounds-checked).
// SECURITY: a malformed value decodes to nullopt (reported as corrupt), never UB.
#include "storage/impl.hpp"


namespace refmail::storage {

// ---- blob meta: [i64 refcount][u8 version=1][u64 size][u32 chunks][u32 chunk_bytes]
//                 [32 sha256][i64 first_seen]; version 2 appends [str physical]
std::string encode_blob_meta(const BlobMeta& m) {
  std::string v;
  put_i64(v, m.refcount);
  // Version 1 unless the chunks live under another id (2 appends it), so a store
  // without spilled blobs keeps the format older builds read.
  v.push_back(m.physical.empty() ? '\1' : '\2');
  put_u64(v, m.size);
  put_u32(v, m.chunk_count);
  put_u32(v, m.chunk_bytes);
  v.append(reinterpret_cast<const char*>(m.sha256.data()), m.sha256.size());
  put_i64(v, m.first_seen);
  if (!m.physical.empty()) put_str(v, m.physical);
  return v;
}

std::optional<BlobMeta> decode_blob_meta(std::string_view v) {
  Reader r(v);
  BlobMeta m;
  m.refcount = r.i64();
  if (!r.ok()) return std::nullopt;
  if (r.done()) return m;  // a refcount with no record: an orphan merge
  const auto version = r.u8();
  if (version != 1 && version != 2) return std::nullopt;
  m.size = r.u64();
  m.chunk_count = r.u32();
  m.chunk_bytes = r.u32();
  auto sha = r.bytes(32);
  m.first_seen = r.i64();
  if (version == 2) {
    m.physical = r.str();
    if (m.physical.empty()) return std::nullopt;
  }
  if (!r.ok() || !r.done()) return std::nullopt;
  std::memcpy(m.sha256.data(), sha.data(), 32);
  m.has_record = true;
  return m;
}

// ---- message: [i64 refcount][u8 version=1][i64 created][u64 logical][str skeleton]
//               [str summary][u32 n][str blob_id]*n
std::string encode_message(const MessageValue& m) {
  std::string v;
  v.reserve(64 + m.record.skeleton.size() + m.record.summary.size());
  put_i64(v, m.refcount);
  v.push_back('\1');
  put_i64(v, m.created);
  put_u64(v, m.record.logical_size);
  put_str(v, m.record.skeleton);
  put_str(v, m.record.summary);
  put_u32(v, static_cast<std::uint32_t>(m.record.blob_ids.size()));
  for (const auto& id : m.record.blob_ids) put_str(v, id);
  return v;
}

std::optional<MessageValue> decode_message(std::string_view v) {
  Reader r(v);
  MessageValue m;
  m.refcount = r.i64();
  if (r.u8() != 1) return std::nullopt;
  m.created = r.i64();
  m.record.logical_size = r.u64();
  m.record.skeleton = r.str();
  m.record.summary = r.str();
  auto n = r.u32();
  if (!r.ok() || n > v.size()) return std::nullopt;
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) m.record.blob_ids.push_back(r.str());
  if (!r.done()) return std::nullopt;
  return m;
}

// ---- mailbox row: [str message_id][i64 internal_date][u64 logical][u32 n][str kw]*n
//                  [str thread_id] (optional) [u64 modseq] (optional)
std::string encode_row(const RowValue& row) {
  std::string v;
  put_str(v, row.message_id);
  put_i64(v, row.internal_date);
  put_u64(v, row.logical_size);
  put_u32(v, static_cast<std::uint32_t>(row.keywords.size()));
  for (const auto& k : row.keywords) put_str(v, k);
  // [str thread_id] since threading; older rows end after the keywords. [u64 modseq]
  // since modseqs, after the thread id (then written even when empty).
  if (!row.thread_id.empty() || row.modseq != 0) put_str(v, row.thread_id);
  if (row.modseq != 0) put_u64(v, row.modseq);
  return v;
}

std::optional<RowValue> decode_row(std::string_view v) {
  Reader r(v);
  RowValue row;
  row.message_id = r.str();
  row.internal_date = r.i64();
  row.logical_size = r.u64();
  auto n = r.u32();
  if (!r.ok() || n > v.size()) return std::nullopt;
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) row.keywords.push_back(r.str());
  if (r.ok() && !r.done()) row.thread_id = r.str();
  if (r.ok() && !r.done()) row.modseq = r.u64();
  if (!r.done()) return std::nullopt;
  return row;
}

// ---- user: [u8 version=1][str hash][u8 admin][u64 quota][i64 created]
std::string encode_user(const UserRecord& u) {
  std::string v(1, '\1');
  put_str(v, u.password_hash);
  v.push_back(u.is_admin ? '\1' : '\0');
  put_u64(v, u.quota_bytes);
  put_i64(v, u.created);
  return v;
}

std::optional<UserRecord> decode_user(std::string_view v) {
  Reader r(v);
  UserRecord u;
  if (r.u8() != 1) return std::nullopt;
  u.password_hash = r.str();
  u.is_admin = r.u8() != 0;
  u.quota_bytes = r.u64();
  u.created = r.i64();
  if (!r.done()) return std::nullopt;
  return u;
}

std::string queue_key(std::uint64_t due, std::string_view queue_id) {
  std::string k = "Q";
  put_be64(k, due);
  k.append(queue_id);
  return k;
}

std::string encode_queue(const QueueValue& q) {
  std::string v;
  put_str(v, q.message_id);
  put_str(v, q.envelope);
  put_u32(v, q.attempts);
  put_str(v, q.last_error);
  return v;
}

std::optional<QueueValue> decode_queue(std::string_view v) {
  Reader r(v);
  QueueValue q;
  q.message_id = r.str();
  q.envelope = r.str();
  q.attempts = r.u32();
  q.last_error = r.str();
  if (!r.done()) return std::nullopt;
  return q;
}

}  // namespace refmail::storage
