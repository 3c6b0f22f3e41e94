// smtp/recipient_policy.hpp — the pure recipient and sender policy the server applies
// when answering CheckRecipient / CheckSender. The lookups (local domains, mailboxes
// after alias resolution, a user's addresses) are callbacks so this stays sans-I/O and
// unit-testable; the server binds them to the store.
// SECURITY: never an open relay: a foreign domain is accepted only for an authenticated
// session. A failed lookup is a temporary failure (451), never an accept.
#pragma once

#include "smtp/action.hpp"
#include "smtp/address.hpp"

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace refmail::smtp {

enum class Lookup { Yes, No, TempFail };

struct RecipientDirectory {
  // Is this domain one of ours? (ASCII domains arrive as sent; compare case-insensitively.)
  std::function<Lookup(std::string_view domain)> is_local_domain;
  // Does this local address reach a mailbox (directly or through an alias)?
  std::function<Lookup(const Address& address)> has_mailbox;
};

// Issue #4 policy 3: local domain -> mailbox exists ? Accept : UnknownUser (550 5.1.1);
// "postmaster" (bare, or at a local domain) is always accepted (RFC 5321 4.5.1);
// foreign domain -> authenticated ? Accept (relay) : RelayDenied (554 5.7.1);
// any lookup failure -> TempFail (451 4.3.0).
// REQUIRES: both callbacks set.
[[nodiscard]] RcptVerdict classify_recipient(const Address& rcpt,
                                             const std::optional<std::string>& auth_user,
                                             const RecipientDirectory& dir);

// True when `from` is one of `owned` (addresses as "local@domain"), comparing the domain
// case-insensitively and the local part case-insensitively for ASCII (as nearly every
// mail system does). The null sender is never owned.
[[nodiscard]] bool sender_owned_by(const Address& from, std::span<const std::string> owned);

}  // namespace refmail::smtp
