// server/smtp_server.hpp — the SMTP listeners: MX (port 25 / 2525), submission
// (587 / 2587: STARTTLS, then AUTH, then mail) and SMTPS (465 / 2465: implicit TLS).
// SECURITY: see smtp_server.cpp; relaying needs an authenticated session.
#pragma once
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "server/listeners.hpp"

namespace refmail::server {

struct SmtpListenerConfig {
  std::string name;           // "mx", "submission", "smtps"
  bool implicit_tls = false;  // SMTPS
  bool auth = false;          // AUTH offered (after TLS)
  bool require_auth = false;  // MAIL needs AUTH
  std::size_t budget = 0;     // ConnectionTracker::add_listener id (submission and smtps share)
  bool proxy_protocol = false;  // a trusted peer opens with a PROXY v2 header ([proxy])
};

// REQUIRES: `acceptor` outlives the coroutine; closing it ends the accept loop.
asio::awaitable<void> serve_smtp(asio::ip::tcp::acceptor& acceptor, SmtpListenerConfig lc, Services svc);

}  // namespace refmail::server
