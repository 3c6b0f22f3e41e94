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

}  // namespace refmail::server
