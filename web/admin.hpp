// web/admin.hpp — the admin API (JSON over HTTP), served by refmaild on its 0600 unix
// socket (and on TCP only with the admin token). refmailctl is its client.
//   GET/POST /admin/v1/domains, DELETE /admin/v1/domains/{name}
//   GET/POST /admin/v1/users[?domain=], DELETE /admin/v1/users/{address},
//   POST /admin/v1/users/{address}/password
//   GET/POST /admin/v1/aliases, DELETE /admin/v1/aliases/{address}
//   GET /admin/v1/stats, POST /admin/v1/fsck (report only), POST /admin/v1/gc,
//   POST /admin/v1/backup {"dir"}, POST /admin/v1/index/rebuild {"account"?}
//   GET /admin/v1/queue, GET|DELETE /admin/v1/queue/{id}, POST /admin/v1/queue/{id}/retry,
//   POST /admin/v1/queue/{id}/hold, POST /admin/v1/queue/{id}/release,
//   POST /admin/v1/queue/retry-all, GET /admin/v1/rows/{account}[?mailbox=INBOX]
//   GET /admin/v1/sieve/{address} (scripts, vacation), GET|PUT|DELETE
//   /admin/v1/sieve/{address}/{name}, POST /admin/v1/sieve/{address} {"active"?, "vacation"?}
// SECURITY: every route requires Request::peer_trusted; otherwise 403. Passwords in
// requests are never logged; a generated password is returned once, never stored plain.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include "web/http.hpp"

namespace boost::json {
class object;
}

namespace refmail::storage {
class Store;
}
namespace refmail::search {
class Index;
}
namespace refmail::config {
struct Config;
}

namespace refmail::web {

class AdminApi {
 public:
  explicit AdminApi(storage::Store& store) : store_(store) {}
  [[nodiscard]] Response handle(const Request& req);
  // Called after a queue route made rows due (retry, release): wakes the relay worker.
  // Set once at start-up, before requests are served.
  void set_queue_notifier(std::function<void()> notify) { queue_notify_ = std::move(notify); }
  // The full-text index POST /admin/v1/index/rebuild rebuilds. Set once at start-up.
  void set_search(std::shared_ptr<search::Index> index) { search_ = std::move(index); }
  // [sieve]'s bounds for scripts put through /admin/v1/sieve (defaults without a call).
  // Set once at start-up; `cfg` outlives the API.
  void set_config(const config::Config& cfg) { cfg_ = &cfg; }

 private:
  [[nodiscard]] Response handle_queue(const Request& req, const std::string& rest);
  [[nodiscard]] Response handle_sieve(const Request& req, const std::string& rest, const boost::json::object& body);
  storage::Store& store_;
  const config::Config* cfg_ = nullptr;
  std::function<void()> queue_notify_;
  std::shared_ptr<search::Index> search_;
};

// A random password of 20 characters from a 54-symbol alphabet without look-alikes
// (about 115 bits), from OpenSSL's CSPRNG.
[[nodiscard]] std::string generate_password();

// The stats document shared by the admin API and the web admin page.
[[nodiscard]] std::string stats_json(storage::Store& store, int& status);

}  // namespace refmail::web
