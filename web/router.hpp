// web/router.hpp — the public HTTP port's routes: health, and (as they land) JMAP,
// downloads/uploads, the webmail's files, /metrics and /api/admin. Plain
// Request -> Response over the store; no sockets.
// SECURITY: nothing here is trusted by address; every route that reads mail checks
// the account's credentials and grants.
#pragma once
#include "config/config.hpp"
#include "web/http.hpp"

namespace refmail::storage {
class Store;
}

namespace refmail::web {

class Router {
 public:
  Router(storage::Store& store, const config::Config& cfg) : store_(store), cfg_(cfg) {}
  [[nodiscard]] Response handle(const Request& req);

 private:
  storage::Store& store_;
  const config::Config& cfg_;
};

}  // namespace refmail::web
