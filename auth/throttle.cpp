// auth/throttle.cpp — see throttle.hpp.
#include "auth/throttle.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdio>

namespace refmail::auth {
namespace {

std::string pair_key(const std::string& address, std::string_view account) {
  std::string k = address;
  k.push_back('\0');  // cannot occur in an address: the two kinds never collide
  for (char c : account) k.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return k;
}

}  // namespace

std::string address_key(std::string_view address) {
  std::string a(address);
  std::array<unsigned char, 16> b{};
  if (a.find(':') == std::string::npos || inet_pton(AF_INET6, a.c_str(), b.data()) != 1) return a;
  static constexpr std::array<unsigned char, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped.begin(), kMapped.end(), b.begin())) {
    char v4[INET_ADDRSTRLEN];
    if (inet_ntop(AF_INET, b.data() + 12, v4, sizeof v4)) return v4;
    return a;
  }
  std::fill(b.begin() + 8, b.end(), 0);  // one host gets a /64: count it as one
  char v6[INET6_ADDRSTRLEN];
  if (!inet_ntop(AF_INET6, b.data(), v6, sizeof v6)) return a;
  return std::string(v6) + "/64";
}

Throttle::Throttle(ThrottleOptions options) : opt_(options) {
  if (opt_.max_entries < 2) opt_.max_entries = 2;  // a failure touches two keys
  if (opt_.decay_every.count() < 1) opt_.decay_every = std::chrono::seconds(1);
}

std::chrono::milliseconds Throttle::delay_after(std::uint32_t failures, std::uint32_t free_failures) const {
  if (failures < free_failures || failures == 0) return std::chrono::milliseconds(0);
  std::uint32_t doublings = failures - free_failures;
  auto d = opt_.base_delay;
  for (std::uint32_t i = 0; i < doublings && d < opt_.max_delay; ++i) d *= 2;
  return std::min(d, opt_.max_delay);
}

Throttle::Entry* Throttle::find(const std::string& key, Clock::time_point now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  Entry& e = it->second;
  if (now > e.last_failure) {
    // One failure forgiven per quiet decay_every since the last failure.
    auto periods = static_cast<std::uint64_t>((now - e.last_failure) / opt_.decay_every);
    if (periods >= e.failures) {
      erase(key);
      return nullptr;
    }
    e.failures -= static_cast<std::uint32_t>(periods);
    e.last_failure += periods * opt_.decay_every;
  }
  return &e;
}

Throttle::Entry& Throttle::touch(const std::string& key, Clock::time_point now) {
  if (Entry* e = find(key, now)) {
    lru_.splice(lru_.end(), lru_, e->lru);
    return *e;
  }
  while (entries_.size() >= opt_.max_entries && !lru_.empty()) erase(lru_.front());
  lru_.push_back(key);
  Entry& e = entries_[key];
  e.lru = std::prev(lru_.end());
  e.last_failure = now;
  e.next_allowed = now;
  return e;
}

void Throttle::erase(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

Throttle::Admission Throttle::admit(std::string_view address, std::string_view account, Clock::time_point now) {
  const std::string ip = address_key(address);
  const std::string pair = pair_key(ip, account);
  std::lock_guard lock(mu_);
  Entry* a = find(ip, now);
  Entry* p = find(pair, now);
  Admission adm{now};
  if (a) adm.at = std::max(adm.at, a->next_allowed);
  if (p) adm.at = std::max(adm.at, p->next_allowed);
  if (adm.at - now > opt_.max_wait) {
    adm.refused = true;
    auto beyond = std::chrono::duration_cast<std::chrono::milliseconds>(adm.at - now - opt_.max_wait);
    adm.retry_after = std::max(beyond, std::chrono::milliseconds(1000));
    return adm;
  }
  // Reserve the turn: the next attempt from the same key comes one delay later.
  if (a) a->next_allowed = adm.at + delay_after(a->failures, opt_.free_failures_per_address);
  if (p) p->next_allowed = adm.at + delay_after(p->failures, opt_.free_failures_per_account);
  return adm;
}

void Throttle::failure(std::string_view address, std::string_view account, Clock::time_point now) {
  const std::string ip = address_key(address);
  const std::string pair = pair_key(ip, account);
  std::lock_guard lock(mu_);
  auto count = [&](const std::string& key, std::uint32_t free_failures) {
    Entry& e = touch(key, now);
    if (e.failures < UINT32_MAX) ++e.failures;
    e.last_failure = now;
    e.next_allowed = std::max(e.next_allowed, now + delay_after(e.failures, free_failures));
  };
  count(ip, opt_.free_failures_per_address);
  count(pair, opt_.free_failures_per_account);
}

void Throttle::success(std::string_view address, std::string_view account, Clock::time_point now) {
  const std::string pair = pair_key(address_key(address), account);
  std::lock_guard lock(mu_);
  erase(pair);
}

std::size_t Throttle::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace refmail::auth
