// storage/rocksdb/restore.cpp — Store::restore for the embedded backend: puts a
// checkpoint folder (Kv::checkpoint) back as the data folder, atomically.
// Must never: leave a half-restored data folder, replace a folder that is not a store,
// or replace one a running Store holds (RocksDB's own LOCK refuses it).
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include <rocksdb/env.h>

#include "storage/fail.hpp"
#include "storage/store.hpp"

namespace refmail::storage {
namespace fs = std::filesystem;

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
