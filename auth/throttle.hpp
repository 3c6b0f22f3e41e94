// auth/throttle.hpp — the password-guessing throttle shared by every protocol that
// checks passwords. Failures are counted per source address and per (address,
// account); after a few free failures each further attempt from that key must wait
// until a "next allowed" time that doubles per failure up to a cap, and one failure
// is forgiven per quiet period. It never locks an account: keys are per address, so
// failures from elsewhere do not touch a user, and even from the same address a
// correct password is only delayed (a success resets the (address, account) key).
// No I/O and no clock of its own: the caller passes `now` and does the waiting
// (server/ with a timer, never a blocked thread).
// SECURITY: the table is bounded (least recently failed entries evicted), so an
// attacker spraying addresses cannot grow it; IPv6 addresses count per /64 (one
// host's share); nothing here sees a password. Thread-safe (one mutex).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace refmail::auth {

using Clock = std::chrono::steady_clock;

struct ThrottleOptions {
  std::uint32_t free_failures_per_address = 10;  // over every account from the address
  std::uint32_t free_failures_per_account = 3;   // per (address, account)
  std::chrono::milliseconds base_delay{1000};    // the first delay after the free ones
  std::chrono::milliseconds max_delay{8000};     // the cap of the doubling
  // An attempt whose turn is further away than this (attempts from the same key
  // already waiting) is answered "try again later" instead of queued.
  std::chrono::milliseconds max_wait{16000};
  std::chrono::seconds decay_every{60};  // one failure forgiven per this much quiet
  std::size_t max_entries = 10000;       // keys of both kinds together
};

class Throttle {
 public:
  explicit Throttle(ThrottleOptions options = {});

  struct Admission {
    Clock::time_point at;  // when the attempt may run (== now when it need not wait)
    bool refused = false;  // its turn is more than max_wait away: answer a temporary failure
    std::chrono::milliseconds retry_after{0};  // when refused: roughly when to retry
  };
  // Called before a password is verified. The attempt's turn is the latest "next
  // allowed" of its two keys; the turn is reserved (the keys' next allowed time moves
  // on by their current delay) so concurrent attempts from one key are spread out
  // rather than run together. A refused attempt reserves nothing. Creates no entry.
  [[nodiscard]] Admission admit(std::string_view address, std::string_view account, Clock::time_point now);
  // A wrong password (or unknown account): both keys count one more failure.
  void failure(std::string_view address, std::string_view account, Clock::time_point now);
  // A correct password: the (address, account) key is forgotten; the address key keeps
  // its failures (other accounts guessed from there) and decays on its own.
  void success(std::string_view address, std::string_view account, Clock::time_point now);

  // The wait imposed after `failures` failures with `free_failures` free: 0 while
  // failures < free_failures, then base, 2*base, 4*base, ... up to max_delay.
  [[nodiscard]] std::chrono::milliseconds delay_after(std::uint32_t failures, std::uint32_t free_failures) const;
  [[nodiscard]] std::size_t size() const;  // entries held, both kinds
  [[nodiscard]] const ThrottleOptions& options() const { return opt_; }

 private:
  struct Entry {
    std::uint32_t failures = 0;
    Clock::time_point last_failure;
    Clock::time_point next_allowed;
    std::list<std::string>::iterator lru;  // position in lru_ (front = least recent)
  };
  Entry* find(const std::string& key, Clock::time_point now);  // decayed; null if none
  Entry& touch(const std::string& key, Clock::time_point now);  // found or made, most recent
  void erase(const std::string& key);

  ThrottleOptions opt_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;
};

// The key a source address counts under: IPv4 as is, IPv4-mapped IPv6 as IPv4, other
// IPv6 addresses by their /64 ("2001:db8:1:2::/64"); anything unparsable as given.
[[nodiscard]] std::string address_key(std::string_view address);

}  // namespace refmail::auth
