// trust/public_suffix.hpp — the Public Suffix List (publicsuffix.org) and the
// organizational domain of RFC 7489 3.2 that DMARC's relaxed alignment and policy
// discovery use. Pure: parses list text it is given; reading Debian's file
// (kDebianPublicSuffixPath, package `publicsuffix`) is the caller's I/O.
// Rules: "a.b" exact, "*.b" any one label under b, "!c.b" an exception to a
// wildcard; the implicit rule "*" makes the last label a suffix when nothing matches.
// Limitation: rules are kept as written (Debian ships U-labels for IDN suffixes), so an
// A-label ("xn--...") domain under an IDN suffix falls back to the "*" rule.
// SECURITY: lookups cost O(labels) hash probes; a name is at most 253 octets.
#pragma once
#include <string>
#include <string_view>
#include <unordered_set>

namespace refmail::trust {

inline constexpr std::string_view kDebianPublicSuffixPath = "/usr/share/publicsuffix/public_suffix_list.dat";

class PublicSuffixList {
 public:
  PublicSuffixList() = default;  // no rules: only the implicit "*"
  // Both the ICANN and the PRIVATE sections are used (as OpenDMARC does): a customer
  // of a hosting suffix ("example.github.io") is its own organization.
  [[nodiscard]] static PublicSuffixList parse(std::string_view list_text);

  // The public suffix of `domain` (lower case, no trailing dot): "co.uk" for
  // "www.example.co.uk". Empty for an empty name.
  [[nodiscard]] std::string public_suffix(std::string_view domain) const;
  // RFC 7489 3.2: the public suffix plus one label ("example.co.uk"); a domain that is
  // itself a public suffix is its own organizational domain.
  [[nodiscard]] std::string organizational_domain(std::string_view domain) const;
  [[nodiscard]] std::size_t size() const { return rules_.size() + wildcards_.size() + exceptions_.size(); }

 private:
  std::unordered_set<std::string> rules_;       // "co.uk"
  std::unordered_set<std::string> wildcards_;   // "ck" for "*.ck"
  std::unordered_set<std::string> exceptions_;  // "www.ck" for "!www.ck"
};

}  // namespace refmail::trust
