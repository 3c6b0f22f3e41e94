// web/admin.hpp — the admin API (JSON over HTTP), served by refmaild on its 0600 unix
// socket (and on TCP only with the admin token). refmailctl is its client.
//   GET/POST /admin/v1/domains, DELETE /admin/v1/domains/{name}
//   GET/POST /admin/v1/users[?domain=], DELETE /admin/v1/users/{address},
//   POST /admin/v1/users/{address}/password
//   GET/POST /admin/v1/aliases, DELETE /admin/v1/aliases/{address}
//   GET /admin/v1/stats, POST /admin/v1/fsck (report only), POST /admin/v1/backup {"dir"}
// SECURITY: every route requires Request::peer_trusted; otherwise 403. Passwords in
// requests are never logged; a generated password is returned once, never stored plain.
#pragma once
#include "web/http.hpp"

namespace refmail::storage {
class Store;
}

namespace refmail::web {

class AdminApi {
 public:
  explicit AdminApi(storage::Store& store) : store_(store) {}
  [[nodiscard]] Response handle(const Request& req);

 private:
  storage::Store& store_;
};

// A random password of 20 characters from a 54-symbol alphabet without look-alikes
// (about 115 bits), from OpenSSL's CSPRNG.
[[nodiscard]] std::string generate_password();

// The stats document shared by the admin API and the web admin page.
[[nodiscard]] std::string stats_json(storage::Store& store, int& status);

}  // namespace refmail::web
