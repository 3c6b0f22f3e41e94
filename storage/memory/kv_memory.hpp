// storage/memory/kv_memory.hpp — an in-memory Kv (storage/kv.hpp): ordered maps per
// column family, the merges of storage/merge.hpp, copy-on-write snapshots. The seam's
// second implementation: it shows the interface needs nothing of RocksDB, and the
// contract tests (tests/unit/storage/kv_test.cpp) run on both backends.
// Must never: be used for mail that must survive the process (nothing is persisted;
// checkpoint() fails). Not tuned: every write copies the whole store.
#pragma once
#include <memory>

#include "storage/kv.hpp"

namespace refmail::storage::memory_backend {

[[nodiscard]] std::unique_ptr<Kv> make();

}  // namespace refmail::storage::memory_backend
