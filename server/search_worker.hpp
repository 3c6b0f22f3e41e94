// server/search_worker.hpp — keeps every account's full-text index (search/index.hpp)
// close behind the store: a loop on its own thread, at a lower CPU priority (nice 10)
// than deliveries and requests, that runs one pass every interval; a pass reads each account's change-log state
// (one key per account) and catches up the accounts whose index is behind. An
// Email/query catches up its own account first anyway, so this bounds the lag of
// everyone else and does the expensive work (rebuilds) off the request path.
// Must never: end the process on an index failure (it is logged, counted, retried on
// the next pass; search/ rebuilds a corrupt index itself).
#pragma once
#include <chrono>
#include <memory>


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
