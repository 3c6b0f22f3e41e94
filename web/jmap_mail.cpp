// web/jmap_mail.cpp — RFC 8621 methods: Mailbox/get|set|changes (2), Thread/get (3),
// Email/get|changes (4), Identity/get (6), and the method table. Email/query and
// Email/queryChanges are in jmap_query.cpp. Email/set and
// EmailSubmission/set|get (the writing half) are in jmap_mail_set.cpp.
// Email/get answers from the stored summary (never attachment bytes); bodyStructure,
// when asked, from the skeleton's own bytes (jmap_body_structure.cpp).
// Changes: one state per account (the store's change-log modseq) shared by every
// type; */changes reads the store's log (Store::changes_since) and tells created,
// updated and destroyed apart by what exists now (an id created and destroyed since
// sinceState is reported destroyed only).
// Threads: the store assigns them at delivery (storage/threads.cpp); threadId is
// "T" + the thread's first message id.
// SECURITY: every email, mailbox and blob id is looked up among the caller's rows
// and grants.
#include <algorithm>
#include <charconv>
#include <ctime>
#include <set>
#include <functional>

#include "mime/skeleton.hpp"
#include "web/jmap_internal.hpp"

namespace refmail::web {

// ---- shared with jmap_mail_set.cpp (declared in jmap_internal.hpp)

std::string ascii_lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

bool read_ids(const json::object& args, std::optional<std::vector<std::string>>& out) {
  const auto* v = args.if_contains("ids");
  if (!v || v->is_null()) {
    out.reset();
    return true;
  }
  if (!v->is_array()) return false;
  std::vector<std::string> ids;
  for (const auto& x : v->as_array()) {
    if (!x.is_string()) return false;
    ids.emplace_back(x.as_string());
  }
  out = std::move(ids);
  return true;
}

json::object set_error(std::string_view type, std::string_view desc) {
  return json::object{{"type", type}, {"description", desc}};
}

bool contains_ci(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  return ascii_lower(hay).find(ascii_lower(needle)) != std::string::npos;
}

bool bool_arg(const json::object& args, std::string_view key) {
  const auto* v = args.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

std::optional<std::uint64_t> parse_state(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty() || s.size() > 19 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  if (std::from_chars(s.data(), s.data() + s.size(), v).ec != std::errc{}) return std::nullopt;
  return v;
}

EmailView view_of(const std::vector<storage::MailboxRow>& rows) {
  EmailView v;
  v.rows = &rows;
  v.received = rows.front().internal_date.time_since_epoch().count();
  for (const auto& r : rows) v.received = std::min<std::int64_t>(v.received, r.internal_date.time_since_epoch().count());
  v.size = rows.front().logical_size;
  return v;
}

// The stored summary; with `structure`, also the MIME tree read from the skeleton's own
// bytes (the same record, no blob read).
std::optional<mime::Summary> load_summary(Ctx& ctx, const std::string& message_id,
                                          std::optional<mime::StructurePart>* structure,
                                          bool with_headers) {
  auto m = ctx.j.store.get_message(message_id);
  if (!m) return std::nullopt;
  if (structure) {
    if (auto sk = mime::Skeleton::parse(m->record.skeleton)) {
      *structure = mime::body_structure(sk->bytes, *sk, with_headers);
    }
  }
  auto s = mime::Summary::parse(m->record.summary);
  if (!s) return mime::Summary{};
  return std::move(*s);
}


namespace {

using storage::MailboxRow;



std::string role_of(std::string_view name) {
  if (name == "INBOX") return "inbox";
  if (name == "Sent") return "sent";
  if (name == "Drafts") return "drafts";
  if (name == "Trash") return "trash";
  if (name == "Archive") return "archive";
  if (name == "Junk") return "junk";  // made by the first spam verdict (delivery/service.cpp)
  return {};
}


// "properties": null (defaults) or array of strings.
std::optional<std::set<std::string>> read_properties(const json::object& args, const char* key = "properties") {
  const auto* v = args.if_contains(key);
  if (!v || !v->is_array()) return std::nullopt;
  std::set<std::string> s;
  for (const auto& x : v->as_array()) {
    if (x.is_string()) s.emplace(x.as_string());
  }
  return s;
}


json::value addresses(const std::vector<mime::Address>& list) {
  if (list.empty()) return nullptr;
  json::array a;
  for (const auto& x : list) {
    a.push_back(json::object{{"name", x.name.empty() ? json::value(nullptr) : json::value(x.name)},
                             {"email", x.email}});
  }
  return a;
}

json::value string_list(const std::vector<std::string>& v) {
  if (v.empty()) return nullptr;
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

// Cuts UTF-8 text to at most `max` bytes on a code point boundary.
std::string truncate_utf8(const std::string& s, std::size_t max, bool& truncated) {
  truncated = false;
  if (max == 0 || s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  truncated = true;
  return s.substr(0, n);
}





// ---------------------------------------------------------------- Mailbox

void mailbox_get(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  std::optional<std::vector<std::string>> ids;
  if (!read_ids(args, ids)) return out.push_back(method_error("invalidArguments", call_id, "ids"));
  const auto* boxes = ctx.mailbox_list();
  if (!boxes) return out.push_back(method_error("serverFail", call_id));
  // Kept by the store with each change (storage::MailboxCounts): no row is read. A
  // thread counts as unread here when one of its emails in this mailbox is (RFC 8621 2
  // counts an unread email anywhere in the thread).
  auto counts = ctx.j.store.mailbox_counts(ctx.account);
  if (!counts) return out.push_back(method_error("serverFail", call_id));
  auto props = read_properties(args);
  json::array list;
  std::set<std::string> found;
  for (std::size_t i = 0; i < boxes->size(); ++i) {
    const auto& b = (*boxes)[i];
    std::string id = "m" + std::to_string(b.mailbox_id);
    if (ids && std::find(ids->begin(), ids->end(), id) == ids->end()) continue;
    found.insert(id);
    const auto c = (*counts)[b.mailbox_id];
    std::string role = role_of(b.name);
    json::object o{{"id", id},
                   {"name", b.name == "INBOX" ? "Inbox" : b.name},
                   {"parentId", nullptr},
                   {"role", role.empty() ? json::value(nullptr) : json::value(role)},
                   {"sortOrder", b.is_system ? i : 100 + i},
                   {"totalEmails", c.total},
                   {"unreadEmails", c.unread},
                   {"totalThreads", c.threads},
                   {"unreadThreads", c.unread_threads},
                   {"myRights", json::object{{"mayReadItems", true}, {"mayAddItems", true}, {"mayRemoveItems", true},
                                             {"maySetSeen", true}, {"maySetKeywords", true},
                                             {"mayCreateChild", false}, {"mayRename", !b.is_system},
                                             {"mayDelete", !b.is_system}, {"maySubmit", true}}},
                   {"isSubscribed", b.subscribed}};
    if (props) {
      json::object p{{"id", id}};
      for (const auto& k : *props) {
        if (auto* v = o.if_contains(k)) p[k] = *v;
      }
      o = std::move(p);
    }
    list.push_back(std::move(o));
  }
  json::array not_found;
  if (ids) {
    for (const auto& id : *ids) {
      if (!found.count(id)) not_found.emplace_back(id);
    }
  }
  out.push_back(method_response(
      "Mailbox/get", json::object{{"accountId", ctx.account_id}, {"state", ctx.state()}, {"list", list}, {"notFound", not_found}},
      call_id));
}

void mailbox_set(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  std::string old_state = ctx.state();
  if (const auto* is = args.if_contains("ifInState"); is && is->is_string() && is->as_string() != old_state) {
    return out.push_back(method_error("stateMismatch", call_id));
  }
  json::object created, updated, not_created, not_updated, not_destroyed;
  json::array destroyed;
  auto set_error = [](std::string_view type, std::string_view desc) {
    return json::object{{"type", type}, {"description", desc}};
  };
  if (const auto* c = args.if_contains("create"); c && c->is_object()) {
    for (const auto& kv : c->as_object()) {
      const auto* o = kv.value().if_object();
      const json::value* name = o ? o->if_contains("name") : nullptr;
      const json::value* parent = o ? o->if_contains("parentId") : nullptr;
      if (!name || !name->is_string() || name->as_string().empty()) {
        not_created[kv.key()] = set_error("invalidProperties", "name is required");
        continue;
      }
      if (parent && !parent->is_null()) {
        not_created[kv.key()] = set_error("invalidProperties", "nested mailboxes are not supported");
        continue;
      }
      auto r = ctx.j.store.create_mailbox(ctx.account, std::string(name->as_string()));
      if (!r) {
        not_created[kv.key()] = set_error(r.error() == storage::errc::exists ? "invalidProperties" : "serverFail",
                                          r.error() == storage::errc::exists ? "a mailbox with this name exists"
                                                                              : "cannot create the mailbox");
        continue;
      }
      std::string id = "m" + std::to_string(r->mailbox_id);
      // A new mailbox is subscribed unless the client says otherwise (RFC 8621 2.1).
      if (const auto* s = o->if_contains("isSubscribed"); s && s->is_bool() && !s->as_bool()) {
        if (!ctx.j.store.set_subscribed(ctx.account, r->name, false)) {
          (void)ctx.j.store.delete_mailbox(ctx.account, r->name);  // not half made
          not_created[kv.key()] = set_error("serverFail", "cannot store isSubscribed");
          ctx.invalidate();
          continue;
        }
      }
      ctx.created_ids[std::string(kv.key())] = id;
      created[kv.key()] = json::object{{"id", id}};
      ctx.invalidate();
    }
  }
  if (const auto* u = args.if_contains("update"); u && u->is_object()) {
    for (const auto& kv : u->as_object()) {
      auto name = ctx.mailbox_name(kv.key());
      if (!name) {
        not_updated[kv.key()] = set_error("notFound", "no such mailbox");
        continue;
      }
      const auto* o = kv.value().if_object();
      bool ok = o != nullptr;
      for (const auto& p : o ? *o : json::object{}) {
        if (p.key() == "name" && p.value().is_string()) {
          std::string to(p.value().as_string());
          if (to == *name || (*name == "INBOX" && to == "Inbox")) continue;
          auto r = ctx.j.store.rename_mailbox(ctx.account, *name, to);
          if (!r) {
            not_updated[kv.key()] = set_error("forbidden", "cannot rename this mailbox");
            ok = false;
            break;
          }
          ctx.invalidate();
          name = to;  // a later property of this update names the renamed mailbox
        } else if (p.key() == "isSubscribed" && p.value().is_bool()) {
          // The same flag as IMAP SUBSCRIBE (storage's MailboxInfo::subscribed).
          if (!ctx.j.store.set_subscribed(ctx.account, *name, p.value().as_bool())) {
            not_updated[kv.key()] = set_error("serverFail", "cannot store isSubscribed");
            ok = false;
            break;
          }
          ctx.invalidate();
        } else if (p.key() == "sortOrder" || (p.key() == "parentId" && p.value().is_null())) {
          // accepted, not stored
        } else {
          not_updated[kv.key()] = set_error("invalidProperties", "cannot change " + std::string(p.key()));
          ok = false;
          break;
        }
      }
      if (ok) updated[kv.key()] = nullptr;
    }
  }
  if (const auto* d = args.if_contains("destroy"); d && d->is_array()) {
    bool remove_emails = bool_arg(args, "onDestroyRemoveEmails");
    for (const auto& idv : d->as_array()) {
      if (!idv.is_string()) continue;
      std::string id(idv.as_string());
      auto name = ctx.mailbox_name(id);
      if (!name) {
        not_destroyed[id] = set_error("notFound", "no such mailbox");
        continue;
      }
      if (!remove_emails) {
        auto rows = ctx.j.store.list_rows(ctx.account, *name);
        if (rows && !rows->empty()) {
          not_destroyed[id] = set_error("mailboxHasEmail", "the mailbox is not empty");
          continue;
        }
      }
      auto r = ctx.j.store.delete_mailbox(ctx.account, *name);
      if (!r) {
        not_destroyed[id] = set_error("forbidden", "cannot delete this mailbox");
        continue;
      }
      destroyed.emplace_back(id);
      ctx.invalidate();
    }
  }
  json::object res{{"accountId", ctx.account_id}, {"oldState", old_state}, {"newState", ctx.state()}};
  res["created"] = created.empty() ? json::value(nullptr) : json::value(created);
  res["updated"] = updated.empty() ? json::value(nullptr) : json::value(updated);
  res["destroyed"] = destroyed.empty() ? json::value(nullptr) : json::value(destroyed);
  res["notCreated"] = not_created.empty() ? json::value(nullptr) : json::value(not_created);
  res["notUpdated"] = not_updated.empty() ? json::value(nullptr) : json::value(not_updated);
  res["notDestroyed"] = not_destroyed.empty() ? json::value(nullptr) : json::value(not_destroyed);
  out.push_back(method_response("Mailbox/set", std::move(res), call_id));
}

// RFC 8620 5.2 over the store's change log. `type` selects the log entries; what
// exists now decides between updated and destroyed.
void changes(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out, std::string_view name,
             storage::ChangeType type) {
  const auto* since = args.if_contains("sinceState");
  if (!since || !since->is_string()) return out.push_back(method_error("invalidArguments", call_id, "sinceState"));
  std::size_t max_changes = 0;
  if (const auto* m = args.if_contains("maxChanges"); m && !m->is_null()) {
    if (!m->is_int64() || m->as_int64() <= 0) return out.push_back(method_error("invalidArguments", call_id, "maxChanges"));
    max_changes = static_cast<std::size_t>(m->as_int64());
  }
  std::string_view st = since->as_string();
  const auto since_state = parse_state(st);
  auto log = since_state ? ctx.j.store.changes_since(ctx.account, *since_state, type, max_changes)
                     : storage::result<storage::ChangeLog>(boost::system::in_place_error,
                                                           make_error_code(storage::errc::invalid_argument));
  if (!log) {
    if (log.error() == storage::errc::expired || log.error() == storage::errc::invalid_argument) {
      return out.push_back(method_error("cannotCalculateChanges", call_id,
                                        "the change log does not reach back to this state; fetch the current state"));
    }
    return out.push_back(method_error("serverFail", call_id));
  }
  // What exists now.
  std::set<std::string> exists;
  if (type == storage::ChangeType::mailbox) {
    const auto* boxes = ctx.mailbox_list();
    if (!boxes) return out.push_back(method_error("serverFail", call_id));
    for (const auto& b : *boxes) exists.insert(std::to_string(b.mailbox_id));
  } else if (type == storage::ChangeType::thread) {
    // Only the threads in the log are looked up (thread index).
    for (const auto& set : log->sets) {
      for (const auto& c : set.changes) {
        if (exists.count(c.id)) continue;
        auto members = ctx.j.store.thread_emails(ctx.account, c.id);
        if (!members) return out.push_back(method_error("serverFail", call_id));
        if (!members->empty()) exists.insert(c.id);
      }
    }
  } else {  // emails: only the ones in the log are looked up (message index)
    std::vector<std::string> logged;
    for (const auto& set : log->sets)
      for (const auto& c : set.changes) logged.push_back(c.id);
    if (!ctx.prefetch_rows(logged)) return out.push_back(method_error("serverFail", call_id));
    for (const auto& set : log->sets) {
      for (const auto& c : set.changes) {
        if (exists.count(c.id)) continue;
        const auto* rows = ctx.rows_of(c.id);
        if (!rows) return out.push_back(method_error("serverFail", call_id));
        if (!rows->empty()) exists.insert(c.id);
      }
    }
  }
  struct Seen {
    bool created = false;
    bool only_counts = true;
  };
  std::vector<std::string> order;
  std::map<std::string, Seen> seen;
  for (const auto& set : log->sets) {
    for (const auto& c : set.changes) {
      auto [it, fresh] = seen.try_emplace(c.id);
      if (fresh) order.push_back(c.id);
      if (c.kind == storage::ChangeKind::created) it->second.created = true;
      if (c.kind != storage::ChangeKind::counts) it->second.only_counts = false;
    }
  }
  auto jmap_id = [&](const std::string& id) {
    return type == storage::ChangeType::mailbox ? "m" + id : type == storage::ChangeType::thread ? "T" + id : id;
  };
  json::array created, updated, destroyed;
  bool counts_only = true;
  for (const auto& id : order) {
    const auto& s = seen[id];
    if (!exists.count(id)) {
      destroyed.emplace_back(jmap_id(id));
    } else if (s.created) {
      created.emplace_back(jmap_id(id));
    } else {
      updated.emplace_back(jmap_id(id));
      counts_only = counts_only && s.only_counts;
    }
  }
  const std::uint64_t new_state = log->has_more && !log->sets.empty() ? log->sets.back().modseq : log->state;
  json::object res{{"accountId", ctx.account_id}, {"oldState", std::string(st)}, {"newState", std::to_string(new_state)},
                   {"hasMoreChanges", log->has_more}, {"created", created}, {"updated", updated},
                   {"destroyed", destroyed}};
  if (name == "Mailbox/changes") {
    // RFC 8621 2.2: the count properties when only counts changed, else null.
    res["updatedProperties"] = counts_only && !updated.empty()
                                   ? json::value(json::array{"totalEmails", "unreadEmails", "totalThreads", "unreadThreads"})
                                   : json::value(nullptr);
  }
  out.push_back(method_response(name, std::move(res), call_id));
}

void mailbox_changes(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  changes(ctx, args, call_id, out, "Mailbox/changes", storage::ChangeType::mailbox);
}
void email_changes(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  changes(ctx, args, call_id, out, "Email/changes", storage::ChangeType::email);
}
void thread_changes(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  changes(ctx, args, call_id, out, "Thread/changes", storage::ChangeType::thread);
}

// ---------------------------------------------------------------- Email/get

json::object email_object(Ctx& ctx, const std::string& id, const std::vector<MailboxRow>& rows,
                          const mime::Summary& s, const mime::StructurePart* structure,
                          const std::optional<std::set<std::string>>& props, const json::object& args) {
  auto want = [&](const char* k) { return !props || props->count(k); };
  auto body_props = read_properties(args, "bodyProperties");
  json::object o{{"id", id}};
  EmailView v = view_of(rows);
  if (want("blobId")) o["blobId"] = id;
  if (want("threadId")) o["threadId"] = "T" + rows.front().thread_id;
  if (want("mailboxIds")) {
    json::object m;
    for (const auto& r : rows) m[ctx.mailbox_jmap_id(r.mailbox)] = true;
    o["mailboxIds"] = std::move(m);
  }
  if (want("keywords")) {
    json::object k;
    for (const auto& kw : rows.front().keywords) k[kw] = true;
    o["keywords"] = std::move(k);
  }
  if (want("size")) o["size"] = v.size;
  if (want("receivedAt")) o["receivedAt"] = utc_date(v.received);
  if (want("messageId")) o["messageId"] = string_list(s.message_id);
  if (want("inReplyTo")) o["inReplyTo"] = string_list(s.in_reply_to);
  if (want("references")) o["references"] = string_list(s.references);
  if (want("sender")) o["sender"] = addresses(s.sender);
  if (want("from")) o["from"] = addresses(s.from);
  if (want("to")) o["to"] = addresses(s.to);
  if (want("cc")) o["cc"] = addresses(s.cc);
  if (want("bcc")) o["bcc"] = addresses(s.bcc);
  if (want("replyTo")) o["replyTo"] = addresses(s.reply_to);
  if (want("subject")) o["subject"] = s.subject;
  if (want("sentAt")) o["sentAt"] = s.date ? json::value(utc_date(*s.date)) : json::value(nullptr);
  if (want("hasAttachment")) o["hasAttachment"] = s.has_attachment;
  if (want("preview")) o["preview"] = s.preview;
  auto parts = [&](const std::vector<mime::PartSummary>& ps) {
    json::array a;
    for (const auto& p : ps) a.push_back(body_part(id, p, body_props));
    return a;
  };
  if (want("textBody")) o["textBody"] = parts(s.text_body);
  if (want("htmlBody")) o["htmlBody"] = parts(s.html_body);
  if (want("attachments")) o["attachments"] = parts(s.attachments);
  // Only when asked: not among RFC 8621 4.2's default properties.
  if (props && props->count("bodyStructure")) {
    o["bodyStructure"] = structure ? json::value(structure_part(id, *structure, body_props)) : json::value(nullptr);
  }
  // The Email's own header fields (RFC 8621 4.1.3): the structure root's (the top-level
  // header section), e.g. header:Authentication-Results for the inbound verdicts.
  if (props && structure) add_header_properties(o, structure->headers, *props);
  if (want("bodyValues")) {
    bool all = bool_arg(args, "fetchAllBodyValues");
    bool text = all || bool_arg(args, "fetchTextBodyValues");
    bool html = all || bool_arg(args, "fetchHTMLBodyValues");
    std::size_t max = 0;
    if (const auto* m = args.if_contains("maxBodyValueBytes"); m && m->is_int64() && m->as_int64() > 0) {
      max = static_cast<std::size_t>(m->as_int64());
    } else if (m && m->is_uint64()) {
      max = static_cast<std::size_t>(m->as_uint64());
    }
    json::object values;
    auto add = [&](const std::vector<mime::PartSummary>& ps) {
      for (const auto& p : ps) {
        if (values.contains(p.part_path)) continue;
        bool cut = false;
        std::string val = truncate_utf8(p.content, max, cut);
        values[p.part_path] = json::object{{"value", val}, {"isEncodingProblem", false}, {"isTruncated", cut || p.truncated}};
      }
    };
    if (text) add(s.text_body);
    if (html) add(s.html_body);
    o["bodyValues"] = std::move(values);
  }
  return o;
}

void email_get(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  std::optional<std::vector<std::string>> ids;
  if (!read_ids(args, ids)) return out.push_back(method_error("invalidArguments", call_id, "ids"));
  std::vector<std::string> want;
  if (ids) {
    want = *ids;
  } else {
    // Every email: read from the message index, and no more of it than one over the limit.
    auto all = ctx.j.store.list_message_ids(ctx.account, ctx.j.limits.max_objects_in_get + 1);
    if (!all) return out.push_back(method_error("serverFail", call_id));
    want = std::move(*all);
  }
  if (want.size() > ctx.j.limits.max_objects_in_get) {
    return out.push_back(method_error("requestTooLarge", call_id));
  }
  auto props = read_properties(args);
  // The Email's own headers (headers, header:*) come from the structure root.
  const bool email_headers = props && std::any_of(props->begin(), props->end(), [](const std::string& p) {
    return p == "headers" || p.starts_with("header:");
  });
  const bool want_structure = props && (props->count("bodyStructure") || email_headers);
  bool structure_headers = email_headers;
  if (auto bp = read_properties(args, "bodyProperties")) {
    structure_headers = structure_headers || std::any_of(bp->begin(), bp->end(), [](const std::string& p) {
      return p == "headers" || p.starts_with("header:");
    });
  }
  json::array list, not_found;
  if (!ctx.prefetch_rows(want)) return out.push_back(method_error("serverFail", call_id));
  for (const auto& id : want) {
    const auto* rows = ctx.rows_of(id);
    if (!rows) return out.push_back(method_error("serverFail", call_id));
    if (rows->empty()) {
      not_found.emplace_back(id);
      continue;
    }
    bool need_summary = !props || std::any_of(props->begin(), props->end(), [](const std::string& p) {
      return p != "id" && p != "blobId" && p != "threadId" && p != "mailboxIds" && p != "keywords" &&
             p != "size" && p != "receivedAt";
    });
    mime::Summary s;
    std::optional<mime::StructurePart> structure;
    if (need_summary) {
      auto loaded = load_summary(ctx, id, want_structure ? &structure : nullptr, structure_headers);
      if (!loaded) {
        not_found.emplace_back(id);
        continue;
      }
      s = std::move(*loaded);
    }
    list.push_back(email_object(ctx, id, *rows, s, structure ? &*structure : nullptr, props, args));
  }
  out.push_back(method_response(
      "Email/get", json::object{{"accountId", ctx.account_id}, {"state", ctx.state()}, {"list", list}, {"notFound", not_found}},
      call_id));
}

// ---------------------------------------------------------------- Thread, Identity

void thread_get(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  std::optional<std::vector<std::string>> ids;
  if (!read_ids(args, ids)) return out.push_back(method_error("invalidArguments", call_id, "ids"));
  // RFC 8621 3: emailIds sorted by receivedAt (ties by id).
  std::vector<std::string> want;
  if (ids) {
    want = std::move(*ids);
  } else {
    // Every thread: from the thread index, and no more of it than one over the limit.
    auto all = ctx.j.store.list_thread_ids(ctx.account, ctx.j.limits.max_objects_in_get + 1);
    if (!all) return out.push_back(method_error("serverFail", call_id));
    for (auto& t : *all) want.push_back("T" + t);
  }
  if (want.size() > ctx.j.limits.max_objects_in_get) return out.push_back(method_error("requestTooLarge", call_id));
  // By id from the thread index: costs the threads asked for.
  std::vector<std::pair<std::string, std::vector<std::string>>> found;
  for (const auto& t : want) {
    if (t.size() < 2 || t[0] != 'T') {
      found.emplace_back(t, std::vector<std::string>{});
      continue;
    }
    auto members = ctx.j.store.thread_emails(ctx.account, std::string_view(t).substr(1));
    if (!members) return out.push_back(method_error("serverFail", call_id));
    std::vector<std::string> email_ids;
    for (auto& m : *members) email_ids.push_back(std::move(m.message_id));
    found.emplace_back(t, std::move(email_ids));
  }
  json::array list, not_found;
  for (auto& [t, email_ids] : found) {
    if (email_ids.empty()) {
      not_found.emplace_back(t);
      continue;
    }
    json::array a;
    for (auto& e : email_ids) a.emplace_back(std::move(e));
    list.push_back(json::object{{"id", t}, {"emailIds", std::move(a)}});
  }
  out.push_back(method_response(
      "Thread/get", json::object{{"accountId", ctx.account_id}, {"state", ctx.state()}, {"list", list}, {"notFound", not_found}},
      call_id));
}

void identity_get(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  std::optional<std::vector<std::string>> ids;
  if (!read_ids(args, ids)) return out.push_back(method_error("invalidArguments", call_id, "ids"));
  json::object ident{{"id", "I0"}, {"name", ""}, {"email", ctx.account}, {"replyTo", nullptr},
                     {"bcc", nullptr}, {"textSignature", ""}, {"htmlSignature", ""}, {"mayDelete", false}};
  json::array list, not_found;
  if (!ids || std::find(ids->begin(), ids->end(), "I0") != ids->end()) list.push_back(ident);
  if (ids) {
    for (const auto& i : *ids) {
      if (i != "I0") not_found.emplace_back(i);
    }
  }
  out.push_back(method_response(
      "Identity/get", json::object{{"accountId", ctx.account_id}, {"state", "0"}, {"list", list}, {"notFound", not_found}},
      call_id));
}

}  // namespace

MethodFn find_method(std::string_view name) {
  static const std::map<std::string_view, MethodFn> kMethods = {
      {"Mailbox/get", mailbox_get},       {"Mailbox/set", mailbox_set},
      {"Mailbox/changes", mailbox_changes}, {"Email/get", email_get},
      {"Email/query", email_query},       {"Email/set", email_set},
      {"Email/changes", email_changes},   {"Thread/get", thread_get},
      {"Thread/changes", thread_changes}, {"Identity/get", identity_get},
      {"Email/queryChanges", email_query_changes},
      {"EmailSubmission/set", submission_set}, {"EmailSubmission/get", submission_get},
  };
  auto it = kMethods.find(name);
  if (it != kMethods.end()) return it->second;
  if (auto fn = find_sieve_method(name)) return fn;  // SieveScript/*: jmap_sieve.cpp
  return find_vacation_method(name);                 // VacationResponse/*: jmap_vacation.cpp
}

}  // namespace refmail::web
