// server/imap_server.cpp — one coroutine per IMAP connection driving an imap::Session:
// wait for input (with the deadline the session names), feed, perform the actions in
// order (write, stream a literal, STARTTLS, COMPRESS=DEFLATE, check a password, run a
// mailbox request or hand APPEND bytes to the mailbox layer on the blocking pool,
// close). While the client IDLEs in a selected mailbox the session is polled at once
// and then every 500 ms (a timer; the read stays pending meanwhile), so new mail shows
// within a second. The session is touched only from this coroutine. The connection
// plumbing (accept and admission, PROXY header, TLS, output, the woken read) is
// server/line_connection.hpp's.
// SECURITY: the greeting is sent only after the connection limits (total, listener,
// address) and the PROXY header; LOGIN / AUTHENTICATE PLAIN without TLS only when
// smtp.plain_auth_on_loopback and the peer is loopback (never through a trusted proxy);
// passwords go through the PasswordGate (throttle, argon2id on its own pool) and are
// never logged; a failed TLS handshake, a malformed PROXY header or a literal source
// that ends short closes the connection; one read of 64 KiB at most is in flight, and
// none is issued while the session awaits an outcome (the session bounds what it holds).
#include "server/imap_server.hpp"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <boost/asio.hpp>

#include "delivery/service.hpp"
#include "imap/compress.hpp"
#include "imap/mailbox/engine.hpp"
#include "imap/session.hpp"
#include "metrics/metrics.hpp"
#include "server/imap_deadline.hpp"
#include "server/line_connection.hpp"
#include "server/log.hpp"
#include "server/password_gate.hpp"
#include "storage/store.hpp"

namespace refmail::server {
namespace {

using asio::use_awaitable;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kLiteralChunk = 256 * 1024;  // one LiteralSource::read, on the pool (a pool hop and a write each)
constexpr std::size_t kFlushAt = 256 * 1024;      // output written out before more is made
constexpr auto kPollInterval = std::chrono::milliseconds(500);

// imap::action::WriteLiteral: exactly `size` bytes from the source, read on the pool
// (it reads the store) in chunks; false when the source fails or ends short (an IMAP
// literal cannot be cut short: the caller closes the connection) or the write fails.
asio::awaitable<bool> write_literal(LineConnection& c, asio::thread_pool& pool, const imap::action::WriteLiteral& l,
                                    std::chrono::seconds timeout) {
  if (l.size == 0) co_return true;
  if (!l.source) co_return false;
  if (!co_await c.flush(timeout)) co_return false;  // the "{n}" prefix first
  auto chunk = std::make_shared<std::vector<char>>(static_cast<std::size_t>(std::min<std::uint64_t>(l.size, kLiteralChunk)));
  std::uint64_t left = l.size;
  while (left > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk->size()));
    auto read = [src = l.source, chunk, want] { return src->read(std::span<char>(chunk->data(), want)); };
    boost::system::result<std::size_t> got = co_await offload(pool, std::move(read));
    if (!got || *got == 0 || *got > want) co_return false;
    c.out().assign(chunk->data(), *got);
    if (!co_await c.flush(timeout)) co_return false;
    left -= *got;
  }
  co_return true;
}

// What the shared plumbing (server/line_connection.hpp) needs of an IMAP listener.
LineListener line_listener(const ImapListenerConfig& lc) {
  // RFC 9051 7.1.5: a BYE greeting refuses the connection (imaps: just closed, its
  // client expects a TLS handshake).
  return {"imap", lc.name, lc.budget, lc.proxy_protocol,
          lc.implicit_tls ? "" : "* BYE Too many connections, try again later\r\n"};
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
  auto c = std::make_shared<LineConnection>(std::move(socket), *svc.tls);
  LineConnection::CloseOnExit closer{c};
  // The drain, and shedding for a newcomer while waiting for a client that has not
  // logged in (server/connections.hpp), wake the connection.
  c->watch(slot, svc.rt.connections);
  // COMPRESS=DEFLATE (RFC 4978), once the session asked for it: every byte read goes
  // through `inflate` (every byte written through the connection's output filter).
  std::unique_ptr<imap::Inflater> inflate;
  const ImapTimeouts timeouts = imap_timeouts(cfg.limits);
  const auto write_timeout = cfg.limits.read_timeout;
  const std::string label = "{listener=\"" + lc.name + "\"}";

  // PROXY header and the per-address budget (server/line_connection.hpp); behind a
  // trusted proxy the client it names is the peer for limits, throttles and logs.
  const LineListener line = line_listener(lc);
  auto open = open_line_session(*c, slot, svc, line);
  const std::optional<PeerIdentity> opened = co_await std::move(open);
  if (!opened) co_return;
  const PeerIdentity& who = *opened;
  const std::string peer_ip = who.ip;

  if (lc.implicit_tls) {
    auto shake = c->handshake(timeouts.login, line, peer_ip);
    if (!co_await std::move(shake)) co_return;
  }

  imap::Options opts;
  opts.tls_available = true;
  opts.tls_active = c->tls();
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
  log::debug("imap.connect", {{"listener", lc.name}, {"peer", peer_ip}, {"tls", c->tls() ? "yes" : "no"}});
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
        c->out() += w->bytes;
        if (c->out().size() >= kFlushAt && !co_await c->flush(write_timeout)) lost = true;
      } else if (auto* l = std::get_if<imap::action::WriteLiteral>(&action)) {
        if (!co_await write_literal(*c, svc.rt.pool, *l, write_timeout)) {
          log::warn("imap.literal_failed", {{"listener", lc.name}, {"peer", peer_ip}, {"size", l->size}});
          lost = true;
        }
      } else if (std::holds_alternative<imap::action::StartTls>(action)) {
        // The tagged OK goes out in plaintext, then the handshake (RFC 9051 6.2.1).
        if (!co_await c->start_tls(write_timeout, timeouts.command, line, peer_ip)) {
          lost = true;
          break;
        }
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
                                   {"mechanism", a->mechanism}, {"tls", c->tls() ? "yes" : "no"}});
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
      } else if (auto* sc = std::get_if<imap::action::StartCompression>(&action)) {
        // The tagged OK goes out as it is; everything after it is compressed, both ways.
        if (!co_await c->flush(write_timeout)) {
          lost = true;
          break;
        }
        c->filter_output([deflate = std::make_shared<imap::Deflater>()](std::string& out) {
          out = deflate->compress(out, true);
        });
        inflate = std::make_unique<imap::Inflater>();
        inflate->input(sc->pending);  // received after the command: fed below
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
    const bool wrote = !c->out().empty();
    if (!co_await c->flush(write_timeout)) break;
    if (wrote && !polled) clock.answered(Clock::now());
    polled = false;
    if (closing || session.closed()) break;
    if (c->stop_requested()) {
      // Draining: RFC 9051 7.1.5, the server is closing the connection.
      co_await c->goodbye("* BYE Server shutting down\r\n");
      log::debug("imap.drained", {{"listener", lc.name}, {"peer", peer_ip}});
      break;
    }
    if (c->shed()) {
      co_await c->goodbye("* BYE Too busy, closing idle connection\r\n");
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
    if (inflate && session.wants_input()) {
      // Decompressed input first, one piece at a time and only while the session takes
      // input (a small compressed read can expand a thousandfold); the socket is read
      // again once the inflater has nothing left.
      auto piece = inflate->output(kLineReadBytes);
      if (!piece) {
        log::info("imap.compress_failed", {{"listener", lc.name}, {"peer", peer_ip}});
        break;
      }
      if (!piece->empty()) {
        push(session.feed(*piece));
        continue;
      }
    }
    auto wait = c->await_input(next_poll ? std::min(*read_deadline, *next_poll) : *read_deadline);
    const LineConnection::Woke why = co_await std::move(wait);
    slot.set_standing(ConnectionTracker::Standing::busy);
    if (why == LineConnection::Woke::closed) break;
    if (why == LineConnection::Woke::interrupted) continue;  // the loop's top says BYE
    if (why == LineConnection::Woke::input) {
      if (inflate) {
        inflate->input(c->input());  // fed piece by piece above
      } else {
        push(session.feed(c->input()));
      }
      continue;
    }
    const auto woke = Clock::now();
    if (woke >= *read_deadline) {
      // RFC 9051 7.1.5: BYE before an autologout.
      co_await c->goodbye("* BYE Autologout; idle too long\r\n");
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
  auto session = [lc, svc](tcp::socket socket, ConnectionTracker::Slot slot) {
    return imap_session(std::move(socket), lc, svc, std::move(slot));
  };
  // Named, not a temporary inside co_await: GCC 12 destroys such temporaries twice.
  auto loop = serve_line(acceptor, svc, line_listener(lc), std::move(session));
  co_await std::move(loop);
}

}  // namespace refmail::server
