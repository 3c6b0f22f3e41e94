// web/http.hpp — the plain request and response values that web/ handlers take and
// give. No sockets: server/ reads the bytes with Beast and fills a Request; a handler
// returns a Response that server/ writes. Handlers are pure functions over the store.
// SECURITY: `peer_trusted` is set by server/ only (unix admin socket, or a TCP admin
// request whose token matched); handlers never infer trust from headers.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace refmail::web {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as received
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer;           // "127.0.0.1:5555" or "unix"
  bool peer_trusted = false;  // admin socket or valid admin token

  // First header with this name (case-insensitive), or "".
  [[nodiscard]] std::string_view header(std::string_view name) const;
  // The path without the query string.
  [[nodiscard]] std::string_view path() const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// {"error": message} with the given status.
[[nodiscard]] Response error_response(int status, std::string_view message);

}  // namespace refmail::web
