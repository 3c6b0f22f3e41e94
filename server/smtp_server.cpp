// server/smtp_server.cpp — one coroutine per SMTP connection driving an
// smtp::Session: read (with a deadline), feed, perform the actions in order, write.
// Blocking decisions (recipients, ingest) run on the pool, passwords through the
// PasswordGate (throttle wait on a timer, argon2id on its own pool); the session
// is touched only from this coroutine. Accept and admission, the PROXY header, TLS and
// output are server/line_connection.hpp's; the read and its deadline are this file's.
// SECURITY: the greeting is sent only after the connection limit check; AUTH without
// TLS only on loopback with smtp.plain_auth_on_loopback, never through a trusted proxy;
// a failed TLS handshake or a malformed PROXY header closes the connection; passwords
// are never logged.
#include "server/smtp_server.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>

#include <boost/asio.hpp>

#include "delivery/service.hpp"
#include "server/log.hpp"
#include "server/password_gate.hpp"
#include "server/line_connection.hpp"
#include "smtp/session.hpp"
#include "storage/store.hpp"
#include "metrics/metrics.hpp"

namespace refmail::server {
namespace {

using tcp = asio::ip::tcp;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// What the shared plumbing (server/line_connection.hpp) needs of an SMTP listener.
// RFC 5321 3.1: a server may refuse with 421 and close.
LineListener line_listener(const SmtpListenerConfig& lc) {
  return {"smtp", lc.name, lc.budget, lc.proxy_protocol, "421 4.7.0 Too many connections, try again later\r\n"};
}

// Streaming ingest: the session hands message content here as it arrives
// (smtp::ContentConsumer, called inside Session::feed, so it only buffers); the
// coroutine moves the buffer into a delivery::Intake on the pool whenever about kStep
// bytes wait, and once more at the end with the delivery. So a message is never held
// whole, and the reads of one connection pause while its step runs (backpressure).
class StreamIn final : public smtp::ContentConsumer {
 public:
  static constexpr std::size_t kStep = 256u << 10;

  // `verify`: mail on this connection comes from the world ([auth]: the MX listener, a
  // client outside skip_networks); an authenticated transaction is never checked.
  StreamIn(delivery::Service& svc, std::string peer_ip, bool verify)
      : svc_(svc), peer_ip_(std::move(peer_ip)), verify_(verify) {}

  void begin(const smtp::Envelope& envelope) override {
    discard();
    facts_ = delivery::Inbound{};
    facts_.envelope = envelope;
    facts_.peer_ip = peer_ip_;
    facts_.verify = verify_ && !envelope.auth_user;
    open_ = true;
  }
  void write(std::string_view bytes) override {
    if (open_) pending_.append(bytes);
  }
  void discard() override {
    open_ = false;
    std::string().swap(pending_);
    intake_.reset();
    failure_.clear();
  }
  std::size_t held_bytes() const override {
    return pending_.capacity() + (intake_ ? intake_->held_bytes() : 0);
  }

  [[nodiscard]] bool step_due() const { return open_ && pending_.size() >= kStep; }
  // On the pool: the waiting bytes into the intake (opened on the first step).
  bool step() {
    try {
      if (!intake_) intake_.emplace(svc_.open_intake(facts_));
      intake_->write(pending_);
      pending_.clear();
    } catch (const std::exception& e) {
      failure_ = std::string("internal error: ") + e.what();
      std::string().swap(pending_);
    }
    return failure_.empty();
  }
  // On the pool: the rest, then the delivery (routes and policy facts in `in`).
  delivery::Outcome finish(delivery::Inbound in) {
    delivery::Outcome out;
    if (open_ && step() && intake_) {
      out = svc_.deliver(std::move(in), std::move(*intake_));
    } else {
      out.internal_error = true;
      out.detail = failure_.empty() ? "internal error: no content was begun" : failure_;
    }
    discard();
    return out;
  }

 private:
  delivery::Service& svc_;
  const std::string peer_ip_;
  const bool verify_;
  delivery::Inbound facts_;  // envelope and peer, for the trace header
  std::string pending_;
  std::optional<delivery::Intake> intake_;
  std::string failure_;
  bool open_ = false;
};

asio::awaitable<void> smtp_session(tcp::socket socket, SmtpListenerConfig lc, Services svc,
                                   ConnectionTracker::Slot slot) {
  const config::Config& cfg = svc.cfg;
  auto c = std::make_shared<LineConnection>(std::move(socket), *svc.tls);
  // The drain and shedding (for a newcomer while idle before authentication,
  // server/connections.hpp) cancel the read in progress: the session is woken by its
  // read, not by LineConnection::wake().
  bool stop_requested = false;
  slot.set_on_stop([c, &stop_requested] {
    stop_requested = true;
    c->tcp().cancel();
  });
  bool shed = false;
  slot.set_on_shed([c, &shed] {
    shed = true;
    c->tcp().cancel();
  });
  const auto timeout = cfg.limits.read_timeout;
  using Clock = std::chrono::steady_clock;
  const auto session_deadline = Clock::now() + cfg.limits.session_timeout;

  // PROXY header and the per-address budget (server/line_connection.hpp): behind a
  // trusted proxy, the client its PROXY header names is the peer for limits, throttles,
  // logs and Received:, and never loopback.
  const LineListener line = line_listener(lc);
  auto open = open_line_session(*c, slot, svc, line);
  const std::optional<PeerIdentity> opened = co_await std::move(open);
  if (!opened) co_return;
  const std::string peer_ip = opened->ip;
  const bool loopback = opened->loopback();

  if (lc.implicit_tls) {
    auto shake = c->handshake(timeout, line, peer_ip);
    if (!co_await std::move(shake)) co_return;
  }

  smtp::Options opts;
  opts.hostname = cfg.hostname;
  opts.tls_available = true;
  opts.tls_active = c->tls();
  opts.auth_enabled = lc.auth;
  opts.auth_without_tls = lc.auth && cfg.smtp_policy.plain_auth_on_loopback && loopback;
  opts.require_auth = lc.require_auth;
  opts.check_sender = !cfg.smtp_policy.allow_any_sender;
  smtp::Limits lim;
  lim.max_command_line = cfg.limits.command_line_bytes;
  lim.max_message_size = cfg.limits.message_size_bytes;
  lim.max_recipients = cfg.limits.recipients;
  lim.max_errors = cfg.limits.errors_before_disconnect;
  lim.max_junk_commands = cfg.limits.commands_before_mail;
  lim.max_data_line = cfg.limits.data_line_bytes;
  opts.bare_lf = cfg.smtp_policy.reject_bare_lf ? smtp::BareLfPolicy::Reject : smtp::BareLfPolicy::Accept;
  smtp::Session session(opts, lim);
  const bool verify = cfg.auth.verify && lc.name == "mx" && !(svc.auth_skip && svc.auth_skip->contains(peer_ip));
  StreamIn stream(*svc.delivery, peer_ip, verify);  // declared after the session: outlives its use
  session.set_content_consumer(&stream);

  std::deque<smtp::Action> pending;
  auto push = [&pending](std::vector<smtp::Action> v) {
    for (auto& a : v) pending.push_back(std::move(a));
  };
  push(session.start());
  log::debug("smtp.connect", {{"listener", lc.name}, {"peer", peer_ip}});
  const std::string label = "{listener=\"" + lc.name + "\"}";
  svc.metrics->add("refmail_smtp_sessions_total" + label);
  std::uint64_t messages = 0;
  // This session's share of the in-flight content budget (ConnectionTracker); given
  // back however the coroutine ends.
  struct HeldContent {
    ConnectionTracker& tracker;
    std::uint64_t held = 0;
    bool set(std::uint64_t now) {
      bool ok = tracker.account_content(held, now);
      held = now;
      return ok;
    }
    ~HeldContent() { (void)tracker.account_content(held, 0); }
  } held{svc.rt.connections};
  std::array<char, 64 * 1024> buf;
  asio::steady_timer deadline(c->tcp().get_executor());
  bool timed_out = false;  // set by the deadline's handler for the current read
  bool closing = false;
  // Deadlines (config.hpp Limits): each command within read_timeout of our last reply
  // (however the client drips its bytes), each content block within read_timeout, the
  // transaction and the session within their own.
  Clock::time_point turn_start = Clock::now();
  std::optional<Clock::time_point> transaction_start;

  while (!closing) {
    while (!pending.empty() && !closing) {
      smtp::Action action = std::move(pending.front());
      pending.pop_front();
      if (auto* r = std::get_if<smtp::Reply>(&action)) {
        c->out() += r->wire;
      } else if (std::holds_alternative<smtp::StartTls>(action)) {
        if (!co_await c->start_tls(timeout, timeout, line, peer_ip)) co_return;
        push(session.tls_started());
      } else if (auto* a = std::get_if<smtp::Authenticate>(&action)) {
        // No proxy authentication: an authzid other than the user is refused.
        bool proxy = !a->authzid.empty() && lower(a->authzid) != lower(a->user);
        auth::Verdict verdict;  // Bad unless the gate says otherwise
        if (proxy) {
          log::info("smtp.auth_failed", {{"listener", lc.name}, {"peer", peer_ip}, {"user", a->user}, {"reason", "proxy"}});
        } else {
          // Throttle wait (a timer) and argon2id on the gate's own pool.
          auto check = svc.passwords->check("smtp", peer_ip, a->user, a->password);
          verdict = co_await std::move(check);
        }
        if (verdict.outcome == auth::Outcome::Ok) {
          log::info("smtp.auth_ok", {{"listener", lc.name}, {"peer", peer_ip}, {"user", a->user}, {"mechanism", a->mechanism}});
          push(session.auth_result(true, verdict.account));
        } else if (verdict.outcome == auth::Outcome::Bad) {
          push(session.auth_result(false));
        } else {
          push(session.auth_temp_failure());  // 454 4.7.0: throttled or queue full
        }
      } else if (auto* s = std::get_if<smtp::CheckSender>(&action)) {
        auto check = [&svc, s = *s] { return svc.delivery->may_send_as(s.user, s.address); };
        bool ok = co_await offload(svc.rt.pool, std::move(check));
        push(session.sender_result(ok));
      } else if (auto* rc = std::get_if<smtp::CheckRecipient>(&action)) {
        delivery::Route routed;
        auto decide = [&svc, &routed, rc = *rc] {
          return svc.delivery->route(rc.address, rc.auth_user, rc.declared_size, routed);
        };
        auto verdict = co_await offload(svc.rt.pool, std::move(decide));
        if (verdict == smtp::RcptVerdict::MailboxFull) {
          log::info("smtp.rcpt_over_quota", {{"rcpt", rc->address.to_string()}, {"size", *rc->declared_size}});
        } else if (verdict == smtp::RcptVerdict::TempFail) {
          log::warn("smtp.rcpt_tempfail", {{"rcpt", rc->address.to_string()}});
        }
        push(session.recipient_result(verdict, std::move(routed)));
      } else if (auto* d = std::get_if<smtp::Deliver>(&action)) {
        delivery::Inbound req;
        req.envelope = std::move(d->envelope);
        req.peer_ip = peer_ip;
        // Each accepted recipient carries the route decided at its RCPT.
        for (auto& r : req.envelope.rcpt_to) {
          auto* route = std::any_cast<delivery::Route>(&r.route);
          if (route == nullptr) continue;
          for (auto& a : route->accounts) {
            if (std::find(req.local_accounts.begin(), req.local_accounts.end(), a) == req.local_accounts.end()) {
              req.local_accounts.push_back(std::move(a));
            }
          }
          for (auto& f : route->foreign) req.foreign.push_back(std::move(f));
          r.route.reset();
        }
        if (lc.auth && req.envelope.auth_user) {
          req.sent_account = *req.envelope.auth_user;
          req.check_header_senders = true;
        }
        // [spam]: mail from the world always, submissions with the outbound policy.
        req.spam_check = cfg.spam.enabled() && (!req.envelope.auth_user || cfg.spam.outbound);
        (void)held.set(stream.held_bytes());
        auto run = [&stream, r = std::move(req)]() mutable { return stream.finish(std::move(r)); };
        delivery::Outcome outcome;
        try {
          outcome = co_await offload(svc.rt.pool, std::move(run));
        } catch (const std::exception& e) {  // deliver() catches its own; this is the pool hop
          outcome.internal_error = true;
          outcome.detail = std::string("internal error: ") + e.what();
        }
        if (outcome.internal_error) log::error("ingest.exception", {{"id", outcome.trace_id}, {"error", outcome.detail}});
        if (outcome.status == delivery::Status::ok && !outcome.message_id.empty()) {
          log::info("ingest.commit", {{"id", outcome.trace_id},
                                      {"message_id", outcome.message_id},
                                      {"listener", lc.name},
                                      {"queue_rows", outcome.queue_rows},
                                      {"bytes", outcome.bytes},
                                      {"cuts", outcome.cuts},
                                      {"new_blob_bytes", outcome.new_blob_bytes},
                                      {"auth", outcome.authentication},
                                      {"dkim", outcome.dkim},
                                      {"spam", outcome.spam_action},
                                      {"junk", outcome.spam_junk ? "yes" : "no"}});
        }
        // Sieve's and the spam filter's outcomes: logged and counted by the delivery
        // service's observer (server/daemon.cpp), for every path a message takes.
        if (!outcome.over_quota.empty()) {
          log::info("ingest.over_quota", {{"id", outcome.trace_id}, {"accounts", outcome.over_quota.size()},
                                          {"report", outcome.over_quota_report}});
        }
        if (outcome.internal_error) svc.metrics->add("refmail_internal_errors_total{task=\"ingest\"}");
        if (!outcome.over_quota.empty()) svc.metrics->add("refmail_over_quota_total", outcome.over_quota.size());
        if (outcome.status != delivery::Status::ok) {
          log::warn("smtp.delivery_failed", {{"listener", lc.name}, {"peer", peer_ip}, {"error", outcome.detail}});
          svc.metrics->add("refmail_smtp_delivery_failures_total" + label);
        } else {
          ++messages;
          svc.metrics->add("refmail_smtp_messages_total" + label);
          svc.metrics->add("refmail_deliveries_total");
        }
        (void)held.set(0);
        push(session.delivery_result(delivery::smtp_status(outcome.status), outcome.message_id));
      } else if (std::holds_alternative<smtp::Close>(action)) {
        closing = true;
      } else {
        // smtp::Action gained an alternative this loop does not know: a bug.
        log::error("smtp.unknown_action", {{"listener", lc.name}});
        closing = true;
      }
    }
    const bool replied = !c->out().empty();
    if (!co_await c->flush(timeout) || closing || session.closed()) break;
    if (replied) turn_start = Clock::now();
    if (stop_requested || svc.rt.connections.stopping()) {
      // Draining: a connection between commands says goodbye (RFC 5321 3.8).
      c->out() = "421 4.3.2 " + cfg.hostname + " Service shutting down\r\n";
      (void)co_await c->flush(timeout);
      break;
    }
    // The read deadline cancels the read instead of closing the socket (as a Beast
    // expiry would), so the client still gets its 421 (RFC 5321 4.5.3.2).
    c->tcp().expires_never();
    const auto state = session.state();
    const bool in_transaction = state == smtp::SessionState::Mail || state == smtp::SessionState::Rcpt ||
                                session.in_content();
    if (!in_transaction) {
      transaction_start.reset();
    } else if (!transaction_start) {
      transaction_start = Clock::now();
    }
    auto read_deadline = session.in_content() ? Clock::now() + timeout : turn_start + timeout;
    const char* deadline_kind = session.in_content() ? "content" : "command";
    if (transaction_start && *transaction_start + cfg.limits.transaction_timeout < read_deadline) {
      read_deadline = *transaction_start + cfg.limits.transaction_timeout;
      deadline_kind = "transaction";
    }
    if (session_deadline < read_deadline) {
      read_deadline = session_deadline;
      deadline_kind = "session";
    }
    // Idle before authentication and outside a transaction: a newcomer may take this
    // connection's slot when a budget is full.
    const bool sheddable = !session.auth_user() && !in_transaction &&
                           (state == smtp::SessionState::Connected || state == smtp::SessionState::Ready ||
                            state == smtp::SessionState::AuthContinue);
    slot.set_standing(sheddable ? ConnectionTracker::Standing::idle : ConnectionTracker::Standing::busy);
    timed_out = false;
    deadline.expires_at(read_deadline);
    deadline.async_wait([&timed_out, c, &deadline](const boost::system::error_code& tec) {
      // A handler that completed just as the read did may run after the timer was
      // re-armed for the next read: only a deadline that has really passed counts.
      if (tec || deadline.expiry() > std::chrono::steady_clock::now()) return;
      timed_out = true;
      boost::system::error_code ignored;
      c->tcp().socket().cancel(ignored);
    });
    auto read = c->read_some(asio::buffer(buf));
    const auto [rec, n] = co_await std::move(read);
    deadline.cancel();
    slot.set_standing(ConnectionTracker::Standing::busy);
    if (timed_out) {
      const std::string bye = "421 4.4.2 " + cfg.hostname + " Error: timeout exceeded\r\n";
      co_await c->goodbye(bye);
      log::info("smtp.timeout", {{"listener", lc.name}, {"peer", peer_ip}, {"state", smtp::to_string(session.state())},
                                 {"deadline", deadline_kind}});
      svc.metrics->add("refmail_smtp_timeouts_total{listener=\"" + lc.name + "\",deadline=\"" +
                       deadline_kind + "\"}");
      break;
    }
    if (shed) {
      const std::string bye = "421 4.3.2 " + cfg.hostname + " Too busy, closing idle connection\r\n";
      co_await c->goodbye(bye);
      log::info("smtp.shed", {{"listener", lc.name}, {"peer", peer_ip}, {"state", smtp::to_string(session.state())}});
      break;
    }
    if (rec == asio::error::operation_aborted && (stop_requested || svc.rt.connections.stopping())) {
      if (!session.in_content()) {
        const std::string bye = "421 4.3.2 " + cfg.hostname + " Service shutting down\r\n";
        co_await c->goodbye(bye);
      }
      break;
    }
    if (rec) break;  // peer closed or reset: nothing half-stored, the session is dropped
    push(session.feed(std::span<const char>(buf.data(), n), std::chrono::steady_clock::now()));
    if (stream.step_due()) {
      auto step = [&stream] { return stream.step(); };
      try {
        (void)co_await offload(svc.rt.pool, std::move(step));
      } catch (const std::exception& e) {  // step() catches its own; this is the pool hop
        log::error("ingest.exception", {{"listener", lc.name}, {"error", e.what()}});
      }
    }
    // Over the in-flight budget, the message that grows is drained, not kept (452
    // 4.3.1), unless it is still small: large messages fill the budget, and an ordinary
    // one must not pay for them (at most connections x kSmallContent over the budget).
    constexpr std::uint64_t kSmallContent = 256 * 1024;
    if (!held.set(session.held_content_bytes()) && session.in_content() &&
        session.held_content_bytes() > kSmallContent) {
      session.shed_content();
      (void)held.set(session.held_content_bytes());
      log::warn("smtp.content_shed", {{"listener", lc.name}, {"peer", peer_ip},
                                      {"in_flight", svc.rt.connections.content_held()}});
      svc.metrics->add("refmail_smtp_content_shed_total" + label);
    }
  }
  c->close();
  log::debug("smtp.disconnect", {{"listener", lc.name}, {"peer", peer_ip}, {"messages", messages}});
}

}  // namespace

asio::awaitable<void> serve_smtp(tcp::acceptor& acceptor, SmtpListenerConfig lc, Services svc) {
  auto session = [lc, svc](tcp::socket socket, ConnectionTracker::Slot slot) {
    return smtp_session(std::move(socket), lc, svc, std::move(slot));
  };
  // Named, not a temporary inside co_await: GCC 12 destroys such temporaries twice.
  auto loop = serve_line(acceptor, svc, line_listener(lc), std::move(session));
  co_await std::move(loop);
}

}  // namespace refmail::server
