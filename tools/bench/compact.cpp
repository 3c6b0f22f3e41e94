// tools/bench/compact.cpp — refmail-bench-compact: the offline "after a compaction" step
// of the SMTP benchmark (docs/PERFORMANCE.md). Opens a stopped refmaild's store, runs
// Store::gc() (which compacts every column family) and prints the folder's bytes before
// and after as JSON. Not a Google Benchmark: it measures one state, it times nothing.
// Must never: run against a store a live refmaild holds (Store::open refuses: locked).
// SECURITY: operator tool; it reads and rewrites only the folder it is given.
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>

#include "storage/store.hpp"

namespace {

namespace fs = std::filesystem;

// `du -sb` semantics: apparent sizes of regular files, each inode once is not needed
// here (RocksDB hard-links only in checkpoints, which live elsewhere).
std::uint64_t tree_bytes(const fs::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) total += it->file_size(fec);
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: refmail-bench-compact DATA_DIR   (refmaild's data_dir, daemon stopped)\n";
    return 2;
  }
  const fs::path data_dir = argv[1];
  fs::path store_dir = data_dir / "store";
  if (!fs::exists(store_dir)) store_dir = data_dir;  // given the store folder itself
  const std::uint64_t before = tree_bytes(data_dir);

  refmail::storage::StoreOptions opts;
  opts.path = store_dir;
  opts.create_if_missing = false;
  auto store = refmail::storage::Store::open(opts);
  if (!store) {
    std::cerr << "refmail-bench-compact: " << refmail::storage::error_detail(store.error()) << "\n";
    return 1;
  }
  auto gc = (*store)->gc();  // deletes zero-refcount blobs, then compacts every CF
  if (!gc) {
    std::cerr << "refmail-bench-compact: gc: " << refmail::storage::error_detail(gc.error()) << "\n";
    return 1;
  }
  store->reset();  // close: flushes memtables, releases the lock
  const std::uint64_t after = tree_bytes(data_dir);
  std::cout << "{\"data_dir\": \"" << data_dir.string() << "\", \"bytes_before\": " << before
            << ", \"bytes_after\": " << after << ", \"blobs_deleted\": " << gc->blobs_deleted
            << ", \"bytes_freed\": " << gc->bytes_freed << ", \"grants_deleted\": " << gc->grants_deleted
            << "}\n";
  return 0;
}
