// imap/mailbox/append.cpp — APPEND and MULTIAPPEND (RFC 9051 6.3.12, RFC 3502, APPENDUID
// RFC 4315 3, APPENDLIMIT RFC 7889) through the delivery service (delivery/service.hpp
// Service::append): each message streams into an intake as it arrives (split, attachments
// stored by content), and is committed when the command is complete.
// Must never: store part of a message (a connection lost mid-literal drops the intakes),
// or keep the messages of a MULTIAPPEND that failed part way (the ones committed are
// expunged again).
#include <chrono>

#include "delivery/service.hpp"
#include "imap/mailbox/impl.hpp"
#include "storage/errors.hpp"

namespace refmail::imap {

MailboxReply MailboxEngine::Impl::append_begin(const Append& c, std::size_t index) {
  if (index == 0) appends.clear();  // an APPEND that ended in an error left these
  if (!options.delivery) return no("CANNOT", "APPEND is not available");
  if (c.messages.size() != 1) return bad("APPEND announced without its message");
  const AppendMessage& m = c.messages.front();
  if (m.size > options.append_limit) {
    appends.clear();
    return no("TOOBIG", "The message is larger than APPENDLIMIT=" + std::to_string(options.append_limit));
  }
  Pending p;
  auto name = store_name(c.mailbox);
  std::optional<storage::MailboxInfo> info;
  if (name) {
    auto f = find_mailbox(*name);
    if (!f) {
      appends.clear();
      return store_error(f.error(), "APPEND failed");
    }
    info = std::move(*f);
  }
  if (!info) {
    appends.clear();
    return no("TRYCREATE", "No such mailbox");
  }
  for (const auto& f : m.flags) {
    auto k = mailbox::flag_to_keyword(f);
    if (!k) {
      appends.clear();
      return bad("Invalid flag " + f);
    }
    if (!k->empty() && !mailbox::has_keyword(p.keywords, *k)) p.keywords.push_back(*k);
  }
  p.mailbox = info->name;
  p.uidvalidity = info->uidvalidity;
  p.message = m;
  p.intake = std::make_shared<delivery::Intake>(options.delivery->open_append());
  appends.push_back(std::move(p));
  return ok("Ready");
}

void MailboxEngine::append_data(std::string_view bytes) {
  if (!impl_->appends.empty() && impl_->appends.back().intake) impl_->appends.back().intake->write(bytes);
}

MailboxReply MailboxEngine::Impl::append(const Append& c) {
  std::vector<Pending> todo = std::move(appends);
  appends.clear();
  if (todo.size() != c.messages.size()) return no("SERVERBUG", "APPEND lost track of its messages");
  const auto now = std::chrono::system_clock::now();
  std::vector<std::pair<std::string, std::uint32_t>> stored;  // mailbox, UID
  std::string failure_code, failure_text;
  for (auto& p : todo) {
    if (p.intake->size() != p.message.size) {
      failure_code = "SERVERBUG";
      failure_text = "APPEND received " + std::to_string(p.intake->size()) + " of " + std::to_string(p.message.size) + " bytes";
      break;
    }
    delivery::Append a;
    a.account = account;
    a.mailbox = p.mailbox;
    a.keywords = p.keywords;
    a.internal_date = p.message.date ? p.message.date->to_unix()
                                     : std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    auto out = options.delivery->append(std::move(a), std::move(*p.intake));
    p.intake.reset();
    if (out.status != delivery::Status::ok) {
      switch (out.status) {
        case delivery::Status::quota_exceeded: failure_code = "OVERQUOTA"; break;
        case delivery::Status::invalid: failure_code = "PARSE"; break;
        case delivery::Status::temp_fail: failure_code = "UNAVAILABLE"; break;
        default: failure_code = "SERVERBUG"; break;
      }
      failure_text = "APPEND failed: " + out.detail;
      break;
    }
    stored.emplace_back(p.mailbox, out.uid);
  }
  if (!failure_code.empty()) {
    // MULTIAPPEND is all or nothing (RFC 3502 6.3.11): take back what was stored.
    for (const auto& [mbox, uid] : stored) {
      const std::uint32_t u = uid;
      (void)store.expunge(account, mbox, std::span<const std::uint32_t>(&u, 1));
    }
    return no(failure_code, failure_text);
  }
  if (sel) report_updates(true);  // appended into the selected mailbox: EXISTS now
  // RFC 4315 3: one mailbox per APPEND, so one UIDVALIDITY; UIDs ascend.
  std::vector<std::uint32_t> uids;
  for (const auto& [mbox, uid] : stored) uids.push_back(uid);
  std::string code;
  if (!stored.empty()) code = "APPENDUID " + std::to_string(todo.front().uidvalidity) + " " + mailbox::compact(uids);
  return finish(Condition::Ok, code, "APPEND completed");
}

}  // namespace refmail::imap
