// server/search_worker.cpp — the index catch-up loop (search_worker.hpp).
#include "server/search_worker.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

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

// Indexing runs at this nice value on its own thread: on a small machine it takes the CPU
// deliveries leave first (at normal priority it competed with them for the CPU).
constexpr int kIndexNice = 10;

bool IndexPacing::due(const std::string& account, std::uint64_t state, std::uint64_t known,
                      std::chrono::steady_clock::time_point now) {
  auto [it, first] = seen_.try_emplace(account);
  auto& s = it->second;
  s.fresh = true;
  if (state <= known) {
    s.state = state;
    s.since = now;
    return false;
  }
  const bool quiet = !first && s.state == state;
  if (first || s.state <= known) s.since = now;  // became behind at this pass
  s.state = state;
  return quiet || state - known >= batch_states || now - s.since >= max_delay;
}

void IndexPacing::end_pass() {
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (!it->second.fresh) {
      it = seen_.erase(it);
      continue;
    }
    it->second.fresh = false;
    ++it;
  }
}

struct SearchWorker::Impl {
  Impl(storage::Store& s, std::shared_ptr<search::Index> x, std::shared_ptr<metrics::Metrics> m,
       std::chrono::milliseconds iv)
      : store(s), index(std::move(x)), metrics(std::move(m)), interval(iv) {}
  storage::Store& store;
  std::shared_ptr<search::Index> index;
  std::shared_ptr<metrics::Metrics> metrics;
  std::chrono::milliseconds interval;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread thread;
  IndexPacing pacing;  // the worker thread's only

  void run() {
    // This thread only (Linux: a thread's nice value is its own).
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kIndexNice);
    for (;;) {
      try {
        pass();
      } catch (const std::exception& x) {
        log::error("search.worker_failed", {{"error", x.what()}});
      } catch (...) {
        log::error("search.worker_failed", {{"error", "unknown exception"}});
      }
      std::unique_lock l(mu);
      cv.wait_for(l, interval, [this] { return stopping; });
      if (stopping) return;
    }
  }

  // On the worker's thread.
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
      if (pacing.due(u.address, *state, index->known_state(u.address), started)) catch_up(u.address);
      if (const auto known = index->known_state(u.address); known < *state) {
        lag += *state - known;
        ++behind;
      }
    }
    pacing.end_pass();
    if (metrics) {
      metrics->set_gauge("refmail_search_lag_states", static_cast<double>(lag));
      metrics->set_gauge("refmail_search_accounts_behind", static_cast<double>(behind));
      metrics->set_gauge("refmail_search_pass_seconds",
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    return true;
  }

  // One account's catch-up, counted and logged.
  void catch_up(const std::string& account) {
    auto r = index->catch_up(account, kPassChangesPerAccount);
    if (r) {
      if (metrics) {
        metrics->add("refmail_search_indexed_total", r->indexed);
        metrics->add("refmail_search_deleted_total", r->deleted);
      }
      if (r->rebuilt) {
        log::info("search.rebuilt", {{"account", account}, {"reason", r->rebuild_reason}, {"indexed", r->indexed}});
        if (metrics) metrics->add("refmail_search_rebuilds_total");
      }
    } else if (r.error() != search::errc::behind) {
      log::warn("search.catch_up_failed", {{"account", account}, {"error", r.error().message()}});
      if (metrics) metrics->add("refmail_search_failures_total");
    }
  }
};

SearchWorker::SearchWorker(storage::Store& store, std::shared_ptr<search::Index> index,
                           std::shared_ptr<metrics::Metrics> metrics, std::chrono::milliseconds interval)
    : impl_(std::make_shared<Impl>(store, std::move(index), std::move(metrics), interval)) {}

SearchWorker::~SearchWorker() {
  stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void SearchWorker::start() {
  impl_->thread = std::thread([impl = impl_] { impl->run(); });
}

void SearchWorker::stop() {
  {
    std::lock_guard l(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
}

}  // namespace refmail::server
