// storage/delivery.cpp — one delivery = one atomic, durable WriteBatch: new blob
// chunks + meta, blob refcounts, the message record, mailbox rows, queue rows, grants
// and counters. Staging (the BlobSink) hashes with streaming XXH3-128 keyed with the
// installation secret; SHA-256 is computed only for blobs that turn out to be new.
// Must never: make anything visible before commit(), or write a blob whose id was
// not decided under its stripe lock (see resolve_and_pin in blobs.cpp).
// SECURITY: quota is checked before anything is written; the SMTP 250 must wait for
// commit() to return a receipt (durable when sync_writes).
#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <set>

#include <xxhash.h>

#include "storage/impl.hpp"

namespace refmail::storage {

namespace {
struct RowSpec {
  std::string account;
  std::string mailbox;
  std::vector<std::string> keywords;
  std::optional<UnixSeconds> internal_date;
};
struct HoldSpec {
  std::string account;
  UnixSeconds expires;
  std::uint64_t charged_bytes = 0;
};
struct QueueSpec {
  std::string envelope;
  UnixSeconds due;
};
struct StagedRef {
  std::string blob_id;
  StagedPtr bytes;
  bool pending = false;  // free in the database when decided: may need writing
};
}  // namespace

// Staged attachment bytes a delivery keeps in memory before it spills even blobs of one
// chunk (a blob of more than one chunk always spills): with the chunk being written,
// a delivery holds at most this plus one chunk, whatever the message's size.
constexpr std::size_t kStagedMemoryBytes = std::size_t{4} << 20;

struct Delivery::State final : mime::BlobSink {
  Store::Impl* store = nullptr;
  // The candidate being staged.
  bool in_candidate = false;
  std::shared_ptr<StagedBlob> current;
  XXH3_state_t* xxh = nullptr;
  // SHA-256 of the current candidate's spilled chunks (a stored blob's digest must be
  // known when its meta is written, and spilled bytes are not in memory by then).
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha{nullptr, &EVP_MD_CTX_free};
  boost::system::error_code spill_error;  // the current candidate's spill failed
  std::size_t held = 0;  // in-memory bytes of the committed candidates
  // Decided ids; each holds one pin in the registry until commit ends or destruction.
  std::vector<StagedRef> staged;
  std::vector<std::string> extra_pins;  // referenced ids that were already stored
  std::optional<MessageRecord> message;
  std::vector<std::string> thread_own_ids, thread_ref_ids;
  std::vector<RowSpec> rows;
  std::vector<QueueSpec> queue;
  std::vector<HoldSpec> holds;
  // Raw import CF puts (value) and deletes (nullopt): Delivery::add_import_state.
  std::vector<std::pair<std::string, std::optional<std::string>>> import_state;
  bool committed = false;
  bool per_recipient_quota = false;  // set_per_recipient_quota()
  std::unique_ptr<mime::BlobSource> source;  // staged_source(), made on first use

  explicit State(Store::Impl* s) : store(s) { xxh = XXH3_createState(); }
  ~State() override {
    release_pins();
    XXH3_freeState(xxh);
  }
  void release_pins() {
    for (const auto& s : staged) store->unpin(s.blob_id);
    for (const auto& id : extra_pins) store->unpin(id);
    staged.clear();
    extra_pins.clear();
  }

  // A staged blob whose spilled chunks, if any, are deleted with it unless a written
  // commit adopted them.
  std::shared_ptr<StagedBlob> make_staged() {
    Store::Impl* impl = store;
    return std::shared_ptr<StagedBlob>(new StagedBlob, [impl](StagedBlob* b) {
      if (!b->spill_id.empty() && !b->adopted.load()) {
        try {
          impl->drop_spill(b->spill_id, b->spilled_chunks);
        } catch (...) {  // NOLINT(bugprone-empty-catch): Store::open sweeps what is left
        }
      }
      delete b;
    });
  }

  // Writes the current candidate's in-memory chunk out (see StagedBlob).
  void spill() {
    auto& chunk = current->chunks.back();
    if (!sha) {
      sha.reset(EVP_MD_CTX_new());
      if (!sha || EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr) != 1) {
        spill_error = fail(errc::io_error, "blob sink: SHA-256 is unavailable");
        return;
      }
    }
    EVP_DigestUpdate(sha.get(), chunk.data(), chunk.size());
    auto w = store->spill_chunk(*current, chunk);
    if (!w) spill_error = w.error();
    chunk.clear();
  }

  void begin() override {
    in_candidate = true;
    current = make_staged();
    sha.reset();
    spill_error = {};
    XXH3_128bits_reset_withSecret(xxh, store->secret.data(), store->secret.size());
  }

  void append(std::span<const char> decoded) override {
    if (!in_candidate || spill_error) return;
    XXH3_128bits_update(xxh, decoded.data(), decoded.size());
    const std::size_t max = store->options.max_chunk_bytes;
    while (!decoded.empty() && !spill_error) {
      if (current->chunks.empty()) {
        current->chunks.emplace_back();
        current->chunks.back().reserve(std::min(max, decoded.size()));
      } else if (current->chunks.back().size() == max) {
        spill();  // more than one chunk: the blob spills, chunk by chunk
        if (spill_error) break;
      }
      auto& last = current->chunks.back();
      auto take = std::min(max - last.size(), decoded.size());
      if (last.size() + take > last.capacity()) {
        // Grow by doubling, but never past one chunk (std::string's own growth may).
        std::string grown;
        grown.reserve(std::min(max, std::max(2 * last.capacity(), last.size() + take)));
        grown.append(last);
        last.swap(grown);
      }
      last.append(decoded.data(), take);
      decoded = decoded.subspan(take);
      current->size += take;
    }
  }

  boost::system::result<std::string> commit() override {
    if (!in_candidate) return fail(errc::invalid_argument, "blob sink: commit without begin");
    in_candidate = false;
    const bool spilling = current->spilled_chunks > 0 || held + current->size > kStagedMemoryBytes;
    if (spilling && !spill_error && !current->chunks.empty() && !current->chunks.back().empty())
      spill();
    if (spill_error) {
      current.reset();
      return spill_error;
    }
    if (current->spilled_chunks > 0) {
      unsigned int len = 0;
      EVP_DigestFinal_ex(sha.get(), current->sha256.data(), &len);
      std::vector<std::string>().swap(current->chunks);
    } else {
      held += current->size;
    }
    StagedPtr bytes = std::move(current);
    current.reset();
    auto base = store->base_blob_id(*bytes, xxh);
    if (!base) return base.error();
    bool pending = false;
    StagedPtr use;
    auto id = store->resolve_and_pin(bytes, *base, &pending, &use);
    if (!id) return id.error();
    if (use != bytes && bytes->spill_id.empty()) held -= std::min(held, static_cast<std::size_t>(bytes->size));
    staged.push_back(StagedRef{*id, std::move(use), pending});
    return *id;  // `bytes` goes here unless shared: a deduplicated spill is dropped now
  }

  void discard() override {
    in_candidate = false;
    current.reset();
    sha.reset();
    spill_error = {};
  }
};

namespace {
// Delivery::staged_source(): reads the staged bytes of a committed candidate (in
// memory, spilled, or the stored blob it turned out to be).
class StagedSource final : public mime::BlobSource {
 public:
  StagedSource(Store::Impl& store, const std::vector<StagedRef>& staged) : store_(store), staged_(staged) {}
  boost::system::result<std::size_t> read(std::string_view blob_id, std::uint64_t offset,
                                          std::span<char> out) override {
    for (const auto& s : staged_) {
      if (s.blob_id != blob_id) continue;
      if (!s.bytes) {  // deduplicated against a stored blob (pinned)
        auto meta = store_.load_meta(blob_id);
        if (!meta) return meta.error();
        if (!*meta) return fail(errc::corrupt, "blob " + std::string(blob_id) + " is pinned but missing");
        const auto& m = **meta;
        return store_.read_chunks(m.chunk_id(blob_id), m.size, m.chunk_bytes, offset, out);
      }
      const StagedBlob& b = *s.bytes;
      if (!b.spill_id.empty()) return store_.read_chunks(b.spill_id, b.size, b.chunk_bytes, offset, out);
      std::size_t copied = 0;
      std::uint64_t start = 0;
      for (const auto& chunk : b.chunks) {
        const std::uint64_t end = start + chunk.size();
        if (offset < end && copied < out.size()) {
          const auto within = static_cast<std::size_t>(offset - start);
          const std::size_t take = std::min(out.size() - copied, chunk.size() - within);
          std::memcpy(out.data() + copied, chunk.data() + within, take);
          copied += take;
          offset += take;
        }
        start = end;
      }
      return copied;
    }
    return fail(errc::not_found, "blob " + std::string(blob_id) + " is not staged in this delivery");
  }

 private:
  Store::Impl& store_;
  const std::vector<StagedRef>& staged_;
};
}  // namespace

// For Delivery::add_import_state (storage/import_state.cpp), which owns the key layout.
std::vector<std::pair<std::string, std::optional<std::string>>>& staged_import_state(Delivery::State& st) {
  return st.import_state;
}

Delivery::Delivery(std::unique_ptr<State> state) : state_(std::move(state)) {}
Delivery::Delivery(Delivery&&) noexcept = default;
Delivery& Delivery::operator=(Delivery&&) noexcept = default;
Delivery::~Delivery() = default;

mime::BlobSink& Delivery::blob_sink() { return *state_; }

std::size_t Delivery::held_bytes() const noexcept {
  std::size_t n = state_->held;
  if (state_->current)
    for (const auto& c : state_->current->chunks) n += c.capacity();
  return n;
}

mime::BlobSource& Delivery::staged_source() {
  if (!state_->source) state_->source = std::make_unique<StagedSource>(*state_->store, state_->staged);
  return *state_->source;
}

result<std::string> Delivery::put_blob(std::span<const char> decoded) {
  state_->begin();
  state_->append(decoded);
  return state_->commit();
}

void Delivery::set_message(MessageRecord record) { state_->message = std::move(record); }

void Delivery::set_thread_keys(std::vector<std::string> own_ids, std::vector<std::string> referenced_ids) {
  state_->thread_own_ids = std::move(own_ids);
  state_->thread_ref_ids = std::move(referenced_ids);
}

void Delivery::add_mailbox_row(std::string account, std::string mailbox,
                               std::vector<std::string> keywords,
                               std::optional<UnixSeconds> internal_date) {
  state_->rows.push_back(
      RowSpec{std::move(account), std::move(mailbox), std::move(keywords), internal_date});
}

void Delivery::add_queue_row(std::string envelope, UnixSeconds due) {
  state_->queue.push_back(QueueSpec{std::move(envelope), due});
}

void Delivery::set_per_recipient_quota() { state_->per_recipient_quota = true; }

void Delivery::add_upload_hold(std::string account, UnixSeconds expires, std::uint64_t charged_bytes) {
  state_->holds.push_back(HoldSpec{std::move(account), expires, charged_bytes});
}

result<void> Store::Impl::reserve_quota(const std::map<std::string, std::uint64_t>& add,
                                        QuotaReservation* r, std::vector<std::string>* over) {
  std::vector<std::pair<std::string, std::uint64_t>> limited;
  for (const auto& [acct, bytes] : add) {
    auto user = load_user(acct);
    if (!user) return user.error();
    if (*user && (*user)->quota_bytes > 0) limited.emplace_back(acct, (*user)->quota_bytes);
  }
  if (limited.empty()) return {};
  std::lock_guard lock(local.quota_mu);
  std::vector<std::pair<std::string, std::uint64_t>> fits;
  for (const auto& [acct, quota] : limited) {
    auto used = counter(account_bytes_key(acct));
    if (!used) return used.error();
    auto uploads = counter(account_upload_bytes_key(acct));
    if (!uploads) return uploads.error();
    *used += std::max<std::int64_t>(0, *uploads);
    auto it = local.quota_reserved.find(acct);
    const std::uint64_t reserved = it == local.quota_reserved.end() ? 0 : it->second;
    const std::uint64_t bytes = add.at(acct);
    const auto committed = static_cast<std::uint64_t>(std::max<std::int64_t>(0, *used));
    if (committed + reserved + bytes > quota) {
      if (over) {
        over->push_back(acct);
        continue;
      }
      return fail(errc::quota_exceeded,
                  "account " + acct + " is over its quota (" + std::to_string(committed) + " + " +
                      std::to_string(bytes) + " > " + std::to_string(quota) + " bytes)");
    }
    fits.emplace_back(acct, bytes);
  }
  for (const auto& [acct, bytes] : fits) {
    local.quota_reserved[acct] += bytes;
    r->held_.emplace_back(acct, bytes);
  }
  r->impl_ = this;
  return {};
}

Delivery Store::begin_delivery() { return Delivery(std::make_unique<Delivery::State>(impl_.get())); }

namespace {
std::string random_id(char prefix, std::size_t bytes) {
  std::vector<std::uint8_t> buf(bytes);
  randombytes_buf(buf.data(), buf.size());
  std::string id(1, prefix);
  id += hex(buf);
  return id;
}
}  // namespace

result<DeliveryReceipt> Delivery::commit() {
  auto& st = *state_;
  auto& s = *st.store;
  if (st.committed) return fail(errc::invalid_argument, "delivery committed twice");
  if (!st.message) return fail(errc::invalid_argument, "delivery has no message");
  if (st.rows.empty() && st.queue.empty() && st.holds.empty())
    return fail(errc::invalid_argument, "delivery has no mailbox, queue or upload rows");
  st.committed = true;
  const MessageRecord& msg = *st.message;
  {
    std::set<std::string_view> distinct(msg.blob_ids.begin(), msg.blob_ids.end());
    if (distinct.size() != msg.blob_ids.size())
      return fail(errc::invalid_argument, "message lists a blob id twice");
  }

  std::shared_lock admin(s.local.admin_mu);

  // Resolve rows: canonical account, existing user, existing mailbox.
  struct Target {
    std::string account;
    std::string mailbox;
    MailboxMeta meta;
  };
  std::vector<Target> targets;
  std::map<std::string, std::uint64_t> add_bytes;  // per account
  for (const auto& r : st.rows) {
    auto acct = canonical_address(r.account);
    if (!acct) return fail(errc::invalid_argument, "malformed account '" + r.account + "'");
    auto mbox = canonical_mailbox(r.mailbox);
    if (!mbox) return fail(errc::invalid_argument, "malformed mailbox name '" + r.mailbox + "'");
    auto user = s.load_user(*acct);
    if (!user) return user.error();
    if (!*user) return fail(errc::not_found, "account " + *acct + " does not exist");
    if (r.keywords.size() > kMaxKeywords ||
        std::any_of(r.keywords.begin(), r.keywords.end(),
                    [](const std::string& k) { return k.empty() || k.size() > kMaxKeywordBytes; }))
      return fail(errc::invalid_argument, "too many or malformed keywords for " + *acct);
    auto mm = s.require_mailbox(*acct, *mbox);
    if (!mm) return mm.error();
    targets.push_back(Target{*acct, *mbox, std::move(*mm)});
    add_bytes[*acct] += msg.logical_size;
  }
  std::vector<std::string> hold_accounts;
  for (const auto& h : st.holds) {
    auto acct = canonical_address(h.account);
    if (!acct) return fail(errc::invalid_argument, "malformed account '" + h.account + "'");
    auto user = s.load_user(*acct);
    if (!user) return user.error();
    if (!*user) return fail(errc::not_found, "account " + *acct + " does not exist");
    hold_accounts.push_back(*acct);
    if (h.charged_bytes > 0) add_bytes[*acct] += h.charged_bytes;
  }
  // Quota: exact also under concurrency (reserved until our write is visible).
  QuotaReservation quota;
  std::vector<std::string> over_quota;
  if (auto q = s.reserve_quota(add_bytes, &quota, st.per_recipient_quota ? &over_quota : nullptr); !q)
    return q.error();
  if (!over_quota.empty()) {
    // Per-recipient quota: the rows of accounts over their quota are left out; the
    // others still get the message (one full mailbox never costs another its mail).
    std::vector<Target> kept_targets;
    std::vector<RowSpec> kept_rows;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      if (std::find(over_quota.begin(), over_quota.end(), targets[i].account) != over_quota.end()) continue;
      kept_targets.push_back(std::move(targets[i]));
      kept_rows.push_back(std::move(st.rows[i]));
    }
    targets = std::move(kept_targets);
    st.rows = std::move(kept_rows);
    if (targets.empty() && st.queue.empty() && st.holds.empty()) {
      std::string who;
      for (const auto& a : over_quota) who += (who.empty() ? "" : ", ") + a;
      return fail(errc::quota_exceeded, "every recipient is over quota (" + who + ")");
    }
  }

  // Every referenced blob must be staged by us (pinned) or already stored (pin it).
  std::vector<const StagedRef*> refs;
  std::vector<std::string> existing;
  for (const auto& id : msg.blob_ids) {
    auto it = std::find_if(st.staged.begin(), st.staged.end(),
                           [&](const StagedRef& r) { return r.blob_id == id; });
    if (it != st.staged.end()) {
      refs.push_back(&*it);
      continue;
    }
    auto p = s.pin_existing(id);
    if (!p) return p.error();
    st.extra_pins.push_back(id);
    existing.push_back(id);
  }

  DeliveryReceipt receipt;
  receipt.message_id = random_id('M', 12);
  receipt.over_quota = std::move(over_quota);
  const std::int64_t now = now_unix();
  auto batch = s.kv->batch();
  const Cf counters = kCfCounter;

  MessageValue mv;
  mv.refcount = static_cast<std::int64_t>(targets.size() + st.queue.size() + st.holds.size());
  mv.created = now;
  mv.record = msg;
  batch.put(kCfMessage, receipt.message_id, encode_message(mv));
  std::int64_t physical = static_cast<std::int64_t>(msg.skeleton.size() + msg.summary.size());

  // Threads (per account) and the change log entry of each account. Thread assignment
  // holds the accounts' thread locks (shared) until the batch is written, so no merge
  // runs meanwhile; threads this message links are merged after the write.
  std::vector<std::shared_lock<std::shared_mutex>> thread_locks;
  {
    std::vector<std::shared_mutex*> stripes;
    for (const auto& t : targets) stripes.push_back(&s.thread_lock(t.account));
    std::sort(stripes.begin(), stripes.end());
    stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
    for (auto* m : stripes) thread_locks.emplace_back(*m);
  }
  std::map<std::string, std::string> thread_of;
  std::map<std::string, std::vector<std::string>> merges;  // account -> threads to merge in
  std::map<std::string, std::vector<Change>> changes;
  for (const auto& t : targets) {
    auto& log = changes[t.account];
    if (!thread_of.count(t.account)) {
      bool created = true;
      std::vector<std::string> merge;
      auto thread = s.assign_thread(batch, t.account, receipt.message_id, st.thread_own_ids, st.thread_ref_ids,
                                     &created, &merge);
      if (!thread) return thread.error();
      thread_of[t.account] = *thread;
      if (!merge.empty()) merges[t.account] = std::move(merge);
      log.push_back(Change{ChangeType::email, ChangeKind::created, receipt.message_id});
      log.push_back(Change{ChangeType::thread, created ? ChangeKind::created : ChangeKind::updated, *thread});
    }
    log.push_back(Change{ChangeType::mailbox, ChangeKind::counts, std::to_string(t.meta.mailbox_id)});
  }
  ChangeTicket ticket;
  std::map<std::string, std::uint64_t> modseq_of;  // the rows' modseq, per account
  for (const auto& [acct, log] : changes) {
    auto logged = s.log_changes(batch, acct, log, &ticket);
    if (!logged) return logged.error();
    modseq_of[acct] = *logged;
  }

  // Mailbox rows, their index, grants, usage counters.
  const auto sort_keys = sort_keys_of(msg);
  IndexDelta index;
  std::map<std::string, std::int64_t> rows_per_account;
  // Released once the batch is written (or on any return before): see UidHold.
  std::vector<UidHold> uid_holds(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i];
    const auto& spec = st.rows[i];
    auto uid = s.allocate_uid(t.account, t.meta.mailbox_id, uid_holds[i]);
    RowValue rv;
    rv.message_id = receipt.message_id;
    // The message's own thread needs no copy of its id in the row.
    if (thread_of[t.account] != receipt.message_id) rv.thread_id = thread_of[t.account];
    rv.internal_date = spec.internal_date ? spec.internal_date->time_since_epoch().count() : now;
    rv.logical_size = msg.logical_size;
    rv.keywords = spec.keywords;
    rv.modseq = modseq_of[t.account];
    batch.put(kCfMailbox, row_key(t.account, t.meta.mailbox_id, uid), encode_row(rv));
    batch.put(kCfMailbox, message_index_key(t.account, receipt.message_id, t.meta.mailbox_id, uid), {});
    batch.merge(counters, uidnext_key(t.account, t.meta.mailbox_id), max_operand(uid + 1));
    index.add(IndexDelta::of(t.account, t.meta.mailbox_id, uid, rv, &sort_keys));
    receipt.rows.push_back(RowReceipt{t.account, t.mailbox, uid});
    ++rows_per_account[t.account];
  }
  // Held until the batch is written (IndexDelta::apply), before any blob stripe.
  auto index_locks = index.apply(s, batch);
  if (!index_locks) return index_locks.error();
  const auto logical = static_cast<std::int64_t>(msg.logical_size);
  for (const auto& [acct, n] : rows_per_account) {
    for (const auto& id : msg.blob_ids) batch.merge(kCfGrant, grant_key(acct, id), add_operand(n));
    auto dom = domain_of(acct);
    batch.merge(counters, account_bytes_key(acct), add_operand(n * logical));
    batch.merge(counters, account_msgs_key(acct), add_operand(n));
    batch.merge(counters, domain_bytes_key(dom), add_operand(n * logical));
    batch.merge(counters, domain_msgs_key(dom), add_operand(n));
  }
  // Upload holds: a grant per hold (the uploader may download and reuse the blob).
  for (std::size_t i = 0; i < st.holds.size(); ++i) {
    auto uid = random_id('U', 12);
    const auto charged = static_cast<std::int64_t>(st.holds[i].charged_bytes);
    batch.put(kCfMailbox, upload_key(hold_accounts[i], uid),
              encode_upload(UploadValue{receipt.message_id, st.holds[i].expires.time_since_epoch().count(), charged}));
    if (charged > 0) batch.merge(counters, account_upload_bytes_key(hold_accounts[i]), add_operand(charged));
    for (const auto& id : msg.blob_ids)
      batch.merge(kCfGrant, grant_key(hold_accounts[i], id), add_operand(1));
    receipt.upload_ids.push_back(uid);
  }
  const auto nrows = static_cast<std::int64_t>(targets.size());
  if (nrows > 0) {
    batch.merge(counters, kLogicalBytes, add_operand(nrows * logical));
    batch.merge(counters, kRows, add_operand(nrows));
  }
  batch.merge(counters, kMessages, add_operand(1));

  // Queue rows: "Q" due(be64) qid -> value; "I" qid -> due(be64).
  for (const auto& q : st.queue) {
    auto qid = random_id('Q', 12);
    const auto due = static_cast<std::uint64_t>(q.due.time_since_epoch().count());
    batch.put(kCfQueue, queue_key(due, qid), encode_queue(QueueValue{receipt.message_id, q.envelope, 0, ""}));
    std::string idx;
    put_be64(idx, due);
    batch.put(kCfQueue, "I" + qid, idx);
    receipt.queue_ids.push_back(qid);
  }

  // Blobs: existing ones get +1 (pinned, so GC cannot delete them before our write).
  // Pending ones are written by whoever commits first, decided under the stripe lock
  // held across the write, so exactly one batch writes chunks and physical bytes.
  for (const auto& id : existing) batch.merge(kCfBlobMeta, id, add_operand(1));
  std::vector<std::size_t> stripes;
  for (const auto* r : refs) {
    if (r->pending) stripes.push_back(s.stripe_index(r->blob_id));
    else batch.merge(kCfBlobMeta, r->blob_id, add_operand(1));
  }
  std::sort(stripes.begin(), stripes.end());
  stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(stripes.size());
  for (auto i : stripes) locks.emplace_back(s.local.blob_stripes[i].mu);
  std::vector<const StagedBlob*> written;  // adopted (spills kept) once the batch is written
  for (const auto* r : refs) {
    if (!r->pending) continue;
    auto meta = s.load_meta(r->blob_id);
    if (!meta) return meta.error();
    if (*meta) {
      batch.merge(kCfBlobMeta, r->blob_id, add_operand(1));
    } else {
      s.write_new_blob(batch, r->blob_id, *r->bytes, 1);
      written.push_back(r->bytes.get());
      receipt.new_blob_bytes += r->bytes->size;
    }
  }
  batch.merge(counters, kPhysicalBytes, add_operand(physical));
  for (const auto& [key, value] : st.import_state) {
    if (value) batch.put(kCfImport, key, *value);
    else batch.del(kCfImport, key);
  }

  auto w = s.write(batch);
  if (w)
    for (const auto* b : written) b->adopted.store(true);
  locks.clear();
  ticket.finish(bool(w));
  uid_holds.clear();
  quota.release();  // after the write: the counter now holds these bytes
  st.release_pins();
  if (!w) return w.error();
  if (!merges.empty()) {
    // The message is stored; merging is a separate batch (best effort: a failure or a
    // crash leaves the threads apart, as they were, never inconsistent). Every lock
    // this delivery holds goes first (a merge takes them in the lock order).
    index_locks->clear();
    thread_locks.clear();
    admin.unlock();
    for (const auto& [acct, others] : merges)
      for (const auto& other : others) (void)s.merge_threads(acct, thread_of[acct], other);
  }
  return receipt;
}

}  // namespace refmail::storage
