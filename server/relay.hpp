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
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "server/runtime.hpp"
#include "delivery/queue_envelope.hpp"

namespace refmail::delivery {
class DkimKeyring;
}  // namespace refmail::delivery

namespace refmail::storage {
class Store;
}

namespace refmail::server {

// Hold = a due time far in the future (delivery/queue_envelope.hpp); the worker never reaches it.
using delivery::kQueueHeldDue;

// The connection cache's policy (Postfix's connection cache, simplified), kept apart
// from the sockets so it can be tested: items (open SMTP connections) wait under a
// destination key; take() returns the most recently put one that has not been idle
// for idle_limit; put() refuses an item past max_uses or a key already holding
// per_key items. Not thread-safe (the relay uses it on the io thread only).
template <class T>
class IdleCache {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    Clock::duration idle_limit = std::chrono::seconds(5);
    std::size_t per_key = 4;
    std::uint32_t max_uses = 100;
  };
  explicit IdleCache(Limits limits) : limits_(limits) {}

  // Keeps `item`, used `uses` times so far; false (and the item is dropped) when the
  // policy refuses it.
  bool put(const std::string& key, T item, std::uint32_t uses, Clock::time_point now) {
    if (uses >= limits_.max_uses || limits_.per_key == 0) return false;
    auto& v = items_[key];
    if (v.size() >= limits_.per_key) return false;
    v.push_back(Entry{std::move(item), now});
    return true;
  }
  // The most recently put item under `key` that is still fresh; stale ones are dropped.
  std::optional<T> take(const std::string& key, Clock::time_point now) {
    auto it = items_.find(key);
    if (it == items_.end()) return std::nullopt;
    std::optional<T> out;
    auto& v = it->second;
    while (!v.empty() && !out) {
      Entry e = std::move(v.back());
      v.pop_back();
      if (now - e.since < limits_.idle_limit) out = std::move(e.item);
    }
    if (v.empty()) items_.erase(it);
    return out;
  }
  // Drops every item idle for idle_limit or longer; returns how many.
  std::size_t sweep(Clock::time_point now) {
    std::size_t n = 0;
    for (auto it = items_.begin(); it != items_.end();) {
      n += std::erase_if(it->second, [&](const Entry& e) { return now - e.since >= limits_.idle_limit; });
      it = it->second.empty() ? items_.erase(it) : std::next(it);
    }
    return n;
  }
  [[nodiscard]] std::size_t size() const {
    std::size_t n = 0;
    for (const auto& [k, v] : items_) n += v.size();
    return n;
  }
  [[nodiscard]] bool empty() const { return items_.empty(); }
  void clear() { items_.clear(); }
  [[nodiscard]] const Limits& limits() const { return limits_; }

 private:
  struct Entry {
    T item;
    Clock::time_point since;
  };
  Limits limits_;
  std::map<std::string, std::vector<Entry>> items_;
};

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
  // DKIM keys for the bounces and delay notices the worker writes (before start()).
  void set_dkim(std::shared_ptr<delivery::DkimKeyring> keys);
  // Begins the drain: no new deliveries; live connections are closed (their rows are
  // retried later). Call on the io thread; in-flight coroutines then finish quickly.
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace refmail::server
