// imap/mailbox/impl.hpp — MailboxEngine's state and the helpers its command files share
// (engine.cpp dispatch and updates, folders.cpp, fetch.cpp, store_cmd.cpp, search.cpp).
// Must never: hand out a sequence number the client was not told about, or keep one the
// client was told is expunged.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/mailbox/engine.hpp"
#include "imap/mailbox/uid_list.hpp"
#include "storage/store.hpp"

namespace refmail::delivery {
class Intake;
}

namespace refmail::imap::mailbox {

// The selected mailbox as the client knows it.
struct Selected {
  std::string name;  // the store's name ("INBOX", "Lists/rust")
  std::uint32_t mailbox_id = 0;
  std::uint32_t uidvalidity = 0;
  bool read_only = false;
  UidList uids;  // sequence number n -> uids[n - 1], ascending
  std::uint64_t modseq = 0;          // flag changes up to this modseq were reported
  std::uint64_t expunge_modseq = 0;  // expunges up to this modseq were reported
  std::vector<std::uint32_t> saved;  // SEARCH RETURN (SAVE) result ("$"), as UIDs
  // Flag changes this session made and already told the client (UID -> the modseq they
  // got): the next update report leaves them out.
  std::map<std::uint32_t, std::uint64_t> own;
  [[nodiscard]] std::uint32_t exists() const noexcept { return static_cast<std::uint32_t>(uids.size()); }
  // 1-based sequence number of `uid`, 0 when the client does not know it.
  [[nodiscard]] std::uint32_t msn(std::uint32_t uid) const noexcept;
};

// IMAP flag <-> store keyword (JMAP keyword, RFC 8621 4.1.1): "\Seen" <-> "$seen",
// "\Answered", "\Flagged", "\Draft", "\Deleted" likewise; other keywords lower-cased
// (IMAP and JMAP compare them case-insensitively). nullopt: not a flag a client may set
// (an unknown system flag, characters JMAP does not allow). "\Recent" maps to "".
[[nodiscard]] std::optional<std::string> flag_to_keyword(std::string_view flag);
[[nodiscard]] std::string keyword_to_flag(std::string_view keyword);
// The special-use attribute (RFC 6154) of a mailbox name: "\Sent", "\Drafts", "\Trash",
// "\Archive", "\Junk" (a mailbox named Junk or Spam), else "".
[[nodiscard]] std::string special_use(std::string_view name);
// "(\Seen $label1)"
[[nodiscard]] std::string flag_list(const std::vector<std::string>& keywords);
[[nodiscard]] bool has_keyword(const std::vector<std::string>& keywords, std::string_view k);
// Ascending numbers as a compact sequence set: "1:3,7,9:10" ("" when empty).
[[nodiscard]] std::string compact(const std::vector<std::uint32_t>& ascending);
// "17-Jul-1996 02:44:25 +0000"
[[nodiscard]] std::string internal_date(storage::UnixSeconds t);

inline constexpr std::string_view kSystemFlags = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

}  // namespace refmail::imap::mailbox

namespace refmail::imap {

struct MailboxEngine::Impl {
  Impl(storage::Store& s, std::string a, EngineOptions o) : store(s), account(std::move(a)), options(o) {}
  storage::Store& store;
  std::string account;
  EngineOptions options;
  std::optional<mailbox::Selected> sel;
  action::ClientModes modes;
  const Command* cmd = nullptr;  // the command being run
  MailboxReply reply;

  // ---- reply building
  void line(std::string data);  // "* <data>\r\n"
  void write(std::string bytes);
  MailboxReply finish(Condition status, std::string code, std::string text);
  MailboxReply ok(std::string text) { return finish(Condition::Ok, "", std::move(text)); }
  MailboxReply no(std::string code, std::string text) { return finish(Condition::No, std::move(code), std::move(text)); }
  MailboxReply bad(std::string text) { return finish(Condition::Bad, "", std::move(text)); }
  // A store error as NO: [NONEXISTENT], [ALREADYEXISTS], [OVERQUOTA], [UNAVAILABLE]...
  MailboxReply store_error(const boost::system::error_code& ec, std::string_view what);
  [[nodiscard]] bool utf8() const noexcept { return modes.utf8 || modes.imap4rev2; }

  // ---- names
  // The store name of a client mailbox name (trailing "/" dropped, INBOX any case);
  // nullopt when the name cannot be a mailbox.
  [[nodiscard]] static std::optional<std::string> store_name(std::string_view name);
  // The name as a client sees it: modified UTF-7 unless UTF-8 was enabled, quoted.
  [[nodiscard]] std::string wire_name(std::string_view name) const;
  [[nodiscard]] storage::result<std::optional<storage::MailboxInfo>> find_mailbox(std::string_view name);

  // ---- the selected mailbox (engine.cpp)
  // Reports what changed since the client's view: EXPUNGE (only when `expunges`), FETCH
  // FLAGS of changed messages, EXISTS. Errors are left out (the next poll retries).
  void report_updates(bool expunges);
  // The UIDs a sequence set names (sequence numbers or UIDs), ascending. With
  // sequence numbers, a number above EXISTS is an error (BAD).
  [[nodiscard]] std::optional<std::vector<std::uint32_t>> resolve(const SequenceSet& set, bool uid,
                                                                  std::string& why) const;
  // The UIDs expunged since `since` (within `within` when given, "*" its largest known
  // UID), falling back to comparing UIDs below `horizon` when the tombstones are gone.
  std::vector<std::uint32_t> vanished_uids(std::uint64_t since, const SequenceSet* within, std::uint32_t horizon,
                                           bool& ok);
  // SELECT (QRESYNC ...): VANISHED (EARLIER) and the changed flags since the client's modseq.
  storage::result<void> resync(const QresyncParams& q, std::uint32_t horizon);
  // Sends EXPUNGE for these UIDs (known ones) and drops them from the view.
  void expunged(std::vector<std::uint32_t> uids);
  // Visits the rows of `uids` (ascending) that still exist; one iterator for a dense
  // set, point reads for a sparse one. False from visit stops.
  // Keywords of `uid` were set by this session (now at `modseq`, or read back).
  void wrote_flags(std::uint32_t uid);
  storage::result<void> rows(const std::vector<std::uint32_t>& uids,
                             const std::function<bool(storage::MailboxRow&&)>& visit);

  // ---- APPEND (append.cpp): the messages announced so far, their bytes in intakes
  struct Pending {
    std::string mailbox;  // the store's name
    std::uint32_t uidvalidity = 0;
    AppendMessage message;
    std::vector<std::string> keywords;
    std::shared_ptr<delivery::Intake> intake;
  };
  std::vector<Pending> appends;
  MailboxReply append_begin(const Append& c, std::size_t index);
  MailboxReply append(const Append& c);

  // ---- commands
  MailboxReply select(const Select& c);
  MailboxReply close_mailbox(bool expunge);
  MailboxReply noop();
  MailboxReply list(const List& c);
  MailboxReply lsub(const Lsub& c);
  MailboxReply status(const Status& c);
  MailboxReply create(const Create& c);
  MailboxReply remove(const Delete& c);
  MailboxReply rename(const Rename& c);
  MailboxReply subscribe(std::string_view name, bool on);
  MailboxReply fetch(const Fetch& c);
  MailboxReply store_flags(const Store& c);
  MailboxReply expunge(const Expunge& c);
  MailboxReply copy(const Copy& c);
  MailboxReply search(const Search& c);
  // The UIDs of the selected mailbox matching `key`, ascending (search.cpp); the highest
  // MODSEQ among them in *hit_modseq when given.
  storage::result<std::vector<std::uint32_t>> matching(const SearchKey& key, std::uint64_t* hit_modseq = nullptr);
  // SORT (criteria) or THREAD (algorithm) over the messages matching `key` (sort.cpp).
  MailboxReply sort_or_thread(const SearchKey& key, const std::string& charset, bool uid,
                              const std::vector<SortCriterion>* criteria, const std::string* algorithm);
  MailboxReply get_quota(const GetQuota& c);
  MailboxReply get_quota_root(const GetQuotaRoot& c);
  [[nodiscard]] std::string quota_line();  // "QUOTA \"\" (STORAGE used limit)", "" on error
  // STATUS items of one mailbox: "MESSAGES 3 UIDNEXT 4" (LIST-STATUS shares it).
  storage::result<std::string> status_items(const storage::MailboxInfo& m, const std::vector<StatusItem>& items);
};

}  // namespace refmail::imap
