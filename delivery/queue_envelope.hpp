// delivery/queue_envelope.hpp — the relay queue row's envelope: a typed struct and its one
// codec (JSON, the format every existing queue row holds). Written by the delivery
// service, read and updated ("warned") by the relay; nothing edits it as text.
// SECURITY: rows come from the store; parse() rejects what serialize() would not write.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "smtp/envelope.hpp"

namespace refmail::delivery {

// A held relay queue row has this due time (9999-12-31T23:59:59Z): the relay worker
// never reaches it (refmailctl queue hold; the admin API and the relay agree on it).
inline constexpr std::int64_t kQueueHeldDue = 253402300799;

struct QueueEnvelope {
  std::string mail_from;             // "" for the null reverse-path
  std::vector<std::string> rcpt_to;  // one destination domain per row
  bool smtputf8 = false;
  std::string envid;  // RFC 3461 ENVID
  std::string ret;    // "", "FULL" or "HDRS"
  bool warned = false;  // the relay sent its delay warning
  // RFC 3461 per recipient: NOTIFY flags (0 = not given) and ORCPT ("type;address").
  std::map<std::string, std::pair<unsigned, std::string>> dsn;

  [[nodiscard]] unsigned notify(const std::string& rcpt) const {
    auto it = dsn.find(rcpt);
    return it == dsn.end() ? 0 : it->second.first;
  }
  friend bool operator==(const QueueEnvelope&, const QueueEnvelope&) = default;
};

// The envelope of `rcpts` (a subset of env's recipients, or alias targets) as received
// over SMTP: MAIL FROM, SMTPUTF8, ENVID, RET, and the NOTIFY/ORCPT of the recipients
// that carried them.
[[nodiscard]] QueueEnvelope queue_envelope(const smtp::Envelope& env, const std::vector<std::string>& rcpts);

[[nodiscard]] std::string serialize(const QueueEnvelope& e);
// nullopt when the text is not what serialize() writes (no recipient, wrong types).
[[nodiscard]] std::optional<QueueEnvelope> parse_queue_envelope(std::string_view text);

}  // namespace refmail::delivery
