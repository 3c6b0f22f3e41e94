// server/http_server.hpp — HTTP/1.1 listeners on Beast (Beast's
// server-flex-awaitable model: listen -> session -> a pure handler). Used for the
// admin unix socket and the public HTTP port. Every read has a deadline and every
// parser a body limit; handlers run on the blocking pool and never see a socket.
// SECURITY: requests on the unix socket are trusted (the socket is 0600, owner only);
// on TCP, trust comes only from a matching admin token (constant-time compare).
// Request::tls is set for connections that negotiated TLS (optional, same port), or,
// through a trusted proxy, from its X-Forwarded-Proto (docs/ARCHITECTURE.md "Trusted proxies").
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>

#include "net/address.hpp"
#include "server/runtime.hpp"
#include "web/http.hpp"

namespace refmail::server {

using HttpHandler = std::function<web::Response(web::Request&&)>;

struct HttpOptions {
  std::chrono::seconds read_timeout{30};
  std::uint64_t body_limit_bytes = 64ull << 20;
  std::string admin_token;  // TCP only: "Authorization: Bearer <token>" makes a request trusted
  std::string name = "http";
  std::size_t budget = 0;  // ConnectionTracker::add_listener id of this listener's share
  // TCP only: when set, a connection that opens with a TLS ClientHello is served over
  // TLS on the same port (detected from the first bytes); others stay plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Before authentication a request body may hold at most this many bytes (a login,
  // a webhook): nobody unauthenticated can make the daemon hold memory.
  std::uint64_t preauth_body_limit_bytes = 64 * 1024;
  // Called on the pool with the request's header only (empty body) when its body may
  // exceed preauth_body_limit_bytes: true when the request is authenticated, so its
  // body may use body_limit_bytes. Unset: every request may (the trusted admin socket).
  std::function<bool(const web::Request&)> may_send_large_body;
  // When set, awaited on the io_context before each request's handler runs; it may
  // wait (timers) and fill in the request (the password gate: Request::checked_password).
  std::function<asio::awaitable<void>(web::Request&)> before_handler;
  // TCP only, [proxy]: peers whose X-Forwarded-For / X-Forwarded-Proto are believed and
  // who never get loopback privileges; with proxy_protocol they open with a PROXY v2
  // header (server/proxy_peer.hpp). Null: nobody is trusted.
  std::shared_ptr<const net::NetworkSet> trusted_proxies;
  bool proxy_protocol = false;
};

// REQUIRES: `acceptor` outlives the coroutine; closing it ends the accept loop.
asio::awaitable<void> serve_http(asio::ip::tcp::acceptor& acceptor, Runtime rt, HttpOptions opts,
                                 HttpHandler handler);
asio::awaitable<void> serve_http(asio::local::stream_protocol::acceptor& acceptor, Runtime rt,
                                 HttpOptions opts, HttpHandler handler);

}  // namespace refmail::server
