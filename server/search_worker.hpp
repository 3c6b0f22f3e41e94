// server/search_worker.hpp — keeps every account's full-text index (search/index.hpp)
// close behind the store: a loop on its own thread, at a lower CPU priority (nice 10)
// than deliveries and requests, that runs one pass every interval; a pass reads each account's change-log state
// (one key per account) and catches up the accounts whose index is behind. While an
// account's mail keeps arriving its indexing waits (IndexPacing), boundedly, so Xapian
// gets larger batches: one flush per batch costs much less per message than one per
// second of a stream, and the CPU goes to the deliveries during a burst. An
// Email/query catches up its own account first anyway, so this bounds the lag of
// everyone else and does the expensive work (rebuilds) off the request path.
// Must never: end the process on an index failure (it is logged, counted, retried on
// the next pass; search/ rebuilds a corrupt index itself).
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>


namespace refmail::storage {
class Store;
}
namespace refmail::search {
class Index;
}
namespace refmail::metrics {
class Metrics;
}

namespace refmail::server {

// When an account's index catches up: at once when its mail has stopped arriving (the
// state did not move since the previous pass), else when it is `batch_states` states
// behind or has been behind for `max_delay`. Lag therefore stays within max_delay plus
// one pass (or batch_states) and is visible in refmail_search_lag_states.
class IndexPacing {
 public:
  std::uint64_t batch_states = 1000;
  std::chrono::milliseconds max_delay = std::chrono::seconds(5);

  // True when `account` (at change-log `state`, index at `known`) should catch up now;
  // `now` is the pass's time. Call once per account per pass.
  bool due(const std::string& account, std::uint64_t state, std::uint64_t known,
           std::chrono::steady_clock::time_point now);
  // Forgets accounts not seen by due() since the previous call (removed users).
  void end_pass();

 private:
  struct Seen {
    std::uint64_t state = 0;                      // at the previous pass
    std::chrono::steady_clock::time_point since;  // behind since
    bool fresh = true;                            // seen during this pass
  };
  std::map<std::string, Seen> seen_;
};

class SearchWorker {
 public:
  // REQUIRES: store outlives the worker. Series set in `metrics`:
  // refmail_search_lag_states (sum over accounts of change-log states not yet
  // indexed), refmail_search_accounts_behind, refmail_search_pass_seconds, and the
  // counters refmail_search_indexed_total, _deleted_total, _rebuilds_total,
  // _failures_total.
  SearchWorker(storage::Store& store, std::shared_ptr<search::Index> index,
               std::shared_ptr<metrics::Metrics> metrics, std::chrono::milliseconds interval = std::chrono::seconds(1));
  // Stops and joins the thread (after the pass in progress).
  ~SearchWorker();
  SearchWorker(const SearchWorker&) = delete;
  SearchWorker& operator=(const SearchWorker&) = delete;
  // Starts the thread.
  void start();
  // Asks the loop to end after the pass in progress (the destructor joins).
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace refmail::server
