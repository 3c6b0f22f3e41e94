// server/ingest.cpp — see ingest.hpp.
#include "mime/headers.hpp"
#include "server/ingest.hpp"

#include <openssl/rand.h>

#include <ctime>
#include <map>
#include <set>

#include <boost/json.hpp>

#include "mime/dsn.hpp"
#include "mime/splitter.hpp"
#include "mime/summary.hpp"
#include "server/log.hpp"
#include "server/relay_message.hpp"
#include "server/summary_hook.hpp"
#include "storage/store.hpp"
#include "web/envelope.hpp"

namespace refmail::server {
namespace {

std::string random_id() {
  unsigned char b[8];
  if (RAND_bytes(b, sizeof b) != 1) std::abort();
  static const char* hex = "0123456789ABCDEF";
  std::string s;
  for (unsigned char c : b) {
    s.push_back(hex[c >> 4]);
    s.push_back(hex[c & 15]);
  }
  return s;
}

// Peer-supplied text in a header: printable ASCII only, bounded.
std::string clean(std::string_view s, std::size_t max = 255) {
  std::string out;
  for (char c : s.substr(0, max)) {
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(u > 32 && u < 127 && c != '(' && c != ')' ? c : '?');
  }
  return out.empty() ? "unknown" : out;
}

// The relay queue's envelope: one format for SMTP ingest and JMAP submission.
std::string queue_envelope(const smtp::Envelope& env, const std::vector<std::string>& rcpts) {
  std::string_view ret = env.params.ret == smtp::DsnRet::Unspecified ? ""
                         : env.params.ret == smtp::DsnRet::Full      ? "FULL"
                                                                     : "HDRS";
  std::string json =
      web::queue_envelope_json(env.mail_from.to_string(), rcpts, env.params.smtputf8, env.params.envid, ret);
  // RFC 3461 NOTIFY / ORCPT of the recipients that carried them (alias targets did not):
  // "dsn": {"rcpt": {"notify": flags, "orcpt": "type;address"}}, read by the relay.
  boost::json::object dsn;
  for (const auto& r : rcpts) {
    for (const auto& er : env.rcpt_to) {
      if (er.address.to_string() != r || (er.dsn.notify == 0 && er.dsn.orcpt.empty())) continue;
      boost::json::object p{{"notify", er.dsn.notify}};
      if (!er.dsn.orcpt.empty()) p["orcpt"] = er.dsn.orcpt_type + ";" + er.dsn.orcpt;
      dsn[r] = std::move(p);
      break;
    }
  }
  if (dsn.empty()) return json;
  boost::json::value v = boost::json::parse(json);
  v.as_object()["dsn"] = std::move(dsn);
  return boost::json::serialize(v);
}

// Lowercased domain of "local@domain" (the relay's destination key).
std::string rcpt_domain(const std::string& address) {
  auto at = address.rfind('@');
  std::string d = at == std::string::npos ? std::string() : address.substr(at + 1);
  for (auto& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return d;
}

std::function<void()>& queue_notifier() {
  static std::function<void()> f;  // written once at start-up, before ingest runs
  return f;
}

}  // namespace

void set_queue_notifier(std::function<void()> notify) { queue_notifier() = std::move(notify); }

std::string received_header(const IngestRequest& req, const std::string& hostname, const std::string& id,
                            std::time_t now) {
  const auto& env = req.envelope;
  std::string h = "Received: from " + clean(env.ehlo_domain) + " (";
  if (!req.peer_name.empty()) h += clean(req.peer_name) + " ";
  h += "[" + req.peer_ip + "])\r\n\tby " + hostname + " (refmail) with " + env.with_protocol() + " id " + id;
  // RFC 5321 4.4: "for" only with a single recipient, so Bcc recipients do not leak.
  if (env.rcpt_to.size() == 1) h += "\r\n\tfor <" + clean(env.rcpt_to.front().address.to_string(), 512) + ">";
  h += "; " + mime::format_rfc5322_date(now) + "\r\n";
  return h;
}

namespace {

// Splits `message` into the delivery's blob sink (attachments kept once) and returns the
// record to store: skeleton, summary (computed once, here), blob ids, logical size.
// `skeleton` receives the cuts for the caller's log. On failure, `detail` says why.
std::optional<storage::MessageRecord> prepare_record(storage::Delivery& d, const config::Config& cfg,
                                                     std::string_view message, mime::Skeleton& skeleton,
                                                     std::string& detail) {
  mime::SplitParams sp;
  sp.min_cut_bytes = cfg.smtp_policy.min_cut_bytes;
  sp.limits.max_depth = cfg.limits.mime_max_depth;
  sp.limits.max_parts = cfg.limits.mime_max_parts;
  sp.limits.max_header_bytes = cfg.limits.mime_max_header_bytes;
  auto skel = mime::split_message(message, d.blob_sink(), sp);
  if (!skel) {
    detail = "split failed: " + skel.error().message();
    return std::nullopt;
  }
  skeleton = std::move(*skel);
  storage::MessageRecord rec;
  rec.summary = summarize_for_store(message, skeleton, cfg);
  // Threading keys for the store (RFC 8621 3; storage/threads.cpp).
  if (auto summary = mime::Summary::parse(rec.summary)) {
    auto refs = std::move(summary->in_reply_to);
    refs.insert(refs.end(), summary->references.begin(), summary->references.end());
    d.set_thread_keys(std::move(summary->message_id), std::move(refs));
  }
  rec.blob_ids = skeleton.blob_ids();
  rec.logical_size = message.size();
  rec.skeleton = skeleton.serialize();
  return rec;
}

IngestOutcome internal_failure(const char* event, const std::string& id, std::string_view what) {
  log::error(event, {{"id", id}, {"error", what}});
  IngestOutcome out;
  out.status = smtp::DeliveryStatus::TempFail;
  out.internal_error = true;
  out.detail = "internal error: " + std::string(what);
  return out;
}

std::uint64_t random64() {
  std::uint64_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) std::abort();
  return v;
}

// A failed commit as the SMTP answer it deserves: 552 over quota, else 451 (retry).
smtp::DeliveryStatus failed_commit(const boost::system::error_code& ec) {
  return ec == storage::errc::quota_exceeded ? smtp::DeliveryStatus::QuotaExceeded
                                             : smtp::DeliveryStatus::TempFail;
}

// RFC 3464: the sender learns which recipients were over quota (the others got the
// message). Local senders get the report in their INBOX, foreign ones through the relay
// with a null reverse-path; a null sender gets none (RFC 5321 4.5.5).
void report_over_quota(storage::Store& store, const config::Config& cfg, const smtp::Envelope& env,
                       std::string_view message, const std::vector<std::string>& accounts, std::time_t arrival,
                       const std::string& id) {
  if (env.mail_from.is_null()) {
    log::info("ingest.over_quota", {{"id", id}, {"accounts", accounts.size()}, {"report", "none: null sender"}});
    return;
  }
  mime::DsnInput in;
  in.reporting_mta = cfg.hostname;
  in.to = env.mail_from.to_string();
  in.original_envid = env.params.envid;
  in.arrival_date = arrival;
  in.date = std::time(nullptr);
  in.original_headers = mime::header_section(message);
  in.original_subject = relay_detail::subject_of(in.original_headers);
  in.random_seed = random64();
  for (const auto& a : accounts) {
    in.recipients.push_back({a, "failed", "5.2.2", "", "552 5.2.2 " + a + ": mailbox full (quota exceeded)"});
  }
  IngestRequest dsn;
  dsn.envelope.ehlo_domain = cfg.hostname;
  dsn.envelope.rcpt_to.push_back(smtp::Recipient{env.mail_from, {}});
  dsn.bytes = mime::compose_dsn(in);
  dsn.peer_ip = "127.0.0.1";
  dsn.peer_name = "localhost";
  auto local = store.resolve_recipient(in.to);
  if (local && !local->accounts.empty()) dsn.local_accounts = local->accounts;
  else dsn.foreign = {in.to};
  auto sent = ingest(store, cfg, std::move(dsn));
  if (sent.status == smtp::DeliveryStatus::Ok) {
    log::info("ingest.over_quota", {{"id", id}, {"accounts", accounts.size()}, {"report", sent.queue_id}});
  } else {
    log::error("ingest.over_quota_report_failed", {{"id", id}, {"to", in.to}, {"error", sent.detail}});
  }
}

IngestOutcome ingest_message(storage::Store& store, const config::Config& cfg, IngestRequest req,
                             const std::string& id) {
  IngestOutcome out;
  std::time_t now = std::time(nullptr);
  std::string trace = received_header(req, cfg.hostname, id, now);

  std::string full;  // trace + message: split, summarised and measured once
  full.reserve(trace.size() + req.bytes.size());
  full.append(trace).append(req.bytes);
  req.bytes.clear();
  req.bytes.shrink_to_fit();

  storage::Delivery d = store.begin_delivery();
  d.set_per_recipient_quota();
  mime::Skeleton skel;
  auto rec = prepare_record(d, cfg, full, skel, out.detail);
  if (!rec) return out;
  d.set_message(std::move(*rec));

  auto internal = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::from_time_t(now));
  for (const auto& a : req.local_accounts) d.add_mailbox_row(a, "INBOX", {}, internal);
  if (!req.sent_account.empty()) d.add_mailbox_row(req.sent_account, "Sent", {"$seen"}, internal);
  // One relay queue row per destination domain (each is routed and retried alone).
  std::map<std::string, std::vector<std::string>> by_domain;
  for (const auto& f : req.foreign) by_domain[rcpt_domain(f)].push_back(f);
  for (const auto& [domain, rcpts] : by_domain) d.add_queue_row(queue_envelope(req.envelope, rcpts), internal);

  auto receipt = d.commit();
  if (!receipt) {
    out.detail = storage::error_detail(receipt.error());
    out.status = failed_commit(receipt.error());
    return out;
  }
  out.status = smtp::DeliveryStatus::Ok;
  if (!by_domain.empty() && queue_notifier()) queue_notifier()();
  out.queue_id = receipt->message_id;
  out.new_blob_bytes = receipt->new_blob_bytes;
  log::info("ingest.commit", {{"id", id},
                              {"message_id", receipt->message_id},
                              {"from", req.envelope.mail_from.to_string()},
                              {"local", req.local_accounts.size()},
                              {"foreign", req.foreign.size()},
                              {"bytes", full.size()},
                              {"cuts", skel.cuts.size()},
                              {"new_blob_bytes", receipt->new_blob_bytes}});
  out.over_quota = receipt->over_quota;
  if (!receipt->over_quota.empty())
    report_over_quota(store, cfg, req.envelope, full, receipt->over_quota, now, id);
  return out;
}

}  // namespace

IngestOutcome ingest(storage::Store& store, const config::Config& cfg, IngestRequest req) {
  const std::string id = random_id();
  // No message may end the process: whatever a parser or the store throws on this
  // message's bytes fails this delivery only (451, the client retries or bounces).
  try {
    return ingest_message(store, cfg, std::move(req), id);
  } catch (const std::exception& e) {
    return internal_failure("ingest.exception", id, e.what());
  } catch (...) {
    return internal_failure("ingest.exception", id, "non-standard exception");
  }
}

namespace {

IngestOutcome import_message(storage::Store& store, const config::Config& cfg, ImportIngestRequest req) {
  IngestOutcome out;
  // The target mailbox: INBOX always exists; others are created on first use.
  if (!(req.mailbox.size() == 5 && (req.mailbox == "INBOX" || req.mailbox == "inbox" || req.mailbox == "Inbox"))) {
    auto boxes = store.list_mailboxes(req.account);
    if (!boxes) {
      out.detail = storage::error_detail(boxes.error());
      return out;
    }
    bool have = false;
    for (const auto& b : *boxes) have = have || b.name == req.mailbox;
    if (!have) {
      auto made = store.create_mailbox(req.account, req.mailbox);
      if (!made && made.error() != storage::errc::exists) {
        out.detail = "creating mailbox " + req.mailbox + ": " + storage::error_detail(made.error());
        return out;
      }
    }
  }
  storage::Delivery d = store.begin_delivery();
  mime::Skeleton skel;
  auto rec = prepare_record(d, cfg, req.bytes, skel, out.detail);
  if (!rec) return out;
  const std::size_t size = req.bytes.size();
  req.bytes.clear();
  req.bytes.shrink_to_fit();
  d.set_message(std::move(*rec));
  auto internal = storage::UnixSeconds(std::chrono::seconds(req.internal_date));
  d.add_mailbox_row(req.account, req.mailbox, req.keywords, internal);
  // Other local recipients get a grant only (they may download the blobs; the message
  // is not put in their mailboxes). The store's grant without a row is a hold
  // (Delivery::add_upload_hold) that never expires: it keeps the message and its blobs
  // alive and counts in the grant until the account is deleted.
  // SECURITY: the caller resolved these from the message's own To/Cc, which the
  // original sender wrote; a grant for bytes that sender supplied reveals nothing new.
  constexpr auto kNeverExpires = storage::UnixSeconds(std::chrono::seconds(std::int64_t(1) << 62));
  {
    std::set<std::string> granted;
    for (const auto& a : req.grant_accounts)
      if (a != req.account && granted.insert(a).second) d.add_upload_hold(a, kNeverExpires);
  }
  if (!req.import_state.empty()) {
    std::vector<storage::ImportStateOp> ops;
    ops.reserve(req.import_state.size());
    for (auto& [key, value] : req.import_state) ops.push_back({std::move(key), std::move(value)});
    d.add_import_state(std::move(ops));
  }
  auto receipt = d.commit();
  if (!receipt) {
    out.detail = storage::error_detail(receipt.error());
    out.status = failed_commit(receipt.error());
    return out;
  }
  out.status = smtp::DeliveryStatus::Ok;
  out.queue_id = receipt->message_id;
  out.new_blob_bytes = receipt->new_blob_bytes;
  for (const auto& c : skel.cuts) out.cut_bytes += c.decoded_size;
  log::info("import.commit", {{"origin", req.origin},
                              {"message_id", receipt->message_id},
                              {"account", req.account},
                              {"mailbox", req.mailbox},
                              {"grants", receipt->upload_ids.size()},
                              {"bytes", size},
                              {"cuts", skel.cuts.size()},
                              {"new_blob_bytes", receipt->new_blob_bytes}});
  return out;
}

}  // namespace

IngestOutcome ingest_import(storage::Store& store, const config::Config& cfg, ImportIngestRequest req) {
  const std::string origin = req.origin;
  try {
    return import_message(store, cfg, std::move(req));
  } catch (const std::exception& e) {
    return internal_failure("import.exception", origin, e.what());
  } catch (...) {
    return internal_failure("import.exception", origin, "non-standard exception");
  }
}

}  // namespace refmail::server
