// storage/memory/kv_memory.cpp — the in-memory Kv: one std::map per column family
// behind a shared_ptr; readers (snapshots, iterators) share the current tables and a
// writer copies them first when anyone does (copy-on-write), so views never change.
// Must never: let a merge that fails leave half a batch applied (a batch is applied
// to a copy and published whole).
#include <map>
#include <mutex>
#include <shared_mutex>
#include <variant>
#include <vector>

#include "storage/fail.hpp"
#include "storage/memory/kv_memory.hpp"
#include "storage/merge.hpp"

namespace refmail::storage::memory_backend {

namespace {

using Table = std::map<std::string, std::string, std::less<>>;
using Tables = std::array<Table, kCfCount>;
using TablesPtr = std::shared_ptr<const Tables>;

struct Op {
  enum Kind { kPut, kDel, kDelRange, kMerge } kind;
  Cf cf;
  std::string key;
  std::string value;  // the value, the range's end, or the merge operand
};

class MemBatch final : public KvBatch::Rep {
 public:
  void put(Cf cf, std::string_view key, std::string_view value) override {
    ops.push_back(Op{Op::kPut, cf, std::string(key), std::string(value)});
  }
  void del(Cf cf, std::string_view key) override {
    ops.push_back(Op{Op::kDel, cf, std::string(key), {}});
  }
  void delete_range(Cf cf, std::string_view begin, std::string_view end) override {
    ops.push_back(Op{Op::kDelRange, cf, std::string(begin), std::string(end)});
  }
  void merge(Cf cf, std::string_view key, std::string_view operand) override {
    ops.push_back(Op{Op::kMerge, cf, std::string(key), std::string(operand)});
  }
  std::vector<Op> ops;
};

class MemSnapshot final : public KvSnapshot {
 public:
  explicit MemSnapshot(TablesPtr t) : tables(std::move(t)) {}
  TablesPtr tables;
};

class MemIterator final : public KvIterator {
 public:
  MemIterator(TablesPtr t, Cf cf) : tables_(std::move(t)), table_(&(*tables_)[cf]), it_(table_->end()) {}
  void seek(std::string_view key) override { it_ = table_->lower_bound(key); }
  void seek_to_first() override { it_ = table_->begin(); }
  bool valid() const override { return it_ != table_->end(); }
  void next() override { ++it_; }
  void seek_for_prev(std::string_view key) override {
    it_ = table_->upper_bound(key);
    it_ = it_ == table_->begin() ? table_->end() : std::prev(it_);
  }
  void prev() override { it_ = it_ == table_->begin() ? table_->end() : std::prev(it_); }
  std::string_view key() const override { return it_->first; }
  std::string_view value() const override { return it_->second; }
  boost::system::error_code check(std::string_view) const override { return {}; }

 private:
  TablesPtr tables_;
  const Table* table_;
  Table::const_iterator it_;
};

class MemPinned final : public KvPinned {
 public:
  std::string_view view() const override { return value; }
  std::string value;
};

bool apply_merge(Cf cf, Table& t, const std::string& key, const std::string& operand) {
  auto it = t.find(key);
  const std::string_view existing = it == t.end() ? std::string_view() : std::string_view(it->second);
  const std::string_view* base = it == t.end() ? nullptr : &existing;
  const std::array<std::string_view, 1> ops = {operand};
  std::string out;
  bool ok = false;
  switch (cf) {
    case kCfCounter:
    case kCfGrant: ok = counter_full_merge(base, ops, &out); break;
    case kCfBlobMeta:
    case kCfMessage: ok = refcount_full_merge(base, ops, &out); break;
    default: return false;  // no merge in this column family
  }
  if (!ok) return false;
  t[key] = std::move(out);
  return true;
}

class MemKv final : public Kv {
 public:
  MemKv() : tables_(std::make_shared<Tables>()) {}

  result<std::optional<std::string>> get(Cf c, std::string_view key,
                                         const KvSnapshot* snap) override {
    auto t = view(snap);
    auto it = (*t)[c].find(key);
    if (it == (*t)[c].end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  std::unique_ptr<KvPinned> new_pinned() override { return std::make_unique<MemPinned>(); }

  result<bool> get_pinned(Cf c, std::string_view key, KvPinned& out) override {
    auto t = view(nullptr);
    auto it = (*t)[c].find(key);
    if (it == (*t)[c].end()) return false;
    static_cast<MemPinned&>(out).value = it->second;
    return true;
  }

  KvBatch batch() override { return KvBatch(std::make_unique<MemBatch>()); }

  result<void> write(KvBatch& batch, KvSync) override {
    const auto& ops = static_cast<MemBatch&>(batch.rep()).ops;
    std::lock_guard writer(write_mu_);
    // Readers may hold the current tables: apply to a copy, publish it whole.
    auto next = std::make_shared<Tables>(*view(nullptr));
    for (const auto& op : ops) {
      auto& t = (*next)[op.cf];
      switch (op.kind) {
        case Op::kPut: t[op.key] = op.value; break;
        case Op::kDel: t.erase(op.key); break;
        case Op::kDelRange: t.erase(t.lower_bound(op.key), t.lower_bound(op.value)); break;
        case Op::kMerge:
          if (!apply_merge(op.cf, t, op.key, op.value))
            return fail(errc::corrupt, std::string("merging into ") + kCfNames[op.cf] + ": malformed value");
          break;
      }
    }
    std::unique_lock lock(mu_);
    tables_ = std::move(next);
    return {};
  }

  result<void> sync_wal() override { return {}; }

  std::unique_ptr<KvSnapshot> snapshot() override { return std::make_unique<MemSnapshot>(view(nullptr)); }

  std::unique_ptr<KvIterator> iterator(Cf c, const KvSnapshot* snap) override {
    return std::make_unique<MemIterator>(view(snap), c);
  }

  result<void> compact() override { return {}; }

  result<void> checkpoint(const std::filesystem::path& dir) override {
    return fail(errc::invalid_argument, "checkpoint " + dir.string() + ": the in-memory store has none");
  }

 private:
  TablesPtr view(const KvSnapshot* snap) const {
    if (snap != nullptr) return static_cast<const MemSnapshot*>(snap)->tables;
    std::shared_lock lock(mu_);
    return tables_;
  }

  std::mutex write_mu_;  // one writer at a time
  mutable std::shared_mutex mu_;
  TablesPtr tables_;
};

}  // namespace

std::unique_ptr<Kv> make() { return std::make_unique<MemKv>(); }

}  // namespace refmail::storage::memory_backend
