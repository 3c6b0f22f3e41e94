// storage/mailboxes.cpp — per-account mailboxes (system and user-created), UID and
// UIDVALIDITY allocation, row listing, keywords, copy/move and expunge with GC.
// Must never: reuse a UID in a mailbox (RFC 3501 2.3.1.1) — not after expunging the
// highest, not after a crash: the next UID is persisted with a max-merge in the same
// batch as the row, and allocation is in memory above the persisted value.
// SECURITY: names are validated (no control characters); rows are keyed by the
// account, so one account's listing never reaches another's rows.
#include <algorithm>
#include <map>

#include <xxhash.h>

#include "storage/impl.hpp"

namespace refmail::storage {

namespace {

std::string encode_mailbox(const MailboxMeta& m) {
  std::string v;
  put_u32(v, m.mailbox_id);
  put_u32(v, m.uidvalidity);
  put_i64(v, m.created);
  // Flags: bit 0 = unsubscribed (absent in records from before subscriptions were kept).
  v.push_back(static_cast<char>(m.subscribed ? 0 : 1));
  return v;
}

std::optional<MailboxMeta> decode_mailbox(std::string_view v) {
  Reader r(v);
  MailboxMeta m;
  m.mailbox_id = r.u32();
  m.uidvalidity = r.u32();
  m.created = r.i64();
  if (!r.ok()) return std::nullopt;
  if (!r.done()) {
    auto flags = r.u8();
    if (!r.done() || (flags & ~1u) != 0) return std::nullopt;
    m.subscribed = (flags & 1u) == 0;
  }
  return m;
}

bool is_system(std::string_view name) {
  return std::find(kSystemMailboxes.begin(), kSystemMailboxes.end(), name) !=
         kSystemMailboxes.end();
}

bool starts_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && std::memcmp(s.data(), p.data(), p.size()) == 0;
}

}  // namespace

std::optional<std::string> canonical_mailbox(std::string_view name) {
  if (name.empty() || name.size() > 255) return std::nullopt;
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) return std::nullopt;
  if (name.front() == ' ' || name.back() == ' ') return std::nullopt;
  // RFC 3501 5.1: INBOX is case-insensitive.
  if (name.size() == 5) {
    std::string up(name);
    for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (up == "INBOX") return up;
  }
  return std::string(name);
}

std::mutex& Store::Impl::message_lock(std::string_view message_id) {
  return local.message_stripes[XXH3_64bits(message_id.data(), message_id.size()) % kMessageStripes];
}

result<std::optional<MessageValue>> Store::Impl::load_message(std::string_view message_id) {
  auto v = get(kCfMessage, message_id);
  if (!v) return v.error();
  if (!*v) return std::optional<MessageValue>();
  auto m = decode_message(**v);
  if (!m) return fail(errc::corrupt, "message " + std::string(message_id) + " is corrupt");
  return m;
}

result<std::optional<UserRecord>> Store::Impl::load_user(std::string_view account) {
  auto v = get(kCfAccount, user_key(account));
  if (!v) return v.error();
  if (!*v) return std::optional<UserRecord>();
  auto u = decode_user(**v);
  if (!u) return fail(errc::corrupt, "user record of " + std::string(account) + " is corrupt");
  return u;
}

result<std::optional<MailboxMeta>> Store::Impl::find_mailbox(std::string_view account,
                                                             std::string_view name) {
  auto v = get(kCfMailbox, mailbox_name_key(account, name));
  if (!v) return v.error();
  if (!*v) return std::optional<MailboxMeta>();
  auto m = decode_mailbox(**v);
  if (!m) return fail(errc::corrupt, "mailbox " + std::string(name) + " record is corrupt");
  return m;
}

result<MailboxMeta> Store::Impl::require_mailbox(std::string_view account, std::string_view name) {
  auto m = find_mailbox(account, name);
  if (!m) return m.error();
  if (!*m) {
    return fail(errc::not_found,
                "mailbox " + std::string(name) + " of " + std::string(account) + " does not exist");
  }
  return std::move(**m);
}

result<Store::Impl::LockedRow> Store::Impl::lock_row(std::string_view account, std::uint32_t mailbox_id,
                                                     std::uint32_t uid, std::string_view mailbox_name) {
  LockedRow out;
  out.key = row_key(account, mailbox_id, uid);
  auto missing = [&] { return fail(errc::not_found, "UID " + std::to_string(uid) + " not in " + std::string(mailbox_name)); };
  auto v = get(kCfMailbox, out.key);
  if (!v) return v.error();
  if (!*v) return missing();
  auto first = decode_row(**v);
  if (!first) return fail(errc::corrupt, "mailbox row of " + std::string(account) + " is corrupt");
  out.lock = std::unique_lock(message_lock(first->message_id));
  auto again = get(kCfMailbox, out.key);
  if (!again) return again.error();
  if (!*again) return missing();
  auto r = decode_row(**again);
  if (!r) return fail(errc::corrupt, "mailbox row of " + std::string(account) + " is corrupt");
  out.row = std::move(*r);
  return out;
}

void Store::Impl::put_mailbox(KvBatch& batch, std::string_view account,
                              std::string_view name, const MailboxMeta& m) {
  batch.put(kCfMailbox, mailbox_name_key(account, name), encode_mailbox(m));
}

std::uint32_t Store::Impl::allocate_uid(std::string_view account, std::uint32_t mailbox_id, UidHold& hold) {
  hold.release();
  auto key = uidnext_key(account, mailbox_id);
  std::lock_guard lock(local.uid_mu);
  auto it = local.uidnext.find(key);
  if (it == local.uidnext.end()) {
    auto persisted = counter(key);
    std::uint32_t next = persisted && *persisted > 0 ? static_cast<std::uint32_t>(*persisted) : 1;
    it = local.uidnext.emplace(key, next).first;
  }
  const auto uid = it->second++;
  local.uids_in_flight[key].insert(uid);
  hold.impl_ = this;
  hold.key_ = std::move(key);
  hold.uid_ = uid;
  return uid;
}

void UidHold::release() {
  if (!impl_) return;
  std::lock_guard lock(impl_->local.uid_mu);
  auto it = impl_->local.uids_in_flight.find(key_);
  if (it != impl_->local.uids_in_flight.end()) {
    it->second.erase(uid_);
    if (it->second.empty()) impl_->local.uids_in_flight.erase(it);
  }
  impl_ = nullptr;
}

result<std::uint32_t> Store::uid_horizon(std::string_view account, std::uint32_t mailbox_id) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  const auto key = uidnext_key(*acct, mailbox_id);
  std::lock_guard lock(impl_->local.uid_mu);
  if (auto f = impl_->local.uids_in_flight.find(key); f != impl_->local.uids_in_flight.end() && !f->second.empty())
    return *f->second.begin();
  if (auto c = impl_->local.uidnext.find(key); c != impl_->local.uidnext.end()) return c->second;
  // Nothing allocated by this process since it opened the store: every UID below the
  // persisted high-water mark is written.
  auto persisted = impl_->counter(key);
  if (!persisted) return persisted.error();
  return *persisted > 0 ? static_cast<std::uint32_t>(*persisted) : 1u;
}

std::uint32_t Store::Impl::allocate_mailbox_id(std::string_view account) {
  auto key = mailbox_next_key(account);
  std::lock_guard lock(local.uid_mu);
  auto it = local.mailbox_next.find(key);
  if (it == local.mailbox_next.end()) {
    auto persisted = counter(key);
    std::uint32_t next = persisted && *persisted > 0 ? static_cast<std::uint32_t>(*persisted) : 1;
    it = local.mailbox_next.emplace(key, next).first;
  }
  return it->second++;
}

std::uint32_t Store::Impl::allocate_uidvalidity() {
  std::lock_guard lock(local.uid_mu);
  if (local.last_uidvalidity < 0) {
    auto persisted = counter(kUidValidity);
    local.last_uidvalidity = persisted ? *persisted : 0;
  }
  local.last_uidvalidity = std::max<std::int64_t>(local.last_uidvalidity + 1, now_unix() & 0xffffffff);
  return static_cast<std::uint32_t>(local.last_uidvalidity);
}

void Store::Impl::drop_message_ref(KvBatch& batch, std::string_view message_id,
                                   const MessageValue& mv, std::vector<std::string>* gc) {
  std::string_view key(message_id.data(), message_id.size());
  if (mv.refcount > 1) {
    batch.merge(kCfMessage, key, add_operand(-1));
    return;
  }
  batch.del(kCfMessage, key);
  batch.merge(kCfCounter, kMessages, add_operand(-1));
  batch.merge(kCfCounter, kPhysicalBytes,
              add_operand(-static_cast<std::int64_t>(mv.record.skeleton.size() +
                                                     mv.record.summary.size())));
  for (const auto& id : mv.record.blob_ids) {
    batch.merge(kCfBlobMeta, id, add_operand(-1));
    gc->push_back(id);
  }
}

result<void> Store::Impl::expunge_row(std::string_view account, std::uint32_t mailbox_id,
                                      std::uint32_t uid, bool sync,
                                      std::vector<std::string>* gc) {
  auto key = row_key(account, mailbox_id, uid);
  auto v = get(kCfMailbox, key);
  if (!v) return v.error();
  if (!*v) return {};
  auto row = decode_row(**v);
  if (!row) return fail(errc::corrupt, "mailbox row of " + std::string(account) + " is corrupt");
  std::lock_guard mlock(message_lock(row->message_id));
  // Two expunges of the same row may race: only the one that still sees it proceeds.
  auto again = get(kCfMailbox, key);
  if (!again) return again.error();
  if (!*again) return {};
  // The row as it is now (its keywords may have changed since the first read).
  row = decode_row(**again);
  if (!row) return fail(errc::corrupt, "mailbox row of " + std::string(account) + " is corrupt");
  auto mv = load_message(row->message_id);
  if (!mv) return mv.error();
  auto batch = kv->batch();
  const Cf counters = kCfCounter;
  // The email (and its thread) may still exist in another mailbox: logged as
  // updated; the reader tells destroyed from updated by what exists now.
  ChangeTicket ticket;
  auto logged = log_changes(batch, std::string(account),
                            {Change{ChangeType::email, ChangeKind::updated, row->message_id},
                             Change{ChangeType::thread, ChangeKind::updated,
                                    row->thread_id.empty() ? row->message_id : row->thread_id},
                             Change{ChangeType::mailbox, ChangeKind::counts, std::to_string(mailbox_id)}},
                            &ticket);
  if (!logged) return logged.error();
  batch.del(kCfMailbox, key);
  batch.del(kCfMailbox, message_index_key(account, row->message_id, mailbox_id, uid));
  const auto keys = *mv ? sort_keys_of((*mv)->record) : mime::SortKeys{};
  IndexDelta index;
  index.remove(IndexDelta::of(account, mailbox_id, uid, *row, &keys), *logged);
  auto index_locks = index.apply(*this, batch);
  if (!index_locks) return index_locks.error();
  const auto size = static_cast<std::int64_t>(row->logical_size);
  const auto dom = domain_of(account);
  batch.merge(counters, kLogicalBytes, add_operand(-size));
  batch.merge(counters, kRows, add_operand(-1));
  batch.merge(counters, account_bytes_key(account), add_operand(-size));
  batch.merge(counters, account_msgs_key(account), add_operand(-1));
  batch.merge(counters, domain_bytes_key(dom), add_operand(-size));
  batch.merge(counters, domain_msgs_key(dom), add_operand(-1));
  if (*mv) {
    for (const auto& id : (*mv)->record.blob_ids)
      batch.merge(kCfGrant, grant_key(account, id), add_operand(-1));
    drop_message_ref(batch, row->message_id, **mv, gc);
  }
  auto w = write(batch, sync);
  ticket.finish(bool(w));
  return w;
}

result<void> Store::Impl::expunge_mailbox_rows(std::string_view account,
                                               std::uint32_t mailbox_id) {
  std::vector<std::uint32_t> uids;
  {
    auto prefix = row_prefix(account, mailbox_id);
    auto it = iter(kCfMailbox);
    for (it->seek(prefix); it->valid() && starts_with(it->key(), prefix); it->next())
      uids.push_back(get_be32(std::string_view(it->key().data() + prefix.size(), 4)));
    if (auto ec = it->check("listing mailbox rows")) return ec;
  }
  std::vector<std::string> gc;
  for (std::size_t i = 0; i < uids.size(); ++i) {
    // One WAL sync at the end instead of one per row.
    auto r = expunge_row(account, mailbox_id, uids[i], /*sync=*/false, &gc);
    if (!r) return r;
  }
  auto synced = sync_wal();
  if (!synced) return synced;
  gc_blobs(gc);
  return {};
}

result<void> Store::Impl::release_upload_key(const std::string& key, std::vector<std::string>* gc) {
  auto v = get(kCfMailbox, key);
  if (!v) return v.error();
  if (!*v) return fail(errc::not_found, "upload not found");
  auto up = decode_upload(**v);
  if (!up) return fail(errc::corrupt, "upload record is corrupt");
  const std::string message_id = up->message_id;
  std::lock_guard mlock(message_lock(message_id));
  auto again = get(kCfMailbox, key);
  if (!again) return again.error();
  if (!*again) return fail(errc::not_found, "upload not found");
  auto mv = load_message(message_id);
  if (!mv) return mv.error();
  auto batch = kv->batch();
  batch.del(kCfMailbox, key);
  std::string_view account(key.data() + 1, key.find('\0') - 1);
  if (up->charged_bytes > 0)
    batch.merge(kCfCounter, account_upload_bytes_key(account), add_operand(-up->charged_bytes));
  if (*mv) {
    for (const auto& id : (*mv)->record.blob_ids)
      batch.merge(kCfGrant, grant_key(account, id), add_operand(-1));
    drop_message_ref(batch, message_id, **mv, gc);
  }
  return write(batch);
}

result<void> Store::release_upload(std::string_view account, std::string_view upload_id) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  std::vector<std::string> gc;
  std::shared_lock admin(impl_->local.admin_mu);
  auto r = impl_->release_upload_key(upload_key(*acct, upload_id), &gc);
  if (!r) return r;
  impl_->gc_blobs(gc);
  return {};
}

result<std::size_t> Store::expire_uploads(UnixSeconds now) {
  std::vector<std::string> expired;
  std::shared_lock admin(impl_->local.admin_mu);
  {
    auto it = impl_->iter(kCfMailbox);
    for (it->seek("U"); it->valid() && it->key()[0] == 'U'; it->next()) {
      auto up = decode_upload(std::string_view(it->value().data(), it->value().size()));
      if (up && up->expires <= now.time_since_epoch().count()) expired.push_back(std::string(it->key()));
    }
    if (auto ec = it->check("listing uploads")) return ec;
  }
  std::vector<std::string> gc;
  std::size_t n = 0;
  for (const auto& key : expired) {
    auto r = impl_->release_upload_key(key, &gc);
    if (r) ++n;
    else if (r.error() != errc::not_found) return r.error();
  }
  impl_->gc_blobs(gc);
  return n;
}

// ---- public mailbox API ----

result<std::vector<MailboxInfo>> Store::list_mailboxes(std::string_view account) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  auto user = impl_->load_user(*acct);
  if (!user) return user.error();
  if (!*user) return fail(errc::not_found, "account " + *acct + " does not exist");
  std::vector<MailboxInfo> out;
  std::string prefix = "N" + *acct;
  prefix.push_back('\0');
  auto it = impl_->iter(kCfMailbox);
  for (it->seek(prefix); it->valid() && starts_with(it->key(), prefix); it->next()) {
    auto m = decode_mailbox(std::string_view(it->value().data(), it->value().size()));
    if (!m) return fail(errc::corrupt, "mailbox record of " + *acct + " is corrupt");
    MailboxInfo info;
    info.name = std::string(it->key()).substr(prefix.size());
    info.mailbox_id = m->mailbox_id;
    info.uidvalidity = m->uidvalidity;
    info.is_system = is_system(info.name);
    info.subscribed = m->subscribed;
    auto key = uidnext_key(*acct, m->mailbox_id);
    {
      std::lock_guard lock(impl_->local.uid_mu);
      auto f = impl_->local.uidnext.find(key);
      if (f != impl_->local.uidnext.end()) info.uidnext = f->second;
    }
    if (info.uidnext == 0) {
      auto c = impl_->counter(key);
      if (!c) return c.error();
      info.uidnext = *c > 0 ? static_cast<std::uint32_t>(*c) : 1;
    }
    out.push_back(std::move(info));
  }
  if (auto ec = it->check("listing mailboxes")) return ec;
  return out;
}

result<MailboxInfo> Store::create_mailbox(std::string_view account, std::string_view name) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  auto mbox = canonical_mailbox(name);
  if (!mbox) return fail(errc::invalid_argument, "malformed mailbox name '" + std::string(name) + "'");
  std::unique_lock admin(impl_->local.admin_mu);
  auto user = impl_->load_user(*acct);
  if (!user) return user.error();
  if (!*user) return fail(errc::not_found, "account " + *acct + " does not exist");
  auto existing = impl_->find_mailbox(*acct, *mbox);
  if (!existing) return existing.error();
  if (*existing) return fail(errc::exists, "mailbox " + *mbox + " of " + *acct + " already exists");
  MailboxMeta m;
  m.mailbox_id = impl_->allocate_mailbox_id(*acct);
  m.uidvalidity = impl_->allocate_uidvalidity();
  m.created = now_unix();
  auto batch = impl_->kv->batch();
  impl_->put_mailbox(batch, *acct, *mbox, m);
  batch.merge(kCfCounter, mailbox_next_key(*acct), max_operand(m.mailbox_id + 1));
  batch.merge(kCfCounter, kUidValidity, max_operand(m.uidvalidity));
  if (auto w = impl_->write_mailbox_change(batch, *acct, m.mailbox_id, ChangeKind::created); !w) return w.error();
  return MailboxInfo{*mbox, m.mailbox_id, m.uidvalidity, 1, false, true};
}

result<void> Store::Impl::write_mailbox_change(KvBatch& batch, const std::string& account,
                                               std::uint32_t mailbox_id, ChangeKind kind) {
  ChangeTicket ticket;
  auto logged = log_changes(batch, account, {Change{ChangeType::mailbox, kind, std::to_string(mailbox_id)}}, &ticket);
  if (!logged) return logged.error();
  auto w = write(batch);
  ticket.finish(bool(w));
  return w;
}

result<void> Store::set_subscribed(std::string_view account, std::string_view name, bool subscribed) {
  auto acct = canonical_address(account);
  auto mbox = canonical_mailbox(name);
  if (!acct || !mbox) return fail(errc::invalid_argument, "malformed account or mailbox name");
  std::unique_lock admin(impl_->local.admin_mu);
  auto m = impl_->require_mailbox(*acct, *mbox);
  if (!m) return m.error();
  if (m->subscribed == subscribed) return {};
  m->subscribed = subscribed;
  auto batch = impl_->kv->batch();
  impl_->put_mailbox(batch, *acct, *mbox, *m);
  return impl_->write_mailbox_change(batch, *acct, m->mailbox_id, ChangeKind::updated);
}

result<void> Store::rename_mailbox(std::string_view account, std::string_view from,
                                   std::string_view to) {
  auto acct = canonical_address(account);
  auto src = canonical_mailbox(from);
  auto dst = canonical_mailbox(to);
  if (!acct || !src || !dst) return fail(errc::invalid_argument, "malformed account or mailbox name");
  if (is_system(*src) || is_system(*dst))
    return fail(errc::invalid_argument, "system mailboxes cannot be renamed");
  std::unique_lock admin(impl_->local.admin_mu);
  auto m = impl_->require_mailbox(*acct, *src);
  if (!m) return m.error();
  auto d = impl_->find_mailbox(*acct, *dst);
  if (!d) return d.error();
  if (*d) return fail(errc::exists, "mailbox " + *dst + " of " + *acct + " already exists");
  // Rows are keyed by the mailbox id, so a rename touches only the name record and
  // UIDs and UIDVALIDITY stay valid.
  auto batch = impl_->kv->batch();
  batch.del(kCfMailbox, mailbox_name_key(*acct, *src));
  impl_->put_mailbox(batch, *acct, *dst, *m);
  return impl_->write_mailbox_change(batch, *acct, m->mailbox_id, ChangeKind::updated);
}

result<void> Store::delete_mailbox(std::string_view account, std::string_view name) {
  auto acct = canonical_address(account);
  auto mbox = canonical_mailbox(name);
  if (!acct || !mbox) return fail(errc::invalid_argument, "malformed account or mailbox name");
  if (is_system(*mbox)) return fail(errc::invalid_argument, "system mailboxes cannot be deleted");
  std::unique_lock admin(impl_->local.admin_mu);
  auto m = impl_->require_mailbox(*acct, *mbox);
  if (!m) return m.error();
  auto r = impl_->expunge_mailbox_rows(*acct, m->mailbox_id);
  if (!r) return r;
  auto batch = impl_->kv->batch();
  batch.del(kCfMailbox, mailbox_name_key(*acct, *mbox));
  // Its index is empty now; the zero counters and the expunge tombstones go too.
  for (char kind : {kCountTotal, kCountUnread, kCountThreads, kCountUnreadThreads})
    batch.del(kCfCounter, mailbox_count_key(*acct, m->mailbox_id, kind));
  {
    auto from = modseq_prefix(kTombstone, *acct, m->mailbox_id);
    auto to = modseq_prefix(kTombstone, *acct, m->mailbox_id + 1);
    if (m->mailbox_id == 0xffffffff) to = from.substr(0, from.size() - 4) + "\xff\xff\xff\xff\xff";
    batch.delete_range(kCfMailbox, from, to);
  }
  return impl_->write_mailbox_change(batch, *acct, m->mailbox_id, ChangeKind::updated);
}

namespace {
MailboxRow to_row(std::string_view account, std::string_view mailbox, std::uint32_t uid,
                  RowValue&& v) {
  MailboxRow row;
  row.account = std::string(account);
  row.mailbox = std::string(mailbox);
  row.uid = uid;
  row.message_id = std::move(v.message_id);
  row.keywords = std::move(v.keywords);
  row.internal_date = UnixSeconds(std::chrono::seconds(v.internal_date));
  row.logical_size = v.logical_size;
  row.modseq = row_modseq(v);
  row.thread_id = v.thread_id.empty() ? row.message_id : std::move(v.thread_id);
  return row;
}
}  // namespace

result<std::vector<MailboxRow>> Store::list_rows(std::string_view account,
                                                 std::string_view mailbox) {
  std::vector<MailboxRow> rows;
  auto r = scan_rows(account, mailbox, 0, [&](MailboxRow&& row) {
    rows.push_back(std::move(row));
    return true;
  });
  if (!r) return r.error();
  return rows;
}

result<void> Store::scan_rows(std::string_view account, std::string_view mailbox, std::uint32_t from_uid,
                              const std::function<bool(MailboxRow&&)>& visit) {
  auto acct = canonical_address(account);
  auto mbox = canonical_mailbox(mailbox);
  if (!acct || !mbox) return fail(errc::invalid_argument, "malformed account or mailbox name");
  auto m = impl_->require_mailbox(*acct, *mbox);
  if (!m) return m.error();
  auto prefix = row_prefix(*acct, m->mailbox_id);
  auto it = impl_->iter(kCfMailbox);
  for (it->seek(row_key(*acct, m->mailbox_id, from_uid)); it->valid() && starts_with(it->key(), prefix);
       it->next()) {
    auto v = decode_row(std::string_view(it->value().data(), it->value().size()));
    if (!v) return fail(errc::corrupt, "mailbox row of " + *acct + " is corrupt");
    auto uid = get_be32(std::string_view(it->key().data() + prefix.size(), 4));
    if (!visit(to_row(*acct, *mbox, uid, std::move(*v)))) return {};
  }
  if (auto ec = it->check("listing mailbox rows")) return ec;
  return {};
}

result<std::map<std::uint32_t, std::string>> Store::Impl::mailbox_names(std::string_view account) {
  std::map<std::uint32_t, std::string> names;
  std::string nprefix = "N" + std::string(account);
  nprefix.push_back('\0');
  auto it = iter(kCfMailbox);
  for (it->seek(nprefix); it->valid() && starts_with(it->key(), nprefix); it->next()) {
    auto m = decode_mailbox(std::string_view(it->value().data(), it->value().size()));
    if (!m) return fail(errc::corrupt, "mailbox record of " + std::string(account) + " is corrupt");
    names[m->mailbox_id] = std::string(it->key()).substr(nprefix.size());
  }
  if (auto ec = it->check("listing mailboxes")) return ec;
  return names;
}

result<std::vector<MailboxRow>> Store::message_rows(std::string_view account, std::string_view message_id) {
  const std::string id(message_id);
  auto m = message_rows(account, std::span<const std::string>(&id, 1));
  if (!m) return m.error();
  return std::move((*m)[id]);
}

result<std::map<std::string, std::vector<MailboxRow>>> Store::message_rows(
    std::string_view account, std::span<const std::string> message_ids) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  std::map<std::string, std::vector<MailboxRow>> out;
  // One look at the account's mailboxes (id -> name) for all the ids, when any is held.
  std::optional<std::map<std::uint32_t, std::string>> names;
  for (const auto& message_id : message_ids) {
    auto& rows = out[message_id];
    if (!rows.empty() || message_id.empty() || message_id.find('\0') != std::string::npos) continue;
    const auto prefix = message_index_prefix(*acct, message_id);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> at;  // (mailbox id, uid)
    {
      auto it = impl_->iter(kCfMailbox);
      for (it->seek(prefix); it->valid() && starts_with(it->key(), prefix); it->next()) {
        if (it->key().size() != prefix.size() + 8) continue;
        std::string_view key(it->key().data(), it->key().size());
        at.emplace_back(get_be32(key.substr(prefix.size(), 4)), get_be32(key.substr(prefix.size() + 4, 4)));
      }
      if (auto ec = it->check("reading the message index")) return ec;
    }
    if (at.empty()) continue;
    if (!names) {
      auto n = impl_->mailbox_names(*acct);
      if (!n) return n.error();
      names = std::move(*n);
    }
    for (const auto& [mailbox_id, uid] : at) {
      auto name = names->find(mailbox_id);
      if (name == names->end()) continue;  // a row of a mailbox being deleted
      auto v = impl_->get(kCfMailbox, row_key(*acct, mailbox_id, uid));
      if (!v) return v.error();
      if (!*v) continue;  // expunged since the index was read
      auto r = decode_row(**v);
      if (!r) return fail(errc::corrupt, "mailbox row of " + *acct + " is corrupt");
      if (r->message_id != message_id)
        return fail(errc::corrupt, "message index of " + *acct + " names another message's row");
      rows.push_back(to_row(*acct, name->second, uid, std::move(*r)));
    }
  }
  return out;
}

result<std::size_t> Store::Impl::build_message_index() {
  auto done = get(kCfDefault, kIndexFormatKey);
  if (!done) return done.error();
  if (*done && **done == kIndexFormat) return std::size_t{0};
  // Formats "1" to "4" had the message index already; the mailbox index is (re)built
  // whole (absolute values: rewriting what an older format had is harmless).
  const bool have_message_index = *done && (**done == "1" || **done == "2" || **done == "3" || **done == "4");
  progress("start", 0);
  // Rows written meanwhile index themselves; puts of an existing key are harmless.
  std::size_t indexed = 0, in_batch = 0;
  auto batch = kv->batch();
  auto it = iter(kCfMailbox);
  for (it->seek(have_message_index ? "S" : "R"); it->valid() && starts_with(it->key(), "R"); it->next()) {
    std::string_view key(it->key().data(), it->key().size());
    auto z = key.find('\0');
    if (z == std::string_view::npos || key.size() != z + 9) continue;  // fsck reports it
    auto row = decode_row(std::string_view(it->value().data(), it->value().size()));
    if (!row) continue;  // fsck reports it
    batch.put(kCfMailbox,
              message_index_key(key.substr(1, z - 1), row->message_id, get_be32(key.substr(z + 1, 4)),
                                get_be32(key.substr(z + 5, 4))),
              {});
    if (++indexed % 100000 == 0) progress("rows", indexed);
    if (++in_batch == 10000) {
      auto w = write(batch, /*sync=*/false);
      if (!w) return w.error();
      batch = kv->batch();
      in_batch = 0;
    }
  }
  if (auto ec = it->check("indexing messages")) return ec;
  // The date view's keys gained the message id in format "5": older ones go first.
  if (*done && (**done == "2" || **done == "3" || **done == "4")) {
    auto drop = kv->batch();
    drop.delete_range(kCfMailbox, "D", "E");
    if (auto w = write(drop, /*sync=*/false); !w) return w.error();
  }
  auto boxes = build_mailbox_index();
  if (!boxes) return boxes.error();
  indexed = std::max(indexed, *boxes);
  batch.put(kCfDefault, kIndexFormatKey, kIndexFormat);
  auto w = write(batch, /*sync=*/true);
  if (!w) return w.error();
  progress("done", indexed);
  return indexed;
}

void Store::Impl::progress(std::string_view stage, std::uint64_t rows) {
  if (options.on_index_progress) options.on_index_progress(stage, rows);
}

result<std::vector<MailboxRow>> Store::list_account_rows(std::string_view account) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  auto names_r = impl_->mailbox_names(*acct);
  if (!names_r) return names_r.error();
  const auto& names = *names_r;
  std::vector<MailboxRow> rows;
  std::string rprefix = "R" + *acct;
  rprefix.push_back('\0');
  auto it = impl_->iter(kCfMailbox);
  for (it->seek(rprefix); it->valid() && starts_with(it->key(), rprefix); it->next()) {
    if (it->key().size() != rprefix.size() + 8) continue;
    std::string_view key(it->key().data(), it->key().size());
    auto mailbox_id = get_be32(key.substr(rprefix.size(), 4));
    auto uid = get_be32(key.substr(rprefix.size() + 4, 4));
    auto v = decode_row(std::string_view(it->value().data(), it->value().size()));
    if (!v) return fail(errc::corrupt, "mailbox row of " + *acct + " is corrupt");
    auto name = names.find(mailbox_id);
    if (name == names.end()) continue;  // a row of a mailbox being deleted
    rows.push_back(to_row(*acct, name->second, uid, std::move(*v)));
  }
  if (auto ec = it->check("listing rows")) return ec;
  return rows;
}

result<MailboxRow> Store::get_row(std::string_view account, std::string_view mailbox,
                                  std::uint32_t uid) {
  auto acct = canonical_address(account);
  auto mbox = canonical_mailbox(mailbox);
  if (!acct || !mbox) return fail(errc::invalid_argument, "malformed account or mailbox name");
  auto m = impl_->require_mailbox(*acct, *mbox);
  if (!m) return m.error();
  auto v = impl_->get(kCfMailbox, row_key(*acct, m->mailbox_id, uid));
  if (!v) return v.error();
  if (!*v) return fail(errc::not_found, "UID " + std::to_string(uid) + " not in " + *mbox);
  auto r = decode_row(**v);
  if (!r) return fail(errc::corrupt, "mailbox row of " + *acct + " is corrupt");
  return to_row(*acct, *mbox, uid, std::move(*r));
}

result<void> Store::set_keywords(std::string_view account, std::string_view mailbox,
                                 std::uint32_t uid, std::vector<std::string> keywords,
                                 std::optional<std::uint64_t> unchanged_since) {
  auto acct = canonical_address(account);
  auto mbox = canonical_mailbox(mailbox);
  if (!acct || !mbox) return fail(errc::invalid_argument, "malformed account or mailbox name");
  if (keywords.size() > kMaxKeywords ||
      std::any_of(keywords.begin(), keywords.end(),
                  [](const std::string& k) { return k.empty() || k.size() > kMaxKeywordBytes; }))
    return fail(errc::invalid_argument, "too many or malformed keywords");
  std::shared_lock admin(impl_->local.admin_mu);
  auto m = impl_->require_mailbox(*acct, *mbox);
  if (!m) return m.error();
  auto locked = impl_->lock_row(*acct, m->mailbox_id, uid, *mbox);
  if (!locked) return locked.error();
  const std::string& key = locked->key;
  RowValue* r = &locked->row;
  // Under the row's lock: no other change can slip in between this check and the write.
  if (unchanged_since && row_modseq(*r) > *unchanged_since)
    return fail(errc::modified, "UID " + std::to_string(uid) + " changed after modseq " + std::to_string(*unchanged_since));
  auto seen = [](const std::vector<std::string>& k) {
    return std::find(k.begin(), k.end(), "$seen") != k.end();
  };
  std::vector<Change> changes{Change{ChangeType::email, ChangeKind::updated, r->message_id}};
  // RFC 8621 2: unreadEmails/unreadThreads move with $seen.
  if (seen(r->keywords) != seen(keywords))
    changes.push_back(Change{ChangeType::mailbox, ChangeKind::counts, std::to_string(m->mailbox_id)});
  auto batch = impl_->kv->batch();
  ChangeTicket ticket;
  auto logged = impl_->log_changes(batch, *acct, changes, &ticket);
  if (!logged) return logged.error();
  IndexDelta index;
  index.update(IndexDelta::of(*acct, m->mailbox_id, uid, *r), !seen(keywords), *logged);
  r->keywords = std::move(keywords);
  r->modseq = *logged;
  batch.put(kCfMailbox, key, encode_row(*r));
  auto index_locks = index.apply(*impl_, batch);
  if (!index_locks) return index_locks.error();
  auto w = impl_->write(batch);
  ticket.finish(bool(w));
  return w;
}

result<std::uint32_t> Store::copy_row(std::string_view account, std::string_view from_mailbox,
                                      std::uint32_t uid, std::string_view to_mailbox, bool move) {
  auto acct = canonical_address(account);
  auto src = canonical_mailbox(from_mailbox);
  auto dst = canonical_mailbox(to_mailbox);
  if (!acct || !src || !dst) return fail(errc::invalid_argument, "malformed account or mailbox name");
  std::shared_lock admin(impl_->local.admin_mu);
  auto sm = impl_->require_mailbox(*acct, *src);
  if (!sm) return sm.error();
  auto dm = impl_->require_mailbox(*acct, *dst);
  if (!dm) return dm.error();
  auto locked = impl_->lock_row(*acct, sm->mailbox_id, uid, *src);
  if (!locked) return locked.error();
  const std::string& key = locked->key;
  const RowValue* r = &locked->row;
  auto mv = impl_->load_message(r->message_id);
  if (!mv) return mv.error();
  if (!*mv) return fail(errc::corrupt, "message " + r->message_id + " of a row is missing");
  QuotaReservation quota;
  if (!move) {
    auto q = impl_->reserve_quota({{*acct, r->logical_size}}, &quota);
    if (!q) return q.error();
  }
  UidHold uid_hold;  // released after the write below, or when it is given up
  auto new_uid = impl_->allocate_uid(*acct, dm->mailbox_id, uid_hold);
  auto batch = impl_->kv->batch();
  const Cf counters = kCfCounter;
  std::vector<Change> changes{Change{ChangeType::email, ChangeKind::updated, r->message_id},
                              Change{ChangeType::mailbox, ChangeKind::counts, std::to_string(dm->mailbox_id)}};
  if (move) changes.push_back(Change{ChangeType::mailbox, ChangeKind::counts, std::to_string(sm->mailbox_id)});
  ChangeTicket ticket;
  auto logged = impl_->log_changes(batch, *acct, changes, &ticket);
  if (!logged) return logged.error();
  RowValue copy = *r;  // the new row: written by this batch
  copy.modseq = *logged;
  batch.put(kCfMailbox, row_key(*acct, dm->mailbox_id, new_uid), encode_row(copy));
  batch.put(kCfMailbox, message_index_key(*acct, r->message_id, dm->mailbox_id, new_uid), {});
  batch.merge(counters, uidnext_key(*acct, dm->mailbox_id), max_operand(new_uid + 1));
  const auto keys = sort_keys_of((*mv)->record);
  IndexDelta index;
  index.add(IndexDelta::of(*acct, dm->mailbox_id, new_uid, copy, &keys));
  if (move) {
    // One row out, one row in: refcounts, grants and usage are unchanged.
    batch.del(kCfMailbox, key);
    batch.del(kCfMailbox, message_index_key(*acct, r->message_id, sm->mailbox_id, uid));
    index.remove(IndexDelta::of(*acct, sm->mailbox_id, uid, *r, &keys), *logged);
  } else {
    const auto size = static_cast<std::int64_t>(r->logical_size);
    const auto dom = domain_of(*acct);
    batch.merge(kCfMessage, r->message_id, add_operand(1));
    for (const auto& id : (*mv)->record.blob_ids)
      batch.merge(kCfGrant, grant_key(*acct, id), add_operand(1));
    batch.merge(counters, kLogicalBytes, add_operand(size));
    batch.merge(counters, kRows, add_operand(1));
    batch.merge(counters, account_bytes_key(*acct), add_operand(size));
    batch.merge(counters, account_msgs_key(*acct), add_operand(1));
    batch.merge(counters, domain_bytes_key(dom), add_operand(size));
    batch.merge(counters, domain_msgs_key(dom), add_operand(1));
  }
  auto index_locks = index.apply(*impl_, batch);
  if (!index_locks) return index_locks.error();
  auto w = impl_->write(batch);
  ticket.finish(bool(w));
  if (!w) return w.error();
  const std::string message_id = r->message_id;
  index_locks->clear();
  if (locked->lock.owns_lock()) locked->lock.unlock();
  admin.unlock();
  if (impl_->row_copied) impl_->row_copied(*acct, *src, *dst, message_id);
  return new_uid;
}

void Store::set_row_copied(RowCopied observer) { impl_->row_copied = std::move(observer); }

result<void> Store::expunge(std::string_view account, std::string_view mailbox,
                            std::span<const std::uint32_t> uids) {
  auto acct = canonical_address(account);
  auto mbox = canonical_mailbox(mailbox);
  if (!acct || !mbox) return fail(errc::invalid_argument, "malformed account or mailbox name");
  std::vector<std::string> gc;
  {
    std::shared_lock admin(impl_->local.admin_mu);
    auto m = impl_->require_mailbox(*acct, *mbox);
    if (!m) return m.error();
    for (std::size_t i = 0; i < uids.size(); ++i) {
      auto r = impl_->expunge_row(*acct, m->mailbox_id, uids[i], /*sync=*/false, &gc);
      if (!r) return r;
    }
    auto synced = impl_->sync_wal();
    if (!synced) return synced;
    // Under the admin lock so fsck repair never races a blob deletion.
    impl_->gc_blobs(gc);
  }
  return {};
}

}  // namespace refmail::storage
