// server/password_gate.cpp — see password_gate.hpp.
#include "server/password_gate.hpp"

#include <boost/asio.hpp>

#include "server/log.hpp"
#include "server/runtime.hpp"
#include "storage/store.hpp"
#include "metrics/metrics.hpp"

namespace refmail::server {
namespace {

std::string label(const char* protocol) { return std::string("{protocol=\"") + protocol + "\"}"; }

}  // namespace

PasswordGate::PasswordGate(storage::Store& store, std::shared_ptr<auth::Throttle> throttle,
                           std::shared_ptr<metrics::Metrics> metrics, PasswordGateOptions options)
    : store_(store),
      throttle_(throttle ? std::move(throttle) : std::make_shared<auth::Throttle>()),
      metrics_(metrics ? std::move(metrics) : std::make_shared<metrics::Metrics>()),
      opt_(options),
      pool_(options.threads) {
  for (const char* p : kProtocols) {
    metrics_->add("refmail_auth_failures_total" + label(p), 0);
    metrics_->add("refmail_auth_throttled_total" + label(p), 0);
    metrics_->add("refmail_auth_queue_rejections_total" + label(p), 0);
  }
}

PasswordGate::~PasswordGate() { join(); }

void PasswordGate::join() { pool_.join(); }

void PasswordGate::stop() {
  stopping_ = true;
  for (auto* t : waiting_) t->cancel();
}

asio::awaitable<auth::Verdict> PasswordGate::check(const char* protocol, std::string peer, std::string user,
                                                   std::string password) {
  using Clock = auth::Clock;
  const auth::Verdict busy{auth::Outcome::Busy, {}, std::chrono::seconds(1)};
  if (stopping_) co_return busy;
  auto adm = throttle_->admit(peer, user, Clock::now());
  if (adm.refused) {
    metrics_->add("refmail_auth_throttled_total" + label(protocol));
    log::info("auth.throttled", {{"protocol", protocol}, {"peer", peer}, {"user", user}, {"refused", "true"}});
    co_return auth::Verdict{auth::Outcome::Throttled, {},
                            std::chrono::ceil<std::chrono::seconds>(adm.retry_after)};
  }
  if (adm.at > Clock::now()) {
    // The throttle's turn: a timer on this connection's executor, no thread held.
    metrics_->add("refmail_auth_throttled_total" + label(protocol));
    log::debug("auth.throttled", {{"protocol", protocol}, {"peer", peer}, {"user", user},
                                  {"wait_ms", std::chrono::duration_cast<std::chrono::milliseconds>(adm.at - Clock::now()).count()}});
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_at(adm.at);
    waiting_.insert(&timer);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    waiting_.erase(&timer);
    if (ec || stopping_) co_return busy;  // cancelled by stop(): the daemon drains
  }
  if (in_flight_.load() >= opt_.threads + opt_.max_queued) {
    metrics_->add("refmail_auth_queue_rejections_total" + label(protocol));
    log::warn("auth.busy", {{"protocol", protocol}, {"peer", peer}, {"user", user}});
    co_return busy;
  }
  ++in_flight_;
  auto verify = [this, user, password = std::move(password)] { return store_.verify_password(user, password); };
  storage::result<std::string> account = co_await offload(pool_, std::move(verify));
  --in_flight_;
  if (account) {
    throttle_->success(peer, user, Clock::now());
    co_return auth::Verdict{auth::Outcome::Ok, *account, {}};
  }
  if (account.error() != storage::errc::bad_password) {
    // The store could not answer (I/O): not the client's fault, not counted.
    log::warn("auth.error", {{"protocol", protocol}, {"peer", peer}, {"user", user},
                             {"error", storage::error_detail(account.error())}});
    co_return auth::Verdict{auth::Outcome::Busy, {}, std::chrono::seconds(1)};
  }
  throttle_->failure(peer, user, Clock::now());
  metrics_->add("refmail_auth_failures_total" + label(protocol));
  log::info("auth.failure", {{"protocol", protocol}, {"peer", peer}, {"user", user}});
  co_return auth::Verdict{auth::Outcome::Bad, {}, {}};
}

}  // namespace refmail::server
