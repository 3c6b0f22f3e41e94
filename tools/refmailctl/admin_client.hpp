// tools/refmailctl/admin_client.hpp — a small HTTP/1.1 client for refmaild's admin
// API over its unix socket (or TCP with a bearer token). One request per
// connection ("Connection: close"); the response is read to its Content-Length.
// SECURITY: the response size is capped; nothing here trusts the server's text
// beyond printing it.
#pragma once
#include <string>

namespace refmail::tools {

struct AdminResponse {
  int status = 0;     // HTTP status; 0 when no daemon answered
  std::string body;   // JSON text
  std::string error;  // set when status == 0: why we could not talk to the daemon
};

class AdminClient {
 public:
  explicit AdminClient(std::string socket_path) : socket_path_(std::move(socket_path)) {}
  [[nodiscard]] AdminResponse call(const std::string& method, const std::string& path,
                                   const std::string& json_body = {}) const;
  [[nodiscard]] const std::string& socket_path() const { return socket_path_; }

 private:
  std::string socket_path_;
};

// One path segment of an admin route: everything but letters, digits and @.-_+
// percent-encoded (the daemon decodes it).
[[nodiscard]] std::string url_escape(const std::string& s);

}  // namespace refmail::tools
