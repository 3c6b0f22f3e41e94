// server/import_worker.hpp — the legacy-import worker (ARCHITECTURE flow 6): sleeps on
// a timer until the earliest import job is due (no scan loop), then per job connects to
// the source (TLS verified), EXAMINEs the mailbox, fetches the pending UIDs with one
// UID FETCH per batch and ingests each message into the mapped account's mailbox with
// its flags and internal date. Optional IDLE watchers (RFC 2177), one per mapped
// mailbox of a source with `idle = true`, turn EXISTS into the same queued jobs.
// Must never: import a (source, user, mailbox, uidvalidity, uid) twice, store half a
// message, or poll: with nothing queued and no IDLE configured it sends no byte.
// SECURITY: every byte from the source goes through imap::Parser (bounded); a literal
// over import.max_message_bytes is skipped and logged, never buffered.
#pragma once
#include <memory>
#include <string>

#include "config/config.hpp"
#include "server/runtime.hpp"
#include "storage/types.hpp"

namespace refmail::storage {
class Store;
}
namespace refmail::metrics {
class Metrics;
}

namespace refmail::server {

class ImportWorker {
 public:
  // REQUIRES: cfg, store, io and pool outlive the worker. `metrics` (may be null) gets
  // the refmail_import_* series listed in web/import_api.hpp.
  ImportWorker(const config::Config& cfg, storage::Store& store, asio::io_context& io, asio::thread_pool& pool,
               std::shared_ptr<metrics::Metrics> metrics = nullptr);
  ~ImportWorker();
  ImportWorker(const ImportWorker&) = delete;
  ImportWorker& operator=(const ImportWorker&) = delete;

  // Loads CA files and secrets, then starts the job loop and the IDLE watchers on
  // `io`. false (with `why`) when a CA or password file cannot be read.
  [[nodiscard]] bool start(std::string& why);
  // A job is due at `due` (or earlier): re-arm the timer. Thread-safe.
  void wake(storage::UnixSeconds due);
  // Begins the drain: live IMAP connections are closed, jobs stay queued. io thread.
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace refmail::server
