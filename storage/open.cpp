// storage/open.cpp — opening and closing the store (column families, merge operators,
// blob files, the per-installation secret), status mapping, checkpoint and restore.
// Must never: leave a half-restored data folder, or open a store another process holds.
// SECURITY: the XXH3 secret is made by libsodium's CSPRNG at first open and never
// leaves the store; without it nobody can precompute colliding blob ids.
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/env.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <xxhash.h>

#include "storage/impl.hpp"

namespace refmail::storage {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSecretKey = "refmail/secret";
constexpr std::string_view kFormatKey = "refmail/format";
constexpr std::string_view kFormatVersion = "1";
constexpr std::size_t kSecretBytes = 192;
static_assert(kSecretBytes >= XXH3_SECRET_SIZE_MIN);

bool contains(const std::string& s, std::string_view needle) {
  return s.find(needle) != std::string::npos;
}

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
      // Large chunk values go to blob files so compactions do not rewrite them; blob
      // GC during compaction gives back the space of deleted chunks.
      o.enable_blob_files = true;
      o.min_blob_size = 4096;
      o.blob_file_size = 256 << 20;
      o.enable_blob_garbage_collection = true;
      o.blob_garbage_collection_age_cutoff = 1.0;
      o.write_buffer_size = 64 << 20;
      break;
    default:
      break;
  }
  if (small_text && zstd_supported()) {
    // Skeletons, summaries and rows are text that ZSTD shrinks well beyond Snappy (the
    // message CF by ~27% on the benchmark workload); the bottom level holds almost all
    // data after a compaction, and compressing there costs nothing on the write path
    // (these CFs are a few percent of the store, so even level 19 compacts quickly).
    o.bottommost_compression = rocksdb::kZSTD;
    o.bottommost_compression_opts.level = 19;
    o.bottommost_compression_opts.enabled = true;
  }
  return o;
}

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

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Store::Impl::~Impl() {
  if (db) {
    for (auto* h : handles) {
      if (h != nullptr) (void)db->DestroyColumnFamilyHandle(h);
    }
    handles.clear();
    (void)db->Close();
    db.reset();
  }
}

result<std::optional<std::string>> Store::Impl::get(Cf c, std::string_view key,
                                                    const rocksdb::Snapshot* snap) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::string value;
  auto s = db->Get(ro, cf(c), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return fail_status(s, std::string("reading ") + kCfNames[c]);
  return std::optional<std::string>(std::move(value));
}

result<void> Store::Impl::write(rocksdb::WriteBatch& batch, bool sync) {
  auto wo = write_options;
  wo.sync = write_options.sync && sync;
  auto s = db->Write(wo, &batch);
  if (!s.ok()) return fail_status(s, "store " + options.path.string() + ": write");
  return {};
}

result<void> Store::Impl::sync_wal() {
  if (!write_options.sync) return {};
  auto s = db->SyncWAL();
  if (!s.ok()) return fail_status(s, "store " + options.path.string() + ": syncing the WAL");
  return {};
}

result<std::int64_t> Store::Impl::counter(std::string_view key, const rocksdb::Snapshot* snap) {
  auto v = get(kCfCounter, key, snap);
  if (!v) return v.error();
  if (!*v) return std::int64_t{0};
  if ((*v)->size() != 8) return fail(errc::corrupt, "counter " + std::string(key) + " is corrupt");
  return decode_i64(**v);
}

std::unique_ptr<rocksdb::Iterator> Store::Impl::iter(Cf c, const rocksdb::Snapshot* snap) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  return std::unique_ptr<rocksdb::Iterator>(db->NewIterator(ro, cf(c)));
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::filesystem::path& Store::path() const { return impl_->options.path; }

result<std::unique_ptr<Store>> Store::open(StoreOptions options) {
  const std::string where = "store " + options.path.string();
  if (options.path.empty()) return fail(errc::invalid_argument, "store path is empty");
  if (options.max_chunk_bytes == 0 || options.max_chunk_bytes > kMaxChunkBytes)
    return fail(errc::invalid_argument, where + ": max_chunk_bytes must be 1..1048576");
  if (sodium_init() < 0) return fail(errc::io_error, "libsodium failed to initialise");

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

  auto impl = std::make_unique<Impl>();
  impl->options = options;
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
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(dbo, options.path.string(), cfds, &impl->handles, &raw);
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
  impl->db.reset(raw);
  impl->write_options.sync = options.sync_writes;

  // The per-installation secret and format version.
  auto fmt = impl->get(kCfDefault, kFormatKey);
  if (!fmt) return fmt.error();
  auto sec = impl->get(kCfDefault, kSecretKey);
  if (!sec) return sec.error();
  if (*fmt && **fmt != kFormatVersion)
    return fail(errc::corrupt, where + ": unknown store format '" + **fmt + "'");
  if (!*sec) {
    if (*fmt) return fail(errc::corrupt, where + ": the installation secret is missing");
    std::string secret(kSecretBytes, '\0');
    randombytes_buf(secret.data(), secret.size());
    rocksdb::WriteBatch b;
    b.Put(impl->cf(kCfDefault), rocksdb::Slice(kSecretKey.data(), kSecretKey.size()), secret);
    b.Put(impl->cf(kCfDefault), rocksdb::Slice(kFormatKey.data(), kFormatKey.size()),
          rocksdb::Slice(kFormatVersion.data(), kFormatVersion.size()));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    auto ws = impl->db->Write(wo, &b);
    if (!ws.ok()) return fail_status(ws, where + ": writing the installation secret");
    impl->secret = std::move(secret);
  } else {
    if ((*sec)->size() < XXH3_SECRET_SIZE_MIN)
      return fail(errc::corrupt, where + ": the installation secret is too short");
    impl->secret = std::move(**sec);
  }

  std::unique_ptr<Store> store(new Store(std::move(impl)));
  store->impl_->source = std::make_unique<BlobSourceAdapter>(*store);
  return store;
}

mime::BlobSource& Store::blob_source() { return *impl_->source; }

result<void> Store::compact() {
  rocksdb::CompactRangeOptions o;
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (int c = 0; c < kCfCount; ++c) {
    auto s = impl_->db->CompactRange(o, impl_->cf(static_cast<Cf>(c)), nullptr, nullptr);
    if (!s.ok()) return fail_status(s, "store " + impl_->options.path.string() + ": compaction");
  }
  return {};
}

result<void> Store::checkpoint(const std::filesystem::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec))
    return fail(errc::exists, "checkpoint folder " + dir.string() + " already exists");
  rocksdb::Checkpoint* raw = nullptr;
  auto s = rocksdb::Checkpoint::Create(impl_->db.get(), &raw);
  if (!s.ok()) return fail_status(s, "checkpoint " + dir.string());
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  // Flush first so the checkpoint does not depend on WAL replay of a live log.
  s = cp->CreateCheckpoint(dir.string(), /*log_size_for_flush=*/0);
  if (!s.ok()) return fail_status(s, "checkpoint " + dir.string());
  return {};
}

namespace {

// Holds RocksDB's own lock on data_path/LOCK (both the in-process registry and the
// fcntl lock), so restore refuses exactly when a Store has the folder open.
class FolderLock {
 public:
  FolderLock() = default;
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock() {
    if (lock_ != nullptr) (void)rocksdb::Env::Default()->UnlockFile(lock_);
  }
  rocksdb::Status lock(const fs::path& dir) {
    return rocksdb::Env::Default()->LockFile((dir / "LOCK").string(), &lock_);
  }

 private:
  rocksdb::FileLock* lock_ = nullptr;
};

}  // namespace

result<void> Store::restore(const std::filesystem::path& checkpoint_dir,
                            const std::filesystem::path& data_path) {
  std::error_code ec;
  const std::string what = "restore " + checkpoint_dir.string() + " -> " + data_path.string();
  if (!fs::exists(checkpoint_dir / "CURRENT", ec))
    return fail(errc::not_found, what + ": " + checkpoint_dir.string() + " is not a checkpoint");
  const bool had_data = fs::exists(data_path, ec);
  // Never swap away (and then delete) a folder that is not a store.
  if (had_data && !fs::exists(data_path / "CURRENT", ec) && !fs::is_empty(data_path, ec))
    return fail(errc::invalid_argument,
                what + ": " + data_path.string() + " exists and is not a refmail store");
  FolderLock lock;
  if (had_data && fs::exists(data_path / "CURRENT", ec)) {
    auto s = lock.lock(data_path);
    if (!s.ok())
      return fail(errc::locked, "store " + data_path.string() +
                                    " is locked by another process (is refmaild running?)");
  }
  // Copy into a sibling (same filesystem, so the final rename is atomic).
  fs::path tmp = data_path;
  tmp += ".restore-" + std::to_string(::getpid());
  fs::remove_all(tmp, ec);
  fs::copy(checkpoint_dir, tmp, fs::copy_options::recursive, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    return fail(errc::io_error, what + ": copy failed: " + ec.message());
  }
  {
    StoreOptions o;
    o.path = tmp;
    o.create_if_missing = false;
    auto check = Store::open(o);
    if (!check) {
      auto e = check.error();
      auto detail = error_detail(e);
      fs::remove_all(tmp, ec);
      return fail(errc::corrupt, what + ": the checkpoint does not open: " + detail);
    }
  }
  if (!had_data) {
    fs::rename(tmp, data_path, ec);
    if (ec) return fail(errc::io_error, what + ": rename failed: " + ec.message());
    return {};
  }
  // Swap atomically: data_path never disappears, so nobody can open (and create) an
  // empty store there in between.
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, data_path.c_str(), RENAME_EXCHANGE) != 0) {
    std::error_code rec(errno, std::generic_category());
    fs::remove_all(tmp, ec);
    return fail(errc::io_error, what + ": rename failed: " + rec.message());
  }
  fs::remove_all(tmp, ec);  // now the old data
  return {};
}

}  // namespace refmail::storage
