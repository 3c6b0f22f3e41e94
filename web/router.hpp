// web/router.hpp — the public HTTP port's routes. Plain Request -> Response over the
// store; no sockets.
//   GET  /healthz
//   POST /api/login, /api/logout                 (auth.hpp: cookie sessions)
//   GET  /.well-known/jmap                       (JMAP session, RFC 8620 2)
//   POST /jmap/api                               (RFC 8620 3)
//   GET  /jmap/download/{accountId}/{blobId}/{name}?accept={type}
//   POST /jmap/upload/{accountId}/
//   GET  /jmap/eventsource?types=&closeafter=&ping=
//   GET  /api/admin/stats                        (admin accounts: savings report)
//   GET  /metrics                                (Prometheus; loopback or admin)
//   GET  anything else                           (static_files.hpp: the webmail)
// SECURITY: nothing here is trusted by address except /metrics from loopback; every
// route that reads mail authenticates (auth.hpp) and checks the account's rows and
// grants (jmap.hpp). Every request is counted and timed in Metrics.
#pragma once
#include <atomic>
#include <memory>

#include "config/config.hpp"
#include "web/auth.hpp"
#include "web/http.hpp"
#include "web/import_api.hpp"
#include "web/jmap.hpp"
#include "metrics/metrics.hpp"
#include "web/static_files.hpp"

namespace refmail::storage {
class Store;
}

namespace refmail::web {

class Router {
 public:
  // `metrics` is shared with server/ (SMTP counters); one is made when null.
  Router(storage::Store& store, const config::Config& cfg, std::shared_ptr<metrics::Metrics> metrics = nullptr,
         AuthOptions auth = {}, JmapLimits limits = {});
  [[nodiscard]] Response handle(const Request& req);
  // Whether `head` (a request's header, no body yet) carries valid credentials for an
  // authenticated route: only then may its body exceed the pre-authentication limit.
  [[nodiscard]] bool authenticated(const Request& head);
  // The password `handle(req)` would verify (Basic credentials on a route that
  // authenticates, not cached; the body of POST /api/login), so that server/ can wait
  // out the throttle and verify on its own pool first (Request::checked_password).
  [[nodiscard]] std::optional<PasswordAttempt> password_attempt(const Request& req);
  [[nodiscard]] metrics::Metrics& metrics() { return *metrics_; }
  // Enables /api/import/notify (the legacy server's new-mail webhook). REQUIRES: called
  // before the router serves requests.
  void set_import(std::shared_ptr<ImportContext> ctx) { import_ = std::move(ctx); }
  // The delivery service JMAP writes through (Jmap::set_delivery).
  void set_delivery(std::shared_ptr<delivery::Service> service) { jmap_.set_delivery(std::move(service)); }
  // The full-text index for Email/query (Jmap::set_search).
  void set_search(std::shared_ptr<search::Index> index) { jmap_.set_search(std::move(index)); }
  [[nodiscard]] std::shared_ptr<metrics::Metrics> shared_metrics() { return metrics_; }

 private:
  Response dispatch(const Request& req);
  Response admin_stats(const std::string& account);

  storage::Store& store_;
  const config::Config& cfg_;
  std::shared_ptr<metrics::Metrics> metrics_;
  Auth auth_;
  Jmap jmap_;
  std::atomic<std::int64_t> next_upload_expiry_{0};
  std::shared_ptr<ImportContext> import_;
  StaticFiles static_files_;  // the webmail (config [webmail])
};

// The savings report's top list: the `n` attachments referenced by the most mailbox
// rows (name, size, references, bytes saved = size * (references - 1)). Reads rows
// and summaries, never blob bytes.
[[nodiscard]] std::string top_shared_json(storage::Store& store, std::size_t n);

}  // namespace refmail::web
