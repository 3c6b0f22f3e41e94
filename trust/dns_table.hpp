// trust/dns_table.hpp — a DnsLookup answered from a zone table in memory: what unit
// tests, the fuzz targets and the SPF comparison tool (tests/unit/trust/spf_tool.cpp)
// use instead of a resolver. Pure; never touches the network.
// Table text, one record per line ("#" starts a comment line, blank lines skipped):
//   <name> <TYPE> <value>      TYPE: TXT A AAAA MX PTR (MX value: "<pref> <host>";
//                              TXT value: the rest of the line, verbatim)
//   <name> SERVFAIL            every query for the name fails temporarily
// PTR records live under the reverse name ("1.2.0.192.in-addr.arpa PTR host.test").
// A name with records of other types only answers NODATA; an unknown name NXDOMAIN.
#pragma once
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "trust/dns_lookup.hpp"

namespace refmail::trust {

class DnsTable : public DnsLookup {
 public:
  DnsTable() = default;
  // Lines that are not understood are skipped and counted in bad_lines().
  explicit DnsTable(std::string_view text);

  void add(std::string_view name, std::string_view type, std::string value);
  void servfail(std::string_view name);

  DnsAnswer txt(std::string_view name) override { return lookup(name, "TXT"); }
  DnsAnswer a(std::string_view name) override { return lookup(name, "A"); }
  DnsAnswer aaaa(std::string_view name) override { return lookup(name, "AAAA"); }
  DnsAnswer mx(std::string_view name) override;
  DnsAnswer ptr(std::string_view ip) override { return lookup(ptr_name(ip), "PTR"); }

  // Every question asked, as "TYPE name", in order (tests assert the limits with it).
  [[nodiscard]] const std::vector<std::string>& queries() const { return queries_; }
  [[nodiscard]] std::size_t bad_lines() const { return bad_lines_; }

 private:
  DnsAnswer lookup(std::string_view name, std::string_view type);

  std::map<std::string, std::map<std::string, std::vector<std::string>>> zone_;  // name -> type -> values
  std::set<std::string> servfail_;
  std::vector<std::string> queries_;
  std::size_t bad_lines_ = 0;
};

}  // namespace refmail::trust
