// web/import_api.hpp — the legacy-import HTTP surface and the durable enqueue that the
// webhook and the IDLE watchers share (ARCHITECTURE flow 6):
//   POST|PUT /api/import/notify       a source says "mailbox M of user U has new mail"
//   GET  /admin/v1/import             per-source status (admin API; refmailctl import status)
//   POST /admin/v1/import/run         {"source","user"[,"mailbox"]}: one full copy, batched
//   GET  /api/messages/{id}.html      the HTML view of one message (handle_message_html)
// Accepted bodies: refmail JSON {"source","user","mailbox","uidvalidity","uids":[...]}
// and Dovecot push_notification's `ox` JSON {"user","folder","event","imap-uidvalidity",
// "imap-uid",...} (the source then comes from ?source=, or the Basic auth user name).
// 202 is answered only after the UIDs are durably queued; repeats are idempotent (the
// pending set is keyed by UID, imported UIDs are remembered).
// SECURITY: each source has its own token (Bearer, or the Basic password); it is
// compared in constant time; unknown source, unknown user and a bad token all answer
// the same 401/404 without touching the store. Bodies are capped at 64 KiB.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "config/config.hpp"
#include "storage/types.hpp"
#include "web/http.hpp"

namespace refmail::storage {
class Store;
}

namespace refmail::metrics {
class Metrics;
}

namespace refmail::web {

struct ImportNotification {
  std::string source;             // may be empty in an `ox` body (filled from the request)
  std::string user;
  std::string mailbox = "INBOX";
  std::uint32_t uidvalidity = 0;  // 0: unknown
  std::vector<std::uint32_t> uids;
  bool full = false;              // copy the whole mailbox (refmailctl import run)
  bool ignored = false;           // an `ox` event other than messageNew/messageAppend
};

// Parses either JSON form. Errors are a one-line reason (for a 400 body and the log).
[[nodiscard]] boost::system::result<ImportNotification, std::string> parse_notification(std::string_view body);


// The job payload (opaque to the store): {"source","user","mailbox","full"}.
[[nodiscard]] std::string import_job_payload(std::string_view source, std::string_view user,
                                             std::string_view mailbox, bool full);

struct EnqueueResult {
  std::string job_id;       // the new or the already pending job
  bool new_job = false;
  storage::UnixSeconds due{};
};

// Durably records the notification's UIDs as pending and makes sure one job exists for
// the mailbox, due `window` from now (coalescing). REQUIRES: n.source and n.user name a
// configured mapping (the caller checked). Blocking (RocksDB writes).
[[nodiscard]] boost::system::result<EnqueueResult, std::string> enqueue_notification(
    storage::Store& store, const config::Import& cfg, const ImportNotification& n, storage::UnixSeconds now);

struct ImportContext {
  storage::Store& store;
  const config::Config& cfg;
  // Called after a new job was queued (any thread); the daemon wakes its worker.
  std::function<void(storage::UnixSeconds due)> wake;
  // Where notifications and new jobs are counted (/metrics); may be null.
  std::shared_ptr<metrics::Metrics> metrics = nullptr;
};

// The import worker's Prometheus series (metrics::Metrics), each labelled by source:
//   refmail_import_notifications_total       notifications accepted (webhook, admin)
//   refmail_import_jobs_enqueued_total       jobs created (webhook, IDLE, import run, requeue)
//   refmail_import_jobs_queued               gauge: jobs waiting in the queue now
//   refmail_import_batches_total             UID FETCH commands sent
//   refmail_import_messages_total            messages imported (committed)
//   refmail_import_bytes_total               their bytes as fetched
//   refmail_import_dedup_saved_bytes_total   attachment bytes already held (stored once)
//   refmail_import_skipped_total             messages over import.max_message_bytes
//   refmail_import_duplicates_avoided_total  reconciliation matches (not imported again)
//   refmail_import_failures_total            job attempts that failed (each is retried)
//   refmail_import_jobs_dropped_total        jobs dropped (unknown mailbox, config gone)
//   refmail_import_jobs_done_total           jobs that finished
//   refmail_import_last_success_timestamp_seconds  gauge: Unix time of the last finished job
//   refmail_import_idle_watchers             gauge: IDLE watchers connected (mailbox examined)
//   refmail_import_idle_failures_total       IDLE watcher connections lost or refused (reconnected)
// Each is metrics::with_label(name, "source", source): the source name comes from the
// config (never from a peer before it matched one) and is escaped per exposition 0.0.4.

// POST|PUT /api/import/notify. Blocking: call on the pool like the other handlers.
[[nodiscard]] Response handle_import(const Request& req, ImportContext& ctx);
// GET /api/messages/{id}.html for `account` (already authenticated by the caller, as
// the router does for JMAP): one self-contained HTML document with a summary header
// (from, to, cc, subject, date), the HTML body (preferred over the text one) sanitised
// by an allow-list (no script, style, frames, forms, event handlers or remote images;
// cid: images become /jmap/download links), else the text body escaped, and the
// attachments as /jmap/download links (the same grant checks apply when followed).
// 404 when the account holds no row of that message (same answer as a bad id).
// SECURITY: served with a Content-Security-Policy that forbids scripts and loads
// images only from this origin.
[[nodiscard]] Response handle_message_html(const Request& req, storage::Store& store, const std::string& account);

// /admin/v1/import[...]. REQUIRES: req.peer_trusted (the admin API checked it).
[[nodiscard]] Response handle_admin_import(const Request& req, ImportContext& ctx);

}  // namespace refmail::web
