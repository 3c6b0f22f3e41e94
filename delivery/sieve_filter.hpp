// delivery/sieve_filter.hpp — each local recipient's Sieve script (sieve/, RFC 5228) run
// at delivery, before the commit: the compiled-script cache, the message as the
// interpreter reads it (the split message: header section, envelope, summary text
// parts), and the plan the delivery carries out (rows, redirects, reject, vacation).
// The delivery service (delivery/service.cpp) owns the I/O: it reads the active script
// (storage::Store::sieve_active), performs the plan in the message's own batch, and
// sends vacation replies and rejection notices after the commit.
// SECURITY: scripts are the users' (untrusted, bounded by sieve::Limits: steps, actions,
// redirects); every string of a plan may come from the message. Mailbox names go through
// the store's own checks; redirect addresses through smtp::parse_path.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sieve/sieve.hpp"

namespace refmail::mime {
struct Summary;
}
namespace refmail::config {
struct Config;
}
namespace refmail::smtp {
struct Envelope;
}
namespace refmail::storage {
struct VacationSettings;
}

namespace refmail::delivery {

// The split message as one recipient's script sees it.
class DeliveredMessage final : public sieve::Message {
 public:
  // `header_section`: the message's header (with our trace header, as stored);
  // `envelope_to`: this recipient's address. All must outlive the object.
  DeliveredMessage(std::string_view header_section, std::string_view body_skeleton, const mime::Summary& summary,
                   std::string envelope_from, std::string envelope_to, std::uint64_t size);
  std::vector<std::string> header(std::string_view name) const override;
  std::vector<std::pair<std::string, std::string>> headers() const override;
  std::uint64_t size() const override { return size_; }
  std::string envelope_from() const override { return from_; }
  std::string envelope_to() const override { return to_; }
  // The body as stored after the header: text parts and structure; cut attachment
  // bodies are not in it (the body test reads text, RFC 5173 5.2 leaves :raw to us).
  std::string body_raw() const override;
  std::vector<std::string> body_text(const std::vector<std::string>& content_types) const override;
  void set_envelope_to(std::string to) { to_ = std::move(to); }
  [[nodiscard]] std::string_view header_section() const { return header_; }

 private:
  std::string_view header_;
  std::string_view body_;
  const mime::Summary& summary_;
  std::string from_, to_;
  std::uint64_t size_;
};

// The server's Sieve settings ([sieve]): the admin's script run before each user's, and
// the bounds of every run.
struct SieveSetup {
  std::shared_ptr<const sieve::Script> before;
  sieve::Limits limits;
};

// Compiled scripts by content, shared by every delivery thread. A script that does not
// compile (stored before a stricter check, or the admin's file) is an error value.
class SieveCache {
 public:
  static constexpr std::size_t kMaxEntries = 1024;
  struct Entry {
    std::shared_ptr<const sieve::Script> script;
    std::string error;  // line:column message when it does not compile
  };
  [[nodiscard]] Entry get(std::string_view source, const sieve::Limits& limits);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, Entry> by_source_;
};

// What one recipient's scripts decided, for the delivery to carry out.
struct SievePlan {
  struct Row {
    std::string mailbox;
    std::vector<std::string> keywords;
    bool create = false;    // fileinto :create (RFC 5490): make it when missing
    bool implicit = false;  // the (implicit or explicit) keep: INBOX, or Junk for spam
  };
  std::vector<Row> rows;               // empty: discarded, redirected away or rejected
  std::vector<std::string> redirects;  // addresses; local ones are delivered, others relayed
  std::optional<std::string> reject;   // reject/ereject reason (RFC 5429)
  std::optional<sieve::Vacation> vacation;
  std::string error;                   // the run-time or compile error (then: keep only)
};

// What the delivery does for one recipient after the commit.
struct SieveFollowUp {
  std::string account;
  std::string rcpt;  // as addressed in RCPT TO
  std::optional<sieve::Vacation> vacation;
  std::optional<std::string> reject;
  std::string error;
};

// Runs the admin's `before` script (may be null) then the account's (may be null) and
// merges them: the before script's actions stand; the user's script runs unless the
// before script cancelled the implicit keep (filed, discarded, redirected, rejected).
// Either failing (compile or run time): its actions are dropped, the implicit keep
// stands, `error` says why.
[[nodiscard]] SievePlan plan_sieve(const sieve::Script* before, const sieve::Script* user, std::string user_error,
                                   const sieve::Message& message, const sieve::Context& context,
                                   const sieve::Limits& limits);

// The account's vacation reply (JMAP VacationResponse, RFC 8621 8) as the Sieve vacation
// action it stands for (RFC 5230: the same rules, memory and reply as a script's), or
// nullopt when it is off or `now` is outside [fromDate, toDate). One reply per sender
// per 7 days (RFC 5230 4.1's default); the key is derived from the text, so editing the
// message answers senders again. The reply is a MIME entity: text/plain (textBody, else
// htmlBody as text), with htmlBody as multipart/alternative, quoted-printable (short
// lines whatever the user typed).
[[nodiscard]] std::optional<sieve::Vacation> vacation_action(const storage::VacationSettings& settings,
                                                             std::int64_t now);

// A script fit to store (ManageSieve PUTSCRIPT/CHECKSCRIPT, JMAP SieveScript/set and
// /validate, the admin's before script): "" when it is UTF-8 text without NUL (RFC 5228
// 2.2) that compiles with every extension refmail carries out, else why ("line:column: ..."
// for a compile error).
[[nodiscard]] std::string validate_sieve(std::string_view source, const sieve::Limits& limits = {});
// The bounds of every compile and run from [sieve] (script size, redirects per message).
[[nodiscard]] sieve::Limits sieve_limits(const config::Config& cfg);
// The SIEVE capability: the extensions validate_sieve accepts.
[[nodiscard]] std::string sieve_capabilities();

}  // namespace refmail::delivery
