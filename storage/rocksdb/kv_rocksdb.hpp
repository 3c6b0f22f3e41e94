// storage/rocksdb/kv_rocksdb.hpp — the embedded backend: the Kv seam (storage/kv.hpp)
// over one RocksDB database in the data folder, the store's default. Its on-disk
// format (column family names, keys, merge operator names, options) is the one every
// refmail data folder has; changing it breaks existing installations.
// Must never: expose RocksDB types (this header includes none).
#pragma once
#include <memory>

#include "storage/kv.hpp"

namespace refmail::storage::rocksdb_backend {

// Opens the RocksDB database at options.path (creating the folder and the database
// when options.create_if_missing), with every column family of kv.hpp. Errors:
// not_found (no database and !create_if_missing), locked (another process or Store
// holds it), permission_denied, no_space, corrupt, io_error; each with a detail.
[[nodiscard]] result<std::unique_ptr<Kv>> open(const StoreOptions& options);

}  // namespace refmail::storage::rocksdb_backend
