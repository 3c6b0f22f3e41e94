// server/password_gate.hpp — the one way every listener checks a password (SMTP AUTH,
// HTTP Basic and webmail login, IMAP LOGIN / AUTHENTICATE, ManageSieve AUTHENTICATE): wait out the guessing
// throttle (auth::Throttle) on a timer, then run argon2id on the gate's own small
// pool with a bounded queue, then record the outcome (throttle, log, metrics).
// Guesses therefore never hold a thread of the shared pool, so they cannot starve
// deliveries; a full queue is a temporary failure (SMTP 454, HTTP 503), not a wait.
// SECURITY: the password is never logged nor kept; a failure logs auth.failure with
// protocol, peer and account; metrics labels come from code (protocol names).
#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "auth/throttle.hpp"
#include "auth/verdict.hpp"

namespace refmail::storage {
class Store;
}
namespace refmail::metrics {
class Metrics;
}

namespace refmail::server {

struct PasswordGateOptions {
  unsigned threads = 2;        // argon2id verifications at once
  std::size_t max_queued = 16;  // waiting for a thread; beyond: Outcome::Busy
};

class PasswordGate {
 public:
  // Protocol names used in logs and metric labels (series exist from start-up at 0).
  static constexpr const char* kProtocols[] = {"smtp", "http", "imap", "managesieve"};

  PasswordGate(storage::Store& store, std::shared_ptr<auth::Throttle> throttle,
               std::shared_ptr<metrics::Metrics> metrics, PasswordGateOptions options = {});
  ~PasswordGate();

  // Waits the throttle's turn for (peer, user) on a timer of the caller's executor,
  // verifies on the gate's pool, records the outcome. `protocol` is one of kProtocols.
  // REQUIRES: the gate outlives the coroutine; called from the io_context.
  [[nodiscard]] boost::asio::awaitable<auth::Verdict> check(const char* protocol, std::string peer,
                                                            std::string user, std::string password);

  [[nodiscard]] const std::shared_ptr<auth::Throttle>& throttle() const { return throttle_; }
  // The daemon drains: attempts waiting for their turn end now as Busy (a temporary
  // failure), and so do new ones. REQUIRES: called on the io_context's thread.
  void stop();
  // Waits for the verifications in progress (shutdown, after the io_context stopped).
  void join();

 private:
  storage::Store& store_;
  std::shared_ptr<auth::Throttle> throttle_;
  std::shared_ptr<metrics::Metrics> metrics_;
  PasswordGateOptions opt_;
  boost::asio::thread_pool pool_;
  std::atomic<std::size_t> in_flight_{0};  // queued + running, touched from the io thread only
  bool stopping_ = false;                             // io thread only
  std::set<boost::asio::steady_timer*> waiting_;      // throttle waits in progress (io thread)
};

}  // namespace refmail::server
