// storage/store.hpp — the Store: one RocksDB database holding blobs (kept once, by
// content), messages (skeleton + summary), mailboxes, accounts, grants, the relay
// queue and counters. One delivery is one atomic, durable WriteBatch (group commit).
// Must never: expose RocksDB types, share a blob on a hash match without comparing
// every byte, or acknowledge a delivery before it is durable.
// SECURITY: a blob id alone grants nothing; callers check grant_count(account, blob)
// before serving bytes. Passwords are stored only as argon2id hashes (libsodium).
// All methods are thread-safe. Expected failures are result<T> with storage::errc;
// error_detail(ec) gives a one-line description naming the path/account/blob.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/system/result.hpp>

#include "mime/blob_io.hpp"
#include "storage/errors.hpp"
#include "storage/types.hpp"

namespace refmail::storage {

template <class T>
using result = boost::system::result<T>;

class Store;

// One write of Store::write_import_state: put `value`, or delete `key` when nullopt.
struct ImportStateOp {
  std::string key;
  std::optional<std::string> value;
};

// One delivery: stage blobs through blob_sink() (or put_blob), set the message, add
// mailbox rows and queue rows, then commit() once. Nothing is visible or durable
// before commit() returns a receipt; a Delivery destroyed without commit() forgets
// everything it staged. A delivery holds little staged data in memory (a few MiB and
// one chunk): a blob of more than one chunk is written out chunk by chunk as it
// arrives, under a temporary id that only a committed delivery makes part of the
// store (and that a delivery destroyed without commit, or a crash, leaves to be
// deleted).
// Not thread-safe itself (one thread drives one delivery); many deliveries may run
// and commit concurrently. REQUIRES: does not outlive its Store.
class Delivery {
 public:
  Delivery(Delivery&&) noexcept;
  Delivery& operator=(Delivery&&) noexcept;
  ~Delivery();

  // The sink the MIME splitter writes decoded attachment bytes into. Its commit()
  // returns the blob id (an existing blob's id when the bytes are already stored).
  [[nodiscard]] mime::BlobSink& blob_sink();
  // The decoded bytes of the blobs this delivery's sink has committed, by the id the
  // sink returned (mime::summarize reads cut text bodies from it before commit()).
  // Other ids: not_found. Lives as long as the Delivery.
  [[nodiscard]] mime::BlobSource& staged_source();
  // Staged attachment bytes this delivery holds in memory now.
  [[nodiscard]] std::size_t held_bytes() const noexcept;
  // begin/append/commit on blob_sink() in one call.
  [[nodiscard]] result<std::string> put_blob(std::span<const char> decoded);

  // REQUIRES: called once before commit(); every id in record.blob_ids was returned
  // by this delivery's sink or names a blob already in the store.
  void set_message(MessageRecord record);
  // Threading keys (RFC 8621 3; storage/threads.cpp), not stored with the record:
  // the message's own Message-ID(s) and the ids it refers to (In-Reply-To first, then
  // References), without <>. Not called: the message starts a thread of its own.
  void set_thread_keys(std::vector<std::string> own_ids, std::vector<std::string> referenced_ids);
  // A copy of the message in `account`'s `mailbox` ("INBOX" is case-insensitive).
  void add_mailbox_row(std::string account, std::string mailbox = "INBOX",
                       std::vector<std::string> keywords = {},
                       std::optional<UnixSeconds> internal_date = std::nullopt);
  // Quota per recipient: an account whose quota this message would exceed gets no
  // row (DeliveryReceipt::over_quota names it) while the others still get theirs;
  // commit() fails with quota_exceeded only when no row, queue row or hold is left.
  // Without it, one account over quota fails the whole delivery (JMAP, import).
  void set_per_recipient_quota();
  // An outbound relay job for this message (envelope bytes are opaque to the store).
  void add_queue_row(std::string envelope, UnixSeconds due);
  // A JMAP upload (RFC 8620 6.1): keeps the message's blobs alive and granted to
  // `account` until `expires` (expire_uploads) or release_upload. Counts in the
  // message refcount like a row; adds no logical bytes. `charged_bytes` count against
  // the account's quota while the hold lives (commit() fails with quota_exceeded when
  // they do not fit); 0 for holds that are not the account's own uploads.
  void add_upload_hold(std::string account, UnixSeconds expires, std::uint64_t charged_bytes = 0);
  // Import worker state (the keys of Store::write_import_state) written in this
  // delivery's batch, so an imported message and its "done" record are durable together
  // or not at all (storage/import_state.cpp). Ops apply after the delivery's own writes.
  void add_import_state(std::vector<ImportStateOp> ops);

  // Writes everything as one WriteBatch (sync when StoreOptions::sync_writes).
  // Errors: not_found (account, mailbox or referenced blob unknown), quota_exceeded
  // (names the account; nothing written), invalid_argument (no message / no rows),
  // io_error, no_space. REQUIRES: called at most once.
  [[nodiscard]] result<DeliveryReceipt> commit();

  struct State;

 private:
  friend class Store;
  explicit Delivery(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class Store {
 public:
  // Opens (or creates) the store at options.path. Errors: locked (another process or
  // Store holds it), permission_denied, corrupt, no_space, not_found (missing and
  // !create_if_missing), io_error — each with a one-line error_detail().
  [[nodiscard]] static result<std::unique_ptr<Store>> open(StoreOptions options);

  // Replaces the store at data_path by a copy of checkpoint_dir (a checkpoint() made
  // earlier). Refuses with errc::locked while data_path is open anywhere. The copy is
  // made in a temporary sibling folder, checked to open, then renamed into place;
  // the old folder is removed only after the rename.
  [[nodiscard]] static result<void> restore(const std::filesystem::path& checkpoint_dir,
                                            const std::filesystem::path& data_path);

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();

  // ---- blobs ----
  // Copies up to out.size() bytes of blob `blob_id` from `offset`; returns the number
  // copied (0 at or past the end). not_found for an unknown blob.
  [[nodiscard]] result<std::size_t> read_blob(std::string_view blob_id, std::uint64_t offset,
                                              std::span<char> out);
  // The joiner's view of read_blob. Lives as long as the Store.
  [[nodiscard]] mime::BlobSource& blob_source();
  [[nodiscard]] result<BlobInfo> blob_info(std::string_view blob_id);
  [[nodiscard]] result<std::string> find_blob_by_sha256(const Sha256& digest);
  // The upload pre-check: the blob id only when `account` holds a grant for it
  // (so nobody learns what other accounts store); else not_found.
  [[nodiscard]] result<std::string> find_granted_blob_by_sha256(std::string_view account,
                                                                const Sha256& digest);
  // Number of `account`'s mailbox rows whose message references the blob (0 if none).
  [[nodiscard]] result<std::int64_t> grant_count(std::string_view account,
                                                 std::string_view blob_id);

  // ---- deliveries and messages ----
  [[nodiscard]] Delivery begin_delivery();
  [[nodiscard]] result<StoredMessage> get_message(std::string_view message_id);

  // ---- mailboxes ----
  [[nodiscard]] result<std::vector<MailboxInfo>> list_mailboxes(std::string_view account);
  [[nodiscard]] result<MailboxInfo> create_mailbox(std::string_view account,
                                                   std::string_view name);
  // System mailboxes (INBOX, Sent, Drafts, Trash, Archive) cannot be renamed or deleted.
  [[nodiscard]] result<void> rename_mailbox(std::string_view account, std::string_view from,
                                            std::string_view to);
  // IMAP SUBSCRIBE/UNSUBSCRIBE and JMAP isSubscribed of an existing mailbox (a new one
  // is subscribed; a rename keeps it). Errors: not_found.
  [[nodiscard]] result<void> set_subscribed(std::string_view account, std::string_view name, bool subscribed);
  // Expunges every row of the mailbox, then removes it.
  [[nodiscard]] result<void> delete_mailbox(std::string_view account, std::string_view name);
  // Rows in UID order.
  [[nodiscard]] result<std::vector<MailboxRow>> list_rows(std::string_view account,
                                                          std::string_view mailbox);
  [[nodiscard]] result<MailboxRow> get_row(std::string_view account, std::string_view mailbox,
                                           std::uint32_t uid);
  // Visits the mailbox's rows with UID >= from_uid in UID order until `visit` returns
  // false (the IMAP server's sequence: costs what is visited). not_found for an unknown
  // mailbox.
  [[nodiscard]] result<void> scan_rows(std::string_view account, std::string_view mailbox, std::uint32_t from_uid,
                                       const std::function<bool(MailboxRow&&)>& visit);
  // With `unchanged_since` (IMAP STORE UNCHANGEDSINCE, RFC 7162 3.1.3): errc::modified,
  // and nothing written, when the row's modseq is above it.
  [[nodiscard]] result<void> set_keywords(std::string_view account, std::string_view mailbox,
                                          std::uint32_t uid, std::vector<std::string> keywords,
                                          std::optional<std::uint64_t> unchanged_since = std::nullopt);
  // Adds the row's message to another mailbox of the same account (new UID there);
  // with `move` the source row is expunged in the same batch. Tells the row-copied
  // observer after the write.
  [[nodiscard]] result<std::uint32_t> copy_row(std::string_view account,
                                               std::string_view from_mailbox, std::uint32_t uid,
                                               std::string_view to_mailbox, bool move = false);
  // Removes rows (unknown UIDs are skipped); messages and blobs reaching zero
  // references are deleted (GC), physical bytes drop.
  [[nodiscard]] result<void> expunge(std::string_view account, std::string_view mailbox,
                                     std::span<const std::uint32_t> uids);

  // Who is told of every row copy_row wrote (JMAP and IMAP copies and moves): the spam
  // learner. Called on the copying thread after the write, outside the row, index and
  // admin locks (the new UID is still held); it must not block. REQUIRES: set once, before the store is shared between threads.
  using RowCopied = std::function<void(std::string_view account, std::string_view from_mailbox,
                                       std::string_view to_mailbox, std::string_view message_id)>;
  void set_row_copied(RowCopied observer);

  // ---- relay queue ----
  [[nodiscard]] result<std::vector<QueueEntry>> due_queue(UnixSeconds now, std::size_t limit);
  [[nodiscard]] result<void> reschedule_queue(std::string_view queue_id, UnixSeconds due,
                                              std::string_view last_error);
  // Done (delivered or bounced): drops the row and the message reference. With
  // !durable the write skips the WAL fsync so the relay can group-commit removals with
  // sync_queue(); a machine crash before that may bring the row back (a repeat
  // delivery, never a loss). Blob garbage collection always waits for a sync.
  [[nodiscard]] result<void> remove_queue(std::string_view queue_id, bool durable = true);
  // One WAL sync making every earlier !durable queue write durable.
  [[nodiscard]] result<void> sync_queue();
  // One row by id (storage/queue_ops.cpp). not_found when absent.
  [[nodiscard]] result<QueueEntry> get_queue(std::string_view queue_id);
  // Rewrites a row's due time, attempt count and last error (and its envelope when
  // given, e.g. the recipients still pending after a partial delivery) in one write.
  // The message reference is untouched. not_found when absent. With !durable the
  // write skips the WAL fsync (for advisory state a crash may lose, such as the
  // relay's "in delivery" mark); it still becomes durable with the next synced write.
  [[nodiscard]] result<void> update_queue(std::string_view queue_id, UnixSeconds due,
                                          std::uint32_t attempts, std::string_view last_error,
                                          std::optional<std::string> envelope = std::nullopt,
                                          bool durable = true);

  // ---- import jobs (the `import` column family) ----
  [[nodiscard]] result<std::string> enqueue_import(std::string_view account,
                                                   std::string_view payload, UnixSeconds due);
  [[nodiscard]] result<std::vector<ImportJob>> due_imports(UnixSeconds now, std::size_t limit);
  [[nodiscard]] result<void> reschedule_import(std::string_view job_id, UnixSeconds due,
                                               std::string_view last_error);
  [[nodiscard]] result<void> remove_import(std::string_view job_id);
  // Import worker state beside the jobs (storage/import_state.cpp): opaque values under
  // caller-chosen keys (imported-UID markers, pending UIDs, per-source counters).
  // write_import_state applies every op (a value puts, nullopt deletes) in one batch.
  [[nodiscard]] result<std::optional<std::string>> get_import_state(std::string_view key);
  [[nodiscard]] result<void> write_import_state(const std::vector<ImportStateOp>& ops);
  // Keys starting with `prefix`, in key order, at most `limit`.
  [[nodiscard]] result<std::vector<std::pair<std::string, std::string>>> scan_import_state(
      std::string_view prefix, std::size_t limit);

  // ---- upload holds ----
  [[nodiscard]] result<void> release_upload(std::string_view account, std::string_view upload_id);
  // Releases every hold whose expiry is <= now; returns how many.
  [[nodiscard]] result<std::size_t> expire_uploads(UnixSeconds now);

  // A number that changes whenever the account's rows, keywords or mailboxes change
  // (JMAP state strings, push): the newest modseq of the account's change log whose
  // batch and every older one are written. Only ever grows, also across remove_user.
  [[nodiscard]] result<std::uint64_t> account_state(std::string_view account);

  // Every row of an account, all mailboxes, in (mailbox id, UID) order.
  [[nodiscard]] result<std::vector<MailboxRow>> list_account_rows(std::string_view account);
  // The rows of one message in an account (none: empty), through the message index:
  // costs what it returns, whatever the account holds. In (mailbox id, UID) order.
  [[nodiscard]] result<std::vector<MailboxRow>> message_rows(std::string_view account,
                                                             std::string_view message_id);
  // The same for several messages at once (the account's mailboxes are read once):
  // every id is a key of the result, with no rows when the account holds none.
  [[nodiscard]] result<std::map<std::string, std::vector<MailboxRow>>> message_rows(
      std::string_view account, std::span<const std::string> message_ids);

  // ---- the mailbox index (storage/mailbox_index.cpp) ----
  // The counts of each of the account's mailboxes, by mailbox id (absent: all zero).
  // Costs O(mailboxes), whatever the mailboxes hold.
  [[nodiscard]] result<std::map<std::uint32_t, MailboxCounts>> mailbox_counts(std::string_view account);
  // Visits one mailbox's rows in internal-date order (ties by email id, then UID; both
  // reversed with `newest_first`), newest first when
  // `newest_first`, until `visit` returns false. Costs what is visited. An unknown
  // mailbox id visits nothing.
  [[nodiscard]] result<void> scan_mailbox_view(std::string_view account, std::uint32_t mailbox_id,
                                               bool newest_first,
                                               const std::function<bool(const ViewEntry&)>& visit);
  // Visits every row of the account in internal-date order (ties by email id, then UID;
  // all reversed with `newest_first`) with its mailbox id: a merge of the mailboxes' date
  // views, so an email in several mailboxes is visited once per row. Costs what is visited
  // plus one seek per mailbox, and holds an iterator per mailbox while it walks (callers
  // bound the mailboxes: web/jmap_query.cpp).
  [[nodiscard]] result<void> scan_account_view(std::string_view account, bool newest_first,
                                               const std::function<bool(std::uint32_t, const ViewEntry&)>& visit);
  // The same merge over the mailboxes' sorted views of `kind` (ties by email id, then
  // UID): an email in several mailboxes is visited once per row, its rows one after the
  // other (they share the sort key). Costs and bounds as scan_account_view.
  [[nodiscard]] result<void> scan_account_sorted_view(std::string_view account, SortView kind, bool descending,
                                                      const std::function<bool(std::uint32_t, const ViewEntry&)>& visit);
  // Visits one mailbox's rows in the order of a sorted view, ties by email id, both
  // descending when `descending`, until `visit` returns false (ViewEntry::internal_date is
  // not set). Costs what is visited.
  [[nodiscard]] result<void> scan_sorted_view(std::string_view account, std::uint32_t mailbox_id, SortView kind,
                                              bool descending, const std::function<bool(const ViewEntry&)>& visit);
  // The mailbox's UID horizon: every UID below it that the mailbox will ever hold is
  // written (or was given up), so a reader that shows only rows below it shows UIDs in
  // strictly ascending order (IMAP: a client never sees UID n+1 before n). It is the
  // lowest UID allocated and not yet written, else the next UID. Two concurrent
  // deliveries may write in either order; the horizon waits for the lower one.
  [[nodiscard]] result<std::uint32_t> uid_horizon(std::string_view account, std::uint32_t mailbox_id);
  // Modseqs (RFC 7162 CONDSTORE/QRESYNC; storage/mailbox_index.cpp). A modseq is the
  // account's change-log state of the batch that wrote a change, so modseqs of one
  // mailbox grow with every change to it; none of these reads shows a change whose
  // batch, or an older one of the account, is still being written.
  // The mailbox's highest modseq: of its rows and tombstones, and never below the
  // change log's floor (so it never goes back when old tombstones are trimmed). At
  // least 1. Costs O(log n).
  [[nodiscard]] result<std::uint64_t> highest_modseq(std::string_view account, std::uint32_t mailbox_id);
  // The mailbox's rows written (created, copied or moved in, keywords changed) after
  // modseq `since`, in modseq order, at most `limit`. Costs what it returns.
  [[nodiscard]] result<std::vector<ModseqEntry>> changed_since(std::string_view account, std::uint32_t mailbox_id,
                                                               std::uint64_t since, std::size_t limit);
  // The UIDs removed from the mailbox (expunged, moved out) after modseq `since`, in
  // modseq order, at most `limit`. errc::expired when `since` is below the change log's
  // floor (tombstones that old are gone: the caller compares UIDs instead).
  [[nodiscard]] result<std::vector<ModseqEntry>> vanished_since(std::string_view account, std::uint32_t mailbox_id,
                                                                std::uint64_t since, std::size_t limit);
  // The account's message ids in id order, each once, at most `limit` of them. Costs
  // what it returns (the message index), whatever the account holds.
  [[nodiscard]] result<std::vector<std::string>> list_message_ids(std::string_view account, std::size_t limit);
  // The account's thread ids in id order, at most `limit` of them; costs the rows of
  // the threads it returns.
  [[nodiscard]] result<std::vector<std::string>> list_thread_ids(std::string_view account, std::size_t limit);
  // The emails of one thread (the thread id as rows and views give it), each once,
  // oldest first (RFC 8621 3: by receivedAt, ties by id). Costs the thread's rows. An
  // unknown thread gives none.
  [[nodiscard]] result<std::vector<ThreadEmail>> thread_emails(std::string_view account, std::string_view thread_id);

  // ---- change log, threads, sessions (storage/changes.cpp, threads.cpp, sessions.cpp) ----
  // The account's changes after state `since` (RFC 8620 5.2), only those of `type`
  // when given, in modseq order. With max_changes > 0 the answer stops before the
  // change set that would take it over max_changes (has_more; the first set is always
  // included whole). Errors: expired (since is older than the log keeps),
  // invalid_argument (since is newer than the account's state).
  [[nodiscard]] result<ChangeLog> changes_since(std::string_view account, std::uint64_t since,
                                                std::optional<ChangeType> type = std::nullopt,
                                                std::size_t max_changes = 0);
  // Browser sessions by SHA-256 of the token (the token itself is never stored).
  [[nodiscard]] result<void> put_session(const Sha256& token_hash, const SessionRecord& session);
  // nullopt when absent or expired at `now` (an expired one is deleted).
  [[nodiscard]] result<std::optional<SessionRecord>> get_session(const Sha256& token_hash,
                                                                 UnixSeconds now);
  [[nodiscard]] result<void> delete_session(const Sha256& token_hash);
  // Deletes every session expired at `now`; returns how many.
  [[nodiscard]] result<std::size_t> purge_sessions(UnixSeconds now);

  // ---- accounts ----
  // Domains and local parts are compared case-insensitively (ASCII folding; the
  // stored form is lowercase). RFC 5321 2.4 lets local parts be case-sensitive;
  // refmail deliberately does not, so "Bob@x" and "bob@x" are one account.
  [[nodiscard]] result<void> add_domain(std::string_view domain);
  [[nodiscard]] result<std::vector<std::string>> list_domains();
  [[nodiscard]] result<bool> is_local_domain(std::string_view domain);
  // not_empty while users or aliases of the domain exist.
  [[nodiscard]] result<void> remove_domain(std::string_view domain);
  // Creates the user and its INBOX, Sent, Drafts, Trash, Archive. REQUIRES: domain added.
  [[nodiscard]] result<void> add_user(std::string_view address, std::string_view password,
                                      bool is_admin = false, std::uint64_t quota_bytes = 0);
  [[nodiscard]] result<UserInfo> get_user(std::string_view address);
  // All users, or those of one domain.
  [[nodiscard]] result<std::vector<UserInfo>> list_users(std::string_view domain = {});
  // Returns the canonical account on success; bad_password or not_found otherwise.
  [[nodiscard]] result<std::string> verify_password(std::string_view address,
                                                    std::string_view password);
  [[nodiscard]] result<void> set_password(std::string_view address, std::string_view password);
  [[nodiscard]] result<void> set_quota(std::string_view address, std::uint64_t quota_bytes);
  [[nodiscard]] result<void> set_admin(std::string_view address, bool is_admin);
  // Expunges all the user's rows, removes its mailboxes, counters, Sieve scripts, vacation
  // settings and the user.
  [[nodiscard]] result<void> remove_user(std::string_view address);
  // `address` "@domain" is a catch-all for the domain. Targets may be foreign.
  [[nodiscard]] result<void> add_alias(std::string_view address,
                                       std::vector<std::string> targets);
  [[nodiscard]] result<std::vector<AliasInfo>> list_aliases(std::string_view domain = {});
  [[nodiscard]] result<void> remove_alias(std::string_view address);
  // Errors: not_local_domain (domain not hosted), not_found (no such user/alias).
  // Aliases expand recursively (depth <= 8); a user beats an alias of the same name.
  [[nodiscard]] result<Resolution> resolve_recipient(std::string_view address);

  // ---- Sieve scripts (storage/sieve.cpp; ManageSieve RFC 5804, delivery) ----
  // Named scripts per account and at most one active script. Names are checked with
  // valid_sieve_name (invalid_argument); scripts are opaque bytes here (the caller
  // validates them). Writers fail with not_found when the account does not exist.
  // The account's scripts in name order (byte order of the UTF-8 names).
  [[nodiscard]] result<std::vector<SieveScriptInfo>> sieve_list(std::string_view account);
  // The script's content; nullopt when the account has no script of that name.
  [[nodiscard]] result<std::optional<std::string>> sieve_get(std::string_view account, std::string_view name);
  // Whether a script of `size_bytes` may be stored as `name` (RFC 5804 HAVESPACE):
  // too_large over limits.max_script_bytes, quota_exceeded when `name` is new and the
  // account already holds limits.max_scripts scripts. Writes nothing.
  [[nodiscard]] result<void> sieve_check_space(std::string_view account, std::string_view name,
                                               std::uint64_t size_bytes, const SieveLimits& limits);
  // Creates or replaces a script (an active one stays active, with the new content);
  // the checks of sieve_check_space first. One synced batch.
  [[nodiscard]] result<void> sieve_put(std::string_view account, std::string_view name, std::string_view content,
                                       const SieveLimits& limits);
  // Errors: not_found; in_use when it is the active script (RFC 5804 DELETESCRIPT ACTIVE).
  [[nodiscard]] result<void> sieve_delete(std::string_view account, std::string_view name);
  // Keeps the active flag. Errors: not_found (no `from`), exists (`to` is taken).
  // Renaming a script to its own name is a success that writes nothing.
  [[nodiscard]] result<void> sieve_rename(std::string_view account, std::string_view from, std::string_view to);
  // Makes `name` the active script; "" deactivates (success also when none is active).
  // Errors: not_found.
  [[nodiscard]] result<void> sieve_activate(std::string_view account, std::string_view name);
  // The active script with its content, or nullopt: one point read (delivery calls it
  // for every message; the active key holds a copy of the content).
  [[nodiscard]] result<std::optional<SieveScript>> sieve_active(std::string_view account);
  // Delivery's memory per account (vacation: one reply per sender per period, RFC 5230
  // 4.2; a failing script: the user told once): true when `key` (at most 256 bytes) was
  // unknown or remembered only until before `now`, and then remembers it until `until`;
  // false when still remembered. Atomic per store (two deliveries never both get true).
  [[nodiscard]] result<bool> sieve_remember(std::string_view account, std::string_view key, std::int64_t now,
                                            std::int64_t until);
  // The account's vacation reply settings (defaults when never set): one point read,
  // as delivery calls it for every recipient. Errors: not_found (no such account).
  [[nodiscard]] result<VacationSettings> vacation_get(std::string_view account);
  // Replaces them (the caller validates sizes and dates); returns the new version. One
  // synced batch. Errors: not_found.
  [[nodiscard]] result<std::uint64_t> vacation_set(std::string_view account, const VacationSettings& settings);

  // ---- maintenance ----
  // Deletes blobs whose refcount is zero (left by a crash between an expunge and its
  // blob deletion), drops zero-count grant keys (briefly pausing deliveries), and
  // compacts every column family to give space back.
  [[nodiscard]] result<GcReport> gc();
  [[nodiscard]] result<void> compact();
  // Recomputes every count from the rows (on a snapshot) and reports drift and
  // orphans; with repair the corrections are written (deliveries are paused meanwhile).
  [[nodiscard]] result<FsckReport> fsck(bool repair);
  [[nodiscard]] result<Stats> stats();
  // An online, consistent copy of the store in `dir` (which must not exist).
  [[nodiscard]] result<void> checkpoint(const std::filesystem::path& dir);
  [[nodiscard]] const std::filesystem::path& path() const;

  // ---- tests only: deliberately corrupt a count so fsck has something to find ----
  enum class DebugCount { blob_refcount, message_refcount, grant, counter };
  // blob_refcount: key = blob id; message_refcount: key = message id;
  // grant: key = "account\0blob"; counter: key = counter name (see fsck key names).
  [[nodiscard]] result<void> debug_set_count(DebugCount which, std::string_view key,
                                             std::int64_t value);

  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace refmail::storage
