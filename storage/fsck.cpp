// storage/fsck.cpp — recomputes every count from the rows on one snapshot (blob
// refcounts from message records, message refcounts from mailbox + queue rows, grants,
// usage counters, UID high-water marks) and finds orphans; repair writes corrections.
// Also stats() and the test hook that corrupts a count on purpose.
// Must never: repair while deliveries run (repair holds the admin lock exclusively,
// and every writer, blob GC included, holds it shared).
// SECURITY: reports name accounts and ids; they are for operators only.
#include <map>
#include <set>

#include "storage/impl.hpp"

namespace refmail::storage {

namespace {

std::string printable(std::string_view key) {
  std::string out;
  for (unsigned char c : key) {
    if (c >= 0x20 && c < 0x7f) out.push_back(static_cast<char>(c));
    else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool is_usage_counter(std::string_view k) {
  return k.starts_with("ab/") || k.starts_with("am/") || k.starts_with("au/") || k.starts_with("db/") ||
         k.starts_with("dm/") || k == kLogicalBytes || k == kPhysicalBytes || k == kMessages ||
         k == kBlobs || k == kRows || k.starts_with("mc/");
}

}  // namespace

result<FsckReport> Store::fsck(bool repair) {
  auto& s = *impl_;
  std::unique_lock<std::shared_mutex> admin(s.local.admin_mu, std::defer_lock);
  if (repair) admin.lock();
  auto guard = s.kv->snapshot();
  const auto* snap = guard.get();
  FsckReport report;
  auto fix = impl_->kv->batch();
  auto issue = [&](std::string what, std::string key, std::int64_t stored, std::int64_t expected) {
    report.issues.push_back(FsckIssue{std::move(what), std::move(key), stored, expected});
  };

  std::map<std::string, std::int64_t> counters;  // expected usage counters
  for (auto k : {kLogicalBytes, kPhysicalBytes, kMessages, kBlobs, kRows}) counters[std::string(k)] = 0;

  // 1. messages
  struct Msg {
    std::vector<std::string> blobs;
    std::int64_t stored_refcount = 0;
    std::int64_t expected_refcount = 0;
    std::int64_t bytes = 0;
    std::string raw_tail;  // the value after the refcount, for a repair rewrite
    mime::SortKeys keys;   // for the sorted views
  };
  std::map<std::string, Msg> messages;
  {
    auto it = s.iter(kCfMessage, snap);
    for (it->seek_to_first(); it->valid(); it->next()) {
      auto key = std::string(it->key());
      std::string_view v(it->value().data(), it->value().size());
      auto m = decode_message(v);
      if (!m) {
        issue(v.size() == 8 ? "orphan_message_refcount" : "corrupt_message", key,
              v.size() >= 8 ? decode_i64(v) : 0, 0);
        if (v.size() == 8) fix.del(kCfMessage, key);
        continue;
      }
      Msg msg;
      msg.blobs = m->record.blob_ids;
      msg.stored_refcount = m->refcount;
      msg.bytes = static_cast<std::int64_t>(m->record.skeleton.size() + m->record.summary.size());
      msg.raw_tail = std::string(v.substr(8));
      msg.keys = sort_keys_of(m->record);
      messages.emplace(key, std::move(msg));
      ++report.messages_checked;
    }
    if (auto ec = it->check("fsck: scanning messages")) return ec;
  }

  // 2. mailboxes and rows
  std::set<std::string> mailboxes;  // account \0 be32(mailbox id)
  std::map<std::string, std::uint32_t> max_uid;  // uidnext_key -> max uid
  std::map<std::string, std::int64_t> grants;
  std::set<std::string> index_keys;  // the message index the kept rows call for
  DerivedIndex derived;              // the mailbox index the kept rows call for
  {
    auto it = s.iter(kCfMailbox, snap);
    for (it->seek("N"); it->valid() && it->key()[0] == 'N'; it->next()) {
      auto key = std::string(it->key());
      auto z = key.find('\0');
      Reader r(std::string_view(it->value().data(), it->value().size()));
      auto id = r.u32();
      std::string mk = key.substr(1, z - 1);
      mk.push_back('\0');
      put_be32(mk, id);
      mailboxes.insert(mk);
    }
    for (it->seek("R"); it->valid() && it->key()[0] == 'R'; it->next()) {
      std::string key = std::string(it->key());
      auto z = key.find('\0');
      if (z == std::string::npos || key.size() != z + 9) {
        issue("corrupt_row_key", printable(key), 0, 0);
        continue;
      }
      std::string account = key.substr(1, z - 1);
      auto mailbox_id = get_be32(std::string_view(key).substr(z + 1, 4));
      auto uid = get_be32(std::string_view(key).substr(z + 5, 4));
      auto row = decode_row(std::string_view(it->value().data(), it->value().size()));
      ++report.rows_checked;
      if (!row) {
        issue("corrupt_row", printable(key), 0, 0);
        continue;
      }
      if (!mailboxes.count(key.substr(1, z + 4))) {
        issue("orphan_row", printable(key), 1, 0);
        fix.del(kCfMailbox, key);
        continue;
      }
      auto m = messages.find(row->message_id);
      if (m == messages.end()) {
        issue("dangling_row", printable(key) + " -> " + row->message_id, 1, 0);
        fix.del(kCfMailbox, key);
        continue;
      }
      ++m->second.expected_refcount;
      for (const auto& b : m->second.blobs) ++grants[grant_key(account, b)];
      const auto size = static_cast<std::int64_t>(row->logical_size);
      const auto dom = domain_of(account);
      counters[std::string(kLogicalBytes)] += size;
      counters[std::string(kRows)] += 1;
      counters[account_bytes_key(account)] += size;
      counters[account_msgs_key(account)] += 1;
      counters[domain_bytes_key(dom)] += size;
      counters[domain_msgs_key(dom)] += 1;
      auto& mu = max_uid[uidnext_key(account, mailbox_id)];
      mu = std::max(mu, uid);
      index_keys.insert(message_index_key(account, row->message_id, mailbox_id, uid));
      derive_mailbox_index(account, mailbox_id, uid, *row, m->second.keys, derived);
    }
    for (it->seek("U"); it->valid() && it->key()[0] == 'U'; it->next()) {
      std::string key = std::string(it->key());
      auto z = key.find('\0');
      auto up = decode_upload(std::string_view(it->value().data(), it->value().size()));
      auto m = up ? messages.find(up->message_id) : messages.end();
      if (z == std::string::npos || !up || m == messages.end()) {
        issue("dangling_upload", printable(key), 1, 0);
        fix.del(kCfMailbox, key);
        continue;
      }
      ++m->second.expected_refcount;
      std::string account = key.substr(1, z - 1);
      for (const auto& b : m->second.blobs) ++grants[grant_key(account, b)];
      if (up->charged_bytes > 0) counters[account_upload_bytes_key(account)] += up->charged_bytes;
    }
    if (auto ec = it->check("fsck: scanning mailboxes")) return ec;
  }

  // 2b. the change log ("C"), thread index ("H"), sessions ("s") and Sieve scripts belong to an
  // existing account; those of a removed one are orphans (remove_user deletes them).
  {
    std::set<std::string> accounts;
    auto at = s.iter(kCfAccount, snap);
    for (at->seek("u"); at->valid() && at->key()[0] == 'u'; at->next()) {
      auto key = std::string(at->key());
      auto z = key.find('\0');
      if (z == std::string::npos) continue;
      accounts.insert(key.substr(z + 1) + "@" + key.substr(1, z - 1));
    }
    for (at->seek(kSessionPrefix); at->valid() && at->key()[0] == kSessionPrefix[0]; at->next()) {
      Reader r(std::string_view(at->value().data(), at->value().size()));
      auto account = r.str();
      if (r.ok() && accounts.count(account)) continue;
      issue("orphan_session", account, 1, 0);
      fix.del(kCfAccount, at->key());
    }
    // Sieve scripts ("k" account \0 name), active copies ("K" account), delivery's memos
    // ("v" account \0 key) and vacation settings ("W" account) of a removed account
    // (remove_user deletes them; sieve.cpp).
    for (char p : {kSieveScriptPrefix, kSieveActivePrefix, kSieveMemoPrefix, kVacationPrefix}) {
      std::string last;
      for (at->seek(std::string(1, p)); at->valid() && at->key()[0] == p; at->next()) {
        const std::string key(at->key());
        const auto z = key.find('\0');
        const std::string account = p == kSieveActivePrefix || p == kVacationPrefix ? key.substr(1)
                                    : z == std::string::npos ? key.substr(1) : key.substr(1, z - 1);
        if (accounts.count(account)) continue;
        if (account != last) {
          issue(p == kSieveMemoPrefix   ? "orphan_sieve_memo"
                : p == kVacationPrefix ? "orphan_vacation"
                                       : "orphan_sieve_script",
                printable(account), 1, 0);
        }
        last = account;
        fix.del(kCfAccount, key);
      }
    }
    if (auto ec = at->check("fsck: scanning accounts")) return ec;
    auto it = s.iter(kCfMailbox, snap);
    for (char p : {'C', 'H'}) {
      std::string last;  // report an account once, delete each key
      for (it->seek(std::string(1, p)); it->valid() && it->key()[0] == p; it->next()) {
        std::string key = std::string(it->key());
        auto z = key.find('\0');
        std::string account = z == std::string::npos ? key : key.substr(1, z - 1);
        if (z != std::string::npos && accounts.count(account)) continue;
        if (account != last) issue(p == 'C' ? "orphan_change_log" : "orphan_thread_index", printable(account), 1, 0);
        last = account;
        fix.del(kCfMailbox, key);
      }
    }
    if (auto ec = it->check("fsck: scanning the change log")) return ec;
  }

  // 3. queue rows
  {
    auto it = s.iter(kCfQueue, snap);
    for (it->seek("Q"); it->valid() && it->key()[0] == 'Q'; it->next()) {
      auto q = decode_queue(std::string_view(it->value().data(), it->value().size()));
      auto m = q ? messages.find(q->message_id) : messages.end();
      if (m == messages.end()) {
        issue("dangling_queue_row", printable(std::string(it->key())), 1, 0);
        continue;  // reported only: the relay decides what to do with it
      }
      ++m->second.expected_refcount;
    }
    if (auto ec = it->check("fsck: scanning the queue")) return ec;
  }

  // The message index: one key per kept row, nothing else.
  {
    auto it = s.iter(kCfMailbox, snap);
    for (it->seek("E"); it->valid() && it->key()[0] == 'E'; it->next()) {
      std::string key(it->key());
      if (index_keys.erase(key) == 0) {
        issue("stale_message_index", printable(key), 1, 0);
        fix.del(kCfMailbox, key);
      }
    }
    if (auto ec = it->check("fsck: scanning the message index")) return ec;
    for (const auto& key : index_keys) {
      issue("missing_message_index", printable(key), 0, 1);
      fix.put(kCfMailbox, key, {});
    }
  }

  // The mailbox index: date views ("D"), per-thread counts ("G"), the modseq view ("M")
  // and thread members ("T") as the kept rows call for, reported per account and kind (a lost index is one
  // line per account, not one per row); its counters are checked with the others in 7.
  {
    for (const auto& [key, n] : derived.counters) counters[key] += n;
    std::map<std::pair<std::string, std::string>, std::int64_t> wrong;  // (kind, account) -> keys
    auto account_of = [](std::string_view key) {
      auto z = key.find('\0');
      return printable(key.substr(1, z == std::string_view::npos ? key.size() - 1 : z - 1));
    };
    auto it = s.iter(kCfMailbox, snap);
    for (char p : {'D', 'G', kModseqView, 'O', 'T'}) {
      for (it->seek(std::string(1, p)); it->valid() && it->key()[0] == p; it->next()) {
        std::string key(it->key());
        std::string_view value(it->value().data(), it->value().size());
        std::optional<std::string> expected;
        if (p != 'G') {
          if (auto f = derived.view.find(key); f != derived.view.end()) {
            expected = std::move(f->second);
            derived.view.erase(f);
          }
        } else if (auto f = derived.threads.find(key); f != derived.threads.end()) {
          expected = DerivedIndex::thread_value(f->second);
          derived.threads.erase(f);
        }
        if (expected && *expected == value) continue;
        ++wrong[{p == 'D'           ? "stale_mailbox_view"
                 : p == 'T'           ? "stale_thread_members"
                 : p == kModseqView ? "stale_modseq_index"
                 : p == 'O'           ? "stale_sorted_view"
                                      : "stale_thread_counts",
                 account_of(key)}];
        if (expected) fix.put(kCfMailbox, key, *expected);
        else fix.del(kCfMailbox, key);
      }
    }
    if (auto ec = it->check("fsck: scanning the mailbox index")) return ec;
    for (const auto& [key, value] : derived.view) {
      ++wrong[{key[0] == 'D'           ? "missing_mailbox_view"
               : key[0] == kModseqView ? "missing_modseq_index"
               : key[0] == 'O'         ? "missing_sorted_view"
                                         : "missing_thread_members",
               account_of(key)}];
      fix.put(kCfMailbox, key, value);
    }
    for (const auto& [key, c] : derived.threads) {
      ++wrong[{"missing_thread_counts", account_of(key)}];
      fix.put(kCfMailbox, key, DerivedIndex::thread_value(c));
    }
    for (const auto& [what, n] : wrong) issue(what.first, what.second, n, 0);
  }

  // 4. message refcounts; unreferenced messages are deleted by a repair.
  std::map<std::string, std::int64_t> blob_refs;
  for (auto& [id, m] : messages) {
    if (m.expected_refcount == 0) {
      issue("unreferenced_message", id, m.stored_refcount, 0);
      fix.del(kCfMessage, id);
      continue;
    }
    counters[std::string(kMessages)] += 1;
    counters[std::string(kPhysicalBytes)] += m.bytes;
    for (const auto& b : m.blobs) ++blob_refs[b];
    if (m.stored_refcount != m.expected_refcount) {
      issue("message_refcount", id, m.stored_refcount, m.expected_refcount);
      fix.put(kCfMessage, id, encode_i64(m.expected_refcount) + m.raw_tail);
    }
  }

  // 5. blobs: meta, chunks, SHA-256 index
  std::map<std::string, BlobMeta> metas;
  {
    auto it = s.iter(kCfBlobMeta, snap);
    for (it->seek_to_first(); it->valid(); it->next()) {
      auto id = std::string(it->key());
      auto m = decode_blob_meta(std::string_view(it->value().data(), it->value().size()));
      if (!m) {
        issue("corrupt_blob_meta", id, 0, 0);
        continue;
      }
      if (!m->has_record) {
        issue("orphan_blob_refcount", id, m->refcount, 0);
        fix.del(kCfBlobMeta, id);
        continue;
      }
      ++report.blobs_checked;
      counters[std::string(kBlobs)] += 1;
      counters[std::string(kPhysicalBytes)] += static_cast<std::int64_t>(m->size);
      auto expected = blob_refs.count(id) ? blob_refs[id] : 0;
      if (m->refcount != expected) {
        issue("blob_refcount", id, m->refcount, expected);
        auto fixed = *m;
        fixed.refcount = expected;
        fix.put(kCfBlobMeta, id, encode_blob_meta(fixed));
      }
      metas.emplace(id, *m);
    }
    if (auto ec = it->check("fsck: scanning blobs")) return ec;
  }
  for (const auto& [id, n] : blob_refs)
    if (!metas.count(id)) issue("missing_blob", id, 0, n);  // not repairable: bytes are gone
  {
    // Chunks are keyed by the blob's chunk id (its own id, or the spill it adopted).
    std::map<std::string, std::string> blob_of;  // chunk id -> blob id
    for (const auto& [id, m] : metas) blob_of.emplace(std::string(m.chunk_id(id)), id);
    // Spills not yet adopted by a commit (a delivery in progress) are not orphans;
    // Store::open sweeps the ones a crash left.
    std::set<std::string> staging;
    {
      auto it = s.iter(kCfDefault, snap);
      for (it->seek(kStageMarkerPrefix); it->valid() && it->key().starts_with(kStageMarkerPrefix); it->next())
        staging.emplace(it->key().substr(kStageMarkerPrefix.size()));
      if (auto ec = it->check("fsck: scanning staging markers")) return ec;
      report.blobs_staging = staging.size();
    }
    std::map<std::string, std::pair<std::uint64_t, std::uint32_t>> seen;  // by blob id: bytes, chunks
    auto it = s.iter(kCfBlobChunk, snap);
    for (it->seek_to_first(); it->valid(); it->next()) {
      std::string key = std::string(it->key());
      auto z = key.find('\0');
      std::string chunk_id = z == std::string::npos ? key : key.substr(0, z);
      if (staging.count(chunk_id) != 0) continue;
      auto b = blob_of.find(chunk_id);
      auto m = b == blob_of.end() ? metas.end() : metas.find(b->second);
      std::uint32_t n = (z != std::string::npos && key.size() == z + 5)
                            ? get_be32(std::string_view(key).substr(z + 1, 4))
                            : UINT32_MAX;
      if (m == metas.end() || n >= m->second.chunk_count) {
        issue("orphan_chunk", printable(key), static_cast<std::int64_t>(it->value().size()), 0);
        fix.del(kCfBlobChunk, key);
        continue;
      }
      seen[m->first].first += it->value().size();
      seen[m->first].second += 1;
    }
    if (auto ec = it->check("fsck: scanning chunks")) return ec;
    for (const auto& [id, m] : metas) {
      auto f = seen.find(id);
      std::uint64_t bytes = f == seen.end() ? 0 : f->second.first;
      if (bytes != m.size)  // not repairable: report (the blob cannot be read whole)
        issue("blob_size", id, static_cast<std::int64_t>(bytes), static_cast<std::int64_t>(m.size));
    }
  }
  {
    std::set<std::string> indexed;
    auto it = s.iter(kCfBlobSha, snap);
    for (it->seek_to_first(); it->valid(); it->next()) {
      auto id = std::string(it->value());
      auto m = metas.find(id);
      if (m == metas.end() || it->key().size() != 32 ||
          std::memcmp(m->second.sha256.data(), it->key().data(), 32) != 0) {
        issue("orphan_sha_index", printable(std::string(it->key())) + " -> " + id, 1, 0);
        fix.del(kCfBlobSha, it->key());
        continue;
      }
      indexed.insert(id);
    }
    if (auto ec = it->check("fsck: scanning the SHA-256 index")) return ec;
    for (const auto& [id, m] : metas) {
      if (indexed.count(id)) continue;
      issue("missing_sha_index", id, 0, 1);
      fix.put(kCfBlobSha,
              std::string_view(reinterpret_cast<const char*>(m.sha256.data()), 32), id);
    }
  }

  // 6. grants
  {
    auto it = s.iter(kCfGrant, snap);
    std::set<std::string> stored_keys;
    for (it->seek_to_first(); it->valid(); it->next()) {
      auto key = std::string(it->key());
      stored_keys.insert(key);
      std::int64_t stored = it->value().size() == 8
                                ? decode_i64(std::string_view(it->value().data(), 8))
                                : -1;
      auto expected = grants.count(key) ? grants[key] : 0;
      if (stored != expected) {
        issue("grant", printable(key), stored, expected);
        if (expected == 0) fix.del(kCfGrant, key);
        else fix.put(kCfGrant, key, encode_i64(expected));
      }
    }
    if (auto ec = it->check("fsck: scanning grants")) return ec;
    for (const auto& [key, n] : grants) {
      if (stored_keys.count(key)) continue;
      issue("grant", printable(key), 0, n);
      fix.put(kCfGrant, key, encode_i64(n));
    }
  }

  // 7. counters and UID high-water marks
  std::vector<std::pair<std::string, std::uint32_t>> uid_fixes;
  {
    std::set<std::string> stored_keys;
    auto it = s.iter(kCfCounter, snap);
    for (it->seek_to_first(); it->valid(); it->next()) {
      auto key = std::string(it->key());
      std::int64_t stored = it->value().size() == 8
                                ? decode_i64(std::string_view(it->value().data(), 8))
                                : INT64_MIN;
      if (key.starts_with("un/")) {
        auto f = max_uid.find(key);
        if (f != max_uid.end() && stored <= static_cast<std::int64_t>(f->second)) {
          issue("uidnext", printable(key), stored, f->second + 1);
          fix.put(kCfCounter, key, encode_i64(f->second + 1));
          uid_fixes.emplace_back(key, f->second + 1);
        }
        max_uid.erase(key);
        continue;
      }
      if (!is_usage_counter(key)) continue;
      stored_keys.insert(key);
      auto expected = counters.count(key) ? counters[key] : 0;
      if (stored != expected) {
        issue("counter", printable(key), stored, expected);
        fix.put(kCfCounter, key, encode_i64(expected));
      }
    }
    if (auto ec = it->check("fsck: scanning counters")) return ec;
    for (const auto& [key, n] : counters) {
      if (stored_keys.count(key) || n == 0) continue;
      issue("counter", printable(key), 0, n);
      fix.put(kCfCounter, key, encode_i64(n));
    }
    for (const auto& [key, uid] : max_uid) {  // rows but no high-water mark at all
      issue("uidnext", printable(key), 0, uid + 1);
      fix.put(kCfCounter, key, encode_i64(uid + 1));
      uid_fixes.emplace_back(key, uid + 1);
    }
  }

  if (repair && !report.issues.empty()) {
    auto w = s.write(fix);
    if (!w) return w.error();
    {
      std::lock_guard lock(s.local.uid_mu);
      for (const auto& [key, next] : uid_fixes) {
        auto& v = s.local.uidnext[key];
        v = std::max(v, next);
      }
    }
    report.repaired = true;
  }
  return report;
}

result<Stats> Store::stats() {
  auto& s = *impl_;
  auto guard = s.kv->snapshot();
  Stats st;
  auto it = s.iter(kCfCounter, guard.get());
  auto nonneg = [](std::int64_t v) { return static_cast<std::uint64_t>(std::max<std::int64_t>(0, v)); };
  for (it->seek_to_first(); it->valid(); it->next()) {
    auto key = std::string(it->key());
    if (it->value().size() != 8) continue;
    auto v = nonneg(decode_i64(std::string_view(it->value().data(), 8)));
    if (key == kLogicalBytes) st.logical_bytes = v;
    else if (key == kPhysicalBytes) st.physical_bytes = v;
    else if (key == kBlobs) st.blobs = v;
    else if (key == kMessages) st.messages = v;
    else if (key == kRows) st.mailbox_rows = v;
    else if (key.starts_with("ab/")) st.per_account[key.substr(3)].logical_bytes = v;
    else if (key.starts_with("am/")) st.per_account[key.substr(3)].messages = v;
    else if (key.starts_with("db/")) st.per_domain[key.substr(3)].logical_bytes = v;
    else if (key.starts_with("dm/")) st.per_domain[key.substr(3)].messages = v;
  }
  if (auto ec = it->check("reading counters")) return ec;
  st.saving_ratio = st.logical_bytes == 0
                        ? 0.0
                        : 1.0 - static_cast<double>(st.physical_bytes) /
                                    static_cast<double>(st.logical_bytes);
  return st;
}

result<void> Store::debug_set_count(DebugCount which, std::string_view key, std::int64_t value) {
  auto& s = *impl_;
  auto batch = impl_->kv->batch();
  switch (which) {
    case DebugCount::blob_refcount:
    case DebugCount::message_refcount: {
      Cf c = which == DebugCount::blob_refcount ? kCfBlobMeta : kCfMessage;
      auto v = s.get(c, key);
      if (!v) return v.error();
      if (!*v || (*v)->size() < 8) return fail(errc::not_found, "no such record");
      batch.put(c, key, encode_i64(value) + (*v)->substr(8));
      break;
    }
    case DebugCount::grant:
      batch.put(kCfGrant, key, encode_i64(value));
      break;
    case DebugCount::counter:
      batch.put(kCfCounter, key, encode_i64(value));
      break;
  }
  return s.write(batch);
}

}  // namespace refmail::storage
