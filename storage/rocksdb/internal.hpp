// storage/rocksdb/internal.hpp — PRIVATE to storage/rocksdb/: the RocksDB pieces the
// backend's files share (status mapping, merge operators). The only storage header
// that includes RocksDB; never include it from outside this folder.
// Must never: let a rocksdb:: type leave storage/rocksdb/.
#pragma once
#include <memory>
#include <string_view>

#include <rocksdb/merge_operator.h>
#include <rocksdb/status.h>

#include "storage/fail.hpp"

namespace refmail::storage::rocksdb_backend {

// Maps a non-ok RocksDB status to an errc (no_space, corrupt, locked, io_error, ...).
boost::system::error_code fail_status(const rocksdb::Status& s, std::string_view context);

std::shared_ptr<rocksdb::MergeOperator> make_counter_merge();
std::shared_ptr<rocksdb::MergeOperator> make_refcount_merge();

}  // namespace refmail::storage::rocksdb_backend
