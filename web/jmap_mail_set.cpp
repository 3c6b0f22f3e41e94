// web/jmap_mail_set.cpp — the writing half of RFC 8621: Email/set (4.6: keywords, moves,
// destroy = expunge; create through the MIME composer from bodyValues and blobIds, as
// textBody/htmlBody/attachments or a bodyStructure tree, jmap_body_structure.cpp) and
// EmailSubmission/set|get (7.5: the delivery router; local recipients get rows, foreign
// domains a relay queue row; onSuccessUpdateEmail). The reading half is jmap_mail.cpp.
// SECURITY: a draft may only reference blobs the caller holds a grant for, or parts of
// messages the caller holds a row of; From must be the account unless the operator
// allows any sender; Bcc goes to the envelope, never into the message.
#include <openssl/rand.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "mime/composer.hpp"
#include "mime/skeleton.hpp"
#include "web/jmap_internal.hpp"

namespace refmail::web {
namespace {

using storage::MailboxRow;

// ---------------------------------------------------------------- Email/set


// Applies an Email/set update patch to one email; "" on success, else the error type.
std::string update_email(Ctx& ctx, const std::string& id, const json::object& patch, std::string& desc) {
  const auto* found = ctx.rows_of(id);
  if (!found) return desc = "store", "serverFail";
  if (found->empty()) return desc = "no such email", "notFound";
  const auto rows = *found;  // copy: the cache is invalidated below
  std::set<std::string> kws(rows.front().keywords.begin(), rows.front().keywords.end());
  std::set<std::string> boxes;
  for (const auto& r : rows) boxes.insert(r.mailbox);
  const std::set<std::string> old_kws = kws, old_boxes = boxes;
  for (const auto& kv : patch) {
    std::string_view k = kv.key();
    const auto& v = kv.value();
    if (k == "keywords") {
      if (!v.is_object()) return desc = "keywords", "invalidProperties";
      kws.clear();
      for (const auto& x : v.as_object()) {
        if (x.value() == true) kws.insert(ascii_lower(x.key()));
      }
    } else if (k.starts_with("keywords/")) {
      std::string kw = ascii_lower(k.substr(9));
      if (kw.empty()) return desc = "keyword", "invalidProperties";
      if (v == true) kws.insert(kw);
      else if (v.is_null()) kws.erase(kw);
      else return desc = std::string(k), "invalidProperties";
    } else if (k == "mailboxIds") {
      if (!v.is_object()) return desc = "mailboxIds", "invalidProperties";
      boxes.clear();
      for (const auto& x : v.as_object()) {
        auto n = ctx.mailbox_name(x.key());
        if (!n || x.value() != true) return desc = "mailboxIds", "invalidProperties";
        boxes.insert(*n);
      }
    } else if (k.starts_with("mailboxIds/")) {
      auto n = ctx.mailbox_name(k.substr(11));
      if (!n) return desc = std::string(k), "invalidProperties";
      if (v == true) boxes.insert(*n);
      else if (v.is_null()) boxes.erase(*n);
      else return desc = std::string(k), "invalidProperties";
    } else {
      return desc = "cannot change " + std::string(k), "invalidProperties";
    }
  }
  if (boxes.empty()) return desc = "an email must stay in at least one mailbox", "invalidProperties";
  auto& store = ctx.j.store;
  ctx.invalidate();
  // Add to new mailboxes first (copy keeps the message alive), then remove.
  const MailboxRow& src = rows.front();
  std::vector<std::pair<std::string, std::uint32_t>> live;
  for (const auto& r : rows) live.emplace_back(r.mailbox, r.uid);
  for (const auto& b : boxes) {
    if (old_boxes.count(b)) continue;
    auto uid = store.copy_row(ctx.account, src.mailbox, src.uid, b, false);
    if (!uid) return desc = "copy failed", "serverFail";
    live.emplace_back(b, *uid);
  }
  std::vector<std::string> kw_vec(kws.begin(), kws.end());
  for (const auto& [box, uid] : live) {
    if (!boxes.count(box)) {
      std::uint32_t u = uid;
      if (auto r = store.expunge(ctx.account, box, std::span<const std::uint32_t>(&u, 1)); !r) {
        return desc = "expunge failed", "serverFail";
      }
      continue;
    }
    if (kws != old_kws || !old_boxes.count(box)) {
      if (auto r = store.set_keywords(ctx.account, box, uid, kw_vec); !r) return desc = "keywords", "serverFail";
    }
  }
  return {};
}

bool destroy_email(Ctx& ctx, const std::string& id) {
  const auto* rows = ctx.rows_of(id);
  if (!rows || rows->empty()) return false;
  std::map<std::string, std::vector<std::uint32_t>> per_box;
  for (const auto& r : *rows) per_box[r.mailbox].push_back(r.uid);
  ctx.invalidate();
  bool ok = true;
  for (const auto& [box, uids] : per_box) ok = ctx.j.store.expunge(ctx.account, box, uids).has_value() && ok;
  return ok;
}

std::vector<mime::Address> read_addresses(const json::value* v) {
  std::vector<mime::Address> out;
  if (!v || !v->is_array()) return out;
  for (const auto& x : v->as_array()) {
    const auto* o = x.if_object();
    const json::value* e = o ? o->if_contains("email") : nullptr;
    if (!e || !e->is_string()) continue;
    mime::Address a;
    a.email = std::string(e->as_string());
    if (const auto* n = o->if_contains("name"); n && n->is_string()) a.name = std::string(n->as_string());
    out.push_back(std::move(a));
  }
  return out;
}

std::uint64_t random_u64() {
  std::uint64_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) std::abort();
  return v;
}

// textBody / htmlBody / attachments (RFC 8621 4.6's shorthand): one text part, one HTML
// part, attachments by blobId.
std::string read_simple_body(Ctx& ctx, const json::object& o, mime::Draft& d, std::string& desc,
                             std::vector<std::string>& not_found) {
  const json::object* values = nullptr;
  if (const auto* bv = o.if_contains("bodyValues"); bv && bv->is_object()) values = &bv->as_object();
  std::string bad;
  auto body_text = [&](const char* key) -> std::optional<std::string> {
    const auto* parts = o.if_contains(key);
    if (!parts || !parts->is_array() || parts->as_array().empty()) return std::nullopt;
    const auto* p = parts->as_array()[0].if_object();
    const json::value* pid = p ? p->if_contains("partId") : nullptr;
    if (!pid || !pid->is_string()) {
      bad = std::string(key) + " needs a partId";
      return std::nullopt;
    }
    const auto* val = values ? values->if_contains(pid->as_string()) : nullptr;
    if (!val) {
      bad = std::string(key) + ": partId is not a key of bodyValues";
      return std::nullopt;
    }
    return std::string(val->as_object().at("value").as_string());  // check_body_values ran
  };
  d.text_body = body_text("textBody");
  d.html_body = body_text("htmlBody");
  if (!bad.empty()) return desc = bad, "invalidProperties";
  if (!d.text_body && !d.html_body) d.text_body = "";
  if (const auto* atts = o.if_contains("attachments"); atts && atts->is_array()) {
    for (const auto& a : atts->as_array()) {
      const auto* ao = a.if_object();
      const json::value* bid = ao ? ao->if_contains("blobId") : nullptr;
      if (!bid || !bid->is_string()) return desc = "attachments need a blobId", "invalidProperties";
      std::string blob(bid->as_string());
      auto resolved = resolve_draft_blob(ctx, blob);
      if (!resolved) {
        not_found.push_back(blob);
        continue;
      }
      mime::DraftAttachment att;
      att.blob_id = std::move(resolved->blob_id);
      att.literal = std::move(resolved->literal);
      att.size = resolved->size;
      if (const auto* t = ao->if_contains("type"); t && t->is_string()) att.type = std::string(t->as_string());
      if (att.type.empty()) att.type = "application/octet-stream";
      if (const auto* n = ao->if_contains("name"); n && n->is_string()) att.name = std::string(n->as_string());
      d.attachments.push_back(std::move(att));
    }
  }
  if (!not_found.empty()) return desc = "blob " + not_found.front().substr(0, 80) + " not found", "blobNotFound";
  return {};
}

// Email/set create (RFC 8621 4.6): a draft whose body is a bodyStructure tree or
// textBody/htmlBody/attachments, whose blobs are ones the caller holds grants for,
// composed into a skeleton whose cuts reference those blobs (no attachment byte is read
// or written), stored with rows in the given mailboxes.
// Unknown blobIds are listed in `not_found` (RFC 8620 5.3 blobNotFound).
std::string create_email(Ctx& ctx, const json::object& o, std::string& new_id, std::string& desc,
                         std::vector<std::string>& not_found) {
  mime::Draft d;
  d.from = read_addresses(o.if_contains("from"));
  if (d.from.empty()) d.from.push_back(mime::Address{"", ctx.account});
  // As on the submission port: From is the account or one of its aliases, unless the
  // operator allows any sender (the delivery service's rule, the same for SMTP).
  if (std::any_of(d.from.begin(), d.from.end(),
                  [&](const mime::Address& a) { return !ctx.j.mail->may_send_as(ctx.account, a.email); })) {
    return desc = "from must be the account's own address or one of its aliases", "invalidProperties";
  }
  d.to = read_addresses(o.if_contains("to"));
  d.cc = read_addresses(o.if_contains("cc"));
  d.bcc = read_addresses(o.if_contains("bcc"));
  d.reply_to = read_addresses(o.if_contains("replyTo"));
  if (const auto* s = o.if_contains("subject"); s && s->is_string()) d.subject = std::string(s->as_string());
  // RFC 8621 4.1.2.3: inReplyTo / references (msg-ids without <>) make a reply thread.
  for (auto [key, list] : {std::pair{"inReplyTo", &d.in_reply_to}, std::pair{"references", &d.references}}) {
    if (const auto* v = o.if_contains(key); v && v->is_array()) {
      for (const auto& x : v->as_array()) {
        if (!x.is_string()) return desc = std::string(key) + " must be a list of ids", "invalidProperties";
        list->emplace_back(x.as_string());
      }
    }
  }
  if (std::string err = check_body_values(o, desc); !err.empty()) return err;
  if (const auto* bs = o.if_contains("bodyStructure"); bs && !bs->is_null()) {
    // RFC 8621 4.6: the general way to compose; the tree is written as given.
    mime::DraftPart body;
    if (std::string err = read_body_structure(ctx, o, body, desc, not_found); !err.empty()) return err;
    d.body = std::move(body);
  } else if (std::string err = read_simple_body(ctx, o, d, desc, not_found); !err.empty()) {
    return err;
  }
  std::set<std::string> boxes;
  if (const auto* m = o.if_contains("mailboxIds"); m && m->is_object()) {
    for (const auto& kv : m->as_object()) {
      auto n = ctx.mailbox_name(kv.key());
      if (!n) return desc = "unknown mailbox " + std::string(kv.key()).substr(0, 80), "invalidProperties";
      boxes.insert(*n);
    }
  }
  if (boxes.empty()) return desc = "mailboxIds is required", "invalidProperties";
  std::vector<std::string> kws;
  if (const auto* k = o.if_contains("keywords"); k && k->is_object()) {
    for (const auto& kv : k->as_object()) {
      if (kv.value() == true) kws.push_back(ascii_lower(kv.key()));
    }
  }
  d.date = static_cast<std::int64_t>(std::time(nullptr));
  d.random_seed = random_u64();
  d.host = ctx.j.cfg.hostname;
  auto composed = mime::compose(d);
  if (!composed) return desc = "cannot compose: " + composed.error().message(), "invalidProperties";
  mime::SummaryLimits lim;
  delivery::Composed c;
  c.account = ctx.account;
  c.mailboxes = std::move(boxes);
  c.keywords = std::move(kws);
  // The skeleton's own bytes: cut parts have no content, sizes come from the cuts.
  c.summary = mime::summarize(composed->skeleton.bytes, composed->skeleton, lim);
  c.summary.bcc = d.bcc;  // kept for EmailSubmission's envelope; never written into the message
  c.skeleton = std::move(composed->skeleton);
  auto stored = ctx.j.mail->store_composed(std::move(c));
  ctx.invalidate();
  if (stored.status == delivery::Status::quota_exceeded) return desc = "over quota", "overQuota";
  if (stored.status != delivery::Status::ok) return desc = stored.detail, "serverFail";
  new_id = stored.message_id;
  return {};
}

}  // namespace

void email_set(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  std::string old_state = ctx.state();
  if (const auto* is = args.if_contains("ifInState"); is && is->is_string() && is->as_string() != old_state) {
    return out.push_back(method_error("stateMismatch", call_id));
  }
  std::size_t n = 0;
  for (const char* k : {"create", "update", "destroy"}) {
    if (const auto* v = args.if_contains(k)) n += v->is_object() ? v->as_object().size() : v->is_array() ? v->as_array().size() : 0;
  }
  if (n > ctx.j.limits.max_objects_in_set) return out.push_back(method_error("requestTooLarge", call_id));
  json::object created, updated, not_created, not_updated, not_destroyed;
  json::array destroyed;
  if (const auto* c = args.if_contains("create"); c && c->is_object()) {
    for (const auto& kv : c->as_object()) {
      if (!kv.value().is_object()) {
        not_created[kv.key()] = set_error("invalidProperties", "not an object");
        continue;
      }
      std::string id, desc;
      std::vector<std::string> missing_blobs;
      std::string err = create_email(ctx, kv.value().as_object(), id, desc, missing_blobs);
      if (!err.empty()) {
        json::object e = set_error(err, desc);
        if (!missing_blobs.empty()) {
          json::array nf;
          for (auto& b : missing_blobs) nf.emplace_back(b);
          e["notFound"] = std::move(nf);
        }
        not_created[kv.key()] = std::move(e);
        continue;
      }
      ctx.created_ids[std::string(kv.key())] = id;
      const auto* rows = ctx.rows_of(id);
      std::uint64_t size = 0;
      std::string thread = id;
      if (rows && !rows->empty()) {
        size = rows->front().logical_size;
        thread = rows->front().thread_id;
      }
      created[kv.key()] = json::object{{"id", id}, {"blobId", id}, {"threadId", "T" + thread}, {"size", size}};
    }
  }
  if (const auto* u = args.if_contains("update"); u && u->is_object()) {
    for (const auto& kv : u->as_object()) {
      std::string id(kv.key());
      if (id.starts_with("#")) {
        auto it = ctx.created_ids.find(id.substr(1));
        if (it != ctx.created_ids.end()) id = it->second;
      }
      if (!kv.value().is_object()) {
        not_updated[kv.key()] = set_error("invalidPatch", "not an object");
        continue;
      }
      std::string desc;
      std::string err = update_email(ctx, id, kv.value().as_object(), desc);
      if (!err.empty()) not_updated[kv.key()] = set_error(err, desc);
      else updated[id] = nullptr;
    }
  }
  if (const auto* d = args.if_contains("destroy"); d && d->is_array()) {
    for (const auto& v : d->as_array()) {
      if (!v.is_string()) continue;
      std::string id(v.as_string());
      if (destroy_email(ctx, id)) destroyed.emplace_back(id);
      else not_destroyed[id] = set_error("notFound", "no such email");
    }
  }
  json::object res{{"accountId", ctx.account_id}, {"oldState", old_state}, {"newState", ctx.state()}};
  res["created"] = created.empty() ? json::value(nullptr) : json::value(created);
  res["updated"] = updated.empty() ? json::value(nullptr) : json::value(updated);
  res["destroyed"] = destroyed.empty() ? json::value(nullptr) : json::value(destroyed);
  res["notCreated"] = not_created.empty() ? json::value(nullptr) : json::value(not_created);
  res["notUpdated"] = not_updated.empty() ? json::value(nullptr) : json::value(not_updated);
  res["notDestroyed"] = not_destroyed.empty() ? json::value(nullptr) : json::value(not_destroyed);
  out.push_back(method_response("Email/set", std::move(res), call_id));
}

// ---------------------------------------------------------------- EmailSubmission/set

// RFC 8621 7.5: hands the email to the delivery router. Local recipients get a row
// referencing a new message record with the same skeleton (blobs shared, never
// copied); foreign recipients one relay queue row with the shared envelope format.
void submission_set(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  std::string old_state = ctx.state();
  json::object created, not_created;
  std::map<std::string, std::string> sub_to_email;  // submission id -> email id
  if (const auto* c = args.if_contains("create"); c && c->is_object()) {
    for (const auto& kv : c->as_object()) {
      const auto* o = kv.value().if_object();
      const json::value* eid = o ? o->if_contains("emailId") : nullptr;
      if (!eid || !eid->is_string()) {
        not_created[kv.key()] = set_error("invalidProperties", "emailId is required");
        continue;
      }
      std::string email_id(eid->as_string());
      if (email_id.starts_with("#")) {
        auto it = ctx.created_ids.find(email_id.substr(1));
        if (it != ctx.created_ids.end()) email_id = it->second;
      }
      const auto* rows = ctx.rows_of(email_id);
      if (!rows || rows->empty()) {
        not_created[kv.key()] = set_error("invalidProperties", "no such email");
        continue;
      }
      auto msg = ctx.j.store.get_message(email_id);
      if (!msg) {
        not_created[kv.key()] = set_error("serverFail", "cannot read the email");
        continue;
      }
      auto summary = mime::Summary::parse(msg->record.summary);
      std::string mail_from = ctx.account;
      std::vector<std::string> rcpts;
      const json::value* env = o->if_contains("envelope");
      if (env && env->is_object()) {
        const auto& eo = env->as_object();
        if (const auto* mf = eo.if_contains("mailFrom"); mf && mf->is_object()) {
          if (const auto* e = mf->as_object().if_contains("email"); e && e->is_string()) mail_from = std::string(e->as_string());
        }
        if (const auto* rt = eo.if_contains("rcptTo"); rt && rt->is_array()) {
          for (const auto& r : rt->as_array()) {
            const auto* ro = r.if_object();
            const json::value* e = ro ? ro->if_contains("email") : nullptr;
            if (e && e->is_string()) rcpts.emplace_back(e->as_string());
          }
        }
      } else if (summary) {
        for (const auto* list : {&summary->to, &summary->cc, &summary->bcc}) {
          for (const auto& a : *list) rcpts.push_back(a.email);
        }
      }
      if (rcpts.empty()) {
        not_created[kv.key()] = set_error("noRecipients", "no recipients");
        continue;
      }
      if (rcpts.size() > ctx.j.cfg.limits.recipients) {
        not_created[kv.key()] = set_error("tooManyRecipients", "more recipients than the server takes");
        continue;
      }
      // The delivery service applies SMTP submission's rules: the sender is the account
      // or one of its aliases, every recipient routes, one queue row per domain.
      delivery::Submission sub{ctx.account, mail_from, std::move(rcpts), msg->record};
      auto sent = ctx.j.mail->submit(std::move(sub));
      if (sent.status != delivery::Status::ok) {
        const char* type = sent.status == delivery::Status::sender_rejected  ? "forbiddenMailFrom"
                           : sent.status == delivery::Status::from_rejected  ? "forbiddenFrom"
                           : sent.status == delivery::Status::bad_recipients ? "invalidRecipients"
                           : sent.status == delivery::Status::quota_exceeded ? "overQuota"
                           : sent.status == delivery::Status::spam_rejected  ? "forbiddenToSend"
                                                                              : "serverFail";
        not_created[kv.key()] = set_error(type, sent.detail);
        continue;
      }
      ctx.invalidate();
      auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
      std::string sid = "S" + sent.message_id.substr(1);
      ctx.created_ids[std::string(kv.key())] = sid;
      sub_to_email[sid] = email_id;
      created[kv.key()] = json::object{{"id", sid}, {"undoStatus", "final"}, {"sendAt", utc_date(now.time_since_epoch().count())}};
    }
  }
  json::object res{{"accountId", ctx.account_id}, {"oldState", old_state}, {"newState", ctx.state()}};
  res["created"] = created.empty() ? json::value(nullptr) : json::value(created);
  res["notCreated"] = not_created.empty() ? json::value(nullptr) : json::value(not_created);
  res["updated"] = nullptr;
  res["destroyed"] = nullptr;
  out.push_back(method_response("EmailSubmission/set", std::move(res), call_id));
  // RFC 8621 7.5: onSuccessUpdateEmail / onSuccessDestroyEmail as an implicit Email/set.
  json::object update;
  json::array destroy;
  if (const auto* u = args.if_contains("onSuccessUpdateEmail"); u && u->is_object()) {
    for (const auto& kv : u->as_object()) {
      std::string key(kv.key());
      std::string sid = key.starts_with("#") && ctx.created_ids.count(key.substr(1)) ? ctx.created_ids[key.substr(1)] : key;
      auto it = sub_to_email.find(sid);
      if (it != sub_to_email.end()) update[it->second] = kv.value();
    }
  }
  if (const auto* d = args.if_contains("onSuccessDestroyEmail"); d && d->is_array()) {
    for (const auto& v : d->as_array()) {
      if (!v.is_string()) continue;
      std::string key(v.as_string());
      std::string sid = key.starts_with("#") && ctx.created_ids.count(key.substr(1)) ? ctx.created_ids[key.substr(1)] : key;
      auto it = sub_to_email.find(sid);
      if (it != sub_to_email.end()) destroy.emplace_back(it->second);
    }
  }
  if (!update.empty() || !destroy.empty()) {
    json::object set_args{{"accountId", ctx.account_id}};
    if (!update.empty()) set_args["update"] = std::move(update);
    if (!destroy.empty()) set_args["destroy"] = std::move(destroy);
    email_set(ctx, set_args, call_id, out);
  }
}

void submission_get(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  json::array not_found;
  std::optional<std::vector<std::string>> ids;
  if (read_ids(args, ids) && ids) {
    for (const auto& i : *ids) not_found.emplace_back(i);
  }
  out.push_back(method_response("EmailSubmission/get",
                                json::object{{"accountId", ctx.account_id}, {"state", ctx.state()},
                                             {"list", json::array{}}, {"notFound", not_found}},
                                call_id));
}

}  // namespace refmail::web
