// net/forwarded.cpp — see forwarded.hpp.
#include "net/forwarded.hpp"

#include <vector>

namespace refmail::net {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "ip", "[v6]", "[v6]:port", "v4:port".
std::optional<IpAddress> element_address(std::string_view e) {
  if (e.starts_with('[')) {
    auto close = e.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    auto rest = e.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return std::nullopt;
    auto a = IpAddress::parse(e.substr(1, close - 1));
    return a && a->v6 ? a : std::nullopt;
  }
  if (auto a = IpAddress::parse(e)) return a;
  auto colon = e.find(':');
  if (colon != std::string_view::npos && e.find(':', colon + 1) == std::string_view::npos) {
    auto a = IpAddress::parse(e.substr(0, colon));
    if (a && !a->v6) return a;
  }
  return std::nullopt;
}

// The comma-separated elements of every value, left to right.
std::vector<std::string_view> elements(std::span<const std::string_view> values) {
  std::vector<std::string_view> out;
  for (std::string_view v : values) {
    while (true) {
      auto comma = v.find(',');
      std::string_view e = trim(v.substr(0, comma));
      if (!e.empty()) out.push_back(e);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return out;
}

}  // namespace

std::optional<IpAddress> forwarded_client(std::span<const std::string_view> x_forwarded_for,
                                          const NetworkSet& trusted) {
  auto hops = elements(x_forwarded_for);
  std::optional<IpAddress> last;
  std::size_t walked = 0;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    if (++walked > kMaxHops) return std::nullopt;
    auto a = element_address(*it);
    if (!a) return std::nullopt;
    if (!trusted.contains(*a)) return a;
    last = a;  // a proxy of ours: keep walking left
  }
  return last;
}

bool forwarded_https(std::span<const std::string_view> x_forwarded_proto) {
  if (x_forwarded_proto.empty()) return false;
  std::string_view v = x_forwarded_proto.back();
  auto comma = v.rfind(',');
  if (comma != std::string_view::npos) v = v.substr(comma + 1);
  v = trim(v);
  if (v.size() != 5) return false;
  static constexpr std::string_view kHttps = "https";
  for (std::size_t i = 0; i < 5; ++i) {
    if ((v[i] | 0x20) != kHttps[i]) return false;
  }
  return true;
}

}  // namespace refmail::net
