// web/import_api.cpp — see import_api.hpp. Parsing is strict (types checked, sizes
// bounded); enqueueing is one batch of pending-UID keys plus, when no job is pending
// for the mailbox, one new job and its marker.
#include "web/import_api.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <initializer_list>
#include <set>

#include <boost/beast/core/detail/base64.hpp>
#include <boost/json.hpp>

#include "delivery/import_keys.hpp"
#include "metrics/metrics.hpp"
#include "mime/summary.hpp"
#include "storage/store.hpp"
#include "web/jmap.hpp"
#include "web/jmap_internal.hpp"

namespace refmail::web {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxBody = 64 * 1024;
constexpr std::size_t kMaxUids = 10000;

std::optional<std::uint32_t> as_u32(const json::value& v) {
  if (v.is_int64() && v.as_int64() > 0 && v.as_int64() <= 0xffffffffLL) return static_cast<std::uint32_t>(v.as_int64());
  if (v.is_uint64() && v.as_uint64() > 0 && v.as_uint64() <= 0xffffffffULL) return static_cast<std::uint32_t>(v.as_uint64());
  if (v.is_string()) {  // some agents send numbers as strings
    const auto& s = v.as_string();
    if (s.empty() || s.size() > 10) return std::nullopt;
    std::uint64_t n = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (n == 0 || n > 0xffffffffULL) return std::nullopt;
    return static_cast<std::uint32_t>(n);
  }
  return std::nullopt;
}

bool safe_name(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (c == '\0' || c == '\r' || c == '\n') return false;
  return true;
}

bool token_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Bearer <token>, or Basic base64(user:token) (what the ox driver's URL user:pass sends).
struct Credentials {
  std::string user;
  std::string token;
};
Credentials credentials(const Request& req) {
  Credentials c;
  std::string_view h = req.header("Authorization");
  if (h.size() > 7 && (h.substr(0, 7) == "Bearer " || h.substr(0, 7) == "bearer ")) {
    c.token.assign(h.substr(7));
  } else if (h.size() > 6 && (h.substr(0, 6) == "Basic " || h.substr(0, 6) == "basic ")) {
    auto b64 = h.substr(6);
    if (b64.size() > 1024) return c;
    std::string dec(boost::beast::detail::base64::decoded_size(b64.size()), '\0');
    auto [n, used] = boost::beast::detail::base64::decode(dec.data(), b64.data(), b64.size());
    dec.resize(n);
    auto colon = dec.find(':');
    if (colon != std::string::npos) {
      c.user = dec.substr(0, colon);
      c.token = dec.substr(colon + 1);
    }
  }
  return c;
}

// An error for result<T, std::string>.
struct Err {
  std::string why;
  template <class T>
  operator boost::system::result<T, std::string>() const {  // NOLINT(google-explicit-constructor)
    return boost::system::result<T, std::string>(boost::system::in_place_error, why);
  }
};

}  // namespace


std::string import_job_payload(std::string_view source, std::string_view user, std::string_view mailbox, bool full) {
  json::object o{{"source", source}, {"user", user}, {"mailbox", mailbox}, {"full", full}};
  return json::serialize(o);
}

boost::system::result<ImportNotification, std::string> parse_notification(std::string_view body) {
  if (body.size() > kMaxBody) return Err{std::string("body too large")};
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return Err{std::string("malformed JSON: expected an object")};
  const auto& o = v.as_object();
  ImportNotification n;
  auto str = [&](std::string_view key, std::string& out, std::size_t max) -> std::optional<std::string> {
    auto* p = o.if_contains(key);
    if (!p) return std::nullopt;
    if (!p->is_string() || !safe_name(p->as_string(), max)) return "'" + std::string(key) + "' must be a non-empty string";
    out.assign(p->as_string().data(), p->as_string().size());
    return std::nullopt;
  };
  if (auto e = str("source", n.source, 64)) return Err{*e};
  if (auto e = str("user", n.user, 320)) return Err{*e};
  if (n.user.empty()) return Err{std::string("'user' is required")};
  if (o.contains("folder") || o.contains("event") || o.contains("imap-uid")) {
    // Dovecot push_notification, ox driver.
    if (auto e = str("folder", n.mailbox, 512)) return Err{*e};
    std::string event;
    if (auto e = str("event", event, 64)) return Err{*e};
    if (!event.empty() && event != "messageNew" && event != "MessageNew" && event != "messageAppend" &&
        event != "MessageAppend") {
      n.ignored = true;
      return n;
    }
    if (auto* p = o.if_contains("imap-uidvalidity")) {
      auto u = as_u32(*p);
      if (!u) return Err{std::string("'imap-uidvalidity' must be a positive 32-bit number")};
      n.uidvalidity = *u;
    }
    auto* p = o.if_contains("imap-uid");
    if (!p) return Err{std::string("'imap-uid' is required")};
    auto u = as_u32(*p);
    if (!u) return Err{std::string("'imap-uid' must be a positive 32-bit number")};
    n.uids.push_back(*u);
    return n;
  }
  if (auto e = str("mailbox", n.mailbox, 512)) return Err{*e};
  if (auto* p = o.if_contains("uidvalidity")) {
    auto u = as_u32(*p);
    if (!u) return Err{std::string("'uidvalidity' must be a positive 32-bit number")};
    n.uidvalidity = *u;
  }
  if (auto* p = o.if_contains("uids")) {
    if (!p->is_array()) return Err{std::string("'uids' must be an array")};
    if (p->as_array().size() > kMaxUids) return Err{std::string("too many uids (max 10000 per notification)")};
    for (const auto& e : p->as_array()) {
      auto u = as_u32(e);
      if (!u) return Err{std::string("'uids' must hold positive 32-bit numbers")};
      n.uids.push_back(*u);
    }
  }
  if (auto* p = o.if_contains("full")) {
    if (!p->is_bool()) return Err{std::string("'full' must be true or false")};
    n.full = p->as_bool();
  }
  if (n.uids.empty() && !n.full) return Err{std::string("'uids' is empty (or set \"full\": true)")};
  std::sort(n.uids.begin(), n.uids.end());
  n.uids.erase(std::unique(n.uids.begin(), n.uids.end()), n.uids.end());
  return n;
}

boost::system::result<EnqueueResult, std::string> enqueue_notification(storage::Store& store,
                                                                       const config::Import& cfg,
                                                                       const ImportNotification& n,
                                                                       storage::UnixSeconds now) {
  const auto* m = cfg.find_mapping(n.source, n.user);
  if (!m) return Err{std::string("no mapping for user " + n.user + " of source " + n.source)};
  auto mb = delivery::import_keys::mbox(n.source, n.user, n.mailbox);
  EnqueueResult out;
  std::vector<storage::ImportStateOp> ops;
  std::string uv = std::to_string(n.uidvalidity);
  for (auto uid : n.uids) ops.push_back({delivery::import_keys::pending(mb, uid), uv});
  auto marker = store.get_import_state(delivery::import_keys::marker(mb));
  if (!marker) return Err{"store: " + storage::error_detail(marker.error())};
  if (*marker && !n.full) {
    out.job_id = **marker;  // coalesced into the pending job
  } else {
    out.due = n.full ? now : now + cfg.coalesce_window;
    // The job first, then its marker with the UIDs: a crash in between leaves a job
    // with nothing to do, never UIDs without a job.
    auto id = store.enqueue_import(m->account, import_job_payload(n.source, n.user, n.mailbox, n.full), out.due);
    if (!id) return Err{"store: " + storage::error_detail(id.error())};
    out.job_id = *id;
    out.new_job = true;
    if (!n.full) ops.push_back({delivery::import_keys::marker(mb), *id});
  }
  auto w = store.write_import_state(ops);
  if (!w) return Err{"store: " + storage::error_detail(w.error())};
  return out;
}

Response handle_import(const Request& req, ImportContext& ctx) {
  if (req.path() != "/api/import/notify") return error_response(404, "not found");
  if (req.method != "POST" && req.method != "PUT") {
    auto r = error_response(405, "use POST or PUT");
    r.headers.emplace_back("Allow", "POST, PUT");
    return r;
  }
  if (req.body.size() > kMaxBody) return error_response(413, "notification too large");
  auto creds = credentials(req);
  auto parsed = parse_notification(req.body);
  if (!parsed) return error_response(400, parsed.error());
  ImportNotification n = std::move(*parsed);
  if (n.source.empty()) n.source = query_value(req.target, "source");
  if (n.source.empty()) n.source = creds.user;
  const auto* src = ctx.cfg.import.find_source(n.source);
  // Unknown source, no token configured and a wrong token answer alike.
  if (!src || src->token.empty() || !token_equal(creds.token, src->token)) {
    auto r = error_response(401, "unknown source or bad token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"refmail-import\"");
    return r;
  }
  if (n.ignored) return Response{200, "application/json", {}, R"({"ignored":true})", nullptr, nullptr};
  if (!ctx.cfg.import.find_mapping(n.source, n.user)) return error_response(404, "unknown user for this source");
  if (n.full) return error_response(400, "full copies are started with refmailctl import run");
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  auto q = enqueue_notification(ctx.store, ctx.cfg.import, n, now);
  if (!q) return error_response(503, q.error());
  if (q->new_job && ctx.wake) ctx.wake(q->due);
  if (ctx.metrics) {
    ctx.metrics->add(metrics::with_label("refmail_import_notifications_total", "source", n.source));
    if (q->new_job) ctx.metrics->add(metrics::with_label("refmail_import_jobs_enqueued_total", "source", n.source));
  }
  json::object o{{"job", q->job_id}, {"queued", n.uids.size()}, {"coalesced", !q->new_job}};
  return Response{202, "application/json", {}, json::serialize(o), nullptr, nullptr};
}

Response handle_admin_import(const Request& req, ImportContext& ctx) {
  auto path = req.path();
  const auto& icfg = ctx.cfg.import;
  if (path == "/admin/v1/import" && req.method == "GET") {
    json::array sources;
    for (const auto& s : icfg.sources) {
      json::object o{{"source", s.name}, {"host", s.host}, {"port", s.port}};
      auto st = ctx.store.get_import_state(delivery::import_keys::stats(s.name));
      if (st && *st) {
        boost::system::error_code ec;
        auto v = json::parse(**st, ec);
        if (!ec && v.is_object())
          for (const auto& kv : v.as_object()) o[kv.key()] = kv.value();
      }
      std::string prefix = std::string(s.name) + '\0';
      auto jobs = ctx.store.scan_import_state("P" + prefix, 100000);
      auto uids = ctx.store.scan_import_state("Q" + prefix, 1000000);
      o["pending_jobs"] = jobs ? jobs->size() : 0;
      o["pending_uids"] = uids ? uids->size() : 0;
      std::size_t mappings = 0;
      for (const auto& m : icfg.mappings) mappings += m.source == s.name;
      o["mappings"] = mappings;
      sources.push_back(std::move(o));
    }
    auto all = ctx.store.due_imports(storage::UnixSeconds::max(), 100000);
    json::object out{{"sources", std::move(sources)}, {"queued_jobs", all ? all->size() : 0}};
    return Response{200, "application/json", {}, json::serialize(out), nullptr, nullptr};
  }
  if (path == "/admin/v1/import/run" && req.method == "POST") {
    boost::system::error_code ec;
    auto v = json::parse(req.body, ec);
    if (ec || !v.is_object()) return error_response(400, "expected {\"source\", \"user\"}");
    const auto& o = v.as_object();
    auto* s = o.if_contains("source");
    auto* u = o.if_contains("user");
    if (!s || !u || !s->is_string() || !u->is_string()) return error_response(400, "expected {\"source\", \"user\"}");
    std::string source(s->as_string()), user(u->as_string());
    const auto* m = icfg.find_mapping(source, user);
    if (!m) return error_response(404, "no mapping for user " + user + " of source " + source);
    std::vector<std::string> boxes = m->mailboxes;
    if (auto* mb = o.if_contains("mailbox")) {
      if (!mb->is_string() || !safe_name(mb->as_string(), 512)) return error_response(400, "bad mailbox");
      boxes = {std::string(mb->as_string())};
    }
    auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    json::array jobs;
    for (const auto& b : boxes) {
      ImportNotification n;
      n.source = source;
      n.user = user;
      n.mailbox = b;
      n.full = true;
      auto q = enqueue_notification(ctx.store, icfg, n, now);
      if (!q) return error_response(503, q.error());
      if (ctx.wake) ctx.wake(q->due);
      if (ctx.metrics && q->new_job) ctx.metrics->add(metrics::with_label("refmail_import_jobs_enqueued_total", "source", source));
      jobs.push_back(json::object{{"mailbox", b}, {"job", q->job_id}});
    }
    return Response{202, "application/json", {}, json::serialize(json::object{{"jobs", std::move(jobs)}}), nullptr,
                    nullptr};
  }
  return error_response(404, "not found");
}

}  // namespace refmail::web
