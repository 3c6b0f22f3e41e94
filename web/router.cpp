// web/router.cpp — see router.hpp.
#include "web/router.hpp"

#include <algorithm>
#include <map>

#include <boost/json.hpp>

#include "delivery/spam.hpp"
#include "mime/summary.hpp"
#include "storage/store.hpp"
#include "web/admin.hpp"
#include "config/mta_sts.hpp"
#include "web/autoconfig.hpp"

namespace refmail::web {

namespace json = boost::json;

Router::Router(storage::Store& store, const config::Config& cfg, std::shared_ptr<metrics::Metrics> metrics, AuthOptions auth,
               JmapLimits limits)
    : store_(store),
      cfg_(cfg),
      metrics_(metrics ? std::move(metrics) : std::make_shared<metrics::Metrics>()),
      auth_(store, auth),
      jmap_(store, cfg, limits),
      static_files_(!cfg.webmail.enabled ? std::string()
                    : !cfg.webmail.dir.empty() ? cfg.webmail.dir
                                               : std::string(REFMAIL_WEBMAIL_DIST)) {}

Response Router::handle(const Request& req) {
  auto started = std::chrono::steady_clock::now();
  // Upload holds expire lazily here (at most every 10 minutes) until the daemon has a timer.
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  std::int64_t due = next_upload_expiry_.load();
  if (now.time_since_epoch().count() >= due &&
      next_upload_expiry_.compare_exchange_strong(due, now.time_since_epoch().count() + 600)) {
    (void)store_.expire_uploads(now);
  }
  Response r;
  // No request may end the process: an exception on the way (a bug) answers this
  // request with 500, is logged by the server (status) and counted here.
  try {
    r = dispatch(req);
  } catch (const std::exception& e) {
    metrics_->add("refmail_internal_errors_total{task=\"http\"}");
    r = error_response(500, "internal error");
    r.log_detail = e.what();
  } catch (...) {
    metrics_->add("refmail_internal_errors_total{task=\"http\"}");
    r = error_response(500, "internal error");
    r.log_detail = "non-standard exception";
  }
  metrics_->observe_http(r.status, std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::steady_clock::now() - started));
  return r;
}

bool Router::authenticated(const Request& head) {
  std::string_view path = head.path();
  bool authed_route = path == "/jmap/api" || path.starts_with("/jmap/upload/");
  if (!authed_route) return false;
  Response err;
  return auth_.authenticate(head, err).has_value();
}

std::optional<PasswordAttempt> Router::password_attempt(const Request& req) {
  std::string_view path = req.path();
  if (path == "/api/login") return auth_.login_attempt(req);
  bool authenticates = path == "/.well-known/jmap" || path.starts_with("/jmap/") || path == "/api/admin/stats" ||
                       (path.starts_with("/api/messages/") && path.ends_with(".html")) ||
                       (path == "/metrics" && !req.peer_is_loopback() && !req.peer_trusted);
  if (!authenticates) return std::nullopt;
  return auth_.basic_attempt(req);
}

Response Router::dispatch(const Request& req) {
  std::string_view path = req.path();
  const std::string& m = req.method;
  if (path == "/healthz" && (m == "GET" || m == "HEAD")) {
    Response r;
    r.body = "{\"status\":\"ok\"}";
    return r;
  }
  // Mail client set-up (web/autoconfig.hpp): public, no account.
  if ((path == "/.well-known/autoconfig/mail/config-v1.1.xml" || path == "/mail/config-v1.1.xml") &&
      (m == "GET" || m == "HEAD")) {
    Response r;
    r.content_type = "application/xml; charset=utf-8";
    r.body = autoconfig_xml(cfg_, query_value(req.target, "emailaddress"));
    return r;
  }
  // The MTA-STS policy (RFC 8461 3.3), when [auth] mta_sts_mode publishes one: public;
  // senders fetch it over HTTPS at mta-sts.<domain> (a TLS front for this listener).
  if (path == "/.well-known/mta-sts.txt" && (m == "GET" || m == "HEAD")) {
    auto policy = config::mta_sts_policy(cfg_);
    if (policy.empty()) return error_response(404, "no MTA-STS policy is published ([auth] mta_sts_mode)");
    Response r;
    r.content_type = "text/plain";
    r.body = std::move(policy);
    return r;
  }
  if (path == "/api/login") return auth_.login(req);
  if (path == "/api/logout") return auth_.logout(req);
  if (path == "/metrics") {
    if (m != "GET") return error_response(405, "use GET");
    if (!req.peer_is_loopback() && !req.peer_trusted) {
      Response err;
      auto account = auth_.authenticate(req, err);
      if (!account) return err;
      auto u = store_.get_user(*account);
      if (!u || !u->is_admin) return error_response(403, "admin accounts only");
    }
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_->render(&store_);
    return r;
  }
  // The import webhook authenticates with its source's token, not an account.
  if (path == "/api/import/notify") {
    if (!import_) return error_response(404, "import is not configured");
    return handle_import(req, *import_);
  }
  bool html_view = path.starts_with("/api/messages/") && path.ends_with(".html");
  bool jmap_route = path == "/.well-known/jmap" || path.starts_with("/jmap/") || path == "/api/admin/stats";
  if (!jmap_route && !html_view) {
    // API namespaces keep their JSON 404; every other path is the webmail's.
    bool api = path.starts_with("/api/") || path.starts_with("/jmap") || path.starts_with("/admin/") ||
               path.starts_with("/.well-known/");
    if (api) return error_response(404, "not found");
    return static_files_.serve(req);
  }
  Response err;
  auto account = auth_.authenticate(req, err);
  if (!account) return err;
  if (path == "/.well-known/jmap") {
    if (m != "GET") return error_response(405, "use GET");
    return jmap_.session(*account);
  }
  if (html_view) return handle_message_html(req, store_, *account);  // grant rules as downloads
  if (path == "/jmap/api") return jmap_.api(*account, req);
  if (path.starts_with("/jmap/download/")) return jmap_.download(*account, path.substr(15), req);
  if (path.starts_with("/jmap/upload/")) return jmap_.upload(*account, path.substr(13), req);
  if (path == "/jmap/eventsource") return jmap_.event_source(*account, req);
  if (path == "/api/admin/stats") {
    if (m != "GET") return error_response(405, "use GET");
    return admin_stats(*account);
  }
  return error_response(404, "not found");
}

namespace {

// What spam filtering and Sieve did since refmaild started: the counters /metrics serves
// (server/smtp_server.cpp and server/rspamd.cpp add to them).
json::object filtering_json(const metrics::Metrics& m) {
  using delivery::SpamAction;
  json::array actions;
  for (auto a : {SpamAction::no_action, SpamAction::greylist, SpamAction::add_header, SpamAction::rewrite_subject,
                 SpamAction::soft_reject, SpamAction::reject, SpamAction::unchecked}) {
    const auto name = delivery::to_string(a);
    actions.push_back(json::object{
        {"action", name}, {"count", m.counter(metrics::with_label("refmail_spam_actions_total", "action", name))}});
  }
  json::array learned;
  for (std::string_view result : {"spam", "ham", "failed", "dropped"}) {
    learned.push_back(json::object{
        {"result", result}, {"count", m.counter(metrics::with_label("refmail_spam_learn_total", "result", result))}});
  }
  return json::object{{"spam_actions", std::move(actions)},
                      {"spam_learned", std::move(learned)},
                      {"spam_outbound_blocked", m.counter("refmail_spam_outbound_blocked_total")},
                      {"sieve_errors", m.counter("refmail_sieve_errors_total")},
                      {"vacation_replies", m.counter("refmail_sieve_vacation_replies_total")}};
}

}  // namespace

Response Router::admin_stats(const std::string& account) {
  auto u = store_.get_user(account);
  if (!u || !u->is_admin) return error_response(403, "admin accounts only");
  Response r;
  std::string doc = stats_json(store_, r.status);
  if (r.status != 200) {
    r.body = std::move(doc);
    return r;
  }
  boost::system::error_code ec;
  json::value v = json::parse(doc, ec);
  json::value top = json::parse(top_shared_json(store_, 20), ec);
  if (v.is_object() && !ec) v.as_object()["top_shared"] = std::move(top);
  if (v.is_object()) v.as_object()["filtering"] = filtering_json(*metrics_);
  r.body = json::serialize(v);
  return r;
}

std::string top_shared_json(storage::Store& store, std::size_t n) {
  struct Entry {
    std::string name;
    std::uint64_t size = 0;
    std::uint64_t refs = 0;
  };
  std::map<std::string, Entry> blobs;
  std::map<std::string, std::vector<std::pair<std::string, std::pair<std::string, std::uint64_t>>>> per_message;
  auto users = store.list_users();
  if (users) {
    for (const auto& u : *users) {
      auto rows = store.list_account_rows(u.address);
      if (!rows) continue;
      for (const auto& row : *rows) {
        auto it = per_message.find(row.message_id);
        if (it == per_message.end()) {
          std::vector<std::pair<std::string, std::pair<std::string, std::uint64_t>>> atts;
          if (auto msg = store.get_message(row.message_id)) {
            if (auto s = mime::Summary::parse(msg->record.summary)) {
              for (const auto& a : s->attachments) {
                if (!a.blob_id.empty()) atts.push_back({a.blob_id, {a.name, a.size}});
              }
            }
          }
          it = per_message.emplace(row.message_id, std::move(atts)).first;
        }
        for (const auto& [id, meta] : it->second) {
          auto& e = blobs[id];
          if (e.name.empty()) e.name = meta.first;
          e.size = meta.second;
          ++e.refs;
        }
      }
    }
  }
  std::vector<std::pair<std::string, Entry>> v(blobs.begin(), blobs.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    std::uint64_t sa = a.second.size * (a.second.refs - 1), sb = b.second.size * (b.second.refs - 1);
    if (a.second.refs != b.second.refs) return a.second.refs > b.second.refs;
    if (sa != sb) return sa > sb;
    return a.first < b.first;
  });
  json::array out;
  for (std::size_t i = 0; i < v.size() && i < n; ++i) {
    const auto& [id, e] = v[i];
    out.push_back(json::object{{"blob_id", id},
                               {"name", e.name},
                               {"size", e.size},
                               {"references", e.refs},
                               {"bytes_saved", e.size * (e.refs - 1)}});
  }
  return json::serialize(out);
}

}  // namespace refmail::web
