// server/imap_server.hpp — the IMAP listeners: imap (143 / 2143: STARTTLS before LOGIN)
// and imaps (993 / 2993: implicit TLS, RFC 8314). One coroutine per connection drives
// an imap::Session (imap/session.hpp); the mailbox commands run through one
// imap::MailboxEngine per logged-in connection on the blocking pool.
// SECURITY: see imap_server.cpp; LOGIN without TLS only from loopback by config.
#pragma once
#include <cstddef>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "server/listeners.hpp"

namespace refmail::server {

struct ImapListenerConfig {
  std::string name;             // "imap", "imaps" (logs, metric labels, [proxy] proxy_protocol)
  bool implicit_tls = false;    // imaps
  std::size_t budget = 0;       // ConnectionTracker::add_listener id (imap and imaps share one)
  bool proxy_protocol = false;  // a trusted peer opens with a PROXY v2 header ([proxy])
};

// Accepts until `acceptor` is closed. REQUIRES: `acceptor` outlives the coroutine;
// svc.tls, svc.passwords, svc.metrics and svc.trusted_proxies are set (start_listeners).
asio::awaitable<void> serve_imap(asio::ip::tcp::acceptor& acceptor, ImapListenerConfig lc, Services svc);

}  // namespace refmail::server
