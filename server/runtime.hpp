// server/runtime.hpp — what every listener shares: the one io_context (run on one
// thread, so connection bookkeeping needs no locks), a thread pool for blocking work
// (RocksDB commits, splitting, password hashing), and the connection tracker that
// enforces per-IP and total limits and drives the graceful drain.
// SECURITY: limits are checked before any byte of a connection is read.
#pragma once
#include <cstdint>
#include <exception>
#include <optional>
#include <functional>
#include <map>
#include <string>
#include <type_traits>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace refmail::server {

namespace asio = boost::asio;

class ConnectionTracker {
 public:
  ConnectionTracker(std::uint32_t max_total, std::uint32_t max_per_ip)
      : max_total_(max_total), max_per_ip_(max_per_ip) {}

  // RAII registration of one live connection. `on_stop` is called once if the
  // daemon begins to drain while the connection lives (it should cancel idle reads).
  class Slot {
   public:
    Slot() = default;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot(Slot&& o) noexcept : t_(o.t_), id_(o.id_), ip_(std::move(o.ip_)) { o.t_ = nullptr; }
    ~Slot() {
      if (t_) t_->release(id_, ip_);
    }
    [[nodiscard]] explicit operator bool() const { return t_ != nullptr; }
    void set_on_stop(std::function<void()> f) {
      if (t_) t_->stoppers_[id_] = std::move(f);
    }
    // Counts this connection under `ip` from now on (a trusted proxy named the real
    // client, server/proxy_peer.hpp); false, and nothing changes, when `ip` is at its
    // per-IP limit.
    [[nodiscard]] bool rekey(const std::string& ip) {
      if (!t_ || !t_->move_ip(ip_, ip)) return false;
      ip_ = ip;
      return true;
    }

   private:
    friend class ConnectionTracker;
    Slot(ConnectionTracker* t, std::uint64_t id, std::string ip) : t_(t), id_(id), ip_(std::move(ip)) {}
    ConnectionTracker* t_ = nullptr;
    std::uint64_t id_ = 0;
    std::string ip_;
  };

  // An empty Slot when the limit for `ip` or the total is reached, or when draining.
  [[nodiscard]] Slot acquire(const std::string& ip) {
    if (stopping_ || total_ >= max_total_) return {};
    auto& n = per_ip_[ip];
    if (n >= max_per_ip_) return {};
    ++n;
    ++total_;
    return Slot(this, ++next_id_, ip);
  }

  // Begins the drain: refuses new connections and tells live ones to finish.
  void stop() {
    stopping_ = true;
    auto stoppers = std::move(stoppers_);
    stoppers_.clear();
    for (auto& [id, f] : stoppers) {
      if (f) f();
    }
  }
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

 private:
  void release(std::uint64_t id, const std::string& ip) {
    stoppers_.erase(id);
    auto it = per_ip_.find(ip);
    if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
    --total_;
  }
  bool move_ip(const std::string& from, const std::string& to) {
    if (from == to) return true;
    auto& n = per_ip_[to];
    if (n >= max_per_ip_) return false;
    ++n;
    auto it = per_ip_.find(from);
    if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
    return true;
  }
  std::uint32_t max_total_;
  std::uint32_t max_per_ip_;
  std::uint32_t total_ = 0;
  std::uint64_t next_id_ = 0;
  bool stopping_ = false;
  std::uint64_t content_max_ = ~std::uint64_t{0};
  std::uint64_t content_held_ = 0;
  std::map<std::string, std::uint32_t> per_ip_;
  std::map<std::uint64_t, std::function<void()>> stoppers_;
};

struct Runtime {
  asio::io_context& io;
  asio::thread_pool& pool;
  ConnectionTracker& connections;
};

// Runs `f` on the blocking pool and resumes the caller on its own executor with the
// result. An exception thrown by `f` never leaves the pool thread (it would end the
// process): it is caught there and rethrown in the awaiting coroutine, whose own
// handler answers its connection (451, 500), logs and counts it.
// REQUIRES: `f` owns (or outlives) everything it touches and returns a value (not
// void). Built from plain handlers rather than a coroutine lambda: GCC 12
// mis-relocates the captures of coroutine lambdas (seen under ASan as a bad free).
template <typename F>
asio::awaitable<std::invoke_result_t<F&>> offload(asio::thread_pool& pool, F f) {
  using R = std::invoke_result_t<F&>;
  auto ex = co_await asio::this_coro::executor;
  std::optional<R> r = co_await asio::async_initiate<decltype(asio::use_awaitable),
                                                     void(std::exception_ptr, std::optional<R>)>(
      [&pool, ex](auto handler, F fn) {
        asio::post(pool, [handler = std::move(handler), fn = std::move(fn), ex]() mutable {
          std::optional<R> out;
          std::exception_ptr failure;
          try {
            out.emplace(fn());
          } catch (...) {
            failure = std::current_exception();
          }
          asio::post(ex, [handler = std::move(handler), failure, out = std::move(out)]() mutable {
            std::move(handler)(failure, std::move(out));
          });
        });
      },
      asio::use_awaitable, std::move(f));
  co_return std::move(*r);
}

}  // namespace refmail::server
