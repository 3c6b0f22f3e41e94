// storage/blobs.cpp — blobs kept once, by content: ids (keyed XXH3-128), dedup after a
// full byte comparison, true-collision suffixes, range reads across chunks, the
// in-flight registry that keeps GC and concurrent deliveries correct, and blob GC.
// Must never: share a blob on a hash match alone, or delete a blob a delivery is about
// to reference.
// SECURITY: ids are keyed with the installation secret, so a sender cannot craft
// colliding attachments; and even a collision is caught by the byte comparison.
#include <openssl/evp.h>

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
  return blob_stripes[stripe_index(blob_id)];
}

std::string Store::Impl::base_blob_id(const StagedBlob& b, const void* xxh_state) const {
  if (options.blob_hash_override) {
    std::string all;
    all.reserve(b.size);
    for (const auto& c : b.chunks) all += c;
    return options.blob_hash_override(all);
  }
  XXH128_hash_t h = XXH3_128bits_digest(static_cast<const XXH3_state_t*>(xxh_state));
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, h);
  return hex(std::span<const std::uint8_t>(canon.digest, sizeof canon.digest));
}

result<std::optional<BlobMeta>> Store::Impl::load_meta(std::string_view blob_id,
                                                       const rocksdb::Snapshot* snap) {
  auto v = get(kCfBlobMeta, blob_id, snap);
  if (!v) return v.error();
  if (!*v) return std::optional<BlobMeta>();
  auto m = decode_blob_meta(**v);
  if (!m) return fail(errc::corrupt, "blob " + std::string(blob_id) + ": meta record is corrupt");
  if (!m->has_record) return std::optional<BlobMeta>();  // bare orphan refcount
  return m;
}

result<bool> Store::Impl::stored_equals(std::string_view blob_id, const BlobMeta& meta,
                                        const StagedBlob& b) {
  if (meta.size != b.size) return false;
  // Walk the stored chunks and the staged chunks side by side.
  std::size_t si = 0, soff = 0;
  rocksdb::ReadOptions ro;
  rocksdb::PinnableSlice chunk;
  for (std::uint32_t n = 0; n < meta.chunk_count; ++n) {
    chunk.Reset();
    auto key = chunk_key(blob_id, n);
    auto s = db->Get(ro, cf(kCfBlobChunk), key, &chunk);
    if (s.IsNotFound())
      return as_error(fail(errc::corrupt, "blob " + std::string(blob_id) + ": chunk " +
                                              std::to_string(n) + " is missing"));
    if (!s.ok()) return as_error(fail_status(s, "reading blob " + std::string(blob_id)));
    std::string_view have(chunk.data(), chunk.size());
    while (!have.empty()) {
      if (si >= b.chunks.size()) return false;
      const auto& mine = b.chunks[si];
      auto n_cmp = std::min(have.size(), mine.size() - soff);
      if (std::memcmp(have.data(), mine.data() + soff, n_cmp) != 0) return false;
      have.remove_prefix(n_cmp);
      soff += n_cmp;
      if (soff == mine.size()) { ++si; soff = 0; }
    }
  }
  return si == b.chunks.size();
}

namespace {
bool staged_equal(const StagedBlob& a, const StagedBlob& b) {
  if (a.size != b.size) return false;
  if (&a == &b) return true;
  std::size_t ai = 0, aoff = 0, bi = 0, boff = 0;
  while (ai < a.chunks.size() && bi < b.chunks.size()) {
    auto n = std::min(a.chunks[ai].size() - aoff, b.chunks[bi].size() - boff);
    if (std::memcmp(a.chunks[ai].data() + aoff, b.chunks[bi].data() + boff, n) != 0) return false;
    aoff += n;
    boff += n;
    if (aoff == a.chunks[ai].size()) { ++ai; aoff = 0; }
    if (boff == b.chunks[bi].size()) { ++bi; boff = 0; }
  }
  return true;
}
}  // namespace

// Decision protocol (all under the id's stripe mutex, so it is atomic with respect to
// other deliveries' decisions and to gc_blob):
//  1. an in-flight entry for the id: equal bytes -> share it (pin); else next suffix;
//  2. a stored blob: equal bytes (full compare) -> reuse it (pin); else next suffix;
//  3. a free id: register our bytes as pending; we (or a co-pinner) write it at commit.
result<std::string> Store::Impl::resolve_and_pin(const StagedPtr& bytes, const std::string& base,
                                                 bool* pending) {
  for (std::uint32_t n = 0; n < 1000; ++n) {
    std::string id = n == 0 ? base : base + "-" + std::to_string(n);
    auto& stripe = stripe_for(id);
    std::lock_guard lock(stripe.mu);
    auto it = stripe.inflight.find(id);
    if (it != stripe.inflight.end()) {
      bool same = false;
      if (it->second.pending) {
        same = staged_equal(*it->second.pending, *bytes);
      } else {
        auto meta = load_meta(id);
        if (!meta) return meta.error();
        if (!*meta) return fail(errc::corrupt, "blob " + id + " is pinned but missing");
        auto eq = stored_equals(id, **meta, *bytes);
        if (!eq) return eq.error();
        same = *eq;
      }
      if (!same) continue;
      ++it->second.pins;
      *pending = it->second.pending != nullptr;
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
      return id;
    }
    stripe.inflight.emplace(id, InflightEntry{1, bytes});
    *pending = true;
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

void Store::Impl::write_new_blob(rocksdb::WriteBatch& batch, std::string_view blob_id,
                                 const StagedBlob& b, std::int64_t refcount) {
  BlobMeta m;
  m.refcount = refcount;
  m.has_record = true;
  m.size = b.size;
  m.chunk_count = static_cast<std::uint32_t>(b.chunks.size());
  m.chunk_bytes = static_cast<std::uint32_t>(b.chunks.empty() ? options.max_chunk_bytes
                                                              : b.chunks.front().size());
  // Chunks are all full except the last, so chunk_bytes locates any offset.
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (std::uint32_t n = 0; n < m.chunk_count; ++n) {
    EVP_DigestUpdate(ctx, b.chunks[n].data(), b.chunks[n].size());
    batch.Put(cf(kCfBlobChunk), chunk_key(blob_id, n), b.chunks[n]);
  }
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, m.sha256.data(), &len);
  EVP_MD_CTX_free(ctx);
  m.first_seen = now_unix();
  batch.Put(cf(kCfBlobMeta), rocksdb::Slice(blob_id.data(), blob_id.size()), encode_blob_meta(m));
  batch.Put(cf(kCfBlobSha),
            rocksdb::Slice(reinterpret_cast<const char*>(m.sha256.data()), m.sha256.size()),
            rocksdb::Slice(blob_id.data(), blob_id.size()));
  batch.Merge(cf(kCfCounter), kPhysicalBytes, add_operand(static_cast<std::int64_t>(b.size)));
  batch.Merge(cf(kCfCounter), kBlobs, add_operand(1));
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
  rocksdb::WriteBatch batch;
  batch.Delete(cf(kCfBlobMeta), rocksdb::Slice(blob_id.data(), blob_id.size()));
  if (m->has_record) {
    for (std::uint32_t n = 0; n < m->chunk_count; ++n)
      batch.Delete(cf(kCfBlobChunk), chunk_key(blob_id, n));
    rocksdb::Slice sha(reinterpret_cast<const char*>(m->sha256.data()), 32);
    auto idx = get(kCfBlobSha, std::string_view(sha.data(), sha.size()));
    if (!idx) return idx.error();
    if (*idx && **idx == blob_id) batch.Delete(cf(kCfBlobSha), sha);
    batch.Merge(cf(kCfCounter), kPhysicalBytes, add_operand(-static_cast<std::int64_t>(m->size)));
    batch.Merge(cf(kCfCounter), kBlobs, add_operand(-1));
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

// ---- public blob API ----

result<std::size_t> Store::read_blob(std::string_view blob_id, std::uint64_t offset,
                                     std::span<char> out) {
  if (!valid_blob_id(blob_id)) return fail(errc::not_found, "blob not found");
  auto meta = impl_->load_meta(blob_id);
  if (!meta) return meta.error();
  if (!*meta) return fail(errc::not_found, "blob " + std::string(blob_id) + " not found");
  const auto& m = **meta;
  if (offset >= m.size || out.empty()) return std::size_t{0};
  std::size_t copied = 0;
  rocksdb::ReadOptions ro;
  // Attachment bytes are read once per download, in order: keeping them in the block
  // cache would only push out the small records every request needs (and grow RSS by
  // each download's size); the OS page cache serves repeats.
  ro.fill_cache = false;
  rocksdb::PinnableSlice chunk;
  while (copied < out.size() && offset < m.size) {
    auto n = static_cast<std::uint32_t>(offset / m.chunk_bytes);
    auto within = static_cast<std::size_t>(offset % m.chunk_bytes);
    chunk.Reset();
    auto s = impl_->db->Get(ro, impl_->cf(kCfBlobChunk), chunk_key(blob_id, n), &chunk);
    if (s.IsNotFound())
      return fail(errc::corrupt, "blob " + std::string(blob_id) + ": chunk " +
                                     std::to_string(n) + " is missing");
    if (!s.ok()) return fail_status(s, "reading blob " + std::string(blob_id));
    if (within >= chunk.size())
      return fail(errc::corrupt, "blob " + std::string(blob_id) + ": chunk " +
                                     std::to_string(n) + " is short");
    auto take = std::min(out.size() - copied, chunk.size() - within);
    std::memcpy(out.data() + copied, chunk.data() + within, take);
    copied += take;
    offset += take;
  }
  return copied;
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
    std::shared_lock admin(impl_->admin_mu);
    auto it = impl_->iter(kCfBlobMeta);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto m = decode_blob_meta(std::string_view(it->value().data(), it->value().size()));
      if (m && m->refcount <= 0) zero.emplace_back(it->key().ToString());
    }
    if (!it->status().ok()) return fail_status(it->status(), "gc: scanning blobs");
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
    for (it->SeekToFirst(); it->Valid(); it->Next())
      if (it->value().size() == 8 && decode_i64(std::string_view(it->value().data(), 8)) == 0)
        zero_grants.push_back(it->key().ToString());
    if (!it->status().ok()) return fail_status(it->status(), "gc: scanning grants");
  }
  if (!zero_grants.empty()) {
    std::unique_lock admin(impl_->admin_mu);
    rocksdb::WriteBatch batch;
    for (const auto& key : zero_grants) {
      auto v = impl_->get(kCfGrant, key);
      if (!v) return v.error();
      if (*v && (*v)->size() == 8 && decode_i64(**v) == 0) {
        batch.Delete(impl_->cf(kCfGrant), key);
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
