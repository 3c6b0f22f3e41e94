// server/rspamd.hpp — the rspamd client ([spam], docs/ARCHITECTURE.md "Spam filtering"):
// the check (POST /checkv2 to the normal worker, the envelope in request headers, the
// message streamed from the delivery's skeleton and staged blobs) and learning (POST
// /learnspam or /learnham to the controller when a user moves a message into or out of
// Junk, queued and done on the pool, never on the mover's thread).
// SECURITY: every request has one deadline ([spam] timeout) over connect, write and
// read; the reply is bounded (4 MiB) and read by delivery::parse_rspamd_reply; request
// header values are stripped of control characters (no header injection).
#pragma once
#include <atomic>
#include <memory>
#include <string>

#include <boost/asio/thread_pool.hpp>

#include "config/config.hpp"
#include "delivery/spam.hpp"

namespace refmail::storage {
class Store;
}
namespace refmail::metrics {
class Metrics;
}

namespace refmail::server {

class RspamdClient final : public delivery::SpamFilter {
 public:
  // `password`: the controller's, already read from [spam] password or password_file.
  RspamdClient(const config::Spam& cfg, std::string password, std::shared_ptr<metrics::Metrics> metrics);

  // Blocking, on the calling (pool) thread, bounded by [spam] timeout.
  [[nodiscard]] delivery::SpamVerdict check(const delivery::SpamQuery& q, std::uint64_t size,
                                            const delivery::MessageReader& read) override;
  // Teaches the controller: blocking, bounded like check. False and `why` on failure.
  [[nodiscard]] bool learn(bool spam, std::uint64_t size, const delivery::MessageReader& read, std::string& why);

 private:
  config::Spam cfg_;
  std::string password_;
  std::shared_ptr<metrics::Metrics> metrics_;
};

// Learning from moves: every row copy into or out of a Junk mailbox ("Junk" or "Spam",
// any case) queues one learn call on `pool` (rebuilding the stored message through the
// joiner). At most kMaxPending calls wait; past that a move is not learned (counted).
class SpamLearner : public std::enable_shared_from_this<SpamLearner> {
 public:
  static constexpr int kMaxPending = 64;
  SpamLearner(std::shared_ptr<RspamdClient> client, storage::Store& store, boost::asio::thread_pool& pool,
              std::shared_ptr<metrics::Metrics> metrics);
  // storage::Store's row-copied observer.
  void row_copied(std::string_view account, std::string_view from_mailbox, std::string_view to_mailbox,
                  std::string_view message_id);

 private:
  void learn(bool spam, const std::string& account, const std::string& message_id);

  std::shared_ptr<RspamdClient> client_;
  storage::Store& store_;
  boost::asio::thread_pool& pool_;
  std::shared_ptr<metrics::Metrics> metrics_;
  std::atomic<int> pending_{0};
};

}  // namespace refmail::server
