// server/managesieve_server.hpp — the ManageSieve listener (RFC 5804; [listen]
// managesieve, 127.0.0.1:4190 by default): STARTTLS before AUTHENTICATE PLAIN. One
// coroutine per connection drives a managesieve::Session (managesieve/session.hpp); its
// script requests run on the store (storage/sieve.cpp) on the blocking pool.
// SECURITY: see managesieve_server.cpp; PLAIN without TLS only from loopback by config.
#pragma once
#include <cstddef>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "managesieve/session.hpp"
#include "server/listeners.hpp"
#include "storage/types.hpp"

namespace refmail::storage {
class Store;
}

namespace refmail::server {

struct ManageSieveListenerConfig {
  std::string name = "managesieve";  // logs, metric labels, [proxy] proxy_protocol
  std::size_t budget = 0;            // ConnectionTracker::add_listener id
  bool proxy_protocol = false;
};

// Runs one script request of `account` on the store and maps the store's errors to
// RFC 5804 response codes (not_found: NONEXISTENT, in_use: ACTIVE, exists:
// ALREADYEXISTS, too_large: QUOTA/MAXSIZE, quota_exceeded: QUOTA/MAXSCRIPTS,
// invalid_argument: a plain NO, anything else: TRYLATER). Blocks: call it on the pool.
[[nodiscard]] managesieve::ScriptReply run_script_request(storage::Store& store, const std::string& account,
                                                          const managesieve::ScriptRequest& request,
                                                          const storage::SieveLimits& limits);


// Accepts until `acceptor` is closed. REQUIRES: `acceptor` outlives the coroutine;
// svc.tls, svc.passwords, svc.metrics and svc.trusted_proxies are set (start_listeners).
asio::awaitable<void> serve_managesieve(asio::ip::tcp::acceptor& acceptor, ManageSieveListenerConfig lc,
                                        Services svc);

}  // namespace refmail::server
