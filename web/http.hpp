// web/http.hpp — the plain request and response values that web/ handlers take and
// give. No sockets: server/ reads the bytes with Beast and fills a Request; a handler
// returns a Response that server/ writes. Handlers are pure functions over the store.
// A Response may carry a BodyStream (large downloads, read chunk by chunk on the
// blocking pool) or an EventSource (text/event-stream, polled by server/).
// SECURITY: `peer_trusted`, `tls`, `via_proxy` and `checked_password` are set by server/ only (unix admin
// socket, or a TCP admin request whose token matched; [proxy] trusted for forwarded headers); handlers
// never infer trust from headers.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/system/result.hpp>

#include "auth/verdict.hpp"

namespace refmail::web {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as received
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer;           // "127.0.0.1:5555" or "unix"
  bool peer_trusted = false;  // admin socket or valid admin token
  bool tls = false;           // the connection is TLS (through a trusted proxy: the client's, as it says)
  // The connection came from a trusted reverse proxy ([proxy] trusted); `peer` is then
  // the client it reported. No loopback privilege applies (peer_is_loopback() is false).
  bool via_proxy = false;
  // Set by server/ when it has already checked this request's password (throttle wait
  // and argon2 on its own pool, web::Router::password_attempt): the user name checked
  // and the outcome. web::Auth uses it instead of verifying again.
  struct CheckedPassword {
    std::string user;
    auth::Verdict verdict;
  };
  std::optional<CheckedPassword> checked_password;

  // First header with this name (case-insensitive), or "".
  [[nodiscard]] std::string_view header(std::string_view name) const;
  // Every header with this name, in the order received. The views live as long as
  // `headers` is not changed.
  [[nodiscard]] std::vector<std::string_view> header_values(std::string_view name) const;
  // The path without the query string.
  [[nodiscard]] std::string_view path() const;
  // The peer's IP address without the port ("unix" for the admin socket).
  [[nodiscard]] std::string peer_ip() const;
  // 127.0.0.0/8, ::1 or the unix socket, and not through a trusted proxy (whose own
  // address may well be loopback: the client behind it is not).
  [[nodiscard]] bool peer_is_loopback() const;
};

// A response body produced piece by piece. read() is called on the blocking pool,
// one call at a time, until it returns 0; an error ends the connection (the status
// line has been sent already). The stream owns (or outlives) whatever it reads.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // Exactly the number of bytes read() will produce in total (Content-Length).
  [[nodiscard]] virtual std::uint64_t size() const = 0;
  [[nodiscard]] virtual boost::system::result<std::size_t> read(std::span<char> out) = 0;
};

// A text/event-stream (server-sent events). server/ calls poll() on the blocking
// pool every interval() and writes whatever text it returns (nothing when empty),
// until the peer goes away or the daemon drains.
class EventSource {
 public:
  virtual ~EventSource() = default;
  [[nodiscard]] virtual std::chrono::milliseconds interval() const = 0;
  [[nodiscard]] virtual std::string poll() = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::shared_ptr<BodyStream> stream;   // when set, `body` is ignored
  std::shared_ptr<EventSource> events;  // when set, `body` and `stream` are ignored
  std::string log_detail;  // for the server's log only, never sent (an internal error's cause)
};

// {"error": message} with the given status.
[[nodiscard]] Response error_response(int status, std::string_view message);

// %XX unescaping of a URL path segment or query value ('+' kept as is).
[[nodiscard]] std::string unescape_url(std::string_view s);
// The value of `key` in the target's query string, unescaped; "" if absent.
[[nodiscard]] std::string query_value(std::string_view target, std::string_view key);

}  // namespace refmail::web
