// trust/spf.hpp — Sender Policy Framework (RFC 7208): check_host() over the DnsLookup
// seam, the MAIL FROM and HELO identities (2.3, 2.4), and the header fields that
// report a result (Received-SPF, 9.1; Authentication-Results, RFC 8601 2.7.2).
// Pure: no sockets, no clock (the caller passes `now` for the %{t} macro).
// SECURITY: the record, every DNS answer and the sender are attacker-controlled. The
// evaluation is bounded: at most 10 DNS-querying terms (include a mx ptr exists
// redirect, RFC 7208 4.6.4) and 2 void lookups, 10 MX hosts and 10 PTR names each,
// recursion depth bounded by the term limit, macro expansions capped in length
// (7.3: 253 octets for a domain name; kMaxExpansion for anything else). Explanations
// are reduced to printable ASCII before they reach a header or an SMTP reply.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "trust/dns_lookup.hpp"

namespace refmail::trust {

enum class SpfResult { None, Neutral, Pass, Fail, SoftFail, TempError, PermError };

// "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror" (RFC 7208 2.6).
[[nodiscard]] std::string_view to_string(SpfResult r);

struct SpfOptions {
  std::string receiver = "unknown";  // %{r}: the receiving host's domain (7.3)
  std::int64_t now = 0;              // %{t}: seconds since the epoch
  unsigned max_dns_terms = 10;       // 4.6.4
  unsigned max_void_lookups = 2;     // 4.6.4 (SHOULD 2; configurable)
  unsigned max_mx_hosts = 10;        // 4.6.4: more MX records than this -> permerror
  unsigned max_ptr_names = 10;       // 4.6.4: PTR names past this are ignored
};

// Longest macro expansion accepted for a non-domain string (an explanation); a domain
// is truncated to 253 octets from the left (7.3).
inline constexpr std::size_t kMaxExpansion = 1024;

struct SpfVerdict {
  SpfResult result = SpfResult::None;
  // The directive that decided, as written in its record ("-all", "ip4:192.0.2.0/24",
  // "include:_spf.example.net"); "default" when nothing matched (neutral, 4.7); empty
  // for none, temperror and permerror.
  std::string mechanism;
  // fail only: the exp= text, macro-expanded (6.2); empty when there is none or it
  // could not be had (its failures are ignored, as 6.2 says).
  std::string explanation;
  // temperror/permerror/none: why, for logs and header comments ("2 void lookups
  // exceeded", "no SPF record").
  std::string problem;
  std::string domain;  // the <domain> check_host() started from
};

// RFC 7208 4: check_host(<ip>, <domain>, <sender>). `ip` is the client's address as
// text (an IPv4-mapped IPv6 address counts as IPv4); `sender` is MAIL FROM (or
// "postmaster@<helo>"); `helo` feeds %{h}. An `ip` that is not an address gives
// permerror.
[[nodiscard]] SpfVerdict check_host(std::string_view ip, std::string_view domain, std::string_view sender,
                                    std::string_view helo, DnsLookup& dns, const SpfOptions& options = {});

// The MAIL FROM identity (2.4): the domain of `mail_from`; a null reverse path ("")
// checks "postmaster@<helo>" instead (2.4, 4.3).
[[nodiscard]] SpfVerdict check_mail_from(std::string_view ip, std::string_view mail_from, std::string_view helo,
                                         DnsLookup& dns, const SpfOptions& options = {});

// The HELO identity (2.3): check_host(ip, helo, "postmaster@<helo>"). An address
// literal or a name that is not a domain gives none (4.3).
[[nodiscard]] SpfVerdict check_helo(std::string_view ip, std::string_view helo, DnsLookup& dns,
                                    const SpfOptions& options = {});

// RFC 8601 method result: "spf=pass smtp.mailfrom=user@example.com" (a null reverse
// path reports smtp.mailfrom=postmaster@<helo>, as checked) or, with `helo_identity`,
// "spf=none smtp.helo=mx.example.net". A comment with the problem follows an error:
// "spf=permerror (too many DNS lookups) smtp.mailfrom=...".
[[nodiscard]] std::string spf_auth_result(const SpfVerdict& verdict, std::string_view identity,
                                          bool helo_identity = false);

// RFC 7208 9.1 Received-SPF field body (without the name):
// "pass (mx.example.org: domain of user@example.com designates 192.0.2.1 as permitted
// sender) client-ip=192.0.2.1; envelope-from=\"user@example.com\"; helo=mail.example.com;
// receiver=mx.example.org; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\";"
[[nodiscard]] std::string received_spf(const SpfVerdict& verdict, std::string_view ip, std::string_view mail_from,
                                       std::string_view helo, std::string_view receiver, bool helo_identity = false);

// RFC 7208 7: expands a macro-string. For tests and tools; check_host() uses the same
// code. `explanation`: c, r, t are allowed and spaces are literal (6.2). nullopt on a
// syntax error. `validated_ptr` is what %{p} gives (the caller resolves it).
struct MacroContext {
  std::string_view ip, sender, domain, helo, receiver = "unknown", validated_ptr = "unknown";
  std::int64_t now = 0;
};
[[nodiscard]] std::optional<std::string> expand_macros(std::string_view text, const MacroContext& ctx,
                                                       bool explanation = false);

}  // namespace refmail::trust
