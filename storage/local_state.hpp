// storage/local_state.hpp — PRIVATE to storage/: the store's process-local state,
// named and kept in one place. Everything here is known only to this process: blobs
// pinned by uncommitted deliveries, quota bytes reserved by commits in flight, the
// UID / mailbox-id / UIDVALIDITY allocation caches, change-log modseqs handed out but
// not yet written, and the locks that order deliveries, expunges and admin changes.
// It is correct only while one process owns the store, which the embedded RocksDB
// backend guarantees (its LOCK file). A backend shared by several refmaild processes
// must replace each piece with a shared equivalent (a lease or row lock, a reservation
// row, an atomic allocation in the database, a per-account sequence) — this struct is
// the list of what to replace. Must never: be persisted as is, or be read as the truth
// about another process's work.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace refmail::storage {

// ---- staged blob bytes and the in-flight registry ----
// A blob staged by an uncommitted delivery. Small ones stay in memory (`chunks`); one
// that outgrows a chunk, or the delivery's memory budget, is spilled: its chunks are
// written as they fill to the chunk column family under a temporary physical id
// (`spill_id`, "~" + random hex, which no content id can be) with a staging marker,
// so a 40 MB attachment costs one chunk of memory. The commit that first references
// it writes a meta naming spill_id as its physical id and deletes the marker
// (adopting the chunks); the StagedPtr's deleter (delivery.cpp) deletes the chunks of
// a spill nobody adopted, and Store::open sweeps what a crash left behind.
// A backend shared by several processes must sweep markers by age instead.
struct StagedBlob {
  std::vector<std::string> chunks;  // in memory: each <= max_chunk_bytes; empty when spilled
  std::uint64_t size = 0;
  std::string spill_id;             // non-empty: spilled
  std::uint32_t spilled_chunks = 0;  // chunk_key(spill_id, n) for n < spilled_chunks
  std::uint32_t chunk_bytes = 0;     // every spilled chunk's size but the last's
  std::array<std::uint8_t, 32> sha256{};  // of a spilled blob (computed while it spilled)
  // Set once a written commit names spill_id (under the id's stripe lock).
  mutable std::atomic<bool> adopted{false};
};
using StagedPtr = std::shared_ptr<const StagedBlob>;

// An id some uncommitted delivery has decided to use. `pending` holds the bytes when
// the id was free in the database at decision time (the delivery will write it);
// null when it names a blob already stored (the pin keeps GC from deleting it).
struct InflightEntry {
  int pins = 0;
  StagedPtr pending;
};

struct BlobStripe {
  std::mutex mu;
  std::unordered_map<std::string, InflightEntry> inflight;
};

inline constexpr std::size_t kBlobStripes = 1024;
inline constexpr std::size_t kMessageStripes = 256;
inline constexpr std::size_t kIndexStripes = 256;
inline constexpr std::size_t kThreadStripes = 64;

// Per-account change-log cursor (in memory; see changes.cpp).
struct ChangeCursor {
  std::uint64_t next = 0;                 // the next modseq to hand out
  std::uint64_t floor = 0;                // persisted floor as last known
  bool floor_persisted = false;           // the cf/ key exists
  std::set<std::uint64_t> in_flight;      // handed out, batch not yet written
};

struct LocalState {
  // Blob dedup and GC (blobs.cpp): the id chosen for staged bytes and the pins that
  // keep GC from deleting a blob an uncommitted delivery references, in stripes.
  std::array<BlobStripe, kBlobStripes> blob_stripes;
  // Message locks (mailboxes.cpp, message_lock): a message's refcount changes and its
  // deletion at zero happen under its stripe.
  std::array<std::mutex, kMessageStripes> message_stripes;
  // Mailbox index (mailbox_index.cpp): per-(account, thread) counts change under a stripe.
  std::array<std::mutex, kIndexStripes> index_stripes;
  // Thread assignment (shared) and thread merges (exclusive), by account (threads.cpp).
  std::array<std::shared_mutex, kThreadStripes> thread_stripes;
  // Shared by deliveries, expunges and row changes; exclusive for structural
  // changes (mailbox rename/delete, user removal) and fsck repair.
  std::shared_mutex admin_mu;
  std::mutex queue_mu;  // queue row reschedule/removal
  // Sieve script edits (sieve.cpp): the count and size checks, the active copy and the
  // script rows change together under it (edits are rare; one mutex for all accounts).
  std::mutex sieve_mu;
  // Bytes of commits in flight per account, so concurrent deliveries cannot together
  // overshoot a quota (each checks committed usage + everything reserved).
  std::mutex quota_mu;
  std::unordered_map<std::string, std::uint64_t> quota_reserved;
  // UID, mailbox-id and uidvalidity allocation: caches above the persisted max-merge
  // high-water marks (counter CF), so an allocation costs no read.
  std::mutex uid_mu;
  std::unordered_map<std::string, std::uint32_t> uidnext;  // uidnext_key -> next
  // UIDs allocated whose batch is not written yet (nor given up), per uidnext_key: the
  // mailbox's UID horizon (Store::uid_horizon) stays at the lowest of them.
  std::unordered_map<std::string, std::set<std::uint32_t>> uids_in_flight;
  std::unordered_map<std::string, std::uint32_t> mailbox_next;
  std::int64_t last_uidvalidity = -1;
  // Change log (changes.cpp): modseq allocation and the visible state per account.
  // visible_state holds change_mu while it reads the stored counter; see there.
  std::mutex change_mu;
  std::unordered_map<std::string, ChangeCursor> change_cursors;
  std::mutex trim_mu;
};

}  // namespace refmail::storage
