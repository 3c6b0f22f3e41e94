// server/relay.cpp — see relay.hpp. One worker coroutine schedules; one coroutine per
// queue row delivers (bounded overall and per destination domain). Blocking work
// (store reads/writes, joining, bounces) runs on the daemon's pool, DNS on a private
// pool. Everything else (the in-flight maps, the ready list, the connection cache, the
// timers) lives on the io thread only.
// Throughput (docs/PERFORMANCE.md, issue 5): blobs are read in 1 MiB windows
// (mime::WindowSource), the message is joined in 1 MiB pieces on the pool and streamed
// into the session (StreamJob), connections are reused (RSET) per destination, routes are
// cached for their DNS TTL, a finished delivery starts the next ready row without a
// queue scan, and queue removals share one WAL sync.
// The message side (envelope, loading, StreamJob, bounce reports) is delivery/outbound.cpp.
// RFC 5321 4.5.4.1 (retry strategy), 5.1 (MX order, implicit MX), RFC 7505 (null MX),
// RFC 3461/3464 (DSN), RFC 7435 (opportunistic TLS).
#include "mime/headers.hpp"
#include "server/relay.hpp"

#include <openssl/ssl.h>

#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <map>
#include <set>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include "mime/dsn.hpp"
#include "mime/skeleton.hpp"
#include "server/dns.hpp"
#include "server/log.hpp"
#include "delivery/outbound.hpp"
#include "smtp/client_session.hpp"
#include "storage/store.hpp"

namespace refmail::server {

namespace beast = boost::beast;
namespace ssl = asio::ssl;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using namespace delivery::outbound;  // envelope, message loading, streaming, reports

namespace {

constexpr std::size_t kScanLimit = 1000;           // rows looked at per scheduling pass
// A safety net for rows queued without notify() (e.g. by another process or a path
// that has no notifier): looks at the head of the queue only, never all rows.
constexpr auto kIdleWake = std::chrono::seconds(15);
constexpr std::size_t kMaxTargets = 5;             // MX addresses tried per attempt
constexpr std::string_view kInDelivery = "in delivery";
// The connection cache: idle limit and messages per connection (see put_idle).
constexpr auto kConnIdleLimit = std::chrono::seconds(5);
constexpr std::uint32_t kConnMaxMessages = 100;
// How long a finished delivery's queue removal may wait for the group's WAL sync.
constexpr auto kSyncDelay = std::chrono::milliseconds(20);

}  // namespace

struct RelayConnection;

struct RelayWorker::Impl : std::enable_shared_from_this<Impl> {
  Impl(const config::Config& c, storage::Store& s, asio::io_context& i, asio::thread_pool& p)
      : cfg(c), store(s), mail(s, c), io(i), pool(p), dns_pool(2), timer(i), mx_tls(ssl::context::tls_client),
        smarthost_tls(ssl::context::tls_client), sweep_timer(i), sync_timer(i) {}

  const config::Config& cfg;
  storage::Store& store;
  // Bounces and delay warnings go to local senders only: nothing is queued, nobody woken.
  delivery::Service mail;
  asio::io_context& io;
  asio::thread_pool& pool;
  asio::thread_pool dns_pool;
  RouteCache routes;  // thread-safe: filled on dns_pool, read on the io thread
  asio::steady_timer timer;
  ssl::context mx_tls;
  ssl::context smarthost_tls;
  std::string smarthost_secret;

  // io thread only.
  bool stopping = false;
  bool wake_pending = false;    // something changed: wake the scheduler
  bool rescan_pending = false;  // rows were added or changed (notify): read the queue again
  std::deque<storage::QueueEntry> ready;  // due rows read by the last scan, not yet started
  bool scanning = false;
  // Rows finished while a scan was reading: the scan may have read them before their
  // removal or rescheduling, so its copy is stale and must not start them again.
  std::set<std::string> finished_during_scan;
  std::set<std::string> in_flight;                    // queue ids (attempt or its bookkeeping)
  std::size_t sessions = 0;                           // attempts holding a concurrency slot
  std::map<std::string, std::uint32_t> per_domain;    // in-flight count by domain
  std::map<std::uint64_t, beast::tcp_stream*> live;   // open connections, closed on stop
  std::uint64_t next_live = 0;
  // The connection cache (put_idle / take_idle), by destination key.
  IdleCache<std::shared_ptr<RelayConnection>> idle_conns{IdleCache<std::shared_ptr<RelayConnection>>::Limits{
      kConnIdleLimit, std::max<std::size_t>(1, cfg.relay.per_domain_concurrency), kConnMaxMessages}};
  bool sweeping = false;
  asio::steady_timer sweep_timer;
  // Group commit of queue removals (sync_removals).
  std::size_t unsynced_removals = 0;
  bool syncing = false;
  asio::steady_timer sync_timer;

  std::chrono::seconds retry_delay(std::uint32_t failures) const {
    const auto& s = cfg.relay.retry_schedule;
    return s[std::min<std::size_t>(failures, s.size() - 1)];
  }
};

namespace {

using ImplPtr = std::shared_ptr<RelayWorker::Impl>;

struct Target {
  std::string host;  // name for logs, SNI and verification
  std::string ip;
  std::uint16_t port = 25;
};

// The row's "in delivery" mark (Postfix's active queue), written once per delivery
// right before the first write carrying message content, without counting an attempt.
// After a crash it says a duplicate is possible; an attempt that never sent content
// (no connection, refused recipients) never marks the row.
struct ContentMark {
  std::string queue_id;
  storage::UnixSeconds due;
  std::uint32_t attempts = 0;
  std::string text;
  bool written = false;
  bool gone = false;  // the row disappeared before content went out: abandon the delivery
  const MessageContent* content = nullptr;  // what a streamed content write sends
};

}  // namespace

// One SMTP connection and its client session. Owned by one delivery at a time, or idle
// in the connection cache between deliveries. Registered in Impl::live (for stop())
// while it exists.
struct RelayConnection {
  RelayConnection(RelayWorker::Impl& o, ssl::context& ctx)
      : owner(o), stream(std::make_unique<beast::ssl_stream<beast::tcp_stream>>(beast::tcp_stream(o.io), ctx)),
        live_id(++o.next_live) {
    owner.live[live_id] = &beast::get_lowest_layer(*stream);
  }
  ~RelayConnection() { owner.live.erase(live_id); }
  RelayConnection(const RelayConnection&) = delete;
  RelayConnection& operator=(const RelayConnection&) = delete;

  RelayWorker::Impl& owner;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream;
  std::unique_ptr<smtp::ClientSession> session;
  std::uint64_t live_id;
  bool tls_on = false;
  std::uint32_t messages = 0;  // sent on this connection so far
};

namespace {

using Connection = RelayConnection;

// Postfix's connection cache, simplified: a connection whose transaction ended in step
// is kept for the next row to the same destination (same host, address, port and TLS
// choice) for kConnIdleLimit, at most per_domain_concurrency per destination and
// kConnMaxMessages messages per connection (IdleCache, relay.hpp).

std::string connection_key(const Target& t, bool smarthost, const smtp::ClientOptions& o) {
  return std::string(smarthost ? "S|" : "M|") + t.host + "|" + t.ip + "|" + std::to_string(t.port) + "|" +
         std::to_string(static_cast<int>(o.tls));
}

// Drops idle connections older than the limit; re-arms itself while any remain.
asio::awaitable<void> sweep_idle(ImplPtr self) {
  while (!self->stopping && !self->idle_conns.empty()) {
    self->sweep_timer.expires_after(kConnIdleLimit / 2);
    auto [ec] = co_await self->sweep_timer.async_wait(asio::as_tuple(use_awaitable));  // stop() cancels
    (void)ec;
    (void)self->idle_conns.sweep(std::chrono::steady_clock::now());
  }
  self->sweeping = false;
}

std::shared_ptr<Connection> take_idle(const ImplPtr& self, const std::string& key) {
  auto c = self->idle_conns.take(key, std::chrono::steady_clock::now());
  return c ? std::move(*c) : nullptr;
}

void put_idle(const ImplPtr& self, const std::string& key, std::shared_ptr<Connection> c) {
  if (self->stopping) return;
  const std::uint32_t uses = c->messages;
  if (!self->idle_conns.put(key, std::move(c), uses, std::chrono::steady_clock::now())) return;
  if (!self->sweeping) {
    self->sweeping = true;
    asio::co_spawn(self->io, sweep_idle(self), [self](std::exception_ptr e) {
      if (!e) return;
      self->sweeping = false;  // the next idle connection starts a new sweeper
      log::exception("relay.sweep_failed", e);
    });
  }
}

// Writes the buffers in order (TLS or not); the connection's deadline applies.
asio::awaitable<boost::system::error_code> send(Connection& conn, std::array<asio::const_buffer, 3> bufs) {
  beast::get_lowest_layer(*conn.stream).expires_after(conn.owner.cfg.relay.timeout);
  boost::system::error_code ec;
  if (conn.tls_on) {
    std::tie(ec, std::ignore) = co_await asio::async_write(*conn.stream, bufs, asio::as_tuple(use_awaitable));
  } else {
    std::tie(ec, std::ignore) =
        co_await asio::async_write(conn.stream->next_layer(), bufs, asio::as_tuple(use_awaitable));
  }
  co_return ec;
}

// Runs the session's actions and reads replies until the message's outcome is decided.
// `replied`: set once the server answered anything; `io_failed`: set when a read or
// write failed (a cached connection that fails before any reply was closed while idle).
asio::awaitable<void> drive(ImplPtr self, Connection& conn, const Target& target, std::vector<smtp::ClientAction> todo,
                            ContentMark* mark, bool* replied, bool* io_failed) {
  const auto timeout = self->cfg.relay.timeout;
  auto& stream = *conn.stream;
  auto& lowest = beast::get_lowest_layer(stream);
  auto& session = *conn.session;
  std::array<char, 16384> buf;
  while (true) {
    // Perform the actions in order; a handshake adds the session's next actions.
    for (std::size_t i = 0; i < todo.size(); ++i) {
      auto action = std::move(todo[i]);
      if (auto* w = std::get_if<smtp::ClientWrite>(&action)) {
        if (w->content && !mark->written) {
          auto write_mark = [&store = self->store, m = *mark] {
            // Not fsynced: a crash of the process keeps it (the WAL is in the page cache);
            // an OS crash may lose it, and with it only the duplicate warning.
            return store.update_queue(m.queue_id, m.due, m.attempts, m.text, std::nullopt, false);
          };
          auto marked = co_await offload(self->pool, std::move(write_mark));
          if (!marked) {
            mark->gone = true;  // removed meanwhile (refmailctl queue delete): send nothing
            (void)session.connection_lost("queue row removed");
            break;
          }
          mark->written = true;
        }
        boost::system::error_code wec;
        if (w->stream == smtp::ClientWrite::Stream::None) {
          // Head, the message itself (a view: content_by_reference), trailer; one gathered write.
          wec = co_await send(conn, {asio::buffer(w->bytes), asio::buffer(w->body.data(), w->body.size()),
                                     asio::buffer(w->trailer)});
        } else {
          // Head, then the message streamed piece by piece (joined on the pool), trailer.
          auto job = std::make_unique<StreamJob>(self->store, *mark->content,
                                                 w->stream == smtp::ClientWrite::Stream::DotStuffed);
          std::string_view head = w->bytes;
          bool failed = false;
          while (!wec) {
            auto step = [j = job.get()] { return j->next(); };
            const bool ok = co_await offload(self->pool, std::move(step));
            if (!ok) {
              log::error("relay.stream_failed", {{"queue_id", mark->queue_id}, {"error", job->error()}});
              failed = true;
              break;
            }
            const std::string_view tail = job->done() ? std::string_view(w->trailer) : std::string_view();
            const std::string_view piece = job->piece();
            wec = co_await send(conn, {asio::buffer(head.data(), head.size()), asio::buffer(piece.data(), piece.size()),
                                       asio::buffer(tail.data(), tail.size())});
            head = {};
            if (job->done()) break;
          }
          if (failed) {
            // The peer has part of the message and an announced size or an open DATA:
            // this connection cannot be used again; the row is retried.
            auto more = session.connection_lost("4.3.0 " + job->error());
            todo.insert(todo.end(), more.begin(), more.end());
            continue;
          }
        }
        if (wec) {
          *io_failed = true;
          auto more = session.connection_lost("write to " + target.host + " failed: " + wec.message());
          todo.insert(todo.end(), more.begin(), more.end());
        }
      } else if (std::holds_alternative<smtp::ClientStartTls>(action)) {
        lowest.expires_after(timeout);
        auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, asio::as_tuple(use_awaitable));
        std::vector<smtp::ClientAction> more;
        if (hec) {
          more = session.connection_lost("STARTTLS handshake with " + target.host + " failed: " + hec.message());
        } else {
          conn.tls_on = true;
          more = session.tls_started();
        }
        todo.insert(todo.end(), more.begin(), more.end());
      } else {
        break;  // ClientFinished
      }
    }
    todo.clear();
    if (session.finished()) co_return;
    lowest.expires_after(timeout);
    boost::system::error_code rec;
    std::size_t n = 0;
    if (conn.tls_on) {
      std::tie(rec, n) = co_await stream.async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
    } else {
      std::tie(rec, n) =
          co_await stream.next_layer().async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
    }
    if (rec) {
      *io_failed = true;
      todo = session.connection_lost(rec == beast::error::timeout ? "timeout waiting for " + target.host
                                                                   : "connection to " + target.host + " lost: " +
                                                                         rec.message());
    } else {
      *replied = true;
      todo = session.feed(std::span<const char>(buf.data(), n));
    }
  }
}

// One message to one host: on a cached connection when there is one (falling back to a
// new connection if the cached one turns out to be closed), else on a new connection.
// A connection that ends in step goes back to the cache.
asio::awaitable<smtp::ClientResult> run_session(ImplPtr self, Target target, smtp::ClientOptions opts,
                                                const smtp::ClientMessage& msg, bool smarthost,
                                                ContentMark* mark) {
  const auto timeout = self->cfg.relay.timeout;
  const std::string key = connection_key(target, smarthost, opts);
  if (auto cached = self->stopping ? nullptr : take_idle(self, key)) {
    bool replied = false, io_failed = false;
    auto todo = cached->session->next_message(msg);
    co_await drive(self, *cached, target, std::move(todo), mark, &replied, &io_failed);
    if (mark->gone) co_return cached->session->result();
    if (replied || !io_failed || self->stopping) {
      ++cached->messages;
      smtp::ClientResult r = cached->session->result();
      if (cached->session->reusable()) put_idle(self, key, std::move(cached));
      co_return r;
    }
    log::debug("relay.cached_connection_closed", {{"host", target.host}, {"ip", target.ip}});
    // Closed while idle: nothing reached the peer's transaction; a new connection.
  }

  ssl::context& ctx = smarthost ? self->smarthost_tls : self->mx_tls;
  auto conn = std::make_shared<Connection>(*self, ctx);
  const bool implicit = opts.tls == smtp::TlsMode::Implicit;
  opts.keep_open = true;
  conn->session = std::make_unique<smtp::ClientSession>(std::move(opts), msg);
  auto& session = *conn->session;
  auto& stream = *conn->stream;
  auto& lowest = beast::get_lowest_layer(stream);
  if (self->stopping) {
    (void)session.connection_lost("shutting down");
    co_return session.result();
  }

  boost::system::error_code ec;
  auto addr = asio::ip::make_address(target.ip, ec);
  if (ec) {
    (void)session.connection_lost("bad address " + target.ip);
    co_return session.result();
  }
  lowest.expires_after(timeout);
  auto [cec] = co_await lowest.async_connect(tcp::endpoint(addr, target.port), asio::as_tuple(use_awaitable));
  if (cec) {
    (void)session.connection_lost("connect to " + target.host + "[" + target.ip + "]:" +
                                  std::to_string(target.port) + ": " + cec.message());
    co_return session.result();
  }
  (void)lowest.socket().set_option(tcp::no_delay(true), ec);
  if (smarthost) {
    // SNI and RFC 6125 host name verification for the smarthost; MX peers are not
    // verified (RFC 7435: opportunistic TLS protects against passive attackers only).
    SSL_set_tlsext_host_name(stream.native_handle(), target.host.c_str());
    stream.set_verify_mode(ssl::verify_peer);
    stream.set_verify_callback(ssl::host_name_verification(target.host));
  }
  if (implicit) {
    lowest.expires_after(timeout);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, asio::as_tuple(use_awaitable));
    if (hec) {
      (void)session.connection_lost("TLS handshake with " + target.host + " failed: " + hec.message());
      co_return session.result();
    }
    conn->tls_on = true;
  }
  bool replied = false, io_failed = false;
  co_await drive(self, *conn, target, {}, mark, &replied, &io_failed);
  ++conn->messages;
  smtp::ClientResult r = session.result();
  if (session.reusable() && !mark->gone) put_idle(self, key, std::move(conn));
  co_return r;
}

struct Outcome {
  std::vector<std::string> delivered;
  std::vector<mime::DsnRecipient> failed;   // bounce these
  std::vector<std::string> deferred;        // retry these
  std::string last_error;
};

// Route, then try the targets in order until one gives definitive answers.
// `plaintext`: the previous attempt failed in the STARTTLS handshake; MX delivery then
// goes without TLS, as opportunistic TLS allows (RFC 7435 3; Postfix does the same).
asio::awaitable<Outcome> attempt(ImplPtr self, std::string domain, const smtp::ClientMessage& msg,
                                 std::vector<std::string> rcpts, bool plaintext, ContentMark* mark) {
  Outcome out;
  const auto& rc = self->cfg.relay;
  const bool smarthost = rc.smarthost.enabled();
  std::vector<Target> targets;
  if (smarthost) {
    tcp::resolver resolver(self->io);
    auto [rec, results] = co_await resolver.async_resolve(rc.smarthost.host, std::to_string(rc.smarthost.port),
                                                           asio::as_tuple(use_awaitable));
    if (rec) {
      out.deferred = rcpts;
      out.last_error = "cannot resolve smarthost " + rc.smarthost.host + ": " + rec.message();
      co_return out;
    }
    for (const auto& e : results) {
      if (targets.size() >= kMaxTargets) break;
      targets.push_back({rc.smarthost.host, e.endpoint().address().to_string(), rc.smarthost.port});
    }
  } else {
    // MX and address answers are cached for their TTL (RouteCache): a burst of rows to
    // one domain resolves it once.
    std::optional<Route> cached = self->routes.get(domain, RouteCache::Clock::now());
    Route route;
    if (cached) {
      route = std::move(*cached);
    } else {
      DnsOptions dopts;
      dopts.servers = rc.dns_servers;
      auto lookup = [dopts, domain, routes = &self->routes] {
        Route r = resolve_mail_route(dopts, domain);
        routes->put(domain, r, RouteCache::Clock::now());
        return r;
      };
      route = co_await offload(self->dns_pool, std::move(lookup));
    }
    if (route.status != RouteStatus::Ok) {
      if (route.status == RouteStatus::TempFail) {
        out.deferred = rcpts;
        out.last_error = "4.4.3 " + route.detail;
      } else {
        std::string status = route.detail.find("null MX") != std::string::npos ? "5.1.10" : "5.1.2";
        for (const auto& r : rcpts) out.failed.push_back({r, "failed", status, "", route.detail});
        out.last_error = status + " " + route.detail;
      }
      co_return out;
    }
    for (const auto& t : route.targets) {
      if (targets.size() >= kMaxTargets) break;
      targets.push_back({t.host, t.ip, rc.mx_port});
    }
  }

  smtp::ClientOptions opts;
  opts.ehlo_domain = self->cfg.hostname;
  opts.content_by_reference = true;  // run_session writes ClientWrite::body from the shared buffer
  if (smarthost) {
    opts.tls = rc.smarthost_tls == "tls"    ? smtp::TlsMode::Implicit
               : rc.smarthost_tls == "none" ? smtp::TlsMode::None
                                            : smtp::TlsMode::Required;
    // An operator who configured a plaintext smarthost chose to send credentials so.
    opts.allow_plaintext_auth = rc.smarthost_tls == "none";
    if (rc.smarthost_auth != "none" && !rc.smarthost_user.empty()) {
      smtp::ClientCredentials cred;
      cred.user = rc.smarthost_user;
      cred.secret = self->smarthost_secret;
      cred.mechanisms = {rc.smarthost_auth == "login"     ? smtp::AuthMechanism::Login
                         : rc.smarthost_auth == "xoauth2" ? smtp::AuthMechanism::XOAuth2
                                                          : smtp::AuthMechanism::Plain};
      opts.auth = std::move(cred);
    }
  } else {
    opts.tls = plaintext ? smtp::TlsMode::None : smtp::TlsMode::Opportunistic;
  }

  smtp::ClientResult result;
  std::string host;
  for (const auto& t : targets) {
    if (self->stopping) break;
    result = co_await run_session(self, t, opts, msg, smarthost, mark);
    if (mark->gone) co_return out;
    host = t.host;
    bool all_temp = true;
    for (const auto& r : result.rcpts) all_temp = all_temp && r.status == smtp::DeliveryClass::TempFail;
    log::info("relay.attempt", {{"domain", domain},
                                {"host", t.host},
                                {"ip", t.ip},
                                {"tls", result.tls ? "yes" : "no"},
                                {"code", result.code},
                                {"reply", result.reply.substr(0, 200)}});
    // RFC 5321 5.1: a host that cannot be reached or answers 4xx to the session ->
    // the next one. Per-recipient answers (or any 5xx) are definitive.
    if (!all_temp || result.rcpts.empty()) break;
  }
  if (result.rcpts.empty() && targets.empty()) {
    out.deferred = rcpts;
    out.last_error = "4.4.4 no host to deliver to";
    co_return out;
  }
  for (std::size_t i = 0; i < rcpts.size(); ++i) {
    const smtp::ClientRcptResult* r = i < result.rcpts.size() ? &result.rcpts[i] : nullptr;
    if (r && r->status == smtp::DeliveryClass::Delivered) {
      out.delivered.push_back(rcpts[i]);
    } else if (r && r->status == smtp::DeliveryClass::PermFail) {
      std::string text = (r->code ? std::to_string(r->code) + " " : "") + r->reply;
      out.failed.push_back({rcpts[i], "failed", mime::status_from_reply(r->code, text), host, text});
      out.last_error = text;
    } else {
      out.deferred.push_back(rcpts[i]);
      std::string text = r ? (r->code ? std::to_string(r->code) + " " : "") + r->reply
                           : (result.reply.empty() ? "no answer" : result.reply);
      out.last_error = (host.empty() ? "" : host + ": ") + text;
    }
  }
  co_return out;
}

// Makes the relay's unsynced queue removals durable: waits kSyncDelay so removals
// finishing together share one WAL sync, then syncs; repeats while more arrived.
// stop() cuts the wait short, so the drain ends with everything synced.
asio::awaitable<void> sync_removals(ImplPtr self) {
  while (self->unsynced_removals > 0) {
    if (!self->stopping) {
      self->sync_timer.expires_after(kSyncDelay);
      auto [ec] = co_await self->sync_timer.async_wait(asio::as_tuple(use_awaitable));
      (void)ec;  // cancelled by stop(): sync now
    }
    const std::size_t n = self->unsynced_removals;
    self->unsynced_removals = 0;
    auto sync = [&store = self->store] { return store.sync_queue(); };
    auto r = co_await offload(self->pool, std::move(sync));
    if (!r) log::error("relay.sync_failed", {{"removals", n}, {"error", storage::error_detail(r.error())}});
  }
  self->syncing = false;
}

// A delivery's concurrency slot (overall and per destination). Released as soon as the
// attempt is over, so the bookkeeping that follows (a synced queue write, a bounce) does
// not keep the next delivery waiting; the row stays in in_flight until that is done.
struct Slot {
  RelayWorker::Impl* self;
  std::string domain;
  bool held = true;
  void release() {
    if (!held) return;
    held = false;
    --self->sessions;
    if (auto it = self->per_domain.find(domain); it != self->per_domain.end() && --it->second == 0) {
      self->per_domain.erase(it);
    }
    self->wake_pending = true;
    self->timer.cancel();
  }
};

asio::awaitable<void> deliver(ImplPtr self, storage::QueueEntry row, std::string domain, Slot* slot) {
  auto& store = self->store;
  const auto& cfg = self->cfg;
  auto env = delivery::parse_queue_envelope(row.envelope);
  if (!env) {
    // Cannot be delivered nor bounced: hold it for the operator, never drop it.
    log::error("relay.bad_envelope", {{"queue_id", row.queue_id}});
    auto hold = [&store, id = row.queue_id, attempts = row.attempts] {
      return store.update_queue(id, storage::UnixSeconds(std::chrono::seconds(kQueueHeldDue)), attempts,
                                "held: unreadable envelope");
    };
    (void)co_await offload(self->pool, std::move(hold));
    co_return;
  }
  {
    // The scan's copy may be stale (deleted, held or finished since): read the row again.
    auto fresh = [&store, id = row.queue_id] { return store.get_queue(id); };
    auto cur = co_await offload(self->pool, std::move(fresh));
    if (!cur) {
      log::info("relay.row_gone", {{"queue_id", row.queue_id}, {"error", storage::error_detail(cur.error())}});
      co_return;  // removed meanwhile (delivered, refmailctl queue delete)
    }
    if (cur->due.time_since_epoch().count() >= kQueueHeldDue || cur->due > now_seconds()) {
      log::debug("relay.row_moved", {{"queue_id", row.queue_id}});
      co_return;  // held or rescheduled meanwhile
    }
    row = std::move(*cur);
  }
  // The "in delivery" mark is written just before the message content goes out (see
  // ContentMark): only a row whose content may have reached the peer carries it, so
  // only then can a repeat delivery follow a crash.
  if (row.last_error.starts_with(kInDelivery)) {
    log::warn("relay.possible_duplicate",
              {{"queue_id", row.queue_id}, {"domain", domain}, {"note", "interrupted delivery is retried"}});
  }
  std::string previous = row.last_error;
  if (previous.starts_with(kInDelivery)) {
    auto p = previous.find("; previous: ");
    previous = p == std::string::npos ? std::string() : previous.substr(p + 12);
  }
  ContentMark mark{row.queue_id, row.due, row.attempts,
                   std::string(kInDelivery) + (previous.empty() ? "" : "; previous: " + previous)};

  // The trace line for this hop (RFC 5321 4.4); the stored bytes follow unchanged.
  // No "for" clause: the recipients of other rows (and Bcc) must not show.
  std::string received = "Received: by " + cfg.hostname + " (refmail relay) id " + row.queue_id + "; " +
                         mime::format_rfc5322_date(std::time(nullptr)) + "\r\n";
  auto load = [&store, id = row.message_id, received = std::move(received)]() mutable {
    return load_message(store, id, std::move(received));
  };
  Loaded msg = co_await offload(self->pool, std::move(load));
  mark.content = &msg.content;
  const auto now = now_seconds();
  const std::int64_t age = msg.error.empty() ? now.time_since_epoch().count() - msg.created : 0;

  Outcome out;
  if (!msg.error.empty()) {
    out.deferred = env->rcpt_to;
    out.last_error = "4.3.0 " + msg.error;
    log::error("relay.load_failed", {{"queue_id", row.queue_id}, {"error", msg.error}});
  } else {
    smtp::ClientMessage cm;
    auto from = parse_address(env->mail_from, smtp::PathKind::Reverse);
    if (env->mail_from.empty()) from = smtp::Address{};
    std::vector<std::string> usable;
    for (const auto& r : env->rcpt_to) {
      auto a = parse_address(r, smtp::PathKind::Forward);
      if (!a) {
        out.failed.push_back({r, "failed", "5.1.3", "", "bad recipient address syntax"});
        continue;
      }
      smtp::RcptParams rp;
      if (auto it = env->dsn.find(r); it != env->dsn.end()) {
        rp.notify = it->second.first;
        if (auto semi = it->second.second.find(';'); semi != std::string::npos) {
          rp.orcpt_type = it->second.second.substr(0, semi);
          rp.orcpt = it->second.second.substr(semi + 1);
        }
      }
      cm.rcpt_to.push_back(smtp::Recipient{*a, std::move(rp)});
      usable.push_back(r);
    }
    if (!from) {
      for (const auto& r : usable) out.failed.push_back({r, "failed", "5.1.7", "", "bad sender address syntax"});
      usable.clear();
    }
    if (!usable.empty()) {
      cm.mail_from = *from;
      cm.params.smtputf8 = env->smtputf8;
      cm.params.envid = env->envid;
      cm.params.ret = env->ret == "FULL" ? smtp::DsnRet::Full
                      : env->ret == "HDRS" ? smtp::DsnRet::Hdrs
                                           : smtp::DsnRet::Unspecified;
      cm.params.body = msg.eight_bit ? smtp::Body::EightBitMime : smtp::Body::SevenBit;
      cm.streamed = true;  // drive() streams msg.content into the session
      cm.streamed_size = msg.content.size;
      const bool plaintext = previous.find("STARTTLS handshake") != std::string::npos;
      Outcome o = co_await attempt(self, domain, cm, usable, plaintext, &mark);
      if (mark.gone) {
        log::info("relay.row_gone", {{"queue_id", row.queue_id}, {"note", "removed during the attempt"}});
        co_return;
      }
      out.delivered = std::move(o.delivered);
      out.deferred = std::move(o.deferred);
      out.failed.insert(out.failed.end(), o.failed.begin(), o.failed.end());
      out.last_error = std::move(o.last_error);
    }
  }

  slot->release();  // the peer is done with; what follows is local bookkeeping

  // Too old: what is still deferred fails now (RFC 5321 4.5.4.1: give up after 4-5 days).
  const bool expired = msg.error.empty() && age >= cfg.relay.max_age.count() && !self->stopping;
  if (expired && !out.deferred.empty()) {
    for (const auto& r : out.deferred) {
      out.failed.push_back({r, "failed", "4.4.7", "",
                            "message expired after " + std::to_string(age / 3600) + " hours; last error: " +
                                out.last_error});
    }
    out.deferred.clear();
  }

  // The bounce first, then the queue change: a crash in between repeats the bounce
  // rather than losing it.
  if (!out.failed.empty()) {
    // RFC 3461 4.1: with NOTIFY given, a failure is reported only when it holds FAILURE.
    std::vector<mime::DsnRecipient> report_rcpts;
    for (const auto& f : out.failed) {
      unsigned n = env->notify(f.address);
      if (n == 0 || (n & smtp::kNotifyFailure)) report_rcpts.push_back(f);
    }
    if (msg.error.empty() && !report_rcpts.empty()) {
      auto report = [&mail = self->mail, &cfg, env = *env, bytes = msg.headers, created = msg.created, rcpts = report_rcpts] {
        return send_report(mail, cfg, env, bytes, created, rcpts);
      };
      std::string detail = co_await offload(self->pool, std::move(report));
      log::info("relay.bounce", {{"queue_id", row.queue_id}, {"failed", out.failed.size()}, {"detail", detail}});
    }
    for (const auto& f : out.failed) {
      log::info("relay.failed", {{"queue_id", row.queue_id}, {"rcpt", f.address}, {"status", f.status},
                                 {"reason", f.diagnostic.substr(0, 300)}});
    }
  }
  for (const auto& d : out.delivered) log::info("relay.delivered", {{"queue_id", row.queue_id}, {"rcpt", d}});

  if (out.deferred.empty()) {
    // Group commit: the removal skips the fsync; one WAL sync soon after covers every
    // removal made meanwhile (sync_removals). A machine crash in between brings rows
    // back: a repeat delivery, never a loss (the bounce, if any, was durable first).
    auto remove = [&store, id = row.queue_id] { return store.remove_queue(id, false); };
    auto r = co_await offload(self->pool, std::move(remove));
    if (!r) {
      log::error("relay.remove_failed", {{"queue_id", row.queue_id}, {"error", storage::error_detail(r.error())}});
    } else {
      ++self->unsynced_removals;
      if (!self->syncing) {
        self->syncing = true;
        asio::co_spawn(self->io, sync_removals(self), [self](std::exception_ptr e) {
          if (!e) return;
          self->syncing = false;  // the next removal starts a new syncer
          log::exception("relay.sync_failed", e);
        });
      }
    }
    co_return;
  }

  // Delay warning, once per row, when configured.
  if (cfg.relay.delay_warnings && !env->warned && msg.error.empty() &&
      age >= cfg.relay.delay_warning_after.count()) {
    std::vector<mime::DsnRecipient> delayed;
    for (const auto& r : out.deferred) {
      unsigned n = env->notify(r);  // RFC 3461 4.1: DELAY when NOTIFY was given
      if (n == 0 || (n & smtp::kNotifyDelay)) delayed.push_back({r, "delayed", "4.4.1", "", out.last_error});
    }
    auto report = [&mail = self->mail, &cfg, env = *env, bytes = msg.headers, created = msg.created, rcpts = delayed] {
      return send_report(mail, cfg, env, bytes, created, rcpts);
    };
    std::string detail = delayed.empty() ? std::string("NOTIFY excludes DELAY") : std::string();
    if (!delayed.empty()) detail = co_await offload(self->pool, std::move(report));
    env->warned = true;
    log::info("relay.delay_warning", {{"queue_id", row.queue_id}, {"detail", detail}});
  }
  QueuedEnvelope next = *env;
  next.rcpt_to = out.deferred;
  const auto delay = self->retry_delay(row.attempts);
  // A drain interrupted this attempt: retry soon after the restart, count nothing.
  const bool interrupted = self->stopping;
  auto resched = [&store, id = row.queue_id, due = interrupted ? now : now + delay,
                  attempts = interrupted ? row.attempts : row.attempts + 1, err = out.last_error,
                  envelope = delivery::serialize(next)]() -> storage::result<void> {
    // An operator's hold placed during the attempt stays (refmailctl queue hold).
    auto cur = store.get_queue(id);
    if (!cur) return cur.error();
    bool held = cur->due.time_since_epoch().count() >= kQueueHeldDue;
    // The hold's own text stays; our "in delivery" mark does not (the attempt is over).
    bool keep = held && !std::string_view(cur->last_error).starts_with(kInDelivery);
    return store.update_queue(id, held ? cur->due : due, attempts, keep ? cur->last_error : err, envelope);
  };
  auto r = co_await offload(self->pool, std::move(resched));
  if (!r) log::error("relay.reschedule_failed", {{"queue_id", row.queue_id}, {"error", storage::error_detail(r.error())}});
  log::info("relay.deferred", {{"queue_id", row.queue_id},
                               {"rcpts", out.deferred.size()},
                               {"attempts", interrupted ? row.attempts : row.attempts + 1},
                               {"retry_in", interrupted ? 0 : delay.count()},
                               {"error", out.last_error.substr(0, 300)}});
}

// Runs one delivery and releases its concurrency slots; then wakes the scheduler.
asio::awaitable<void> deliver_and_release(ImplPtr self, storage::QueueEntry row, std::string domain) {
  std::string id = row.queue_id;
  Slot slot{self.get(), domain};
  try {
    co_await deliver(self, std::move(row), domain, &slot);
  } catch (const std::exception& e) {
    // A bug or a library exception: the row stays queued and is retried.
    log::error("relay.delivery_failed", {{"queue_id", id}, {"error", e.what()}});
  }
  slot.release();
  self->in_flight.erase(id);
  if (self->scanning) self->finished_during_scan.insert(id);
  self->wake_pending = true;
  self->timer.cancel();
}

std::string destination_of(const RelayWorker::Impl& im, const storage::QueueEntry& row) {
  if (im.cfg.relay.smarthost.enabled()) return "smarthost";  // one destination for the limit
  auto env = delivery::parse_queue_envelope(row.envelope);
  return env ? domain_of(env->rcpt_to.front()) : std::string("?");
}

// Starts what the concurrency limits allow from the ready list (in due order; a row whose
// destination is at its limit waits, later rows for other destinations go first).
void dispatch_ready(const ImplPtr& self) {
  const auto& rc = self->cfg.relay;
  for (auto it = self->ready.begin(); it != self->ready.end();) {
    if (self->sessions >= rc.concurrency) break;  // a finishing attempt wakes us
    if (self->in_flight.count(it->queue_id)) {
      it = self->ready.erase(it);
      continue;
    }
    std::string domain = destination_of(*self, *it);
    auto& n = self->per_domain[domain];
    if (n >= rc.per_domain_concurrency) {
      ++it;
      continue;
    }
    ++n;
    ++self->sessions;
    self->in_flight.insert(it->queue_id);
    log::debug("relay.start", {{"queue_id", it->queue_id}, {"domain", domain}, {"attempts", it->attempts}});
    asio::co_spawn(self->io, deliver_and_release(self, std::move(*it), domain),
                   log::on_exception("relay.delivery_failed", "domain", domain));
    it = self->ready.erase(it);
  }
}

// The scheduler: reads the due front of the queue only when it has nothing ready to
// start (or was told rows changed), so a steady drain costs one scan per kScanLimit rows,
// not one per delivery.
asio::awaitable<void> schedule(ImplPtr self) {
  std::optional<storage::UnixSeconds> next;  // the earliest row not yet due
  while (!self->stopping) {
    self->wake_pending = false;
    if (self->rescan_pending || self->ready.empty()) {
      self->rescan_pending = false;
      self->scanning = true;
      self->finished_during_scan.clear();
      auto scan = [&store = self->store, n = kScanLimit + self->in_flight.size()] {
        return store.due_queue(storage::UnixSeconds(std::chrono::seconds(kQueueHeldDue)), n);
      };
      auto rows = co_await offload(self->pool, std::move(scan));
      self->scanning = false;
      if (self->stopping) break;
      const auto now = now_seconds();
      next.reset();
      self->ready.clear();
      if (!rows) {
        log::error("relay.scan_failed", {{"error", storage::error_detail(rows.error())}});
        next = now + std::chrono::seconds(30);
      } else {
        for (auto& row : *rows) {
          if (self->in_flight.count(row.queue_id) || self->finished_during_scan.count(row.queue_id)) continue;
          if (row.due > now) {
            next = row.due;
            break;
          }
          self->ready.push_back(std::move(row));
        }
      }
      self->finished_during_scan.clear();
    }
    dispatch_ready(self);
    if (self->wake_pending || self->rescan_pending || self->stopping) continue;
    const auto now = now_seconds();
    std::chrono::steady_clock::duration wait = kIdleWake;
    if (next) {
      auto d = std::chrono::duration_cast<std::chrono::steady_clock::duration>(*next - now) +
               std::chrono::milliseconds(50);
      if (d < wait) wait = d;
      if (wait < std::chrono::steady_clock::duration::zero()) wait = std::chrono::steady_clock::duration::zero();
    }
    self->timer.expires_after(wait);
    auto [ec] = co_await self->timer.async_wait(asio::as_tuple(use_awaitable));
    if (!ec && !self->wake_pending) {
      // The timer ran out (a row became due, or the idle safety wake): read the queue.
      self->rescan_pending = true;
    }
  }
  log::info("relay.stopped", {{"in_flight", self->in_flight.size()}});
}

}  // namespace

RelayWorker::RelayWorker(const config::Config& cfg, storage::Store& store, asio::io_context& io,
                         asio::thread_pool& pool)
    : impl_(std::make_shared<Impl>(cfg, store, io, pool)) {}

RelayWorker::~RelayWorker() {
  if (impl_) impl_->dns_pool.join();
}

void RelayWorker::set_dkim(std::shared_ptr<delivery::DkimKeyring> keys) { impl_->mail.set_dkim(std::move(keys)); }

bool RelayWorker::start(std::string& why) {
  auto& im = *impl_;
  const auto& rc = im.cfg.relay;
  // TLS 1.2 minimum for both; MX peers unverified (opportunistic), the smarthost verified.
  for (ssl::context* c : {&im.mx_tls, &im.smarthost_tls}) {
    c->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression);
  }
  im.mx_tls.set_verify_mode(ssl::verify_none);
  boost::system::error_code ec;
  if (!rc.smarthost_ca_file.empty()) {
    im.smarthost_tls.load_verify_file(rc.smarthost_ca_file, ec);
    if (ec) {
      why = "relay.smarthost_ca_file " + rc.smarthost_ca_file + ": " + ec.message();
      return false;
    }
  } else {
    im.smarthost_tls.set_default_verify_paths(ec);
  }
  im.smarthost_tls.set_verify_mode(ssl::verify_peer);
  im.smarthost_secret = rc.smarthost_password;
  if (!rc.smarthost_password_file.empty()) {
    std::ifstream in(rc.smarthost_password_file);
    if (!in || !std::getline(in, im.smarthost_secret)) {
      why = "relay.smarthost_password_file " + rc.smarthost_password_file + ": cannot read";
      return false;
    }
    if (!im.smarthost_secret.empty() && im.smarthost_secret.back() == '\r') im.smarthost_secret.pop_back();
  }
  log::info("relay.start", {{"mode", rc.smarthost.enabled() ? "smarthost" : "mx"},
                            {"smarthost", rc.smarthost.enabled() ? rc.smarthost.to_string() : std::string("-")},
                            {"concurrency", rc.concurrency}});
  asio::co_spawn(im.io, schedule(impl_), log::on_exception("relay.worker_failed"));
  return true;
}

void RelayWorker::notify() {
  std::weak_ptr<Impl> w = impl_;
  asio::post(impl_->io, [w] {
    if (auto s = w.lock()) {
      s->rescan_pending = true;
      s->timer.cancel();
    }
  });
}

void RelayWorker::stop() {
  auto& im = *impl_;
  im.stopping = true;
  im.timer.cancel();
  for (auto& [id, t] : im.live) t->cancel();
  im.idle_conns.clear();  // closes the cached connections
  im.sweep_timer.cancel();
  im.sync_timer.cancel();  // the pending group commit runs now
}

}  // namespace refmail::server
