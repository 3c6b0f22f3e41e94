// web/concurrency.hpp — per-account limits on requests in flight (RFC 8620 2:
// maxConcurrentRequests, maxConcurrentUpload are promises the server keeps).
// Must never: block; a request over the limit is refused at once, never queued.
// Thread-safe (one mutex; the table holds only accounts with requests in flight).
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace refmail::web {

class ConcurrencyLimit {
 public:
  explicit ConcurrencyLimit(std::uint32_t max) : max_(max) {}

  // While a Ticket that converts to true lives, it holds one of the account's places.
  class Ticket {
   public:
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    Ticket(Ticket&& o) noexcept : owner_(o.owner_), account_(std::move(o.account_)) { o.owner_ = nullptr; }
    ~Ticket() {
      if (owner_) owner_->release(account_);
    }
    [[nodiscard]] explicit operator bool() const { return owner_ != nullptr; }

   private:
    friend class ConcurrencyLimit;
    Ticket(ConcurrencyLimit* owner, std::string account) : owner_(owner), account_(std::move(account)) {}
    ConcurrencyLimit* owner_;
    std::string account_;
  };

  // A held ticket, or an empty one when `account` already has max requests in flight.
  [[nodiscard]] Ticket acquire(const std::string& account) {
    std::lock_guard lock(mu_);
    auto& n = in_flight_[account];
    if (n >= max_) {
      if (n == 0) in_flight_.erase(account);
      return Ticket(nullptr, {});
    }
    ++n;
    return Ticket(this, account);
  }

 private:
  void release(const std::string& account) {
    std::lock_guard lock(mu_);
    auto it = in_flight_.find(account);
    if (it != in_flight_.end() && --it->second == 0) in_flight_.erase(it);
  }

  std::uint32_t max_;
  std::mutex mu_;
  std::unordered_map<std::string, std::uint32_t> in_flight_;
};

}  // namespace refmail::web
