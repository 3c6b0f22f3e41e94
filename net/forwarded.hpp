// net/forwarded.hpp — who the client of an HTTP request is when trusted reverse
// proxies relayed it: X-Forwarded-For walked from the right (the hop our own proxy
// appended) past the addresses in [proxy] trusted, as nginx's realip module
// (real_ip_recursive on) and Dovecot do. Pure: values in, an address out.
// SECURITY: the caller consults this only when the immediate peer is trusted; every
// element left of the first untrusted one was written by whoever the client was, so it
// is never used. Elements are bounded (kMaxHops), and an element that is not an
// address ends the walk without a result (the caller keeps the socket's peer).
#pragma once
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "net/address.hpp"

namespace refmail::net {

inline constexpr std::size_t kMaxHops = 32;

// `x_forwarded_for` are the X-Forwarded-For field values in the order received (several
// fields form one list, RFC 9110 5.3). Elements are "ip", "[v6]", "[v6]:port" or
// "v4:port". Returns the rightmost element not in `trusted`, or the leftmost when every
// element is trusted; nullopt when there is no element, one is not an address, or the
// walk would pass more than kMaxHops.
[[nodiscard]] std::optional<IpAddress> forwarded_client(std::span<const std::string_view> x_forwarded_for,
                                                         const NetworkSet& trusted);

// "https" or "http" as the nearest proxy stated it: the last element of the last
// X-Forwarded-Proto value (a proxy that appends rather than replaces adds on the right).
// true only for "https" (ASCII case-insensitive).
[[nodiscard]] bool forwarded_https(std::span<const std::string_view> x_forwarded_proto);

}  // namespace refmail::net
