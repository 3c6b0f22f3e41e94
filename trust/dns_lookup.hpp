// trust/dns_lookup.hpp — the DNS seam of the mail authentication cores (SPF, DMARC):
// the questions they ask, answered by whoever owns sockets. The cores never do I/O
// themselves; server/ implements this on c-ares, tests and fuzz targets with a table
// (trust/dns_table.hpp).
// SECURITY: every answer is attacker-controlled data (the sender owns its zone); the
// cores bound what they do with it (RFC 7208 4.6.4 limits), not the resolver.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace refmail::trust {

enum class DnsStatus {
  Ok,         // RCODE 0; `records` may be empty (NODATA)
  NxDomain,   // RCODE 3 (Name Error)
  TempError,  // SERVFAIL, REFUSED, timeout, an unparsable reply: try again later
};

struct DnsAnswer {
  DnsStatus status = DnsStatus::Ok;
  std::vector<std::string> records;

  // RFC 7208 4.6.4: a "void lookup" is NODATA or NXDOMAIN.
  [[nodiscard]] bool is_void() const { return status != DnsStatus::TempError && records.empty(); }
};

// One blocking call per question. Names are passed as the core built them (no trailing
// dot); implementations treat them case-insensitively, as DNS does.
class DnsLookup {
 public:
  virtual ~DnsLookup() = default;
  // TXT: one string per record, the record's character-strings concatenated with
  // nothing between them (RFC 7208 3.3).
  [[nodiscard]] virtual DnsAnswer txt(std::string_view name) = 0;
  // A / AAAA: addresses as text ("192.0.2.1", "2001:db8::1").
  [[nodiscard]] virtual DnsAnswer a(std::string_view name) = 0;
  [[nodiscard]] virtual DnsAnswer aaaa(std::string_view name) = 0;
  // MX: exchange host names in order of preference (lowest first); a null MX (".")
  // comes back as an empty name.
  [[nodiscard]] virtual DnsAnswer mx(std::string_view name) = 0;
  // PTR of an address given as text: the implementation builds the in-addr.arpa /
  // ip6.arpa name. Host names without the trailing dot.
  [[nodiscard]] virtual DnsAnswer ptr(std::string_view ip) = 0;
};

// The PTR query name of an address: "4.3.2.1.in-addr.arpa" for 1.2.3.4, nibbles under
// "ip6.arpa" for IPv6 (RFC 3596 2.5); an IPv4-mapped IPv6 address is its IPv4 address.
// Empty when `ip` is not an address.
[[nodiscard]] std::string ptr_name(std::string_view ip);

}  // namespace refmail::trust
