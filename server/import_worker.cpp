// server/import_worker.cpp — see import_worker.hpp. Jobs run one at a time (so two
// jobs never race on one mailbox); each UID is checked against its "done" key before
// it is fetched, and the done key is written in the imported message's own WriteBatch
// (delivery::Import::import_state), so a kill -9 leaves the message and its done
// key both durable or both absent: no window in which a retry could import it twice.
// (Intent keys left by older versions still make a retry compare Message-ID/size/date
// with the target mailbox.) A changed UIDVALIDITY reconciles by that comparison.
// Progress goes to metrics::Metrics (refmail_import_*{source=...}, see web/import_api.hpp).
#include "server/import_worker.hpp"

#include <openssl/ssl.h>

#include <array>
#include <map>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json.hpp>

#include "mime/address.hpp"
#include "mime/headers.hpp"
#include "mime/summary.hpp"
#include "delivery/import_keys.hpp"
#include "imap/client.hpp"
#include "delivery/service.hpp"
#include "server/log.hpp"
#include "storage/store.hpp"
#include "web/import_api.hpp"
#include "metrics/metrics.hpp"

namespace refmail::server {

namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
namespace json = boost::json;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
namespace keys = delivery::import_keys;

struct ImportWorker::Impl {
  Impl(const config::Config& c, storage::Store& s, asio::io_context& i, asio::thread_pool& p,
       std::shared_ptr<metrics::Metrics> m)
      : cfg(c), store(s), mail(s, c), io(i), pool(p), timer(i), metrics(std::move(m)) {}
  const config::Config& cfg;
  storage::Store& store;
  // Imports never queue relay rows, so nobody is woken.
  delivery::Service mail;
  asio::io_context& io;
  asio::thread_pool& pool;
  asio::steady_timer timer;
  bool stopping = false;
  bool wake_pending = false;  // a job was queued while the loop was not waiting
  std::map<std::string, std::unique_ptr<ssl::context>> tls;  // per source
  std::map<std::string, std::string> master_secret;           // per source
  std::map<std::pair<std::string, std::string>, std::string> user_secret;
  std::map<std::uint64_t, beast::tcp_stream*> live;
  std::uint64_t next_live = 0;
  std::shared_ptr<metrics::Metrics> metrics;       // may be null
  std::map<std::string, int> idle_connected;   // per source (io thread)

  // Metric updates (web/import_api.hpp lists the series); no-ops without a registry.
  void count(std::string_view name, const std::string& source, std::uint64_t by = 1) const {
    if (metrics) metrics->add(metrics::with_label(name, "source", source), by);
  }
  void gauge(std::string_view name, const std::string& source, double v) const {
    if (metrics) metrics->set_gauge(metrics::with_label(name, "source", source), v);
  }
};

namespace {

using ImplPtr = std::shared_ptr<ImportWorker::Impl>;

storage::UnixSeconds now_s() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

// Registers a live stream so stop() can cancel it.
class LiveGuard {
 public:
  LiveGuard(ImplPtr s, beast::tcp_stream* t) : s_(std::move(s)), id_(++s_->next_live) { s_->live[id_] = t; }
  ~LiveGuard() { s_->live.erase(id_); }
  LiveGuard(const LiveGuard&) = delete;
  LiveGuard& operator=(const LiveGuard&) = delete;

 private:
  ImplPtr s_;
  std::uint64_t id_;
};

// One IMAP connection driven by the sans-I/O parser. Errors are one-line texts that
// name the source and quote its reply.
class Conn {
 public:
  Conn(ImplPtr self, const config::ImportSource& src)
      : self_(std::move(self)), src_(src), stream_(beast::tcp_stream(self_->io), *self_->tls.at(src.name)),
        guard_(self_, &beast::get_lowest_layer(stream_)) {
    imap::Limits lim;
    lim.max_literal_bytes = self_->cfg.import.max_message_bytes;
    parser_ = imap::Parser(lim);
  }
  imap::Commands& cmds() { return cmds_; }
  std::uint64_t bytes_in() const { return bytes_in_; }

  asio::awaitable<std::string> connect() {
    auto timeout = self_->cfg.import.timeout;
    tcp::resolver resolver(self_->io);
    auto [rec, results] = co_await resolver.async_resolve(src_.host, std::to_string(src_.port),
                                                          asio::as_tuple(use_awaitable));
    if (rec) co_return "resolve " + src_.host + ": " + rec.message();
    auto& low = beast::get_lowest_layer(stream_);
    low.expires_after(timeout);
    auto [cec, ep] = co_await low.async_connect(results, asio::as_tuple(use_awaitable));
    if (cec) co_return "connect to " + src_.host + ":" + std::to_string(src_.port) + ": " + cec.message();
    if (src_.tls != config::ImportTls::None) {
      SSL_set_tlsext_host_name(stream_.native_handle(), src_.host.c_str());
      stream_.set_verify_mode(ssl::verify_peer);
      stream_.set_verify_callback(ssl::host_name_verification(src_.host));
    }
    if (src_.tls == config::ImportTls::Tls) {
      if (auto e = co_await handshake(); !e.empty()) co_return e;
    }
    imap::Response greeting;
    if (auto e = co_await read(greeting); !e.empty()) co_return e;
    if (greeting.status != "OK" && greeting.status != "PREAUTH")
      co_return "source " + src_.name + " greeted with " + greeting.status + " " + greeting.text;
    if (src_.tls == config::ImportTls::StartTls) {
      imap::Response done;
      std::string line = cmds_.starttls();
      if (auto e = co_await command(std::move(line), done, nullptr); !e.empty()) co_return e;
      // RFC 3501 6.2.1 / RFC 2595: nothing may be pipelined before the handshake.
      if (parser_.buffered() != 0) co_return "source " + src_.name + " sent data after STARTTLS OK";
      if (auto e = co_await handshake(); !e.empty()) co_return e;
    }
    co_return std::string();
  }

  asio::awaitable<std::string> login(const std::string& user, const std::string& password, bool master) {
    std::string who = master ? user + src_.master_separator + src_.master_user : user;
    auto line = cmds_.login(who, password);
    if (!line) co_return "cannot send the login of " + user + ": " + line.error().message();
    imap::Response done;
    co_return co_await command(*line, done, nullptr);
  }

  // Sends a command and reads until its tagged reply; untagged responses go to `sink`
  // (may be null). A tagged NO/BAD is an error quoting the reply.
  asio::awaitable<std::string> command(std::string line, imap::Response& tagged,
                                       std::vector<imap::Response>* sink) {
    std::string tag = cmds_.last_tag();
    if (auto e = co_await write(line); !e.empty()) co_return e;
    for (;;) {
      imap::Response r;
      if (auto e = co_await read(r); !e.empty()) co_return e;
      if (r.kind == imap::Response::Kind::Tagged && r.tag == tag) {
        tagged = std::move(r);
        if (tagged.status != "OK")
          co_return "source " + src_.name + " replied " + tagged.tag + " " + tagged.status +
              (tagged.code.empty() ? "" : " [" + tagged.code + "]") + " " + tagged.text;
        co_return std::string();
      }
      if (r.status == "BYE") co_return "source " + src_.name + " closed: BYE " + r.text;
      if (sink) sink->push_back(std::move(r));
    }
  }

  asio::awaitable<std::string> write(const std::string& bytes) {
    auto& low = beast::get_lowest_layer(stream_);
    low.expires_after(self_->cfg.import.timeout);
    boost::system::error_code ec;
    if (tls_on_) {
      std::tie(ec, std::ignore) = co_await asio::async_write(stream_, asio::buffer(bytes), asio::as_tuple(use_awaitable));
    } else {
      std::tie(ec, std::ignore) =
          co_await asio::async_write(stream_.next_layer(), asio::buffer(bytes), asio::as_tuple(use_awaitable));
    }
    if (ec) co_return "write to " + src_.name + ": " + ec.message();
    co_return std::string();
  }

  // The next response; `idle_deadline` replaces the read timeout (IDLE waits long).
  asio::awaitable<std::string> read(imap::Response& out,
                                    std::optional<std::chrono::seconds> deadline = std::nullopt) {
    for (;;) {
      auto r = parser_.next();
      if (!r) co_return "source " + src_.name + ": " + r.error().message();
      if (*r) {
        out = std::move(**r);
        co_return std::string();
      }
      auto& low = beast::get_lowest_layer(stream_);
      low.expires_after(deadline ? *deadline : self_->cfg.import.timeout);
      boost::system::error_code ec;
      std::size_t n = 0;
      if (tls_on_) {
        std::tie(ec, n) = co_await stream_.async_read_some(asio::buffer(buf_), asio::as_tuple(use_awaitable));
      } else {
        std::tie(ec, n) = co_await stream_.next_layer().async_read_some(asio::buffer(buf_), asio::as_tuple(use_awaitable));
      }
      if (ec == beast::error::timeout) co_return std::string("timeout");
      if (ec) co_return "connection to " + src_.name + " lost: " + ec.message();
      bytes_in_ += n;
      parser_.feed(std::string_view(buf_.data(), n));
    }
  }

  void close() {
    boost::system::error_code ignored;
    beast::get_lowest_layer(stream_).socket().close(ignored);
  }

 private:
  asio::awaitable<std::string> handshake() {
    auto& low = beast::get_lowest_layer(stream_);
    low.expires_after(self_->cfg.import.timeout);
    auto [hec] = co_await stream_.async_handshake(ssl::stream_base::client, asio::as_tuple(use_awaitable));
    if (hec) co_return "TLS handshake with " + src_.host + " failed: " + hec.message();
    tls_on_ = true;
    co_return std::string();
  }

  ImplPtr self_;
  const config::ImportSource& src_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  LiveGuard guard_;
  imap::Parser parser_;
  imap::Commands cmds_;
  bool tls_on_ = false;
  std::uint64_t bytes_in_ = 0;
  std::array<char, 65536> buf_{};
};

// Logs in with the mapping's password or the source's master login.
asio::awaitable<std::string> open_session(ImplPtr self, Conn& c, const config::ImportSource& src,
                                          const config::ImportMapping& m) {
  if (auto e = co_await c.connect(); !e.empty()) co_return e;
  auto it = self->user_secret.find({m.source, m.user});
  if (it != self->user_secret.end()) co_return co_await c.login(m.user, it->second, false);
  co_return co_await c.login(m.user, self->master_secret[src.name], true);
}

struct Payload {
  std::string source, user, mailbox;
  bool full = false;
};

std::optional<Payload> parse_payload(const std::string& s) {
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  Payload p;
  auto str = [&](const char* k, std::string& out) {
    auto* x = o.if_contains(k);
    if (!x || !x->is_string()) return false;
    out.assign(x->as_string().data(), x->as_string().size());
    return true;
  };
  if (!str("source", p.source) || !str("user", p.user) || !str("mailbox", p.mailbox)) return std::nullopt;
  if (auto* f = o.if_contains("full"); f && f->is_bool()) p.full = f->as_bool();
  return p;
}

// The Message-ID of raw message bytes (first header block only), without <>: parsed
// as the summary parses it, so it compares with the ids of stored messages.
std::string header_message_id(std::string_view msg) {
  auto bodies = mime::header_field_bodies(msg, {"message-id"});
  if (bodies.empty()) return {};
  auto ids = mime::parse_message_ids(bodies.front(), 1);
  return ids.empty() ? std::string() : ids.front();
}

constexpr std::size_t kMaxGrantAddresses = 100;

// Local accounts among the message's To/Cc recipients (aliases expanded by the store),
// other than `target`; at most kMaxGrantAddresses addresses are looked up.
// Blocking (store reads): pool thread only.
std::vector<std::string> local_recipients(storage::Store& store, std::string_view msg,
                                          std::string_view target) {
  std::set<std::string> accounts;
  std::size_t looked = 0;
  for (const auto& field : mime::header_field_bodies(msg, {"to", "cc"})) {
    for (const auto& a : mime::parse_address_list(field, kMaxGrantAddresses)) {
      if (looked++ >= kMaxGrantAddresses) break;
      auto r = store.resolve_recipient(a.email);
      if (!r) continue;  // foreign domain or unknown user: nothing to grant
      for (auto& acct : r->accounts) accounts.insert(std::move(acct));
    }
  }
  std::string t(target);
  for (auto& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  accounts.erase(t);
  return {accounts.begin(), accounts.end()};
}

std::string fingerprint(std::string_view message_id, std::uint64_t size, std::int64_t date) {
  if (!message_id.empty()) return "m:" + std::string(message_id);
  return "s:" + std::to_string(size) + ":" + std::to_string(date);
}

// Fingerprints of what the target mailbox already holds (reconciliation).
struct Fingerprints {
  std::set<std::string> seen;
};
Fingerprints target_fingerprints(storage::Store& store, const std::string& account, const std::string& mailbox) {
  Fingerprints f;
  auto rows = store.list_rows(account, mailbox);
  if (!rows) return f;
  for (const auto& r : *rows) {
    auto m = store.get_message(r.message_id);
    std::string mid;
    if (m) {
      auto s = mime::Summary::parse(m->record.summary);
      if (s && !s->message_id.empty()) mid = s->message_id.front();
    }
    f.seen.insert(fingerprint(mid, r.logical_size, r.internal_date.time_since_epoch().count()));
  }
  return f;
}

struct Stats {
  std::uint64_t messages = 0, bytes = 0, new_blob_bytes = 0, cut_bytes = 0, skipped = 0, duplicates = 0;
};

// Adds to the per-source counters and records the outcome (blocking).
void record_stats(storage::Store& store, const std::string& source, const Stats& add, const std::string& error) {
  auto cur = store.get_import_state(keys::stats(source));
  json::object o;
  if (cur && *cur) {
    boost::system::error_code ec;
    auto v = json::parse(**cur, ec);
    if (!ec && v.is_object()) o = v.as_object();
  }
  auto bump = [&](const char* k, std::uint64_t n) {
    std::uint64_t v = 0;
    if (auto* x = o.if_contains(k); x && x->is_int64()) v = static_cast<std::uint64_t>(x->as_int64());
    if (auto* x = o.if_contains(k); x && x->is_uint64()) v = x->as_uint64();
    o[k] = v + n;
  };
  bump("messages", add.messages);
  bump("bytes", add.bytes);
  bump("new_blob_bytes", add.new_blob_bytes);
  bump("attachment_bytes", add.cut_bytes);
  bump("skipped", add.skipped);
  bump("duplicates_avoided", add.duplicates);
  // Attachment bytes that were already held (by content) and so cost nothing new.
  auto get = [&](const char* k) -> std::uint64_t {
    const auto* x = o.if_contains(k);
    if (x && x->is_uint64()) return x->as_uint64();
    if (x && x->is_int64() && x->as_int64() > 0) return static_cast<std::uint64_t>(x->as_int64());
    return 0;
  };
  std::uint64_t cut = get("attachment_bytes");
  std::uint64_t nb = get("new_blob_bytes");
  o["dedup_saved_bytes"] = cut > nb ? cut - nb : 0;
  auto t = now_s().time_since_epoch().count();
  if (error.empty()) {
    o["last_success"] = t;
  } else {
    o["last_error"] = error;
    o["last_error_at"] = t;
  }
  (void)store.write_import_state({{keys::stats(source), json::serialize(o)}});
}

// Blocking helpers run through offload (each owns its inputs).
struct StateWrite {
  storage::Store* store;
  std::vector<storage::ImportStateOp> ops;
  std::string operator()() const {
    auto r = store->write_import_state(ops);
    return r ? std::string() : storage::error_detail(r.error());
  }
};
struct StateScan {
  storage::Store* store;
  std::string prefix;
  std::vector<std::pair<std::string, std::string>> operator()() const {
    auto r = store->scan_import_state(prefix, 1000000);
    return r ? *r : std::vector<std::pair<std::string, std::string>>{};
  }
};
struct StateGet {
  storage::Store* store;
  std::vector<std::string> keys;
  std::vector<std::optional<std::string>> operator()() const {
    std::vector<std::optional<std::string>> out;
    for (const auto& k : keys) {
      auto r = store->get_import_state(k);
      out.push_back(r ? *r : std::nullopt);
    }
    return out;
  }
};
struct Ingest {
  delivery::Service* mail;
  storage::Store* store;
  delivery::Import req;
  std::string origin;             // "source/user/mailbox/uidvalidity/uid", for the log
  bool grant_recipients = false;  // fill req.grant_accounts from the message's To/Cc
  delivery::Outcome operator()() {
    if (grant_recipients) req.grant_accounts = local_recipients(*store, req.bytes, req.account);
    const std::string account = req.account, mailbox = req.mailbox;
    auto out = mail->import(std::move(req));
    if (out.internal_error) {
      log::error("import.exception", {{"origin", origin}, {"error", out.detail}});
    } else if (out.status == delivery::Status::ok) {
      log::info("import.commit", {{"origin", origin},
                                  {"message_id", out.message_id},
                                  {"account", account},
                                  {"mailbox", mailbox},
                                  {"grants", out.grants},
                                  {"bytes", out.bytes},
                                  {"cuts", out.cuts},
                                  {"new_blob_bytes", out.new_blob_bytes}});
    }
    return out;
  }
};
struct Prints {
  storage::Store* store;
  std::string account, mailbox;
  Fingerprints operator()() const { return target_fingerprints(*store, account, mailbox); }
};
struct JobDone {
  storage::Store* store;
  std::string job_id;
  bool reschedule = false;
  storage::UnixSeconds due{};
  std::string error;
  std::string source;
  Stats stats;
  bool operator()() const {
    record_stats(*store, source, stats, error);
    if (reschedule) return bool(store->reschedule_import(job_id, due, error));
    return bool(store->remove_import(job_id));
  }
};
struct Requeue {
  storage::Store* store;
  const config::Import* cfg;
  web::ImportNotification n;
  std::optional<storage::UnixSeconds> operator()() const {
    auto q = web::enqueue_notification(*store, *cfg, n, now_s());
    if (!q || !q->new_job) return std::nullopt;
    return q->due;
  }
};
struct DueJobs {
  storage::Store* store;
  std::vector<storage::ImportJob> operator()() const {
    auto r = store->due_imports(storage::UnixSeconds::max(), 64);
    return r ? *r : std::vector<storage::ImportJob>{};
  }
};
// Jobs in the queue per source (the refmail_import_jobs_queued gauge).
struct QueuedBySource {
  storage::Store* store;
  std::map<std::string, std::size_t> operator()() const {
    std::map<std::string, std::size_t> out;
    auto r = store->due_imports(storage::UnixSeconds::max(), 100000);
    if (!r) return out;
    for (const auto& j : *r)
      if (auto p = parse_payload(j.payload)) ++out[p->source];
    return out;
  }
};

std::uint32_t uid_of_key(std::string_view k) {
  if (k.size() < 4) return 0;
  std::uint32_t v = 0;
  for (std::size_t i = k.size() - 4; i < k.size(); ++i) v = (v << 8) | static_cast<std::uint8_t>(k[i]);
  return v;
}

// Every offload() below takes a named task moved in, never a temporary built inside
// the co_await expression: GCC 12 destroys such temporaries twice (seen as a bad free).
// Runs one job. Returns "" on success, else the error (the job is rescheduled).
asio::awaitable<std::string> run_job(ImplPtr self, const storage::ImportJob& job, Stats& stats, Payload& p) {
  auto& cfg = self->cfg;
  const auto* src = cfg.import.find_source(p.source);
  const auto* map = cfg.import.find_mapping(p.source, p.user);
  if (!src || !map) co_return std::string("drop: source/user no longer configured");
  const std::string mb = keys::mbox(p.source, p.user, p.mailbox);
  const std::string origin = p.source + "/" + p.user + "/" + p.mailbox;

  // The marker goes first: a notification arriving from now on queues a new job.
  if (!p.full) {
    StateWrite w{&self->store, {}};
    w.ops.push_back({keys::marker(mb), std::nullopt});
    auto e = co_await offload(self->pool, std::move(w));
    if (!e.empty()) co_return "store: " + e;
  }
  StateScan task1{&self->store, keys::pending_prefix(mb)};
  auto pending = co_await offload(self->pool, std::move(task1));
  if (pending.empty() && !p.full) co_return std::string();  // nothing left (already imported)

  Conn c(self, *src);
  if (auto e = co_await open_session(self, c, *src, *map); !e.empty()) co_return e;
  auto sel = c.cmds().examine(p.mailbox);
  if (!sel) co_return "drop: mailbox name " + p.mailbox + " cannot be sent";
  std::vector<imap::Response> untagged;
  imap::Response tagged;
  if (auto e = co_await c.command(*sel, tagged, &untagged); !e.empty()) {
    if (tagged.status == "NO") co_return "drop: " + e;  // no such mailbox: nothing to retry
    co_return e;
  }
  std::uint32_t uv = 0;
  for (const auto& r : untagged)
    if (auto n = r.code_number("UIDVALIDITY")) uv = *n;
  if (uv == 0) co_return "source " + src->name + " sent no UIDVALIDITY for " + p.mailbox;

  StateGet known_get{&self->store, {}};
  known_get.keys.push_back(keys::uidvalidity(mb));
  auto known = co_await offload(self->pool, std::move(known_get));
  bool reconcile = known[0] && !known[0]->empty() && *known[0] != std::to_string(uv);
  if (reconcile)
    log::warn("import.uidvalidity_changed", {{"origin", origin}, {"was", *known[0]}, {"now", uv}});

  // The UIDs to consider.
  std::vector<std::uint32_t> uids;
  std::vector<storage::ImportStateOp> drop_ops;
  if (p.full || reconcile) {
    untagged.clear();
    std::string line = c.cmds().uid_search_all();
    if (auto e = co_await c.command(std::move(line), tagged, &untagged); !e.empty()) co_return e;
    for (const auto& r : untagged)
      if (r.keyword == "SEARCH") uids.insert(uids.end(), r.numbers.begin(), r.numbers.end());
    for (const auto& [k, v] : pending) drop_ops.push_back({k, std::nullopt});
  } else {
    for (const auto& [k, v] : pending) {
      auto uid = uid_of_key(k);
      if (v != "0" && v != std::to_string(uv)) {
        // Queued under another UIDVALIDITY: those UIDs name other messages now.
        drop_ops.push_back({k, std::nullopt});
        log::info("import.stale_uid", {{"origin", origin}, {"uid", uid}, {"uidvalidity", v}});
        continue;
      }
      uids.push_back(uid);
    }
  }
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());

  // Already imported? (done keys), and interrupted before? (intent keys)
  std::vector<std::string> probe;
  for (auto u : uids) {
    probe.push_back(keys::done(mb, uv, u));
    probe.push_back(keys::intent(mb, uv, u));
  }
  StateGet task2{&self->store, probe};
  auto got = co_await offload(self->pool, std::move(task2));
  std::vector<std::uint32_t> todo;
  std::set<std::uint32_t> suspect;
  for (std::size_t i = 0; i < uids.size(); ++i) {
    if (got[2 * i]) {
      drop_ops.push_back({keys::pending(mb, uids[i]), std::nullopt});
      continue;
    }
    if (got[2 * i + 1]) suspect.insert(uids[i]);
    todo.push_back(uids[i]);
  }
  if (!drop_ops.empty()) {
    StateWrite task3{&self->store, drop_ops};
    auto e = co_await offload(self->pool, std::move(task3));
    if (!e.empty()) co_return "store: " + e;
  }
  Fingerprints prints;
  bool use_prints = reconcile || !suspect.empty();
  if (use_prints) {
    Prints task4{&self->store, map->account, p.mailbox};
    prints = co_await offload(self->pool, std::move(task4));
  }

  std::string batch_error;
  const std::size_t batch = cfg.import.batch_size;
  for (std::size_t off = 0; off < todo.size(); off += batch) {
    std::vector<std::uint32_t> part(todo.begin() + off, todo.begin() + std::min(todo.size(), off + batch));
    std::set<std::uint32_t> want(part.begin(), part.end());
    // No intent keys any more: the done key commits in the message's own batch
    // (delivery::Import::import_state), so a crash leaves both or neither. Intent
    // keys left by an older version are still honoured above (suspect UIDs).
    std::string tag;
    {
      auto line = c.cmds().uid_fetch_messages(part);
      tag = c.cmds().last_tag();
      if (auto e = co_await c.write(line); !e.empty()) co_return e;
      self->count("refmail_import_batches_total", src->name);
    }
    std::set<std::uint32_t> seen;
    for (;;) {
      imap::Response r;
      if (auto e = co_await c.read(r); !e.empty()) co_return e;  // mid-FETCH drop: retry later
      if (r.kind == imap::Response::Kind::Tagged && r.tag == tag) {
        if (r.status != "OK") co_return "source " + src->name + " replied " + r.status + " " + r.text;
        break;
      }
      if (r.status == "BYE") co_return "source " + src->name + " closed: BYE " + r.text;
      if (!r.fetch || !r.fetch->uid || !want.count(*r.fetch->uid)) continue;
      auto& f = *r.fetch;
      std::uint32_t uid = *f.uid;
      if (!f.body && !f.body_too_large) continue;  // a flags-only update
      seen.insert(uid);
      std::vector<storage::ImportStateOp> ops;
      std::string done_value;
      if (f.body_too_large) {
        log::warn("import.too_large", {{"origin", origin}, {"uid", uid}, {"bytes", f.body_size},
                                       {"limit", cfg.import.max_message_bytes}});
        ++stats.skipped;
        self->count("refmail_import_skipped_total", src->name);
        done_value = "too_large";
      } else {
        std::int64_t date = now_s().time_since_epoch().count();
        if (f.internal_date)
          if (auto d = imap::parse_internal_date(*f.internal_date)) date = *d;
        bool dup = false;
        if (use_prints) {
          auto fp = fingerprint(header_message_id(*f.body), f.body->size(), date);
          dup = prints.seen.count(fp) > 0;
          if (!dup) prints.seen.insert(fp);
        }
        if (dup) {
          ++stats.duplicates;
          self->count("refmail_import_duplicates_avoided_total", src->name);
          done_value = "duplicate";
          log::info("import.duplicate", {{"origin", origin}, {"uid", uid}});
        } else {
          delivery::Import req;
          req.account = map->account;
          req.mailbox = p.mailbox;
          req.keywords = imap::flags_to_keywords(f.flags.value_or(std::vector<std::string>{}));
          req.internal_date = date;
          // The done key rides in the delivery's batch (value "imported": the
          // message id is only known once the commit returns).
          req.import_state.emplace_back(keys::done(mb, uv, uid), std::string("imported"));
          req.import_state.emplace_back(keys::intent(mb, uv, uid), std::nullopt);
          req.import_state.emplace_back(keys::pending(mb, uid), std::nullopt);
          std::uint64_t size = f.body->size();
          req.bytes = std::move(*f.body);
          Ingest task6{&self->mail, &self->store, std::move(req),
                       origin + "/" + std::to_string(uv) + "/" + std::to_string(uid),
                       cfg.import.grants_recipients(*map)};
          auto out = co_await offload(self->pool, std::move(task6));
          if (out.status != delivery::Status::ok) {
            // Keep reading the response (the connection stays in sync), retry later.
            if (batch_error.empty()) batch_error = "ingest of uid " + std::to_string(uid) + ": " + out.detail;
            continue;
          }
          ++stats.messages;
          stats.bytes += size;
          stats.new_blob_bytes += out.new_blob_bytes;
          stats.cut_bytes += out.cut_bytes;
          self->count("refmail_import_messages_total", src->name);
          self->count("refmail_import_bytes_total", src->name, size);
          self->count("refmail_import_dedup_saved_bytes_total", src->name,
                      out.cut_bytes > out.new_blob_bytes ? out.cut_bytes - out.new_blob_bytes : 0);
          continue;  // done, intent and pending keys were committed with the message
        }
      }
      ops.push_back({keys::done(mb, uv, uid), done_value});
      ops.push_back({keys::intent(mb, uv, uid), std::nullopt});
      ops.push_back({keys::pending(mb, uid), std::nullopt});
      StateWrite task7{&self->store, std::move(ops)};
      auto e = co_await offload(self->pool, std::move(task7));
      if (!e.empty()) co_return "store: " + e;
    }
    // UIDs the source did not return no longer exist there (expunged): forget them.
    std::vector<storage::ImportStateOp> gone;
    for (auto u : part) {
      if (seen.count(u)) continue;
      log::info("import.uid_gone", {{"origin", origin}, {"uid", u}});
      gone.push_back({keys::pending(mb, u), std::nullopt});
      gone.push_back({keys::intent(mb, uv, u), std::nullopt});
    }
    if (!gone.empty()) {
      StateWrite task8{&self->store, std::move(gone)};
      auto e = co_await offload(self->pool, std::move(task8));
      if (!e.empty()) co_return "store: " + e;
    }
    if (!batch_error.empty()) co_return batch_error;
  }
  {
    StateWrite w{&self->store, {}};
    w.ops.push_back({keys::uidvalidity(mb), std::to_string(uv)});
    auto e = co_await offload(self->pool, std::move(w));
    if (!e.empty()) co_return "store: " + e;
  }
  imap::Response bye;
  std::string logout = c.cmds().logout();
  (void)co_await c.command(std::move(logout), bye, nullptr);
  c.close();
  co_return std::string();
}

asio::awaitable<void> job_loop(ImplPtr self) {
  while (!self->stopping) {
    self->wake_pending = false;  // the query below sees every job queued before now
    DueJobs task9{&self->store};
    auto jobs = co_await offload(self->pool, std::move(task9));
    auto now = now_s();
    std::optional<storage::UnixSeconds> next;
    for (auto& job : jobs) {
      if (self->stopping) break;
      if (job.due > now) {
        next = job.due;
        break;
      }
      auto payload = parse_payload(job.payload);
      Stats stats;
      std::string err;
      if (!payload) {
        err = "drop: malformed job payload";
        payload = Payload{"?", "?", "?", false};
      } else {
        err = co_await run_job(self, job, stats, *payload);
      }
      bool drop = err.rfind("drop: ", 0) == 0;
      if (drop) {
        self->count("refmail_import_jobs_dropped_total", payload->source);
      } else if (!err.empty()) {
        self->count("refmail_import_failures_total", payload->source);
      } else {
        self->count("refmail_import_jobs_done_total", payload->source);
        self->gauge("refmail_import_last_success_timestamp_seconds", payload->source,
                    static_cast<double>(now_s().time_since_epoch().count()));
      }
      JobDone d{&self->store, job.job_id, !err.empty() && !drop, {}, err, payload->source, stats};
      if (!err.empty() && !drop) {
        const auto& rs = self->cfg.import.retry_schedule;
        d.due = now_s() + rs[std::min<std::size_t>(job.attempts, rs.size() - 1)];
        log::warn("import.retry", {{"job", job.job_id}, {"origin", payload->source + "/" + payload->user + "/" +
                                                                        payload->mailbox},
                                   {"attempts", job.attempts + 1}, {"error", err}});
      } else if (drop) {
        log::warn("import.dropped", {{"job", job.job_id}, {"error", err}});
      } else {
        log::info("import.done", {{"job", job.job_id}, {"origin", payload->source + "/" + payload->user + "/" +
                                                                      payload->mailbox},
                                  {"messages", stats.messages}, {"bytes", stats.bytes},
                                  {"new_blob_bytes", stats.new_blob_bytes}, {"skipped", stats.skipped}});
      }
      (void)co_await offload(self->pool, std::move(d));
      // UIDs queued while this job ran, whose notification saw its marker: a new job.
      if (err.empty() && payload->source != "?") {
        StateScan task10{&self->store, keys::pending_prefix(keys::mbox(
                                                                             payload->source, payload->user,
                                                                             payload->mailbox))};
        auto rest = co_await offload(self->pool, std::move(task10));
        if (!rest.empty()) {
          web::ImportNotification n;
          n.source = payload->source;
          n.user = payload->user;
          n.mailbox = payload->mailbox;
          for (const auto& [k, v] : rest) n.uids.push_back(uid_of_key(k));
          Requeue task11{&self->store, &self->cfg.import, n};
          if (co_await offload(self->pool, std::move(task11)))
            self->count("refmail_import_jobs_enqueued_total", n.source);
        }
      }
      now = now_s();
    }
    if (self->stopping) break;
    if (!next) {
      // Due jobs may remain (more than one page): go round at once.
      bool any_due = false;
      for (const auto& j : jobs) any_due = any_due || j.due <= now;
      if (any_due) continue;
    }
    if (self->wake_pending) continue;
    {
      QueuedBySource task13{&self->store};
      auto queued = co_await offload(self->pool, std::move(task13));
      for (const auto& s : self->cfg.import.sources) {
        auto it = queued.find(s.name);
        self->gauge("refmail_import_jobs_queued", s.name, it == queued.end() ? 0.0 : static_cast<double>(it->second));
      }
    }
    if (self->wake_pending) continue;
    if (next) {
      self->timer.expires_at(std::chrono::steady_clock::now() +
                             std::chrono::duration_cast<std::chrono::steady_clock::duration>(*next - now_s()) +
                             std::chrono::milliseconds(20));
    } else {
      self->timer.expires_at(std::chrono::steady_clock::time_point::max());
    }
    auto [ec] = co_await self->timer.async_wait(asio::as_tuple(use_awaitable));
    (void)ec;  // cancelled = woken
  }
  log::info("import.stopped", {});
}

// IDLE watcher (RFC 2177) for one mapped mailbox: EXAMINE, IDLE, and on EXISTS a
// UID SEARCH for the UIDs past the last UIDNEXT, queued like a webhook notification.
// Re-IDLEs every 28 minutes (servers drop IDLE after 30). Reconnects with backoff.
asio::awaitable<void> idle_watch(ImplPtr self, const config::ImportSource* src, const config::ImportMapping* map,
                                 std::string mailbox) {
  const std::string origin = src->name + "/" + map->user + "/" + mailbox;
  std::size_t failures = 0;
  std::uint32_t next_uid = 0;  // UIDNEXT when last looked
  std::uint32_t last_uv = 0;
  asio::steady_timer backoff(self->io);
  while (!self->stopping) {
    std::string err;
    {
      Conn c(self, *src);
      bool connected = false;  // counted in refmail_import_idle_watchers
      err = co_await open_session(self, c, *src, *map);
      std::vector<imap::Response> untagged;
      imap::Response tagged;
      if (err.empty()) {
        auto sel = c.cmds().examine(mailbox);
        if (!sel) co_return;
        err = co_await c.command(*sel, tagged, &untagged);
      }
      if (err.empty()) {
        std::uint32_t uv = 0, un = 0;
        for (const auto& r : untagged) {
          if (auto n = r.code_number("UIDVALIDITY")) uv = *n;
          if (auto n = r.code_number("UIDNEXT")) un = *n;
        }
        if (last_uv != uv) next_uid = 0;
        last_uv = uv;
        if (next_uid == 0) next_uid = un;  // first look: only what arrives from now on
        log::info("import.idle_watch", {{"origin", origin}, {"uidvalidity", uv}, {"uidnext", un}});
        failures = 0;
        connected = true;
        self->gauge("refmail_import_idle_watchers", src->name, ++self->idle_connected[src->name]);
      }
      bool look = next_uid != 0;  // something may have arrived while disconnected
      while (err.empty() && !self->stopping) {
        if (look) {
          untagged.clear();
          std::string line = c.cmds().uid_search_all();
          line = line.substr(0, line.size() - 5) + "UID " + std::to_string(next_uid) + ":*\r\n";  // "ALL" -> UID n:*
          err = co_await c.command(line, tagged, &untagged);
          if (!err.empty()) break;
          web::ImportNotification n;
          n.source = src->name;
          n.user = map->user;
          n.mailbox = mailbox;
          n.uidvalidity = last_uv;
          for (const auto& r : untagged)
            for (auto u : r.numbers)
              if (u >= next_uid) n.uids.push_back(u);
          if (!n.uids.empty()) {
            next_uid = *std::max_element(n.uids.begin(), n.uids.end()) + 1;
            Requeue task12{&self->store, &self->cfg.import, n};
            auto due = co_await offload(self->pool, std::move(task12));
            log::info("import.idle_new", {{"origin", origin}, {"uids", n.uids.size()}});
            if (due) {
              self->count("refmail_import_jobs_enqueued_total", src->name);
              self->wake_pending = true;
              self->timer.cancel();  // the loop recomputes its wake-up
            }
          }
          look = false;
        }
        std::string idle_tag;
        {
          auto line = c.cmds().idle();
          idle_tag = c.cmds().last_tag();
          err = co_await c.write(line);
        }
        if (!err.empty()) break;
        // Wait for "+ idling", then for EXISTS or the re-IDLE deadline.
        bool idling = false;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(28);
        for (;;) {
          imap::Response r;
          auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
          if (left.count() < 1) left = std::chrono::seconds(1);
          err = co_await c.read(r, idling ? left : self->cfg.import.timeout);
          if (err == "timeout" && idling) {
            err.clear();
            break;
          }
          if (!err.empty()) break;
          if (r.kind == imap::Response::Kind::Continuation) {
            idling = true;
            continue;
          }
          if (r.kind == imap::Response::Kind::Tagged) {
            err = "IDLE refused: " + r.status + " " + r.text;
            break;
          }
          if (r.status == "BYE") {
            err = "BYE " + r.text;
            break;
          }
          if (r.keyword == "EXISTS") {
            look = true;
            break;
          }
        }
        if (!err.empty()) break;
        std::string done_line = imap::Commands::done();
        err = co_await c.write(done_line);
        if (!err.empty()) break;
        for (;;) {  // until IDLE's tagged OK
          imap::Response r;
          err = co_await c.read(r);
          if (!err.empty() || (r.kind == imap::Response::Kind::Tagged && r.tag == idle_tag)) break;
          if (r.keyword == "EXISTS") look = true;
        }
      }
      c.close();
      if (connected) self->gauge("refmail_import_idle_watchers", src->name, --self->idle_connected[src->name]);
    }
    if (self->stopping) break;
    ++failures;
    self->count("refmail_import_idle_failures_total", src->name);
    const auto& rs = self->cfg.import.retry_schedule;
    auto wait = rs[std::min<std::size_t>(failures - 1, rs.size() - 1)];
    log::warn("import.idle_lost", {{"origin", origin}, {"error", err}, {"retry_in", wait.count()}});
    backoff.expires_after(wait);
    auto [ec] = co_await backoff.async_wait(asio::as_tuple(use_awaitable));
    (void)ec;
  }
}

}  // namespace

ImportWorker::ImportWorker(const config::Config& cfg, storage::Store& store, asio::io_context& io,
                           asio::thread_pool& pool, std::shared_ptr<metrics::Metrics> metrics)
    : impl_(std::make_shared<Impl>(cfg, store, io, pool, std::move(metrics))) {}

ImportWorker::~ImportWorker() = default;

bool ImportWorker::start(std::string& why) {
  auto& im = *impl_;
  const auto& ic = im.cfg.import;
  for (const auto& s : ic.sources) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression);
    boost::system::error_code ec;
    if (!s.ca_file.empty()) {
      ctx->load_verify_file(s.ca_file, ec);
      if (ec) {
        why = "import source " + s.name + ": ca_file " + s.ca_file + ": " + ec.message();
        return false;
      }
    } else {
      ctx->set_default_verify_paths(ec);
    }
    ctx->set_verify_mode(ssl::verify_peer);
    im.tls[s.name] = std::move(ctx);
    if (!s.master_user.empty()) {
      auto sec = config::read_secret(s.master_password, s.master_password_file, why);
      if (!sec) {
        why = "import source " + s.name + ": " + why;
        return false;
      }
      im.master_secret[s.name] = *sec;
    }
  }
  for (const auto& m : ic.mappings) {
    if (m.password.empty() && m.password_file.empty()) continue;
    auto sec = config::read_secret(m.password, m.password_file, why);
    if (!sec) {
      why = "import mapping " + m.source + "/" + m.user + ": " + why;
      return false;
    }
    im.user_secret[{m.source, m.user}] = *sec;
  }
  // Every series exists from the start (a scrape shows 0, not nothing).
  for (const auto& s : ic.sources) {
    for (const char* c : {"refmail_import_notifications_total", "refmail_import_jobs_enqueued_total",
                          "refmail_import_batches_total", "refmail_import_messages_total",
                          "refmail_import_bytes_total", "refmail_import_dedup_saved_bytes_total",
                          "refmail_import_skipped_total", "refmail_import_duplicates_avoided_total",
                          "refmail_import_failures_total", "refmail_import_jobs_dropped_total",
                          "refmail_import_jobs_done_total", "refmail_import_idle_failures_total"})
      im.count(c, s.name, 0);
    im.gauge("refmail_import_idle_watchers", s.name, 0);
  }
  log::info("import.start", {{"sources", ic.sources.size()}, {"mappings", ic.mappings.size()},
                             {"window", ic.coalesce_window.count()}});
  asio::co_spawn(im.io, job_loop(impl_), log::on_exception("import.worker_failed"));
  for (const auto& m : ic.mappings) {
    const auto* s = ic.find_source(m.source);
    if (!s || !s->idle) continue;
    for (const auto& box : m.mailboxes)
      asio::co_spawn(im.io, idle_watch(impl_, s, &m, box),
                     log::on_exception("import.idle_failed"));
  }
  return true;
}

void ImportWorker::wake(storage::UnixSeconds due) {
  std::weak_ptr<Impl> w = impl_;
  asio::post(impl_->io, [w, due] {
    auto s = w.lock();
    if (!s) return;
    // Always look again: the loop may be between its query and its wait. One extra
    // due_imports() per new job (at most one per mailbox per window) is cheap.
    (void)due;
    s->wake_pending = true;
    s->timer.cancel();
  });
}

void ImportWorker::stop() {
  auto& im = *impl_;
  im.stopping = true;
  im.timer.cancel();
  for (auto& [id, t] : im.live) t->cancel();
  for (auto& [id, t] : im.live) {
    boost::system::error_code ignored;
    t->socket().close(ignored);
  }
}

}  // namespace refmail::server
