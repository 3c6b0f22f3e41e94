// config/mta_sts.cpp — see mta_sts.hpp.
#include "config/mta_sts.hpp"

#include <cstdint>
#include <cstdio>

namespace refmail::config {

std::string mta_sts_policy(const Config& cfg) {
  const auto& a = cfg.auth;
  if (a.mta_sts_mode == "none") return {};
  std::string p = "version: STSv1\r\nmode: " + a.mta_sts_mode + "\r\n";
  if (a.mta_sts_mx.empty()) {
    p += "mx: " + cfg.hostname + "\r\n";
  } else {
    for (const auto& mx : a.mta_sts_mx) p += "mx: " + mx + "\r\n";
  }
  p += "max_age: " + std::to_string(a.mta_sts_max_age.count()) + "\r\n";
  return p;
}

std::string mta_sts_id(const Config& cfg) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : mta_sts_policy(cfg)) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

}  // namespace refmail::config
