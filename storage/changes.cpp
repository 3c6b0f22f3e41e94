// storage/changes.cpp — the per-account change log behind JMAP */changes (RFC 8620
// 5.2): every batch that changes what an account sees (emails, mailboxes, threads)
// also writes, in the same WriteBatch, one log entry under a new per-account modseq,
// and max-merges the account's state key ("st/") to it. The account's state is the
// newest modseq all of whose predecessors are written (one state for every type).
// Bounded: the last change_log_max_states states and nothing older than
// change_log_max_age are kept; the floor key ("cf/") says where the log starts, and a
// sinceState below it is errc::expired (JMAP cannotCalculateChanges).
// Must never: expose a state while its batch, or an older one, is still being written
// (a reader would miss that change for good): modseqs in flight hold the state back.
// SECURITY: keys are prefixed by the canonical account; a reader scans only its range.
#include <algorithm>

#include "storage/impl.hpp"

namespace refmail::storage {

namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && std::memcmp(s.data(), p.data(), p.size()) == 0;
}

std::string encode_changes(std::int64_t at, const std::vector<Change>& changes) {
  std::string v;
  put_i64(v, at);
  put_u32(v, static_cast<std::uint32_t>(changes.size()));
  for (const auto& c : changes) {
    v.push_back(static_cast<char>(c.type));
    v.push_back(static_cast<char>(c.kind));
    put_str(v, c.id);
  }
  return v;
}

bool valid_type(std::uint8_t t) { return t == 'E' || t == 'M' || t == 'T'; }
bool valid_kind(std::uint8_t k) { return k == 'c' || k == 'u' || k == 'n'; }

std::optional<ChangeSet> decode_changes(std::uint64_t modseq, std::string_view v) {
  Reader r(v);
  ChangeSet set;
  set.modseq = modseq;
  set.at = UnixSeconds(std::chrono::seconds(r.i64()));
  auto n = r.u32();
  if (!r.ok() || n > v.size()) return std::nullopt;
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    auto t = r.u8();
    auto k = r.u8();
    auto id = r.str();
    if (!r.ok() || !valid_type(t) || !valid_kind(k)) return std::nullopt;
    set.changes.push_back(Change{static_cast<ChangeType>(t), static_cast<ChangeKind>(k), std::move(id)});
  }
  if (!r.done()) return std::nullopt;
  return set;
}

}  // namespace

result<std::uint64_t> Store::Impl::log_changes(KvBatch& batch, const std::string& account,
                                               const std::vector<Change>& changes, ChangeTicket* ticket) {
  std::lock_guard lock(local.change_mu);
  auto it = local.change_cursors.find(account);
  if (it == local.change_cursors.end()) {
    auto st = counter(account_state_key(account));
    if (!st) return st.error();
    auto fl = get(kCfCounter, change_floor_key(account));
    if (!fl) return fl.error();
    ChangeCursor c;
    const auto state = static_cast<std::uint64_t>(std::max<std::int64_t>(0, *st));
    if (*fl && (*fl)->size() == 8) {
      c.floor = static_cast<std::uint64_t>(std::max<std::int64_t>(0, decode_i64(**fl)));
      c.floor_persisted = true;
    } else {
      c.floor = state;  // the log starts with the next change (accounts from before it)
    }
    c.next = std::max(state, c.floor) + 1;
    it = local.change_cursors.emplace(account, std::move(c)).first;
  }
  auto& c = it->second;
  const Cf counters = kCfCounter;
  if (!c.floor_persisted) {
    batch.merge(counters, change_floor_key(account), max_operand(static_cast<std::int64_t>(c.floor)));
    c.floor_persisted = true;
  }
  const std::uint64_t modseq = c.next++;
  c.in_flight.insert(modseq);
  ticket->impl_ = this;
  ticket->held_.emplace_back(account, modseq);
  batch.put(kCfMailbox, change_key(account, modseq), encode_changes(now_unix(), changes));
  batch.merge(counters, account_state_key(account), max_operand(static_cast<std::int64_t>(modseq)));
  return modseq;
}

void ChangeTicket::finish(bool ok) {
  if (impl_ == nullptr) return;
  auto* impl = impl_;
  impl_ = nullptr;
  std::vector<std::string> trim;
  {
    std::lock_guard lock(impl->local.change_mu);
    const auto max_states = impl->options.change_log_max_states;
    const auto slack = std::max<std::uint64_t>(1, max_states / 8);
    for (const auto& [account, modseq] : held_) {
      auto it = impl->local.change_cursors.find(account);
      if (it == impl->local.change_cursors.end()) continue;
      it->second.in_flight.erase(modseq);
      // Amortised: trim once the log is `slack` states over its bound, and now and
      // then for age.
      if (ok && (modseq > it->second.floor + max_states + slack || modseq % 256 == 0))
        trim.push_back(account);
    }
  }
  held_.clear();
  for (const auto& a : trim) impl->trim_changes(a);
}

result<std::uint64_t> Store::Impl::visible_state(const std::string& account) {
  // The lock is held across the stored counter's read too: released in between, a writer
  // could make the cursor, hand out modseq N, and a later batch (N+1) be written before
  // N; the counter would then say N+1 while N is in flight, and the next call (from the
  // cursor) N-1: a state going back, and a reader missing N for good.
  std::lock_guard lock(local.change_mu);
  auto it = local.change_cursors.find(account);
  if (it != local.change_cursors.end()) {
    const auto& c = it->second;
    return c.in_flight.empty() ? c.next - 1 : *c.in_flight.begin() - 1;
  }
  // No cursor: no modseq was handed out in this process, so every logged batch is written.
  auto v = counter(account_state_key(account));
  if (!v) return v.error();
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, *v));
}

void Store::Impl::trim_changes(const std::string& account) {
  std::lock_guard tlock(local.trim_mu);
  auto state = visible_state(account);
  if (!state) return;
  auto fl = counter(change_floor_key(account));
  if (!fl) return;
  const auto floor = static_cast<std::uint64_t>(std::max<std::int64_t>(0, *fl));
  std::uint64_t new_floor = floor;
  const auto max_states = options.change_log_max_states;
  if (*state > max_states) new_floor = std::max(new_floor, *state - max_states);
  const std::int64_t cutoff = now_unix() - options.change_log_max_age.count();
  {
    auto prefix = change_prefix(account);
    auto it = iter(kCfMailbox);
    for (it->seek(change_key(account, new_floor + 1)); it->valid() && starts_with(it->key(), prefix);
         it->next()) {
      if (it->key().size() != prefix.size() + 8) break;
      auto modseq = get_be64(std::string_view(it->key().data() + prefix.size(), 8));
      if (modseq > *state || it->value().size() < 8) break;
      if (decode_i64(std::string_view(it->value().data(), 8)) >= cutoff) break;
      new_floor = modseq;
    }
  }
  if (new_floor <= floor) return;
  auto batch = kv->batch();
  batch.delete_range(kCfMailbox, change_prefix(account), change_key(account, new_floor + 1));
  // Expunge tombstones go with the log: Store::vanished_since answers expired below the
  // floor.
  auto names = mailbox_names(account);
  if (!names) return;
  for (const auto& [mailbox_id, name] : *names) {
    auto from = modseq_prefix(kTombstone, account, mailbox_id);
    auto to = from;
    put_be64(to, new_floor + 1);
    batch.delete_range(kCfMailbox, from, to);
  }
  batch.merge(kCfCounter, change_floor_key(account), max_operand(static_cast<std::int64_t>(new_floor)));
  if (!write(batch, /*sync=*/false)) return;
  std::lock_guard lock(local.change_mu);
  auto it = local.change_cursors.find(account);
  if (it != local.change_cursors.end()) it->second.floor = std::max(it->second.floor, new_floor);
}

void Store::Impl::drop_account_log(KvBatch& batch, const std::string& account) {
  auto state = visible_state(account);
  auto cprefix = change_prefix(account);
  auto cend = cprefix;
  cend.back() = '\1';
  batch.delete_range(kCfMailbox, cprefix, cend);
  auto tprefix = thread_prefix(account);
  auto tend = tprefix;
  tend.back() = '\1';
  batch.delete_range(kCfMailbox, tprefix, tend);
  // The account's thread aliases ("J") and expunge tombstones ("V" account \0 ...).
  auto jprefix = thread_alias_prefix(account);
  auto jend = jprefix;
  jend.back() = '\1';
  batch.delete_range(kCfMailbox, jprefix, jend);
  std::string vprefix(1, kTombstone);
  vprefix.append(account).push_back('\0');
  auto vend = vprefix;
  vend.back() = '\1';
  batch.delete_range(kCfMailbox, vprefix, vend);
  if (state) batch.merge(kCfCounter, change_floor_key(account), max_operand(static_cast<std::int64_t>(*state)));
  std::lock_guard lock(local.change_mu);
  auto it = local.change_cursors.find(account);
  if (it != local.change_cursors.end() && it->second.in_flight.empty()) local.change_cursors.erase(it);
  else if (it != local.change_cursors.end() && state) it->second.floor = std::max(it->second.floor, *state);
}

// ---- public ----

result<std::uint64_t> Store::account_state(std::string_view account) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  return impl_->visible_state(*acct);
}

result<ChangeLog> Store::changes_since(std::string_view account, std::uint64_t since,
                                       std::optional<ChangeType> type, std::size_t max_changes) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  auto& s = *impl_;
  // The state first, then the snapshot: every batch up to the state is in it.
  auto state = s.visible_state(*acct);
  if (!state) return state.error();
  auto guard = s.kv->snapshot();
  ChangeLog out;
  out.state = *state;
  if (since > *state)
    return fail(errc::invalid_argument, "state " + std::to_string(since) + " of " + *acct + " is in the future");
  if (since == *state) return out;
  auto fl = s.get(kCfCounter, change_floor_key(*acct), guard.get());
  if (!fl) return fl.error();
  // No floor key: nothing was logged for the account since the log exists.
  const std::uint64_t floor =
      *fl && (*fl)->size() == 8 ? static_cast<std::uint64_t>(std::max<std::int64_t>(0, decode_i64(**fl))) : *state;
  if (since < floor)
    return fail(errc::expired, "the change log of " + *acct + " starts after state " + std::to_string(since));
  auto prefix = change_prefix(*acct);
  auto it = s.iter(kCfMailbox, guard.get());
  std::size_t n = 0;
  for (it->seek(change_key(*acct, since + 1)); it->valid() && starts_with(it->key(), prefix); it->next()) {
    if (it->key().size() != prefix.size() + 8) return fail(errc::corrupt, "change log key of " + *acct);
    auto modseq = get_be64(std::string_view(it->key().data() + prefix.size(), 8));
    if (modseq > *state) break;
    auto set = decode_changes(modseq, std::string_view(it->value().data(), it->value().size()));
    if (!set) return fail(errc::corrupt, "change log entry of " + *acct + " is corrupt");
    if (type) {
      std::erase_if(set->changes, [&](const Change& c) { return c.type != *type; });
      if (set->changes.empty()) continue;
    }
    if (max_changes > 0 && !out.sets.empty() && n + set->changes.size() > max_changes) {
      out.has_more = true;
      break;
    }
    n += set->changes.size();
    out.sets.push_back(std::move(*set));
  }
  if (auto ec = it->check("reading the change log")) return ec;
  return out;
}

}  // namespace refmail::storage
