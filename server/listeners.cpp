// server/listeners.cpp — binds the public listeners (SMTP, IMAP, ManageSieve, HTTP) and spawns their accept loops.
#include "server/listeners.hpp"

#include <list>

#include <boost/asio.hpp>

#include "server/http_server.hpp"
#include "server/imap_server.hpp"
#include "server/log.hpp"
#include "server/managesieve_server.hpp"
#include "server/password_gate.hpp"
#include "server/smtp_server.hpp"
#include "metrics/metrics.hpp"
#include "delivery/service.hpp"
#include "web/router.hpp"

namespace refmail::server {
namespace {

using tcp = asio::ip::tcp;

class TcpListeners final : public Listeners {
 public:
  void close() override {
    for (auto* a : acceptors_) {
      boost::system::error_code ignored;
      a->close(ignored);
    }
  }
  std::list<tcp::acceptor> owned;
  std::vector<tcp::acceptor*> acceptors_;
  std::shared_ptr<web::Router> router;
};

// Before an HTTP request's handler runs: the password it would verify (if any) goes
// through the gate here, on the io_context (a throttle wait is a timer), and the
// handler gets the verdict in Request::checked_password.
asio::awaitable<void> check_http_password(std::shared_ptr<PasswordGate> gate, std::shared_ptr<web::Router> router,
                                          web::Request& req) {
  auto attempt = router->password_attempt(req);
  if (!attempt) co_return;
  auto check = gate->check("http", req.peer_ip(), attempt->user, attempt->password);
  auth::Verdict verdict = co_await std::move(check);
  req.checked_password = web::Request::CheckedPassword{attempt->user, std::move(verdict)};
}

}  // namespace

bool bind_tcp(asio::io_context& io, const config::Endpoint& ep, std::string_view what, tcp::acceptor& out,
              std::string& why) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(ep.host, ec);
  if (ec) {
    tcp::resolver resolver(io);
    auto results = resolver.resolve(ep.host, std::to_string(ep.port), ec);
    if (ec || results.empty()) {
      why = "cannot resolve the " + std::string(what) + " address " + ep.to_string();
      return false;
    }
    addr = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(addr, ep.port);
  out.open(endpoint.protocol(), ec);
  if (!ec) out.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) out.bind(endpoint, ec);
  if (!ec) out.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    why = "cannot listen on " + ep.to_string() + " (" + std::string(what) + "): " + ec.message();
    return false;
  }
  return true;
}

void spawn_logged(asio::io_context& io, asio::awaitable<void> task, std::string name) {
  asio::co_spawn(io, std::move(task), log::on_exception("listener.failed", "listener", std::move(name)));
}

std::unique_ptr<Listeners> start_listeners(Services svc, std::string& why) {
  auto l = std::make_unique<TcpListeners>();
  if (!svc.metrics) svc.metrics = std::make_shared<metrics::Metrics>();
  if (!svc.delivery) svc.delivery = std::make_shared<delivery::Service>(svc.store, svc.cfg, svc.queue_notify);
  if (!svc.passwords) svc.passwords = std::make_shared<PasswordGate>(svc.store, nullptr, svc.metrics);
  if (!svc.trusted_proxies) {
    svc.trusted_proxies = std::make_shared<const net::NetworkSet>(net::NetworkSet::from_strings(svc.cfg.proxy.trusted));
  }
  if (!svc.auth_skip) {
    svc.auth_skip = std::make_shared<const net::NetworkSet>(net::NetworkSet::from_strings(svc.cfg.auth.skip_networks));
  }
  const auto& proxy = svc.cfg.proxy;
  auto& io = svc.rt.io;
  struct Smtp {
    const config::Endpoint* ep;
    SmtpListenerConfig lc;
  };
  // Each listener's share of the connections (submission and smtps share one).
  auto& tracker = svc.rt.connections;
  const auto mx_budget = tracker.add_listener("mx", svc.cfg.limits.mx_connections);
  const auto submission_budget = tracker.add_listener("submission", svc.cfg.limits.submission_connections);
  const auto http_budget = tracker.add_listener("http", svc.cfg.limits.http_connections);
  const auto imap_budget = tracker.add_listener("imap", svc.cfg.limits.imap_connections);
  // ManageSieve: a budget of its own, as large as IMAP's (a flood of one leaves the other its slots).
  const auto managesieve_budget = tracker.add_listener("managesieve", svc.cfg.limits.imap_connections);
  const Smtp smtp[] = {
      {&svc.cfg.smtp, {"mx", false, false, false, mx_budget, proxy.proxy_protocol_on("smtp")}},
      {&svc.cfg.submission, {"submission", false, true, true, submission_budget, proxy.proxy_protocol_on("submission")}},
      {&svc.cfg.smtps, {"smtps", true, true, true, submission_budget, proxy.proxy_protocol_on("smtps")}},
  };
  for (const auto& s : smtp) {
    if (!s.ep->enabled()) continue;
    auto& acc = l->owned.emplace_back(io);
    if (!bind_tcp(io, *s.ep, s.lc.name, acc, why)) return nullptr;
    l->acceptors_.push_back(&acc);
    log::info("listen", {{"listener", s.lc.name}, {"address", s.ep->to_string()}});
  }
  struct Imap {
    const config::Endpoint* ep;
    ImapListenerConfig lc;
  };
  const Imap imap[] = {
      {&svc.cfg.imap, {"imap", false, imap_budget, proxy.proxy_protocol_on("imap")}},
      {&svc.cfg.imaps, {"imaps", true, imap_budget, proxy.proxy_protocol_on("imaps")}},
  };
  for (const auto& s : imap) {
    if (!s.ep->enabled()) continue;
    auto& acc = l->owned.emplace_back(io);
    if (!bind_tcp(io, *s.ep, s.lc.name, acc, why)) return nullptr;
    l->acceptors_.push_back(&acc);
    log::info("listen", {{"listener", s.lc.name}, {"address", s.ep->to_string()}});
  }
  if (svc.cfg.managesieve.enabled()) {
    auto& acc = l->owned.emplace_back(io);
    if (!bind_tcp(io, svc.cfg.managesieve, "managesieve", acc, why)) return nullptr;
    l->acceptors_.push_back(&acc);
    log::info("listen", {{"listener", "managesieve"}, {"address", svc.cfg.managesieve.to_string()}});
  }
  if (svc.cfg.http.enabled()) {
    auto& acc = l->owned.emplace_back(io);
    if (!bind_tcp(io, svc.cfg.http, "http", acc, why)) return nullptr;
    l->acceptors_.push_back(&acc);
    log::info("listen", {{"listener", "http"}, {"address", svc.cfg.http.to_string()}});
  }
  // Every port is bound: start accepting (nothing is served if any bind failed).
  std::size_t i = 0;
  for (const auto& s : smtp) {
    if (!s.ep->enabled()) continue;
    spawn_logged(io, serve_smtp(*l->acceptors_[i++], s.lc, svc), s.lc.name);
  }
  for (const auto& s : imap) {
    if (!s.ep->enabled()) continue;
    spawn_logged(io, serve_imap(*l->acceptors_[i++], s.lc, svc), s.lc.name);
  }
  if (svc.cfg.managesieve.enabled()) {
    ManageSieveListenerConfig lc{"managesieve", managesieve_budget, proxy.proxy_protocol_on("managesieve")};
    spawn_logged(io, serve_managesieve(*l->acceptors_[i++], lc, svc), "managesieve");
  }
  if (svc.cfg.http.enabled()) {
    web::AuthOptions ao;
    ao.throttle = svc.passwords->throttle();  // one table for SMTP and HTTP
    l->router = std::make_shared<web::Router>(svc.store, svc.cfg, svc.metrics, ao);
    l->router->set_import(svc.import);
    l->router->set_delivery(svc.delivery);
    l->router->set_search(svc.search);
    HttpOptions o;
    o.name = "http";
    o.budget = http_budget;
    o.read_timeout = std::min(svc.cfg.limits.read_timeout, std::chrono::seconds(60));
    o.body_limit_bytes = svc.cfg.limits.http_body_bytes;
    o.tls = svc.tls;  // TLS on the same port, detected per connection
    o.trusted_proxies = svc.trusted_proxies;
    o.proxy_protocol = proxy.proxy_protocol_on("http");
    o.may_send_large_body = [router = l->router](const web::Request& head) { return router->authenticated(head); };
    auto router = l->router;
    o.before_handler = [router, gate = svc.passwords](web::Request& r) {
      return check_http_password(gate, router, r);
    };
    spawn_logged(io, serve_http(*l->acceptors_[i++], svc.rt, o,
                         [router](web::Request&& r) { return router->handle(r); }),
          "http");
  }
  return l;
}

}  // namespace refmail::server
