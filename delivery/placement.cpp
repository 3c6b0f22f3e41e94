// delivery/placement.cpp — where a message goes for each local recipient (the hook, the
// spam verdict's Junk, the admin's and the user's Sieve scripts, the vacation reply) and
// what follows the commit (vacation replies, rejection reports, script-error notes). One
// path for mail from the world (deliver) and for submissions (submit).
// Must never: lose a recipient's copy to a failing script (the implicit keep stands), or
// reply to mail the user never got.
#include <algorithm>
#include <map>
#include <set>

#include "delivery/service.hpp"
#include "delivery/service_internal.hpp"
#include "delivery/sieve_filter.hpp"
#include "delivery/spam.hpp"
#include "mime/dsn.hpp"
#include "mime/headers.hpp"
#include "mime/rfc2047.hpp"
#include "sieve/vacation.hpp"
#include "smtp/address.hpp"
#include "storage/store.hpp"

namespace refmail::delivery {
namespace {

using detail::lower;
using detail::random_id;

// The recipient's Junk mailbox ("Junk" or "Spam", any case); an account without one
// gets "Junk" made (as a client's first "mark as spam" would, and Dovecot's autocreate
// does), so spam never lands in INBOX. INBOX only when even that fails.
std::string junk_mailbox(storage::Store& store, const std::string& account) {
  auto boxes = store.list_mailboxes(account);
  if (boxes) {
    for (const auto& b : *boxes) {
      if (is_junk_mailbox(b.name)) return b.name;
    }
  }
  auto made = store.create_mailbox(account, "Junk");
  if (made || made.error() == storage::errc::exists) return "Junk";
  return "INBOX";
}

}  // namespace

// Each local recipient once: its hook placement, or its Sieve plan (with the vacation
// reply it set), rows into `d`. Local redirect targets join the list; one already served
// is not served again (a redirect loop between local accounts ends here, RFC 5228 4.2).
Service::LocalPlacement Service::place_local(storage::Delivery& d, const std::vector<std::string>& accounts,
                                             const smtp::Envelope& env, const mime::Skeleton& skel,
                                             const mime::Summary& summary, std::time_t now,
                                             storage::UnixSeconds internal, Outcome& out) {
  LocalPlacement out_p;
  std::size_t& rows = out_p.rows;
  std::size_t& rejected = out_p.rejected;
  std::vector<std::string>& relay_redirects = out_p.relay_redirects;
  std::vector<SieveFollowUp>& after = out_p.after;
  const auto header_end = std::min(skel.bytes.size(), mime::header_section(skel.bytes).size());
  const std::string sender = env.mail_from.is_null() ? std::string() : env.mail_from.to_string();
  std::vector<std::string> todo(accounts.begin(), accounts.end());
  std::set<std::string> served;
  std::map<std::string, std::size_t> rows_of;
  std::optional<std::map<std::string, std::string>> rcpt_of;  // account -> RCPT TO address
  for (std::size_t i = 0; i < todo.size(); ++i) {
    const std::string a = todo[i];
    if (!served.insert(a).second) {
      // Redirected back to an account already served (a loop): it ends in that account's
      // INBOX when its own script sent the message away, so nothing is lost.
      if (i >= accounts.size() && rows_of[a] == 0) {
        d.add_mailbox_row(a, "INBOX", {}, internal);
        ++rows_of[a];
        ++rows;
      }
      continue;
    }
    Placement p;
    if (hook_) p = hook_(RecipientFacts{a, env, summary});
    if (p.discard) continue;
    auto spam_place = [&](std::string& mailbox, std::vector<std::string>& keywords) {
      if (!out.quarantined && !out.spam_junk) return;
      if (mailbox == "INBOX") mailbox = junk_mailbox(store_, a);
      if (std::find(keywords.begin(), keywords.end(), "$junk") == keywords.end()) keywords.push_back("$junk");
    };
    // The recipient as the sender addressed it (RCPT TO), else the account: each RCPT
    // resolved once per delivery, when the first script or vacation reply needs it.
    auto addressed_as = [&](const std::string& account) {
      if (!rcpt_of) {
        rcpt_of.emplace();
        for (const auto& r : env.rcpt_to) {
          auto route = store_.resolve_recipient(lower(r.address.to_string()));
          if (!route) continue;
          for (const auto& acct : route->accounts) rcpt_of->emplace(acct, r.address.to_string());
        }
      }
      const auto it = rcpt_of->find(account);
      return it == rcpt_of->end() ? account : it->second;
    };
    // The account's vacation reply (JMAP VacationResponse): never for mail the spam
    // filter sent to Junk (no backscatter to forged senders).
    std::optional<sieve::Vacation> away;
    if (!out.quarantined && !out.spam_junk) {
      if (auto settings = store_.vacation_get(a)) away = vacation_action(*settings, static_cast<std::int64_t>(now));
    }
    auto active = store_.sieve_active(a);
    const bool has_script = active && *active;
    if (!has_script && !sieve_->before) {
      spam_place(p.mailbox, p.keywords);
      d.add_mailbox_row(a, p.mailbox, p.keywords, internal);
      ++rows_of[a];
      ++rows;
      if (away) after.push_back({a, addressed_as(a), std::move(away), std::nullopt, {}});
      continue;
    }
    SieveCache::Entry user;
    if (has_script) user = sieve_cache_->get((*active)->content, sieve_->limits);
    const std::string rcpt = addressed_as(a);
    DeliveredMessage view(std::string_view(skel.bytes).substr(0, header_end), std::string_view(skel.bytes).substr(header_end),
                          summary, sender, rcpt, skel.joined_size());
    sieve::Context ctx;
    ctx.now_unix = static_cast<std::int64_t>(now);
    ctx.user_addresses = {a};
    if (rcpt != a) ctx.user_addresses.push_back(lower(rcpt));
    std::optional<std::vector<storage::MailboxInfo>> boxes;
    ctx.mailbox_exists = [&](std::string_view name) {
      if (!boxes) {
        auto l = store_.list_mailboxes(a);
        boxes = l ? std::move(*l) : std::vector<storage::MailboxInfo>{};
      }
      for (const auto& b : *boxes) {
        if (b.name == name || (lower(b.name) == "inbox" && lower(std::string(name)) == "inbox")) return true;
      }
      return false;
    };
    auto plan = plan_sieve(sieve_->before.get(), user.script.get(), user.error, view, ctx, sieve_->limits);
    // The vacation reply the user set (JMAP, webmail) stands for the script's own while it
    // is on; none when the scripts kept the message from the user (discard, redirect, reject).
    if (out.quarantined || out.spam_junk) plan.vacation.reset();
    else if (away && !plan.rows.empty()) plan.vacation = std::move(away);
    std::string error = plan.error;
    std::vector<std::string> placed;  // mailboxes this account got a row in (no twice)
    for (auto& r : plan.rows) {
      std::vector<std::string> keywords = p.keywords;
      for (const auto& f : r.keywords) {
        auto k = storage::flag_to_keyword(f);
        if (k && !k->empty() && std::find(keywords.begin(), keywords.end(), *k) == keywords.end()) keywords.push_back(*k);
      }
      std::string mailbox = r.mailbox;
      if (r.implicit) {
        mailbox = p.mailbox;
        spam_place(mailbox, keywords);
      } else if (!ctx.mailbox_exists(mailbox)) {
        // fileinto a missing mailbox: made with :create (RFC 5490 3.2), else an error
        // and the message kept (RFC 5228 4.1 leaves it to the implementation).
        bool made = false;
        if (r.create) {
          auto c = store_.create_mailbox(a, mailbox);
          made = c || c.error() == storage::errc::exists;
        }
        if (!made) {
          if (!error.empty()) error += "; ";
          error += "fileinto \"" + mailbox + "\": no such mailbox";
          mailbox = p.mailbox;
          spam_place(mailbox, keywords);
        }
        boxes.reset();
      }
      const auto key = lower(mailbox);
      if (std::find(placed.begin(), placed.end(), key) != placed.end()) continue;
      placed.push_back(key);
      d.add_mailbox_row(a, mailbox, keywords, internal);
      ++rows_of[a];
      ++rows;
    }
    for (const auto& to : plan.redirects) {
      auto path = smtp::parse_path("<" + to + ">", smtp::PathKind::Forward);
      if (!path || !path->rest.empty()) {
        if (!error.empty()) error += "; ";
        error += "redirect to a malformed address";
        continue;
      }
      const std::string addr = lower(path->address.to_string());
      auto local = store_.resolve_recipient(addr);
      if (local && !local->accounts.empty()) {
        for (const auto& t : local->accounts) todo.push_back(t);
        for (const auto& f : local->foreign) relay_redirects.push_back(f);
      } else {
        relay_redirects.push_back(path->address.to_string());
      }
    }
    if (plan.reject && plan.rows.empty()) ++rejected;
    if (plan.vacation || plan.reject || !error.empty()) after.push_back({a, rcpt, plan.vacation, plan.reject, error});
  }
  return out_p;
}

void Service::follow_up(const LocalPlacement& placed, const smtp::Envelope& env, const mime::Skeleton& skel,
                        const mime::Summary& summary, std::time_t now, Outcome& out) {
  if (placed.after.empty()) return;
  const auto header_end = std::min(skel.bytes.size(), mime::header_section(skel.bytes).size());
  const std::string sender = env.mail_from.is_null() ? std::string() : env.mail_from.to_string();
  DeliveredMessage view(std::string_view(skel.bytes).substr(0, header_end), std::string_view(skel.bytes).substr(header_end),
                        summary, sender, "", skel.joined_size());
  sieve_follow_up(view, env, now, placed.after, out);
}

// After the commit: vacation replies (RFC 5230: allowed, not yet sent to this sender in
// the period, with a null reverse-path), rejection notices for recipients whose script
// rejected a message others received (RFC 5429 2.1, as a DSN), and, once per distinct
// error, a note in the user's INBOX that their script failed.
void Service::sieve_follow_up(DeliveredMessage& view, const smtp::Envelope& env, std::time_t now,
                              const std::vector<SieveFollowUp>& items, Outcome& out) {
  const std::string sender = env.mail_from.is_null() ? std::string() : env.mail_from.to_string();
  for (const auto& x : items) {
    view.set_envelope_to(x.rcpt);
    sieve::Context ctx;
    ctx.now_unix = static_cast<std::int64_t>(now);
    ctx.user_addresses = {x.account};
    if (lower(x.rcpt) != x.account) ctx.user_addresses.push_back(lower(x.rcpt));
    // Not for a recipient the message did not reach (over quota: the sender gets a DSN).
    const bool stored = std::find(out.over_quota.begin(), out.over_quota.end(), x.account) == out.over_quota.end();
    if (x.vacation && stored && !sender.empty() && sieve::vacation_allowed(view, ctx, *x.vacation)) {
      const auto key = "vacation:" + sieve::vacation_key(*x.vacation, lower(sender));
      const auto period = std::max<std::int64_t>(x.vacation->period_seconds, 1);
      auto first = store_.sieve_remember(x.account, key, ctx.now_unix, ctx.now_unix + period);
      if (first && *first) {
        auto sent = send_generated(sender, sieve::vacation_reply(view, ctx, *x.vacation, cfg_.hostname, random_id()), true);
        out.after_notes.push_back("vacation " + x.account + " -> " + sender + ": " +
                                  (sent.status == Status::ok ? "sent" : "failed: " + sent.detail));
      }
    }
    if (x.reject && !sender.empty()) {
      mime::DsnInput r;
      r.reporting_mta = cfg_.hostname;
      r.to = sender;
      r.original_envid = env.params.envid;
      r.arrival_date = now;
      r.original_headers = std::string(view.header_section());
      r.recipients.push_back({x.rcpt, "failed", "5.7.1", "", "550 5.7.1 rejected by the recipient's filter: " +
                                                               std::string(mime::truncate_utf8(*x.reject, 400))});
      auto sent = deliver_report(std::move(r), true);
      out.after_notes.push_back("reject " + x.account + ": " + (sent.status == Status::ok ? "reported" : sent.detail));
    }
    if (!x.error.empty()) {
      out.after_notes.push_back("error " + x.account + ": " + x.error);
      const auto key = "error:" + sieve::vacation_key(sieve::Vacation{}, x.error);
      auto first = store_.sieve_remember(x.account, key, ctx.now_unix, ctx.now_unix + 30LL * 86400);
      if (first && *first) {
        std::string note = "From: Mail Delivery System <MAILER-DAEMON@" + cfg_.hostname + ">\r\nTo: <" + x.account +
                           ">\r\nSubject: Your mail filter (Sieve) failed\r\nDate: " +
                           mime::format_rfc5322_date(static_cast<std::int64_t>(now)) + "\r\nMessage-ID: <" +
                           random_id() + "@" + cfg_.hostname +
                           ">\r\nAuto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
                           "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                           "Your mail filter could not run on a message, which was delivered to your INBOX.\r\n"
                           "You are told once per error for 30 days.\r\n\r\nThe error: ";
        for (char c : mime::truncate_utf8(x.error, 2000)) note += (c == '\r' || c == '\n') ? ' ' : c;
        note += "\r\n";
        (void)send_generated(x.account, std::move(note), false);
      }
    }
  }
}

}  // namespace refmail::delivery
