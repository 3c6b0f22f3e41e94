// storage/rocksdb/kv_rocksdb.cpp — the RocksDB implementation of the Kv seam: opening
// the database (options, column families, merge operators, blob files), reads,
// batches, snapshots, iterators, compaction, checkpoints, and status mapping.
// Must never: change an option that alters the on-disk format of existing folders,
// or open a database another process holds (RocksDB's LOCK file refuses it).
// SECURITY: no secrets here; the installation secret is read through get().
#include <filesystem>
#include <system_error>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include "storage/rocksdb/internal.hpp"
#include "storage/rocksdb/kv_rocksdb.hpp"

namespace refmail::storage::rocksdb_backend {
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, std::string_view needle) {
  return s.find(needle) != std::string::npos;
}

rocksdb::Slice slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

bool zstd_supported() {
  static const bool supported = [] {
    for (auto t : rocksdb::GetSupportedCompressions()) {
      if (t == rocksdb::kZSTD) return true;
    }
    return false;
  }();
  return supported;
}

rocksdb::ColumnFamilyOptions cf_options(Cf c, const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  const bool small_text = c == kCfMessage || c == kCfMailbox || c == kCfGrant;
  // Bigger blocks give ZSTD more context across the many small skeletons and rows.
  if (small_text) t.block_size = 64 << 10;
  // A Bloom filter per SST file (10 bits per key, ~1% false positives): a point read of a
  // key that is not there (most of a delivery's thread lookups by Message-ID, the thread
  // aliases, a new message's own keys) then skips the file instead of reading its index
  // and a data block, at every level; without it, those reads grew with the store.
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  o.write_buffer_size = 32 << 20;
  switch (c) {
    case kCfBlobMeta:
    case kCfMessage:
      o.merge_operator = make_refcount_merge();
      break;
    case kCfGrant:
    case kCfCounter:
      o.merge_operator = make_counter_merge();
      break;
    case kCfBlobChunk:
      // Large chunk values go to blob files so compactions do not rewrite them. Blob GC
      // (which does rewrite the live chunks of old blob files) runs only in compact(),
      // i.e. `refmailctl gc`: with small memtables, compactions are frequent, and GC in
      // each of them cost about 30 % of the CPU per message under load (docs/PERFORMANCE.md).
      o.enable_blob_files = true;
      o.min_blob_size = 4096;
      o.blob_file_size = 256 << 20;
      o.enable_blob_garbage_collection = false;
      // Small: a spilled attachment streams through here chunk by chunk, and what sits in
      // the memtable is resident memory (2 buffers of 2 MiB at most while one flushes).
      o.write_buffer_size = 2 << 20;
      break;
    default:
      break;
  }
  if (o.merge_operator) {
    // Without a bound, every operand merged into a hot key (an account's counters, its
    // state, a shared attachment's refcount) stays in the memtable until a flush, and each
    // read folds all of them: reading a mailbox's counts cost O(deliveries since the
    // flush). Past this many, the memtable folds them into one value on write.
    o.max_successive_merges = 32;
  }
  if (small_text && zstd_supported()) {
    // Skeletons, summaries and rows are text that ZSTD shrinks well beyond Snappy (the
    // message CF by ~27% on the benchmark workload); the bottom level holds almost all
    // data after a compaction. Level 3, not 19: 19 saved 0.35% more of the folder
    // (docs/PERFORMANCE.md, issue 4) but its compactions took a quarter of refmaild's CPU
    // while a 100,000-message mailbox kept receiving mail (the index keys live here too).
    o.bottommost_compression = rocksdb::kZSTD;
    o.bottommost_compression_opts.level = 3;
    o.bottommost_compression_opts.enabled = true;
  }
  return o;
}

class RocksSnapshot final : public KvSnapshot {
 public:
  explicit RocksSnapshot(rocksdb::DB* db) : db_(db), snap_(db->GetSnapshot()) {}
  ~RocksSnapshot() override { db_->ReleaseSnapshot(snap_); }
  const rocksdb::Snapshot* get() const { return snap_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snap_;
};

const rocksdb::Snapshot* raw(const KvSnapshot* s) {
  return s == nullptr ? nullptr : static_cast<const RocksSnapshot*>(s)->get();
}

class RocksBatch final : public KvBatch::Rep {
 public:
  explicit RocksBatch(const std::vector<rocksdb::ColumnFamilyHandle*>& handles)
      : handles_(handles) {}
  void put(Cf cf, std::string_view key, std::string_view value) override {
    (void)batch.Put(handles_[cf], slice(key), slice(value));
  }
  void del(Cf cf, std::string_view key) override { (void)batch.Delete(handles_[cf], slice(key)); }
  void delete_range(Cf cf, std::string_view begin, std::string_view end) override {
    (void)batch.DeleteRange(handles_[cf], slice(begin), slice(end));
  }
  void merge(Cf cf, std::string_view key, std::string_view operand) override {
    (void)batch.Merge(handles_[cf], slice(key), slice(operand));
  }
  rocksdb::WriteBatch batch;

 private:
  const std::vector<rocksdb::ColumnFamilyHandle*>& handles_;
};

class RocksIterator final : public KvIterator {
 public:
  explicit RocksIterator(rocksdb::Iterator* it) : it_(it) {}
  void seek(std::string_view key) override { it_->Seek(slice(key)); }
  void seek_to_first() override { it_->SeekToFirst(); }
  bool valid() const override { return it_->Valid(); }
  void next() override { it_->Next(); }
  void seek_for_prev(std::string_view key) override { it_->SeekForPrev(slice(key)); }
  void prev() override { it_->Prev(); }
  std::string_view key() const override { return it_->key().ToStringView(); }
  std::string_view value() const override { return it_->value().ToStringView(); }
  boost::system::error_code check(std::string_view context) const override {
    auto s = it_->status();
    if (s.ok()) return {};
    return fail_status(s, context);
  }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

class RocksPinned final : public KvPinned {
 public:
  std::string_view view() const override { return std::string_view(value.data(), value.size()); }
  rocksdb::PinnableSlice value;
};

class RocksKv final : public Kv {
 public:
  RocksKv(std::string where, bool sync_writes) : where_(std::move(where)) {
    write_options_.sync = sync_writes;
  }
  ~RocksKv() override {
    if (db) {
      for (auto* h : handles) {
        if (h != nullptr) (void)db->DestroyColumnFamilyHandle(h);
      }
      handles.clear();
      (void)db->Close();
      db.reset();
    }
  }

  result<std::optional<std::string>> get(Cf c, std::string_view key,
                                         const KvSnapshot* snap) override {
    rocksdb::ReadOptions ro;
    ro.snapshot = raw(snap);
    std::string value;
    auto s = db->Get(ro, handles[c], slice(key), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return fail_status(s, std::string("reading ") + kCfNames[c]);
    return std::optional<std::string>(std::move(value));
  }

  std::unique_ptr<KvPinned> new_pinned() override { return std::make_unique<RocksPinned>(); }

  result<bool> get_pinned(Cf c, std::string_view key, KvPinned& out) override {
    auto& pinned = static_cast<RocksPinned&>(out).value;
    pinned.Reset();
    rocksdb::ReadOptions ro;
    // Attachment chunks are read once per download, in order: caching them would only
    // push out the small records every request needs (and grow RSS by each download's
    // size); the OS page cache serves repeats.
    ro.fill_cache = c != kCfBlobChunk;
    auto s = db->Get(ro, handles[c], slice(key), &pinned);
    if (s.IsNotFound()) return false;
    if (!s.ok()) return as_error(fail_status(s, std::string("reading ") + kCfNames[c]));
    return true;
  }

  KvBatch batch() override { return KvBatch(std::make_unique<RocksBatch>(handles)); }

  result<void> write(KvBatch& batch, KvSync sync) override {
    auto wo = write_options_;
    wo.sync = sync == KvSync::kAlways || (sync == KvSync::kIfEnabled && write_options_.sync);
    auto s = db->Write(wo, &static_cast<RocksBatch&>(batch.rep()).batch);
    if (!s.ok()) return fail_status(s, where_ + ": write");
    return {};
  }

  result<void> sync_wal() override {
    if (!write_options_.sync) return {};
    auto s = db->SyncWAL();
    if (!s.ok()) return fail_status(s, where_ + ": syncing the WAL");
    return {};
  }

  std::unique_ptr<KvSnapshot> snapshot() override {
    return std::make_unique<RocksSnapshot>(db.get());
  }

  std::unique_ptr<KvIterator> iterator(Cf c, const KvSnapshot* snap) override {
    rocksdb::ReadOptions ro;
    ro.snapshot = raw(snap);
    return std::make_unique<RocksIterator>(db->NewIterator(ro, handles[c]));
  }

  result<void> compact() override {
    rocksdb::CompactRangeOptions o;
    o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    // Rewrite the live chunks of every blob file, so deleted chunks give their space back.
    o.blob_garbage_collection_policy = rocksdb::BlobGarbageCollectionPolicy::kForce;
    o.blob_garbage_collection_age_cutoff = 1.0;
    for (auto* h : handles) {
      auto s = db->CompactRange(o, h, nullptr, nullptr);
      if (!s.ok()) return fail_status(s, where_ + ": compaction");
    }
    return {};
  }

  result<void> checkpoint(const fs::path& dir) override {
    rocksdb::Checkpoint* cp_raw = nullptr;
    auto s = rocksdb::Checkpoint::Create(db.get(), &cp_raw);
    if (!s.ok()) return fail_status(s, "checkpoint " + dir.string());
    std::unique_ptr<rocksdb::Checkpoint> cp(cp_raw);
    // Flush first so the checkpoint does not depend on WAL replay of a live log.
    s = cp->CreateCheckpoint(dir.string(), /*log_size_for_flush=*/0);
    if (!s.ok()) return fail_status(s, "checkpoint " + dir.string());
    return {};
  }

  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;

 private:
  std::string where_;
  rocksdb::WriteOptions write_options_;
};

}  // namespace

boost::system::error_code fail_status(const rocksdb::Status& s, std::string_view context) {
  std::string detail = std::string(context) + ": " + s.ToString();
  const std::string msg = s.ToString();
  if (s.IsNoSpace() || contains(msg, "No space left")) return fail(errc::no_space, detail);
  if (s.IsCorruption()) return fail(errc::corrupt, detail);
  if (s.IsNotFound()) return fail(errc::not_found, detail);
  if (contains(msg, "Permission denied")) return fail(errc::permission_denied, detail);
  if (s.IsIOError() && (contains(msg, "lock") || contains(msg, "Resource temporarily")))
    return fail(errc::locked, detail);
  if (s.IsBusy() || s.IsTryAgain()) return fail(errc::busy, detail);
  return fail(errc::io_error, detail);
}

result<std::unique_ptr<Kv>> open(const StoreOptions& options) {
  const std::string where = "store " + options.path.string();
  std::error_code fec;
  const bool exists = fs::exists(options.path / "CURRENT", fec);
  if (!exists && !options.create_if_missing)
    return fail(errc::not_found, where + " does not exist (no RocksDB CURRENT file)");
  if (!exists) {
    fs::create_directories(options.path, fec);
    if (fec) {
      auto e = fec == std::errc::permission_denied ? errc::permission_denied
               : fec == std::errc::no_space_on_device ? errc::no_space
                                                      : errc::io_error;
      return fail(e, where + ": cannot create folder: " + fec.message());
    }
  }

  auto kv = std::make_unique<RocksKv>(where, options.sync_writes);
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = options.create_if_missing;
  dbo.create_missing_column_families = true;
  dbo.max_background_jobs = 2;
  dbo.keep_log_file_num = 4;
  dbo.max_total_wal_size = 256 << 20;
  dbo.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  dbo.paranoid_checks = true;
  // A crash keeps every write up to the last whole WAL record (a torn tail is cut).
  dbo.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // Reusing WAL files means a synced append does not change the file's size, so the
  // fdatasync of each commit group skips the inode update: measured 2-3x more durable
  // deliveries/s with 8 writers (docs: PERFORMANCE). Compatible with point-in-time
  // recovery (recycled records carry their log number).
  dbo.recycle_log_file_num = 4;
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);

  std::vector<rocksdb::ColumnFamilyDescriptor> cfds;
  for (int c = 0; c < kCfCount; ++c)
    cfds.emplace_back(kCfNames[c], cf_options(static_cast<Cf>(c), cache));
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::Open(dbo, options.path.string(), cfds, &kv->handles, &db);
  if (!s.ok()) {
    auto ec = fail_status(s, where);
    if (ec == errc::locked)
      return fail(errc::locked, where + " is locked by another process (is refmaild running?)");
    if (ec == errc::permission_denied)
      return fail(errc::permission_denied,
                  where + ": permission denied (check the folder's owner and mode)");
    if (ec == errc::no_space) return fail(errc::no_space, where + ": the disk is full");
    if (ec == errc::corrupt)
      return fail(errc::corrupt, where + " is corrupt: " + s.ToString() +
                                     " (restore a backup with refmailctl restore)");
    return ec;
  }
  kv->db.reset(db);
  return std::unique_ptr<Kv>(std::move(kv));
}

}  // namespace refmail::storage::rocksdb_backend
