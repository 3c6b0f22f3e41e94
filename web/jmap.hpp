// web/jmap.hpp — JMAP (RFC 8620 core, RFC 8621 mail, submission) over the store: the
// session resource, /jmap/api method batches (back-references, result references,
// error objects, limits), downloads with grants and Range, uploads with server-side
// dedup and the SHA-256 pre-check, and the event source. Plain Request -> Response.
//
// Ids (all [A-Za-z0-9_-], RFC 8620 1.2):
//   accountId  "A" + hex(lowercase address)          (stable, reversible, no lookup)
//   Mailbox    "m" + the store's mailbox_id (stable across renames)
//   Email      the store's message id ("M" + 24 hex); an email is the set of the
//              account's rows holding that message (one per mailbox)
//   Thread     "T" + the message id of the thread's first message in this account
//              (assigned at delivery from Message-ID/In-Reply-To/References,
//              storage/threads.cpp; rows from before threading: "T" + their own id)
//   blobId     attachment cut: the store's blob id; an email's own blobId is its id
//              (downloads the joined message); a part kept in the skeleton:
//              "P" + email id + "-" + part path with '.' -> '_' (e.g. PM00..ff-1_2)
// SECURITY: every id is checked against the authenticated account's rows or grants;
// an unknown, malformed or not-granted blob id answers the same 404. Attachment
// bytes are never read for Email/get (answered from the stored summary).
#pragma once
#include <functional>
#include <chrono>
#include <cstdint>
#include <optional>
#include <memory>
#include <string>
#include <string_view>

#include "web/http.hpp"

namespace refmail::config {
struct Config;
}
namespace refmail::storage {
class Store;
}
namespace refmail::search {
class Index;
}

namespace refmail::delivery {
class Service;
}  // namespace refmail::delivery

namespace refmail::web {

class ConcurrencyLimit;

struct JmapLimits {
  std::uint64_t max_size_request = 10ull << 20;
  std::uint32_t max_calls_in_request = 64;
  std::uint32_t max_objects_in_get = 1000;
  std::uint32_t max_objects_in_set = 1000;
  std::uint64_t max_size_upload = 64ull << 20;
  std::uint32_t max_concurrent_upload = 4;
  std::uint32_t max_concurrent_requests = 8;
  std::chrono::seconds upload_hold{24 * 3600};  // RFC 8620 6.1: at least 1 hour
  // Every Email/query filters and sorts the account's rows in memory, without the
  // mailbox index's views: the reference the tests compare the indexed paths with.
  bool query_in_memory = false;
};

// "A" + hex(address) and back (nullopt when malformed).
[[nodiscard]] std::string account_id_for(std::string_view account);
[[nodiscard]] std::optional<std::string> account_from_id(std::string_view account_id);
// True for a string of [A-Za-z0-9_-], 1..255 bytes (RFC 8620 1.2 Id).
[[nodiscard]] bool valid_jmap_id(std::string_view id);

class Jmap {
 public:
  Jmap(storage::Store& store, const config::Config& cfg, JmapLimits limits = {});
  ~Jmap();

  // GET /.well-known/jmap (RFC 8620 2).
  [[nodiscard]] Response session(const std::string& account);
  // POST /jmap/api (RFC 8620 3).
  [[nodiscard]] Response api(const std::string& account, const Request& req);
  // GET /jmap/download/{accountId}/{blobId}/{name}?accept={type} (RFC 8620 6.2).
  // `rest` is the path after "/jmap/download/".
  [[nodiscard]] Response download(const std::string& account, std::string_view rest, const Request& req);
  // POST /jmap/upload/{accountId}/ (RFC 8620 6.1). `rest` is the path after "/jmap/upload/".
  [[nodiscard]] Response upload(const std::string& account, std::string_view rest, const Request& req);
  // GET /jmap/eventsource?types=&closeafter=&ping= (RFC 8620 7.3).
  [[nodiscard]] Response event_source(const std::string& account, const Request& req);

  [[nodiscard]] const JmapLimits& limits() const { return limits_; }
  // The daemon's delivery service (one for every path: hook, Sieve, spam filter, DKIM,
  // the relay's wake-up): Email/set, EmailSubmission/set and uploads go through it.
  // Without a call: a service of its own with the defaults. REQUIRES: set before requests
  // are served.
  void set_delivery(std::shared_ptr<delivery::Service> service);
  // Email/query answers text conditions from this index (search/index.hpp); without
  // one (or while it cannot answer) it scans the account's summaries. REQUIRES: set
  // before requests are served.
  void set_search(std::shared_ptr<search::Index> index);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  JmapLimits limits_;
  std::unique_ptr<ConcurrencyLimit> requests_in_flight_;  // maxConcurrentRequests
  std::unique_ptr<ConcurrencyLimit> uploads_in_flight_;   // maxConcurrentUpload
};

}  // namespace refmail::web
