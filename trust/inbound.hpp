// trust/inbound.hpp — the checks one received message gets before it is accepted:
// iprev of the client (RFC 8601 3), SPF of the MAIL FROM identity (the HELO identity
// for a null reverse path), every DKIM signature, the ARC chain (RFC 8617), and DMARC of
// the From domain over SPF and DKIM, reported in one
// Authentication-Results field (RFC 8601) under refmail's authserv-id. Sans-I/O like
// the cores it joins: DNS through DnsLookup (blocking; the caller runs this on a pool
// thread), the clock and the pct draw from the caller.
// SECURITY: everything here is attacker-controlled (the message, the sender's zone);
// the bounds are the cores' (RFC 7208 4.6.4, dkim::kMax*, two DMARC queries).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trust/arc.hpp"
#include "trust/dkim.hpp"
#include "trust/dmarc.hpp"
#include "trust/dns_lookup.hpp"
#include "trust/public_suffix.hpp"
#include "trust/spf.hpp"

namespace refmail::trust {

struct InboundFacts {
  std::string authserv_id;   // refmail's host name: the first token of the field
  std::string client_ip;     // the SMTP client's address as text
  std::string helo;          // EHLO/HELO argument
  std::string mail_from;     // MAIL FROM address; "" for the null reverse path
  std::int64_t now = 0;      // Unix seconds (DKIM t=/x=, SPF %{t})
  unsigned random_percent = 0;  // uniform in [0, 100): DMARC pct (RFC 7489 6.6.4)
};

// RFC 8601 2.7.3 / 3: the client's PTR names, each confirmed by its own A/AAAA.
enum class IprevResult { Pass, Fail, TempError, PermError };
[[nodiscard]] std::string_view to_string(IprevResult r);

struct IprevVerdict {
  IprevResult result = IprevResult::PermError;
  std::string name;  // pass: the confirmed name
};

// Looks up the PTR names of `ip` (at most kMaxIprevNames are confirmed) and each name's
// addresses of `ip`'s family. pass: a name maps back to `ip`; permerror: no PTR data
// (NXDOMAIN or NODATA); temperror: the PTR query, or every forward query, failed
// temporarily; fail otherwise.
inline constexpr std::size_t kMaxIprevNames = 10;
[[nodiscard]] IprevVerdict check_iprev(std::string_view ip, DnsLookup& dns);
// "iprev=pass policy.iprev=192.0.2.1 (mail.example.com)".
[[nodiscard]] std::string iprev_auth_result(const IprevVerdict& v, std::string_view ip);

struct InboundVerdict {
  IprevVerdict iprev;
  SpfVerdict spf;
  bool spf_helo = false;  // the identity SPF checked was HELO (null reverse path)
  std::vector<dkim::SignatureResult> dkim;
  arc::ArcVerdict arc;  // none when the message has no ARC header fields
  DmarcVerdict dmarc;
  // "Authentication-Results: <authserv-id>;\r\n\tiprev=...;\r\n\tspf=...;\r\n\tdkim=...;\r\n\tdmarc=...\r\n"
  std::string header;
};

// Fed the message exactly as received (the DKIM verifier streams the body; nothing is
// held but the header block), then finished once with the message's From field bodies.
class InboundCheck {
 public:
  // `dns` and `psl` must outlive the check.
  InboundCheck(DnsLookup& dns, const PublicSuffixList& psl, InboundFacts facts);
  ~InboundCheck();
  InboundCheck(const InboundCheck&) = delete;
  InboundCheck& operator=(const InboundCheck&) = delete;

  void feed(std::string_view chunk);
  // SPF, the DKIM keys, DMARC: the DNS questions are asked here. Once.
  [[nodiscard]] InboundVerdict finish(const std::vector<std::string_view>& from_fields);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A dkim::KeyLookup over the DnsLookup seam (TXT at <selector>._domainkey.<domain>).
class DnsKeyLookup final : public dkim::KeyLookup {
 public:
  explicit DnsKeyLookup(DnsLookup& dns) : dns_(dns) {}
  [[nodiscard]] dkim::KeyAnswer txt(std::string_view qname) override;

 private:
  DnsLookup& dns_;
};

// RFC 8601 5: the Authentication-Results fields of `header_section` that claim
// `authserv_id` (compared case-insensitively) came from outside and are forged; their
// byte ranges [begin, end), each with its final line ending, in order, to be removed
// before refmail adds its own. Fields past `max_scan_bytes` are not looked at.
[[nodiscard]] std::vector<std::pair<std::size_t, std::size_t>> claimed_results(
    std::string_view header_section, std::string_view authserv_id, std::size_t max_scan_bytes = 256 * 1024);

}  // namespace refmail::trust
