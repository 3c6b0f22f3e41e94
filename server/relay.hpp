// server/relay.hpp — the outbound relay worker: takes due rows of the durable queue
// (one row per message and destination domain), routes them (MX via c-ares, or the
// configured smarthost), delivers the stored bytes with smtp::ClientSession over Asio,
// and records the outcome: 2xx done, 4xx / timeout / no connection -> retried on the
// relay.retry_schedule, 5xx or relay.max_age -> an RFC 3464 bounce into the local
// sender's INBOX. Wakes on the earliest due row (a timer) or when notify() says new
// rows exist; never scans the queue in a polling loop. Connections to a destination
// are kept (5 s idle) and reused with RSET; MX routes are cached for their DNS TTL.
// Must never: drop a row without delivering or bouncing it, or send Bcc (the stored
// bytes never hold one). A row whose content was being sent when the daemon died stays
// in the queue and is retried (a possible duplicate, logged as relay.possible_duplicate,
// as in every MTA); a row that never got as far as its content is retried silently.
// SECURITY: MX connections use opportunistic STARTTLS without verification (RFC 7435);
// the smarthost requires TLS with certificate and host name verification; smarthost
// credentials are never logged.
#pragma once
#include <memory>

#include "config/config.hpp"
#include "server/runtime.hpp"
#include "web/admin.hpp"

namespace refmail::storage {
class Store;
}

namespace refmail::server {

// Hold = a due time far in the future (web/admin.hpp); the worker never reaches it.
using web::kQueueHeldDue;

class RelayWorker {
 public:
  // REQUIRES: cfg, store, io and pool outlive the worker. `pool` runs blocking store
  // work; DNS lookups run on the worker's own small pool.
  RelayWorker(const config::Config& cfg, storage::Store& store, asio::io_context& io,
              asio::thread_pool& pool);
  ~RelayWorker();
  RelayWorker(const RelayWorker&) = delete;
  RelayWorker& operator=(const RelayWorker&) = delete;

  // Starts the worker coroutine on `io`. Returns false (with `why`) when the smarthost
  // configuration cannot be used (unreadable password file or CA file).
  [[nodiscard]] bool start(std::string& why);
  // New or changed queue rows: look again now. Thread-safe.
  void notify();
  // Begins the drain: no new deliveries; live connections are closed (their rows are
  // retried later). Call on the io thread; in-flight coroutines then finish quickly.
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace refmail::server
