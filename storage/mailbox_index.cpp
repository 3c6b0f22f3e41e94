// storage/mailbox_index.cpp — the mailbox index kept beside the rows (impl.hpp has the
// keys): each mailbox's date view, per-(mailbox, thread) counts and per-mailbox counters
// (total, unread, threads, unread threads), all written in the batch that changes the
// row, so a read costs what it returns. IndexDelta collects one batch's changes; the
// builder at open and fsck derive the same keys from the rows (derive_mailbox_index).
// Must never: read a thread count outside its index stripe while a batch that changes
// it is unwritten (the counts would drift); recompute counts by scanning on a read.
// SECURITY: keys are prefixed by the canonical account; a reader scans only its range.
#include <xxhash.h>

#include "mime/summary.hpp"
#include "storage/impl.hpp"

namespace refmail::storage {

namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && std::memcmp(s.data(), p.data(), p.size()) == 0;
}

bool is_unread(const std::vector<std::string>& keywords) {
  return std::find(keywords.begin(), keywords.end(), "$seen") == keywords.end();
}

std::string encode_view(std::string_view message_id, std::string_view thread_id) {
  std::string v;
  put_str(v, message_id);
  put_str(v, thread_id);
  return v;
}

std::string thread_member_value(std::string_view message_id) {
  std::string v;
  put_str(v, message_id);
  return v;
}

std::string encode_thread_count(std::int64_t rows, std::int64_t unread) {
  std::string v;
  put_i64(v, rows);
  put_i64(v, unread);
  return v;
}

std::optional<std::pair<std::int64_t, std::int64_t>> decode_thread_count(std::string_view v) {
  Reader r(v);
  auto rows = r.i64();
  auto unread = r.i64();
  if (!r.done() || rows < 0 || unread < 0 || unread > rows) return std::nullopt;
  return std::make_pair(rows, unread);
}

}  // namespace

std::mutex& Store::Impl::index_lock(std::string_view account, std::string_view thread_id) {
  std::string k(account);
  k.push_back('\0');
  k.append(thread_id);
  return local.index_stripes[XXH3_64bits(k.data(), k.size()) % kIndexStripes];
}

mime::SortKeys sort_keys_of(const MessageRecord& record) {
  auto summary = mime::Summary::parse(record.summary);
  return summary ? mime::sort_keys(*summary) : mime::SortKeys{};
}

IndexDelta::Row IndexDelta::of(std::string_view account, std::uint32_t mailbox_id, std::uint32_t uid,
                               const RowValue& v, const mime::SortKeys* keys) {
  return Row{std::string(account), mailbox_id, uid, v.internal_date, v.message_id, v.thread_id,
             is_unread(v.keywords), row_modseq(v), v.logical_size, keys};
}

const std::string& IndexDelta::full_thread(const Row& r) { return r.thread_id.empty() ? r.message_id : r.thread_id; }

void IndexDelta::count(const Row& r, std::int64_t rows, std::int64_t unread) {
  auto& c = threads_[{r.account, r.mailbox_id, full_thread(r)}];
  c.rows += rows;
  c.unread += unread;
}

void IndexDelta::add(const Row& r) {
  puts_.emplace_back(view_key(r.account, r.mailbox_id, r.date, r.message_id, r.uid), encode_view(r.message_id, r.thread_id));
  puts_.emplace_back(thread_member_key(r.account, full_thread(r), r.date, r.mailbox_id, r.uid),
                     thread_member_value(r.message_id));
  puts_.emplace_back(modseq_key(kModseqView, r.account, r.mailbox_id, r.modseq, r.uid), std::string());
  static const mime::SortKeys kNone;
  for (auto kind : kSortViews)
    puts_.emplace_back(sorted_view_key(r.account, r.mailbox_id, kind, r.keys ? *r.keys : kNone, r.size, r.message_id, r.uid),
                       encode_view(r.message_id, r.thread_id));
  count(r, 1, r.unread ? 1 : 0);
}

void IndexDelta::remove(const Row& r, std::uint64_t modseq) {
  dels_.push_back(view_key(r.account, r.mailbox_id, r.date, r.message_id, r.uid));
  dels_.push_back(thread_member_key(r.account, full_thread(r), r.date, r.mailbox_id, r.uid));
  dels_.push_back(modseq_key(kModseqView, r.account, r.mailbox_id, r.modseq, r.uid));
  puts_.emplace_back(modseq_key(kTombstone, r.account, r.mailbox_id, modseq, r.uid), std::string());
  static const mime::SortKeys kNone;
  for (auto kind : kSortViews)
    dels_.push_back(sorted_view_key(r.account, r.mailbox_id, kind, r.keys ? *r.keys : kNone, r.size, r.message_id, r.uid));
  count(r, -1, r.unread ? -1 : 0);
}

void IndexDelta::update(const Row& r, bool unread, std::uint64_t modseq) {
  if (r.unread != unread) count(r, 0, unread ? 1 : -1);
  if (modseq != r.modseq) {
    dels_.push_back(modseq_key(kModseqView, r.account, r.mailbox_id, r.modseq, r.uid));
    puts_.emplace_back(modseq_key(kModseqView, r.account, r.mailbox_id, modseq, r.uid), std::string());
  }
}

result<std::vector<std::unique_lock<std::mutex>>> IndexDelta::apply(Store::Impl& s, KvBatch& batch) {
  std::vector<std::unique_lock<std::mutex>> locks;
  {
    std::vector<std::mutex*> stripes;
    for (const auto& [k, c] : threads_) stripes.push_back(&s.index_lock(std::get<0>(k), std::get<2>(k)));
    std::sort(stripes.begin(), stripes.end());
    stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
    for (auto* m : stripes) locks.emplace_back(*m);
  }
  for (const auto& k : dels_) batch.del(kCfMailbox, k);
  for (const auto& [k, v] : puts_) batch.put(kCfMailbox, k, v);
  for (const auto& [k, c] : threads_) {
    const auto& account = std::get<0>(k);
    const auto mailbox_id = std::get<1>(k);
    const auto& thread = std::get<2>(k);
    const auto key = thread_count_key(account, mailbox_id, thread);
    auto v = s.get(kCfMailbox, key);
    if (!v) return v.error();
    std::int64_t rows = 0, unread = 0;
    if (*v) {
      auto old = decode_thread_count(**v);
      if (!old) return fail(errc::corrupt, "thread counts of " + account + " are corrupt (refmailctl fsck --repair)");
      std::tie(rows, unread) = *old;
    }
    // Clamped: a drifted count (fsck repairs it) must not go negative here.
    const auto new_rows = std::max<std::int64_t>(0, rows + c.rows);
    const auto new_unread = std::clamp<std::int64_t>(unread + c.unread, 0, new_rows);
    if (new_rows == 0) batch.del(kCfMailbox, key);
    else if (new_rows != rows || new_unread != unread) batch.put(kCfMailbox, key, encode_thread_count(new_rows, new_unread));
    auto bump = [&](char kind, std::int64_t n) {
      if (n != 0) batch.merge(kCfCounter, mailbox_count_key(account, mailbox_id, kind), add_operand(n));
    };
    bump(kCountTotal, c.rows);
    bump(kCountUnread, c.unread);
    bump(kCountThreads, (new_rows > 0) - (rows > 0));
    bump(kCountUnreadThreads, (new_unread > 0) - (unread > 0));
  }
  return locks;
}

// ---- thread merges ----

namespace {

struct MemberRow {
  std::int64_t date = 0;
  std::uint32_t mailbox_id = 0;
  std::uint32_t uid = 0;
  std::string message_id;
};

inline constexpr std::size_t kMaxMergeRows = 100000;

// The thread's rows from its member keys, at most `limit` (more: nullopt).
result<std::optional<std::vector<MemberRow>>> member_rows(Store::Impl& s, const std::string& account,
                                                          const std::string& thread, std::size_t limit) {
  std::vector<MemberRow> out;
  const auto prefix = thread_member_prefix(account, thread);
  auto it = s.iter(kCfMailbox);
  for (it->seek(prefix); it->valid() && starts_with(it->key(), prefix); it->next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (key.size() != prefix.size() + 16) continue;  // fsck reports it
    if (out.size() == limit) return std::optional<std::vector<MemberRow>>();
    Reader r(std::string_view(it->value().data(), it->value().size()));
    MemberRow m;
    m.message_id = r.str();
    if (!r.done()) return fail(errc::corrupt, "thread index of " + account + " is corrupt (refmailctl fsck --repair)");
    m.date = static_cast<std::int64_t>(get_be64(key.substr(prefix.size(), 8)) ^ (std::uint64_t{1} << 63));
    m.mailbox_id = get_be32(key.substr(prefix.size() + 8, 4));
    m.uid = get_be32(key.substr(prefix.size() + 12, 4));
    out.push_back(std::move(m));
  }
  if (auto ec = it->check("reading the thread index")) return ec;
  return std::optional<std::vector<MemberRow>>(std::move(out));
}

}  // namespace

result<void> Store::Impl::merge_threads(const std::string& account, const std::string& a, const std::string& b) {
  std::shared_lock admin(local.admin_mu);
  std::unique_lock thread_guard(thread_lock(account));
  // Either may have been merged since it was named.
  auto ra = resolve_thread(account, a);
  if (!ra) return ra.error();
  auto rb = resolve_thread(account, b);
  if (!rb) return rb.error();
  if (*ra == *rb) return {};
  auto rows_a = member_rows(*this, account, *ra, kMaxMergeRows);
  if (!rows_a) return rows_a.error();
  auto rows_b = member_rows(*this, account, *rb, kMaxMergeRows);
  if (!rows_b) return rows_b.error();
  if (!*rows_a || !*rows_b) return fail(errc::busy, "threads of " + account + " too large to merge");
  // The smaller thread joins the larger (ties: b joins a).
  const bool b_joins = (*rows_b)->size() <= (*rows_a)->size();
  const std::string& from = b_joins ? *rb : *ra;
  const std::string& into = b_joins ? *ra : *rb;
  // The rows' message locks (in address order), then both threads' index stripes: no
  // keyword change, copy or expunge of a moving row runs until the batch is written.
  // Deliveries are held off by the thread lock, so the members read below are all.
  std::vector<std::unique_lock<std::mutex>> locks;
  {
    std::vector<std::mutex*> ms;
    for (const auto& m : *(b_joins ? *rows_b : *rows_a)) ms.push_back(&message_lock(m.message_id));
    std::sort(ms.begin(), ms.end());
    ms.erase(std::unique(ms.begin(), ms.end()), ms.end());
    for (auto* m : ms) locks.emplace_back(*m);
    std::vector<std::mutex*> is{&index_lock(account, from), &index_lock(account, into)};
    std::sort(is.begin(), is.end());
    is.erase(std::unique(is.begin(), is.end()), is.end());
    for (auto* m : is) locks.emplace_back(*m);
  }
  // Read again under the locks: an expunge or copy may have run before they were taken.
  auto moving = member_rows(*this, account, from, kMaxMergeRows);
  if (!moving) return moving.error();
  if (!*moving || (*moving)->empty()) return {};
  auto batch = kv->batch();
  std::vector<Change> changes{Change{ChangeType::thread, ChangeKind::updated, from},
                              Change{ChangeType::thread, ChangeKind::updated, into}};
  std::set<std::string> emails;
  std::set<std::uint32_t> mailboxes;
  std::map<std::string, mime::SortKeys> keys_of;
  for (const auto& m : **moving) {
    auto v = get(kCfMailbox, row_key(account, m.mailbox_id, m.uid));
    if (!v) return v.error();
    if (!*v) continue;  // fsck reports the stale member key
    auto row = decode_row(**v);
    if (!row) return fail(errc::corrupt, "mailbox row of " + account + " is corrupt");
    row->thread_id = into == row->message_id ? std::string() : into;
    batch.put(kCfMailbox, row_key(account, m.mailbox_id, m.uid), encode_row(*row));
    batch.put(kCfMailbox, view_key(account, m.mailbox_id, row->internal_date, row->message_id, m.uid),
              encode_view(row->message_id, row->thread_id));
    auto keys = keys_of.find(row->message_id);
    if (keys == keys_of.end()) {
      auto mv = load_message(row->message_id);
      if (!mv) return mv.error();
      keys = keys_of.emplace(row->message_id, *mv ? sort_keys_of((*mv)->record) : mime::SortKeys{}).first;
    }
    for (auto kind : kSortViews)
      batch.put(kCfMailbox, sorted_view_key(account, m.mailbox_id, kind, keys->second, row->logical_size, row->message_id, m.uid),
                encode_view(row->message_id, row->thread_id));
    batch.del(kCfMailbox, thread_member_key(account, from, m.date, m.mailbox_id, m.uid));
    batch.put(kCfMailbox, thread_member_key(account, into, m.date, m.mailbox_id, m.uid),
              thread_member_value(row->message_id));
    if (emails.insert(row->message_id).second)
      changes.push_back(Change{ChangeType::email, ChangeKind::updated, row->message_id});
    mailboxes.insert(m.mailbox_id);
  }
  // Per mailbox: the two threads' counts become one; the mailbox loses a thread when it
  // held both.
  for (auto mailbox_id : mailboxes) {
    std::pair<std::int64_t, std::int64_t> count[2] = {{0, 0}, {0, 0}};
    for (int i = 0; i < 2; ++i) {
      auto v = get(kCfMailbox, thread_count_key(account, mailbox_id, i == 0 ? from : into));
      if (!v) return v.error();
      if (!*v) continue;
      auto c = decode_thread_count(**v);
      if (!c) return fail(errc::corrupt, "thread counts of " + account + " are corrupt (refmailctl fsck --repair)");
      count[i] = *c;
    }
    const auto rows = count[0].first + count[1].first;
    const auto unread = count[0].second + count[1].second;
    batch.del(kCfMailbox, thread_count_key(account, mailbox_id, from));
    if (rows > 0) batch.put(kCfMailbox, thread_count_key(account, mailbox_id, into), encode_thread_count(rows, unread));
    auto bump = [&](char kind, std::int64_t n) {
      if (n != 0) batch.merge(kCfCounter, mailbox_count_key(account, mailbox_id, kind), add_operand(n));
    };
    bump(kCountThreads, (rows > 0) - (count[0].first > 0) - (count[1].first > 0));
    bump(kCountUnreadThreads, (unread > 0) - (count[0].second > 0) - (count[1].second > 0));
    changes.push_back(Change{ChangeType::mailbox, ChangeKind::counts, std::to_string(mailbox_id)});
  }
  batch.put(kCfMailbox, thread_alias_key(account, from), into);
  ChangeTicket ticket;
  auto logged = log_changes(batch, account, changes, &ticket);
  if (!logged) return logged.error();
  auto w = write(batch);
  ticket.finish(bool(w));
  return w;
}

// ---- derived from the rows: the builder at open and fsck ----

void derive_mailbox_index(std::string_view account, std::uint32_t mailbox_id, std::uint32_t uid,
                          const RowValue& v, const mime::SortKeys& keys, DerivedIndex& out) {
  const auto& thread = v.thread_id.empty() ? v.message_id : v.thread_id;
  for (auto kind : kSortViews)
    out.view[sorted_view_key(account, mailbox_id, kind, keys, v.logical_size, v.message_id, uid)] =
        encode_view(v.message_id, v.thread_id);
  out.view[view_key(account, mailbox_id, v.internal_date, v.message_id, uid)] = encode_view(v.message_id, v.thread_id);
  out.view[thread_member_key(account, thread, v.internal_date, mailbox_id, uid)] = thread_member_value(v.message_id);
  out.view[modseq_key(kModseqView, account, mailbox_id, row_modseq(v), uid)] = std::string();
  const bool unread = is_unread(v.keywords);
  auto& t = out.threads[thread_count_key(account, mailbox_id, thread)];
  auto& total = out.counters[mailbox_count_key(account, mailbox_id, kCountTotal)];
  auto& unread_n = out.counters[mailbox_count_key(account, mailbox_id, kCountUnread)];
  auto& threads = out.counters[mailbox_count_key(account, mailbox_id, kCountThreads)];
  auto& unread_threads = out.counters[mailbox_count_key(account, mailbox_id, kCountUnreadThreads)];
  ++total;
  if (unread) ++unread_n;
  if (t.first++ == 0) ++threads;
  if (unread && t.second++ == 0) ++unread_threads;
}

std::string DerivedIndex::thread_value(const std::pair<std::int64_t, std::int64_t>& c) {
  return encode_thread_count(c.first, c.second);
}

result<std::size_t> Store::Impl::build_mailbox_index() {
  // At open, before any writer: the rows are still. One account at a time (rows are
  // keyed account first), so memory stays the size of the largest account's index.
  std::size_t indexed = 0;
  DerivedIndex acc;
  std::string account;
  auto flush = [&]() -> result<void> {
    auto batch = kv->batch();
    std::size_t n = 0;
    for (const auto& [k, v] : acc.view) {
      batch.put(kCfMailbox, k, v);
      if (++n % 10000 == 0) {
        if (auto w = write(batch, /*sync=*/false); !w) return w;
        batch = kv->batch();
      }
    }
    for (const auto& [k, c] : acc.threads) batch.put(kCfMailbox, k, DerivedIndex::thread_value(c));
    for (const auto& [k, n] : acc.counters) batch.put(kCfCounter, k, encode_i64(n));
    acc = DerivedIndex{};
    return write(batch, /*sync=*/false);
  };
  auto it = iter(kCfMailbox);
  for (it->seek("R"); it->valid() && starts_with(it->key(), "R"); it->next()) {
    std::string_view key(it->key().data(), it->key().size());
    auto z = key.find('\0');
    if (z == std::string_view::npos || key.size() != z + 9) continue;  // fsck reports it
    auto row = decode_row(std::string_view(it->value().data(), it->value().size()));
    if (!row) continue;  // fsck reports it
    auto a = key.substr(1, z - 1);
    if (a != account) {
      if (auto f = flush(); !f) return f.error();
      account = std::string(a);
    }
    // The sort keys come from the message's summary (one read per row; a message whose
    // record is missing gets empty keys, as everywhere else).
    auto mv = load_message(row->message_id);
    if (!mv) return mv.error();
    const auto keys = *mv ? sort_keys_of((*mv)->record) : mime::SortKeys{};
    derive_mailbox_index(a, get_be32(key.substr(z + 1, 4)), get_be32(key.substr(z + 5, 4)), *row, keys, acc);
    if (++indexed % 100000 == 0) progress("rows", indexed);
  }
  if (auto ec = it->check("indexing mailboxes")) return ec;
  if (auto f = flush(); !f) return f.error();
  return indexed;
}

// ---- reads ----

result<std::map<std::uint32_t, MailboxCounts>> Store::mailbox_counts(std::string_view account) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  std::map<std::uint32_t, MailboxCounts> out;
  const auto prefix = mailbox_count_prefix(*acct);
  auto it = impl_->iter(kCfCounter);
  for (it->seek(prefix); it->valid() && starts_with(it->key(), prefix); it->next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (key.size() != prefix.size() + 5 || it->value().size() != 8) continue;  // fsck reports it
    const auto n = static_cast<std::uint64_t>(std::max<std::int64_t>(0, decode_i64(it->value())));
    auto& c = out[get_be32(key.substr(prefix.size(), 4))];
    switch (key.back()) {
      case kCountTotal: c.total = n; break;
      case kCountUnread: c.unread = n; break;
      case kCountThreads: c.threads = n; break;
      case kCountUnreadThreads: c.unread_threads = n; break;
      default: break;
    }
  }
  if (auto ec = it->check("reading mailbox counts")) return ec;
  return out;
}

namespace {

// A walk over the view keys under `prefix` (values [str message id][str thread id], the
// UID in the key's last 4 bytes; with `dated`, the receivedAt in the 8 bytes after the
// prefix), last first when `descending`.
class ViewCursor {
 public:
  ViewCursor(Store::Impl& s, std::string prefix, bool descending, bool dated)
      : it_(s.iter(kCfMailbox)), prefix_(std::move(prefix)), descending_(descending), dated_(dated) {
    if (descending_) {
      auto end = prefix_;  // the first key after the prefix's range
      for (std::size_t i = end.size(); i-- > 0;) {
        if (static_cast<unsigned char>(end[i]) != 0xff) {
          end[i] = static_cast<char>(end[i] + 1);
          end.resize(i + 1);
          break;
        }
      }
      it_->seek_for_prev(end);
    } else {
      it_->seek(prefix_);
    }
  }

  // The next entry into `e` (and its key after the prefix, which orders the entries of
  // every mailbox alike, into `order`); false at the end, or on an error (check()).
  bool next(ViewEntry& e, std::string* order = nullptr) {
    const std::size_t min_key = prefix_.size() + (dated_ ? 8 : 0) + 6;  // an id, its \0 and the UID at least
    for (; !corrupt_ && it_->valid() && starts_with(it_->key(), prefix_); step()) {
      std::string_view key(it_->key().data(), it_->key().size());
      if (key.size() < min_key) continue;  // fsck reports it
      Reader r(std::string_view(it_->value().data(), it_->value().size()));
      e.message_id = r.str();
      e.thread_id = r.str();
      if (!r.done()) return !(corrupt_ = true);
      if (e.thread_id.empty()) e.thread_id = e.message_id;
      if (dated_) {
        const auto date = static_cast<std::int64_t>(get_be64(key.substr(prefix_.size(), 8)) ^ (std::uint64_t{1} << 63));
        e.internal_date = UnixSeconds(std::chrono::seconds(date));
      }
      e.uid = get_be32(key.substr(key.size() - 4));
      // [sort key][email id][\0][UID]
      const std::size_t tail = e.message_id.size() + 5;
      if (key.size() < prefix_.size() + tail) return !(corrupt_ = true);
      e.sort_key.assign(key.substr(prefix_.size(), key.size() - prefix_.size() - tail));
      if (order) order->assign(key.substr(prefix_.size()));
      step();
      return true;
    }
    return false;
  }

  result<void> check(const std::string& account) const {
    if (corrupt_) return fail(errc::corrupt, "mailbox index of " + account + " is corrupt (refmailctl fsck --repair)");
    if (auto ec = it_->check("reading the mailbox index")) return ec;
    return {};
  }

 private:
  void step() { descending_ ? it_->prev() : it_->next(); }

  std::unique_ptr<KvIterator> it_;
  std::string prefix_;
  bool descending_;
  bool dated_;
  bool corrupt_ = false;
};

result<void> walk_view(Store::Impl& s, const std::string& account, const std::string& prefix, bool descending,
                       bool dated, const std::function<bool(const ViewEntry&)>& visit) {
  ViewCursor c(s, prefix, descending, dated);
  ViewEntry e;
  while (c.next(e))
    if (!visit(e)) return {};
  return c.check(account);
}

}  // namespace

result<void> Store::scan_mailbox_view(std::string_view account, std::uint32_t mailbox_id, bool newest_first,
                                      const std::function<bool(const ViewEntry&)>& visit) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  return walk_view(*impl_, *acct, view_prefix(*acct, mailbox_id), newest_first, /*dated=*/true, visit);
}

namespace {

// A merge of one view kind over the account's mailboxes (`prefix_of` names a mailbox's
// view): each cursor holds its next entry; the one whose key after the prefix (date or
// sort key, email id, UID: alike in every mailbox) comes first in the walk's order goes
// next.
result<void> merge_views(Store::Impl& impl, const std::string& acct, const std::vector<MailboxInfo>& boxes,
                         const std::function<std::string(std::uint32_t)>& prefix_of, bool descending, bool dated,
                         const std::function<bool(std::uint32_t, const ViewEntry&)>& visit) {
  struct Head {
    std::uint32_t mailbox_id = 0;
    std::unique_ptr<ViewCursor> cursor;
    ViewEntry entry;
    std::string order;
  };
  std::vector<Head> heads;
  heads.reserve(boxes.size());
  for (const auto& b : boxes) {
    Head h{b.mailbox_id, std::make_unique<ViewCursor>(impl, prefix_of(b.mailbox_id), descending, dated), {}, {}};
    if (h.cursor->next(h.entry, &h.order)) heads.push_back(std::move(h));
    else if (auto r = h.cursor->check(acct); !r) return r;
  }
  // `a` goes after `b` in the walk (a max-heap's "less").
  auto after = [descending](const Head& a, const Head& b) {
    return descending ? a.order < b.order : a.order > b.order;
  };
  std::make_heap(heads.begin(), heads.end(), after);
  while (!heads.empty()) {
    std::pop_heap(heads.begin(), heads.end(), after);
    auto& h = heads.back();
    if (!visit(h.mailbox_id, h.entry)) return {};
    if (h.cursor->next(h.entry, &h.order)) {
      std::push_heap(heads.begin(), heads.end(), after);
    } else {
      if (auto r = h.cursor->check(acct); !r) return r;
      heads.pop_back();
    }
  }
  return {};
}

}  // namespace

result<void> Store::scan_account_view(std::string_view account, bool newest_first,
                                      const std::function<bool(std::uint32_t, const ViewEntry&)>& visit) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  auto boxes = list_mailboxes(*acct);
  if (!boxes && boxes.error() == errc::not_found) return {};  // no such account: nothing to visit
  if (!boxes) return boxes.error();
  return merge_views(
      *impl_, *acct, *boxes, [&](std::uint32_t id) { return view_prefix(*acct, id); }, newest_first, /*dated=*/true,
      visit);
}

result<void> Store::scan_account_sorted_view(std::string_view account, SortView kind, bool descending,
                                             const std::function<bool(std::uint32_t, const ViewEntry&)>& visit) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  auto boxes = list_mailboxes(*acct);
  if (!boxes && boxes.error() == errc::not_found) return {};
  if (!boxes) return boxes.error();
  return merge_views(
      *impl_, *acct, *boxes, [&](std::uint32_t id) { return sorted_view_prefix(*acct, id, kind); }, descending,
      /*dated=*/false, visit);
}

result<void> Store::scan_sorted_view(std::string_view account, std::uint32_t mailbox_id, SortView kind,
                                     bool descending, const std::function<bool(const ViewEntry&)>& visit) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  return walk_view(*impl_, *acct, sorted_view_prefix(*acct, mailbox_id, kind), descending, /*dated=*/false, visit);
}

namespace {

// The newest key of `prefix` (a "M" or "V" mailbox prefix) at or below modseq `upto`: its
// modseq, 0 when none.
result<std::uint64_t> last_modseq(Store::Impl& s, const std::string& prefix, std::uint64_t upto) {
  auto it = s.iter(kCfMailbox);
  auto last = prefix;
  put_be64(last, upto);
  last.append(4, '\xff');
  it->seek_for_prev(last);
  std::uint64_t out = 0;
  if (it->valid() && starts_with(it->key(), prefix) && it->key().size() == prefix.size() + 12)
    out = get_be64(std::string_view(it->key().data() + prefix.size(), 8));
  if (auto ec = it->check("reading the modseq index")) return ec;
  return out;
}

// The entries of `prefix` with since < modseq <= upto, in key order, at most `limit`.
result<std::vector<ModseqEntry>> modseq_range(Store::Impl& s, const std::string& prefix, std::uint64_t since,
                                              std::uint64_t upto, std::size_t limit) {
  std::vector<ModseqEntry> out;
  if (since >= upto) return out;
  auto first = prefix;
  put_be64(first, since + 1);
  auto it = s.iter(kCfMailbox);
  for (it->seek(first); it->valid() && starts_with(it->key(), prefix) && out.size() < limit; it->next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (key.size() != prefix.size() + 12) continue;  // fsck reports it
    const auto modseq = get_be64(key.substr(prefix.size(), 8));
    if (modseq > upto) break;
    out.push_back(ModseqEntry{get_be32(key.substr(prefix.size() + 8, 4)), modseq});
  }
  if (auto ec = it->check("reading the modseq index")) return ec;
  return out;
}

}  // namespace

result<std::uint64_t> Store::Impl::change_floor(const std::string& account, const KvSnapshot* snap) {
  auto fl = get(kCfCounter, change_floor_key(account), snap);
  if (!fl) return fl.error();
  if (!*fl || (*fl)->size() != 8) return std::uint64_t{0};
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, decode_i64(**fl)));
}

result<std::uint64_t> Store::highest_modseq(std::string_view account, std::uint32_t mailbox_id) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  // The state first: every batch up to it is written, so what the keys say below it is
  // complete.
  auto state = impl_->visible_state(*acct);
  if (!state) return state.error();
  auto rows = last_modseq(*impl_, modseq_prefix(kModseqView, *acct, mailbox_id), *state);
  if (!rows) return rows.error();
  auto gone = last_modseq(*impl_, modseq_prefix(kTombstone, *acct, mailbox_id), *state);
  if (!gone) return gone.error();
  auto floor = impl_->change_floor(*acct);
  if (!floor) return floor.error();
  return std::max({*rows, *gone, std::min(*floor, *state), std::uint64_t{1}});
}

result<std::vector<ModseqEntry>> Store::changed_since(std::string_view account, std::uint32_t mailbox_id,
                                                      std::uint64_t since, std::size_t limit) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  auto state = impl_->visible_state(*acct);
  if (!state) return state.error();
  return modseq_range(*impl_, modseq_prefix(kModseqView, *acct, mailbox_id), since, *state, limit);
}

result<std::vector<ModseqEntry>> Store::vanished_since(std::string_view account, std::uint32_t mailbox_id,
                                                       std::uint64_t since, std::size_t limit) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  auto state = impl_->visible_state(*acct);
  if (!state) return state.error();
  auto floor = impl_->change_floor(*acct);
  if (!floor) return floor.error();
  if (since < *floor)
    return fail(errc::expired, "tombstones of " + *acct + " start after modseq " + std::to_string(since));
  return modseq_range(*impl_, modseq_prefix(kTombstone, *acct, mailbox_id), since, *state, limit);
}

namespace {

// The distinct ids of an index whose keys are `prefix` id \0 (suffix_bytes - 1 more bytes),
// in key order, at most `limit` of them.
result<std::vector<std::string>> distinct_ids(Store::Impl& s, std::string_view prefix, std::size_t suffix_bytes,
                                              std::size_t limit, const char* what) {
  std::vector<std::string> out;
  auto it = s.iter(kCfMailbox);
  for (it->seek(prefix); it->valid() && starts_with(it->key(), prefix); it->next()) {
    std::string_view key(it->key().data(), it->key().size());
    // A malformed key is skipped here; fsck reports it.
    if (key.size() <= prefix.size() + suffix_bytes || key[key.size() - suffix_bytes] != '\0') continue;
    auto id = key.substr(prefix.size(), key.size() - suffix_bytes - prefix.size());
    if (!out.empty() && out.back() == id) continue;
    if (out.size() == limit) break;
    out.emplace_back(id);
  }
  if (auto ec = it->check(what)) return ec;
  return out;
}

}  // namespace

result<std::vector<std::string>> Store::list_message_ids(std::string_view account, std::size_t limit) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  // "E" account \0 message id \0 mailbox(be32) uid(be32): one key per row.
  std::string prefix = "E";
  prefix.append(*acct).push_back('\0');
  return distinct_ids(*impl_, prefix, 9, limit, "reading the message index");
}

result<std::vector<std::string>> Store::list_thread_ids(std::string_view account, std::size_t limit) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  // "T" account \0 thread id \0 date(be64) mailbox(be32) uid(be32): one key per row.
  std::string prefix = "T";
  prefix.append(*acct).push_back('\0');
  return distinct_ids(*impl_, prefix, 17, limit, "reading the thread index");
}

result<std::vector<ThreadEmail>> Store::thread_emails(std::string_view account, std::string_view thread_id) {
  auto acct = canonical_address(account);
  if (!acct) return fail(errc::invalid_argument, "malformed account");
  std::vector<ThreadEmail> out;
  if (thread_id.empty() || thread_id.find('\0') != std::string_view::npos) return out;
  const auto prefix = thread_member_prefix(*acct, thread_id);
  // Keys are in date order, so a message's first key carries its earliest row's date.
  std::set<std::string> seen;
  auto it = impl_->iter(kCfMailbox);
  for (it->seek(prefix); it->valid() && starts_with(it->key(), prefix); it->next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (key.size() != prefix.size() + 16) continue;  // fsck reports it
    Reader r(std::string_view(it->value().data(), it->value().size()));
    auto message_id = r.str();
    if (!r.done()) return fail(errc::corrupt, "thread index of " + *acct + " is corrupt (refmailctl fsck --repair)");
    if (!seen.insert(message_id).second) continue;
    const auto date = static_cast<std::int64_t>(get_be64(key.substr(prefix.size(), 8)) ^ (std::uint64_t{1} << 63));
    out.push_back(ThreadEmail{std::move(message_id), UnixSeconds(std::chrono::seconds(date))});
  }
  if (auto ec = it->check("reading the thread index")) return ec;
  // Ties in date keep key order (mailbox, uid); the contract is (date, id).
  std::stable_sort(out.begin(), out.end(), [](const ThreadEmail& a, const ThreadEmail& b) {
    return std::tie(a.received, a.message_id) < std::tie(b.received, b.message_id);
  });
  return out;
}

}  // namespace refmail::storage
