// storage/merge.hpp — PRIVATE to storage/: what the two merges of kv.hpp compute, for
// every backend (storage/rocksdb/merge.cpp wraps them in RocksDB merge operators; the
// in-memory backend calls them directly). Operands are codec.hpp's add_operand /
// max_operand: 'A' or 'X' followed by an 8-byte LE int64.
// Must never: change a result; stored values and unmerged operands depend on it.
// SECURITY: a malformed value or operand makes the merge fail (corruption), never UB.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/codec.hpp"

namespace refmail::storage {

inline bool parse_operand(std::string_view s, char* tag, std::int64_t* v) {
  if (s.size() != 9) return false;
  *tag = s[0];
  *v = decode_i64(s.substr(1, 8));
  return *tag == 'A' || *tag == 'X';
}

// int64 counters (counter, grant CFs): 'A' adds (wrapping), 'X' raises to a maximum.
// `existing` null: no stored value (0). `Ops`: a range of anything with data()/size().
template <class Ops>
bool counter_full_merge(const std::string_view* existing, const Ops& ops, std::string* out) {
  std::int64_t value = 0;
  if (existing != nullptr) {
    if (existing->size() != 8) return false;  // reported as corruption
    value = decode_i64(*existing);
  }
  for (const auto& op : ops) {
    char tag = 0;
    std::int64_t v = 0;
    if (!parse_operand(std::string_view(op.data(), op.size()), &tag, &v)) return false;
    if (tag == 'A') value = static_cast<std::int64_t>(static_cast<std::uint64_t>(value) +
                                                      static_cast<std::uint64_t>(v));
    else value = std::max(value, v);
  }
  *out = encode_i64(value);
  return true;
}

// Records whose first 8 bytes are an int64 refcount (blob_meta, message CFs): 'A'
// operands adjust it and keep the rest. With no base value the result is the bare
// 8-byte refcount, which the decoders report as an orphan (fsck finds it).
template <class Ops>
bool refcount_full_merge(const std::string_view* existing, const Ops& ops, std::string* out) {
  std::int64_t count = 0;
  std::string_view rest;
  if (existing != nullptr) {
    if (existing->size() < 8) return false;
    count = decode_i64(*existing);
    rest = existing->substr(8);
  }
  for (const auto& op : ops) {
    char tag = 0;
    std::int64_t d = 0;
    if (!parse_operand(std::string_view(op.data(), op.size()), &tag, &d) || tag != 'A') return false;
    count += d;
  }
  *out = encode_i64(count);
  out->append(rest);
  return true;
}

}  // namespace refmail::storage
