// imap/mailbox/quota.cpp — QUOTA (RFC 9208): one quota root per account, "" (every
// mailbox of the account counts toward it), with the STORAGE resource in KiB (the
// account's logical bytes, as the store counts them against its quota) and MESSAGE.
// SETQUOTA is refused: quotas are set by the administrator (refmailctl / admin API).
// An account without a quota has a root with no resources (RFC 9208 4.2).
#include "imap/mailbox/impl.hpp"
#include "storage/errors.hpp"

namespace refmail::imap {

std::string MailboxEngine::Impl::quota_line() {
  auto u = store.get_user(account);
  if (!u) return {};
  std::string l = "QUOTA \"\" (";
  if (u->quota_bytes > 0)
    l += "STORAGE " + std::to_string((u->used_bytes + 1023) / 1024) + " " + std::to_string(u->quota_bytes / 1024);
  return l + ")";
}

MailboxReply MailboxEngine::Impl::get_quota(const GetQuota& c) {
  if (!c.root.empty()) return no("NONEXISTENT", "No such quota root");
  auto l = quota_line();
  if (l.empty()) return no("UNAVAILABLE", "Cannot read the quota");
  line(l);
  return ok("GETQUOTA completed");
}

MailboxReply MailboxEngine::Impl::get_quota_root(const GetQuotaRoot& c) {
  auto name = store_name(c.mailbox);
  if (!name) return no("NONEXISTENT", "No such mailbox");
  auto info = find_mailbox(*name);
  if (!info) return store_error(info.error(), "GETQUOTAROOT failed");
  if (!*info) return no("NONEXISTENT", "No such mailbox");
  auto l = quota_line();
  if (l.empty()) return no("UNAVAILABLE", "Cannot read the quota");
  line("QUOTAROOT " + wire_name((*info)->name) + " \"\"");
  line(l);
  return ok("GETQUOTAROOT completed");
}

}  // namespace refmail::imap
