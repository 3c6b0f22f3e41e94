// web/jmap_internal.hpp — PRIVATE to web/jmap*.cpp: the per-request context, the
// method table and JSON helpers shared by the JMAP files.
// SECURITY: Ctx::account is the authenticated account; every lookup goes through it.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "delivery/service.hpp"
#include "config/config.hpp"
#include "mime/composer.hpp"
#include "mime/summary.hpp"
#include "search/index.hpp"
#include "storage/store.hpp"
#include "web/jmap.hpp"

namespace refmail::web {

namespace json = boost::json;

struct Jmap::Impl {
  Impl(storage::Store& s, const config::Config& c, JmapLimits l)
      : store(s), cfg(c), limits(l), mail(std::make_shared<delivery::Service>(s, c)) {}
  storage::Store& store;
  const config::Config& cfg;
  JmapLimits limits;
  // Email/set create, EmailSubmission/set and uploads go through it: the daemon's
  // (Jmap::set_delivery), which wakes the relay after a commit that queued rows.
  std::shared_ptr<delivery::Service> mail;
  // Email/query's text conditions (null: the summary scan answers them).
  std::shared_ptr<search::Index> search;
};

// One JMAP request's view of the account; caches are dropped after every change.
struct Ctx {
  Jmap::Impl& j;
  std::string account;
  std::string account_id;
  std::map<std::string, std::string> created_ids;  // creation id -> server id
  std::optional<std::map<std::string, std::vector<storage::MailboxRow>>> emails;
  std::optional<std::vector<storage::MailboxInfo>> mailboxes;

  // message id -> the account's rows holding it; nullptr on a store error. Reads every
  // row of the account: for requests about all emails only.
  const std::map<std::string, std::vector<storage::MailboxRow>>* email_rows();
  // The account's rows holding one message (empty: not the account's), through the
  // store's message index; nullptr on a store error.
  const std::vector<storage::MailboxRow>* rows_of(const std::string& message_id);
  // Looks up several at once (one read of the mailbox list) for rows_of to answer;
  // false on a store error.
  bool prefetch_rows(const std::vector<std::string>& message_ids);
  std::map<std::string, std::vector<storage::MailboxRow>> rows_by_id;  // rows_of's cache
  // Email/query's thread keyword filters and sorts: keyword -> thread -> (every email of
  // the thread has it, some email has it), from email_rows(); jmap_mail.cpp.
  std::map<std::string, std::map<std::string, std::pair<bool, bool>>> thread_keywords;
  const std::vector<storage::MailboxInfo>* mailbox_list();
  void invalidate() {
    emails.reset();
    rows_by_id.clear();
    mailboxes.reset();
    thread_keywords.clear();
  }
  std::string state();
  // "m<id>" -> mailbox name; nullopt if unknown.
  std::optional<std::string> mailbox_name(std::string_view jmap_id);
  std::string mailbox_jmap_id(std::string_view name);
};

using MethodFn = void (*)(Ctx&, json::object& args, const std::string& call_id, json::array& out);
// nullptr for an unknown method name.
MethodFn find_method(std::string_view name);

json::array method_error(std::string_view type, const std::string& call_id, std::string_view description = {});
json::array method_response(std::string_view name, json::object args, const std::string& call_id);

// Shared by jmap_mail.cpp (reading) and jmap_mail_set.cpp (writing).
std::string ascii_lower(std::string_view s);
// Ids from "ids": null (all) or an array of strings; false if malformed.
bool read_ids(const json::object& args, std::optional<std::vector<std::string>>& out);
// An RFC 8620 5.3 SetError object.
json::object set_error(std::string_view type, std::string_view desc);
// Email/set, EmailSubmission/set and EmailSubmission/get (jmap_mail_set.cpp).
void email_set(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out);
void submission_set(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out);
void submission_get(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out);

// ---- shared by the reading methods (jmap_mail.cpp) and Email/query (jmap_query.cpp)
// ASCII case-insensitive substring test (an empty needle is in everything).
bool contains_ci(std::string_view hay, std::string_view needle);
// args[key] is the boolean true.
bool bool_arg(const json::object& args, std::string_view key);
// An email as its rows give it: receivedAt is the earliest row's internal date.
struct EmailView {
  const std::vector<storage::MailboxRow>* rows = nullptr;
  std::int64_t received = 0;
  std::uint64_t size = 0;
};
EmailView view_of(const std::vector<storage::MailboxRow>& rows);
// The stored summary (nullopt: no such message); with `structure`, also the MIME tree
// read from the skeleton's own bytes (the same record, no blob read).
std::optional<mime::Summary> load_summary(Ctx& ctx, const std::string& message_id,
                                          std::optional<mime::StructurePart>* structure = nullptr,
                                          bool with_headers = false);
// A state string of this server (the account's change-log modseq, decimal); nullopt
// for anything else.
std::optional<std::uint64_t> parse_state(std::string_view s);
// Email/query and Email/queryChanges (jmap_query.cpp).
void email_query(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out);
void email_query_changes(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out);

// RFC 3339 UTC date-time ("2024-05-01T10:00:00Z").
std::string utc_date(std::int64_t unix_seconds);
std::optional<std::int64_t> parse_utc_date(std::string_view s);

// The synthetic blob id of a part kept in the skeleton, and back.
std::string part_blob_id(std::string_view message_id, std::string_view part_path);
bool parse_part_blob_id(std::string_view blob_id, std::string& message_id, std::string& part_path);

// What a part blob id ("P...") stands for, when the account holds a row of its message:
// the store blob the part was cut into (blob_id set), or the decoded bytes of a small part
// kept in the skeleton (bytes set). nullopt: not a part id, no row, or not rebuildable.
struct PartContent {
  std::string blob_id;
  std::optional<std::string> bytes;
  std::uint64_t size = 0;  // decoded
};
std::optional<PartContent> resolve_part_blob(Ctx& ctx, std::string_view blob_id);

// ---- VacationResponse, RFC 8621 8 (jmap_vacation.cpp)
// "urn:ietf:params:jmap:vacationresponse".
std::string_view vacation_capability_name();
MethodFn find_vacation_method(std::string_view name);

// ---- JMAP for Sieve Scripts, RFC 9661 (jmap_sieve.cpp)
// "urn:ietf:params:jmap:sieve".
std::string_view sieve_capability_name();
// The account capability (RFC 9661 1.2.1) from [sieve].
json::object sieve_account_capability(const config::Config& cfg);
// SieveScript/* by name; nullptr for any other name.
MethodFn find_sieve_method(std::string_view name);
// The content a script blob id ("Z" + script id + "-" + content hash) stands for, when the
// account holds that script with that very content; nullopt otherwise.
std::optional<std::string> resolve_sieve_blob(Ctx& ctx, std::string_view blob_id);

// ---- EmailBodyPart both ways (jmap_body_structure.cpp)

// RFC 8621 4.1.4 EmailBodyPart of a leaf from the summary; `props` null = the default
// bodyProperties.
json::object body_part(const std::string& message_id, const mime::PartSummary& p,
                       const std::optional<std::set<std::string>>& props);
// "headers" and "header:{name}[:asRaw][:all]" (RFC 8621 4.1.3, raw form) listed in
// `props`, from `headers` (an Email's own or a body part's) into `o`.
void add_header_properties(json::object& o, const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::set<std::string>& props);
// The bodyStructure tree: body_part() per node, subParts on multiparts, "headers" and
// "header:{name}[:all]" (raw form) when listed in `props`.
json::object structure_part(const std::string& message_id, const mime::StructurePart& n,
                            const std::optional<std::set<std::string>>& props);

// What a draft's blobId stands for: a store blob the caller holds a grant for (blob_id,
// size), or a "P" part of a message the caller holds a row of (its cut blob, or its bytes
// as `literal`). nullopt: not found for this account.
struct DraftBlob {
  std::string blob_id;
  std::optional<std::string> literal;
  std::uint64_t size = 0;
};
std::optional<DraftBlob> resolve_draft_blob(Ctx& ctx, const std::string& blob_id);

// Email/set create: "" when the email's bodyValues are acceptable (RFC 8621 4.6: objects
// with a string value, isEncodingProblem/isTruncated false), else the SetError type.
std::string check_body_values(const json::object& email, std::string& desc);
// Email/set create with "bodyStructure": the tree as a DraftPart. Returns "" or the
// SetError type: invalidProperties (desc says where), or blobNotFound with the unknown
// blob ids in `not_found`. REQUIRES: email has "bodyStructure"; check_body_values passed.
std::string read_body_structure(Ctx& ctx, const json::object& email, mime::DraftPart& out, std::string& desc,
                                std::vector<std::string>& not_found);

}  // namespace refmail::web
