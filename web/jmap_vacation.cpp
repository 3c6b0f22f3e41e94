// web/jmap_vacation.cpp — JMAP VacationResponse (RFC 8621 8): the one "singleton" object
// per account, VacationResponse/get and /set (update only). The settings live in the
// store (Store::vacation_get/set, storage/sieve.cpp); delivery turns them into the Sieve
// vacation action (delivery::vacation_action) and replies by RFC 5230's rules.
// Must never: create or destroy the singleton, or accept a property it does not store.
// SECURITY: every string is the account owner's own, bounded here (subject, bodies);
// CR/LF in the subject never reach the reply's header (sieve::vacation_reply).
#include <set>

#include "web/jmap_internal.hpp"

namespace refmail::web {
namespace {

constexpr std::string_view kVacationCapability = "urn:ietf:params:jmap:vacationresponse";
constexpr std::string_view kSingleton = "singleton";
constexpr std::size_t kMaxSubjectBytes = 1000;
constexpr std::size_t kMaxBodyBytes = 256u << 10;
constexpr std::string_view kProperties[] = {"id", "isEnabled", "fromDate", "toDate", "subject", "textBody", "htmlBody"};

bool known_property(std::string_view p) {
  for (auto k : kProperties) {
    if (k == p) return true;
  }
  return false;
}

json::value date_or_null(const std::optional<std::int64_t>& t) {
  return t ? json::value(utc_date(*t)) : json::value(nullptr);
}
json::value string_or_null(const std::optional<std::string>& s) {
  return s ? json::value(*s) : json::value(nullptr);
}

json::object vacation_object(const storage::VacationSettings& v, const std::optional<std::set<std::string>>& props) {
  json::object o{{"id", kSingleton},
                 {"isEnabled", v.enabled},
                 {"fromDate", date_or_null(v.from_date)},
                 {"toDate", date_or_null(v.to_date)},
                 {"subject", string_or_null(v.subject)},
                 {"textBody", string_or_null(v.text_body)},
                 {"htmlBody", string_or_null(v.html_body)}};
  if (!props) return o;
  json::object picked{{"id", kSingleton}};  // RFC 8620 5.1: id is always returned
  for (const auto& p : *props) {
    if (auto* x = o.if_contains(p)) picked[p] = *x;
  }
  return picked;
}

void vacation_get(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  std::optional<std::vector<std::string>> ids;
  if (!read_ids(args, ids)) return out.push_back(method_error("invalidArguments", call_id, "ids"));
  if (ids && ids->size() > ctx.j.limits.max_objects_in_get) return out.push_back(method_error("requestTooLarge", call_id));
  std::optional<std::set<std::string>> props;
  if (const auto* p = args.if_contains("properties"); p && !p->is_null()) {
    if (!p->is_array()) return out.push_back(method_error("invalidArguments", call_id, "properties"));
    props.emplace();
    for (const auto& x : p->as_array()) {
      if (!x.is_string() || !known_property(x.as_string())) {
        return out.push_back(method_error("invalidArguments", call_id, "unknown property"));
      }
      props->emplace(x.as_string());
    }
  }
  auto v = ctx.j.store.vacation_get(ctx.account);
  if (!v) return out.push_back(method_error("serverFail", call_id, "cannot read the vacation response"));
  json::array list, not_found;
  if (!ids) {
    list.push_back(vacation_object(*v, props));
  } else {
    for (const auto& id : *ids) {
      if (id == kSingleton) list.push_back(vacation_object(*v, props));
      else not_found.push_back(json::value(id));
    }
  }
  out.push_back(method_response("VacationResponse/get",
                                json::object{{"accountId", ctx.account_id},
                                             {"state", std::to_string(v->version)},
                                             {"list", std::move(list)},
                                             {"notFound", std::move(not_found)}},
                                call_id));
}

// Applies one update's properties (a patch of top-level names, RFC 8620 5.3) to `v`;
// the name of the first invalid property, or "".
std::string apply_patch(const json::object& patch, storage::VacationSettings& v) {
  auto text = [](const json::value& x, std::size_t max, std::optional<std::string>& into) {
    if (x.is_null()) {
      into.reset();
      return true;
    }
    if (!x.is_string() || x.as_string().size() > max) return false;
    std::string_view s = x.as_string();
    if (s.find('\0') != std::string_view::npos) return false;
    into = std::string(s);
    return true;
  };
  auto date = [](const json::value& x, std::optional<std::int64_t>& into) {
    if (x.is_null()) {
      into.reset();
      return true;
    }
    if (!x.is_string()) return false;
    auto t = parse_utc_date(x.as_string());
    if (!t) return false;
    into = *t;
    return true;
  };
  for (const auto& [key, x] : patch) {
    bool ok = false;
    if (key == "id") {
      ok = x.is_string() && x.as_string() == kSingleton;  // immutable, may be echoed
    } else if (key == "isEnabled") {
      ok = x.is_bool();
      if (ok) v.enabled = x.as_bool();
    } else if (key == "fromDate") {
      ok = date(x, v.from_date);
    } else if (key == "toDate") {
      ok = date(x, v.to_date);
    } else if (key == "subject") {
      ok = text(x, kMaxSubjectBytes, v.subject);
    } else if (key == "textBody") {
      ok = text(x, kMaxBodyBytes, v.text_body);
    } else if (key == "htmlBody") {
      ok = text(x, kMaxBodyBytes, v.html_body);
    }
    if (!ok) return std::string(key);
  }
  return {};
}

void vacation_set(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  auto& store = ctx.j.store;
  auto current = store.vacation_get(ctx.account);
  if (!current) return out.push_back(method_error("serverFail", call_id, "cannot read the vacation response"));
  const std::string old_state = std::to_string(current->version);
  if (const auto* s = args.if_contains("ifInState"); s && !s->is_null()) {
    if (!s->is_string() || s->as_string() != old_state) return out.push_back(method_error("stateMismatch", call_id));
  }
  const auto* create_v = args.if_contains("create");
  const auto* update_v = args.if_contains("update");
  const auto* destroy_v = args.if_contains("destroy");
  if ((create_v && !create_v->is_null() && !create_v->is_object()) ||
      (update_v && !update_v->is_null() && !update_v->is_object()) ||
      (destroy_v && !destroy_v->is_null() && !destroy_v->is_array())) {
    return out.push_back(method_error("invalidArguments", call_id, "create, update, destroy"));
  }
  json::object updated, not_created, not_updated, not_destroyed;
  // RFC 8621 8: the singleton always exists; it cannot be created or destroyed.
  if (create_v && create_v->is_object()) {
    for (const auto& kv : create_v->as_object()) {
      not_created[kv.key()] = set_error("singleton", "the VacationResponse exists and cannot be created");
    }
  }
  if (destroy_v && destroy_v->is_array()) {
    for (const auto& id : destroy_v->as_array()) {
      if (!id.is_string()) return out.push_back(method_error("invalidArguments", call_id, "destroy"));
      not_destroyed[id.as_string()] = set_error("singleton", "the VacationResponse cannot be destroyed");
    }
  }
  std::string new_state = old_state;
  if (update_v && update_v->is_object()) {
    for (const auto& [id, patch] : update_v->as_object()) {
      if (id != kSingleton) {
        not_updated[id] = set_error("notFound", "the only VacationResponse is \"singleton\"");
        continue;
      }
      if (!patch.is_object()) {
        not_updated[id] = set_error("invalidPatch", "an update is an object");
        continue;
      }
      storage::VacationSettings next = *current;
      if (auto bad = apply_patch(patch.as_object(), next); !bad.empty()) {
        auto e = set_error("invalidProperties", "invalid value of " + bad.substr(0, 50));
        e["properties"] = json::array{json::value(bad.substr(0, 50))};
        not_updated[id] = std::move(e);
        continue;
      }
      auto version = store.vacation_set(ctx.account, next);
      if (!version) {
        not_updated[id] = set_error("serverFail", "cannot store the vacation response");
        continue;
      }
      next.version = *version;
      *current = next;
      new_state = std::to_string(*version);
      updated[id] = nullptr;
    }
  }
  json::object res{{"accountId", ctx.account_id}, {"oldState", old_state}, {"newState", new_state}};
  auto put = [&](const char* name, json::object& o) {
    if (!o.empty()) res[name] = std::move(o);
  };
  put("updated", updated);
  put("notCreated", not_created);
  put("notUpdated", not_updated);
  put("notDestroyed", not_destroyed);
  out.push_back(method_response("VacationResponse/set", std::move(res), call_id));
}

}  // namespace

std::string_view vacation_capability_name() { return kVacationCapability; }

MethodFn find_vacation_method(std::string_view name) {
  if (name == "VacationResponse/get") return vacation_get;
  if (name == "VacationResponse/set") return vacation_set;
  return nullptr;
}

}  // namespace refmail::web
