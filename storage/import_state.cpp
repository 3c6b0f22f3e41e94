// storage/import_state.cpp — small keyed records the import worker keeps beside its
// job queue in the `import` column family: which (source, user, mailbox, uidvalidity,
// uid) were imported, the UIDs pending for a mailbox, per-source counters. Keys live
// under the prefix "X" so they never meet the job keys ("J", "I"). The same keys can
// ride in a delivery's batch (Delivery::add_import_state): imported message + done key
// in one atomic write.
// Must never: interpret the values (the worker's encoding), or write half of a batch.
// SECURITY: keys and values come from the worker, which validates remote input first.
#include "storage/impl.hpp"

namespace refmail::storage {

namespace {
std::string state_key(std::string_view key) {
  std::string k = "X";
  k.append(key);
  return k;
}
}  // namespace

// Defined in storage/delivery.cpp (Delivery::State lives there).
std::vector<std::pair<std::string, std::optional<std::string>>>& staged_import_state(Delivery::State& st);

void Delivery::add_import_state(std::vector<ImportStateOp> ops) {
  auto& staged = staged_import_state(*state_);
  for (auto& op : ops) staged.emplace_back(state_key(op.key), std::move(op.value));
}

result<std::optional<std::string>> Store::get_import_state(std::string_view key) {
  return impl_->get(kCfImport, state_key(key));
}

result<void> Store::write_import_state(const std::vector<ImportStateOp>& ops) {
  if (ops.empty()) return {};
  auto batch = impl_->kv->batch();
  for (const auto& op : ops) {
    if (op.value) {
      batch.put(kCfImport, state_key(op.key), *op.value);
    } else {
      batch.del(kCfImport, state_key(op.key));
    }
  }
  return impl_->write(batch);
}

result<std::vector<std::pair<std::string, std::string>>> Store::scan_import_state(std::string_view prefix,
                                                                                  std::size_t limit) {
  std::vector<std::pair<std::string, std::string>> out;
  auto p = state_key(prefix);
  auto it = impl_->iter(kCfImport);
  for (it->seek(p); it->valid() && out.size() < limit; it->next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (key.substr(0, p.size()) != p) break;
    out.emplace_back(std::string(key.substr(1)), std::string(it->value().data(), it->value().size()));
  }
  if (auto ec = it->check("listing import state")) return ec;
  return out;
}

}  // namespace refmail::storage
