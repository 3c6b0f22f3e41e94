// server/managesieve_server.cpp — one coroutine per ManageSieve connection driving a
// managesieve::Session: wait for input (with the deadline the session names), feed,
// perform the actions in order (write, STARTTLS, check a password, run a script
// request on the blocking pool, close). The session is touched only from this coroutine.
// The connection plumbing (accept and admission, PROXY header, TLS, output, the woken
// read) is server/line_connection.hpp's, shared with IMAP.
// Deadlines are the IMAP listener's ([limits] imap_login_timeout before login,
// imap_command_timeout for a command begun, imap_idle_timeout logged in), through the
// same ImapReadClock; the connection budget is its own, sized as IMAP's.
// SECURITY: the greeting is sent only after the connection limits (total, listener,
// address) and the PROXY header; AUTHENTICATE PLAIN without TLS only when
// smtp.plain_auth_on_loopback and the peer is loopback (never through a trusted proxy),
// as on IMAP; passwords go through the PasswordGate (throttle, argon2id on its own
// pool) and are never logged; each failed authentication logs a warning with the peer
// and the user; one read of 64 KiB at most is in flight, none while the session awaits
// an outcome (the session bounds what it holds).
#include "server/managesieve_server.hpp"

#include "delivery/sieve_filter.hpp"

#include <deque>
#include <memory>
#include <optional>

#include <boost/asio.hpp>

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

// What the shared plumbing (server/line_connection.hpp) needs of the listener. RFC 5804
// 1.7: BYE as the greeting refuses the connection.
LineListener line_listener(const ManageSieveListenerConfig& lc) {
  return {"managesieve", lc.name, lc.budget, lc.proxy_protocol, "BYE \"Too many connections, try again later\"\r\n"};
}

imap::Deadline to_imap_deadline(managesieve::Deadline d) {
  switch (d) {
    case managesieve::Deadline::None: return imap::Deadline::None;
    case managesieve::Deadline::Unauthenticated: return imap::Deadline::Unauthenticated;
    case managesieve::Deadline::Authenticated: return imap::Deadline::Authenticated;
    case managesieve::Deadline::InCommand: return imap::Deadline::InCommand;
  }
  return imap::Deadline::None;
}

managesieve::AuthOutcome to_auth_outcome(auth::Outcome o) {
  switch (o) {
    case auth::Outcome::Ok: return managesieve::AuthOutcome::Ok;
    case auth::Outcome::Bad: return managesieve::AuthOutcome::Failed;
    case auth::Outcome::Throttled:
    case auth::Outcome::Busy: return managesieve::AuthOutcome::Temporary;  // NO (TRYLATER), not counted
  }
  return managesieve::AuthOutcome::Temporary;
}

asio::awaitable<void> managesieve_session(tcp::socket socket, ManageSieveListenerConfig lc, Services svc,
                                          ConnectionTracker::Slot slot) {
  const config::Config& cfg = svc.cfg;
  auto c = std::make_shared<LineConnection>(std::move(socket), *svc.tls);
  LineConnection::CloseOnExit closer{c};
  c->watch(slot, svc.rt.connections);  // the drain and shedding wake the connection
  const ImapTimeouts timeouts = imap_timeouts(cfg.limits);
  const auto write_timeout = cfg.limits.read_timeout;
  const std::string label = "{listener=\"" + lc.name + "\"}";

  // PROXY header and the per-address budget (server/line_connection.hpp).
  const LineListener line = line_listener(lc);
  auto open = open_line_session(*c, slot, svc, line);
  const std::optional<PeerIdentity> opened = co_await std::move(open);
  if (!opened) co_return;
  const PeerIdentity& who = *opened;
  const std::string peer_ip = who.ip;

  managesieve::Options opts;
  opts.tls_available = true;
  opts.tls_active = false;
  // The IMAP rule (imap_server.cpp): plaintext credentials only from loopback, by config,
  // and never from a trusted proxy (who.loopback() is false then).
  opts.login_without_tls = cfg.smtp_policy.plain_auth_on_loopback && who.loopback();
  opts.max_script_bytes = cfg.sieve.max_script_bytes;
  opts.max_redirects = cfg.sieve.max_redirects;
  opts.sieve_extensions = delivery::sieve_capabilities();
  opts.validate = [limits = delivery::sieve_limits(cfg)](std::string_view script) -> std::optional<std::string> {
    auto why = delivery::validate_sieve(script, limits);
    if (why.empty()) return std::nullopt;
    return why;
  };
  const storage::SieveLimits limits{cfg.sieve.max_script_bytes, cfg.sieve.max_scripts};
  managesieve::Session session(opts);

  std::deque<managesieve::Action> pending;
  auto push = [&pending](std::vector<managesieve::Action> v) {
    for (auto& a : v) pending.push_back(std::move(a));
  };
  push(session.start());
  log::debug("managesieve.connect", {{"listener", lc.name}, {"peer", peer_ip}});
  svc.metrics->add("refmail_managesieve_sessions_total" + label);

  std::string account;
  std::uint64_t requests = 0;
  ImapReadClock clock(timeouts, Clock::now());
  bool closing = false;
  bool lost = false;

  for (;;) {
    while (!pending.empty() && !closing && !lost) {
      managesieve::Action action = std::move(pending.front());
      pending.pop_front();
      if (auto* w = std::get_if<managesieve::action::Write>(&action)) {
        c->out() += w->bytes;
      } else if (std::holds_alternative<managesieve::action::StartTls>(action)) {
        // The OK goes out in plaintext, then the handshake (RFC 5804 2.2).
        if (!co_await c->start_tls(write_timeout, timeouts.command, line, peer_ip)) {
          lost = true;
          break;
        }
        push(session.tls_started());
      } else if (auto* a = std::get_if<managesieve::action::Authenticate>(&action)) {
        auto check = svc.passwords->check("managesieve", peer_ip, a->user, a->password);
        auth::Verdict verdict = co_await std::move(check);
        if (verdict.outcome == auth::Outcome::Ok) {
          account = verdict.account;
          log::info("managesieve.login", {{"listener", lc.name}, {"peer", peer_ip}, {"user", account},
                                          {"mechanism", a->mechanism}, {"tls", c->tls() ? "yes" : "no"}});
          svc.metrics->add("refmail_managesieve_logins_total" + label);
        } else if (verdict.outcome == auth::Outcome::Bad) {
          log::warn("managesieve.auth_failed", {{"listener", lc.name}, {"peer", peer_ip}, {"user", a->user}});
        } else {
          log::info("managesieve.auth_unavailable", {{"listener", lc.name}, {"peer", peer_ip}, {"user", a->user}});
        }
        push(session.auth_result(to_auth_outcome(verdict.outcome)));
      } else if (auto* r = std::get_if<managesieve::ScriptRequest>(&action)) {
        if (account.empty() || !session.user()) {
          log::error("managesieve.request_without_login", {{"listener", lc.name}, {"peer", peer_ip}});
          lost = true;
          break;
        }
        ++requests;
        svc.metrics->add("refmail_managesieve_requests_total" + label);
        const auto op = r->op;
        auto run = [&store = svc.store, account, req = std::move(*r), limits] {
          return run_script_request(store, account, req, limits);
        };
        managesieve::ScriptReply reply = co_await offload(svc.rt.pool, std::move(run));
        if (reply.status == managesieve::ScriptStatus::Ok && op != managesieve::ScriptOp::List &&
            op != managesieve::ScriptOp::Get && op != managesieve::ScriptOp::HaveSpace) {
          log::info("managesieve.script", {{"listener", lc.name}, {"user", account}, {"op", managesieve::to_string(op)}});
        }
        push(session.script_result(std::move(reply)));
      } else if (std::holds_alternative<managesieve::action::Close>(action)) {
        closing = true;
      }
    }
    if (lost) break;
    const bool wrote = !c->out().empty();
    if (!co_await c->flush(write_timeout)) break;
    if (wrote) clock.answered(Clock::now());
    if (closing || session.closed()) break;
    if (!session.user()) account.clear();  // UNAUTHENTICATE
    if (c->stop_requested()) {
      co_await c->goodbye("BYE \"Server shutting down\"\r\n");
      break;
    }
    if (c->shed()) {
      co_await c->goodbye("BYE \"Too busy, closing idle connection\"\r\n");
      log::info("managesieve.shed", {{"listener", lc.name}, {"peer", peer_ip}});
      break;
    }
    const auto kind = to_imap_deadline(session.deadline());
    const auto read_deadline = clock.deadline(kind, Clock::now());
    if (!read_deadline) {
      log::error("managesieve.no_deadline", {{"listener", lc.name}, {"state", managesieve::to_string(session.state())}});
      break;
    }
    slot.set_standing(session.user() ? ConnectionTracker::Standing::busy : ConnectionTracker::Standing::idle);
    auto wait = c->await_input(*read_deadline);
    const LineConnection::Woke why = co_await std::move(wait);
    slot.set_standing(ConnectionTracker::Standing::busy);
    if (why == LineConnection::Woke::closed) break;
    if (why == LineConnection::Woke::interrupted) continue;  // the loop's top says BYE
    if (why == LineConnection::Woke::input) {
      push(session.feed(c->input()));
      continue;
    }
    if (Clock::now() >= *read_deadline) {
      co_await c->goodbye("BYE \"Autologout; idle too long\"\r\n");
      const char* name = imap_deadline_name(kind);
      log::info("managesieve.timeout", {{"listener", lc.name}, {"peer", peer_ip}, {"deadline", name}});
      svc.metrics->add("refmail_managesieve_timeouts_total{listener=\"" + lc.name + "\",deadline=\"" + name + "\"}");
      break;
    }
  }
  log::debug("managesieve.disconnect", {{"listener", lc.name}, {"peer", peer_ip}, {"user", account}, {"requests", requests}});
}

}  // namespace

managesieve::ScriptReply run_script_request(storage::Store& store, const std::string& account,
                                            const managesieve::ScriptRequest& req, const storage::SieveLimits& limits) {
  using managesieve::ScriptOp;
  using managesieve::ScriptStatus;
  managesieve::ScriptReply reply;
  auto fail = [&reply, &account](const boost::system::error_code& ec) {
    using storage::errc;
    if (ec == errc::not_found) {
      reply.status = ScriptStatus::NonExistent;
    } else if (ec == errc::in_use) {
      reply.status = ScriptStatus::Active;
    } else if (ec == errc::exists) {
      reply.status = ScriptStatus::AlreadyExists;
    } else if (ec == errc::too_large) {
      reply.status = ScriptStatus::MaxSize;
    } else if (ec == errc::quota_exceeded) {
      reply.status = ScriptStatus::MaxScripts;
    } else if (ec == errc::invalid_argument) {
      reply.status = ScriptStatus::Invalid;
    } else {
      reply.status = ScriptStatus::TryLater;
      log::error("managesieve.store_failed", {{"user", account}, {"error", storage::error_detail(ec)}});
    }
    return reply;
  };
  switch (req.op) {
    case ScriptOp::List: {
      auto l = store.sieve_list(account);
      if (!l) return fail(l.error());
      for (auto& s : *l) reply.scripts.push_back({std::move(s.name), s.active});
      return reply;
    }
    case ScriptOp::Get: {
      auto g = store.sieve_get(account, req.name);
      if (!g) return fail(g.error());
      if (!*g) {
        reply.status = ScriptStatus::NonExistent;
        return reply;
      }
      reply.content = std::move(**g);
      return reply;
    }
    case ScriptOp::Put: {
      auto r = store.sieve_put(account, req.name, req.content, limits);
      return r ? reply : fail(r.error());
    }
    case ScriptOp::Delete: {
      auto r = store.sieve_delete(account, req.name);
      return r ? reply : fail(r.error());
    }
    case ScriptOp::Rename: {
      auto r = store.sieve_rename(account, req.name, req.new_name);
      return r ? reply : fail(r.error());
    }
    case ScriptOp::Activate: {
      auto r = store.sieve_activate(account, req.name);
      return r ? reply : fail(r.error());
    }
    case ScriptOp::HaveSpace: {
      auto r = store.sieve_check_space(account, req.name, req.size_bytes, limits);
      return r ? reply : fail(r.error());
    }
  }
  return reply;
}

asio::awaitable<void> serve_managesieve(tcp::acceptor& acceptor, ManageSieveListenerConfig lc, Services svc) {
  const std::string label = "{listener=\"" + lc.name + "\"}";
  for (const char* series : {"refmail_managesieve_sessions_total", "refmail_managesieve_logins_total",
                             "refmail_managesieve_requests_total"}) {
    svc.metrics->add(series + label, 0);
  }
  auto session = [lc, svc](tcp::socket socket, ConnectionTracker::Slot slot) {
    return managesieve_session(std::move(socket), lc, svc, std::move(slot));
  };
  // Named, not a temporary inside co_await: GCC 12 destroys such temporaries twice.
  auto loop = serve_line(acceptor, svc, line_listener(lc), std::move(session));
  co_await std::move(loop);
}

}  // namespace refmail::server
