// storage/blobs.cpp — blobs kept once, by content: ids (keyed XXH3-128), dedup after a
// full byte comparison, true-collision suffixes, range reads across chunks, the
// in-flight registry that keeps GC and concurrent deliveries correct, and blob GC.
// Must never: share a blob on a hash match alone (but a SHA-256 match: see stored_equals),
// or delete a blob a delivery is about to reference.
// SECURITY: ids are keyed with the installation secret, so a sender cannot craft
// colliding attachments; and even a collision is caught by the byte comparison.
#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>

#include <xxhash.h>

#include "storage/impl.hpp"

namespace refmail::storage {

std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

namespace {

bool valid_blob_id(std::string_view id) {
  if (id.empty() || id.size() > mime::kMaxBlobIdBytes) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '-' || c == '_';
  });
}

}  // namespace

std::size_t Store::Impl::stripe_index(std::string_view blob_id) const {
  return XXH3_64bits(blob_id.data(), blob_id.size()) % kBlobStripes;
}

BlobStripe& Store::Impl::stripe_for(std::string_view blob_id) {
  return local.blob_stripes[stripe_index(blob_id)];
}

namespace {

// Walks a blob's chunks in order, wherever they are: a staged blob's chunks in memory,
// or chunk_key(id, 0..count) in the chunk column family (a stored blob, or a spill).
class ChunkCursor {
 public:
  ChunkCursor(Kv& kv, const StagedBlob& b) : kv_(kv) {
    if (b.spill_id.empty()) {
      mem_ = &b.chunks;
    } else {
      id_ = b.spill_id;
      count_ = b.spilled_chunks;
    }
  }
  ChunkCursor(Kv& kv, std::string_view id, std::uint32_t count) : kv_(kv), id_(id), count_(count) {}

  // The next chunk (valid until the next call), or nullopt after the last.
  result<std::optional<std::string_view>> next() {
    if (mem_ != nullptr) {
      if (n_ >= mem_->size()) return std::optional<std::string_view>();
      return std::optional<std::string_view>((*mem_)[n_++]);
    }
    if (n_ >= count_) return std::optional<std::string_view>();
    if (!pinned_) pinned_ = kv_.new_pinned();
    auto found = kv_.get_pinned(kCfBlobChunk, chunk_key(id_, static_cast<std::uint32_t>(n_)), *pinned_);
    if (!found) return as_error(found.error());
    if (!*found)
      return as_error(fail(errc::corrupt, "blob chunks " + id_ + ": chunk " + std::to_string(n_) +
                                              " is missing"));
    ++n_;
    return std::optional<std::string_view>(pinned_->view());
  }

 private:
  Kv& kv_;
  const std::vector<std::string>* mem_ = nullptr;
  std::string id_;
  std::size_t count_ = 0;
  std::size_t n_ = 0;
  std::unique_ptr<KvPinned> pinned_;
};

// Byte equality of two chunk sequences (of any chunk sizes). REQUIRES: the caller
// compared the sizes (this stops at the end of the shorter).
result<bool> same_bytes(ChunkCursor a, ChunkCursor b) {
  std::string_view x, y;
  bool a_end = false, b_end = false;
  for (;;) {
    while (x.empty() && !a_end) {
      auto c = a.next();
      if (!c) return as_error(c.error());
      if (*c) x = **c;
      else a_end = true;
    }
    while (y.empty() && !b_end) {
      auto c = b.next();
      if (!c) return as_error(c.error());
      if (*c) y = **c;
      else b_end = true;
    }
    if (x.empty() || y.empty()) return x.empty() && y.empty();
    const auto n = std::min(x.size(), y.size());
    if (std::memcmp(x.data(), y.data(), n) != 0) return false;
    x.remove_prefix(n);
    y.remove_prefix(n);
  }
}

std::string stage_marker_key(std::string_view spill_id) {
  std::string k(kStageMarkerPrefix);
  k.append(spill_id);
  return k;
}

}  // namespace

result<std::string> Store::Impl::base_blob_id(const StagedBlob& b, const void* xxh_state) {
  if (options.blob_hash_override) {
    std::string all;
    all.reserve(b.size);
    ChunkCursor c(*kv, b);
    for (;;) {
      auto next = c.next();
      if (!next) return next.error();
      if (!*next) break;
      all += **next;
    }
    return options.blob_hash_override(all);
  }
  XXH128_hash_t h = XXH3_128bits_digest(static_cast<const XXH3_state_t*>(xxh_state));
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, h);
  return hex(std::span<const std::uint8_t>(canon.digest, sizeof canon.digest));
}

result<std::optional<BlobMeta>> Store::Impl::load_meta(std::string_view blob_id,
                                                       const KvSnapshot* snap) {
  auto v = get(kCfBlobMeta, blob_id, snap);
  if (!v) return v.error();
  if (!*v) return std::optional<BlobMeta>();
  auto m = decode_blob_meta(**v);
  if (!m) return fail(errc::corrupt, "blob " + std::string(blob_id) + ": meta record is corrupt");
  if (!m->has_record) return std::optional<BlobMeta>();  // bare orphan refcount
  return m;
}

// A spilled blob's SHA-256 is known (taken as it spilled), so equal digests stand for
// equal bytes: no stored chunk is read back. Finding two contents with equal keyed
// XXH3-128, size and SHA-256 is beyond anyone; a weaker match is never enough.
result<bool> Store::Impl::stored_equals(std::string_view blob_id, const BlobMeta& meta,
                                        const StagedBlob& b) {
  if (meta.size != b.size) return false;
  if (!b.spill_id.empty()) return meta.sha256 == b.sha256;
  return same_bytes(ChunkCursor(*kv, meta.chunk_id(blob_id), meta.chunk_count), ChunkCursor(*kv, b));
}

result<bool> Store::Impl::staged_equal(const StagedBlob& a, const StagedBlob& b) {
  if (a.size != b.size) return false;
  if (&a == &b) return true;
  if (!a.spill_id.empty() && !b.spill_id.empty()) return a.sha256 == b.sha256;
  return same_bytes(ChunkCursor(*kv, a), ChunkCursor(*kv, b));
}

result<void> Store::Impl::spill_chunk(StagedBlob& b, std::string_view chunk) {
  auto batch = kv->batch();
  const bool first = b.spill_id.empty();
  std::string id = first ? random_spill_id() : b.spill_id;
  if (first) {
    // The marker goes with the first chunk: whoever sees a chunk sees the marker.
    std::string since;
    put_i64(since, now_unix());
    batch.put(kCfDefault, stage_marker_key(id), since);
  }
  batch.put(kCfBlobChunk, chunk_key(id, b.spilled_chunks), chunk);
  // Not synced: the commit that adopts the spill syncs the log, and these with it.
  auto w = kv->write(batch, KvSync::kNo);
  if (!w) return w;
  if (first) {
    b.spill_id = std::move(id);
    b.chunk_bytes = static_cast<std::uint32_t>(chunk.size());
  }
  ++b.spilled_chunks;
  return {};
}

std::string Store::Impl::random_spill_id() {
  std::array<std::uint8_t, 16> r{};
  randombytes_buf(r.data(), r.size());
  return "~" + hex(r);
}

void Store::Impl::drop_spill(std::string_view spill_id, std::optional<std::uint32_t> chunks) {
  auto batch = kv->batch();
  if (chunks) {  // point deletes: cheaper for later reads than a range tombstone
    for (std::uint32_t n = 0; n < *chunks; ++n) batch.del(kCfBlobChunk, chunk_key(spill_id, n));
  } else {
    std::string begin(spill_id), end(spill_id);
    begin.push_back('\0');
    end.push_back('\1');
    batch.delete_range(kCfBlobChunk, begin, end);
  }
  batch.del(kCfDefault, stage_marker_key(spill_id));
  // Best effort: on failure the marker stays, and the next open sweeps it.
  (void)kv->write(batch, KvSync::kNo);
}

result<std::size_t> Store::Impl::sweep_spills() {
  std::vector<std::string> ids;
  auto it = iter(kCfDefault);
  for (it->seek(kStageMarkerPrefix); it->valid() && it->key().starts_with(kStageMarkerPrefix); it->next())
    ids.emplace_back(it->key().substr(kStageMarkerPrefix.size()));
  if (auto ec = it->check("sweeping staged blobs")) return ec;
  for (const auto& id : ids) drop_spill(id, std::nullopt);  // how many chunks: unknown
  if (!ids.empty()) {
    auto s = kv->sync_wal();
    if (!s) return s.error();
  }
  return ids.size();
}

// Decision protocol (all under the id's stripe mutex, so it is atomic with respect to
// other deliveries' decisions and to gc_blob):
//  1. an in-flight entry for the id: equal bytes -> share it (pin); else next suffix;
//  2. a stored blob: equal bytes (full compare, or SHA-256 for a spill) -> reuse it
//     (pin); else next suffix;
//  3. a free id: register our bytes as pending; we (or a co-pinner) write it at commit.
// *use is what the delivery reads and writes from then on: our bytes when we
// registered them, the pending entry's when we share it, null when the blob is stored
// (our own bytes, spilled or not, are then dropped by the caller).
result<std::string> Store::Impl::resolve_and_pin(const StagedPtr& bytes, const std::string& base,
                                                 bool* pending, StagedPtr* use) {
  for (std::uint32_t n = 0; n < 1000; ++n) {
    std::string id = n == 0 ? base : base + "-" + std::to_string(n);
    auto& stripe = stripe_for(id);
    std::lock_guard lock(stripe.mu);
    auto it = stripe.inflight.find(id);
    if (it != stripe.inflight.end()) {
      result<bool> same = false;
      if (it->second.pending) {
        same = staged_equal(*it->second.pending, *bytes);
      } else {
        auto meta = load_meta(id);
        if (!meta) return meta.error();
        if (!*meta) return fail(errc::corrupt, "blob " + id + " is pinned but missing");
        same = stored_equals(id, **meta, *bytes);
      }
      if (!same) return same.error();
      if (!*same) continue;
      ++it->second.pins;
      *pending = it->second.pending != nullptr;
      *use = it->second.pending;
      return id;
    }
    auto meta = load_meta(id);
    if (!meta) return meta.error();
    if (*meta) {
      auto eq = stored_equals(id, **meta, *bytes);
      if (!eq) return eq.error();
      if (!*eq) continue;  // a true collision: try the next suffix
      stripe.inflight.emplace(id, InflightEntry{1, nullptr});
      *pending = false;
      use->reset();
      return id;
    }
    stripe.inflight.emplace(id, InflightEntry{1, bytes});
    *pending = true;
    *use = bytes;
    return id;
  }
  return fail(errc::io_error, "blob " + base + ": too many colliding contents");
}

result<void> Store::Impl::pin_existing(std::string_view blob_id) {
  if (!valid_blob_id(blob_id)) return fail(errc::invalid_argument, "malformed blob id");
  auto& stripe = stripe_for(blob_id);
  std::lock_guard lock(stripe.mu);
  std::string id(blob_id);
  auto it = stripe.inflight.find(id);
  if (it != stripe.inflight.end()) {
    ++it->second.pins;
    return {};
  }
  auto meta = load_meta(id);
  if (!meta) return meta.error();
  if (!*meta) return fail(errc::not_found, "blob " + id + " does not exist");
  stripe.inflight.emplace(id, InflightEntry{1, nullptr});
  return {};
}

void Store::Impl::unpin(std::string_view blob_id) {
  auto& stripe = stripe_for(blob_id);
  std::lock_guard lock(stripe.mu);
  auto it = stripe.inflight.find(std::string(blob_id));
  if (it == stripe.inflight.end()) return;
  if (--it->second.pins <= 0) stripe.inflight.erase(it);
}

void Store::Impl::write_new_blob(KvBatch& batch, std::string_view blob_id,
                                 const StagedBlob& b, std::int64_t refcount) {
  BlobMeta m;
  m.refcount = refcount;
  m.has_record = true;
  m.size = b.size;
  // Chunks are all full except the last, so chunk_bytes locates any offset.
  if (!b.spill_id.empty()) {
    // Adopt the spill: its chunks are already written (unsynced; this batch syncs them).
    m.physical = b.spill_id;
    m.chunk_count = b.spilled_chunks;
    m.chunk_bytes = b.chunk_bytes;
    m.sha256 = b.sha256;
    batch.del(kCfDefault, stage_marker_key(b.spill_id));
  } else {
    m.chunk_count = static_cast<std::uint32_t>(b.chunks.size());
    m.chunk_bytes = static_cast<std::uint32_t>(b.chunks.empty() ? options.max_chunk_bytes
                                                                : b.chunks.front().size());
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    for (std::uint32_t n = 0; n < m.chunk_count; ++n) {
      EVP_DigestUpdate(ctx, b.chunks[n].data(), b.chunks[n].size());
      batch.put(kCfBlobChunk, chunk_key(blob_id, n), b.chunks[n]);
    }
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, m.sha256.data(), &len);
    EVP_MD_CTX_free(ctx);
  }
  m.first_seen = now_unix();
  batch.put(kCfBlobMeta, std::string_view(blob_id.data(), blob_id.size()), encode_blob_meta(m));
  batch.put(kCfBlobSha,
            std::string_view(reinterpret_cast<const char*>(m.sha256.data()), m.sha256.size()),
            std::string_view(blob_id.data(), blob_id.size()));
  batch.merge(kCfCounter, kPhysicalBytes, add_operand(static_cast<std::int64_t>(b.size)));
  batch.merge(kCfCounter, kBlobs, add_operand(1));
}

result<void> Store::Impl::gc_blob(std::string_view blob_id, GcReport* report) {
  auto& stripe = stripe_for(blob_id);
  std::lock_guard lock(stripe.mu);
  if (stripe.inflight.count(std::string(blob_id)) != 0) return {};  // a delivery pins it
  auto v = get(kCfBlobMeta, blob_id);
  if (!v) return v.error();
  if (!*v) return {};
  auto m = decode_blob_meta(**v);
  if (!m) return fail(errc::corrupt, "blob " + std::string(blob_id) + ": meta is corrupt");
  if (m->refcount > 0) return {};
  auto batch = kv->batch();
  batch.del(kCfBlobMeta, std::string_view(blob_id.data(), blob_id.size()));
  if (m->has_record) {
    for (std::uint32_t n = 0; n < m->chunk_count; ++n)
      batch.del(kCfBlobChunk, chunk_key(m->chunk_id(blob_id), n));
    std::string_view sha(reinterpret_cast<const char*>(m->sha256.data()), 32);
    auto idx = get(kCfBlobSha, std::string_view(sha.data(), sha.size()));
    if (!idx) return idx.error();
    if (*idx && **idx == blob_id) batch.del(kCfBlobSha, sha);
    batch.merge(kCfCounter, kPhysicalBytes, add_operand(-static_cast<std::int64_t>(m->size)));
    batch.merge(kCfCounter, kBlobs, add_operand(-1));
  }
  auto w = write(batch);
  if (!w) return w;
  if (report != nullptr && m->has_record) {
    ++report->blobs_deleted;
    report->bytes_freed += m->size;
  }
  return {};
}

void Store::Impl::gc_blobs(const std::vector<std::string>& ids) {
  // Best effort: a blob left at refcount 0 (I/O error, crash) is collected by gc().
  for (const auto& id : ids) (void)gc_blob(id, nullptr);
}

result<std::size_t> Store::Impl::read_chunks(std::string_view chunk_id, std::uint64_t size,
                                             std::uint32_t chunk_bytes, std::uint64_t offset,
                                             std::span<char> out) {
  if (offset >= size || out.empty()) return std::size_t{0};
  if (chunk_bytes == 0) return fail(errc::corrupt, "blob chunks " + std::string(chunk_id) + ": chunk size 0");
  std::size_t copied = 0;
  auto pinned = kv->new_pinned();
  while (copied < out.size() && offset < size) {
    auto n = static_cast<std::uint32_t>(offset / chunk_bytes);
    auto within = static_cast<std::size_t>(offset % chunk_bytes);
    auto found = kv->get_pinned(kCfBlobChunk, chunk_key(chunk_id, n), *pinned);
    if (!found) return found.error();
    if (!*found)
      return fail(errc::corrupt, "blob chunks " + std::string(chunk_id) + ": chunk " +
                                     std::to_string(n) + " is missing");
    const std::string_view chunk = pinned->view();
    if (within >= chunk.size())
      return fail(errc::corrupt, "blob chunks " + std::string(chunk_id) + ": chunk " +
                                     std::to_string(n) + " is short");
    auto take = std::min(out.size() - copied, chunk.size() - within);
    std::memcpy(out.data() + copied, chunk.data() + within, take);
    copied += take;
    offset += take;
  }
  return copied;
}

// ---- public blob API ----

result<std::size_t> Store::read_blob(std::string_view blob_id, std::uint64_t offset,
                                     std::span<char> out) {
  if (!valid_blob_id(blob_id)) return fail(errc::not_found, "blob not found");
  auto meta = impl_->load_meta(blob_id);
  if (!meta) return meta.error();
  if (!*meta) return fail(errc::not_found, "blob " + std::string(blob_id) + " not found");
  const auto& m = **meta;
  return impl_->read_chunks(m.chunk_id(blob_id), m.size, m.chunk_bytes, offset, out);
}

result<BlobInfo> Store::blob_info(std::string_view blob_id) {
  if (!valid_blob_id(blob_id)) return fail(errc::not_found, "blob not found");
  auto meta = impl_->load_meta(blob_id);
  if (!meta) return meta.error();
  if (!*meta) return fail(errc::not_found, "blob " + std::string(blob_id) + " not found");
  BlobInfo info;
  info.blob_id = std::string(blob_id);
  info.size_bytes = (*meta)->size;
  info.sha256 = (*meta)->sha256;
  info.refcount = (*meta)->refcount;
  info.first_seen = UnixSeconds(std::chrono::seconds((*meta)->first_seen));
  return info;
}

result<std::string> Store::find_blob_by_sha256(const Sha256& digest) {
  auto v = impl_->get(kCfBlobSha,
                      std::string_view(reinterpret_cast<const char*>(digest.data()), 32));
  if (!v) return v.error();
  if (!*v) return fail(errc::not_found, "no blob with SHA-256 " + hex(digest));
  return std::move(**v);
}

result<std::string> Store::find_granted_blob_by_sha256(std::string_view account,
                                                       const Sha256& digest) {
  auto id = find_blob_by_sha256(digest);
  if (!id) return id.error();
  auto g = grant_count(account, *id);
  if (!g) return g.error();
  // The same answer as an unknown digest: no oracle on other accounts' blobs.
  if (*g <= 0) return fail(errc::not_found, "no blob with SHA-256 " + hex(digest));
  return id;
}

result<std::int64_t> Store::grant_count(std::string_view account, std::string_view blob_id) {
  auto acct = canonical_address(account);
  if (!acct) return std::int64_t{0};
  auto v = impl_->get(kCfGrant, grant_key(*acct, blob_id));
  if (!v) return v.error();
  if (!*v) return std::int64_t{0};
  if ((*v)->size() != 8) return fail(errc::corrupt, "grant record is corrupt");
  return std::max<std::int64_t>(0, decode_i64(**v));
}

result<GcReport> Store::gc() {
  GcReport report;
  std::vector<std::string> zero;
  {
    std::shared_lock admin(impl_->local.admin_mu);
    auto it = impl_->iter(kCfBlobMeta);
    for (it->seek_to_first(); it->valid(); it->next()) {
      auto m = decode_blob_meta(std::string_view(it->value().data(), it->value().size()));
      if (m && m->refcount <= 0) zero.emplace_back(std::string(it->key()));
    }
    if (auto ec = it->check("gc: scanning blobs")) return ec;
    for (const auto& id : zero) {
      auto r = impl_->gc_blob(id, &report);
      if (!r) return r.error();
    }
  }
  // Grants that fell to zero (expunged rows) leave their keys behind; a delivery may
  // raise one again at any time, so they are re-checked under the exclusive lock.
  std::vector<std::string> zero_grants;
  {
    auto it = impl_->iter(kCfGrant);
    for (it->seek_to_first(); it->valid(); it->next())
      if (it->value().size() == 8 && decode_i64(std::string_view(it->value().data(), 8)) == 0)
        zero_grants.push_back(std::string(it->key()));
    if (auto ec = it->check("gc: scanning grants")) return ec;
  }
  if (!zero_grants.empty()) {
    std::unique_lock admin(impl_->local.admin_mu);
    auto batch = impl_->kv->batch();
    for (const auto& key : zero_grants) {
      auto v = impl_->get(kCfGrant, key);
      if (!v) return v.error();
      if (*v && (*v)->size() == 8 && decode_i64(**v) == 0) {
        batch.del(kCfGrant, key);
        ++report.grants_deleted;
      }
    }
    auto w = impl_->write(batch);
    if (!w) return w.error();
  }
  auto c = compact();
  if (!c) return c.error();
  return report;
}

}  // namespace refmail::storage
