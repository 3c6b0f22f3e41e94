// server/connections.cpp — see connections.hpp.
#include "server/connections.hpp"

#include <tuple>

namespace refmail::server {

std::size_t ConnectionTracker::add_listener(std::string name, std::uint32_t max) {
  listeners_.push_back(Budget{std::move(name), max, 0});
  return listeners_.size() - 1;
}

ConnectionTracker::Slot& ConnectionTracker::Slot::operator=(Slot&& o) noexcept {
  if (this != &o) {
    if (t_) t_->release(id_);
    t_ = o.t_;
    id_ = o.id_;
    o.t_ = nullptr;
  }
  return *this;
}

void ConnectionTracker::Slot::set_on_stop(std::function<void()> f) {
  if (!t_) return;
  auto it = t_->entries_.find(id_);
  if (it != t_->entries_.end()) it->second.on_stop = std::move(f);
}

void ConnectionTracker::Slot::set_on_shed(std::function<void()> f) {
  if (!t_) return;
  auto it = t_->entries_.find(id_);
  if (it != t_->entries_.end() && it->second.counted) it->second.on_shed = std::move(f);
}

void ConnectionTracker::Slot::set_standing(Standing s, Clock::time_point now) {
  if (!t_) return;
  auto it = t_->entries_.find(id_);
  if (it == t_->entries_.end()) return;
  if (s != Standing::busy && it->second.standing != s) it->second.idle_since = now;
  it->second.standing = s;
}

bool ConnectionTracker::Slot::rekey(const std::string& ip) {
  if (!t_) return false;
  auto it = t_->entries_.find(id_);
  if (it == t_->entries_.end() || !it->second.counted) return false;
  auto& e = it->second;
  if (e.ip == ip) return true;
  auto held = t_->per_ip_.find(ip);
  if (held != t_->per_ip_.end() && held->second >= t_->max_per_ip_) return false;
  ++t_->per_ip_[ip];
  auto from = t_->per_ip_.find(e.ip);
  if (from != t_->per_ip_.end() && --from->second == 0) t_->per_ip_.erase(from);
  e.ip = ip;
  return true;
}

const char* ConnectionTracker::to_string(Refusal r) noexcept {
  switch (r) {
    case Refusal::none: return "none";
    case Refusal::draining: return "draining";
    case Refusal::per_ip: return "per-address limit";
    case Refusal::listener: return "listener limit";
    case Refusal::total: return "connection limit";
  }
  return "?";
}

std::uint64_t ConnectionTracker::pick_victim(std::size_t listener) const {
  std::uint64_t best = 0;
  // Lower is shed first: (standing rank, fewer connections from the address, newer).
  std::tuple<int, std::int64_t, Clock::time_point> best_key{};
  for (const auto& [id, e] : entries_) {
    if (!e.counted || e.standing == Standing::busy || !e.on_shed) continue;
    if (listener != static_cast<std::size_t>(-1) && e.listener != listener) continue;
    auto ip = per_ip_.find(e.ip);
    std::int64_t held = ip == per_ip_.end() ? 0 : ip->second;
    std::tuple<int, std::int64_t, Clock::time_point> key{e.standing == Standing::idle ? 0 : 1, -held,
                                                         e.idle_since};
    if (best == 0 || key < best_key) {
      best = id;
      best_key = key;
    }
  }
  return best;
}

void ConnectionTracker::uncount(Entry& e) {
  if (!e.counted) return;
  e.counted = false;
  auto it = per_ip_.find(e.ip);
  if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
  --listeners_[e.listener].live;
  --total_;
}

ConnectionTracker::Admission ConnectionTracker::acquire(std::size_t listener, const std::string& ip,
                                                        Clock::time_point now) {
  Admission out;
  if (stopping_) {
    out.refused = Refusal::draining;
    return out;
  }
  auto held = per_ip_.find(ip);
  if (held != per_ip_.end() && held->second >= max_per_ip_) {
    out.refused = Refusal::per_ip;
    return out;
  }
  auto& budget = listeners_.at(listener);
  std::uint64_t victim = 0;
  if (budget.live >= budget.max) {
    victim = pick_victim(listener);
    if (victim == 0) out.refused = Refusal::listener;
  } else if (total_ >= max_total_) {
    victim = pick_victim(static_cast<std::size_t>(-1));
    if (victim == 0) out.refused = Refusal::total;
  }
  if (out.refused != Refusal::none) return out;
  if (victim != 0) {
    // The victim gives its counts back now; its session ends on its own (the callback
    // cancels its read) and its release later is a no-op for the counts.
    auto& e = entries_.at(victim);
    uncount(e);
    auto shed = std::move(e.on_shed);
    e.on_shed = nullptr;
    out.shed_one = true;
    if (shed) shed();
  }
  ++per_ip_[ip];
  ++budget.live;
  ++total_;
  auto id = ++next_id_;
  Entry e;
  e.listener = listener;
  e.ip = ip;
  e.idle_since = now;
  entries_.emplace(id, std::move(e));
  out.slot = Slot(this, id);
  return out;
}

void ConnectionTracker::stop() {
  stopping_ = true;
  std::vector<std::function<void()>> stoppers;
  for (auto& [id, e] : entries_) {
    if (e.on_stop) stoppers.push_back(std::move(e.on_stop));
    e.on_stop = nullptr;
  }
  for (auto& f : stoppers) f();
}

void ConnectionTracker::release(std::uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  uncount(it->second);
  entries_.erase(it);
}

}  // namespace refmail::server
