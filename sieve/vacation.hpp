// sieve/vacation.hpp — the vacation extension's rules outside the script (RFC 5230 4.5,
// 4.6, 5): whether a reply may be sent at all, the reply message itself, and the key
// for "one reply per sender per period" (the caller keeps the table of keys and times).
// SECURITY: the original message is untrusted: its Subject is decoded and re-encoded,
// and every field of the reply is stripped of CR/LF, so nothing can be injected.
#pragma once
#include <string>
#include <string_view>

#include "sieve/message.hpp"
#include "sieve/outcome.hpp"

namespace refmail::sieve {

// RFC 5230 4.5 and 4.6: false for the null sender, MAILER-DAEMON, owner-*, *-request,
// list mail (List-Id, List-*), Precedence bulk/list/junk, Auto-Submitted other than "no",
// mail from the user's own addresses; true only when one of the user's addresses
// (Context::user_addresses, the envelope recipient, Vacation::addresses) appears in
// To, Cc, Bcc, Resent-To or Resent-Cc.
[[nodiscard]] bool vacation_allowed(const Message& message, const Context& context,
                                    const Vacation& vacation);

// The reply (RFC 5230 5): From (vacation.from, else the envelope recipient), To the
// envelope sender, Subject (vacation.subject, else "Auto: " + the original's),
// In-Reply-To/References from the original's Message-ID, Auto-Submitted: auto-replied,
// Date from context.now_unix, Message-ID <message_id_local@hostname>, text/plain UTF-8
// (or vacation.reason as a MIME entity with :mime). CRLF line ends throughout.
[[nodiscard]] std::string vacation_reply(const Message& message, const Context& context,
                                         const Vacation& vacation, std::string_view hostname,
                                         std::string_view message_id_local);

// A stable key (32 hex digits) for (the handle, or reason+subject+from+addresses when
// there is no handle; the sender, lower-cased). Not cryptographic: a collision only
// suppresses one reply.
[[nodiscard]] std::string vacation_key(const Vacation& vacation, std::string_view sender);

}  // namespace refmail::sieve
