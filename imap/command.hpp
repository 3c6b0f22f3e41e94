// imap/command.hpp — the typed AST of an IMAP client command (RFC 9051, RFC 3501 and the
// extensions the server parser knows: CONDSTORE/QRESYNC 7162, LIST-EXTENDED 5258,
// SPECIAL-USE 6154, MULTIAPPEND 3502, BINARY 3516, ESEARCH/SEARCHRES 4731/5182,
// SORT/THREAD 5256, QUOTA 9208, ID 2971, COMPRESS 4978, OBJECTID 8474, SASL-IR 4959).
// Plain data: no parsing here (imap/parser.hpp), no behaviour, no I/O.
// Must never: hold a view into a reader's buffer (every value is owned), or an APPEND
// message's bytes (they stream through imap/reader.hpp; only their sizes are here).
// Mailbox names are UTF-8 (decoded from modified UTF-7 unless UTF8=ACCEPT), INBOX in
// any case is "INBOX".
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "imap/datetime.hpp"
#include "imap/sequence_set.hpp"

namespace refmail::imap {

// ---- search (RFC 9051 6.4.4, RFC 3501 6.4.4, RFC 7162 3.1.5, RFC 8474 5, RFC 5032)
struct SearchKey {
  enum class Kind {
    And,  // children, all must match (a parenthesised list and the top level)
    Or,   // children[0] OR children[1]
    Not,  // children[0]
    All, Answered, Deleted, Draft, Flagged, New, Old, Recent, Seen,
    Unanswered, Undeleted, Undraft, Unflagged, Unseen,
    Keyword, Unkeyword,                 // text = the keyword
    Bcc, Body, Cc, From, Subject, Text, To,  // text = the string
    Header,                             // field = the header name, text = the string
    Before, On, Since, SentBefore, SentOn, SentSince,  // date
    Larger, Smaller,                    // number
    Older, Younger,                     // number of seconds (RFC 5032 WITHIN)
    Uid,                                // set
    SequenceSet,                        // set (a bare sequence set)
    ModSeq,                             // number; field = entry name, text = entry type
    EmailId, ThreadId,                  // text (RFC 8474)
  };
  Kind kind = Kind::All;
  std::string field;
  std::string text;
  std::uint64_t number = 0;
  Date date;
  SequenceSet set;
  std::vector<SearchKey> children;
  friend bool operator==(const SearchKey&, const SearchKey&) = default;
};

// ---- fetch (RFC 9051 6.4.5, RFC 3516, RFC 7162, RFC 8474, RFC 8514 SAVEDATE)
struct Section {
  enum class Text { None, Header, HeaderFields, HeaderFieldsNot, Text, Mime };
  std::vector<std::uint32_t> part;  // "1.2.3" -> {1, 2, 3}; empty for the message
  Text text = Text::None;
  std::vector<std::string> fields;  // HEADER.FIELDS (...), as sent
  friend bool operator==(const Section&, const Section&) = default;
};

struct Partial {
  std::uint32_t offset = 0;
  std::uint32_t length = 0;  // nz-number
  friend bool operator==(const Partial&, const Partial&) = default;
};

struct FetchAtt {
  enum class Kind {
    Envelope, Flags, InternalDate, Rfc822, Rfc822Header, Rfc822Size, Rfc822Text,
    Body,           // BODY (structure without extensions)
    BodyStructure,
    BodySection,    // BODY[section]<partial>, BODY.PEEK[...]
    Binary,         // BINARY[part]<partial>, BINARY.PEEK[...]
    BinarySize,     // BINARY.SIZE[part]
    Uid, ModSeq, EmailId, ThreadId, SaveDate,
  };
  Kind kind = Kind::Flags;
  bool peek = false;
  Section section;
  std::optional<Partial> partial;
  friend bool operator==(const FetchAtt&, const FetchAtt&) = default;
};

// ---- flags (RFC 9051 2.3.2): "\Seen" ... or a keyword, as sent
using FlagList = std::vector<std::string>;

enum class StatusItem {
  Messages, Recent, UidNext, UidValidity, Unseen, Deleted, Size, HighestModSeq,
  AppendLimit, MailboxId, DeletedStorage,
};

// ---- commands
struct Capability {
  friend bool operator==(const Capability&, const Capability&) = default;
};
struct Noop {
  friend bool operator==(const Noop&, const Noop&) = default;
};
struct Logout {
  friend bool operator==(const Logout&, const Logout&) = default;
};
struct StartTls {
  friend bool operator==(const StartTls&, const StartTls&) = default;
};
struct Authenticate {
  std::string mechanism;                       // upper-cased
  std::optional<std::string> initial_response;  // SASL-IR, base64 as sent ("=" is empty)
  friend bool operator==(const Authenticate&, const Authenticate&) = default;
};
struct Login {
  std::string user;
  std::string password;
  friend bool operator==(const Login&, const Login&) = default;
};
struct Enable {
  std::vector<std::string> capabilities;  // upper-cased
  friend bool operator==(const Enable&, const Enable&) = default;
};
struct QresyncParams {
  std::uint32_t uidvalidity = 0;
  std::uint64_t modseq = 0;
  std::optional<SequenceSet> known_uids;
  std::optional<std::pair<SequenceSet, SequenceSet>> seq_match;  // (seqs, uids)
  friend bool operator==(const QresyncParams&, const QresyncParams&) = default;
};
struct Select {
  std::string mailbox;
  bool examine = false;
  bool condstore = false;
  std::optional<QresyncParams> qresync;
  friend bool operator==(const Select&, const Select&) = default;
};
struct Create {
  std::string mailbox;
  std::vector<std::string> special_use;  // USE (\Drafts ...)
  friend bool operator==(const Create&, const Create&) = default;
};
struct Delete {
  std::string mailbox;
  friend bool operator==(const Delete&, const Delete&) = default;
};
struct Rename {
  std::string from;
  std::string to;
  friend bool operator==(const Rename&, const Rename&) = default;
};
struct Subscribe {
  std::string mailbox;
  friend bool operator==(const Subscribe&, const Subscribe&) = default;
};
struct Unsubscribe {
  std::string mailbox;
  friend bool operator==(const Unsubscribe&, const Unsubscribe&) = default;
};
struct List {
  bool subscribed = false, remote = false, recursive_match = false, special_use = false;  // selection
  std::string reference;
  std::vector<std::string> patterns;
  bool return_subscribed = false, return_children = false, return_special_use = false;
  std::optional<std::vector<StatusItem>> return_status;
  bool extended = false;  // selection or return options or several patterns were given
  friend bool operator==(const List&, const List&) = default;
};
struct Lsub {
  std::string reference;
  std::string pattern;
  friend bool operator==(const Lsub&, const Lsub&) = default;
};
struct Namespace {
  friend bool operator==(const Namespace&, const Namespace&) = default;
};
struct Status {
  std::string mailbox;
  std::vector<StatusItem> items;
  friend bool operator==(const Status&, const Status&) = default;
};
struct AppendMessage {
  FlagList flags;
  std::optional<DateTime> date;
  std::uint64_t size = 0;  // the literal's size; its bytes were streamed (reader.hpp)
  bool binary = false;     // literal8 ~{n} (RFC 3516)
  friend bool operator==(const AppendMessage&, const AppendMessage&) = default;
};
struct Append {
  std::string mailbox;
  std::vector<AppendMessage> messages;  // MULTIAPPEND: one or more
  friend bool operator==(const Append&, const Append&) = default;
};
struct Idle {
  friend bool operator==(const Idle&, const Idle&) = default;
};
struct Check {
  friend bool operator==(const Check&, const Check&) = default;
};
struct Close {
  friend bool operator==(const Close&, const Close&) = default;
};
struct Unselect {
  friend bool operator==(const Unselect&, const Unselect&) = default;
};
struct Expunge {
  std::optional<SequenceSet> uids;  // UID EXPUNGE (RFC 4315, RFC 9051)
  friend bool operator==(const Expunge&, const Expunge&) = default;
};
struct Search {
  bool uid = false;
  std::optional<std::string> charset;  // upper-cased
  bool esearch = false;                // a RETURN (...) was given
  bool ret_min = false, ret_max = false, ret_all = false, ret_count = false, ret_save = false;
  SearchKey key;  // Kind::And of the top-level keys
  friend bool operator==(const Search&, const Search&) = default;
};
struct Fetch {
  bool uid = false;
  SequenceSet set;
  std::vector<FetchAtt> atts;  // macros expanded (RFC 9051 6.4.5)
  std::optional<std::uint64_t> changed_since;
  bool vanished = false;
  friend bool operator==(const Fetch&, const Fetch&) = default;
};
struct Store {
  enum class Mode { Replace, Add, Remove };
  bool uid = false;
  SequenceSet set;
  std::optional<std::uint64_t> unchanged_since;
  Mode mode = Mode::Replace;
  bool silent = false;
  FlagList flags;
  friend bool operator==(const Store&, const Store&) = default;
};
struct Copy {
  bool uid = false;
  bool move = false;  // MOVE (RFC 6851)
  SequenceSet set;
  std::string mailbox;
  friend bool operator==(const Copy&, const Copy&) = default;
};
struct SortCriterion {
  enum class Key { Arrival, Cc, Date, From, Size, Subject, To, DisplayFrom, DisplayTo };
  Key key = Key::Arrival;
  bool reverse = false;
  friend bool operator==(const SortCriterion&, const SortCriterion&) = default;
};
struct Sort {
  bool uid = false;
  std::vector<SortCriterion> criteria;
  std::string charset;  // upper-cased
  SearchKey key;
  friend bool operator==(const Sort&, const Sort&) = default;
};
struct Thread {
  bool uid = false;
  std::string algorithm;  // upper-cased: ORDEREDSUBJECT, REFERENCES, ...
  std::string charset;
  SearchKey key;
  friend bool operator==(const Thread&, const Thread&) = default;
};
struct GetQuota {
  std::string root;
  friend bool operator==(const GetQuota&, const GetQuota&) = default;
};
struct GetQuotaRoot {
  std::string mailbox;
  friend bool operator==(const GetQuotaRoot&, const GetQuotaRoot&) = default;
};
struct SetQuota {
  std::string root;
  std::vector<std::pair<std::string, std::uint64_t>> limits;  // resource upper-cased
  friend bool operator==(const SetQuota&, const SetQuota&) = default;
};
struct Id {
  std::optional<std::vector<std::pair<std::string, std::optional<std::string>>>> fields;  // NIL -> nullopt
  friend bool operator==(const Id&, const Id&) = default;
};
struct Compress {
  std::string mechanism;
  friend bool operator==(const Compress&, const Compress&) = default;
};  // upper-cased ("DEFLATE")

using CommandBody =
    std::variant<Capability, Noop, Logout, StartTls, Authenticate, Login, Enable, Select, Create, Delete, Rename,
                 Subscribe, Unsubscribe, List, Lsub, Namespace, Status, Append, Idle, Check, Close, Unselect,
                 Expunge, Search, Fetch, Store, Copy, Sort, Thread, GetQuota, GetQuotaRoot, SetQuota, Id, Compress>;

struct Command {
  std::string tag;
  CommandBody body;
  friend bool operator==(const Command&, const Command&) = default;
};

// The command's name as in the RFC ("UID FETCH", "EXAMINE"), for logs and replies.
[[nodiscard]] std::string command_name(const Command& c);

}  // namespace refmail::imap
