// web/envelope.hpp — the relay queue's envelope record (opaque to the store): the JSON
// the relay worker reads, written by SMTP ingest (server/ingest.cpp) and by JMAP
// EmailSubmission/set alike, so both paths queue identical records.
// SECURITY: values are serialized as JSON strings (no injection); callers validate
// addresses before queueing.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace refmail::web {

// {"mail_from": ..., "rcpt_to": [...], "smtputf8": bool[, "envid": ...][, "ret": "FULL"|"HDRS"]}
// `ret` is "" (unspecified), "FULL" or "HDRS" (RFC 3461 4.3); `envid` "" when absent.
[[nodiscard]] std::string queue_envelope_json(std::string_view mail_from, const std::vector<std::string>& rcpt_to,
                                              bool smtputf8, std::string_view envid, std::string_view ret);

}  // namespace refmail::web
