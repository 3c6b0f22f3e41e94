// trust/dns_table.cpp — see dns_table.hpp; also ptr_name() of dns_lookup.hpp.
#include "trust/dns_table.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "net/address.hpp"

namespace refmail::trust {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!out.empty() && out.back() == '.') out.pop_back();  // "a.test." is "a.test"
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Splits off the next space-separated word of `rest`.
std::string_view word(std::string_view& rest) {
  auto b = rest.find_first_not_of(" \t");
  if (b == std::string_view::npos) {
    rest = {};
    return {};
  }
  rest.remove_prefix(b);
  auto e = rest.find_first_of(" \t");
  std::string_view w = rest.substr(0, e);
  rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e + 1);
  return w;
}

}  // namespace

std::string ptr_name(std::string_view ip) {
  auto addr = net::IpAddress::parse(ip);
  if (!addr) return {};
  std::string out;
  char buf[8];
  if (!addr->v6) {
    for (int i = 3; i >= 0; --i) {
      std::snprintf(buf, sizeof buf, "%u.", static_cast<unsigned>(addr->bytes[static_cast<std::size_t>(i)]));
      out += buf;
    }
    return out + "in-addr.arpa";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    const auto b = addr->bytes[static_cast<std::size_t>(i)];
    out += kHex[b & 0xF];
    out += '.';
    out += kHex[b >> 4];
    out += '.';
  }
  return out + "ip6.arpa";
}

DnsTable::DnsTable(std::string_view text) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view rest = line;
    std::string_view name = word(rest);
    if (name.empty() || name.front() == '#') continue;
    std::string type = upper(word(rest));
    if (type == "SERVFAIL") {
      servfail(name);
    } else if (type == "TXT" || type == "A" || type == "AAAA" || type == "MX" || type == "PTR") {
      add(name, type, std::string(type == "TXT" ? rest : rest.substr(0, rest.find_last_not_of(" \t") + 1)));
    } else {
      ++bad_lines_;
    }
  }
}

void DnsTable::add(std::string_view name, std::string_view type, std::string value) {
  zone_[lower(name)][upper(type)].push_back(std::move(value));
}

void DnsTable::servfail(std::string_view name) { servfail_.insert(lower(name)); }

DnsAnswer DnsTable::lookup(std::string_view name, std::string_view type) {
  queries_.push_back(std::string(type) + " " + std::string(name));
  const std::string key = lower(name);
  if (servfail_.count(key)) return {DnsStatus::TempError, {}};
  auto it = zone_.find(key);
  if (it == zone_.end()) return {DnsStatus::NxDomain, {}};
  auto t = it->second.find(std::string(type));
  if (t == it->second.end()) return {DnsStatus::Ok, {}};
  return {DnsStatus::Ok, t->second};
}

DnsAnswer DnsTable::mx(std::string_view name) {
  DnsAnswer raw = lookup(name, "MX");
  if (raw.records.empty()) return raw;
  // "<pref> <host>": sorted by preference, stable for equal ones.
  std::vector<std::pair<long, std::string>> v;
  for (const auto& r : raw.records) {
    std::string_view rest = r;
    std::string_view pref = word(rest);
    std::string_view host = word(rest);
    long p = 0;
    for (char c : pref) p = std::isdigit(static_cast<unsigned char>(c)) ? std::min(p * 10 + (c - '0'), 65535L) : p;
    v.emplace_back(p, lower(host));
  }
  std::stable_sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  DnsAnswer out{DnsStatus::Ok, {}};
  for (auto& [p, h] : v) out.records.push_back(std::move(h));
  return out;
}

}  // namespace refmail::trust
