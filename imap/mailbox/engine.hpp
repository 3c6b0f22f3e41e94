// imap/mailbox/engine.hpp — the IMAP server's mailbox layer: runs the commands that need
// the mail store (imap::action::MailboxRequest) against storage::Store for one
// connection and answers with an imap::MailboxReply. It keeps the selected mailbox's
// state (message sequence numbers to UIDs, flags and the highest modseq the client has
// seen) so it can report what changed since (EXISTS, EXPUNGE/VANISHED, FETCH FLAGS).
// Blocking (RocksDB reads and writes): the server calls it on its blocking pool, one
// request at a time per connection.
// Must never: show a UID at or above the mailbox's UID horizon (a client never sees UID
// n+1 before n), renumber messages during FETCH, STORE or SEARCH (RFC 9051 7.5.1: no
// EXPUNGE then), or throw.
// SECURITY: the account is the authenticated user's; every mailbox name and UID comes
// from the client and is checked against that account only.
#pragma once
#include <memory>
#include <string>

#include "imap/action.hpp"
#include "mime/limits.hpp"

namespace refmail::storage {
class Store;
}
namespace refmail::delivery {
class Service;
}

namespace refmail::imap {

struct EngineOptions {
  std::uint64_t append_limit = 50u << 20;  // APPENDLIMIT (the reader's max_append_bytes)
  // APPEND stores through it (delivery/service.hpp: split, dedup, quota, one commit per
  // message); null: APPEND is refused with NO [CANNOT].
  delivery::Service* delivery = nullptr;
  // The MIME parser's bounds the messages were split with (delivery: config
  // limits.mime_max_depth / mime_max_parts), so IMAP part numbers are the splitter's.
  mime::Limits mime_limits;
};

class MailboxEngine {
 public:
  // `store` outlives the engine. `account` is the authenticated user.
  MailboxEngine(storage::Store& store, std::string account, EngineOptions options = {});
  ~MailboxEngine();
  MailboxEngine(const MailboxEngine&) = delete;
  MailboxEngine& operator=(const MailboxEngine&) = delete;

  // Runs one request; never throws (a store failure is "NO [SERVERBUG]" / "[UNAVAILABLE]").
  [[nodiscard]] MailboxReply execute(const action::MailboxRequest& request);
  // The bytes of the APPEND message announced by the last append_begin request (see
  // action::MailboxRequest), in order, any split. Blocking (splitting, blob staging).
  void append_data(std::string_view bytes);
  // True while a mailbox is selected.
  [[nodiscard]] bool selected() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace refmail::imap
