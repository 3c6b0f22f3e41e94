// storage/rocksdb/merge.cpp — the two RocksDB merge operators of the store (kv.hpp,
// "Merges"): int64 add/max counters (counter, grant CFs) and refcount-prefixed records
// (blob_meta, message CFs).
// Must never: change an operator's Name() or encoding; existing data folders hold
// unmerged operands and are opened with these names.
// SECURITY: a malformed operand or value fails the merge (corruption), never UB.
#include <algorithm>
#include <deque>

#include "storage/codec.hpp"
#include "storage/merge.hpp"
#include "storage/rocksdb/internal.hpp"

namespace refmail::storage::rocksdb_backend {

namespace {

bool parse_operand(const rocksdb::Slice& s, char* tag, std::int64_t* v) {
  return storage::parse_operand(s.ToStringView(), tag, v);
}

std::string_view view(const rocksdb::Slice& s) { return s.ToStringView(); }

// int64 counters: operands add ('A') or raise to a maximum ('X').
class CounterMerge final : public rocksdb::MergeOperator {
 public:
  const char* Name() const override { return "refmail.counter"; }

  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    if (in.existing_value == nullptr) return counter_full_merge(nullptr, in.operand_list, &out->new_value);
    const auto existing = view(*in.existing_value);
    return counter_full_merge(&existing, in.operand_list, &out->new_value);
  }

  bool PartialMergeMulti(const rocksdb::Slice&, const std::deque<rocksdb::Slice>& ops,
                         std::string* new_value, rocksdb::Logger*) const override {
    char first = 0;
    std::int64_t acc = 0;
    bool any = false;
    for (const auto& op : ops) {
      char tag = 0;
      std::int64_t v = 0;
      if (!parse_operand(op, &tag, &v)) return false;
      if (any && tag != first) return false;  // add and max do not combine
      if (!any) { first = tag; acc = v; any = true; continue; }
      acc = tag == 'A' ? static_cast<std::int64_t>(static_cast<std::uint64_t>(acc) +
                                                   static_cast<std::uint64_t>(v))
                       : std::max(acc, v);
    }
    if (!any) return false;
    *new_value = first == 'A' ? add_operand(acc) : max_operand(acc);
    return true;
  }
};

// Records whose first 8 bytes are an int64 refcount: 'A' operands adjust it and keep
// the rest. With no base value the result is the bare 8-byte refcount, which the
// decoders report as an orphan (fsck finds it).
class RefcountMerge final : public rocksdb::MergeOperator {
 public:
  const char* Name() const override { return "refmail.refcount"; }

  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    if (in.existing_value == nullptr) return refcount_full_merge(nullptr, in.operand_list, &out->new_value);
    const auto existing = view(*in.existing_value);
    return refcount_full_merge(&existing, in.operand_list, &out->new_value);
  }

  bool PartialMergeMulti(const rocksdb::Slice&, const std::deque<rocksdb::Slice>& ops,
                         std::string* new_value, rocksdb::Logger*) const override {
    std::int64_t acc = 0;
    for (const auto& op : ops) {
      char tag = 0;
      std::int64_t d = 0;
      if (!parse_operand(op, &tag, &d) || tag != 'A') return false;
      acc += d;
    }
    *new_value = add_operand(acc);
    return true;
  }
};

}  // namespace

std::shared_ptr<::rocksdb::MergeOperator> make_counter_merge() {
  return std::make_shared<CounterMerge>();
}
std::shared_ptr<::rocksdb::MergeOperator> make_refcount_merge() {
  return std::make_shared<RefcountMerge>();
}

}  // namespace refmail::storage::rocksdb_backend
