// delivery/service.hpp — the delivery service: the one way mail enters a mailbox or the
// relay queue. SMTP (MX and submission), JMAP Email/set and EmailSubmission/set,
// uploads, the legacy import and the server's own reports (bounces, over-quota DSNs)
// all call it, and IMAP APPEND and Sieve's actions. It owns recipient routing (users,
// aliases, catch-alls, postmaster), the sender rule (the same for SMTP and JMAP), trace
// headers, the split, the summary, quota, one durable commit per message and the queue
// rows (one per destination domain, whoever submitted). The relay is woken through the
// waker given at construction.
// Must never: acknowledge before the commit returned, or store half a message.
// Every call is blocking (split, argon2-free store reads, a synced commit): run it on a
// pool thread. Never throws: an exception on the way (a bug) fails that delivery only.
#pragma once
#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "delivery/queue_envelope.hpp"
#include "mime/dsn.hpp"
#include "mime/skeleton.hpp"
#include "mime/summary.hpp"
#include "smtp/action.hpp"
#include "smtp/envelope.hpp"
#include "storage/types.hpp"

namespace refmail::storage {
class Store;
class Delivery;
}  // namespace refmail::storage

namespace refmail::trust {
class DnsLookup;
class PublicSuffixList;
}  // namespace refmail::trust

namespace refmail::delivery {

// Where one accepted recipient's copies go.
struct Route {
  std::vector<std::string> accounts;  // local accounts (an alias may name several)
  std::vector<std::string> foreign;   // relay targets (the recipient, or an alias's)
};

enum class Status {
  ok,
  temp_fail,          // a store error: retry later
  quota_exceeded,     // every local recipient is over quota
  sender_rejected,    // the envelope sender (MAIL FROM, mailFrom) is not the user's
  from_rejected,      // a From: or Sender: address is not the user's (RFC 6409 8)
  bad_recipients,     // a recipient is malformed, unknown, or there is none
  invalid,            // the message cannot be split or composed
  dmarc_rejected,     // the From domain's DMARC policy says reject, and [auth] enforces it
  sieve_rejected,     // every local recipient's Sieve script rejected it (RFC 5429), no one else
  spam_rejected,      // rspamd says reject ([spam] reject), or an outbound submission is spam
  spam_deferred,      // rspamd says soft reject (its greylisting), or failed with fail_mode closed
};

struct Outcome {
  Status status = Status::temp_fail;
  std::string message_id;  // the stored message ("queued as ...")
  std::string trace_id;    // the Received header's id, for the log
  std::string detail;      // why, for the log and the client
  std::uint64_t bytes = 0;  // logical size stored
  std::size_t cuts = 0;     // attachments cut out
  std::uint64_t cut_bytes = 0;
  std::uint64_t new_blob_bytes = 0;
  std::size_t queue_rows = 0;
  std::size_t grants = 0;  // import: grants given to other local recipients
  std::uint32_t uid = 0;   // append: the new row's UID
  // Local accounts left out for being over quota (the others got the message; the
  // sender was sent a report for these), and what became of that report.
  std::vector<std::string> over_quota;
  std::string over_quota_report;
  // The delivery failed on an exception (a bug), not on a store error.
  bool internal_error = false;
  // Inbound authentication (Inbound::verify): the Authentication-Results field added,
  // without its name and folds, for the log; "" when the message was not checked.
  std::string authentication;
  bool quarantined = false;  // DMARC quarantine: the copies went to Junk
  // DKIM signing at submission: "d=<domain> s=<selector>,<selector>", or why it failed;
  // "" when no key applied.
  std::string dkim;
  // The spam check (Inbound::spam_check): rspamd's action ("" when not checked), its
  // score, and whether the copies went to Junk.
  std::string spam_action;
  double spam_score = 0;
  bool spam_junk = false;
  std::string spam_error;  // unchecked: why
  // What was sent after the delivery (vacation replies, rejection reports, notes about a
  // failing script or an account sending spam), one line each, for the log.
  std::vector<std::string> after_notes;
};

// Inbound authentication for mail from the world (Inbound::verify): SPF, DKIM and DMARC
// (trust/inbound.hpp) before the commit, their results in one Authentication-Results
// field above the trace header, forged fields claiming our host name removed (RFC 8601
// 5). A DMARC quarantine lands in the recipient's Junk (INBOX when it has none) with
// $junk; a DMARC reject is refused (550 5.7.1) only when `enforce_reject`, else
// quarantined. Set by the server from [auth].
class DkimKeyring;
class Srs;
class SpamFilter;
class SieveCache;
struct SieveSetup;
struct SieveFollowUp;
class DeliveredMessage;

struct InboundAuth {
  std::function<std::unique_ptr<trust::DnsLookup>()> dns;  // one resolver per message
  std::shared_ptr<const trust::PublicSuffixList> psl;
  bool enforce_reject = false;
};

// What the per-recipient hook decides for one local account before the commit (the
// filtering issue plugs spam verdicts and Sieve in here).
struct Placement {
  std::string mailbox = "INBOX";       // an existing mailbox of the account
  std::vector<std::string> keywords;   // added to the row ("$junk", "$flagged")
  bool discard = false;                // no row for this account (Sieve "discard")
};
struct RecipientFacts {
  const std::string& account;
  const smtp::Envelope& envelope;
  const mime::Summary& summary;
};
using RecipientHook = std::function<Placement(const RecipientFacts&)>;

// A message received over SMTP, or composed by the server (bounces, reports).
struct Inbound {
  smtp::Envelope envelope;
  std::string bytes;                        // as received, after dot-unstuffing
  std::vector<std::string> local_accounts;  // from route(), deduplicated
  std::vector<std::string> foreign;         // relay recipients
  std::string sent_account;                 // the submitting account ("" on the MX)
  std::string peer_ip;
  std::string peer_name;                    // reverse name if known, else ""
  // Submission: the From: and Sender: addresses must be sent_account's too
  // (header_senders_allowed), checked on the received header section.
  bool check_header_senders = false;
  // Mail from the world (the MX, unauthenticated, a client outside [auth] skip_networks):
  // checked with the service's InboundAuth when it has one. Read by open_intake.
  bool verify = false;
  // Checked by the service's SpamFilter when it has one ([spam]): mail from the world
  // with the inbound policy (reject, Junk, defer), an authenticated submission with the
  // outbound one (reject and defer only; nothing is added to the message).
  bool spam_check = false;
  // The server's own reports (bounces, over-quota and delay notices): DKIM-signed with the
  // From domain's keys (the hostname's), as a submission is. Read by open_intake.
  bool sign = false;
};

// A message arriving in pieces (SMTP DATA/BDAT): each piece goes through the splitter
// into the delivery's blob sink as it comes (attachments decoded and staged, the rest
// kept as the skeleton), so no whole copy of the message is ever held. Made by
// Service::open_intake, which writes the trace header first; finished by
// Service::deliver(Inbound, Intake). One thread at a time; dropping it forgets
// everything written.
class Intake {
 public:
  Intake(Intake&&) noexcept;
  Intake& operator=(Intake&&) noexcept;
  ~Intake();
  // Any piece size. Blocking (decoding, hashing): call it on a pool thread.
  void write(std::string_view bytes);
  // Bytes written so far, the trace header included.
  [[nodiscard]] std::uint64_t size() const noexcept;
  // Memory the message holds until it is committed: the skeleton so far and the
  // staged attachment bytes still in memory (attachments past a chunk are written to
  // the store as they arrive).
  [[nodiscard]] std::size_t held_bytes() const noexcept;

  struct State;

 private:
  friend class Service;
  explicit Intake(std::unique_ptr<State> st);
  std::unique_ptr<State> st_;
};

// IMAP APPEND (RFC 9051 6.3.12): a message the account saves into one of its own
// mailboxes, streamed through an intake from open_append() (no trace header: the bytes
// stay exactly as the client sent them). Its attachments are stored by content, so a
// client saving the copy of a message it just submitted stores no new attachment bytes.
struct Append {
  std::string account;
  std::string mailbox;               // an existing mailbox of the account
  std::vector<std::string> keywords;
  std::int64_t internal_date = 0;    // Unix seconds
};

// JMAP Email/set create: a message composed by the account into its own mailboxes.
struct Composed {
  std::string account;
  std::set<std::string> mailboxes;  // names, each existing
  std::vector<std::string> keywords;
  mime::Skeleton skeleton;          // blobs already stored (uploads, forwarded parts)
  mime::Summary summary;
};

// JMAP EmailSubmission/set: an email the account holds, sent to the envelope given.
struct Submission {
  std::string account;
  std::string mail_from;
  std::vector<std::string> rcpt_to;
  storage::MessageRecord record;  // the email's record: same skeleton, blobs shared
};

// One message copied from a legacy server (server/import_worker.cpp): no envelope and
// no trace header (the bytes stay exactly as the source holds them); it lands in
// `account`'s `mailbox` (created when missing) with the source's keywords and internal
// date. `grant_accounts` (other local recipients) get a grant only, no mailbox row.
struct Import {
  std::string account;
  std::string mailbox = "INBOX";
  std::vector<std::string> keywords;
  std::int64_t internal_date = 0;  // Unix seconds
  std::string bytes;
  std::vector<std::string> grant_accounts;
  // Import state written in the message's own batch: both durable or neither.
  std::vector<std::pair<std::string, std::optional<std::string>>> import_state;
};

class Service {
 public:
  // `wake_relay` is called after every commit that added relay queue rows (from the
  // thread that committed); empty: nobody is woken (the relay polls on its own).
  Service(storage::Store& store, const config::Config& cfg, std::function<void()> wake_relay = {});

  void set_wake_relay(std::function<void()> wake) { wake_relay_ = std::move(wake); }
  void set_recipient_hook(RecipientHook hook) { hook_ = std::move(hook); }
  void set_inbound_auth(InboundAuth auth) { auth_ = std::move(auth); }
  // DKIM keys (delivery/dkim_signing.hpp): messages submitted by an authenticated user
  // whose From domain has signing keys are signed once, at submission, and stored signed.
  void set_dkim(std::shared_ptr<DkimKeyring> keys) { dkim_ = std::move(keys); }
  // SRS (delivery/srs.hpp): mail from the world that an alias forwards to another domain
  // leaves with an SRS0/SRS1 envelope sender at our domain; RCPT to such an address (a
  // bounce coming back) routes to the sender it stands for, only when its hash holds.
  void set_srs(std::shared_ptr<const Srs> srs) { srs_ = std::move(srs); }
  // Spam filtering (delivery/spam.hpp, config [spam]): Inbound::spam_check messages are
  // checked after the split and before the commit, with the message streamed from the
  // skeleton and the staged attachments (nothing copied).
  void set_spam(std::shared_ptr<SpamFilter> filter) { spam_ = std::move(filter); }
  // Told of every delivery (SMTP, reports) and submission (JMAP) once it returns, on the
  // calling thread: the daemon logs and counts what Sieve and the spam filter did there
  // (server/daemon.cpp), whatever path the message took. Set once at start-up.
  struct Observed {
    std::string_view user;  // the authenticated sender ("" for mail from the world)
    std::string_view peer;  // the client's IP ("" when not over SMTP)
  };
  using Observer = std::function<void(const Outcome&, const Observed&)>;
  void set_observer(Observer observer) { observer_ = std::move(observer); }
  // Sieve (delivery/sieve_filter.hpp): every local recipient of mail delivered through
  // deliver() runs the admin's `before` script and its active script (Store::sieve_active)
  // before the commit. Without a call: no before script, default limits.
  void set_sieve(std::shared_ptr<const SieveSetup> setup);

  // --- routing and policy (RCPT TO, EmailSubmission recipients)

  // One recipient for a session authenticated as `auth_user` (nullopt on the MX): the
  // verdict of smtp::classify_recipient and, when accepted, where its copies go. A
  // postmaster without an account reaches the admins (RFC 5321 4.5.1); a declared size
  // that no local account can take is refused here (RFC 1870 6).
  [[nodiscard]] smtp::RcptVerdict route(const smtp::Address& rcpt, const std::optional<std::string>& auth_user,
                                        std::optional<std::uint64_t> declared_size, Route& out) const;
  // RFC 6409 6.1: `user` may send as its own address or an alias that delivers to it
  // (any address when [smtp] allow_any_sender). A null reverse-path is refused.
  [[nodiscard]] bool may_send_as(const std::string& user, const smtp::Address& address) const;
  [[nodiscard]] bool may_send_as(const std::string& user, std::string address) const;
  // RFC 6409 8: every From: and Sender: address of a submitted message passes
  // may_send_as (when [smtp] check_header_from). A message without them passes.
  [[nodiscard]] bool header_senders_allowed(const std::string& user, std::string_view message) const;

  // --- entry paths

  // SMTP and the server's own reports: trace header, split, summary, one commit with an
  // INBOX row per local account (or the hook's placement), a Sent row for a submitting
  // user, one queue row per foreign destination domain. Quota is per recipient.
  [[nodiscard]] Outcome deliver(Inbound in);
  // The same for a message received in pieces: `in.bytes` is ignored (the intake has
  // them). open_intake takes the envelope and peer facts for the trace header.
  [[nodiscard]] Intake open_intake(const Inbound& in);
  [[nodiscard]] Outcome deliver(Inbound in, Intake intake);
  // IMAP APPEND: an intake without a trace header, then one commit of one row (its UID
  // in Outcome::uid). quota_exceeded when the account is over its quota.
  [[nodiscard]] Intake open_append();
  [[nodiscard]] Outcome append(Append a, Intake intake);
  // JMAP Email/set create.
  [[nodiscard]] Outcome store_composed(Composed c);
  // JMAP EmailSubmission/set: the sender rule, routing of every recipient, one INBOX row
  // per local account, one queue row per foreign destination domain.
  [[nodiscard]] Outcome submit(Submission s);
  // JMAP upload: the bytes as a blob held for `account` until `expires` (RFC 8620 6.1),
  // counted against its quota. message_id = the blob id on success.
  [[nodiscard]] Outcome hold_upload(const std::string& account, std::string_view bytes,
                                    storage::UnixSeconds expires);
  // The legacy import.
  [[nodiscard]] Outcome import(Import in);
  // A delivery status notification (RFC 3464) to `report.to`, delivered like any message:
  // into the local sender's INBOX or, when `relay_foreign`, through the relay with a null
  // reverse-path (bad_recipients when `to` is not local and !relay_foreign). The date,
  // the original's subject (from original_headers) and the boundary seed are set here.
  [[nodiscard]] Outcome deliver_report(mime::DsnInput report, bool relay_foreign);

  // The trace header for one hop (RFC 5321 4.4, RFC 3848 protocol names), CRLF-ended.
  [[nodiscard]] static std::string received_header(const Inbound& in, const std::string& hostname,
                                                   const std::string& id, std::time_t now);

 private:
  Outcome deliver_inbound(Inbound in, Intake& intake);
  Outcome submit_message(Submission s);
  void sign_record(storage::MessageRecord& record, Outcome& out);
  Outcome import_message(Import in);
  std::size_t add_queue_rows(storage::Delivery& d, const QueueEnvelope& base, const std::vector<std::string>& foreign,
                             storage::UnixSeconds when) const;
  void report_over_quota(const smtp::Envelope& env, std::string_view message, const std::vector<std::string>& accounts,
                         std::time_t arrival, Outcome& out);
  void committed_queue_rows(std::size_t rows) const;
  // A message the server writes (report, vacation reply, notice) to `to`, with a null
  // reverse-path: into the local account's INBOX, or through the relay when
  // `relay_foreign` (else bad_recipients). DKIM-signed like a submission.
  Outcome send_generated(const std::string& to, std::string bytes, bool relay_foreign);
  void tell_admins_outbound_spam(const std::string& user, Outcome& out, std::time_t now);
  void sieve_follow_up(DeliveredMessage& view, const smtp::Envelope& env, std::time_t now,
                       const std::vector<SieveFollowUp>& items, Outcome& out);
  // The local recipients' rows of one message (delivered or submitted), by hook or Sieve.
  struct LocalPlacement {
    std::size_t rows = 0;
    std::size_t rejected = 0;                  // recipients whose script rejected it
    std::vector<std::string> relay_redirects;  // Sieve redirects to foreign addresses
    std::vector<SieveFollowUp> after;          // vacation replies, reject reports, errors
  };
  LocalPlacement place_local(storage::Delivery& d, const std::vector<std::string>& accounts,
                             const smtp::Envelope& env, const mime::Skeleton& skel, const mime::Summary& summary,
                             std::time_t now, storage::UnixSeconds internal, Outcome& out);
  // After the commit of a message placed by place_local: its follow-ups.
  void follow_up(const LocalPlacement& placed, const smtp::Envelope& env, const mime::Skeleton& skel,
                 const mime::Summary& summary, std::time_t now, Outcome& out);

  storage::Store& store_;
  const config::Config& cfg_;
  std::function<void()> wake_relay_;
  RecipientHook hook_;
  InboundAuth auth_;
  std::shared_ptr<DkimKeyring> dkim_;
  std::shared_ptr<const Srs> srs_;
  std::shared_ptr<SpamFilter> spam_;
  Observer observer_;
  std::shared_ptr<SieveCache> sieve_cache_;
  std::shared_ptr<const SieveSetup> sieve_;
};

// The MIME parser's bounds every message is split with (config [limits] mime_*): what
// reads a stored skeleton's structure (the IMAP message view) must use the same ones.
[[nodiscard]] mime::Limits mime_limits(const config::Config& cfg);

// The Subject field's value in a header section, unfolded and trimmed ("" when absent).
[[nodiscard]] std::string subject_of(std::string_view headers);

// The SMTP reply for a delivery outcome.
[[nodiscard]] smtp::DeliveryStatus smtp_status(Status s);

}  // namespace refmail::delivery
