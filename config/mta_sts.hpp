// config/mta_sts.hpp — the MTA-STS policy (RFC 8461) this configuration publishes for its
// domains: the document served at /.well-known/mta-sts.txt and the id of its
// _mta-sts TXT record (which changes whenever the document does). Pure.
#pragma once
#include <string>

#include "config/config.hpp"

namespace refmail::config {

// "version: STSv1\r\nmode: <mode>\r\nmx: <hostname>\r\n[mx: <more>\r\n]max_age: <s>\r\n";
// "" when [auth] mta_sts_mode is "none" (nothing published).
[[nodiscard]] std::string mta_sts_policy(const Config& cfg);
// 16 hex digits derived from the document (FNV-1a 64): stable across runs and builds.
[[nodiscard]] std::string mta_sts_id(const Config& cfg);

}  // namespace refmail::config
