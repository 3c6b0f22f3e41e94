// server/dns_lookup.hpp — trust::DnsLookup on c-ares: what SPF and DMARC ask, answered
// by the resolvers of DnsOptions (the relay's; /etc/resolv.conf when none are given).
// Blocking: one c-ares channel per object, poll(2) until each answer or the deadline:
// use it on a pool thread, never on the io_context thread. One object per message
// check; not thread-safe.
// NXDOMAIN (and a name c-ares refuses to send, too long or malformed) is NxDomain; an
// empty answer is Ok with no records (NODATA); SERVFAIL, REFUSED, timeouts and
// unparsable replies are TempError. TXT strings of one record are concatenated
// (RFC 7208 3.3); replies too large for UDP come again over TCP (c-ares does this).
// SECURITY: at most kMaxLookupRecords records per answer are returned.
#pragma once
#include <memory>
#include <string_view>

#include "server/dns.hpp"
#include "trust/dns_lookup.hpp"

namespace refmail::server {

namespace dns_detail {
class Channel;
}

inline constexpr std::size_t kMaxLookupRecords = 64;

class AresDnsLookup : public trust::DnsLookup {
 public:
  explicit AresDnsLookup(DnsOptions options);
  ~AresDnsLookup() override;
  AresDnsLookup(const AresDnsLookup&) = delete;
  AresDnsLookup& operator=(const AresDnsLookup&) = delete;

  trust::DnsAnswer txt(std::string_view name) override;
  trust::DnsAnswer a(std::string_view name) override;
  trust::DnsAnswer aaaa(std::string_view name) override;
  trust::DnsAnswer mx(std::string_view name) override;
  trust::DnsAnswer ptr(std::string_view ip) override;

 private:
  trust::DnsAnswer query(std::string_view name, int type);

  DnsOptions options_;
  std::unique_ptr<dns_detail::Channel> channel_;  // made at the first query
};

}  // namespace refmail::server
