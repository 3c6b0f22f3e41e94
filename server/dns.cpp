// server/dns.cpp — see dns.hpp. c-ares 1.18 API: ares_query (through the shared
// channel of dns_internal.hpp) + ares_parse_*_reply.
#include "server/dns.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <mutex>

#include "server/dns_internal.hpp"

namespace refmail::server {
namespace {

using dns_detail::Answer;
using dns_detail::Channel;
using dns_detail::classify;
using dns_detail::Query;
using dns_detail::why;

// A then AAAA of one name. ok: at least one address. `ttl`: lowered to the smallest
// TTL of the address records used.
Answer addresses(Channel& ch, const std::string& name, std::vector<std::string>& out, std::string& detail,
                 std::uint32_t& ttl) {
  Answer worst = Answer::NxDomain;
  bool any_temp = false, any_nodata = false;
  for (int type : {ns_t_a, ns_t_aaaa}) {
    Query q = ch.run(name, type);
    Answer a = classify(q.status);
    if (a == Answer::Ok) {
      const auto* buf = reinterpret_cast<const unsigned char*>(q.answer.data());
      int len = static_cast<int>(q.answer.size());
      char text[INET6_ADDRSTRLEN];
      if (type == ns_t_a) {
        ares_addrttl ttls[kMaxAddresses];
        int n = static_cast<int>(kMaxAddresses);
        if (ares_parse_a_reply(buf, len, nullptr, ttls, &n) == ARES_SUCCESS) {
          for (int i = 0; i < n; ++i) {
            if (inet_ntop(AF_INET, &ttls[i].ipaddr, text, sizeof text)) out.emplace_back(text);
            ttl = std::min(ttl, static_cast<std::uint32_t>(std::max(0, ttls[i].ttl)));
          }
        }
      } else {
        ares_addr6ttl ttls[kMaxAddresses];
        int n = static_cast<int>(kMaxAddresses);
        if (ares_parse_aaaa_reply(buf, len, nullptr, ttls, &n) == ARES_SUCCESS) {
          for (int i = 0; i < n; ++i) {
            if (inet_ntop(AF_INET6, &ttls[i].ip6addr, text, sizeof text)) out.emplace_back(text);
            ttl = std::min(ttl, static_cast<std::uint32_t>(std::max(0, ttls[i].ttl)));
          }
        }
      }
    } else if (a == Answer::TempFail) {
      any_temp = true;
      detail = "DNS lookup of " + name + " failed: " + why(q.status);
    } else if (a == Answer::NoData) {
      any_nodata = true;
    }
    if (type == ns_t_a && a == Answer::NxDomain) break;  // no AAAA for a name that does not exist
  }
  if (!out.empty()) return Answer::Ok;
  if (any_temp) return Answer::TempFail;
  (void)worst;
  if (any_nodata) {
    detail = "host " + name + " has no address";
    return Answer::NoData;
  }
  detail = "host " + name + " not found (NXDOMAIN)";
  return Answer::NxDomain;
}

bool literal(std::string_view domain, Route& r) {
  if (domain.size() < 3 || domain.front() != '[' || domain.back() != ']') return false;
  std::string inner(domain.substr(1, domain.size() - 2));
  if (inner.rfind("IPv6:", 0) == 0 || inner.rfind("ipv6:", 0) == 0) inner = inner.substr(5);
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, inner.c_str(), &a4) == 1 || inet_pton(AF_INET6, inner.c_str(), &a6) == 1) {
    r.status = RouteStatus::Ok;
    r.targets.push_back({inner, inner});
  } else {
    r.status = RouteStatus::PermFail;
    r.detail = "bad address literal " + std::string(domain);
  }
  return true;
}

}  // namespace

Route resolve_host(const DnsOptions& options, std::string_view host) {
  Route r;
  in_addr a4{};
  in6_addr a6{};
  std::string h(host);
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1 || inet_pton(AF_INET6, h.c_str(), &a6) == 1) {
    r.status = RouteStatus::Ok;
    r.targets.push_back({h, h});
    return r;
  }
  Channel ch(options);
  if (!ch.ok()) {
    r.detail = "cannot initialise the DNS resolver";
    return r;
  }
  std::vector<std::string> ips;
  std::uint32_t ttl = UINT32_MAX;
  auto a = addresses(ch, h, ips, r.detail, ttl);
  if (a == Answer::Ok) {
    r.status = RouteStatus::Ok;
    r.ttl = ttl == UINT32_MAX ? 0 : ttl;
    for (auto& ip : ips) r.targets.push_back({h, ip});
  } else {
    r.status = a == Answer::TempFail ? RouteStatus::TempFail : RouteStatus::PermFail;
  }
  return r;
}

Route resolve_mail_route(const DnsOptions& options, std::string_view domain) {
  Route r;
  if (literal(domain, r)) return r;
  Channel ch(options);
  if (!ch.ok()) {
    r.detail = "cannot initialise the DNS resolver";
    return r;
  }
  std::string name(domain);
  Query q = ch.run(name, ns_t_mx);
  Answer a = classify(q.status);
  if (a == Answer::TempFail) {
    r.detail = "MX lookup of " + name + " failed: " + why(q.status);
    return r;
  }
  if (a == Answer::NxDomain) {
    r.status = RouteStatus::PermFail;
    r.detail = "domain " + name + " not found (NXDOMAIN)";
    return r;
  }
  std::vector<std::pair<int, std::string>> mx;
  std::uint32_t ttl = UINT32_MAX;  // the smallest record TTL seen
  if (a == Answer::Ok) {
    if (auto t = min_answer_ttl(q.answer)) ttl = *t;
    ares_mx_reply* reply = nullptr;
    int st = ares_parse_mx_reply(reinterpret_cast<const unsigned char*>(q.answer.data()),
                                 static_cast<int>(q.answer.size()), &reply);
    if (st == ARES_SUCCESS) {
      for (auto* p = reply; p; p = p->next) mx.emplace_back(p->priority, p->host ? p->host : "");
      ares_free_data(reply);
    } else if (st != ARES_ENODATA) {
      r.detail = "MX reply for " + name + " is malformed: " + why(st);
      return r;
    }
  }
  // RFC 7505 3: a single MX whose exchange is "." means the domain accepts no mail.
  if (mx.size() == 1 && (mx[0].second.empty() || mx[0].second == ".")) {
    r.status = RouteStatus::PermFail;
    r.detail = "domain " + name + " accepts no mail (null MX, RFC 7505)";
    return r;
  }
  if (mx.empty()) {
    // RFC 5321 5.1: no MX -> the domain itself is the implicit MX.
    std::vector<std::string> ips;
    auto aa = addresses(ch, name, ips, r.detail, ttl);
    if (aa == Answer::Ok) {
      r.status = RouteStatus::Ok;
      r.ttl = ttl == UINT32_MAX ? 0 : ttl;
      for (auto& ip : ips) r.targets.push_back({name, ip});
    } else {
      r.status = aa == Answer::TempFail ? RouteStatus::TempFail : RouteStatus::PermFail;
      if (aa != Answer::TempFail) r.detail = "domain " + name + " has no MX and no address";
    }
    return r;
  }
  std::stable_sort(mx.begin(), mx.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  if (mx.size() > kMaxMxHosts) mx.resize(kMaxMxHosts);
  bool temp = false;
  std::string last;
  for (const auto& [pref, host] : mx) {
    if (host.empty() || host == ".") continue;
    std::vector<std::string> ips;
    std::string d;
    auto aa = addresses(ch, host, ips, d, ttl);
    if (aa == Answer::TempFail) temp = true;
    if (aa != Answer::Ok) last = d;
    for (auto& ip : ips) {
      if (r.targets.size() < kMaxAddresses) r.targets.push_back({host, ip});
    }
  }
  if (!r.targets.empty()) {
    r.status = RouteStatus::Ok;
    r.ttl = ttl == UINT32_MAX ? 0 : ttl;
  } else {
    r.status = temp ? RouteStatus::TempFail : RouteStatus::PermFail;
    r.detail = "no MX host of " + name + " has an address" + (last.empty() ? "" : " (" + last + ")");
  }
  return r;
}

std::optional<std::uint32_t> min_answer_ttl(std::string_view m) {
  auto u16 = [&](std::size_t at) {
    return static_cast<std::uint32_t>((static_cast<unsigned char>(m[at]) << 8) | static_cast<unsigned char>(m[at + 1]));
  };
  // Skips a (possibly compressed) name; npos when malformed.
  auto skip_name = [&](std::size_t p) -> std::size_t {
    while (p < m.size()) {
      const auto len = static_cast<unsigned char>(m[p]);
      if (len == 0) return p + 1;
      if ((len & 0xC0) == 0xC0) return p + 2 <= m.size() ? p + 2 : std::string_view::npos;  // a pointer ends it
      if ((len & 0xC0) != 0) return std::string_view::npos;
      p += 1 + len;
    }
    return std::string_view::npos;
  };
  if (m.size() < 12) return std::nullopt;
  const std::uint32_t qd = u16(4), an = u16(6);
  std::size_t p = 12;
  for (std::uint32_t i = 0; i < qd; ++i) {
    p = skip_name(p);
    if (p == std::string_view::npos || p + 4 > m.size()) return std::nullopt;
    p += 4;  // QTYPE, QCLASS
  }
  std::optional<std::uint32_t> best;
  for (std::uint32_t i = 0; i < an; ++i) {
    p = skip_name(p);
    if (p == std::string_view::npos || p + 10 > m.size()) return std::nullopt;
    const std::uint32_t ttl = (u16(p + 4) << 16) | u16(p + 6);
    const std::uint32_t rdlen = u16(p + 8);
    p += 10;
    if (p + rdlen > m.size()) return std::nullopt;
    p += rdlen;
    // RFC 2181 8: a TTL with the top bit set is treated as zero.
    const std::uint32_t t = (ttl & 0x80000000U) ? 0 : ttl;
    best = best ? std::min(*best, t) : t;
  }
  return best;
}

namespace {
std::string lower_key(std::string_view s) {
  std::string k(s);
  for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k;
}
}  // namespace

std::optional<Route> RouteCache::get(std::string_view domain, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(lower_key(domain));
  if (it == entries_.end()) return std::nullopt;
  if (now >= it->second.expires) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.route;
}

void RouteCache::put(std::string_view domain, const Route& route, Clock::time_point now) {
  std::chrono::seconds life{0};
  if (route.status == RouteStatus::Ok) {
    life = std::min<std::chrono::seconds>(std::chrono::seconds(route.ttl), limits_.max_ttl);
  } else if (route.status == RouteStatus::PermFail) {
    life = std::min(limits_.negative_ttl, limits_.max_ttl);
  }
  if (life.count() <= 0 || limits_.max_entries == 0) return;
  std::lock_guard lock(mu_);
  std::string key = lower_key(domain);
  if (!entries_.count(key) && entries_.size() >= limits_.max_entries) {
    std::erase_if(entries_, [&](const auto& e) { return now >= e.second.expires; });
    if (entries_.size() >= limits_.max_entries) {
      auto soonest = entries_.begin();
      for (auto it = entries_.begin(); it != entries_.end(); ++it)
        if (it->second.expires < soonest->second.expires) soonest = it;
      entries_.erase(soonest);
    }
  }
  entries_[std::move(key)] = Entry{route, now + life};
}

std::size_t RouteCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace refmail::server
