// storage/impl.hpp — PRIVATE to storage/: Store::Impl (the mail logic's state over the
// Kv seam, kv.hpp), key and value encodings and the blob in-flight registry. Never
// include this from outside storage/. No backend types here.
// SECURITY: decoders are bounds-checked; a malformed value is errc::corrupt, never UB.
#pragma once
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <utility>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "mime/sort_keys.hpp"
#include "storage/codec.hpp"
#include "storage/errors.hpp"
#include "storage/fail.hpp"
#include "storage/kv.hpp"
#include "storage/local_state.hpp"
#include "storage/store.hpp"

namespace refmail::storage {

// ---- records ----
struct BlobMeta {
  std::int64_t refcount = 0;
  bool has_record = false;  // false: a refcount with no blob (orphan merge)
  std::uint64_t size = 0;
  std::uint32_t chunk_count = 0;
  std::uint32_t chunk_bytes = 0;
  Sha256 sha256{};
  std::int64_t first_seen = 0;
  // The id the chunks are stored under: empty for the blob id itself, else the
  // temporary id of the spill the blob was adopted from (local_state.hpp StagedBlob).
  std::string physical;
  [[nodiscard]] std::string_view chunk_id(std::string_view blob_id) const noexcept {
    return physical.empty() ? blob_id : std::string_view(physical);
  }
};
std::string encode_blob_meta(const BlobMeta& m);
std::optional<BlobMeta> decode_blob_meta(std::string_view v);

struct MessageValue {
  std::int64_t refcount = 0;
  std::int64_t created = 0;
  MessageRecord record;
};
std::string encode_message(const MessageValue& m);
std::optional<MessageValue> decode_message(std::string_view v);

struct RowValue {
  std::string message_id;
  std::int64_t internal_date = 0;
  std::uint64_t logical_size = 0;
  std::vector<std::string> keywords;
  std::string thread_id;  // empty in rows stored before threading (= message_id)
  // The change-log modseq of the batch that last wrote the row (created it, copied or
  // moved it here, changed its keywords): IMAP's MODSEQ of the row (RFC 7162). 0 in rows
  // stored before modseqs; they read as 1 (row_modseq).
  std::uint64_t modseq = 0;
};
inline std::uint64_t row_modseq(const RowValue& r) { return r.modseq == 0 ? 1 : r.modseq; }
std::string encode_row(const RowValue& r);
std::optional<RowValue> decode_row(std::string_view v);

struct MailboxMeta {
  std::uint32_t mailbox_id = 0;
  std::uint32_t uidvalidity = 0;
  std::int64_t created = 0;
  // IMAP SUBSCRIBE / JMAP isSubscribed. Records written before subscriptions were kept
  // have no flags byte and read as subscribed (every mailbox was then).
  bool subscribed = true;
};

struct UserRecord {
  std::string password_hash;
  bool is_admin = false;
  std::uint64_t quota_bytes = 0;
  std::int64_t created = 0;
};
std::string encode_user(const UserRecord& u);
std::optional<UserRecord> decode_user(std::string_view v);

struct QueueValue {
  std::string message_id;
  std::string envelope;
  std::uint32_t attempts = 0;
  std::string last_error;
};
// Queue rows: "Q" due(be64 seconds) queue_id -> encode_queue(value);
// index: "I" queue_id -> due(be64).
std::string queue_key(std::uint64_t due, std::string_view queue_id);
std::string encode_queue(const QueueValue& q);
std::optional<QueueValue> decode_queue(std::string_view v);

// ---- keys ----
// kCfDefault: "stage/" + spill id -> i64 unix time, while a spill is not adopted.
inline constexpr std::string_view kStageMarkerPrefix = "stage/";
inline std::string chunk_key(std::string_view blob_id, std::uint32_t n) {
  std::string k(blob_id);
  k.push_back('\0');
  put_be32(k, n);
  return k;
}
inline std::string mailbox_name_key(std::string_view account, std::string_view name) {
  std::string k = "N";
  k.append(account).push_back('\0');
  k.append(name);
  return k;
}
inline std::string row_prefix(std::string_view account, std::uint32_t mailbox_id) {
  std::string k = "R";
  k.append(account).push_back('\0');
  put_be32(k, mailbox_id);
  return k;
}
inline std::string row_key(std::string_view account, std::uint32_t mailbox_id, std::uint32_t uid) {
  auto k = row_prefix(account, mailbox_id);
  put_be32(k, uid);
  return k;
}
// The message index (mailbox-access reads by id, O(log n)): "E" account \0 message_id \0
// mailbox_id(be32) uid(be32) -> "" for every row; written in the batch that writes or
// deletes the row. kIndexFormatKey (kCfDefault) says the index is complete: Store::open
// builds it from the rows when absent (a data folder from before the index).
inline std::string message_index_prefix(std::string_view account, std::string_view message_id) {
  std::string k = "E";
  k.append(account).push_back('\0');
  k.append(message_id).push_back('\0');
  return k;
}
inline std::string message_index_key(std::string_view account, std::string_view message_id,
                                     std::uint32_t mailbox_id, std::uint32_t uid) {
  auto k = message_index_prefix(account, message_id);
  put_be32(k, mailbox_id);
  put_be32(k, uid);
  return k;
}
// The mailbox index (storage/mailbox_index.cpp), written in the batch of each row change:
// - the date view "D" account \0 mailbox_id(be32) date(be64, sign bit flipped) message_id
//   \0 uid(be32) -> [str message_id][str thread_id, "" = the message's own]: a mailbox in
//   internal-date order (JMAP receivedAt), ties by email id as the in-memory sort, read
//   from either end (format "5"; before, the key had no message id);
// - per mailbox and thread "G" account \0 mailbox_id(be32) thread_id -> [i64 rows]
//   [i64 unread rows], so thread counts move without a scan;
// - per thread "T" account \0 thread_id \0 date(be64, sign bit flipped) mailbox_id(be32)
//   uid(be32) -> [str message_id], one key per row: a thread's emails without a scan
//   (a message in two mailboxes has two keys; readers keep one);
// - counters (counter CF) "mc/" account \0 mailbox_id(be32) kind, kind one of
//   kCountTotal, kCountUnread, kCountThreads, kCountUnreadThreads.
inline std::string view_prefix(std::string_view account, std::uint32_t mailbox_id) {
  std::string k = "D";
  k.append(account).push_back('\0');
  put_be32(k, mailbox_id);
  return k;
}
inline std::string view_key(std::string_view account, std::uint32_t mailbox_id, std::int64_t date,
                            std::string_view message_id, std::uint32_t uid) {
  auto k = view_prefix(account, mailbox_id);
  put_be64(k, static_cast<std::uint64_t>(date) ^ (std::uint64_t{1} << 63));
  k.append(message_id).push_back('\0');
  put_be32(k, uid);
  return k;
}
inline std::string thread_count_prefix(std::string_view account, std::uint32_t mailbox_id) {
  std::string k = "G";
  k.append(account).push_back('\0');
  put_be32(k, mailbox_id);
  return k;
}
inline std::string thread_count_key(std::string_view account, std::uint32_t mailbox_id,
                                    std::string_view thread_id) {
  auto k = thread_count_prefix(account, mailbox_id);
  k.append(thread_id);
  return k;
}
inline std::string thread_member_prefix(std::string_view account, std::string_view thread_id) {
  std::string k = "T";
  k.append(account).push_back('\0');
  k.append(thread_id).push_back('\0');
  return k;
}
inline std::string thread_member_key(std::string_view account, std::string_view thread_id, std::int64_t date,
                                     std::uint32_t mailbox_id, std::uint32_t uid) {
  auto k = thread_member_prefix(account, thread_id);
  put_be64(k, static_cast<std::uint64_t>(date) ^ (std::uint64_t{1} << 63));
  put_be32(k, mailbox_id);
  put_be32(k, uid);
  return k;
}
// The mailbox index also holds (same batches):
// - per mailbox by modseq "M" account \0 mailbox_id(be32) modseq(be64) uid(be32) -> "",
//   one key per row at its modseq: the rows changed since a modseq (IMAP CHANGEDSINCE)
//   and the mailbox's highest modseq without a scan;
// - expunge tombstones "V" account \0 mailbox_id(be32) modseq(be64) uid(be32) -> "", at
//   the modseq of the batch that removed the row (IMAP VANISHED, RFC 7162 3.2.10),
//   trimmed with the change log (a modseq at or below the log's floor has none left).
inline std::string modseq_prefix(char kind, std::string_view account, std::uint32_t mailbox_id) {
  std::string k(1, kind);
  k.append(account).push_back('\0');
  put_be32(k, mailbox_id);
  return k;
}
inline std::string modseq_key(char kind, std::string_view account, std::uint32_t mailbox_id, std::uint64_t modseq,
                              std::uint32_t uid) {
  auto k = modseq_prefix(kind, account, mailbox_id);
  put_be64(k, modseq);
  put_be32(k, uid);
  return k;
}
inline constexpr char kModseqView = 'M', kTombstone = 'V';
// - sorted views per mailbox "O" account \0 mailbox_id(be32) kind(1 byte, a SortView) key
//   message_id \0 uid(be32) -> [str message_id][str thread_id, "" = the message's own],
//   key = be64 (size; sentAt with the sign bit flipped) or the text key (mime/sort_keys.hpp,
//   no NUL) then \0: a mailbox by size, sentAt, from or subject, ties by email id, as
//   the JMAP query that sorts in memory orders them.
inline std::string sorted_view_prefix(std::string_view account, std::uint32_t mailbox_id, SortView kind) {
  std::string k = "O";
  k.append(account).push_back('\0');
  put_be32(k, mailbox_id);
  k.push_back(static_cast<char>(kind));
  return k;
}
inline std::string sorted_view_key(std::string_view account, std::uint32_t mailbox_id, SortView kind,
                                   const mime::SortKeys& keys, std::uint64_t size, std::string_view message_id,
                                   std::uint32_t uid) {
  auto k = sorted_view_prefix(account, mailbox_id, kind);
  switch (kind) {
    case SortView::size: put_be64(k, size); break;
    case SortView::sent_at: put_be64(k, static_cast<std::uint64_t>(keys.sent_at) ^ (std::uint64_t{1} << 63)); break;
    case SortView::from: k.append(keys.from).push_back('\0'); break;
    case SortView::subject: k.append(keys.subject).push_back('\0'); break;
  }
  k.append(message_id).push_back('\0');
  put_be32(k, uid);
  return k;
}
inline constexpr SortView kSortViews[] = {SortView::size, SortView::sent_at, SortView::from, SortView::subject};
// The sort keys of a stored message: from its summary (mime/sort_keys.hpp); all empty
// when the summary does not parse (the same everywhere it is derived).
mime::SortKeys sort_keys_of(const MessageRecord& record);
inline constexpr char kCountTotal = 't', kCountUnread = 'u', kCountThreads = 'T', kCountUnreadThreads = 'U';
inline std::string mailbox_count_prefix(std::string_view account) {
  std::string k = "mc/";
  k.append(account).push_back('\0');
  return k;
}
inline std::string mailbox_count_key(std::string_view account, std::uint32_t mailbox_id, char kind) {
  auto k = mailbox_count_prefix(account);
  put_be32(k, mailbox_id);
  k.push_back(kind);
  return k;
}
// The format marker: "1" = the message index; "2" = also the mailbox index; "3" = also
// the thread members; "4" = also the modseq view; "5" = also the sorted views. Store::open
// builds what an older data folder lacks.
inline constexpr std::string_view kIndexFormatKey = "refmail/index";
inline constexpr std::string_view kIndexFormat = "5";
// "U" account \0 upload_id -> [str message_id][i64 expires]
// An upload hold's value: message id, expiry (Unix seconds), and since quota applies to
// uploads the bytes charged to the account (absent in older records: 0).
struct UploadValue {
  std::string message_id;
  std::int64_t expires = 0;
  std::int64_t charged_bytes = 0;
};
inline std::string encode_upload(const UploadValue& u) {
  std::string v;
  put_str(v, u.message_id);
  put_i64(v, u.expires);
  if (u.charged_bytes != 0) put_i64(v, u.charged_bytes);
  return v;
}
inline std::optional<UploadValue> decode_upload(std::string_view in) {
  Reader r(in);
  UploadValue u;
  u.message_id = r.str();
  u.expires = r.i64();
  if (r.done()) return u;
  u.charged_bytes = r.i64();
  if (!r.done() || u.charged_bytes < 0) return std::nullopt;
  return u;
}

inline std::string upload_key(std::string_view account, std::string_view upload_id) {
  std::string k = "U";
  k.append(account).push_back('\0');
  k.append(upload_id);
  return k;
}
inline std::string grant_key(std::string_view account, std::string_view blob_id) {
  std::string k(account);
  k.push_back('\0');
  k.append(blob_id);
  return k;
}
inline std::string uidnext_key(std::string_view account, std::uint32_t mailbox_id) {
  std::string k = "un/";
  k.append(account).push_back('\0');
  put_be32(k, mailbox_id);
  return k;
}
// Users and aliases are keyed domain first so a domain's entries are one range:
// "u" domain \0 local, "a" domain \0 local (an empty local part is the catch-all).
inline std::string user_key(std::string_view account) {
  auto at = account.rfind('@');
  std::string k = "u";
  k.append(account.substr(at + 1)).push_back('\0');
  k.append(account.substr(0, at));
  return k;
}
inline std::string alias_key(std::string_view address) {
  auto at = address.rfind('@');
  std::string k = "a";
  k.append(address.substr(at + 1)).push_back('\0');
  k.append(address.substr(0, at));
  return k;
}
inline std::string domain_of(std::string_view account) {
  auto at = account.rfind('@');
  return at == std::string_view::npos ? std::string() : std::string(account.substr(at + 1));
}
// Counter names.
inline constexpr std::string_view kLogicalBytes = "g/logical_bytes";
inline constexpr std::string_view kPhysicalBytes = "g/physical_bytes";
inline constexpr std::string_view kMessages = "g/messages";
inline constexpr std::string_view kBlobs = "g/blobs";
inline constexpr std::string_view kRows = "g/mailbox_rows";
inline constexpr std::string_view kUidValidity = "g/uidvalidity";
inline std::string account_bytes_key(std::string_view a) { return "ab/" + std::string(a); }
inline std::string account_msgs_key(std::string_view a) { return "am/" + std::string(a); }
// Bytes of the account's live upload holds that count against its quota (RFC 8620 6.1
// overQuota): added by the hold's delivery, removed when it expires or is released.
inline std::string account_upload_bytes_key(std::string_view a) { return "au/" + std::string(a); }
inline std::string domain_bytes_key(std::string_view d) { return "db/" + std::string(d); }
inline std::string domain_msgs_key(std::string_view d) { return "dm/" + std::string(d); }
inline std::string mailbox_next_key(std::string_view a) { return "mb/" + std::string(a); }
// Bumped by every batch that changes what an account sees (rows, keywords, mailboxes).
inline std::string account_state_key(std::string_view a) { return "st/" + std::string(a); }

// ---- change log, thread index, sessions (changes.cpp, threads.cpp, sessions.cpp) ----
// mailbox CF "C" account \0 be64(modseq) -> [i64 unix time][u32 n]([u8 type][u8 kind][str id])*n
inline std::string change_prefix(std::string_view account) {
  std::string k = "C";
  k.append(account).push_back('\0');
  return k;
}
inline std::string change_key(std::string_view account, std::uint64_t modseq) {
  auto k = change_prefix(account);
  put_be64(k, modseq);
  return k;
}
// counter CF: the log holds every change of the account with modseq > this floor.
// Absent: the floor is the account's state (the log starts at the next change).
inline std::string change_floor_key(std::string_view a) { return "cf/" + std::string(a); }
// mailbox CF "H" account \0 16-byte keyed XXH3-128 of a Message-ID -> thread id.
inline std::string thread_prefix(std::string_view account) {
  std::string k = "H";
  k.append(account).push_back('\0');
  return k;
}
// mailbox CF "J" account \0 thread id -> the thread it was merged into (Store::Impl::
// merge_threads): "H" values naming a merged thread resolve through it.
inline std::string thread_alias_prefix(std::string_view account) {
  std::string k = "J";
  k.append(account).push_back('\0');
  return k;
}
inline std::string thread_alias_key(std::string_view account, std::string_view thread_id) {
  auto k = thread_alias_prefix(account);
  k.append(thread_id);
  return k;
}
// account CF "s" + SHA-256(session token) (32 bytes) -> [str account][str csrf][i64 expires]
inline constexpr std::string_view kSessionPrefix = "s";

// ---- Sieve scripts (sieve.cpp), account CF ----
// "k" account \0 name -> [u8 2][str id][content] (or, before JMAP ids, [u8 1][content]):
// every script of the account;
// "K" account -> [u8 1][str name][content]: the active script, a copy of its row, so
// delivery reads it in one point read. Both change in one batch under sieve_mu.
inline constexpr char kSieveScriptPrefix = 'k', kSieveActivePrefix = 'K';
inline std::string sieve_prefix(std::string_view account) {
  std::string k(1, kSieveScriptPrefix);
  k.append(account).push_back('\0');
  return k;
}
inline std::string sieve_key(std::string_view account, std::string_view name) {
  auto k = sieve_prefix(account);
  k.append(name);
  return k;
}
// "v" account \0 key -> [i64 until]: what delivery remembers per account (a vacation
// reply sent to a sender, a Sieve failure the user was told of), until a time.
inline constexpr char kSieveMemoPrefix = 'v';
inline std::string sieve_memo_prefix(std::string_view account) {
  std::string k(1, kSieveMemoPrefix);
  k.append(account).push_back('\0');
  return k;
}
inline std::string sieve_active_key(std::string_view account) {
  std::string k(1, kSieveActivePrefix);
  k.append(account);
  return k;
}
// "W" account -> [u8 1][u8 enabled][u8 which optionals are set][i64 from][i64 to]
// [str subject][str text][str html][u64 version]: the vacation reply (sieve.cpp).
inline constexpr char kVacationPrefix = 'W';
inline std::string vacation_key(std::string_view account) {
  std::string k(1, kVacationPrefix);
  k.append(account);
  return k;
}

inline constexpr std::array<std::string_view, 5> kSystemMailboxes = {"INBOX", "Sent", "Drafts",
                                                                     "Trash", "Archive"};

class BlobSourceAdapter final : public mime::BlobSource {
 public:
  explicit BlobSourceAdapter(Store& store) : store_(store) {}
  boost::system::result<std::size_t> read(std::string_view blob_id, std::uint64_t offset,
                                          std::span<char> out) override {
    return store_.read_blob(blob_id, offset, out);
  }

 private:
  Store& store_;
};

class QuotaReservation;

// The mailbox index keys and values a set of rows calls for (mailbox_index.cpp): what
// Store::open writes for an older data folder and what fsck compares with.
struct DerivedIndex {
  std::map<std::string, std::string> view;                                 // "D", "T", "M", "O" key -> value
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> threads;  // "G" key -> rows, unread
  std::map<std::string, std::int64_t> counters;                          // "mc/" key -> count
  static std::string thread_value(const std::pair<std::int64_t, std::int64_t>& c);
};
void derive_mailbox_index(std::string_view account, std::uint32_t mailbox_id, std::uint32_t uid,
                          const RowValue& v, const mime::SortKeys& keys, DerivedIndex& out);

// What one batch changes in the mailbox index (mailbox_index.cpp): rows added and
// removed, and rows whose unread state flips. apply() adds the view keys, the per-thread
// counts and the mailbox counters to the batch. Thread counts are read, so apply() locks
// the index stripe of each (account, thread) it touches and returns the locks: the
// caller holds them until the batch is written (two batches on one thread never read
// the same old count). Lock order: message lock, then index stripes, then blob stripes.
class IndexDelta {
 public:
  struct Row {
    std::string account;
    std::uint32_t mailbox_id = 0;
    std::uint32_t uid = 0;
    std::int64_t date = 0;
    std::string message_id;
    std::string thread_id;  // as stored in the row ("" = the message's own)
    bool unread = false;
    std::uint64_t modseq = 1;  // row_modseq of the row
    std::uint64_t size = 0;
    // The message's sort keys (sort_keys_of): needed by add() and remove(), not update().
    const mime::SortKeys* keys = nullptr;
  };
  static Row of(std::string_view account, std::uint32_t mailbox_id, std::uint32_t uid, const RowValue& v,
                const mime::SortKeys* keys = nullptr);
  // A new row (at r.modseq).
  void add(const Row& r);
  // The row goes; its tombstone is written at `modseq` (the removing batch's).
  void remove(const Row& r, std::uint64_t modseq);
  // The row `r` (r.unread, r.modseq: before) becomes unread (or read) when `unread`,
  // and moves to `modseq` in the modseq view.
  void update(const Row& r, bool unread, std::uint64_t modseq);
  [[nodiscard]] result<std::vector<std::unique_lock<std::mutex>>> apply(Store::Impl& s, KvBatch& batch);

 private:
  struct Count {
    std::int64_t rows = 0;
    std::int64_t unread = 0;
  };
  void count(const Row& r, std::int64_t rows, std::int64_t unread);
  static const std::string& full_thread(const Row& r);
  // (account, mailbox id, full thread id) -> change
  std::map<std::tuple<std::string, std::uint32_t, std::string>, Count> threads_;
  std::vector<std::pair<std::string, std::string>> puts_;
  std::vector<std::string> dels_;
};
class ChangeTicket;
class UidHold;

struct Store::Impl {
  Store::RowCopied row_copied;  // set_row_copied
  StoreOptions options;
  std::unique_ptr<Kv> kv;  // the backend (storage/rocksdb/ by default)
  std::string secret;  // >= 136 bytes (XXH3_SECRET_SIZE_MIN), from a CSPRNG
  // What this process alone knows (pins, reservations, allocation caches, modseqs in
  // flight, locks): storage/local_state.hpp.
  LocalState local;
  std::unique_ptr<BlobSourceAdapter> source;
  // Per-process caches that stay correct with a shared backend (the memo is keyed by
  // the stored hash, so a password changed elsewhere never matches).
  // A hash verified for unknown users, so a login attempt costs the same time
  // whether or not the account exists (no user enumeration by timing).
  std::once_flag dummy_hash_once;
  std::string dummy_hash;
  // Passwords verified lately (accounts.cpp, verify_password): a keyed BLAKE2b of
  // (account, password, the stored hash) -> until when it needs no argon2id again.
  // Changing the password changes the stored hash, so an old entry never matches.
  std::mutex verified_mu;
  std::once_flag verified_key_once;
  std::array<unsigned char, 32> verified_key{};
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> verified;

  ~Impl();
  // nullopt when absent.
  result<std::optional<std::string>> get(Cf c, std::string_view key,
                                         const KvSnapshot* snap = nullptr);
  result<void> write(KvBatch& batch, bool sync = true);
  // Makes earlier write(batch, /*sync=*/false) calls durable (when sync_writes).
  result<void> sync_wal();
  result<std::int64_t> counter(std::string_view key, const KvSnapshot* snap = nullptr);
  std::unique_ptr<KvIterator> iter(Cf c, const KvSnapshot* snap = nullptr);

  // blobs (blobs.cpp)
  BlobStripe& stripe_for(std::string_view blob_id);
  std::size_t stripe_index(std::string_view blob_id) const;
  result<std::string> base_blob_id(const StagedBlob& b, const void* xxh_state);
  result<std::optional<BlobMeta>> load_meta(std::string_view blob_id,
                                            const KvSnapshot* snap = nullptr);
  result<bool> stored_equals(std::string_view blob_id, const BlobMeta& meta, const StagedBlob& b);
  result<bool> staged_equal(const StagedBlob& a, const StagedBlob& b);
  // Chooses the id for staged bytes (dedup after a full compare, suffix on a true
  // collision) and pins it. Sets *pending when this delivery may have to write it,
  // and *use to the staged bytes it reads from then on (null: the stored blob).
  result<std::string> resolve_and_pin(const StagedPtr& bytes, const std::string& base,
                                      bool* pending, StagedPtr* use);
  // Spilled staging (local_state.hpp StagedBlob): writes the next chunk of `b` under
  // its temporary id (made, with the staging marker, by the first call).
  result<void> spill_chunk(StagedBlob& b, std::string_view chunk);
  static std::string random_spill_id();
  // Deletes a spill's chunks (the first `chunks`; all under its id when unknown) and
  // marker. Best effort: a leftover is swept at open.
  void drop_spill(std::string_view spill_id, std::optional<std::uint32_t> chunks);
  // At open: drops every spill a crash or a failed drop left; returns how many.
  result<std::size_t> sweep_spills();
  // At open: builds the message index from the rows unless it is complete; returns the
  // number of rows indexed (0 when it was there).
  result<std::size_t> build_message_index();
  // Bytes [offset, offset + out.size()) of the chunks stored under `chunk_id`.
  result<std::size_t> read_chunks(std::string_view chunk_id, std::uint64_t size,
                                  std::uint32_t chunk_bytes, std::uint64_t offset,
                                  std::span<char> out);
  // Pins an id that must already be stored; not_found otherwise.
  result<void> pin_existing(std::string_view blob_id);
  void unpin(std::string_view blob_id);
  // Deletes the blob if its refcount is <= 0 and no delivery pins it.
  result<void> gc_blob(std::string_view blob_id, GcReport* report);
  void write_new_blob(KvBatch& batch, std::string_view blob_id, const StagedBlob& b,
                      std::int64_t refcount);

  // Checks the quota of every account in `add` (logical bytes to add) and reserves
  // the bytes in *r until it is destroyed; quota_exceeded names the first account over.
  // With `over` given, accounts over their quota are appended to it and left out
  // instead (the others are still reserved): Delivery::set_per_recipient_quota.
  result<void> reserve_quota(const std::map<std::string, std::uint64_t>& add,
                             QuotaReservation* r, std::vector<std::string>* over = nullptr);

  // mailboxes (mailboxes.cpp)
  // mailbox id -> name, for every mailbox of the account.
  result<std::map<std::uint32_t, std::string>> mailbox_names(std::string_view account);
  result<std::optional<MailboxMeta>> find_mailbox(std::string_view account,
                                                  std::string_view name);
  // find_mailbox, with a missing mailbox as errc::not_found naming it.
  result<MailboxMeta> require_mailbox(std::string_view account, std::string_view name);
  // The next UID of the mailbox; `hold` keeps it in flight (below the mailbox's UID
  // horizon) until it is destroyed: keep it until the batch that writes the row is
  // written or given up.
  std::uint32_t allocate_uid(std::string_view account, std::uint32_t mailbox_id, UidHold& hold);
  std::uint32_t allocate_mailbox_id(std::string_view account);
  // StoreOptions::on_index_progress, when set.
  void progress(std::string_view stage, std::uint64_t rows);
  std::uint32_t allocate_uidvalidity();
  result<std::optional<UserRecord>> load_user(std::string_view account);
  // Logs one change of the mailbox (Mailbox/changes, IMAP) in `batch` and writes it.
  result<void> write_mailbox_change(KvBatch& batch, const std::string& account, std::uint32_t mailbox_id,
                                    ChangeKind kind);
  void put_mailbox(KvBatch& batch, std::string_view account, std::string_view name,
                   const MailboxMeta& m);
  // Removes one row (REQUIRES: admin_mu held shared or exclusive). Blobs whose
  // refcount was dropped are appended to *gc for gc_blob() after the write.
  result<void> expunge_row(std::string_view account, std::uint32_t mailbox_id,
                           std::uint32_t uid, bool sync, std::vector<std::string>* gc);
  result<void> expunge_mailbox_rows(std::string_view account, std::uint32_t mailbox_id);
  // Drops an upload hold (REQUIRES: admin_mu held); blobs to collect go to *gc.
  result<void> release_upload_key(const std::string& key, std::vector<std::string>* gc);
  void gc_blobs(const std::vector<std::string>& ids);
  std::mutex& message_lock(std::string_view message_id);
  // The mailbox index (mailbox_index.cpp): the stripe of one account's thread.
  std::mutex& index_lock(std::string_view account, std::string_view thread_id);
  // Builds the mailbox index of every account from the rows (Store::open, format < 2):
  // puts absolute values; returns the rows indexed.
  result<std::size_t> build_mailbox_index();
  // One mailbox row held under its message's lock, so it cannot be expunged, copied or
  // resurrected meanwhile: read, lock, read again (errc::not_found names `mailbox_name`).
  struct LockedRow {
    std::string key;
    RowValue row;
    std::unique_lock<std::mutex> lock;
  };
  result<LockedRow> lock_row(std::string_view account, std::uint32_t mailbox_id, std::uint32_t uid,
                             std::string_view mailbox_name);
  // Adds to `batch` the removal of one reference to message `message_id` (whose
  // current value is `mv`): a refcount merge, or at zero the message's deletion, its
  // blobs' refcount drops (ids appended to *gc) and counters.
  // REQUIRES: message_lock(message_id) held until the batch is written.
  void drop_message_ref(KvBatch& batch, std::string_view message_id,
                        const MessageValue& mv, std::vector<std::string>* gc);
  result<std::optional<MessageValue>> load_message(std::string_view message_id);

  // change log (changes.cpp). Adds to `batch` one log entry for `account` under a new
  // modseq and raises the account's state key to it; *ticket holds the modseq "in
  // flight" until the batch is written (the visible state stays below it meanwhile).
  // REQUIRES: ticket outlives the write of `batch`.
  // Returns the modseq (rows the batch writes carry it, as RowValue::modseq).
  result<std::uint64_t> log_changes(KvBatch& batch, const std::string& account,
                                    const std::vector<Change>& changes, ChangeTicket* ticket);
  // The account's change-log floor (0 when none is stored).
  result<std::uint64_t> change_floor(const std::string& account, const KvSnapshot* snap = nullptr);
  // The newest state whose batch and every older one are written.
  result<std::uint64_t> visible_state(const std::string& account);
  // Drops entries beyond change_log_max_states / older than change_log_max_age.
  void trim_changes(const std::string& account);
  // Forgets the account's log, thread index and in-memory cursor (remove_user);
  // the floor becomes the current state so no old state is ever answered.
  void drop_account_log(KvBatch& batch, const std::string& account);

  // threads (threads.cpp): the thread of a new message in `account`; adds the index
  // keys for its ids and (for late parents) the ids it references to `batch`.
  // *created: the thread is new.
  // *merge: the other threads the ids name (the caller merges them into the returned
  // one with merge_threads once its batch is written).
  // REQUIRES: thread_lock(account) held shared until the batch is written.
  result<std::string> assign_thread(KvBatch& batch, const std::string& account,
                                    const std::string& message_id,
                                    const std::vector<std::string>& own_ids,
                                    const std::vector<std::string>& ref_ids, bool* created,
                                    std::vector<std::string>* merge);
  // The thread `thread_id` was merged into, through any chain of merges (itself when none).
  result<std::string> resolve_thread(const std::string& account, std::string thread_id);
  // Makes threads `a` and `b` one (the one with fewer rows joins the other): every row,
  // view key, thread member and per-mailbox thread count moves, in one batch with its
  // change-log entry, and an alias leads the old id's index keys to the kept one. Takes
  // thread_lock(account) exclusively, then the rows' message locks, then index stripes.
  // Threads of more than kMaxMergeRows rows each are left apart.
  result<void> merge_threads(const std::string& account, const std::string& a, const std::string& b);
  // Thread assignment and merging of an account: shared by deliveries (from assign_thread
  // to the write), exclusive for a merge. First in the lock order.
  std::shared_mutex& thread_lock(std::string_view account);
};

// A UID allocated and not yet written (Store::Impl::allocate_uid): while it lives, the
// mailbox's UID horizon stays at or below it, so a reader that stops at the horizon
// never sees a UID before a lower one that is still to come.
class UidHold {
 public:
  UidHold() = default;
  UidHold(const UidHold&) = delete;
  UidHold& operator=(const UidHold&) = delete;
  UidHold(UidHold&& o) noexcept : impl_(std::exchange(o.impl_, nullptr)), key_(std::move(o.key_)), uid_(o.uid_) {}
  ~UidHold() { release(); }
  void release();

 private:
  friend struct Store::Impl;
  Store::Impl* impl_ = nullptr;
  std::string key_;
  std::uint32_t uid_ = 0;
};

class ChangeTicket {
 public:
  ChangeTicket() = default;
  ChangeTicket(const ChangeTicket&) = delete;
  ChangeTicket& operator=(const ChangeTicket&) = delete;
  ~ChangeTicket() { finish(false); }
  // Call after the batch was written (ok = the write succeeded): makes the modseqs
  // visible and, every so often, trims the log.
  void finish(bool ok);

 private:
  friend struct Store::Impl;
  Store::Impl* impl_ = nullptr;
  std::vector<std::pair<std::string, std::uint64_t>> held_;
};

class QuotaReservation {
 public:
  QuotaReservation() = default;
  QuotaReservation(const QuotaReservation&) = delete;
  QuotaReservation& operator=(const QuotaReservation&) = delete;
  ~QuotaReservation() { release(); }
  void release() {
    if (impl_ == nullptr) return;
    std::lock_guard lock(impl_->local.quota_mu);
    for (const auto& [acct, bytes] : held_) {
      auto it = impl_->local.quota_reserved.find(acct);
      if (it == impl_->local.quota_reserved.end()) continue;
      it->second -= bytes;
      if (it->second == 0) impl_->local.quota_reserved.erase(it);
    }
    held_.clear();
    impl_ = nullptr;
  }

 private:
  friend struct Store::Impl;
  Store::Impl* impl_ = nullptr;
  std::vector<std::pair<std::string, std::uint64_t>> held_;
};

// Canonical forms (accounts.cpp). nullopt when malformed.
std::optional<std::string> canonical_address(std::string_view address);
std::optional<std::string> canonical_domain(std::string_view domain);
// "INBOX" case-insensitively becomes "INBOX"; other names are kept as given.
std::optional<std::string> canonical_mailbox(std::string_view name);
std::string hex(std::span<const std::uint8_t> bytes);
std::int64_t now_unix();

}  // namespace refmail::storage
