// server/dns.hpp — MX routing for the relay (RFC 5321 5.1) with c-ares: MX records in
// order of preference, each host's A then AAAA addresses; no MX -> the domain's own
// A/AAAA (implicit MX); a null MX (RFC 7505: one MX ".") -> permanent failure;
// NXDOMAIN -> permanent; SERVFAIL, refused, timeout -> temporary.
// Blocking (one private c-ares channel per call, poll(2) until done or the deadline):
// call it on a thread pool, never on the io_context thread.
// SECURITY: answers are untrusted: at most kMaxMxHosts hosts and kMaxAddresses
// addresses are used; names come from c-ares' parser, bounded by DNS itself.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace refmail::server {

enum class RouteStatus { Ok, TempFail, PermFail };

struct RouteTarget {
  std::string host;  // the MX name (or the domain itself for an implicit MX)
  std::string ip;    // numeric address to connect to
};

struct Route {
  RouteStatus status = RouteStatus::TempFail;
  std::vector<RouteTarget> targets;  // in the order to try
  std::string detail;                // why, for logs and bounces ("null MX (RFC 7505)")
  // The smallest TTL (seconds) of the DNS records the answer rests on (MX and address
  // records); 0 when unknown or not to be cached (address literals, failures).
  std::uint32_t ttl = 0;
};

inline constexpr std::size_t kMaxMxHosts = 10;
inline constexpr std::size_t kMaxAddresses = 20;

struct DnsOptions {
  std::vector<std::string> servers;  // "ip", "ip:port", "[v6]:port"; empty: /etc/resolv.conf
  std::chrono::milliseconds timeout{5000};  // per try
  int tries = 2;
};

// Resolves where mail for `domain` goes. An address literal ("[192.0.2.1]") routes to
// that address. Thread-safe (no shared state besides c-ares' one-time library init).
[[nodiscard]] Route resolve_mail_route(const DnsOptions& options, std::string_view domain);

// A and AAAA of one host name (for a smarthost given by name); TempFail/PermFail as above.
[[nodiscard]] Route resolve_host(const DnsOptions& options, std::string_view host);

// The smallest TTL among the answer records of a raw DNS message (RFC 1035 4.1);
// nullopt when it has none or is malformed. Bounded by the message's size.
[[nodiscard]] std::optional<std::uint32_t> min_answer_ttl(std::string_view message);

// Routes by domain for their DNS lifetime, so consecutive rows to one domain do not
// repeat the MX and address lookups. Ok routes live for min(Route::ttl, max_ttl)
// (not at all with ttl 0); permanent failures (NXDOMAIN, null MX) for negative_ttl
// (RFC 2308 negative caching, simplified); temporary failures are never cached. At most
// max_entries domains: the expired go first, then the one closest to expiry.
// Thread-safe. The caller passes the time (tests need no clock).
class RouteCache {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    std::size_t max_entries = 1000;
    std::chrono::seconds max_ttl{3600};
    std::chrono::seconds negative_ttl{60};
  };
  RouteCache() : RouteCache(Limits{}) {}
  explicit RouteCache(Limits limits) : limits_(limits) {}

  // The cached route for `domain` (case-insensitive) if it has not expired at `now`.
  [[nodiscard]] std::optional<Route> get(std::string_view domain, Clock::time_point now);
  void put(std::string_view domain, const Route& route, Clock::time_point now);
  [[nodiscard]] std::size_t size() const;

 private:
  struct Entry {
    Route route;
    Clock::time_point expires;
  };
  Limits limits_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace refmail::server
