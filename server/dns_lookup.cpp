// server/dns_lookup.cpp — see dns_lookup.hpp.
#include "server/dns_lookup.hpp"

#include <ares.h>
#include <arpa/nameser.h>

#include <algorithm>
#include <charconv>

#include "server/dns_internal.hpp"

namespace refmail::server {

AresDnsLookup::AresDnsLookup(DnsOptions options) : options_(std::move(options)) {}
AresDnsLookup::~AresDnsLookup() = default;

trust::DnsAnswer AresDnsLookup::query(std::string_view name, int type) {
  using trust::DnsStatus;
  if (!channel_) channel_ = std::make_unique<dns_detail::Channel>(options_);
  if (!channel_->ok()) return {DnsStatus::TempError, {}};
  // A name DNS cannot carry (an empty label, a label over 63 octets) does not exist.
  if (name.empty() || name.size() > 253) return {DnsStatus::NxDomain, {}};
  dns_detail::Query q = channel_->run(std::string(name), type);
  if (q.status == ARES_EBADNAME) return {DnsStatus::NxDomain, {}};
  switch (dns_detail::classify(q.status)) {
    case dns_detail::Answer::NxDomain: return {DnsStatus::NxDomain, {}};
    case dns_detail::Answer::NoData: return {DnsStatus::Ok, {}};
    case dns_detail::Answer::TempFail: return {DnsStatus::TempError, {}};
    case dns_detail::Answer::Ok: break;
  }
  auto records = dns_detail::answer_records(q.answer, type, kMaxLookupRecords);
  if (!records) return {DnsStatus::TempError, {}};
  return {DnsStatus::Ok, std::move(*records)};
}

trust::DnsAnswer AresDnsLookup::txt(std::string_view name) { return query(name, ns_t_txt); }
trust::DnsAnswer AresDnsLookup::a(std::string_view name) { return query(name, ns_t_a); }
trust::DnsAnswer AresDnsLookup::aaaa(std::string_view name) { return query(name, ns_t_aaaa); }

trust::DnsAnswer AresDnsLookup::mx(std::string_view name) {
  trust::DnsAnswer raw = query(name, ns_t_mx);
  // "<pref> <host>" -> hosts by preference (stable for equal ones); "." is a null MX.
  std::vector<std::pair<unsigned long, std::string>> v;
  for (auto& r : raw.records) {
    const auto sp = r.find(' ');  // answer_records() wrote "<pref> <host>"
    unsigned long pref = 0;
    std::from_chars(r.data(), r.data() + std::min(sp, r.size()), pref);
    v.emplace_back(pref, sp == std::string::npos ? std::string{} : r.substr(sp + 1));
  }
  std::stable_sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  raw.records.clear();
  for (auto& [pref, host] : v) raw.records.push_back(host == "." ? std::string{} : std::move(host));
  return raw;
}

trust::DnsAnswer AresDnsLookup::ptr(std::string_view ip) {
  const std::string name = trust::ptr_name(ip);
  if (name.empty()) return {trust::DnsStatus::NxDomain, {}};
  return query(name, ns_t_ptr);
}

}  // namespace refmail::server
