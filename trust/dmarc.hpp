// trust/dmarc.hpp — DMARC (RFC 7489): the policy record (6.3), policy discovery at
// _dmarc.<From domain> then at its organizational domain (6.6.3, 3.2 over the Public
// Suffix List), identifier alignment of SPF and DKIM (3.1), the result and the
// disposition after pct (6.6.4), np= for non-existent subdomains (RFC 9091), and the
// RFC 8601 result. Pure: DNS through DnsLookup, randomness from the caller.
// Decision (RFC 7489 6.6.1): a message without exactly one From field holding exactly
// one address with a domain gets DmarcResult::PermError with a FromStatus saying which
// (none, several fields, several addresses, no domain); the caller decides whether to
// reject it. Nothing is guessed from such a From.
// SECURITY: records, DNS answers and the From field are attacker-controlled: at most
// two TXT queries (and one A for np=), lists capped at kMaxReportUris.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "trust/dns_lookup.hpp"
#include "trust/public_suffix.hpp"
#include "trust/spf.hpp"

namespace refmail::trust {

enum class DmarcPolicy { None, Quarantine, Reject };
enum class DmarcAlignment { Relaxed, Strict };
[[nodiscard]] std::string_view to_string(DmarcPolicy p);

inline constexpr std::size_t kMaxReportUris = 16;

struct DmarcRecord {
  DmarcPolicy p = DmarcPolicy::None;
  std::optional<DmarcPolicy> sp;  // subdomains of the organizational domain; absent: p
  std::optional<DmarcPolicy> np;  // non-existent subdomains (RFC 9091); absent: sp, then p
  unsigned pct = 100;
  DmarcAlignment adkim = DmarcAlignment::Relaxed;
  DmarcAlignment aspf = DmarcAlignment::Relaxed;
  std::vector<std::string> rua, ruf;  // syntactically valid URIs only
  std::string fo = "0";
  std::uint32_t ri = 86400;
  // 6.6.3 step 6: p (or sp) was missing or invalid but rua is valid: read as p=none.
  bool policy_assumed = false;
  // Tags whose values were invalid and so replaced by their defaults (6.3).
  std::vector<std::string> ignored;
};

enum class DmarcParseStatus {
  Ok,
  NotDmarc,  // does not start with v=DMARC1: not a DMARC record at all (discarded)
  Invalid,   // a DMARC record without a usable policy and no rua: no DMARC processing
};

struct DmarcParsed {
  DmarcParseStatus status = DmarcParseStatus::NotDmarc;
  DmarcRecord record;
  std::string problem;
};

// RFC 7489 6.3 / 6.4: tag=value pairs separated by ";", v=DMARC1 first. Unknown tags
// are ignored; an invalid pct, adkim, aspf, fo, ri, np gets its default; invalid
// report URIs are dropped.
[[nodiscard]] DmarcParsed parse_dmarc_record(std::string_view txt);

// ---- the author domain (RFC 5322 From) ----

enum class FromStatus { Ok, NoFrom, MultipleFromFields, MultipleAddresses, NoDomain };
[[nodiscard]] std::string_view to_string(FromStatus s);

struct FromDomain {
  FromStatus status = FromStatus::NoFrom;
  std::string domain;  // lower case, no trailing dot; set only when Ok
};

// `from_fields`: the body of every From header field of the message, as received.
[[nodiscard]] FromDomain from_domain(const std::vector<std::string_view>& from_fields);

// ---- policy discovery ----

enum class DiscoveryStatus { Found, None, TempError };

struct DmarcDiscovery {
  DiscoveryStatus status = DiscoveryStatus::None;
  DmarcRecord record;
  std::string policy_domain;  // the domain whose _dmarc record was used
  std::string problem;        // for None/TempError: why (logs)
};

// 6.6.3: _dmarc.<domain>; when it holds no DMARC record, _dmarc.<organizational
// domain> (if different). Several DMARC records at a name end discovery with None.
[[nodiscard]] DmarcDiscovery discover_policy(std::string_view from_domain, DnsLookup& dns,
                                             const PublicSuffixList& psl);

// ---- alignment and evaluation ----

// 3.1: strict: the same name; relaxed: the same organizational domain.
[[nodiscard]] bool aligned(std::string_view auth_domain, std::string_view from_domain, DmarcAlignment mode,
                           const PublicSuffixList& psl);

enum class DmarcAuthResult { None, Pass, Fail, Neutral, TempError, PermError };

struct DmarcDkimInput {
  std::string domain;  // the signature's d=
  DmarcAuthResult result = DmarcAuthResult::None;
};

struct DmarcSpfInput {
  std::string domain;  // the domain SPF checked: MAIL FROM's, or HELO's for a null path
  SpfResult result = SpfResult::None;
};

struct DmarcInput {
  std::vector<std::string_view> from_fields;
  std::optional<DmarcSpfInput> spf;
  std::vector<DmarcDkimInput> dkim;
  // Uniform in [0, 100): the message is subject to the policy when below pct (6.6.4).
  unsigned random_percent = 0;
};

enum class DmarcResult { None, Pass, Fail, TempError, PermError };
[[nodiscard]] std::string_view to_string(DmarcResult r);

struct DmarcVerdict {
  DmarcResult result = DmarcResult::None;
  FromStatus from_status = FromStatus::NoFrom;
  std::string from_domain;
  std::string policy_domain;
  DmarcPolicy policy = DmarcPolicy::None;       // the one that applies (p, sp or np)
  DmarcPolicy disposition = DmarcPolicy::None;  // what to do: policy after pct; none on pass
  bool spf_aligned = false, dkim_aligned = false;
  std::optional<DmarcRecord> record;
  std::string problem;  // why, for permerror/temperror/none
};

[[nodiscard]] DmarcVerdict check_dmarc(const DmarcInput& input, DnsLookup& dns, const PublicSuffixList& psl);

// RFC 8601 / RFC 7489 11.2: "dmarc=fail (p=reject dis=quarantine) header.from=example.com";
// "dmarc=permerror (multiple From addresses)"; "dmarc=none header.from=example.com".
[[nodiscard]] std::string dmarc_auth_result(const DmarcVerdict& verdict);

}  // namespace refmail::trust
