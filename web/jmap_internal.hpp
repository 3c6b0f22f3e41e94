// web/jmap_internal.hpp — PRIVATE to web/jmap*.cpp: the per-request context, the
// method table and JSON helpers shared by the JMAP files.
// SECURITY: Ctx::account is the authenticated account; every lookup goes through it.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "config/config.hpp"
#include "mime/summary.hpp"
#include "storage/store.hpp"
#include "web/jmap.hpp"

namespace refmail::web {

namespace json = boost::json;

struct Jmap::Impl {
  storage::Store& store;
  const config::Config& cfg;
  JmapLimits limits;
  std::function<void()> queue_notify;  // wakes the relay after a queue row is committed
};

// One JMAP request's view of the account; caches are dropped after every change.
struct Ctx {
  Jmap::Impl& j;
  std::string account;
  std::string account_id;
  std::map<std::string, std::string> created_ids;  // creation id -> server id
  std::optional<std::map<std::string, std::vector<storage::MailboxRow>>> emails;
  std::optional<std::vector<storage::MailboxInfo>> mailboxes;

  // message id -> the account's rows holding it; nullptr on a store error.
  const std::map<std::string, std::vector<storage::MailboxRow>>* email_rows();
  const std::vector<storage::MailboxInfo>* mailbox_list();
  void invalidate() {
    emails.reset();
    mailboxes.reset();
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

}  // namespace refmail::web
