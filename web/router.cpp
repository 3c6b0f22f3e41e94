// web/router.cpp — see router.hpp.
#include "web/router.hpp"

namespace refmail::web {

Response Router::handle(const Request& req) {
  if (req.path() == "/healthz" && (req.method == "GET" || req.method == "HEAD")) {
    Response r;
    r.body = "{\"status\":\"ok\"}";
    return r;
  }
  (void)store_;
  (void)cfg_;
  return error_response(404, "not found");
}

}  // namespace refmail::web
