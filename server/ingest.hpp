// server/ingest.hpp — the ingest pipeline: a finished message (envelope + bytes) from
// an SMTP session becomes one durable delivery. A Received: trace header is prepended
// (RFC 5321 4.4), the bytes stream through the MIME splitter into the store's blob
// sink (attachments kept once, by content), the summary is computed once, and one
// commit writes the skeleton, blobs, one INBOX row per local recipient, a Sent row for
// a submitting user, and queue rows for foreign recipients.
// Must never: acknowledge before the commit returned, or store half a message.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "smtp/action.hpp"
#include "smtp/envelope.hpp"

namespace refmail::storage {
class Store;
}

namespace refmail::server {

struct IngestRequest {
  smtp::Envelope envelope;
  std::string bytes;                        // as received, after dot-unstuffing
  std::vector<std::string> local_accounts;  // resolved at RCPT time, deduplicated
  std::vector<std::string> foreign;         // recipients for the relay queue
  std::string sent_account;                 // the submitting account ("" on the MX)
  std::string peer_ip;
  std::string peer_name;                    // reverse name if known, else ""
};

struct IngestOutcome {
  smtp::DeliveryStatus status = smtp::DeliveryStatus::TempFail;
  std::string queue_id;  // shown in "250 2.0.0 Ok: queued as ..."
  std::string detail;    // for the log
  std::uint64_t new_blob_bytes = 0;
  std::uint64_t cut_bytes = 0;  // ingest_import: decoded bytes of the attachments cut out
  // Local accounts left out for being over quota (the others got the message; the
  // sender was sent a failure report for these).
  std::vector<std::string> over_quota;
  // The delivery failed on an exception (a bug), not on a store error: logged with
  // the trace id; the caller counts it (refmail_internal_errors_total).
  bool internal_error = false;
};

// Blocking (splits and commits durably): call on the thread pool. Quota is per
// recipient: accounts over quota are left out and reported to the sender (RFC 3464),
// QuotaExceeded only when nobody is left. Never throws: an exception on the way
// (a bug) is logged and answered TempFail with internal_error set.
[[nodiscard]] IngestOutcome ingest(storage::Store& store, const config::Config& cfg, IngestRequest req);

// Called after every commit that added relay queue rows (from the pool thread that
// committed); the daemon points it at RelayWorker::notify. Set once at start-up,
// before any ingest runs; an empty function turns it off.
void set_queue_notifier(std::function<void()> notify);

// One message copied from a legacy server (server/import_worker.cpp): no envelope and
// no trace header (the bytes are kept exactly as the source holds them); it lands in
// `account`'s `mailbox` (created when missing) with the source's keywords and internal
// date. `grant_accounts` (other local recipients, when `grant_recipients` is on) get a
// grant only, no mailbox row: an upload hold that never expires, in the same batch.
struct ImportIngestRequest {
  std::string account;
  std::string mailbox = "INBOX";
  std::vector<std::string> keywords;  // refmail keywords ("$seen"), already mapped
  std::int64_t internal_date = 0;     // Unix seconds
  std::string bytes;
  std::vector<std::string> grant_accounts;
  std::string origin;                 // "source/user/mailbox/uidvalidity/uid", for the log
  // Import state (Store::write_import_state keys: the done key, pending/intent deletes)
  // committed in the message's own batch: both durable or neither (no crash window).
  std::vector<std::pair<std::string, std::optional<std::string>>> import_state;
};

// Blocking, like ingest(): split (attachments deduplicated), summary, one durable commit.
// status Ok with queue_id = the stored message id; QuotaExceeded / TempFail otherwise.
[[nodiscard]] IngestOutcome ingest_import(storage::Store& store, const config::Config& cfg,
                                          ImportIngestRequest req);

// The trace header for one hop (RFC 5321 4.4, RFC 3848 protocol names), CRLF-ended.
[[nodiscard]] std::string received_header(const IngestRequest& req, const std::string& hostname,
                                          const std::string& id, std::time_t now);

}  // namespace refmail::server
