// search/index.hpp — full-text search over an account's emails (JMAP Email/query text
// filters, RFC 8621 4.4.1): one Xapian database per account under <data_dir>/fts/,
// fed from the store's change log (storage/changes.cpp), never from the delivery path.
// No Xapian type appears here: Xapian stays inside search/ (index.cpp).
// Never throws: every Xapian::Error is caught in index.cpp and becomes an errc; a
// corrupt or mismatched index is deleted and rebuilt from the store, never fatal.
// SECURITY: query text is untrusted (bounded by Options::max_query_bytes, parsed with
// phrases only: no wildcards, no boolean syntax, no field names); results are only
// message ids the account's own index holds (the caller still checks its rows).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include "mime/summary.hpp"

namespace refmail::storage {
class Store;
}

namespace refmail::search {

enum class errc {
  ok = 0,
  unavailable,    // the index could not be opened, read or written (logged by the caller)
  store,          // the store failed while catching up
  query_too_long, // the query text is over Options::max_query_bytes
  behind,         // catch_up stopped at its bound: the index is not yet current
};
[[nodiscard]] const boost::system::error_category& search_category() noexcept;
[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), search_category()};
}

template <class T>
using result = boost::system::result<T>;

// Which part of an email a condition searches (RFC 8621 4.4.1 FilterCondition).
enum class Field : std::uint8_t { text, subject, from, to, cc, bcc, body };

struct Options {
  std::filesystem::path dir;                // <data_dir>/fts: one folder per account
  std::size_t max_query_bytes = 1024;       // per condition
  std::size_t batch_changes = 500;          // change-log entries read per step
  std::size_t max_open = 32;                // databases kept open (least recently used closed)
};

// What one catch_up or rebuild did.
struct CatchUp {
  std::uint64_t indexed = 0;        // documents added or replaced
  std::uint64_t deleted = 0;        // documents removed
  bool rebuilt = false;             // the account was rebuilt from its message ids
  std::string rebuild_reason;       // why ("no index", "expired", "restored", "corrupt", ...)
  std::uint64_t indexed_state = 0;  // the change-log state the index now reflects
  std::uint64_t account_state = 0;  // the account's state when it finished
};

// The text the index takes from one message (the terms of each field).
struct DocumentText {
  std::string subject;
  std::vector<std::string> from, to, cc, bcc;  // "name email" per address
  std::vector<std::string> body;                // text parts; HTML parts as text
  std::vector<std::string> attachments;         // file names
};
// From the stored summary (mime/summary.hpp): bodies as the summary holds them (text
// bodies cut into blobs carry their first max_body_bytes there), HTML through
// mime::html_to_text.
[[nodiscard]] DocumentText document_text(const mime::Summary& s);

class Index {
 public:
  // REQUIRES: `store` outlives the index.
  Index(storage::Store& store, Options options);
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Brings the account's index up to the store's change log: indexes created emails,
  // drops destroyed ones; rebuilds the account when it has no index, the log no longer
  // reaches back to the index's state (expired), the index is newer than the store or
  // from another history (a restored backup; checked once per account per process), or
  // the database is corrupt. With max_changes > 0 it stops after about that many
  // change entries and answers errc::behind (the work done is kept). Where a rebuild is
  // needed and the account holds more than max_rebuild_messages, it answers
  // errc::behind (unavailable for a corrupt database) and leaves the rebuild to a
  // caller that may take that long (the worker, not a query). A call that bounds the
  // rebuild never waits for a rebuild in progress (errc::behind). Thread-safe; one call
  // at a time per account.
  static constexpr std::size_t kUnbounded = static_cast<std::size_t>(-1);
  [[nodiscard]] result<CatchUp> catch_up(std::string_view account, std::size_t max_changes = 0,
                                         std::size_t max_rebuild_messages = kUnbounded);
  // Deletes the account's index (its folder), as when the account is removed.
  [[nodiscard]] result<void> drop(std::string_view account);
  // Deletes the account's index and builds it again from the store.
  [[nodiscard]] result<CatchUp> rebuild(std::string_view account);
  // Message ids whose `field` matches `text`: every word (English stems; CJK as
  // n-grams; "quoted phrases" in order); Field::text searches every field. Text with
  // no searchable word matches nothing. Reads the index as it is (call catch_up first).
  // errc::query_too_long over max_query_bytes.
  [[nodiscard]] result<std::vector<std::string>> search(std::string_view account, Field field,
                                                        std::string_view text);
  // The state the account's index reflects, as this process last saw it (0 unknown).
  [[nodiscard]] std::uint64_t known_state(std::string_view account);
  // The account's folder: <dir>/<32 hex of SHA-256(account)>.
  [[nodiscard]] std::filesystem::path path_of(std::string_view account) const;

  struct Slot;

 private:
  std::shared_ptr<Slot> slot(std::string_view account);
  void close_idle(const Slot* keep);

  storage::Store& store_;
  Options options_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Slot>, std::less<>> slots_;
  std::uint64_t tick_ = 0;
};

}  // namespace refmail::search

template <>
struct boost::system::is_error_code_enum<refmail::search::errc> : std::true_type {};
