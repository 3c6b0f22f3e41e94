// delivery/service_internal.hpp — helpers the delivery service's files share
// (service.cpp, placement.cpp); not exported.
#pragma once
#include <string>

namespace refmail::delivery::detail {

// ASCII lower case (addresses, mailbox names compared without case).
[[nodiscard]] std::string lower(std::string s);
// 16 hex digits from OpenSSL's CSPRNG (trace ids, Message-IDs of generated mail).
[[nodiscard]] std::string random_id();

}  // namespace refmail::delivery::detail
