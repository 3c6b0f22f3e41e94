// server/connections.hpp — admission of connections: a total budget, a budget per
// listener, a budget per client address, and fair shedding when a budget is full.
// Pure bookkeeping (no sockets, no timers): the listeners call acquire() before they
// read a byte, and each session says, as it goes, whether it may be shed.
// Runs on the one io_context thread (server/runtime.hpp), so it takes no locks.
//
// Shedding: when a listener's budget or the total is full, the new connection takes the
// slot of one that waits idle, chosen in this order: idle before authentication first
// (Standing::idle), idle HTTP keep-alives next (Standing::keep_alive); among those, the
// client address that holds the most connections (a flood sheds itself first), then the
// longest idle. A connection that is doing something (a transaction, an authenticated
// SMTP session, a request being served) is never shed. The per-address budget is not
// shed: an address over its own share is refused.
// SECURITY: the per-address budget is checked before shedding, so one address cannot
// push others out beyond its own share.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace refmail::server {

class ConnectionTracker {
 public:
  using Clock = std::chrono::steady_clock;

  // May this connection be shed for a new one, and how early?
  enum class Standing : std::uint8_t {
    busy,        // never: a transaction, an authenticated session, a request in progress
    idle,        // first: waiting for a client that has not authenticated
    keep_alive,  // next: an HTTP connection idle between requests
  };

  ConnectionTracker(std::uint32_t max_total, std::uint32_t max_per_ip)
      : max_total_(max_total), max_per_ip_(max_per_ip) {}
  ConnectionTracker(const ConnectionTracker&) = delete;
  ConnectionTracker& operator=(const ConnectionTracker&) = delete;

  // Declares a listener and its own budget; the id goes to acquire(). Listeners that
  // share a budget (submission and smtps) share an id.
  std::size_t add_listener(std::string name, std::uint32_t max);
  [[nodiscard]] const std::string& listener_name(std::size_t id) const { return listeners_.at(id).name; }

  // RAII registration of one live connection.
  class Slot {
   public:
    Slot() = default;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot(Slot&& o) noexcept : t_(o.t_), id_(o.id_) { o.t_ = nullptr; }
    Slot& operator=(Slot&& o) noexcept;
    ~Slot() {
      if (t_) t_->release(id_);
    }
    [[nodiscard]] explicit operator bool() const { return t_ != nullptr; }
    // Called once if the daemon begins to drain while the connection lives (it should
    // cancel idle reads and say goodbye).
    void set_on_stop(std::function<void()> f);
    // Called once if this connection is shed for a new one (it should cancel its idle
    // read, say goodbye and end). A slot without it is never shed.
    void set_on_shed(std::function<void()> f);
    // What the connection is doing now (see Standing); idle time counts from the call.
    void set_standing(Standing s, Clock::time_point now = Clock::now());
    // Counts this connection under `ip` from now on (a trusted proxy named the real
    // client, server/proxy_peer.hpp); false, and nothing changes, when `ip` is at its
    // per-address budget.
    [[nodiscard]] bool rekey(const std::string& ip);

   private:
    friend class ConnectionTracker;
    Slot(ConnectionTracker* t, std::uint64_t id) : t_(t), id_(id) {}
    ConnectionTracker* t_ = nullptr;
    std::uint64_t id_ = 0;
  };

  enum class Refusal : std::uint8_t { none, draining, per_ip, listener, total };
  [[nodiscard]] static const char* to_string(Refusal r) noexcept;

  struct Admission {
    Slot slot;                       // empty when refused
    Refusal refused = Refusal::none;
    bool shed_one = false;           // another connection was shed to make room
  };
  // Admits a connection from `ip` on `listener` (an id from add_listener), shedding an
  // idle one if a budget is full; `now` is injected for tests.
  [[nodiscard]] Admission acquire(std::size_t listener, const std::string& ip, Clock::time_point now);
  [[nodiscard]] Admission acquire(std::size_t listener, const std::string& ip) {
    return acquire(listener, ip, Clock::now());
  }

  // Begins the drain: refuses new connections and tells live ones to finish.
  void stop();
  [[nodiscard]] bool stopping() const { return stopping_; }

  // The in-flight budget for message content being received (SMTP DATA/BDAT), across
  // every session: nobody can make the daemon hold more than this in messages that
  // are not yet stored. Sessions report what they hold; over the budget, the session
  // that grew sheds its content (452 4.3.1 at the end) instead of the daemon growing.
  void set_content_budget(std::uint64_t max_bytes) { content_max_ = max_bytes; }
  // One session now holds `now` bytes where it held `before`; false when the total
  // is over the budget.
  [[nodiscard]] bool account_content(std::uint64_t before, std::uint64_t now) {
    content_held_ = content_held_ - before + now;
    return content_held_ <= content_max_;
  }
  [[nodiscard]] std::uint64_t content_held() const { return content_held_; }
  [[nodiscard]] std::uint32_t total() const { return total_; }
  [[nodiscard]] std::uint32_t on_listener(std::size_t id) const { return listeners_.at(id).live; }

 private:
  struct Entry {
    std::size_t listener = 0;
    std::string ip;
    Standing standing = Standing::idle;
    Clock::time_point idle_since{};
    bool counted = true;  // false once shed: the counts were given back then
    std::function<void()> on_stop;
    std::function<void()> on_shed;
  };
  struct Budget {
    std::string name;
    std::uint32_t max = 0;
    std::uint32_t live = 0;
  };
  // The connection to shed for a newcomer, on `listener` only or (npos) anywhere; 0: none.
  [[nodiscard]] std::uint64_t pick_victim(std::size_t listener) const;
  void uncount(Entry& e);
  void release(std::uint64_t id);

  std::uint32_t max_total_;
  std::uint32_t max_per_ip_;
  std::uint32_t total_ = 0;
  std::uint64_t next_id_ = 0;
  bool stopping_ = false;
  std::uint64_t content_max_ = ~std::uint64_t{0};
  std::uint64_t content_held_ = 0;
  std::vector<Budget> listeners_;
  std::map<std::string, std::uint32_t> per_ip_;
  std::map<std::uint64_t, Entry> entries_;
};

}  // namespace refmail::server
