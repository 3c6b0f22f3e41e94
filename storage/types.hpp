// storage/types.hpp — plain value types exchanged with the Store: options, message
// records, mailbox rows, queue entries, receipts, blob info, stats and fsck reports.
// No RocksDB here; every field has an explicit unit in its type or name.
// SECURITY: MessageRecord bytes (skeleton, summary) and queue envelopes are opaque to
// the store and come from untrusted mail; the store never interprets them.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

namespace refmail::storage {

using Sha256 = std::array<std::uint8_t, 32>;
using UnixSeconds = std::chrono::sys_seconds;

// How much work a password hash costs (libsodium argon2id opslimit/memlimit).
enum class PasswordCost {
  interactive,   // argon2id m=9 MiB, t=4, p=1 (an OWASP-listed setting): the default
  moderate,      // crypto_pwhash_*_MODERATE (256 MiB)
  test_minimal,  // crypto_pwhash_*_MIN: tests only, never in production
};

inline constexpr std::size_t kMaxChunkBytes = std::size_t{1} << 20;  // 1 MiB

struct StoreOptions {
  std::filesystem::path path;           // the data folder (RocksDB directory)
  bool create_if_missing = true;
  bool sync_writes = true;              // every commit fsyncs the WAL (group commit)
  PasswordCost password_cost = PasswordCost::interactive;
  std::size_t max_chunk_bytes = kMaxChunkBytes;  // REQUIRES: 1 <= value <= kMaxChunkBytes
  std::size_t block_cache_bytes = std::size_t{64} << 20;
  // Tests only: replaces the keyed XXH3-128 of a blob's decoded bytes. Must return
  // 32 lowercase hex characters. Lets a test force two different contents onto one
  // hash to exercise the true-collision path.
  std::function<std::string(std::string_view decoded)> blob_hash_override;
  // Tests only: the in-memory backend (storage/memory/) instead of RocksDB in `path`.
  // Nothing persists and checkpoints fail; `path` only names the store in messages.
  bool in_memory = false;
  // The per-account change log (JMAP */changes) keeps the last change_log_max_states
  // states and nothing older than change_log_max_age; older sinceStates are expired.
  std::uint64_t change_log_max_states = 10000;
  std::chrono::seconds change_log_max_age{30 * 24 * 3600};
  // Called while Store::open builds the indexes a data folder from an older version
  // lacks (before open returns, so before anything is served): stage "start" (rows 0),
  // "rows" every 100,000 rows indexed, "done" with the total.
  std::function<void(std::string_view stage, std::uint64_t rows)> on_index_progress;
};

// What a delivery stores once per message (bytes come from mime/; opaque here).
struct MessageRecord {
  std::string skeleton;                // the original bytes with attachment bodies cut out
  std::string summary;                 // the parsed summary, serialized by mime/
  std::vector<std::string> blob_ids;   // REQUIRES: distinct ids the skeleton references
  std::uint64_t logical_size = 0;      // size of the full raw message in bytes
};

struct StoredMessage {
  std::string message_id;
  MessageRecord record;
  std::int64_t refcount = 0;           // mailbox rows + queue rows that reference it
  UnixSeconds created{};
};

struct MailboxRow {
  std::string account;
  std::string mailbox;
  std::uint32_t uid = 0;
  std::string message_id;
  std::vector<std::string> keywords;   // IMAP flags / JMAP keywords, e.g. "$seen"
  UnixSeconds internal_date{};
  std::uint64_t logical_size = 0;
  // The thread (per account): the message id of the thread's first message. Rows
  // stored before threading have their own message id here (a thread of their own).
  std::string thread_id;
  // The modseq of the batch that last wrote the row (created, copied or moved it here,
  // changed its keywords): IMAP MODSEQ (RFC 7162), at least 1. Account-wide, so it is
  // also a JMAP state of the account.
  std::uint64_t modseq = 1;
};

// A mailbox's counts, kept by every change in the change's own batch (never by a scan).
// A message held twice in one mailbox (IMAP COPY into its own mailbox) counts twice in
// total/unread. Unread = without "$seen". A thread counts in `threads` when it has a
// row in the mailbox, in `unread_threads` when one of its rows in the mailbox is unread.
struct MailboxCounts {
  std::uint64_t total = 0;
  std::uint64_t unread = 0;
  std::uint64_t threads = 0;
  std::uint64_t unread_threads = 0;
  bool operator==(const MailboxCounts&) const = default;
};

// The sorted views of a mailbox beside its date view (Store::scan_sorted_view): by size,
// by sentAt (the Date field), by from and by subject (mime/sort_keys.hpp), ties by email id.
enum class SortView : char { size = 's', sent_at = 'S', from = 'f', subject = 'j' };

// One row of a mailbox's date view (Store::scan_mailbox_view).
struct ViewEntry {
  std::uint32_t uid = 0;
  UnixSeconds internal_date{};
  std::string message_id;
  std::string thread_id;  // the thread's id (the message's own id for a thread of one)
  // The view key's bytes that order the entry before its email id (the date, or the
  // sorted view's size, sentAt or text key): equal for entries that tie on the sort.
  std::string sort_key;
};

// A row's UID and modseq (Store::changed_since; for Store::vanished_since the modseq
// of the batch that removed it).
struct ModseqEntry {
  std::uint32_t uid = 0;
  std::uint64_t modseq = 0;
  bool operator==(const ModseqEntry&) const = default;
};

// One email of a thread (Store::thread_emails): its earliest row's internal date.
struct ThreadEmail {
  std::string message_id;
  UnixSeconds received{};
  bool operator==(const ThreadEmail&) const = default;
};

struct MailboxInfo {
  std::string name;
  std::uint32_t mailbox_id = 0;        // stable across renames, never reused per account
  std::uint32_t uidvalidity = 0;       // RFC 3501 2.3.1.1
  std::uint32_t uidnext = 0;           // the next UID that may be assigned
  bool is_system = false;              // INBOX, Sent, Drafts, Trash, Archive
  bool subscribed = true;              // IMAP SUBSCRIBE / JMAP isSubscribed
};

struct RowReceipt {
  std::string account;
  std::string mailbox;
  std::uint32_t uid = 0;
};

struct QueueEntry {
  std::string queue_id;
  std::string message_id;
  std::string envelope;                // opaque to the store (relay's MAIL FROM / RCPT TO)
  UnixSeconds due{};
  std::uint32_t attempts = 0;
  std::string last_error;
};

// A durable import job (push import from a legacy server); payload is opaque
// (source, mailbox, UIDs: the import worker's encoding).
struct ImportJob {
  std::string job_id;
  std::string account;
  std::string payload;
  UnixSeconds due{};
  std::uint32_t attempts = 0;
  std::string last_error;
};

struct DeliveryReceipt {
  std::string message_id;
  std::vector<RowReceipt> rows;        // in the order add_mailbox_row was called
  std::vector<std::string> queue_ids;  // in the order add_queue_row was called
  std::vector<std::string> upload_ids; // in the order add_upload_hold was called
  std::uint64_t new_blob_bytes = 0;    // decoded bytes this delivery added to the store
  // Accounts left out for being over quota (Delivery::set_per_recipient_quota only).
  std::vector<std::string> over_quota;
};

struct BlobInfo {
  std::string blob_id;
  std::uint64_t size_bytes = 0;
  Sha256 sha256{};
  std::int64_t refcount = 0;           // number of message records that reference it
  UnixSeconds first_seen{};
};

struct UserInfo {
  std::string address;                 // lowercase "local@domain"
  bool is_admin = false;
  std::uint64_t quota_bytes = 0;       // 0 = unlimited
  std::uint64_t used_bytes = 0;        // logical bytes in the account's mailboxes
  std::uint64_t messages = 0;          // mailbox rows of the account
  // The stored hash's argon2id parameters ("m=9216,t=4,p=1"); a hash made with other
  // ones than the store's cost is replaced at the user's next successful login.
  std::string password_params;
};

struct AliasInfo {
  std::string address;                 // lowercase; "@domain" is a catch-all
  std::vector<std::string> targets;    // local accounts or foreign addresses
};

// resolve_recipient(): where mail for an address goes.
struct Resolution {
  std::vector<std::string> accounts;   // local accounts (deduplicated, sorted)
  std::vector<std::string> foreign;    // alias targets in domains not hosted here
};

struct Usage {
  std::uint64_t logical_bytes = 0;
  std::uint64_t messages = 0;          // mailbox rows
};

struct Stats {
  std::uint64_t logical_bytes = 0;     // what every mailbox would hold with its own copy
  std::uint64_t physical_bytes = 0;    // blob bytes + skeletons + summaries actually stored
  std::uint64_t blobs = 0;
  std::uint64_t messages = 0;          // distinct message records
  std::uint64_t mailbox_rows = 0;
  // Fraction of the logical bytes not stored: 1 - physical/logical (0 when empty).
  // 0.75 means four mailbox copies cost the disk one.
  double saving_ratio = 0.0;
  std::map<std::string, Usage> per_domain;
  std::map<std::string, Usage> per_account;
};

struct FsckIssue {
  std::string what;                    // e.g. "blob_refcount", "counter", "orphan_chunk"
  std::string key;                     // printable key (blob id, counter name, ...)
  std::int64_t stored = 0;
  std::int64_t expected = 0;
};

struct FsckReport {
  std::vector<FsckIssue> issues;
  bool repaired = false;               // the corrections were written
  std::uint64_t blobs_checked = 0;
  std::uint64_t messages_checked = 0;
  std::uint64_t rows_checked = 0;
  // Attachments being received (spilled, not yet committed); a crash's are swept at open.
  std::uint64_t blobs_staging = 0;
  [[nodiscard]] bool clean() const { return issues.empty(); }
};

struct GcReport {
  std::uint64_t blobs_deleted = 0;
  std::uint64_t bytes_freed = 0;
  std::uint64_t grants_deleted = 0;    // zero-count grant keys removed
};

// ---- the per-account change log (JMAP RFC 8620 5.2 / RFC 8621) ----
enum class ChangeType : std::uint8_t { email = 'E', mailbox = 'M', thread = 'T' };
// `updated` also covers removals (a row expunged, a mailbox deleted): whether the
// object still exists is read from the current data, so an id created and destroyed
// in the window is reported destroyed only. `counts` = only a Mailbox's counts changed.
enum class ChangeKind : std::uint8_t { created = 'c', updated = 'u', counts = 'n' };
struct Change {
  ChangeType type = ChangeType::email;
  ChangeKind kind = ChangeKind::updated;
  std::string id;                      // message id, mailbox id (decimal), thread id
};
// Everything one committed batch changed for one account.
struct ChangeSet {
  std::uint64_t modseq = 0;
  UnixSeconds at{};
  std::vector<Change> changes;
};
struct ChangeLog {
  std::uint64_t state = 0;             // the account's current state (newest modseq)
  std::vector<ChangeSet> sets;         // modseq order, all > since
  bool has_more = false;               // cut at max_changes: sets.back().modseq < state
};

// A browser session (web/auth), stored by SHA-256 of its token.
struct SessionRecord {
  std::string account;
  std::string csrf;
  UnixSeconds expires{};
};

// Sieve scripts (RFC 5228) of an account, kept for ManageSieve (RFC 5804) and read by
// delivery (storage/sieve.cpp).
struct SieveScriptInfo {
  // Made when the name is first stored; kept by replacement and rename (JMAP, RFC 9661).
  std::string id;
  std::string name;
  bool active = false;
  std::uint64_t size_bytes = 0;
};
struct SieveScript {
  std::string name;
  std::string content;
};
// [sieve] max_script_bytes / max_scripts: beyond them Store::sieve_put refuses with
// errc::too_large (QUOTA/MAXSIZE) and errc::quota_exceeded (QUOTA/MAXSCRIPTS).
struct SieveLimits {
  std::uint64_t max_script_bytes = 256u << 10;
  std::uint32_t max_scripts = 32;
};
// The account's out-of-office reply (JMAP VacationResponse, RFC 8621 8), carried out at
// delivery like a Sieve vacation action (RFC 5230). Dates are Unix seconds; nullopt is
// JMAP's null (no bound, no custom subject, no body of that kind).
struct VacationSettings {
  bool enabled = false;
  std::optional<std::int64_t> from_date, to_date;
  std::optional<std::string> subject, text_body, html_body;
  // Bumped by every Store::vacation_set (the JMAP state); 0 when never set.
  std::uint64_t version = 0;
};
// A script name (RFC 5804 1.6): 1..128 Unicode characters of valid UTF-8, no control
// characters (C0, DEL, C1, U+2028, U+2029), and no '/' (refmail's own rule).
[[nodiscard]] bool valid_sieve_name(std::string_view name) noexcept;

// Bounds on what a mailbox row carries.
inline constexpr std::size_t kMaxKeywords = 128;
inline constexpr std::size_t kMaxKeywordBytes = 255;
// An IMAP flag as a keyword: system flags map to JMAP's ("\Seen" -> "$seen"), others
// lower-cased; "" for \Recent (not stored); nullopt for what is not a flag (RFC 8621
// 4.1.1 keyword characters, at most kMaxKeywordBytes). (storage/keywords.cpp)
[[nodiscard]] std::optional<std::string> flag_to_keyword(std::string_view flag);
// A keyword as the IMAP flag clients know ("$seen" -> "\Seen"; others as they are).
[[nodiscard]] std::string keyword_to_flag(std::string_view keyword);

}  // namespace refmail::storage
