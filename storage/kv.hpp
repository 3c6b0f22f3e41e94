// storage/kv.hpp — PRIVATE to storage/: the backend seam. The mail logic (refcounts,
// grants, quota, GC, fsck, change log, threads, queue) reads and writes only through
// this narrow ordered key-value interface: column families, atomic batches with
// counter/refcount merges, snapshots, range iteration. storage/rocksdb/ implements it
// for the embedded RocksDB store; a backend shared by several refmaild processes
// implements the same (plus LocalState's duties, storage/local_state.hpp).
// Must never: name a backend's types; every method returns expected failures as values.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "storage/store.hpp"

namespace refmail::storage {

// ---- column families (ARCHITECTURE.md "The store") ----
enum Cf : int {
  kCfDefault = 0,  // "meta": the per-installation secret, the format version
  kCfBlobMeta,
  kCfBlobSha,
  kCfBlobChunk,
  kCfMessage,
  kCfMailbox,
  kCfAccount,
  kCfGrant,
  kCfQueue,
  kCfImport,
  kCfCounter,
  kCfCount
};
inline constexpr std::array<const char*, kCfCount> kCfNames = {
    "default", "blob_meta", "blob_sha256", "blob_chunk", "message", "mailbox",
    "account", "grant",     "queue",       "import",     "counter"};

// Merges (KvBatch::merge): the backend applies the operand to the stored value
// atomically with the batch, by column family (codec.hpp encodes the operands):
// - kCfCounter, kCfGrant: the value is an 8-byte LE int64 (absent = 0); 'A'+i64 adds,
//   'X'+i64 raises to a maximum.
// - kCfBlobMeta, kCfMessage: the value is an 8-byte LE int64 refcount followed by a
//   record; 'A'+i64 adjusts the refcount and keeps the record (absent: the bare count).
// A merge onto a malformed value fails the read or the compaction as corruption.

// A consistent read view; released when destroyed.
class KvSnapshot {
 public:
  virtual ~KvSnapshot() = default;
};

// An atomic group of writes, made by Kv::batch() and applied by Kv::write(). Calls
// copy their arguments into the batch (the views need not outlive the call).
class KvBatch {
 public:
  class Rep {
   public:
    virtual ~Rep() = default;
    virtual void put(Cf cf, std::string_view key, std::string_view value) = 0;
    virtual void del(Cf cf, std::string_view key) = 0;
    // Removes every key in [begin, end).
    virtual void delete_range(Cf cf, std::string_view begin, std::string_view end) = 0;
    virtual void merge(Cf cf, std::string_view key, std::string_view operand) = 0;
  };
  explicit KvBatch(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
  void put(Cf cf, std::string_view key, std::string_view value) { rep_->put(cf, key, value); }
  void del(Cf cf, std::string_view key) { rep_->del(cf, key); }
  void delete_range(Cf cf, std::string_view begin, std::string_view end) {
    rep_->delete_range(cf, begin, end);
  }
  void merge(Cf cf, std::string_view key, std::string_view operand) { rep_->merge(cf, key, operand); }
  // For the backend that made it (Kv::write casts to its own Rep).
  Rep& rep() { return *rep_; }

 private:
  std::unique_ptr<Rep> rep_;
};

// Walks one column family in key order. key() and value() stay valid until the next
// move or the iterator's destruction.
class KvIterator {
 public:
  virtual ~KvIterator() = default;
  virtual void seek(std::string_view key) = 0;  // the first key >= `key`
  virtual void seek_to_first() = 0;
  [[nodiscard]] virtual bool valid() const = 0;
  virtual void next() = 0;  // REQUIRES: valid()
  virtual void seek_for_prev(std::string_view key) = 0;  // the last key <= `key`
  virtual void prev() = 0;  // REQUIRES: valid()
  [[nodiscard]] virtual std::string_view key() const = 0;    // REQUIRES: valid()
  [[nodiscard]] virtual std::string_view value() const = 0;  // REQUIRES: valid()
  // After the walk: an empty code when it ended because the range did, else the
  // failure (recorded with `context` as its detail).
  [[nodiscard]] virtual boost::system::error_code check(std::string_view context) const = 0;
};

// A value read in place (RocksDB pins it in the block cache): reused across get_pinned
// calls; view() is valid until the next call or destruction.
class KvPinned {
 public:
  virtual ~KvPinned() = default;
  [[nodiscard]] virtual std::string_view view() const = 0;
};

enum class KvSync {
  kNo,         // durable at the next sync_wal() or a later synced write
  kIfEnabled,  // durable before write() returns when the store syncs writes
  kAlways,     // durable before write() returns
};

// The ordered key-value store. Thread-safe; a virtual call per key operation.
class Kv {
 public:
  virtual ~Kv() = default;
  // nullopt when absent. `snap` null: the latest state.
  [[nodiscard]] virtual result<std::optional<std::string>> get(
      Cf cf, std::string_view key, const KvSnapshot* snap = nullptr) = 0;
  [[nodiscard]] virtual std::unique_ptr<KvPinned> new_pinned() = 0;
  // false when absent. REQUIRES: `out` came from this Kv's new_pinned().
  [[nodiscard]] virtual result<bool> get_pinned(Cf cf, std::string_view key, KvPinned& out) = 0;
  [[nodiscard]] virtual KvBatch batch() = 0;
  // Applies `batch` atomically. REQUIRES: `batch` came from this Kv's batch().
  [[nodiscard]] virtual result<void> write(KvBatch& batch, KvSync sync) = 0;
  // Makes earlier write(batch, KvSync::kNo) calls durable (when the store syncs writes).
  [[nodiscard]] virtual result<void> sync_wal() = 0;
  [[nodiscard]] virtual std::unique_ptr<KvSnapshot> snapshot() = 0;
  // REQUIRES: `snap` (if any) outlives the iterator.
  [[nodiscard]] virtual std::unique_ptr<KvIterator> iterator(Cf cf,
                                                             const KvSnapshot* snap = nullptr) = 0;
  // Rewrites every column family to reclaim the space of deleted keys.
  [[nodiscard]] virtual result<void> compact() = 0;
  // A consistent copy of the whole store in the new folder `dir`, which
  // Store::restore can put back. REQUIRES: `dir` does not exist.
  [[nodiscard]] virtual result<void> checkpoint(const std::filesystem::path& dir) = 0;
};

}  // namespace refmail::storage
