// server/search_worker.cpp — the index catch-up loop (search_worker.hpp).
#include "server/search_worker.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>

#include "metrics/metrics.hpp"
#include "search/index.hpp"
#include "server/log.hpp"
#include "storage/errors.hpp"
#include "storage/store.hpp"

namespace refmail::server {

// One pass does at most this many change-log entries per account, so one account that
// is far behind (or rebuilding) does not hold up the others for long; the rest waits
// for the next pass.
constexpr std::size_t kPassChangesPerAccount = 5000;

struct SearchWorker::Impl {
  Impl(storage::Store& s, std::shared_ptr<search::Index> x, asio::io_context& i, asio::thread_pool& p,
       std::shared_ptr<metrics::Metrics> m, std::chrono::milliseconds iv)
      : store(s), index(std::move(x)), io(i), pool(p), metrics(std::move(m)), interval(iv), timer(i) {}
  storage::Store& store;
  std::shared_ptr<search::Index> index;
  asio::io_context& io;
  asio::thread_pool& pool;
  std::shared_ptr<metrics::Metrics> metrics;
  std::chrono::milliseconds interval;
  asio::steady_timer timer;
  bool stopping = false;

  // On a pool thread. Returns true (offload needs a value).
  bool pass() {
    const auto started = std::chrono::steady_clock::now();
    auto users = store.list_users();
    if (!users) {
      log::warn("search.pass_failed", {{"error", storage::error_detail(users.error())}});
      if (metrics) metrics->add("refmail_search_failures_total");
      return true;
    }
    std::uint64_t lag = 0, behind = 0;
    for (const auto& u : *users) {
      auto state = store.account_state(u.address);
      if (!state) continue;
      if (*state == index->known_state(u.address)) continue;
      auto r = index->catch_up(u.address, kPassChangesPerAccount);
      if (r) {
        if (metrics) {
          metrics->add("refmail_search_indexed_total", r->indexed);
          metrics->add("refmail_search_deleted_total", r->deleted);
        }
        if (r->rebuilt) {
          log::info("search.rebuilt", {{"account", u.address}, {"reason", r->rebuild_reason}, {"indexed", r->indexed}});
          if (metrics) metrics->add("refmail_search_rebuilds_total");
        }
      } else if (r.error() != search::errc::behind) {
        log::warn("search.catch_up_failed", {{"account", u.address}, {"error", r.error().message()}});
        if (metrics) metrics->add("refmail_search_failures_total");
      }
      const std::uint64_t known = index->known_state(u.address);
      if (known < *state) {
        lag += *state - known;
        ++behind;
      }
    }
    if (metrics) {
      metrics->set_gauge("refmail_search_lag_states", static_cast<double>(lag));
      metrics->set_gauge("refmail_search_accounts_behind", static_cast<double>(behind));
      metrics->set_gauge("refmail_search_pass_seconds",
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    return true;
  }
};

namespace {

asio::awaitable<void> run(std::shared_ptr<SearchWorker::Impl> self) {
  while (!self->stopping) {
    auto* impl = self.get();
    (void)co_await offload(self->pool, [impl] { return impl->pass(); });
    if (self->stopping) break;
    self->timer.expires_after(self->interval);
    auto [ec] = co_await self->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;  // stop() cancels
  }
}

}  // namespace

SearchWorker::SearchWorker(storage::Store& store, std::shared_ptr<search::Index> index, asio::io_context& io,
                           asio::thread_pool& pool, std::shared_ptr<metrics::Metrics> metrics,
                           std::chrono::milliseconds interval)
    : impl_(std::make_shared<Impl>(store, std::move(index), io, pool, std::move(metrics), interval)) {}

SearchWorker::~SearchWorker() = default;

void SearchWorker::start() {
  asio::co_spawn(impl_->io, run(impl_), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      log::error("search.worker_failed", {{"error", x.what()}});
    } catch (...) {
      log::error("search.worker_failed", {{"error", "unknown exception"}});
    }
  });
}

void SearchWorker::stop() {
  impl_->stopping = true;
  impl_->timer.cancel();
}

}  // namespace refmail::server
