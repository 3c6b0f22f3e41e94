// web/jmap_core.cpp — RFC 8620: the session resource (2), the API request (3.3-3.7:
// method calls, back-references with JSON Pointer and '*', request-level problem
// details and method-level error objects), Core/echo (4), ids and dates.
// SECURITY: the request is bounded before parsing (maxSizeRequest) and after
// (maxCallsInRequest); a method never sees an account other than the caller's.
#include <algorithm>
#include <charconv>
#include <ctime>

#include "web/concurrency.hpp"
#include "web/jmap_internal.hpp"

namespace refmail::web {
namespace {

// RFC 8620 3.6.1: request-level errors are RFC 7807 problem details.
Response problem(std::string_view type, int status, std::string_view detail, std::string_view limit = {}) {
  Response r;
  r.status = status;
  r.content_type = "application/problem+json";
  json::object o{{"type", type}, {"status", status}, {"detail", detail}};
  if (!limit.empty()) o["limit"] = limit;
  r.body = json::serialize(o);
  return r;
}

// RFC 6901 with RFC 8620 3.7's '*' (map over an array, flattening arrays).
std::optional<json::value> evaluate_pointer(const json::value& root, std::string_view path) {
  if (path.empty()) return root;
  if (path.front() != '/') return std::nullopt;
  path.remove_prefix(1);
  auto slash = path.find('/');
  std::string token(path.substr(0, slash));
  std::string_view rest = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  // ~1 -> /, ~0 -> ~
  std::string unescaped;
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      unescaped.push_back(token[i + 1] == '0' ? '~' : '/');
      ++i;
    } else {
      unescaped.push_back(token[i]);
    }
  }
  if (const auto* arr = root.if_array()) {
    if (unescaped == "*") {
      json::array out;
      for (const auto& el : *arr) {
        auto v = evaluate_pointer(el, rest);
        if (!v) return std::nullopt;
        if (v->is_array()) {
          for (auto& x : v->as_array()) out.push_back(x);
        } else {
          out.push_back(*v);
        }
      }
      return json::value(std::move(out));
    }
    if (unescaped.empty() || unescaped.size() > 9 ||
        !std::all_of(unescaped.begin(), unescaped.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    std::size_t i = 0;  // 1-9 digits; from_chars cannot throw on client bytes
    std::from_chars(unescaped.data(), unescaped.data() + unescaped.size(), i);
    if (i >= arr->size()) return std::nullopt;
    return evaluate_pointer((*arr)[i], rest);
  }
  if (const auto* obj = root.if_object()) {
    const auto* v = obj->if_contains(unescaped);
    if (!v) return std::nullopt;
    return evaluate_pointer(*v, rest);
  }
  return std::nullopt;
}

// Replaces every "#name" argument by the referenced result. Returns "" or the method
// error: invalidResultReference, or requestTooLarge once the values substituted in this
// request exceed `budget` bytes (decremented by each one's serialized size): a result
// referenced twice per call doubles at every call, so without it 64 Core/echo calls
// would ask for 2^63 times the first response.
std::string_view resolve_references(json::object& args, const json::array& responses, std::uint64_t& budget,
                                    std::string& why) {
  std::vector<std::string> keys;
  for (const auto& kv : args) {
    if (!kv.key().empty() && kv.key().front() == '#') keys.emplace_back(kv.key());
  }
  for (const auto& key : keys) {
    std::string plain = key.substr(1);
    if (args.contains(plain)) {
      why = "both " + plain + " and " + key + " given";
      return "invalidResultReference";
    }
    const auto* ref = args.at(key).if_object();
    const json::value* result_of = ref ? ref->if_contains("resultOf") : nullptr;
    const json::value* name = ref ? ref->if_contains("name") : nullptr;
    const json::value* path = ref ? ref->if_contains("path") : nullptr;
    if (!result_of || !name || !path || !result_of->is_string() || !name->is_string() || !path->is_string()) {
      why = key + " is not a ResultReference";
      return "invalidResultReference";
    }
    const json::value* found = nullptr;
    for (const auto& r : responses) {
      const auto& a = r.as_array();
      if (a[2].as_string() == result_of->as_string() && a[0].as_string() == name->as_string()) found = &a[1];
    }
    if (!found) {
      why = key + " refers to no earlier " + std::string(name->as_string()) + " response";
      return "invalidResultReference";
    }
    auto v = evaluate_pointer(*found, path->as_string());
    if (!v) {
      why = key + " path " + std::string(path->as_string()) + " does not resolve";
      return "invalidResultReference";
    }
    const std::uint64_t size = json::serialize(*v).size();
    if (size > budget) {
      why = "the arguments with their result references exceed maxSizeRequest";
      budget = 0;
      return "requestTooLarge";
    }
    budget -= size;
    args.erase(key);
    args[plain] = std::move(*v);
  }
  return {};
}

void core_echo(Ctx&, json::object& args, const std::string& call_id, json::array& out) {
  out.push_back(method_response("Core/echo", std::move(args), call_id));
}

constexpr std::string_view kCore = "urn:ietf:params:jmap:core";
constexpr std::string_view kMail = "urn:ietf:params:jmap:mail";
constexpr std::string_view kSubmission = "urn:ietf:params:jmap:submission";
constexpr std::string_view kRefmailAdmin = "urn:refmail:params:admin";

}  // namespace

std::string account_id_for(std::string_view account) {
  static const char* digits = "0123456789abcdef";
  std::string s = "A";
  for (unsigned char c : account) {
    s.push_back(digits[c >> 4]);
    s.push_back(digits[c & 15]);
  }
  return s;
}

std::optional<std::string> account_from_id(std::string_view id) {
  if (id.size() < 3 || id.size() > 1024 || id.front() != 'A' || id.size() % 2 != 1) return std::nullopt;
  std::string out;
  for (std::size_t i = 1; i < id.size(); i += 2) {
    auto h = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int a = h(id[i]), b = h(id[i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    out.push_back(static_cast<char>(a * 16 + b));
  }
  return out;
}

bool valid_jmap_id(std::string_view id) {
  if (id.empty() || id.size() > 255) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

json::array method_error(std::string_view type, const std::string& call_id, std::string_view description) {
  json::object o{{"type", type}};
  if (!description.empty()) o["description"] = description;
  return json::array{"error", std::move(o), call_id};
}

json::array method_response(std::string_view name, json::object args, const std::string& call_id) {
  return json::array{name, std::move(args), call_id};
}

std::string utc_date(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::int64_t> parse_utc_date(std::string_view s) {
  // RFC 3339 "YYYY-MM-DDTHH:MM:SS" + "Z" or "+hh:mm"/"-hh:mm" (fractions ignored).
  if (s.size() < 20) return std::nullopt;
  std::tm tm{};
  auto num = [&](std::size_t pos, std::size_t n, int& out) {
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, se;
  if (!num(0, 4, y) || s[4] != '-' || !num(5, 2, mo) || s[7] != '-' || !num(8, 2, d) ||
      (s[10] != 'T' && s[10] != 't') || !num(11, 2, h) || s[13] != ':' || !num(14, 2, mi) || s[16] != ':' ||
      !num(17, 2, se)) {
    return std::nullopt;
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  std::int64_t t = timegm(&tm);
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  }
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z') && i + 1 == s.size()) return t;
  if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh, om;
    if (!num(i + 1, 2, oh) || !num(i + 4, 2, om)) return std::nullopt;
    std::int64_t off = (oh * 60 + om) * 60;
    return s[i] == '+' ? t - off : t + off;
  }
  return std::nullopt;
}

std::string part_blob_id(std::string_view message_id, std::string_view part_path) {
  std::string s = "P";
  s.append(message_id);
  s.push_back('-');
  for (char c : part_path) s.push_back(c == '.' ? '_' : c);
  return s;
}

bool parse_part_blob_id(std::string_view blob_id, std::string& message_id, std::string& part_path) {
  if (blob_id.size() < 4 || blob_id.front() != 'P') return false;
  auto dash = blob_id.find('-');
  if (dash == std::string_view::npos || dash < 2 || dash + 1 >= blob_id.size()) return false;
  message_id = std::string(blob_id.substr(1, dash - 1));
  part_path.clear();
  for (char c : blob_id.substr(dash + 1)) {
    if (c == '_') part_path.push_back('.');
    else if (c >= '0' && c <= '9') part_path.push_back(c);
    else return false;
  }
  return valid_jmap_id(message_id);
}

const std::map<std::string, std::vector<storage::MailboxRow>>* Ctx::email_rows() {
  if (!emails) {
    auto rows = j.store.list_account_rows(account);
    if (!rows) return nullptr;
    std::map<std::string, std::vector<storage::MailboxRow>> m;
    for (auto& r : *rows) m[r.message_id].push_back(std::move(r));
    emails = std::move(m);
  }
  return &*emails;
}

const std::vector<storage::MailboxRow>* Ctx::rows_of(const std::string& message_id) {
  static const std::vector<storage::MailboxRow> kNone;
  if (emails) {
    auto it = emails->find(message_id);
    return it == emails->end() ? &kNone : &it->second;
  }
  auto it = rows_by_id.find(message_id);
  if (it == rows_by_id.end()) {
    auto rows = j.store.message_rows(account, message_id);
    if (!rows) return nullptr;
    it = rows_by_id.emplace(message_id, std::move(*rows)).first;
  }
  return &it->second;
}

bool Ctx::prefetch_rows(const std::vector<std::string>& message_ids) {
  if (emails) return true;
  std::vector<std::string> missing;
  for (const auto& id : message_ids)
    if (!rows_by_id.count(id)) missing.push_back(id);
  if (missing.empty()) return true;
  auto rows = j.store.message_rows(account, missing);
  if (!rows) return false;
  rows_by_id.merge(*rows);
  return true;
}

const std::vector<storage::MailboxInfo>* Ctx::mailbox_list() {
  if (!mailboxes) {
    auto l = j.store.list_mailboxes(account);
    if (!l) return nullptr;
    mailboxes = std::move(*l);
  }
  return &*mailboxes;
}

std::string Ctx::state() {
  auto s = j.store.account_state(account);
  return s ? std::to_string(*s) : "0";
}

std::optional<std::string> Ctx::mailbox_name(std::string_view jmap_id) {
  if (jmap_id.starts_with("#")) {
    auto it = created_ids.find(std::string(jmap_id.substr(1)));
    if (it == created_ids.end()) return std::nullopt;
    jmap_id = it->second;
  }
  const auto* l = mailbox_list();
  if (!l) return std::nullopt;
  for (const auto& m : *l) {
    if (jmap_id == "m" + std::to_string(m.mailbox_id)) return m.name;
  }
  return std::nullopt;
}

std::string Ctx::mailbox_jmap_id(std::string_view name) {
  const auto* l = mailbox_list();
  if (l) {
    for (const auto& m : *l) {
      if (m.name == name) return "m" + std::to_string(m.mailbox_id);
    }
  }
  return {};
}

Jmap::Jmap(storage::Store& store, const config::Config& cfg, JmapLimits limits)
    : impl_(std::make_unique<Impl>(store, cfg, limits)),
      limits_(limits),
      requests_in_flight_(std::make_unique<ConcurrencyLimit>(limits.max_concurrent_requests)),
      uploads_in_flight_(std::make_unique<ConcurrencyLimit>(limits.max_concurrent_upload)) {}
Jmap::~Jmap() = default;

void Jmap::set_delivery(std::shared_ptr<delivery::Service> service) {
  if (service) impl_->mail = std::move(service);
}
void Jmap::set_search(std::shared_ptr<search::Index> index) { impl_->search = std::move(index); }

Response Jmap::session(const std::string& account) {
  const auto& l = limits_;
  std::string id = account_id_for(account);
  json::object core{{"maxSizeUpload", l.max_size_upload},
                    {"maxConcurrentUpload", l.max_concurrent_upload},
                    {"maxSizeRequest", l.max_size_request},
                    {"maxConcurrentRequests", l.max_concurrent_requests},
                    {"maxCallsInRequest", l.max_calls_in_request},
                    {"maxObjectsInGet", l.max_objects_in_get},
                    {"maxObjectsInSet", l.max_objects_in_set},
                    {"collationAlgorithms", json::array{"i;ascii-casemap"}}};
  json::object mail_caps{{"maxMailboxesPerEmail", nullptr},
                         {"maxMailboxDepth", 1},
                         {"maxSizeMailboxName", 255},
                         {"maxSizeAttachmentsPerEmail", l.max_size_upload},
                         {"emailQuerySortOptions", json::array{"receivedAt", "size"}},
                         {"mayCreateTopLevelMailbox", true}};
  json::object sub_caps{{"maxDelayedSend", 0}, {"submissionExtensions", json::object{}}};
  json::object acct{{"name", account},
                    {"isPersonal", true},
                    {"isReadOnly", false},
                    {"accountCapabilities",
                     json::object{{kCore, json::object{}},
                                  {kMail, mail_caps},
                                  {kSubmission, sub_caps},
                                  {sieve_capability_name(), sieve_account_capability(impl_->cfg)},
                                  {vacation_capability_name(), json::object{}}}}};
  auto st = impl_->store.account_state(account);
  json::object caps{{kCore, core},
                    {kMail, json::object{}},
                    {kSubmission, json::object{}},
                    {sieve_capability_name(), json::object{}},
                    {vacation_capability_name(), json::object{}}};
  // A vendor capability (RFC 8620 2: vendor-specific URIs) present only for admin accounts,
  // so a client (the webmail) knows to offer /api/admin/stats; it grants nothing itself.
  if (auto u = impl_->store.get_user(account); u && u->is_admin) caps[kRefmailAdmin] = json::object{};
  json::object doc{
      {"capabilities", std::move(caps)},
      {"accounts", json::object{{id, acct}}},
      {"primaryAccounts",
       json::object{{kCore, id},
                    {kMail, id},
                    {kSubmission, id},
                    {sieve_capability_name(), id},
                    {vacation_capability_name(), id}}},
      {"username", account},
      {"apiUrl", "/jmap/api"},
      {"downloadUrl", "/jmap/download/{accountId}/{blobId}/{name}?accept={type}"},
      {"uploadUrl", "/jmap/upload/{accountId}/"},
      {"eventSourceUrl", "/jmap/eventsource?types={types}&closeafter={closeafter}&ping={ping}"},
      {"state", st ? std::to_string(*st) : "0"}};
  Response r;
  r.body = json::serialize(doc);
  r.headers.emplace_back("Cache-Control", "no-cache, no-store, must-revalidate");
  return r;
}

Response Jmap::api(const std::string& account, const Request& req) {
  if (req.method != "POST") return error_response(405, "use POST");
  auto ticket = requests_in_flight_->acquire(account);
  if (!ticket) {
    return problem("urn:ietf:params:jmap:error:limit", 400, "too many requests in flight for this account",
                   "maxConcurrentRequests");
  }
  if (req.body.size() > limits_.max_size_request) {
    return problem("urn:ietf:params:jmap:error:limit", 400, "the request is larger than maxSizeRequest",
                   "maxSizeRequest");
  }
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec) return problem("urn:ietf:params:jmap:error:notJSON", 400, "the request body is not JSON");
  const auto* o = v.if_object();
  const json::value* using_v = o ? o->if_contains("using") : nullptr;
  const json::value* calls_v = o ? o->if_contains("methodCalls") : nullptr;
  if (!using_v || !using_v->is_array() || !calls_v || !calls_v->is_array()) {
    return problem("urn:ietf:params:jmap:error:notRequest", 400, "a Request needs \"using\" and \"methodCalls\"");
  }
  for (const auto& cap : using_v->as_array()) {
    if (!cap.is_string()) return problem("urn:ietf:params:jmap:error:notRequest", 400, "\"using\" holds strings");
    std::string_view c = cap.as_string();
    if (c != kCore && c != kMail && c != kSubmission && c != sieve_capability_name() &&
        c != vacation_capability_name()) {
      return problem("urn:ietf:params:jmap:error:unknownCapability", 400,
                     "unknown capability " + std::string(c.substr(0, 200)));
    }
  }
  const auto& calls = calls_v->as_array();
  if (calls.size() > limits_.max_calls_in_request) {
    return problem("urn:ietf:params:jmap:error:limit", 400, "too many method calls", "maxCallsInRequest");
  }
  for (const auto& c : calls) {
    const auto* a = c.if_array();
    if (!a || a->size() != 3 || !(*a)[0].is_string() || !(*a)[1].is_object() || !(*a)[2].is_string()) {
      return problem("urn:ietf:params:jmap:error:notRequest", 400,
                     "each method call is [name, arguments, callId]");
    }
  }
  Ctx ctx{*impl_, account, account_id_for(account), {}, {}, {}};
  if (const auto* cids = o->if_contains("createdIds"); cids && cids->is_object()) {
    for (const auto& kv : cids->as_object()) {
      if (kv.value().is_string()) ctx.created_ids[std::string(kv.key())] = std::string(kv.value().as_string());
    }
  }
  json::array responses;
  // The request as if its references were written out is bounded like the request itself.
  std::uint64_t reference_budget = limits_.max_size_request - req.body.size();
  for (const auto& c : calls) {
    const auto& a = c.as_array();
    std::string name(a[0].as_string());
    std::string call_id(a[2].as_string());
    json::object args = a[1].as_object();
    std::string why;
    if (auto error = resolve_references(args, responses, reference_budget, why); !error.empty()) {
      responses.push_back(method_error(error, call_id, why));
      continue;
    }
    if (name == "Core/echo") {
      core_echo(ctx, args, call_id, responses);
      continue;
    }
    MethodFn fn = find_method(name);
    if (!fn) {
      responses.push_back(method_error("unknownMethod", call_id, "unknown method " + name.substr(0, 100)));
      continue;
    }
    // RFC 8620 3.6.2: a method for another account answers accountNotFound.
    if (const auto* acc = args.if_contains("accountId")) {
      if (!acc->is_string() || acc->as_string() != ctx.account_id) {
        responses.push_back(method_error("accountNotFound", call_id));
        continue;
      }
    }
    fn(ctx, args, call_id, responses);
  }
  json::object out{{"methodResponses", std::move(responses)}, {"sessionState", ctx.state()}};
  if (!ctx.created_ids.empty()) {
    json::object cids;
    for (const auto& [k, val] : ctx.created_ids) cids[k] = val;
    out["createdIds"] = std::move(cids);
  }
  Response r;
  r.body = json::serialize(out);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace refmail::web
