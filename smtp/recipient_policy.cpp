// smtp/recipient_policy.cpp — pure recipient/sender policy (see header).
#include "smtp/recipient_policy.hpp"

#include "smtp/check.hpp"
#include "smtp/command.hpp"

namespace refmail::smtp {

RcptVerdict classify_recipient(const Address& rcpt, const std::optional<std::string>& auth_user,
                               const RecipientDirectory& dir) {
  REFMAIL_CHECK(dir.is_local_domain && dir.has_mailbox);
  const bool postmaster = iequals(rcpt.local_part, "postmaster");
  if (rcpt.domain.empty()) return postmaster ? RcptVerdict::Accept : RcptVerdict::UnknownUser;
  switch (dir.is_local_domain(rcpt.domain)) {
    case Lookup::TempFail:
      return RcptVerdict::TempFail;
    case Lookup::No:
      // RFC 5321 3.6 / issue policy: relaying needs an authenticated session.
      return auth_user ? RcptVerdict::Accept : RcptVerdict::RelayDenied;
    case Lookup::Yes:
      break;
  }
  if (postmaster) return RcptVerdict::Accept;
  switch (dir.has_mailbox(rcpt)) {
    case Lookup::Yes: return RcptVerdict::Accept;
    case Lookup::No: return RcptVerdict::UnknownUser;
    case Lookup::TempFail: return RcptVerdict::TempFail;
  }
  return RcptVerdict::TempFail;
}

bool sender_owned_by(const Address& from, std::span<const std::string> owned) {
  if (from.is_null()) return false;
  const std::string want = from.to_string();
  for (const std::string& a : owned)
    if (iequals(a, want)) return true;
  return false;
}

}  // namespace refmail::smtp
