// delivery/spam.hpp — the spam verdict of one message, and what the delivery does with
// it. The check itself (rspamd's HTTP protocol, docs/ARCHITECTURE.md "Spam filtering")
// is behind SpamFilter, implemented in server/ (sockets, deadlines); what is here is
// pure: reading rspamd's JSON reply, and the header fields the verdict adds.
// SECURITY: the reply is untrusted input (a broken or hostile rspamd): bounded, total,
// never throws; an unreadable reply is a failed check (the fail mode applies), never a
// verdict. X-Spam-* fields a sender wrote are removed before ours are added, so a Sieve
// rule testing them sees only ours.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

namespace refmail::mime {
struct Skeleton;
}

namespace refmail::delivery {

// rspamd's actions (https://rspamd.com/doc/faq.html#what-are-rspamd-actions), plus
// `unchecked`: no verdict (rspamd unreachable, slow, or its reply unreadable).
enum class SpamAction { no_action, greylist, add_header, rewrite_subject, soft_reject, reject, unchecked };
[[nodiscard]] std::string_view to_string(SpamAction a);

struct SpamVerdict {
  SpamAction action = SpamAction::unchecked;
  double score = 0;
  double required = 0;
  std::vector<std::string> symbols;  // the symbols with a non-zero score, highest first
  std::string subject;               // rewrite subject: the new Subject
  std::string error;                 // unchecked: why
  bool skipped = false;              // rspamd skipped the message (its own rules)
  bool truncated = false;            // sent as the skeleton (larger than [spam] max_size)
};

// What rspamd is told besides the message (its HTTP request headers).
struct SpamQuery {
  std::string ip;          // the client's address
  std::string helo;
  std::string peer_name;   // the client's verified reverse name, "" when unknown
  std::string mail_from;   // "" for <>
  std::vector<std::string> rcpt_to;
  std::string user;        // the authenticated user: rspamd's outbound rules apply
  std::string queue_id;
  std::string hostname;    // ours (MTA-Name)
};

// The message, read in order: fills the span, returns how many bytes (0 at the end).
using MessageReader = std::function<boost::system::result<std::size_t>(std::span<char>)>;

// The check (server/rspamd.hpp). Blocking, bounded by its own deadline; thread-safe.
class SpamFilter {
 public:
  virtual ~SpamFilter() = default;
  [[nodiscard]] virtual SpamVerdict check(const SpamQuery& q, std::uint64_t size, const MessageReader& read) = 0;
};

// "Junk" or "Spam", any case: where spam is filed (the account's first such mailbox,
// else INBOX) and what moving into or out of teaches the filter.
[[nodiscard]] bool is_junk_mailbox(std::string_view name);

// rspamd's /checkv2 JSON reply. An unknown action, a missing score or anything that is
// not such an object: unchecked, with `error` saying why.
[[nodiscard]] SpamVerdict parse_rspamd_reply(std::string_view json);

// The verdict applied to a skeleton's header section (every cut moves with it):
// sender-written X-Spam, X-Spam-Flag, X-Spam-Score, X-Spam-Status and X-Spam-Symbols
// removed; "X-Spam-Status: Yes|No|unchecked, score=.. required=.. action=.. tests=.."
// added on top (with "X-Spam: Yes" when `junk`); rewrite subject replaces the Subject
// field's value. REQUIRES: the skeleton's bytes start with its header section.
void apply_spam_fields(mime::Skeleton& s, const SpamVerdict& v, bool junk);

}  // namespace refmail::delivery
