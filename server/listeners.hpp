// server/listeners.hpp — the public listeners: SMTP MX, submission (STARTTLS + AUTH),
// SMTPS (implicit TLS), IMAP (STARTTLS), IMAPS (implicit TLS) and HTTP. Each accepted connection runs as one coroutine on
// the io_context; blocking work (password checks, splitting, commits) is offloaded.
// SECURITY: per-IP and total connection limits before the greeting; a deadline on
// every read; AUTH / LOGIN only after TLS unless plain_auth_on_loopback and the peer is
// loopback.
#pragma once
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "config/config.hpp"
#include "net/address.hpp"
#include "server/runtime.hpp"

namespace refmail::storage {
class Store;
}
namespace refmail::search {
class Index;
}
namespace refmail::delivery {
class Service;
}
namespace refmail::metrics {
class Metrics;
}
namespace refmail::web {
struct ImportContext;
}

namespace refmail::server {

class PasswordGate;

struct Services {
  const config::Config& cfg;
  storage::Store& store;
  Runtime rt;
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Counters shared by SMTP, IMAP and HTTP, rendered at /metrics; made by start_listeners
  // when null.
  std::shared_ptr<metrics::Metrics> metrics = nullptr;
  // The import webhook's context; null when import is off.
  std::shared_ptr<web::ImportContext> import = nullptr;
  // Wakes the relay worker after a queue row was committed (for the delivery service
  // start_listeners makes when `delivery` is null).
  std::function<void()> queue_notify = nullptr;
  // Every password check (SMTP AUTH, IMAP LOGIN, HTTP Basic and login): throttle + argon2 on its
  // own pool. Made by start_listeners when null (then joined when the last user goes).
  std::shared_ptr<PasswordGate> passwords = nullptr;
  // The delivery service SMTP, IMAP APPEND and JMAP write through; made by
  // start_listeners when null (waking the relay through queue_notify).
  std::shared_ptr<delivery::Service> delivery = nullptr;
  // [proxy] trusted, parsed once; made by start_listeners when null.
  std::shared_ptr<const net::NetworkSet> trusted_proxies = nullptr;
  // [auth] skip_networks, parsed once; made by start_listeners when null.
  std::shared_ptr<const net::NetworkSet> auth_skip = nullptr;
  // The full-text index for JMAP Email/query; null: text filters scan summaries.
  std::shared_ptr<search::Index> search = nullptr;
};

class Listeners {
 public:
  virtual ~Listeners() = default;
  // Stops accepting (closes every acceptor); live connections drain on their own.
  virtual void close() = 0;
};

// Opens, binds and listens; false with `why` (one line naming the address) on failure.
[[nodiscard]] bool bind_tcp(boost::asio::io_context& io, const config::Endpoint& ep, std::string_view what,
                            boost::asio::ip::tcp::acceptor& out, std::string& why);

// Logs (never rethrows) an exception escaping a listener's coroutine.
void spawn_logged(boost::asio::io_context& io, boost::asio::awaitable<void> task, std::string name);

// Binds every enabled listener and starts accepting; nullptr with `why` set (one line
// naming the address) when a port cannot be bound.
[[nodiscard]] std::unique_ptr<Listeners> start_listeners(Services services, std::string& why);

}  // namespace refmail::server
