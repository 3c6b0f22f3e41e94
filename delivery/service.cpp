// delivery/service.cpp — see service.hpp.
#include "delivery/service.hpp"
#include "delivery/service_internal.hpp"

#include "delivery/dkim_signing.hpp"
#include "delivery/srs.hpp"
#include "delivery/spam.hpp"
#include "delivery/sieve_filter.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "mime/address.hpp"
#include "mime/dsn.hpp"
#include "mime/headers.hpp"
#include "mime/joiner.hpp"
#include "mime/splitter.hpp"
#include "smtp/address.hpp"
#include "smtp/recipient_policy.hpp"
#include "storage/store.hpp"
#include "trust/inbound.hpp"

namespace refmail::delivery {
namespace detail {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

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

}  // namespace detail

namespace {

using detail::lower;
using detail::random_id;

std::uint64_t random64() {
  std::uint64_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) std::abort();
  return v;
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

// Lowercased domain of "local@domain" (the relay's destination key).
std::string domain_of(const std::string& address) {
  auto at = address.rfind('@');
  return lower(at == std::string::npos ? std::string() : address.substr(at + 1));
}

storage::UnixSeconds to_seconds(std::time_t t) {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::from_time_t(t));
}

Status failed_commit(const boost::system::error_code& ec) {
  return ec == storage::errc::quota_exceeded ? Status::quota_exceeded : Status::temp_fail;
}

// Commits `d` into `out`: status, message id and new blob bytes, or the failure and why.
std::optional<storage::DeliveryReceipt> commit(storage::Delivery& d, Outcome& out) {
  auto receipt = d.commit();
  if (!receipt) {
    out.status = failed_commit(receipt.error());
    out.detail = storage::error_detail(receipt.error());
    return std::nullopt;
  }
  out.status = Status::ok;
  out.message_id = receipt->message_id;
  out.new_blob_bytes = receipt->new_blob_bytes;
  return std::move(*receipt);
}

mime::SplitParams split_params(const config::Config& cfg) {
  mime::SplitParams sp;
  sp.min_cut_bytes = cfg.smtp_policy.min_cut_bytes;
  sp.limits = mime_limits(cfg);
  return sp;
}

// Threading keys for the store (RFC 8621 3; storage/threads.cpp).
void set_thread_keys(storage::Delivery& d, const mime::Summary& s) {
  auto refs = s.in_reply_to;
  refs.insert(refs.end(), s.references.begin(), s.references.end());
  d.set_thread_keys(s.message_id, std::move(refs));
}

// The message record (skeleton, summary, blob ids, logical size) and thread keys of a
// delivery, and its sizes in `out`.
void set_message(storage::Delivery& d, const mime::Skeleton& skel, const mime::Summary& summary, Outcome& out) {
  storage::MessageRecord rec;
  rec.summary = summary.serialize();
  rec.blob_ids = skel.blob_ids();
  rec.logical_size = skel.joined_size();
  rec.skeleton = skel.serialize();
  out.bytes = rec.logical_size;
  out.cuts = skel.cuts.size();
  for (const auto& c : skel.cuts) out.cut_bytes += c.decoded_size;
  set_thread_keys(d, summary);
  d.set_message(std::move(rec));
}

struct Split {
  mime::Skeleton skeleton;
  mime::Summary summary;
};

// Ends a split fed into `d`'s blob sink and sets the record: skeleton, summary (made
// once, here, from the skeleton's bytes and the staged cut bodies: equal to the whole
// message's summary), blob ids, logical size, thread keys. nullopt (and out.detail)
// when the split failed.
// `adjust`, when given, may change the skeleton's header section first (inbound
// authentication); false from it ends the delivery (it sets `out`).
std::optional<Split> finish_split(storage::Delivery& d, mime::Splitter& splitter, const config::Config& cfg,
                                  Outcome& out, const std::function<bool(mime::Skeleton&)>& adjust = {}) {
  auto skel = splitter.finish();
  if (!skel) {
    out.status = Status::invalid;
    out.detail = "split failed: " + skel.error().message();
    return std::nullopt;
  }
  if (adjust && !adjust(*skel)) return std::nullopt;
  mime::SummaryLimits lim;
  lim.limits = split_params(cfg).limits;  // the splitter's, so part paths match the cuts
  Split s{std::move(*skel), {}};
  s.summary = mime::summarize(s.skeleton.bytes, s.skeleton, lim, &d.staged_source());
  set_message(d, s.skeleton, s.summary, out);
  return s;
}

// A whole message at once (the import): the same split, fed in one piece.
std::optional<Split> split_into(storage::Delivery& d, const config::Config& cfg, std::string_view message,
                                Outcome& out) {
  mime::Splitter splitter(split_params(cfg), d.blob_sink());
  splitter.feed(message);
  return finish_split(d, splitter, cfg, out);
}

template <typename F>
Outcome guarded(const std::string& trace_id, F&& f) {
  // No message may end the process: whatever a parser or the store throws on this
  // message fails this delivery only (the client retries or bounces).
  Outcome failed;
  failed.trace_id = trace_id;
  failed.internal_error = true;
  try {
    return f();
  } catch (const std::exception& e) {
    failed.detail = std::string("internal error: ") + e.what();
  } catch (...) {
    failed.detail = "internal error: non-standard exception";
  }
  return failed;
}

}  // namespace

smtp::DeliveryStatus smtp_status(Status s) {
  switch (s) {
    case Status::ok: return smtp::DeliveryStatus::Ok;
    case Status::quota_exceeded: return smtp::DeliveryStatus::QuotaExceeded;
    case Status::sender_rejected:
    case Status::from_rejected: return smtp::DeliveryStatus::SenderRejected;
    case Status::dmarc_rejected: return smtp::DeliveryStatus::DmarcRejected;
    case Status::sieve_rejected: return smtp::DeliveryStatus::Rejected;
    case Status::spam_rejected: return smtp::DeliveryStatus::SpamRejected;
    case Status::spam_deferred: return smtp::DeliveryStatus::SpamDeferred;
    case Status::temp_fail:
    case Status::bad_recipients:
    case Status::invalid: break;
  }
  // A message the splitter refused was accepted by the session's own limits: retry
  // (451) rather than bounce on what is our limit, as before.
  return smtp::DeliveryStatus::TempFail;
}

Service::Service(storage::Store& store, const config::Config& cfg, std::function<void()> wake_relay)
    : store_(store),
      cfg_(cfg),
      wake_relay_(std::move(wake_relay)),
      sieve_cache_(std::make_shared<SieveCache>()),
      sieve_(std::make_shared<const SieveSetup>()) {}

void Service::set_sieve(std::shared_ptr<const SieveSetup> setup) {
  if (setup) sieve_ = std::move(setup);
}

// ---------------------------------------------------------------- routing and policy

smtp::RcptVerdict Service::route(const smtp::Address& rcpt, const std::optional<std::string>& auth_user,
                                 std::optional<std::uint64_t> declared_size, Route& out) const {
  // "<postmaster>" (no domain) goes to the first local domain.
  const std::string addr = rcpt.domain.empty() ? lower(rcpt.local_part) + "@" + cfg_.local_domains.front()
                                               : rcpt.local_part + "@" + lower(rcpt.domain);
  if (srs_ && !rcpt.domain.empty() && Srs::looks_like_srs(rcpt.local_part)) {
    // A reply or bounce to a sender we rewrote: back to the address it stands for, when
    // it is one of ours (local domain, hash, age); anything else names no mailbox.
    auto local = store_.is_local_domain(lower(rcpt.domain));
    if (!local) return smtp::RcptVerdict::TempFail;
    if (*local) {
      auto back = srs_->reverse(rcpt.local_part, std::time(nullptr));
      if (!back) return smtp::RcptVerdict::UnknownUser;
      out.foreign = {std::move(*back)};
      return smtp::RcptVerdict::Accept;
    }
  }
  smtp::RecipientDirectory dir;
  dir.is_local_domain = [&](std::string_view domain) {
    auto r = store_.is_local_domain(domain.empty() ? cfg_.local_domains.front() : std::string(domain));
    if (!r) return smtp::Lookup::TempFail;
    return *r ? smtp::Lookup::Yes : smtp::Lookup::No;
  };
  dir.has_mailbox = [&](const smtp::Address&) {
    auto r = store_.resolve_recipient(addr);
    if (!r) {
      // A local part the store cannot hold (a quoted "x@y", say) names no mailbox.
      return r.error() == storage::errc::not_found || r.error() == storage::errc::not_local_domain ||
                     r.error() == storage::errc::invalid_argument
                 ? smtp::Lookup::No
                 : smtp::Lookup::TempFail;
    }
    out.accounts = r->accounts;
    out.foreign = r->foreign;  // alias targets elsewhere: the admin chose to forward
    return out.accounts.empty() && out.foreign.empty() ? smtp::Lookup::No : smtp::Lookup::Yes;
  };
  auto verdict = smtp::classify_recipient(rcpt, auth_user, dir);
  auto over_quota = [&](const std::string& account) {
    auto u = store_.get_user(account);
    return u && u->quota_bytes > 0 && u->used_bytes + *declared_size > u->quota_bytes;
  };
  if (verdict == smtp::RcptVerdict::Accept && declared_size && out.foreign.empty() && !out.accounts.empty() &&
      std::all_of(out.accounts.begin(), out.accounts.end(), over_quota)) {
    // RFC 1870 6: the size is known, so a full mailbox is refused here, per recipient,
    // and the message still goes to the others (no bounce needed).
    return smtp::RcptVerdict::MailboxFull;
  }
  if (verdict != smtp::RcptVerdict::Accept || !out.accounts.empty() || !out.foreign.empty()) return verdict;
  // Accepted with no local copy: a foreign recipient (relay) or a postmaster without
  // an account of its own, which the domain's admins receive (RFC 5321 4.5.1).
  auto local = dir.is_local_domain(rcpt.domain);
  if (local == smtp::Lookup::No) {
    out.foreign = {rcpt.to_string()};
    return verdict;
  }
  if (auto users = store_.list_users()) {
    for (const auto& u : *users) {
      if (u.is_admin) out.accounts.push_back(u.address);
    }
  }
  return out.accounts.empty() ? smtp::RcptVerdict::UnknownUser : verdict;
}

bool Service::may_send_as(const std::string& user, std::string address) const {
  if (cfg_.smtp_policy.allow_any_sender) return true;
  address = lower(std::move(address));
  if (address.empty()) return false;
  if (address == lower(user)) return true;
  auto r = store_.resolve_recipient(address);
  if (!r) return false;
  return std::any_of(r->accounts.begin(), r->accounts.end(),
                     [&](const std::string& a) { return lower(a) == lower(user); });
}

bool Service::may_send_as(const std::string& user, const smtp::Address& address) const {
  if (cfg_.smtp_policy.allow_any_sender) return true;
  // A null reverse-path is refused: bounces are the server's to send, and "<>" would
  // otherwise skip this check and the From: check alike.
  if (address.is_null()) return false;
  const std::string a = address.domain.empty() ? lower(address.local_part) + "@" + cfg_.local_domains.front()
                                               : address.local_part + "@" + lower(address.domain);
  return may_send_as(user, a);
}

// Postfix reject_sender_login_mismatch, Stalwart: the From: and Sender: addresses too.
constexpr std::size_t kMaxHeaderSenders = 100;

bool Service::header_senders_allowed(const std::string& user, std::string_view message) const {
  if (!cfg_.smtp_policy.check_header_from || cfg_.smtp_policy.allow_any_sender) return true;
  std::size_t checked = 0;
  for (const auto& body : mime::header_field_bodies(message, {"from", "sender"})) {
    for (const auto& a : mime::parse_address_list(body, kMaxHeaderSenders)) {
      if (++checked > kMaxHeaderSenders || !may_send_as(user, a.email)) return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------- shared steps

std::size_t Service::add_queue_rows(storage::Delivery& d, const QueueEnvelope& base,
                                    const std::vector<std::string>& foreign, storage::UnixSeconds when) const {
  // One relay queue row per destination domain (each is routed and retried alone).
  std::map<std::string, std::vector<std::string>> by_domain;
  for (const auto& f : foreign) {
    auto& list = by_domain[domain_of(f)];
    if (std::find(list.begin(), list.end(), f) == list.end()) list.push_back(f);
  }
  for (const auto& entry : by_domain) {
    const auto& rcpts = entry.second;  // not a structured binding: lambdas capture it (clang)
    QueueEnvelope e = base;
    e.rcpt_to = rcpts;
    std::erase_if(e.dsn, [&](const auto& kv) { return std::find(rcpts.begin(), rcpts.end(), kv.first) == rcpts.end(); });
    d.add_queue_row(serialize(e), when);
  }
  return by_domain.size();
}

void Service::committed_queue_rows(std::size_t rows) const {
  if (rows > 0 && wake_relay_) wake_relay_();
}

std::string Service::received_header(const Inbound& in, const std::string& hostname, const std::string& id,
                                     std::time_t now) {
  const auto& env = in.envelope;
  std::string h = "Received: from " + clean(env.ehlo_domain) + " (";
  if (!in.peer_name.empty()) h += clean(in.peer_name) + " ";
  h += "[" + in.peer_ip + "])\r\n\tby " + hostname + " (refmail) with " + env.with_protocol() + " id " + id;
  // RFC 5321 4.4: "for" only with a single recipient, so Bcc recipients do not leak.
  if (env.rcpt_to.size() == 1) h += "\r\n\tfor <" + clean(env.rcpt_to.front().address.to_string(), 512) + ">";
  h += "; " + mime::format_rfc5322_date(now) + "\r\n";
  return h;
}

// ---------------------------------------------------------------- SMTP and reports

struct Intake::State {
  std::string trace_id;
  std::time_t now = 0;
  storage::Delivery delivery;
  mime::Splitter splitter;  // writes into delivery's blob sink: declared after it
  std::uint64_t written = 0;
  std::string failure;  // an exception while writing (a bug): the delivery fails
  // Inbound authentication (Inbound::verify): fed what the splitter is fed after the
  // trace header, i.e. the message as received. The check uses `dns`: declared after.
  std::unique_ptr<trust::DnsLookup> dns;
  std::unique_ptr<trust::InboundCheck> check;
  // DKIM signing of a submission (the envelope has an authenticated user).
  std::unique_ptr<SubmissionSigner> signer;

  State(storage::Store& store, const config::Config& cfg)
      : delivery(store.begin_delivery()), splitter(split_params(cfg), delivery.blob_sink()) {}
};

Intake::Intake(std::unique_ptr<State> st) : st_(std::move(st)) {}
Intake::Intake(Intake&&) noexcept = default;
Intake& Intake::operator=(Intake&&) noexcept = default;
Intake::~Intake() = default;

void Intake::write(std::string_view bytes) {
  if (!st_->failure.empty()) return;
  st_->written += bytes.size();
  try {
    st_->splitter.feed(bytes);
    if (st_->check) st_->check->feed(bytes);
    if (st_->signer) st_->signer->feed(bytes);
  } catch (const std::exception& e) {
    st_->failure = std::string("internal error: ") + e.what();
  } catch (...) {
    st_->failure = "internal error: non-standard exception";
  }
}

std::uint64_t Intake::size() const noexcept { return st_->written; }

// The splitter's skeleton and held-back text, and the attachment bytes the delivery
// keeps in memory (a few MiB at most: larger blobs spill to the store as they arrive).
std::size_t Intake::held_bytes() const noexcept {
  return static_cast<std::size_t>(st_->splitter.held_bytes()) + st_->delivery.held_bytes();
}

Intake Service::open_intake(const Inbound& in) {
  auto st = std::make_unique<Intake::State>(store_, cfg_);
  st->trace_id = random_id();
  st->now = std::time(nullptr);
  Intake intake(std::move(st));
  intake.write(received_header(in, cfg_.hostname, intake.st_->trace_id, intake.st_->now));
  if (in.verify && auth_.dns && auth_.psl) {
    Intake::State& s = *intake.st_;
    trust::InboundFacts f;
    f.authserv_id = cfg_.hostname;
    f.client_ip = in.peer_ip;
    f.helo = in.envelope.ehlo_domain;
    f.mail_from = in.envelope.mail_from.is_null() ? std::string() : in.envelope.mail_from.to_string();
    f.now = static_cast<std::int64_t>(s.now);
    unsigned char r[2];
    if (RAND_bytes(r, sizeof r) != 1) std::abort();
    f.random_percent = ((static_cast<unsigned>(r[0]) << 8) | r[1]) % 100;
    s.dns = auth_.dns();
    if (s.dns) s.check = std::make_unique<trust::InboundCheck>(*s.dns, *auth_.psl, std::move(f));
  }
  if ((in.envelope.auth_user || in.sign) && dkim_) {
    intake.st_->signer =
        std::make_unique<SubmissionSigner>([keys = dkim_](std::string_view domain) { return keys->signers(domain); });
  }
  return intake;
}

namespace {

// Header fields put on top of the skeleton (above the trace header): every cut moves.
void prepend(mime::Skeleton& s, std::string_view fields) {
  s.bytes.insert(0, fields);
  for (auto& c : s.cuts) c.offset += fields.size();
}

// The finished inbound check applied to the skeleton's header section: forged
// Authentication-Results claiming `authserv_id` removed, ours added on top. False (and
// `out` set) when DMARC says reject and `enforce` is on.
bool authenticate(trust::InboundCheck& check, const std::string& authserv_id, bool enforce, mime::Skeleton& s,
                  Outcome& out) {
  const auto from_bodies = mime::header_field_bodies(s.bytes, {"from"});
  std::vector<std::string_view> from(from_bodies.begin(), from_bodies.end());
  auto v = check.finish(from);
  auto& h = v.header;
  out.authentication = h.substr(h.find(':') + 2);
  std::erase(out.authentication, '\r');
  std::replace(out.authentication.begin(), out.authentication.end(), '\n', ' ');
  std::erase(out.authentication, '\t');
  if (!out.authentication.empty() && out.authentication.back() == ' ') out.authentication.pop_back();
  if (v.dmarc.disposition == trust::DmarcPolicy::Reject && enforce) {
    out.status = Status::dmarc_rejected;
    out.detail = "DMARC policy of " + v.dmarc.policy_domain + " is reject: " + out.authentication;
    return false;
  }
  out.quarantined = v.dmarc.disposition != trust::DmarcPolicy::None;
  // Every range lies in the header section, before every cut.
  const auto forged = trust::claimed_results(s.bytes, authserv_id);
  std::uint64_t removed = 0;
  for (auto it = forged.rbegin(); it != forged.rend(); ++it) {
    s.bytes.erase(it->first, it->second - it->first);
    removed += it->second - it->first;
  }
  for (auto& c : s.cuts) c.offset -= removed;
  prepend(s, h);
  return true;
}

// The submission's DKIM signatures on top of the skeleton. A failure to sign is logged
// through `out.dkim` and the message goes unsigned (the receiver's DMARC decides).
void sign_into(SubmissionSigner& signer, std::time_t now, mime::Skeleton& s, Outcome& out) {
  std::string why;
  const auto fields = signer.finish(static_cast<std::int64_t>(now), why);
  if (!why.empty()) {
    out.dkim = why;
    return;
  }
  if (fields.empty()) return;
  std::string all;
  for (const auto& f : fields) all += f;
  out.dkim = "d=" + signer.domain() + " s=";
  for (const auto& sel : signer.selectors()) out.dkim += (out.dkim.back() == '=' ? "" : ",") + sel;
  prepend(s, all);
}

// The spam check of a split message, before the commit (Inbound::spam_check), or of a
// stored one being submitted. The message is streamed from the skeleton and `blobs` (the
// staged attachments, or the store's); above
// [spam] max_size only the skeleton goes (header, text, structure), so an attachment is
// never sent twice. False (and `out` set) when the message is refused or deferred.
// The envelope as rspamd is told it (its HTTP headers): `peer_*` empty when the message
// did not come over SMTP (a JMAP submission).
SpamQuery spam_query(const smtp::Envelope& env, const std::string& peer_ip, const std::string& peer_name,
                     const std::string& hostname, const std::string& trace_id) {
  SpamQuery q;
  q.ip = peer_ip;
  q.helo = env.ehlo_domain;
  q.peer_name = peer_name;
  q.mail_from = env.mail_from.is_null() ? std::string() : env.mail_from.to_string();
  for (const auto& r : env.rcpt_to) q.rcpt_to.push_back(r.address.to_string());
  q.user = env.auth_user.value_or("");
  q.queue_id = trace_id;
  q.hostname = hostname;
  return q;
}

bool check_spam(SpamFilter& filter, const config::Spam& cfg, const SpamQuery& q, mime::BlobSource& blobs,
                mime::Skeleton& s, Outcome& out) {
  const bool outbound = !q.user.empty();
  SpamVerdict v;
  const std::uint64_t size = s.joined_size();
  if (size <= cfg.max_size_bytes) {
    mime::Joiner joiner(s, blobs);
    v = filter.check(q, size, [&](std::span<char> buf) { return joiner.read(buf); });
  } else {
    std::size_t pos = 0;
    v = filter.check(q, s.bytes.size(), [&](std::span<char> buf) -> boost::system::result<std::size_t> {
      const std::size_t n = std::min(buf.size(), s.bytes.size() - pos);
      std::copy_n(s.bytes.data() + pos, n, buf.data());
      pos += n;
      return n;
    });
    v.truncated = true;
  }
  out.spam_action = std::string(to_string(v.action));
  out.spam_score = v.score;
  out.spam_error = v.error;
  switch (v.action) {
    case SpamAction::unchecked:
      if (!cfg.fail_open) {
        out.status = Status::spam_deferred;
        out.detail = "spam check failed: " + v.error;
        return false;
      }
      break;
    case SpamAction::greylist:
      // The score passed the greylist threshold: rspamd's greylisting module, when it
      // runs, answers "soft reject" itself for a triplet it delays; "greylist" is what it
      // answers once it lets the message through (or when it does not run: no Redis).
      break;
    case SpamAction::soft_reject:
      out.status = Status::spam_deferred;
      out.detail = "spam check: " + out.spam_action;
      return false;
    case SpamAction::reject:
      if (cfg.reject || outbound) {
        out.status = Status::spam_rejected;
        out.detail = "spam check: reject, score " + std::to_string(v.score);
        return false;
      }
      out.spam_junk = true;
      break;
    case SpamAction::add_header:
    case SpamAction::rewrite_subject: out.spam_junk = !outbound; break;
    case SpamAction::no_action: break;
  }
  // A submission leaves as it was written: the verdict is for the log only.
  if (!outbound) apply_spam_fields(s, v, out.spam_junk);
  return true;
}

}  // namespace

mime::Limits mime_limits(const config::Config& cfg) {
  mime::Limits l;
  l.max_depth = cfg.limits.mime_max_depth;
  l.max_parts = cfg.limits.mime_max_parts;
  l.max_header_bytes = cfg.limits.mime_max_header_bytes;
  return l;
}

Intake Service::open_append() {
  auto st = std::make_unique<Intake::State>(store_, cfg_);
  st->trace_id = random_id();
  st->now = std::time(nullptr);
  return Intake(std::move(st));
}

Outcome Service::append(Append a, Intake intake) {
  const std::string id = intake.st_->trace_id;
  return guarded(id, [&] {
    Outcome out;
    Intake::State& st = *intake.st_;
    out.trace_id = st.trace_id;
    if (!st.failure.empty()) {
      out.internal_error = true;
      out.detail = st.failure;
      return out;
    }
    storage::Delivery& d = st.delivery;
    auto split = finish_split(d, st.splitter, cfg_, out);
    if (!split) return out;
    d.add_mailbox_row(a.account, a.mailbox, a.keywords,
                      storage::UnixSeconds(std::chrono::seconds(a.internal_date)));
    auto receipt = commit(d, out);
    if (!receipt) return out;
    if (!receipt->rows.empty()) out.uid = receipt->rows.front().uid;
    return out;
  });
}

Outcome Service::deliver(Inbound in) {
  std::optional<Intake> intake;
  Outcome opened = guarded("", [&] {
    intake.emplace(open_intake(in));
    intake->write(in.bytes);
    std::string().swap(in.bytes);
    Outcome opened_ok;
    opened_ok.status = Status::ok;
    return opened_ok;
  });
  if (!intake) return opened;
  return deliver(std::move(in), std::move(*intake));
}

Outcome Service::deliver(Inbound in, Intake intake) {
  const std::string id = intake.st_->trace_id;
  const std::string user = in.envelope.auth_user.value_or(""), peer = in.peer_ip;
  auto out = guarded(id, [&] { return deliver_inbound(std::move(in), intake); });
  if (observer_) observer_(out, Observed{user, peer});
  return out;
}

Outcome Service::deliver_inbound(Inbound in, Intake& intake) {
  Outcome out;
  Intake::State& st = *intake.st_;
  out.trace_id = st.trace_id;
  if (!st.failure.empty()) {
    out.internal_error = true;
    out.detail = st.failure;
    return out;
  }
  storage::Delivery& d = st.delivery;
  d.set_per_recipient_quota();
  std::function<bool(mime::Skeleton&)> adjust;
  const bool spam = spam_ && in.spam_check;
  if (st.check || st.signer || spam) {
    adjust = [&](mime::Skeleton& s) {
      if (st.check && !authenticate(*st.check, cfg_.hostname, auth_.enforce_reject, s, out)) return false;
      // Before the signature: a submission's verdict adds nothing; an inbound one adds
      // fields above the trace header.
      if (spam && !check_spam(*spam_, cfg_.spam,
                              spam_query(in.envelope, in.peer_ip, in.peer_name, cfg_.hostname, st.trace_id),
                              d.staged_source(), s, out)) {
        return false;
      }
      if (st.signer) sign_into(*st.signer, st.now, s, out);
      return true;
    };
  }
  auto split = finish_split(d, st.splitter, cfg_, out, adjust);
  if (!split) {
    if (out.status == Status::spam_rejected && in.envelope.auth_user) {
      tell_admins_outbound_spam(*in.envelope.auth_user, out, st.now);
    }
    return out;
  }
  // The header section is the skeleton's own (never cut): what the client sent.
  if (in.check_header_senders && !in.sent_account.empty() &&
      !header_senders_allowed(in.sent_account, split->skeleton.bytes)) {
    out.status = Status::from_rejected;
    out.detail = "From/Sender header not owned by " + in.sent_account;
    return out;
  }

  const auto internal = to_seconds(st.now);
  auto placed = place_local(d, in.local_accounts, in.envelope, split->skeleton, split->summary, st.now, internal, out);
  std::size_t rows = placed.rows;
  const std::size_t rejected = placed.rejected;
  const auto& relay_redirects = placed.relay_redirects;
  const auto& after = placed.after;
  const auto& skel = split->skeleton;
  if (!in.sent_account.empty()) d.add_mailbox_row(in.sent_account, "Sent", {"$seen"}, internal), ++rows;
  auto qenv = queue_envelope(in.envelope, in.foreign);
  if (srs_ && in.sent_account.empty() && !in.foreign.empty() && !qenv.mail_from.empty()) {
    // Forwarding mail from elsewhere: the next hop checks SPF of the envelope sender's
    // domain, which never listed us. A sender of our own domains stays as it is.
    const auto at = qenv.mail_from.rfind('@');
    auto local = store_.is_local_domain(at == std::string::npos ? "" : lower(qenv.mail_from.substr(at + 1)));
    if (local && !*local) qenv.mail_from = srs_->forward(qenv.mail_from, st.now);
  }
  out.queue_rows = add_queue_rows(d, qenv, in.foreign, internal);
  if (!relay_redirects.empty()) {
    // Sieve redirect (RFC 5228 4.2): the original sender stays (SRS for a foreign one).
    auto renv = queue_envelope(in.envelope, relay_redirects);
    if (srs_ && !renv.mail_from.empty()) {
      const auto at = renv.mail_from.rfind('@');
      auto local = store_.is_local_domain(at == std::string::npos ? "" : lower(renv.mail_from.substr(at + 1)));
      if (local && !*local) renv.mail_from = srs_->forward(renv.mail_from, st.now);
    }
    out.queue_rows += add_queue_rows(d, renv, relay_redirects, internal);
  }
  if (rows == 0 && out.queue_rows == 0 && !in.local_accounts.empty()) {
    if (rejected > 0 && in.sent_account.empty()) {
      // Every recipient's script rejected it and no one else gets it: refused in the
      // SMTP transaction (RFC 5429 2.1: the reason goes to the sender's MTA).
      out.status = Status::sieve_rejected;
      for (const auto& x : after) {
        if (x.reject) out.detail = "rejected by the recipient's filter: " + *x.reject;
      }
      return out;
    }
    // Every recipient's hook or script discarded the message: accepted, nothing to store.
    out.status = Status::ok;
    return out;
  }

  auto receipt = commit(d, out);
  if (!receipt) return out;
  committed_queue_rows(out.queue_rows);
  out.over_quota = receipt->over_quota;
  if (!out.over_quota.empty()) report_over_quota(in.envelope, split->skeleton.bytes, out.over_quota, st.now, out);
  follow_up(placed, in.envelope, skel, split->summary, st.now, out);
  return out;
}

// RFC 3464: the sender learns which recipients were over quota (the others got the
// message). Local senders get the report in their INBOX, foreign ones through the relay
// with a null reverse-path; a null sender gets none (RFC 5321 4.5.5).
void Service::report_over_quota(const smtp::Envelope& env, std::string_view message,
                                const std::vector<std::string>& accounts, std::time_t arrival, Outcome& out) {
  if (env.mail_from.is_null()) {
    out.over_quota_report = "none: null sender";
    return;
  }
  mime::DsnInput in;
  in.reporting_mta = cfg_.hostname;
  in.to = env.mail_from.to_string();
  in.original_envid = env.params.envid;
  in.arrival_date = arrival;
  in.original_headers = mime::header_section(message);
  for (const auto& a : accounts) {
    in.recipients.push_back({a, "failed", "5.2.2", "", "552 5.2.2 " + a + ": mailbox full (quota exceeded)"});
  }
  auto sent = deliver_report(std::move(in), true);
  out.over_quota_report = sent.status == Status::ok ? sent.message_id : "failed: " + sent.detail;
}

Outcome Service::deliver_report(mime::DsnInput report, bool relay_foreign) {
  report.date = std::time(nullptr);
  report.original_subject = subject_of(report.original_headers);
  report.random_seed = random64();
  const std::string to = report.to;
  return send_generated(to, mime::compose_dsn(report), relay_foreign);
}

Outcome Service::send_generated(const std::string& to_address, std::string bytes, bool relay_foreign) {
  Outcome out;
  const std::string path = "<" + to_address + ">";
  auto to = smtp::parse_path(path, smtp::PathKind::Forward);
  if (to_address.empty() || !to || !to->rest.empty()) {
    out.status = Status::bad_recipients;
    out.detail = "no report: the reverse-path is null or malformed";
    return out;
  }
  Inbound msg;
  auto local = store_.resolve_recipient(lower(to_address));
  if (local && !local->accounts.empty()) {
    msg.local_accounts = local->accounts;
  } else if (relay_foreign) {
    msg.foreign = {to_address};
  } else {
    out.status = Status::bad_recipients;
    out.detail = "sender " + to_address + " is not local: no report";
    return out;
  }
  msg.envelope.ehlo_domain = cfg_.hostname;
  msg.envelope.rcpt_to.push_back(smtp::Recipient{to->address, {}});
  msg.bytes = std::move(bytes);
  msg.peer_ip = "127.0.0.1";
  msg.peer_name = "localhost";
  msg.sign = true;
  return deliver(std::move(msg));
}

// A submission the spam check refused: a compromised account, or a user about to be
// blocked by the world. Every admin gets a note in INBOX, at most one per user per hour
// (the log and refmail_spam_outbound_blocked_total count every refusal).
void Service::tell_admins_outbound_spam(const std::string& user, Outcome& out, std::time_t now) {
  const auto t = static_cast<std::int64_t>(now);
  auto first = store_.sieve_remember(user, "spam-outbound-notice", t, t + 3600);
  if (!first || !*first) return;
  auto users = store_.list_users();
  if (!users) return;
  for (const auto& u : *users) {
    if (!u.is_admin) continue;
    std::string note = "From: Mail Delivery System <MAILER-DAEMON@" + cfg_.hostname + ">\r\nTo: <" + u.address +
                       ">\r\nSubject: Outgoing spam stopped from " + user + "\r\nDate: " +
                       mime::format_rfc5322_date(t) + "\r\nMessage-ID: <" + random_id() + "@" + cfg_.hostname +
                       ">\r\nAuto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
                       "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                       "The spam filter refused a message submitted by " + user + " (" + out.detail +
                       ").\r\nIf the account is compromised, reset its password (refmailctl user passwd).\r\n"
                       "Further refusals for this user within the hour are logged (spam.outbound_blocked)\r\n"
                       "and counted (refmail_spam_outbound_blocked_total) without another note.\r\n";
    auto sent = send_generated(u.address, std::move(note), false);
    out.after_notes.push_back("admin notice " + u.address + ": " + (sent.status == Status::ok ? "sent" : sent.detail));
  }
}

std::string subject_of(std::string_view headers) {
  auto bodies = mime::header_field_bodies(headers, {"subject"});
  if (bodies.empty()) return {};
  std::string_view v = bodies.front();
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return std::string(v);
}

// ---------------------------------------------------------------- JMAP

Outcome Service::store_composed(Composed c) {
  return guarded("", [&] {
    Outcome out;
    auto d = store_.begin_delivery();
    set_message(d, c.skeleton, c.summary, out);
    for (const auto& b : c.mailboxes) d.add_mailbox_row(c.account, b, c.keywords);
    (void)commit(d, out);
    return out;
  });
}

Outcome Service::submit(Submission s) {
  const std::string user = s.account;
  auto out = guarded("", [&] { return submit_message(std::move(s)); });
  if (observer_) observer_(out, Observed{user, ""});
  return out;
}

// DKIM for a JMAP submission: the stored message joined from its blobs streams through
// the signer (no whole copy), the signatures go on top of its skeleton. Unsigned (and
// why in out.dkim) when it cannot be read.
void Service::sign_record(storage::MessageRecord& record, Outcome& out) {
  auto skel = mime::Skeleton::parse(record.skeleton);
  if (!skel) {
    out.dkim = "not signed: skeleton unreadable";
    return;
  }
  SubmissionSigner signer([keys = dkim_](std::string_view domain) { return keys->signers(domain); });
  mime::Joiner joiner(*skel, store_.blob_source());
  std::string buf(64 * 1024, '\0');
  for (;;) {
    auto n = joiner.read(std::span<char>(buf.data(), buf.size()));
    if (!n) {
      out.dkim = "not signed: " + n.error().message();
      return;
    }
    if (*n == 0) break;
    signer.feed(std::string_view(buf.data(), *n));
  }
  sign_into(signer, std::time(nullptr), *skel, out);
  if (!out.dkim.starts_with("d=")) return;
  record.skeleton = skel->serialize();
  record.logical_size = skel->joined_size();
}

Outcome Service::submit_message(Submission s) {
  Outcome out;
  auto summary = mime::Summary::parse(s.record.summary);
  // The rule SMTP submission applies: MAIL FROM, then the From:/Sender: addresses.
  if (!may_send_as(s.account, s.mail_from)) {
    out.status = Status::sender_rejected;
    out.detail = "mailFrom " + s.mail_from.substr(0, 320) + " is not " + s.account + " or one of its aliases";
    return out;
  }
  if (summary && cfg_.smtp_policy.check_header_from) {
    for (const auto* list : {&summary->from, &summary->sender}) {
      for (const auto& a : *list) {
        if (!may_send_as(s.account, a.email)) {
          out.status = Status::from_rejected;
          out.detail = "From/Sender " + a.email.substr(0, 320) + " is not " + s.account + " or one of its aliases";
          return out;
        }
      }
    }
  }
  if (s.rcpt_to.empty() || s.rcpt_to.size() > cfg_.limits.recipients) {
    out.status = Status::bad_recipients;
    out.detail = "no (or too many) recipients";
    return out;
  }
  std::vector<std::string> local, foreign;
  // The envelope as an SMTP submission would have it: what local recipients' scripts see.
  smtp::Envelope env;
  env.auth_user = s.account;
  if (auto from = smtp::parse_path("<" + s.mail_from + ">", smtp::PathKind::Reverse); from && from->rest.empty()) {
    env.mail_from = from->address;
  }
  for (const auto& r : s.rcpt_to) {
    std::string path = "<" + r + ">";
    auto parsed = smtp::parse_path(path, smtp::PathKind::Forward);
    Route route;
    if (!parsed || !parsed->rest.empty() || parsed->address.domain.empty() ||
        this->route(parsed->address, s.account, std::nullopt, route) != smtp::RcptVerdict::Accept) {
      out.status = Status::bad_recipients;
      out.detail = "recipient " + r.substr(0, 320) + " is malformed or unknown";
      return out;
    }
    env.rcpt_to.push_back(smtp::Recipient{parsed->address, {}, {}});
    for (auto& a : route.accounts)
      if (std::find(local.begin(), local.end(), a) == local.end()) local.push_back(std::move(a));
    for (auto& f : route.foreign) foreign.push_back(std::move(f));
  }
  // The outbound spam policy, as for an SMTP submission: refused or deferred, never
  // altered (a compromised account's spam is stopped and the admins are told).
  if (spam_ && cfg_.spam.outbound) {
    if (auto skel = mime::Skeleton::parse(s.record.skeleton)) {
      if (!check_spam(*spam_, cfg_.spam, spam_query(env, "", "", cfg_.hostname, random_id()), store_.blob_source(),
                      *skel, out)) {
        if (out.status == Status::spam_rejected) tell_admins_outbound_spam(s.account, out, std::time(nullptr));
        return out;
      }
    }
  }
  // Signed here, once (the sender's own stored copy stays as composed): the local
  // recipients' rows and the relayed copies share the signed record.
  if (dkim_) sign_record(s.record, out);
  auto d = store_.begin_delivery();
  d.set_message(s.record);  // same skeleton: blobs referenced, not copied
  if (summary) set_thread_keys(d, *summary);
  const std::time_t t = std::time(nullptr);
  const auto now = to_seconds(t);
  // Local recipients are placed as mail from the world is: hook, Sieve, vacation.
  auto skel = mime::Skeleton::parse(s.record.skeleton);
  LocalPlacement placed;
  if (skel && summary) {
    placed = place_local(d, local, env, *skel, *summary, t, now, out);
  } else {
    for (const auto& a : local) d.add_mailbox_row(a, "INBOX", {}, now), ++placed.rows;
  }
  QueueEnvelope base;
  base.mail_from = s.mail_from;
  // SMTPUTF8 when an address needs it (RFC 6531 3.4).
  auto utf8 = [](const std::string& a) {
    return std::any_of(a.begin(), a.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  };
  base.smtputf8 = utf8(s.mail_from) || std::any_of(foreign.begin(), foreign.end(), utf8);
  out.queue_rows = add_queue_rows(d, base, foreign, now);
  if (!placed.relay_redirects.empty()) {
    base.smtputf8 = base.smtputf8 || std::any_of(placed.relay_redirects.begin(), placed.relay_redirects.end(), utf8);
    out.queue_rows += add_queue_rows(d, base, placed.relay_redirects, now);
  }
  if (placed.rows > 0 || out.queue_rows > 0) {
    auto receipt = commit(d, out);
    if (!receipt) return out;
    committed_queue_rows(out.queue_rows);
    out.over_quota = receipt->over_quota;
  } else {
    // Every local recipient's script discarded or rejected it: sent, nothing stored (the
    // sender gets the rejection reports); the submission still gets an id of its own.
    out.status = Status::ok;
    out.message_id = "M" + random_id();
  }
  out.bytes = s.record.logical_size;
  if (skel && summary) follow_up(placed, env, *skel, *summary, t, out);
  return out;
}

Outcome Service::hold_upload(const std::string& account, std::string_view bytes, storage::UnixSeconds expires) {
  return guarded("", [&] {
    Outcome out;
    auto d = store_.begin_delivery();
    auto blob = d.put_blob(bytes);
    if (!blob) {
      out.detail = storage::error_detail(blob.error());
      return out;
    }
    // The hold record: a one-cut skeleton (so the blob has a referencing message) that
    // keeps the blob alive and granted until it expires or is released.
    mime::SkeletonBuilder b;
    mime::Cut cut;
    cut.blob_id = *blob;
    cut.encoding = mime::CutEncoding::Identity;
    cut.decoded_size = bytes.size();
    b.append_cut(cut);
    mime::Skeleton sk = b.finish();
    storage::MessageRecord rec;
    rec.skeleton = sk.serialize();
    rec.blob_ids = {*blob};
    rec.logical_size = 0;
    d.set_message(std::move(rec));
    // The upload counts against the uploader's quota until its hold expires or is
    // released (RFC 8620 6.1), whether or not the bytes were already stored.
    d.add_upload_hold(account, expires, bytes.size());
    auto receipt = commit(d, out);
    if (!receipt) return out;
    out.message_id = *blob;  // the upload's answer is the blob, not the hold record
    out.bytes = bytes.size();
    return out;
  });
}

// ---------------------------------------------------------------- legacy import

Outcome Service::import(Import in) {
  return guarded("", [&] { return import_message(std::move(in)); });
}

Outcome Service::import_message(Import in) {
  Outcome out;
  // The target mailbox: INBOX always exists; others are created on first use.
  if (lower(in.mailbox) != "inbox") {
    auto boxes = store_.list_mailboxes(in.account);
    if (!boxes) {
      out.detail = storage::error_detail(boxes.error());
      return out;
    }
    bool have = std::any_of(boxes->begin(), boxes->end(), [&](const auto& b) { return b.name == in.mailbox; });
    if (!have) {
      auto made = store_.create_mailbox(in.account, in.mailbox);
      if (!made && made.error() != storage::errc::exists) {
        out.detail = "creating mailbox " + in.mailbox + ": " + storage::error_detail(made.error());
        return out;
      }
    }
  }
  storage::Delivery d = store_.begin_delivery();
  if (!split_into(d, cfg_, in.bytes, out)) return out;
  in.bytes.clear();
  in.bytes.shrink_to_fit();
  d.add_mailbox_row(in.account, in.mailbox, in.keywords, storage::UnixSeconds(std::chrono::seconds(in.internal_date)));
  // Other local recipients get a grant only (they may download the blobs; the message
  // is not put in their mailboxes): a hold that never expires, which keeps the message
  // and its blobs alive and counts in the grant until the account is deleted.
  // SECURITY: the caller resolved these from the message's own To/Cc, which the
  // original sender wrote; a grant for bytes that sender supplied reveals nothing new.
  constexpr auto kNeverExpires = storage::UnixSeconds(std::chrono::seconds(std::int64_t(1) << 62));
  std::set<std::string> granted;
  for (const auto& a : in.grant_accounts)
    if (a != in.account && granted.insert(a).second) d.add_upload_hold(a, kNeverExpires);
  if (!in.import_state.empty()) {
    std::vector<storage::ImportStateOp> ops;
    ops.reserve(in.import_state.size());
    for (auto& [key, value] : in.import_state) ops.push_back({std::move(key), std::move(value)});
    d.add_import_state(std::move(ops));
  }
  auto receipt = commit(d, out);
  if (!receipt) return out;
  out.grants = receipt->upload_ids.size();
  return out;
}

}  // namespace refmail::delivery
