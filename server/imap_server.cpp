// server/imap_server.cpp — one coroutine per IMAP connection driving an imap::Session:
// wait for input (with the deadline the session names), feed, perform the actions in
// order (write, stream a literal, STARTTLS, COMPRESS=DEFLATE, check a password, run a
// mailbox request or hand APPEND bytes to the mailbox layer on the blocking pool,
// close). While the client IDLEs in a selected mailbox the session is polled at once
// and then every 500 ms (a timer; the read stays pending meanwhile), so new mail shows
// within a second. The session is touched only from this coroutine.
// SECURITY: the greeting is sent only after the connection limits (total, listener,
// address) and the PROXY header; LOGIN / AUTHENTICATE PLAIN without TLS only when
// smtp.plain_auth_on_loopback and the peer is loopback (never through a trusted proxy);
// passwords go through the PasswordGate (throttle, argon2id on its own pool) and are
// never logged; a failed TLS handshake, a malformed PROXY header or a literal source
// that ends short closes the connection; one read of 64 KiB at most is in flight, and
// none is issued while the session awaits an outcome (the session bounds what it holds).
#include "server/imap_server.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include "delivery/service.hpp"
#include "imap/compress.hpp"
#include "imap/mailbox/engine.hpp"
#include "imap/session.hpp"
#include "metrics/metrics.hpp"
#include "server/imap_deadline.hpp"
#include "server/log.hpp"
#include "server/password_gate.hpp"
#include "server/proxy_peer.hpp"
#include "storage/store.hpp"

namespace refmail::server {
namespace {

namespace beast = boost::beast;
namespace ssl = asio::ssl;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadBytes = 64 * 1024;     // one read; the session bounds what it keeps
constexpr std::size_t kLiteralChunk = 256 * 1024;  // one LiteralSource::read, on the pool (a pool hop and a write each)
constexpr std::size_t kFlushAt = 256 * 1024;      // output written out before more is made
constexpr auto kPollInterval = std::chrono::milliseconds(500);
constexpr auto kGoodbyeTimeout = std::chrono::seconds(5);

// The connection. Shared with the handler of the read in flight, which may complete
// after the coroutine ended (a read abandoned at a deadline ends when the socket closes).
struct Conn {
  Conn(tcp::socket s, ssl::context& tls) : stream(beast::tcp_stream(std::move(s)), tls), wake(stream.get_executor()) {}
  beast::ssl_stream<beast::tcp_stream> stream;
  bool tls = false;
  std::string outbuf;
  // The one read in flight: its buffer and, once done, its result.
  std::array<char, kReadBytes> buf{};
  bool reading = false;
  bool read_done = false;
  boost::system::error_code read_ec;
  std::size_t read_n = 0;
  // The coroutine sleeps on this until the next deadline or IDLE poll; the read's
  // completion, the daemon's drain and shedding cancel it.
  asio::steady_timer wake;
  // COMPRESS=DEFLATE (RFC 4978), once the session asked for it: every byte written goes
  // through `deflate` (flushed per write), every byte read through `inflate`.
  std::unique_ptr<imap::Deflater> deflate;
  std::unique_ptr<imap::Inflater> inflate;
};

// Shuts the socket however the coroutine ends (an exception included), so a read still
// in flight completes and releases the connection.
struct CloseOnExit {
  std::shared_ptr<Conn> c;
  ~CloseOnExit() {
    boost::system::error_code ignored;
    beast::get_lowest_layer(c->stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(c->stream).close();
    c->wake.cancel();
  }
};

void start_read(const std::shared_ptr<Conn>& c) {
  c->reading = true;
  c->read_done = false;
  // The stream's own read timer is not used (a flush may have left it set): the read
  // deadline is the wake timer's, which leaves the read pending across IDLE polls.
  beast::get_lowest_layer(c->stream).expires_never();
  auto done = [c](const boost::system::error_code& ec, std::size_t n) {
    c->reading = false;
    c->read_done = true;
    c->read_ec = ec;
    c->read_n = n;
    c->wake.cancel();
  };
  if (c->tls) {
    c->stream.async_read_some(asio::buffer(c->buf), std::move(done));
  } else {
    c->stream.next_layer().async_read_some(asio::buffer(c->buf), std::move(done));
  }
}

// Writes the pending output. A read may be in flight (IDLE updates): TLS streams allow
// one read and one write at a time, and the write's timer is its own.
asio::awaitable<bool> flush(Conn& c, std::chrono::seconds timeout) {
  if (c.outbuf.empty()) co_return true;
  if (c.deflate) c.outbuf = c.deflate->compress(c.outbuf, true);
  beast::get_lowest_layer(c.stream).expires_after(timeout);
  boost::system::error_code ec;
  if (c.tls) {
    std::tie(ec, std::ignore) =
        co_await asio::async_write(c.stream, asio::buffer(c.outbuf), asio::as_tuple(use_awaitable));
  } else {
    std::tie(ec, std::ignore) = co_await asio::async_write(c.stream.next_layer(), asio::buffer(c.outbuf),
                                                           asio::as_tuple(use_awaitable));
  }
  c.outbuf.clear();
  co_return !ec;
}

// imap::action::WriteLiteral: exactly `size` bytes from the source, read on the pool
// (it reads the store) in chunks; false when the source fails or ends short (an IMAP
// literal cannot be cut short: the caller closes the connection) or the write fails.
asio::awaitable<bool> write_literal(Conn& c, asio::thread_pool& pool, const imap::action::WriteLiteral& l,
                                    std::chrono::seconds timeout) {
  if (l.size == 0) co_return true;
  if (!l.source) co_return false;
  if (!co_await flush(c, timeout)) co_return false;  // the "{n}" prefix first
  auto chunk = std::make_shared<std::vector<char>>(static_cast<std::size_t>(std::min<std::uint64_t>(l.size, kLiteralChunk)));
  std::uint64_t left = l.size;
  while (left > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk->size()));
    auto read = [src = l.source, chunk, want] { return src->read(std::span<char>(chunk->data(), want)); };
    boost::system::result<std::size_t> got = co_await offload(pool, std::move(read));
    if (!got || *got == 0 || *got > want) co_return false;
    c.outbuf.assign(chunk->data(), *got);
    if (!co_await flush(c, timeout)) co_return false;
    left -= *got;
  }
  co_return true;
}

imap::AuthOutcome to_auth_outcome(auth::Outcome o) {
  switch (o) {
    case auth::Outcome::Ok: return imap::AuthOutcome::Ok;
    case auth::Outcome::Bad: return imap::AuthOutcome::Failed;
    case auth::Outcome::Throttled:
    case auth::Outcome::Busy: return imap::AuthOutcome::Temporary;  // NO [UNAVAILABLE], not counted
  }
  return imap::AuthOutcome::Temporary;
}

asio::awaitable<void> imap_session(tcp::socket socket, ImapListenerConfig lc, Services svc,
                                   ConnectionTracker::Slot slot) {
  const config::Config& cfg = svc.cfg;
  auto c = std::make_shared<Conn>(std::move(socket), *svc.tls);
  CloseOnExit closer{c};
  bool stop_requested = false;
  bool shed = false;
  slot.set_on_stop([c, &stop_requested] {
    stop_requested = true;
    c->wake.cancel();
  });
  // Shed for a newcomer while waiting for a client that has not logged in
  // (server/connections.hpp).
  slot.set_on_shed([c, &shed] {
    shed = true;
    c->wake.cancel();
  });
  const ImapTimeouts timeouts{cfg.limits.imap_login_timeout, cfg.limits.imap_command_timeout,
                              cfg.limits.imap_idle_timeout};
  const auto write_timeout = cfg.limits.read_timeout;
  const std::string label = "{listener=\"" + lc.name + "\"}";

  // [proxy] (server/proxy_peer.hpp): behind a trusted proxy, the client its PROXY header
  // names is the peer for limits, throttles and logs, and never loopback.
  auto identify = identify_peer(beast::get_lowest_layer(c->stream), *svc.trusted_proxies, lc.proxy_protocol);
  const PeerIdentity who = co_await std::move(identify);
  if (who.header_error) {
    log::warn("proxy.bad_header", {{"listener", lc.name}, {"via", who.socket_ip}, {"error", who.header_error.message()}});
    co_return;
  }
  const std::string peer_ip = who.ip;
  if (!slot.rekey(peer_ip)) {
    // RFC 9051 7.1.5: BYE as the greeting refuses the connection (not on imaps, whose
    // client expects a TLS handshake).
    if (!lc.implicit_tls) {
      c->outbuf = "* BYE Too many connections, try again later\r\n";
      co_await flush(*c, kGoodbyeTimeout);
    }
    log::warn("imap.refused", {{"listener", lc.name}, {"peer", peer_ip}, {"via", who.socket_ip},
                               {"reason", "connection limit"}});
    co_return;
  }
  if (who.via_proxy) log::debug("imap.proxied", {{"listener", lc.name}, {"peer", peer_ip}, {"via", who.socket_ip}});

  if (lc.implicit_tls) {
    beast::get_lowest_layer(c->stream).expires_after(timeouts.login);
    auto [hec] = co_await c->stream.async_handshake(ssl::stream_base::server, asio::as_tuple(use_awaitable));
    if (hec) {
      log::info("imap.tls_failed", {{"listener", lc.name}, {"peer", peer_ip}, {"error", hec.message()}});
      co_return;
    }
    c->tls = true;
  }

  imap::Options opts;
  opts.tls_available = true;
  opts.tls_active = c->tls;
  // The submission rule (smtp_server.cpp): plaintext credentials only from loopback, by
  // config, and never from a trusted proxy (who.loopback() is false then).
  opts.login_without_tls = cfg.smtp_policy.plain_auth_on_loopback && who.loopback();
  opts.mailbox_requests = true;
  imap::Limits lim;
  lim.command.max_append_bytes = cfg.limits.message_size_bytes;
  imap::Session session(opts, lim);

  std::deque<imap::Action> pending;
  auto push = [&pending](std::vector<imap::Action> v) {
    for (auto& a : v) pending.push_back(std::move(a));
  };
  push(session.start());
  log::debug("imap.connect", {{"listener", lc.name}, {"peer", peer_ip}, {"tls", c->tls ? "yes" : "no"}});
  svc.metrics->add("refmail_imap_sessions_total" + label);

  // One mailbox engine per logged-in connection; shared with the pool job running it.
  std::shared_ptr<imap::MailboxEngine> engine;
  std::string account;
  std::uint64_t requests = 0;
  ImapReadClock clock(timeouts, Clock::now());
  std::optional<Clock::time_point> next_poll;  // set while IDLE
  bool polled = false;                         // the actions in hand answer a poll, not the client
  bool closing = false;
  bool lost = false;  // the connection broke: nothing more is written

  for (;;) {
    while (!pending.empty() && !closing && !lost) {
      imap::Action action = std::move(pending.front());
      pending.pop_front();
      if (auto* w = std::get_if<imap::action::Write>(&action)) {
        c->outbuf += w->bytes;
        if (c->outbuf.size() >= kFlushAt && !co_await flush(*c, write_timeout)) lost = true;
      } else if (auto* l = std::get_if<imap::action::WriteLiteral>(&action)) {
        if (!co_await write_literal(*c, svc.rt.pool, *l, write_timeout)) {
          log::warn("imap.literal_failed", {{"listener", lc.name}, {"peer", peer_ip}, {"size", l->size}});
          lost = true;
        }
      } else if (std::holds_alternative<imap::action::StartTls>(action)) {
        // The tagged OK goes out in plaintext, then the handshake (RFC 9051 6.2.1).
        if (!co_await flush(*c, write_timeout)) {
          lost = true;
          break;
        }
        beast::get_lowest_layer(c->stream).expires_after(timeouts.command);
        auto [hec] = co_await c->stream.async_handshake(ssl::stream_base::server, asio::as_tuple(use_awaitable));
        if (hec) {
          log::info("imap.tls_failed", {{"listener", lc.name}, {"peer", peer_ip}, {"error", hec.message()}});
          lost = true;
          break;
        }
        c->tls = true;
        push(session.tls_started());
      } else if (auto* a = std::get_if<imap::action::Authenticate>(&action)) {
        // Throttle wait (a timer) and argon2id on the gate's own pool.
        auto check = svc.passwords->check("imap", peer_ip, a->user, a->password);
        auth::Verdict verdict = co_await std::move(check);
        if (verdict.outcome == auth::Outcome::Ok) {
          account = verdict.account;
          imap::EngineOptions eo;
          eo.append_limit = cfg.limits.message_size_bytes;
          eo.delivery = svc.delivery.get();  // APPEND; svc (this frame) keeps it alive
          eo.mime_limits = delivery::mime_limits(cfg);  // part numbers as the splitter saw them
          engine = std::make_shared<imap::MailboxEngine>(svc.store, account, eo);
          log::info("imap.login", {{"listener", lc.name}, {"peer", peer_ip}, {"user", account},
                                   {"mechanism", a->mechanism}, {"tls", c->tls ? "yes" : "no"}});
          svc.metrics->add("refmail_imap_logins_total" + label);
        } else if (verdict.outcome == auth::Outcome::Bad) {
          log::info("imap.auth_failed", {{"listener", lc.name}, {"peer", peer_ip}, {"user", a->user}});
        } else {
          log::info("imap.auth_unavailable", {{"listener", lc.name}, {"peer", peer_ip}, {"user", a->user}});
        }
        push(session.auth_result(to_auth_outcome(verdict.outcome)));
      } else if (auto* m = std::get_if<imap::action::MailboxRequest>(&action)) {
        if (!engine) {
          // The session asks for the store only after a successful login: a bug.
          log::error("imap.request_without_login", {{"listener", lc.name}, {"peer", peer_ip}});
          lost = true;
          break;
        }
        ++requests;
        if (!m->poll) svc.metrics->add("refmail_imap_mailbox_requests_total" + label);
        auto run = [engine, req = std::move(*m)] { return engine->execute(req); };
        imap::MailboxReply reply = co_await offload(svc.rt.pool, std::move(run));
        push(session.mailbox_result(std::move(reply)));
      } else if (auto* d = std::get_if<imap::action::AppendData>(&action)) {
        if (!engine) {
          log::error("imap.request_without_login", {{"listener", lc.name}, {"peer", peer_ip}});
          lost = true;
          break;
        }
        // The bytes of an APPEND message, in order, into the engine's intake on the pool
        // (splitting, blob staging); the ones of this read that follow go in one hop.
        std::string bytes = std::move(d->bytes);
        while (!pending.empty() && std::holds_alternative<imap::action::AppendData>(pending.front())) {
          bytes += std::get<imap::action::AppendData>(pending.front()).bytes;
          pending.pop_front();
        }
        // Like SMTP content: each block of an upload within the command timeout, not
        // the whole message (a logged-in user on a slow link).
        clock.answered(Clock::now());
        auto run = [engine, b = std::move(bytes)] {
          engine->append_data(b);
          return true;
        };
        try {
          (void)co_await offload(svc.rt.pool, std::move(run));
        } catch (const std::exception& e) {
          // The intake could not take the bytes (the store): the message cannot be
          // completed, and an IMAP literal cannot be cut short. The engine drops the
          // intake when the connection ends; nothing was committed.
          log::error("imap.append_failed", {{"listener", lc.name}, {"peer", peer_ip}, {"user", account},
                                            {"error", e.what()}});
          svc.metrics->add("refmail_internal_errors_total{task=\"imap_append\"}");
          lost = true;
        }
      } else if (auto* z = std::get_if<imap::action::StartCompression>(&action)) {
        // The tagged OK goes out as it is; everything after it is compressed, both ways.
        if (!co_await flush(*c, write_timeout)) {
          lost = true;
          break;
        }
        c->deflate = std::make_unique<imap::Deflater>();
        c->inflate = std::make_unique<imap::Inflater>();
        c->inflate->input(z->pending);  // received after the command: fed below
        log::debug("imap.compress", {{"listener", lc.name}, {"peer", peer_ip}});
      } else if (std::holds_alternative<imap::action::Close>(action)) {
        closing = true;
      } else {
        // imap::Action gained an alternative this loop does not know: a bug.
        log::error("imap.unknown_action", {{"listener", lc.name}});
        closing = true;
      }
    }
    if (lost) break;
    const bool wrote = !c->outbuf.empty();
    if (!co_await flush(*c, write_timeout)) break;
    if (wrote && !polled) clock.answered(Clock::now());
    polled = false;
    if (closing || session.closed()) break;
    if (stop_requested || svc.rt.connections.stopping()) {
      // Draining: RFC 9051 7.1.5, the server is closing the connection.
      c->outbuf = "* BYE Server shutting down\r\n";
      co_await flush(*c, kGoodbyeTimeout);
      log::debug("imap.drained", {{"listener", lc.name}, {"peer", peer_ip}});
      break;
    }
    if (shed) {
      c->outbuf = "* BYE Too busy, closing idle connection\r\n";
      co_await flush(*c, kGoodbyeTimeout);
      log::info("imap.shed", {{"listener", lc.name}, {"peer", peer_ip}, {"state", imap::to_string(session.state())}});
      break;
    }

    // Wait for the client's bytes, the read deadline, or the next IDLE poll.
    const auto now = Clock::now();
    const imap::Deadline kind = session.deadline();
    const auto read_deadline = clock.deadline(kind, now);
    if (!read_deadline) {
      // No outcome is awaited here (each was performed above): a bug.
      log::error("imap.no_deadline", {{"listener", lc.name}, {"state", imap::to_string(session.state())}});
      break;
    }
    if (session.state() == imap::SessionState::Idle) {
      if (!next_poll) next_poll = now;  // IDLE entered: the first poll at once
    } else {
      next_poll.reset();
    }
    // Before login a newcomer may take this connection's slot when a budget is full.
    slot.set_standing(session.user() ? ConnectionTracker::Standing::busy : ConnectionTracker::Standing::idle);
    if (c->inflate && session.wants_input()) {
      // Decompressed input first, one piece at a time and only while the session takes
      // input (a small compressed read can expand a thousandfold); the socket is read
      // again once the inflater has nothing left.
      auto piece = c->inflate->output(kReadBytes);
      if (!piece) {
        log::info("imap.compress_failed", {{"listener", lc.name}, {"peer", peer_ip}});
        break;
      }
      if (!piece->empty()) {
        push(session.feed(*piece));
        continue;
      }
    }
    if (!c->reading && !c->read_done) start_read(c);
    if (!c->read_done) {
      c->wake.expires_at(next_poll ? std::min(*read_deadline, *next_poll) : *read_deadline);
      (void)co_await c->wake.async_wait(asio::as_tuple(use_awaitable));
    }
    slot.set_standing(ConnectionTracker::Standing::busy);
    if (c->read_done) {
      c->read_done = false;
      if (c->read_ec) {
        // Peer closed or reset, or the drain cancelled the read: the loop's top says BYE
        // when draining; otherwise there is nobody to answer.
        if (stop_requested || shed || svc.rt.connections.stopping()) continue;
        break;
      }
      if (c->inflate) {
        c->inflate->input(std::string_view(c->buf.data(), c->read_n));  // fed piece by piece above
      } else {
        push(session.feed(std::string_view(c->buf.data(), c->read_n)));
      }
      continue;
    }
    if (stop_requested || shed || svc.rt.connections.stopping()) continue;
    const auto woke = Clock::now();
    if (woke >= *read_deadline) {
      // RFC 9051 7.1.5: BYE before an autologout.
      c->outbuf = "* BYE Autologout; idle too long\r\n";
      co_await flush(*c, kGoodbyeTimeout);
      const char* name = imap_deadline_name(kind);
      log::info("imap.timeout", {{"listener", lc.name}, {"peer", peer_ip}, {"state", imap::to_string(session.state())},
                                 {"deadline", name}});
      svc.metrics->add("refmail_imap_timeouts_total{listener=\"" + lc.name + "\",deadline=\"" + name + "\"}");
      break;
    }
    if (next_poll && woke >= *next_poll) {
      auto actions = session.poll_mailbox();
      // Nothing to ask without a selected mailbox (IDLE in the authenticated state, or
      // the mailbox went away): no more polls until the next IDLE.
      next_poll = actions.empty() ? Clock::time_point::max() : woke + kPollInterval;
      polled = !actions.empty();
      push(std::move(actions));
    }
  }
  log::debug("imap.disconnect", {{"listener", lc.name}, {"peer", peer_ip}, {"user", account}, {"requests", requests}});
}

}  // namespace

asio::awaitable<void> serve_imap(tcp::acceptor& acceptor, ImapListenerConfig lc, Services svc) {
  // The series exist from start-up at 0.
  const std::string label = "{listener=\"" + lc.name + "\"}";
  for (const char* series : {"refmail_imap_sessions_total", "refmail_imap_logins_total",
                             "refmail_imap_mailbox_requests_total"}) {
    svc.metrics->add(series + label, 0);
  }
  for (auto kind : {imap::Deadline::Unauthenticated, imap::Deadline::InCommand, imap::Deadline::Authenticated,
                    imap::Deadline::Idle}) {
    svc.metrics->add("refmail_imap_timeouts_total{listener=\"" + lc.name + "\",deadline=\"" +
                         imap_deadline_name(kind) + "\"}",
                     0);
  }
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (ec) {
      log::warn("imap.accept_failed", {{"listener", lc.name}, {"error", ec.message()}});
      continue;
    }
    // RFC 9051 7.1.5: a BYE greeting refuses the connection (imaps: just closed, its client
    // expects a TLS handshake).
    auto slot = admit(socket, svc, lc.budget, lc.name, "imap",
                      lc.implicit_tls ? "" : "* BYE Too many connections, try again later\r\n");
    if (!slot) continue;
    asio::co_spawn(acceptor.get_executor(), imap_session(std::move(socket), lc, svc, std::move(slot)),
                   log::on_exception("imap.session_failed", "listener", lc.name));
  }
}

}  // namespace refmail::server
