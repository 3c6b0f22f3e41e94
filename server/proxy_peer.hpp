// server/proxy_peer.hpp — who is at the other end of an accepted TCP connection when
// reverse proxies may stand in front ([proxy] in config, docs/ARCHITECTURE.md "Trusted
// proxies"). On a listener in [proxy] proxy_protocol, a connection from a trusted
// address must open with a PROXY protocol v2 header (net/proxy_protocol.hpp), read here
// under a short deadline and to its exact length; connections from other addresses are
// direct and nothing is read from them.
// SECURITY: a connection whose socket peer is trusted never has loopback privileges,
// whatever address it reports; a header from an untrusted peer is never looked for, so
// never believed (it reaches the protocol as bytes and fails there).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/system/error_code.hpp>

#include "net/address.hpp"

namespace refmail::server {

// How long a trusted proxy may take to send its header (it sends it at once).
inline constexpr std::chrono::seconds kProxyHeaderTimeout{10};

struct PeerIdentity {
  std::string socket_ip;    // the TCP peer ("?" when the socket has none)
  std::string ip;           // the client, as the daemon believes it (canonical text)
  std::uint16_t port = 0;
  bool via_proxy = false;   // socket_ip is a trusted proxy
  bool client_tls = false;  // the PROXY header says the client spoke TLS to the proxy
  // Set when the expected PROXY header was malformed, late or cut short: log, close.
  boost::system::error_code header_error;
  // Loopback privileges (AUTH or Basic without TLS, /metrics): a loopback client that
  // did not come through a proxy.
  [[nodiscard]] bool loopback() const;
};

// The identity of `stream`'s peer; when `expect_header` and the socket peer is in
// `trusted`, after reading its PROXY v2 header (LOCAL: the socket peer; PROXY: the
// carried source); `header_error` tells that the header was malformed, late or cut short.
// REQUIRES: nothing has been read from `stream`; `trusted` outlives the call.
[[nodiscard]] boost::asio::awaitable<PeerIdentity> identify_peer(
    boost::beast::tcp_stream& stream, const net::NetworkSet& trusted, bool expect_header,
    std::chrono::seconds timeout = kProxyHeaderTimeout);

}  // namespace refmail::server
