// imap/client.hpp — a sans-I/O IMAP4rev1 client core (RFC 3501, RFC 9051):
// a response parser fed with bytes as they arrive (tagged / untagged / continuation
// responses, literals {n} with a size limit, FETCH items UID, FLAGS, INTERNALDATE,
// RFC822.SIZE, BODY[]) and a command builder with tags (LOGIN, AUTHENTICATE PLAIN
// with SASL-IR (RFC 4959), STARTTLS, SELECT/EXAMINE, UID FETCH, UID SEARCH, IDLE
// (RFC 2177), LOGOUT). No sockets, no clock: server/import_worker.cpp drives it.
// Must never: buffer without bound (lines are capped, a literal over the limit is
// skipped as it streams and reported as `too_large`), or put CR/LF/NUL from a
// caller into a command line.
// SECURITY: everything parsed here comes from a remote server; every read is
// bounds-checked and a malformed response is errc::syntax, never UB.
#pragma once
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/system/result.hpp>

#include "imap/errc.hpp"
#include "imap/strings.hpp"

namespace refmail::imap {

struct Limits {
  std::size_t max_line_bytes = 64 * 1024;        // text between literals
  std::uint64_t max_literal_bytes = 100ull << 20;  // larger literals are skipped
  std::size_t max_response_items = 100000;       // values in one response
  // One response in all (text plus kept literals) holds at most max_line_bytes +
  // max_literal_bytes; a literal past that is skipped as too large, text past it is
  // errc::line_too_long.
};

// One FETCH response (RFC 3501 7.4.2). Absent items stay empty / nullopt.
struct FetchData {
  std::uint32_t seq = 0;
  std::optional<std::uint32_t> uid;
  std::optional<std::vector<std::string>> flags;  // as sent: "\\Seen", "$Forwarded"
  std::optional<std::string> internal_date;       // "17-Jul-1996 02:44:25 -0700"
  std::optional<std::uint64_t> rfc822_size;
  std::optional<std::string> body;                // BODY[] (the whole message)
  bool body_too_large = false;                    // BODY[] literal over the limit
  std::uint64_t body_size = 0;                    // the literal's announced size
};

struct Response {
  enum class Kind { Tagged, Untagged, Continuation };
  Kind kind = Kind::Untagged;
  std::string tag;          // Tagged only
  std::string status;       // "OK" "NO" "BAD" "BYE" "PREAUTH"; "" for data responses
  std::string code;         // the resp-text-code without brackets: "UIDVALIDITY 3857529045"
  std::string text;         // the human text after the code (or the continuation text)
  std::optional<std::uint32_t> number;  // "* 23 EXISTS": 23
  std::string keyword;      // "EXISTS", "EXPUNGE", "FETCH", "FLAGS", "SEARCH", "CAPABILITY"...
  std::vector<std::uint32_t> numbers;   // SEARCH results
  std::vector<std::string> atoms;       // CAPABILITY / FLAGS words
  std::optional<FetchData> fetch;

  // The number in a response code such as "UIDVALIDITY 42", if this response has it.
  [[nodiscard]] std::optional<std::uint32_t> code_number(std::string_view name) const;
};

// Push parser: feed() bytes, then next() until it returns nullopt (needs more).
// After an error every later call returns the same error.
class Parser {
 public:
  explicit Parser(Limits limits = {}) : limits_(limits) {}
  void feed(std::string_view bytes);
  // A complete response, nullopt when more bytes are needed, or an error.
  [[nodiscard]] boost::system::result<std::optional<Response>> next();
  // Bytes buffered for the response being received.
  [[nodiscard]] std::size_t buffered() const { return buf_.size() - start_; }

 private:
  [[nodiscard]] boost::system::result<std::optional<Response>> scan();
  [[nodiscard]] std::uint64_t max_response_bytes() const {
    return std::uint64_t{limits_.max_line_bytes} + limits_.max_literal_bytes;
  }
  Limits limits_;
  std::string buf_;
  std::size_t start_ = 0;     // start of the response being scanned
  std::size_t scan_ = 0;      // where the completeness scan resumes
  std::uint64_t skip_ = 0;    // bytes of an oversized literal still to drop
  struct Skipped {
    std::size_t pos;          // offset of the '{' in buf_
    std::uint64_t size;
  };
  std::vector<Skipped> skipped_;
  std::optional<std::size_t> line_start_;  // start of the text after the last literal
  std::optional<boost::system::error_code> error_;
};

// quote() (an astring for a command argument) is in imap/strings.hpp.
// A mailbox name in modified UTF-7 (RFC 3501 5.1.3), quoted.
[[nodiscard]] boost::system::result<std::string> mailbox_arg(std::string_view utf8_name);
// "1:3,7,9:10" for a set of UIDs (sorted and deduplicated here). REQUIRES: non-empty.
[[nodiscard]] std::string uid_set(std::vector<std::uint32_t> uids);
// INTERNALDATE (RFC 3501 9 date-time) to Unix seconds; nullopt when malformed.
[[nodiscard]] std::optional<std::int64_t> parse_internal_date(std::string_view s);
// IMAP flags to refmail/JMAP keywords (RFC 8621 4.1.1): \Seen -> $seen, \Answered ->
// $answered, \Flagged -> $flagged, \Draft -> $draft, other keywords lowercased;
// \Recent, \Deleted and anything unsafe are dropped.
[[nodiscard]] std::vector<std::string> flags_to_keywords(const std::vector<std::string>& flags);

// Builds tagged command lines ("A0001 SELECT INBOX\r\n") and remembers the last tag.
class Commands {
 public:
  [[nodiscard]] const std::string& last_tag() const { return tag_; }
  [[nodiscard]] std::string capability() { return line("CAPABILITY"); }
  [[nodiscard]] std::string starttls() { return line("STARTTLS"); }
  [[nodiscard]] boost::system::result<std::string> login(std::string_view user, std::string_view password);
  // SASL PLAIN (RFC 4616) with the initial response (RFC 4959); authzid may be "".
  [[nodiscard]] boost::system::result<std::string> authenticate_plain(std::string_view authzid,
                                                                      std::string_view user,
                                                                      std::string_view password);
  [[nodiscard]] boost::system::result<std::string> select(std::string_view mailbox);
  [[nodiscard]] boost::system::result<std::string> examine(std::string_view mailbox);
  // UID FETCH <set> (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[]). REQUIRES: non-empty.
  [[nodiscard]] std::string uid_fetch_messages(const std::vector<std::uint32_t>& uids);
  [[nodiscard]] std::string uid_search_all() { return line("UID SEARCH ALL"); }
  [[nodiscard]] std::string idle() { return line("IDLE"); }
  [[nodiscard]] static std::string done() { return "DONE\r\n"; }
  [[nodiscard]] std::string logout() { return line("LOGOUT"); }
  [[nodiscard]] std::string noop() { return line("NOOP"); }

 private:
  std::string line(std::string_view rest);
  std::uint32_t n_ = 0;
  std::string tag_;
};

}  // namespace refmail::imap
