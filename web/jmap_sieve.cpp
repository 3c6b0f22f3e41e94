// web/jmap_sieve.cpp — JMAP for Sieve Scripts (RFC 9661): the urn:ietf:params:jmap:sieve
// account capability (1.2), SieveScript/get, /set (with onSuccessActivateScript and
// onSuccessDeactivateScript), /query, /changes and /validate (2.1-2.6), and the script
// content as a blob ("Z" ids) for the download endpoint. Scripts live in the store
// (storage/sieve.cpp), shared with ManageSieve and read by delivery.
// Must never: store a script that delivery::validate_sieve refuses, or touch another
// account's scripts (every call goes through Ctx::account).
// SECURITY: script bytes come from the caller's own uploads (a grant) or scripts; their
// size is checked before they are read; a "Z" blob id of a missing, changed or foreign
// script takes the download's common 404.
#include <openssl/sha.h>

#include <algorithm>
#include <span>

#include "delivery/sieve_filter.hpp"
#include "sieve/limits.hpp"
#include "web/jmap_internal.hpp"

namespace refmail::web {
namespace {

constexpr std::string_view kSieveCapability = "urn:ietf:params:jmap:sieve";
constexpr std::size_t kMaxNameChars = 128;  // storage::valid_sieve_name's bound

// One script as JMAP shows it.
struct ScriptView {
  std::string id;  // the store's immutable script id (storage/sieve.cpp)
  std::string name;
  bool active = false;
  std::string content;
  std::string blob_id;
};

std::string to_hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s.push_back(digits[p[i] >> 4]);
    s.push_back(digits[p[i] & 15]);
  }
  return s;
}

std::string sha_hex(std::string_view bytes, std::size_t n) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), d);
  return to_hex(d, n);
}

// "Z" + script id + "-" + the first 16 bytes of SHA-256(content): a blob is immutable
// (RFC 8620 6), so new content is a new blob id; the old one stops resolving.
std::string script_blob_id(std::string_view script_id, std::string_view content) {
  return "Z" + std::string(script_id) + "-" + sha_hex(content, 16);
}

// The account's scripts with their content; nullopt on a store error. Costs every
// script's bytes: at most [sieve] max_scripts x max_script_bytes (32 x 256 KiB).
std::optional<std::vector<ScriptView>> load_scripts(Ctx& ctx) {
  auto list = ctx.j.store.sieve_list(ctx.account);
  if (!list) return std::nullopt;
  std::vector<ScriptView> out;
  for (auto& info : *list) {
    auto content = ctx.j.store.sieve_get(ctx.account, info.name);
    if (!content) return std::nullopt;
    if (!*content) continue;  // deleted between the two reads
    ScriptView v;
    v.id = std::move(info.id);
    v.name = std::move(info.name);
    v.active = info.active;
    v.content = std::move(**content);
    v.blob_id = script_blob_id(v.id, v.content);
    out.push_back(std::move(v));
  }
  return out;
}

// The SieveScript state: a hash of every (id, name, isActive, blobId), so any change
// made here, over ManageSieve or by refmailctl changes it. Not a change-log position:
// SieveScript/changes answers only from the current state (see sieve_changes).
std::string state_of(const std::vector<ScriptView>& scripts) {
  std::string all;
  for (const auto& s : scripts) {
    all += s.id + '\0' + s.name + '\0' + (s.active ? "1" : "0") + s.blob_id + '\n';
  }
  return "s" + sha_hex(all, 12);
}

const ScriptView* by_id(const std::vector<ScriptView>& scripts, std::string_view id) {
  for (const auto& s : scripts)
    if (s.id == id) return &s;
  return nullptr;
}
const ScriptView* by_name(const std::vector<ScriptView>& scripts, std::string_view name) {
  for (const auto& s : scripts)
    if (s.name == name) return &s;
  return nullptr;
}

// "" when the script may be stored (delivery::validate_sieve, as ManageSieve checks it),
// else why.
std::string check_script(const config::Config& cfg, std::string_view script) {
  return delivery::validate_sieve(script, delivery::sieve_limits(cfg));
}

// The bytes a blobId stands for, for a script: an upload (or any blob) the account holds
// a grant for, or one of its scripts' "Z" blobs. Sets `error` to the SetError otherwise:
// blobNotFound, or tooLarge over [sieve] max_script_bytes (checked before reading).
std::optional<std::string> read_script_blob(Ctx& ctx, const std::string& blob_id, json::object& error) {
  const auto limit = ctx.j.cfg.sieve.max_script_bytes;
  const std::string too_large = "the script is larger than maxSizeScript (" + std::to_string(limit) + " bytes)";
  if (blob_id.starts_with("Z")) {
    if (auto c = resolve_sieve_blob(ctx, blob_id)) {
      if (c->size() <= limit) return c;
      error = set_error("tooLarge", too_large);
      return std::nullopt;
    }
  } else if (valid_jmap_id(blob_id) && blob_id.size() <= 64) {
    auto g = ctx.j.store.grant_count(ctx.account, blob_id);
    if (g && *g > 0) {
      auto info = ctx.j.store.blob_info(blob_id);
      if (info) {
        if (info->size_bytes > limit) {
          error = set_error("tooLarge", too_large);
          return std::nullopt;
        }
        std::string bytes(static_cast<std::size_t>(info->size_bytes), '\0');
        std::size_t at = 0;
        while (at < bytes.size()) {
          auto n = ctx.j.store.read_blob(blob_id, at, std::span<char>(bytes.data() + at, bytes.size() - at));
          if (!n || *n == 0) break;
          at += *n;
        }
        if (at == bytes.size()) return bytes;
        error = set_error("serverFail", "cannot read the blob");
        return std::nullopt;
      }
    }
  }
  error = set_error("blobNotFound", "blob " + blob_id.substr(0, 80) + " not found");
  error["notFound"] = json::array{json::value(blob_id)};
  return std::nullopt;
}

json::object script_object(const ScriptView& s, const std::optional<std::set<std::string>>& props) {
  json::object o;
  auto want = [&](const char* p) { return !props || props->count(p); };
  o["id"] = s.id;  // RFC 8620 5.1: always returned
  if (want("name")) o["name"] = s.name;
  if (want("isActive")) o["isActive"] = s.active;
  if (want("blobId")) o["blobId"] = s.blob_id;
  return o;
}

// A name for a script created with "name": null (RFC 9661 2: the server picks one).
std::string free_name(const std::vector<ScriptView>& scripts) {
  for (unsigned i = 1;; ++i) {
    std::string n = "script-" + std::to_string(i);
    if (!by_name(scripts, n)) return n;
  }
}

// The JMAP answer to a failed store write of a script.
json::object store_set_error(const boost::system::error_code& ec, std::string_view what) {
  using storage::errc;
  if (ec == errc::too_large) return set_error("tooLarge", "the script is larger than maxSizeScript");
  if (ec == errc::quota_exceeded) return set_error("overQuota", "the account holds maxNumberScripts scripts");
  if (ec == errc::exists) return set_error("alreadyExists", "a script of that name exists");
  if (ec == errc::in_use) return set_error("sieveIsActive", "the script is active");
  if (ec == errc::not_found) return set_error("notFound", "no such script");
  if (ec == errc::invalid_argument) return set_error("invalidProperties", "invalid script name");
  return set_error("serverFail", std::string(what));
}

void sieve_get(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  std::optional<std::vector<std::string>> ids;
  if (!read_ids(args, ids)) return out.push_back(method_error("invalidArguments", call_id, "ids"));
  if (ids && ids->size() > ctx.j.limits.max_objects_in_get) {
    return out.push_back(method_error("requestTooLarge", call_id));
  }
  std::optional<std::set<std::string>> props;
  if (const auto* p = args.if_contains("properties"); p && !p->is_null()) {
    if (!p->is_array()) return out.push_back(method_error("invalidArguments", call_id, "properties"));
    props.emplace();
    for (const auto& x : p->as_array()) {
      if (!x.is_string()) return out.push_back(method_error("invalidArguments", call_id, "properties"));
      std::string_view n = x.as_string();
      if (n != "id" && n != "name" && n != "isActive" && n != "blobId") {
        return out.push_back(method_error("invalidArguments", call_id, "unknown property " + std::string(n.substr(0, 50))));
      }
      props->emplace(n);
    }
  }
  auto scripts = load_scripts(ctx);
  if (!scripts) return out.push_back(method_error("serverFail", call_id, "cannot read the scripts"));
  json::array list, not_found;
  if (!ids) {
    for (const auto& s : *scripts) list.push_back(script_object(s, props));
  } else {
    for (const auto& raw : *ids) {
      std::string id = raw;
      if (id.starts_with("#")) {
        auto it = ctx.created_ids.find(id.substr(1));
        if (it != ctx.created_ids.end()) id = it->second;
      }
      if (const auto* s = by_id(*scripts, id)) list.push_back(script_object(*s, props));
      else not_found.push_back(json::value(raw));
    }
  }
  out.push_back(method_response("SieveScript/get",
                                json::object{{"accountId", ctx.account_id},
                                             {"state", state_of(*scripts)},
                                             {"list", std::move(list)},
                                             {"notFound", std::move(not_found)}},
                                call_id));
}

// A create's or an update's "name" and "blobId"; false with a SetError when malformed.
// Server-set properties (id, isActive) are refused unless they hold the current value.
bool read_script_props(const json::object& o, bool create, const ScriptView* current, std::optional<std::string>& name,
                       bool& name_null, std::optional<std::string>& blob_id, json::object& error) {
  json::array bad;
  for (const auto& kv : o) {
    std::string_view k = kv.key();
    const auto& v = kv.value();
    if (k == "name") {
      if (v.is_null()) {
        if (!create) bad.push_back("name");  // a stored script always has a name
        name_null = true;
      } else if (!v.is_string() || !storage::valid_sieve_name(v.as_string())) {
        bad.push_back("name");
      } else {
        name = std::string(v.as_string());
      }
    } else if (k == "blobId") {
      if (!v.is_string()) bad.push_back("blobId");
      else blob_id = std::string(v.as_string());
    } else if (k == "isActive") {
      // RFC 9661 2: server-set; changed through onSuccessActivateScript only.
      const bool now = current && current->active;
      if (!v.is_bool() || v.as_bool() != now) bad.push_back("isActive");
    } else if (k == "id") {
      if (create || !v.is_string() || !current || v.as_string() != current->id) bad.push_back("id");
    } else {
      bad.push_back(json::value(k));
    }
  }
  if (create && !blob_id && bad.empty()) bad.push_back("blobId");  // the content is required
  if (!bad.empty()) {
    error = set_error("invalidProperties", "invalid or server-set properties");
    error["properties"] = std::move(bad);
    return false;
  }
  return true;
}

void sieve_set(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  auto& store = ctx.j.store;
  const storage::SieveLimits limits{ctx.j.cfg.sieve.max_script_bytes, ctx.j.cfg.sieve.max_scripts};
  auto scripts = load_scripts(ctx);
  if (!scripts) return out.push_back(method_error("serverFail", call_id, "cannot read the scripts"));
  const std::string old_state = state_of(*scripts);
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
  const auto* activate_v = args.if_contains("onSuccessActivateScript");
  const auto* deactivate_v = args.if_contains("onSuccessDeactivateScript");
  if ((activate_v && !activate_v->is_null() && !activate_v->is_string()) ||
      (deactivate_v && !deactivate_v->is_null() && !deactivate_v->is_bool())) {
    return out.push_back(method_error("invalidArguments", call_id, "onSuccessActivateScript, onSuccessDeactivateScript"));
  }
  std::size_t count = 0;
  if (create_v && create_v->is_object()) count += create_v->as_object().size();
  if (update_v && update_v->is_object()) count += update_v->as_object().size();
  if (destroy_v && destroy_v->is_array()) count += destroy_v->as_array().size();
  if (count > ctx.j.limits.max_objects_in_set) return out.push_back(method_error("requestTooLarge", call_id));

  json::object created, updated, not_created, not_updated, not_destroyed;
  json::array destroyed;
  auto reload = [&] {
    auto s = load_scripts(ctx);
    if (s) scripts = std::move(s);
    return s.has_value();
  };
  auto resolve = [&](std::string id) {
    if (id.starts_with("#")) {
      auto it = ctx.created_ids.find(id.substr(1));
      if (it != ctx.created_ids.end()) return it->second;
    }
    return id;
  };

  // RFC 8620 5.3: creations, then updates, then destructions.
  if (create_v && create_v->is_object()) {
    for (const auto& kv : create_v->as_object()) {
      const std::string cid(kv.key());
      json::object error;
      const auto* o = kv.value().if_object();
      std::optional<std::string> name, blob_id;
      bool name_null = false;
      if (!o) {
        not_created[cid] = set_error("invalidProperties", "not an object");
        continue;
      }
      if (!read_script_props(*o, true, nullptr, name, name_null, blob_id, error)) {
        not_created[cid] = std::move(error);
        continue;
      }
      if (!name) name = free_name(*scripts);
      if (const auto* taken = by_name(*scripts, *name)) {
        error = set_error("alreadyExists", "a script of that name exists");
        error["existingId"] = taken->id;
        not_created[cid] = std::move(error);
        continue;
      }
      auto content = read_script_blob(ctx, resolve(*blob_id), error);
      if (!content) {
        not_created[cid] = std::move(error);
        continue;
      }
      if (auto why = check_script(ctx.j.cfg, *content); !why.empty()) {
        not_created[cid] = set_error("invalidSieve", why);
        continue;
      }
      if (auto r = store.sieve_put(ctx.account, *name, *content, limits); !r) {
        not_created[cid] = store_set_error(r.error(), "cannot store the script");
        continue;
      }
      if (!reload()) return out.push_back(method_error("serverFail", call_id, "cannot read the scripts"));
      const auto* s = by_name(*scripts, *name);
      if (!s) {
        not_created[cid] = set_error("serverFail", "the script went away");
        continue;
      }
      ctx.created_ids[cid] = s->id;
      created[cid] = json::object{{"id", s->id}, {"name", s->name}, {"isActive", s->active}, {"blobId", s->blob_id}};
    }
  }

  if (update_v && update_v->is_object()) {
    for (const auto& kv : update_v->as_object()) {
      const std::string key(kv.key());
      const std::string id = resolve(key);
      json::object error;
      const auto* s = by_id(*scripts, id);
      if (!s) {
        not_updated[key] = set_error("notFound", "no such script");
        continue;
      }
      const auto* o = kv.value().if_object();
      std::optional<std::string> name, blob_id;
      bool name_null = false;
      if (!o) {
        not_updated[key] = set_error("invalidPatch", "not a PatchObject");
        continue;
      }
      if (!read_script_props(*o, false, s, name, name_null, blob_id, error)) {
        not_updated[key] = std::move(error);
        continue;
      }
      if (name && *name != s->name) {
        if (const auto* taken = by_name(*scripts, *name)) {
          error = set_error("alreadyExists", "a script of that name exists");
          error["existingId"] = taken->id;
          not_updated[key] = std::move(error);
          continue;
        }
      }
      std::optional<std::string> content;
      if (blob_id) {
        content = read_script_blob(ctx, resolve(*blob_id), error);
        if (!content) {
          not_updated[key] = std::move(error);
          continue;
        }
        if (auto why = check_script(ctx.j.cfg, *content); !why.empty()) {
          not_updated[key] = set_error("invalidSieve", why);
          continue;
        }
      }
      const std::string old_name = s->name;
      // The content under the old name first, then the rename (which keeps the id and the
      // active flag): a failed rename leaves the new content, never a lost script.
      if (content) {
        if (auto r = store.sieve_put(ctx.account, old_name, *content, limits); !r) {
          not_updated[key] = store_set_error(r.error(), "cannot store the script");
          continue;
        }
      }
      if (name && *name != old_name) {
        if (auto r = store.sieve_rename(ctx.account, old_name, *name); !r) {
          not_updated[key] = store_set_error(r.error(), "cannot rename the script");
          if (content) reload();
          continue;
        }
      }
      if (!reload()) return out.push_back(method_error("serverFail", call_id, "cannot read the scripts"));
      const auto* now = by_id(*scripts, id);
      json::object changed;
      if (now && content) changed["blobId"] = now->blob_id;  // RFC 8620 5.3: server-changed values
      updated[id] = changed.empty() ? json::value(nullptr) : json::value(std::move(changed));
    }
  }

  if (destroy_v && destroy_v->is_array()) {
    for (const auto& v : destroy_v->as_array()) {
      if (!v.is_string()) continue;
      const std::string key(v.as_string());
      const std::string id = resolve(key);
      const auto* s = by_id(*scripts, id);
      if (!s) {
        not_destroyed[key] = set_error("notFound", "no such script");
        continue;
      }
      // RFC 9661 2.3: the active script is not destroyed (deactivate it first, in an
      // earlier call: onSuccessDeactivateScript runs after the destructions).
      if (auto r = store.sieve_delete(ctx.account, s->name); !r) {
        not_destroyed[key] = store_set_error(r.error(), "cannot destroy the script");
        continue;
      }
      destroyed.push_back(json::value(id));
      if (!reload()) return out.push_back(method_error("serverFail", call_id, "cannot read the scripts"));
    }
  }

  // RFC 9661 2.3: activation changes happen only when every change above succeeded;
  // deactivation first, then activation; both reported in created/updated.
  const bool all_ok = not_created.empty() && not_updated.empty() && not_destroyed.empty();
  auto report_active = [&](const std::string& id, bool active) {
    for (auto& kv : created) {
      auto& c = kv.value().as_object();
      if (c.at("id").as_string() == std::string_view(id)) {
        c["isActive"] = active;
        return;
      }
    }
    auto it = updated.find(id);
    if (it == updated.end() || it->value().is_null()) {
      updated[id] = json::object{{"isActive", active}};
    } else {
      it->value().as_object()["isActive"] = active;
    }
  };
  if (all_ok) {
    const ScriptView* was = nullptr;
    for (const auto& s : *scripts)
      if (s.active) was = &s;
    std::string was_id = was ? was->id : "";
    const bool deactivate = deactivate_v && deactivate_v->is_bool() && deactivate_v->as_bool();
    if (deactivate && was) {
      if (auto r = store.sieve_activate(ctx.account, ""); !r) {
        return out.push_back(method_error("serverFail", call_id, "cannot deactivate the script"));
      }
      report_active(was_id, false);
      was_id.clear();
    }
    if (activate_v && activate_v->is_string()) {
      const std::string id = resolve(std::string(activate_v->as_string()));
      // An invalid or unknown id is ignored (RFC 9661 2.3).
      if (const auto* target = by_id(*scripts, id); target && id != was_id) {
        if (auto r = store.sieve_activate(ctx.account, target->name); !r) {
          return out.push_back(method_error("serverFail", call_id, "cannot activate the script"));
        }
        if (!was_id.empty()) report_active(was_id, false);
        report_active(id, true);
      }
    }
    if (!reload()) return out.push_back(method_error("serverFail", call_id, "cannot read the scripts"));
  }

  json::object res{{"accountId", ctx.account_id}, {"oldState", old_state}, {"newState", state_of(*scripts)}};
  res["created"] = created.empty() ? json::value(nullptr) : json::value(std::move(created));
  res["updated"] = updated.empty() ? json::value(nullptr) : json::value(std::move(updated));
  res["destroyed"] = destroyed.empty() ? json::value(nullptr) : json::value(std::move(destroyed));
  res["notCreated"] = not_created.empty() ? json::value(nullptr) : json::value(std::move(not_created));
  res["notUpdated"] = not_updated.empty() ? json::value(nullptr) : json::value(std::move(not_updated));
  res["notDestroyed"] = not_destroyed.empty() ? json::value(nullptr) : json::value(std::move(not_destroyed));
  out.push_back(method_response("SieveScript/set", std::move(res), call_id));
}

// RFC 9661 2.5 FilterCondition {name: contained, ascii-casemap; isActive} and the RFC
// 8620 5.5 FilterOperator (AND/OR/NOT). "" or the method error.
std::string_view check_filter(const json::value& f, int depth) {
  if (depth > 8) return "unsupportedFilter";
  const auto* o = f.if_object();
  if (!o) return "invalidArguments";
  if (const auto* op = o->if_contains("operator")) {
    const auto* conds = o->if_contains("conditions");
    if (!op->is_string() || !conds || !conds->is_array()) return "invalidArguments";
    std::string_view s = op->as_string();
    if (s != "AND" && s != "OR" && s != "NOT") return "unsupportedFilter";
    for (const auto& c : conds->as_array()) {
      if (auto e = check_filter(c, depth + 1); !e.empty()) return e;
    }
    return {};
  }
  for (const auto& kv : *o) {
    if (kv.key() == "name") {
      if (!kv.value().is_string()) return "invalidArguments";
    } else if (kv.key() == "isActive") {
      if (!kv.value().is_bool()) return "invalidArguments";
    } else {
      return "unsupportedFilter";
    }
  }
  return {};
}

bool matches(const json::value& f, const ScriptView& s) {
  const auto& o = f.as_object();
  if (const auto* op = o.if_contains("operator")) {
    const auto& conds = o.at("conditions").as_array();
    std::string_view kind = op->as_string();
    if (kind == "AND") return std::all_of(conds.begin(), conds.end(), [&](const auto& c) { return matches(c, s); });
    const bool any = std::any_of(conds.begin(), conds.end(), [&](const auto& c) { return matches(c, s); });
    return kind == "OR" ? any : !any;
  }
  if (const auto* n = o.if_contains("name"); n && !contains_ci(s.name, n->as_string())) return false;
  if (const auto* a = o.if_contains("isActive"); a && a->as_bool() != s.active) return false;
  return true;
}

void sieve_query(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  const json::value* filter = args.if_contains("filter");
  if (filter && filter->is_null()) filter = nullptr;
  if (filter) {
    if (auto e = check_filter(*filter, 0); !e.empty()) return out.push_back(method_error(e, call_id, "filter"));
  }
  struct Key {
    bool by_name;
    bool ascending;
  };
  std::vector<Key> keys;
  if (const auto* sort = args.if_contains("sort"); sort && !sort->is_null()) {
    if (!sort->is_array()) return out.push_back(method_error("invalidArguments", call_id, "sort"));
    for (const auto& c : sort->as_array()) {
      const auto* o = c.if_object();
      const auto* p = o ? o->if_contains("property") : nullptr;
      if (!p || !p->is_string()) return out.push_back(method_error("invalidArguments", call_id, "sort"));
      if (p->as_string() != "name" && p->as_string() != "isActive") {
        return out.push_back(method_error("unsupportedSort", call_id, "sort by name or isActive"));
      }
      bool asc = true;
      if (const auto* a = o->if_contains("isAscending"); a && a->is_bool()) asc = a->as_bool();
      keys.push_back({p->as_string() == "name", asc});
    }
  }
  std::int64_t position = 0;
  std::optional<std::uint64_t> limit;
  if (const auto* p = args.if_contains("position"); p && !p->is_null()) {
    if (!p->is_int64()) return out.push_back(method_error("invalidArguments", call_id, "position"));
    position = p->as_int64();
  }
  if (const auto* l = args.if_contains("limit"); l && !l->is_null()) {
    if (!l->is_int64() || l->as_int64() < 0) return out.push_back(method_error("invalidArguments", call_id, "limit"));
    limit = static_cast<std::uint64_t>(l->as_int64());
  }
  auto scripts = load_scripts(ctx);
  if (!scripts) return out.push_back(method_error("serverFail", call_id, "cannot read the scripts"));
  std::vector<const ScriptView*> hits;
  for (const auto& s : *scripts)
    if (!filter || matches(*filter, s)) hits.push_back(&s);
  // The store lists by name (byte order); the id breaks ties for isActive.
  std::stable_sort(hits.begin(), hits.end(), [&](const ScriptView* a, const ScriptView* b) {
    for (const auto& k : keys) {
      int c = k.by_name ? a->name.compare(b->name) : int(a->active) - int(b->active);
      if (c != 0) return k.ascending ? c < 0 : c > 0;
    }
    return false;
  });
  const auto total = static_cast<std::int64_t>(hits.size());
  std::int64_t start = position < 0 ? std::max<std::int64_t>(0, total + position) : std::min(position, total);
  if (const auto* anchor = args.if_contains("anchor"); anchor && !anchor->is_null()) {
    if (!anchor->is_string()) return out.push_back(method_error("invalidArguments", call_id, "anchor"));
    auto it = std::find_if(hits.begin(), hits.end(), [&](const ScriptView* s) { return s->id == anchor->as_string(); });
    if (it == hits.end()) return out.push_back(method_error("anchorNotFound", call_id));
    std::int64_t offset = 0;
    if (const auto* o = args.if_contains("anchorOffset"); o && o->is_int64()) offset = o->as_int64();
    start = std::clamp<std::int64_t>((it - hits.begin()) + offset, 0, total);
  }
  json::array ids;
  for (std::int64_t i = start; i < total && (!limit || ids.size() < *limit); ++i) ids.push_back(json::value(hits[i]->id));
  json::object res{{"accountId", ctx.account_id},
                   {"queryState", state_of(*scripts)},
                   {"canCalculateChanges", false},
                   {"position", start},
                   {"ids", std::move(ids)}};
  if (bool_arg(args, "calculateTotal")) res["total"] = total;
  if (limit) res["limit"] = *limit;
  out.push_back(method_response("SieveScript/query", std::move(res), call_id));
}

// No change log for scripts: the same state answers "no changes", any other
// cannotCalculateChanges (RFC 8620 5.2), and the client refetches (a few dozen objects).
void sieve_changes(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  const auto* since = args.if_contains("sinceState");
  if (!since || !since->is_string()) return out.push_back(method_error("invalidArguments", call_id, "sinceState"));
  auto scripts = load_scripts(ctx);
  if (!scripts) return out.push_back(method_error("serverFail", call_id, "cannot read the scripts"));
  const std::string state = state_of(*scripts);
  if (since->as_string() != state) return out.push_back(method_error("cannotCalculateChanges", call_id));
  out.push_back(method_response("SieveScript/changes",
                                json::object{{"accountId", ctx.account_id},
                                             {"oldState", state},
                                             {"newState", state},
                                             {"hasMoreChanges", false},
                                             {"created", json::array{}},
                                             {"updated", json::array{}},
                                             {"destroyed", json::array{}}},
                                call_id));
}

// RFC 9661 2.6: would this blob be accepted as a script? error null, or the SetError.
void sieve_validate(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  const auto* b = args.if_contains("blobId");
  if (!b || !b->is_string()) return out.push_back(method_error("invalidArguments", call_id, "blobId"));
  std::string blob_id(b->as_string());
  if (blob_id.starts_with("#")) {
    auto it = ctx.created_ids.find(blob_id.substr(1));
    if (it != ctx.created_ids.end()) blob_id = it->second;
  }
  json::object error;
  json::value result = nullptr;
  if (auto content = read_script_blob(ctx, blob_id, error); !content) {
    result = std::move(error);
  } else if (auto why = check_script(ctx.j.cfg, *content); !why.empty()) {
    result = set_error("invalidSieve", why);
  }
  out.push_back(method_response("SieveScript/validate",
                                json::object{{"accountId", ctx.account_id}, {"error", std::move(result)}}, call_id));
}

}  // namespace

std::string_view sieve_capability_name() { return kSieveCapability; }

json::object sieve_account_capability(const config::Config& cfg) {
  json::array extensions;
  std::string_view all = "";
  const std::string caps = delivery::sieve_capabilities();
  all = caps;
  while (!all.empty()) {
    const auto sp = all.find(' ');
    if (sp != 0) extensions.push_back(json::value(all.substr(0, sp)));
    all = sp == std::string_view::npos ? std::string_view() : all.substr(sp + 1);
  }
  return json::object{{"maxSizeScriptName", kMaxNameChars},
                      {"maxSizeScript", cfg.sieve.max_script_bytes},
                      {"maxNumberScripts", cfg.sieve.max_scripts},
                      {"maxNumberRedirects", cfg.sieve.max_redirects},
                      {"sieveExtensions", std::move(extensions)},
                      {"notificationMethods", nullptr},
                      {"externalLists", nullptr},
                      {"implementation", "refmail"}};
}

std::optional<std::string> resolve_sieve_blob(Ctx& ctx, std::string_view blob_id) {
  // "Z" + script id + "-" + 32 hex: the script must be the account's and unchanged.
  if (blob_id.size() < 35 || blob_id.front() != 'Z') return std::nullopt;
  const auto dash = blob_id.rfind('-');
  if (dash == std::string_view::npos || dash < 2) return std::nullopt;
  const std::string_view script_id = blob_id.substr(1, dash - 1);
  auto list = ctx.j.store.sieve_list(ctx.account);
  if (!list) return std::nullopt;
  for (const auto& info : *list) {
    if (info.id != script_id) continue;
    auto content = ctx.j.store.sieve_get(ctx.account, info.name);
    if (!content || !*content || script_blob_id(info.id, **content) != blob_id) return std::nullopt;
    return std::move(**content);
  }
  return std::nullopt;
}

MethodFn find_sieve_method(std::string_view name) {
  static const std::map<std::string_view, MethodFn> kMethods = {
      {"SieveScript/get", sieve_get},         {"SieveScript/set", sieve_set},
      {"SieveScript/query", sieve_query},     {"SieveScript/changes", sieve_changes},
      {"SieveScript/validate", sieve_validate},
  };
  auto it = kMethods.find(name);
  return it == kMethods.end() ? nullptr : it->second;
}

}  // namespace refmail::web
