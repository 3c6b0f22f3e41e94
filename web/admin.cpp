// web/admin.cpp — see admin.hpp. Routes are matched on method + path prefix; bodies
// are JSON objects; every store error becomes a status with the store's one-line detail.
#include "web/admin.hpp"

#include <openssl/rand.h>

#include <cctype>
#include <chrono>
#include <set>

#include <boost/json.hpp>

#include "config/config.hpp"
#include "delivery/queue_envelope.hpp"
#include "delivery/sieve_filter.hpp"
#include "search/index.hpp"
#include "storage/store.hpp"

namespace refmail::web {
namespace {

namespace json = boost::json;

Response json_ok(const json::value& v, int status = 200) {
  Response r;
  r.status = status;
  r.body = json::serialize(v);
  return r;
}

int status_for(const boost::system::error_code& ec) {
  using storage::errc;
  if (ec.category() != storage::storage_category()) return 500;
  switch (static_cast<errc>(ec.value())) {
    case errc::not_found: return 404;
    case errc::exists: return 409;
    case errc::not_empty: return 409;
    case errc::invalid_argument: return 400;
    case errc::not_local_domain: return 400;
    case errc::busy: return 503;
    case errc::locked: return 503;
    default: return 500;
  }
}

Response store_error(const boost::system::error_code& ec) {
  return error_response(status_for(ec), storage::error_detail(ec));
}

// Parses the request body as a JSON object ({} when empty).
bool body_object(const Request& req, json::object& out, Response& err) {
  if (req.body.empty()) {
    out = {};
    return true;
  }
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object()) {
    err = error_response(400, "the request body must be a JSON object");
    return false;
  }
  out = std::move(v.as_object());
  return true;
}

bool string_field(const json::object& o, std::string_view key, std::string& out) {
  const auto* p = o.if_contains(key);
  if (!p || !p->is_string()) return false;
  out = std::string(p->as_string());
  return true;
}

json::object usage_rows(const std::map<std::string, storage::Usage>& m, std::string_view key,
                        json::object& doc) {
  json::array rows;
  for (const auto& [name, u] : m) {
    rows.push_back(json::object{{"name", name}, {"logical_bytes", u.logical_bytes}, {"messages", u.messages}});
  }
  doc[key] = std::move(rows);
  return doc;
}

}  // namespace

std::string generate_password() {
  static constexpr char kAlphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  constexpr std::size_t n = sizeof(kAlphabet) - 1;
  std::string pw;
  while (pw.size() < 20) {
    unsigned char b[32];
    if (RAND_bytes(b, sizeof b) != 1) std::abort();  // no CSPRNG: nothing safe to do
    for (unsigned char c : b) {
      // Rejection sampling keeps every symbol equally likely.
      if (c < 256 - 256 % n && pw.size() < 20) pw.push_back(kAlphabet[c % n]);
    }
  }
  return pw;
}

std::string stats_json(storage::Store& store, int& status) {
  auto s = store.stats();
  if (!s) {
    status = status_for(s.error());
    return json::serialize(json::object{{"error", storage::error_detail(s.error())}});
  }
  json::object doc{{"logical_bytes", s->logical_bytes}, {"physical_bytes", s->physical_bytes},
                   {"saving_ratio", s->saving_ratio},   {"blobs", s->blobs},
                   {"messages", s->messages},           {"mailbox_rows", s->mailbox_rows}};
  // The relay queue: rows, and the age of the oldest queued message (over the first
  // kQueueStatsRows rows, so a huge queue cannot make stats slow).
  constexpr std::size_t kQueueStatsRows = 10000;
  auto q = store.due_queue(storage::UnixSeconds(std::chrono::seconds(delivery::kQueueHeldDue)), kQueueStatsRows);
  std::int64_t oldest = 0;
  if (q) {
    const auto now = std::chrono::system_clock::now();
    std::set<std::string> seen;
    for (const auto& row : *q) {
      if (!seen.insert(row.message_id).second) continue;
      auto m = store.get_message(row.message_id);
      if (!m) continue;
      oldest = std::max<std::int64_t>(
          oldest, std::chrono::duration_cast<std::chrono::seconds>(now - m->created).count());
    }
  }
  doc["queue_size"] = q ? q->size() : 0;
  doc["queue_oldest_seconds"] = oldest;
  usage_rows(s->per_domain, "domains", doc);
  usage_rows(s->per_account, "accounts", doc);
  status = 200;
  return json::serialize(doc);
}

Response AdminApi::handle(const Request& req) {
  if (!req.peer_trusted) return error_response(403, "the admin API needs the admin socket or token");
  std::string_view path = req.path();
  const std::string& m = req.method;
  constexpr std::string_view kPrefix = "/admin/v1/";
  if (!path.starts_with(kPrefix)) return error_response(404, "no such admin route");
  path.remove_prefix(kPrefix.size());
  json::object body;
  Response bad;
  if ((m == "POST" || m == "PUT") && !body_object(req, body, bad)) return bad;

  auto split_route = [&](std::string_view base, std::string& rest) {
    if (path == base) return true;
    if (path.starts_with(std::string(base) + "/")) {
      rest = unescape_url(path.substr(base.size() + 1));
      return true;
    }
    return false;
  };
  std::string rest;

  if (split_route("domains", rest)) {
    if (m == "GET" && rest.empty()) {
      auto d = store_.list_domains();
      if (!d) return store_error(d.error());
      json::array arr;
      for (auto& x : *d) arr.push_back(json::object{{"name", x}});
      return json_ok(json::object{{"domains", arr}});
    }
    if (m == "POST" && rest.empty()) {
      std::string name;
      if (!string_field(body, "name", name)) return error_response(400, "\"name\" is required");
      if (auto r = store_.add_domain(name); !r) return store_error(r.error());
      return json_ok(json::object{{"name", name}}, 201);
    }
    if (m == "DELETE" && !rest.empty()) {
      if (auto r = store_.remove_domain(rest); !r) return store_error(r.error());
      return json_ok(json::object{{"removed", rest}});
    }
  } else if (split_route("users", rest)) {
    if (m == "GET" && rest.empty()) {
      auto u = store_.list_users(query_value(req.target, "domain"));
      if (!u) return store_error(u.error());
      json::array arr;
      for (auto& x : *u) {
        arr.push_back(json::object{{"address", x.address},
                                   {"admin", x.is_admin},
                                   {"quota_bytes", x.quota_bytes},
                                   {"logical_bytes", x.used_bytes},
                                   {"messages", x.messages}});
      }
      return json_ok(json::object{{"users", arr}});
    }
    if (m == "POST" && rest.empty()) {
      std::string address, password;
      if (!string_field(body, "address", address)) return error_response(400, "\"address\" is required");
      bool generated = !string_field(body, "password", password);
      if (generated) password = generate_password();
      bool is_admin = body.contains("admin") && body.at("admin").is_bool() && body.at("admin").as_bool();
      std::uint64_t quota = 0;
      if (const auto* q = body.if_contains("quota_bytes"); q && (q->is_uint64() || q->is_int64())) {
        quota = q->is_uint64() ? q->as_uint64() : static_cast<std::uint64_t>(std::max<std::int64_t>(0, q->as_int64()));
      }
      if (auto r = store_.add_user(address, password, is_admin, quota); !r) return store_error(r.error());
      json::object out{{"address", address}};
      if (generated) out["password"] = password;
      return json_ok(out, 201);
    }
    if (m == "DELETE" && !rest.empty()) {
      if (auto r = store_.remove_user(rest); !r) return store_error(r.error());
      // Its full-text index goes too (a failure leaves a folder no account reads: the
      // same address re-created rebuilds over it, its change log being gone).
      if (search_) {
        std::string account = rest;
        for (auto& c : account) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        (void)search_->drop(account);
      }
      return json_ok(json::object{{"removed", rest}});
    }
    if (m == "POST" && rest.ends_with("/password")) {
      std::string address = rest.substr(0, rest.size() - 9);
      std::string password;
      bool generated = !string_field(body, "password", password);
      if (generated) password = generate_password();
      if (auto r = store_.set_password(address, password); !r) return store_error(r.error());
      json::object out{{"address", address}};
      if (generated) out["password"] = password;
      return json_ok(out);
    }
  } else if (split_route("aliases", rest)) {
    if (m == "GET" && rest.empty()) {
      auto a = store_.list_aliases(query_value(req.target, "domain"));
      if (!a) return store_error(a.error());
      json::array arr;
      for (auto& x : *a) {
        json::array t;
        for (auto& y : x.targets) t.emplace_back(y);
        arr.push_back(json::object{{"address", x.address}, {"targets", t}});
      }
      return json_ok(json::object{{"aliases", arr}});
    }
    if (m == "POST" && rest.empty()) {
      std::string address;
      if (!string_field(body, "address", address)) return error_response(400, "\"address\" is required");
      const auto* t = body.if_contains("targets");
      if (!t || !t->is_array() || t->as_array().empty()) {
        return error_response(400, "\"targets\" must be a non-empty array of addresses");
      }
      std::vector<std::string> targets;
      for (const auto& x : t->as_array()) {
        if (!x.is_string()) return error_response(400, "\"targets\" must hold strings");
        targets.emplace_back(x.as_string());
      }
      if (auto r = store_.add_alias(address, std::move(targets)); !r) return store_error(r.error());
      return json_ok(json::object{{"address", address}}, 201);
    }
    if (m == "DELETE" && !rest.empty()) {
      if (auto r = store_.remove_alias(rest); !r) return store_error(r.error());
      return json_ok(json::object{{"removed", rest}});
    }
  } else if (split_route("queue", rest)) {
    return handle_queue(req, rest);
  } else if (split_route("sieve", rest) && !rest.empty()) {
    return handle_sieve(req, rest, body);
  } else if (split_route("rows", rest) && m == "GET" && !rest.empty()) {
    std::string mailbox = query_value(req.target, "mailbox");
    auto rows = store_.list_rows(rest, mailbox.empty() ? "INBOX" : mailbox);
    if (!rows) return store_error(rows.error());
    json::array arr;
    for (const auto& r : *rows) {
      json::array kw;
      for (const auto& k : r.keywords) kw.emplace_back(k);
      arr.push_back(json::object{{"uid", r.uid}, {"message_id", r.message_id}, {"keywords", kw},
                                 {"internal_date", r.internal_date.time_since_epoch().count()}});
    }
    return json_ok(json::object{{"rows", arr}});
  } else if (path == "stats" && m == "GET") {
    Response r;
    r.body = stats_json(store_, r.status);
    return r;
  } else if (path == "fsck" && m == "POST") {
    auto rep = store_.fsck(false);  // repair is offline only (refmailctl fsck --repair)
    if (!rep) return store_error(rep.error());
    json::array drift;
    for (const auto& i : rep->issues) {
      drift.push_back(json::object{{"what", i.what}, {"key", i.key}, {"stored", i.stored}, {"expected", i.expected}});
    }
    return json_ok(json::object{{"drift", drift},
                                {"blobs_checked", rep->blobs_checked},
                                {"messages_checked", rep->messages_checked},
                                {"rows_checked", rep->rows_checked},
                                {"blobs_staging", rep->blobs_staging}});
  } else if (path == "gc" && m == "POST") {
    // Online: deletes what no message references any more, then compacts every column
    // family so the space goes back to the file system.
    auto rep = store_.gc();
    if (!rep) return store_error(rep.error());
    return json_ok(json::object{{"blobs_deleted", rep->blobs_deleted}, {"bytes_freed", rep->bytes_freed}});
  } else if (path == "index/rebuild" && m == "POST") {
    // {"account": A} rebuilds A's full-text index, {} every user's; answers when done.
    if (!search_) return error_response(503, "no search index in this process");
    std::string account;
    (void)string_field(body, "account", account);
    std::vector<std::string> accounts;
    if (!account.empty()) {
      auto u = store_.get_user(account);
      if (!u) return store_error(u.error());
      accounts.push_back(u->address);
    } else {
      auto users = store_.list_users();
      if (!users) return store_error(users.error());
      for (const auto& u : *users) accounts.push_back(u.address);
    }
    json::array done;
    for (const auto& a : accounts) {
      auto r = search_->rebuild(a);
      if (!r) return error_response(500, "rebuilding the index of " + a + ": " + r.error().message());
      done.push_back(json::object{{"account", a}, {"indexed", r->indexed}, {"state", r->indexed_state}});
    }
    return json_ok(json::object{{"accounts", done}});
  } else if (path == "backup" && m == "POST") {
    std::string dir;
    if (!string_field(body, "dir", dir) || dir.empty()) return error_response(400, "\"dir\" is required");
    if (auto r = store_.checkpoint(dir); !r) return store_error(r.error());
    return json_ok(json::object{{"dir", dir}});
  }
  return error_response(404, "no such admin route: " + m + " /admin/v1/" + std::string(path));
}

namespace {

json::object queue_row_json(const storage::QueueEntry& e) {
  json::object o{{"id", e.queue_id},
                 {"message_id", e.message_id},
                 {"due", e.due.time_since_epoch().count()},
                 {"held", e.due.time_since_epoch().count() >= delivery::kQueueHeldDue},
                 {"attempts", e.attempts},
                 {"last_error", e.last_error}};
  if (auto env = delivery::parse_queue_envelope(e.envelope)) {
    o["mail_from"] = env->mail_from;
    json::array to;
    for (const auto& r : env->rcpt_to) to.emplace_back(r);
    o["rcpt_to"] = std::move(to);
  }
  return o;
}

}  // namespace

Response AdminApi::handle_queue(const Request& req, const std::string& rest) {
  const std::string& m = req.method;
  const auto held = storage::UnixSeconds(std::chrono::seconds(delivery::kQueueHeldDue));
  const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  auto notify = [this] {
    if (queue_notify_) queue_notify_();
  };
  if (rest.empty() && m == "GET") {
    auto rows = store_.due_queue(held, 100000);
    if (!rows) return store_error(rows.error());
    json::array arr;
    for (const auto& e : *rows) arr.push_back(queue_row_json(e));
    return json_ok(json::object{{"queue", arr}, {"size", rows->size()}});
  }
  if (rest == "retry-all" && m == "POST") {
    auto rows = store_.due_queue(held, 100000);
    if (!rows) return store_error(rows.error());
    // One WAL sync for the whole set instead of one per row (thousands of fsyncs would
    // delay the relay by seconds); losing this reschedule in a machine crash only
    // leaves the rows at their old due times.
    std::size_t n = 0;
    for (const auto& e : *rows) {
      if (e.due >= held || e.due <= now) continue;  // held rows stay held
      if (auto r = store_.update_queue(e.queue_id, now, e.attempts, e.last_error, std::nullopt, /*durable=*/false); r)
        ++n;
    }
    if (n > 0) {
      if (auto synced = store_.sync_queue(); !synced) return store_error(synced.error());
    }
    notify();
    return json_ok(json::object{{"rescheduled", n}});
  }
  std::string id = rest;
  std::string op;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    id = rest.substr(0, slash);
    op = rest.substr(slash + 1);
  }
  if (id.empty()) return error_response(404, "no such queue route");
  if (op.empty() && m == "GET") {
    auto e = store_.get_queue(id);
    if (!e) return store_error(e.error());
    auto o = queue_row_json(*e);
    o["envelope"] = e->envelope;
    return json_ok(o);
  }
  if (op.empty() && m == "DELETE") {
    // The message reference goes with the row: no bounce is sent (the operator decided).
    if (auto r = store_.remove_queue(id); !r) return store_error(r.error());
    return json_ok(json::object{{"removed", id}});
  }
  if (m == "POST" && (op == "retry" || op == "release" || op == "hold")) {
    auto e = store_.get_queue(id);
    if (!e) return store_error(e.error());
    auto due = op == "hold" ? held : now;
    std::string err = op == "hold" ? "held by the operator" : e->last_error;
    if (op == "release" && e->due < held) return error_response(409, "queue row " + id + " is not held");
    if (op == "retry" && e->due >= held) return error_response(409, "queue row " + id + " is held; release it");
    if (auto r = store_.update_queue(id, due, e->attempts, err); !r) return store_error(r.error());
    if (op != "hold") notify();
    return json_ok(json::object{{"id", id}, {op == "hold" ? "held" : "due", op == "hold" ? json::value(true) : json::value(now.time_since_epoch().count())}});
  }
  return error_response(404, "no such queue route: " + m + " /admin/v1/queue/" + rest);
}

// A user's Sieve scripts and vacation reply, as `doveadm sieve` gives a Dovecot admin:
// the same store rows ManageSieve and JMAP use, the same checks (delivery::validate_sieve,
// [sieve]'s limits).
Response AdminApi::handle_sieve(const Request& req, const std::string& rest, const json::object& body) {
  const std::string& m = req.method;
  // "address" or "address/name": a script name never holds '/' (storage::valid_sieve_name).
  const auto at = rest.find('@');
  const auto slash = rest.find('/', at == std::string::npos ? 0 : at);
  const std::string address = rest.substr(0, slash);
  const std::string name = slash == std::string::npos ? std::string() : rest.substr(slash + 1);
  const sieve::Limits limits = cfg_ ? delivery::sieve_limits(*cfg_) : sieve::Limits{};
  const storage::SieveLimits store_limits =
      cfg_ ? storage::SieveLimits{cfg_->sieve.max_script_bytes, cfg_->sieve.max_scripts} : storage::SieveLimits{};
  if (auto u = store_.get_user(address); !u) return store_error(u.error());
  if (name.empty() && m == "GET") {
    auto list = store_.sieve_list(address);
    if (!list) return store_error(list.error());
    auto v = store_.vacation_get(address);
    if (!v) return store_error(v.error());
    json::array scripts;
    for (const auto& s : *list) {
      scripts.push_back(json::object{{"name", s.name}, {"active", s.active}, {"bytes", s.size_bytes}});
    }
    json::object vacation{{"enabled", v->enabled}, {"subject", v->subject.value_or("")}};
    vacation["from"] = v->from_date ? json::value(*v->from_date) : json::value(nullptr);
    vacation["to"] = v->to_date ? json::value(*v->to_date) : json::value(nullptr);
    return json_ok(json::object{{"address", address}, {"scripts", std::move(scripts)}, {"vacation", std::move(vacation)}});
  }
  if (name.empty() && m == "POST") {
    // {"active": NAME} activates, {"active": ""} deactivates; {"vacation": false} turns
    // the vacation reply off (a user who left it on).
    if (const auto* a = body.if_contains("active")) {
      if (!a->is_string()) return error_response(400, "\"active\" is a script name or \"\"");
      if (auto r = store_.sieve_activate(address, a->as_string()); !r) return store_error(r.error());
    }
    if (const auto* v = body.if_contains("vacation")) {
      if (!v->is_bool() || v->as_bool()) return error_response(400, "\"vacation\" can only be set to false here");
      auto cur = store_.vacation_get(address);
      if (!cur) return store_error(cur.error());
      if (cur->enabled) {
        cur->enabled = false;
        if (auto r = store_.vacation_set(address, *cur); !r) return store_error(r.error());
      }
    }
    return json_ok(json::object{{"address", address}});
  }
  if (name.empty()) return error_response(405, "use GET or POST");
  if (m == "GET") {
    auto content = store_.sieve_get(address, name);
    if (!content) return store_error(content.error());
    if (!*content) return error_response(404, "no script " + name + " for " + address);
    auto active = store_.sieve_active(address);
    if (!active) return store_error(active.error());
    return json_ok(json::object{{"name", name},
                                {"active", *active && (*active)->name == name},
                                {"content", std::move(**content)}});
  }
  if (m == "PUT") {
    std::string content;
    if (!string_field(body, "content", content)) return error_response(400, "\"content\" is required");
    if (auto why = delivery::validate_sieve(content, limits); !why.empty()) return error_response(400, why);
    if (auto r = store_.sieve_put(address, name, content, store_limits); !r) {
      if (r.error() == storage::errc::too_large || r.error() == storage::errc::quota_exceeded) {
        return error_response(413, storage::error_detail(r.error()));
      }
      return store_error(r.error());
    }
    const auto* activate = body.if_contains("activate");
    if (activate && activate->is_bool() && activate->as_bool()) {
      if (auto r = store_.sieve_activate(address, name); !r) return store_error(r.error());
    }
    return json_ok(json::object{{"address", address}, {"name", name}}, 201);
  }
  if (m == "DELETE") {
    if (auto r = store_.sieve_delete(address, name); !r) {
      if (r.error() == storage::errc::in_use) return error_response(409, "the script is active: deactivate it first");
      return store_error(r.error());
    }
    return json_ok(json::object{{"removed", name}});
  }
  return error_response(405, "use GET, PUT or DELETE");
}

}  // namespace refmail::web
