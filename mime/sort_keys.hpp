// mime/sort_keys.hpp — the keys an email sorts by (RFC 8621 4.4.2 from, to, subject,
// sentAt), from its summary: one definition for the JMAP query that sorts in memory and
// the store's per-mailbox sorted views, so both order emails the same way.
// SECURITY: untrusted input; bounded output (kMaxSortKeyBytes), never throws.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mime/address.hpp"

namespace refmail::mime {

struct Summary;

// Text keys are cut to this many bytes (on a UTF-8 boundary): the views keep them in
// their keys, and emails equal up to here sort by id.
inline constexpr std::size_t kMaxSortKeyBytes = 64;

// RFC 5256 2.1 base subject, simplified: ASCII case folded, leading "re:", "fw:",
// "fwd:" (each with an optional "[tag]" before the colon) and "[...]" blobs and trailing
// "(fwd)" removed, outer whitespace trimmed; NULs dropped; at most kMaxSortKeyBytes.
[[nodiscard]] std::string base_subject(std::string_view subject);
// The first address's display name, else its email, ASCII case folded, NULs dropped, at
// most kMaxSortKeyBytes ("" for no address).
[[nodiscard]] std::string address_sort_key(const std::vector<Address>& list);

struct SortKeys {
  std::int64_t sent_at = 0;  // the Date field (epoch seconds); 0 when absent or unparsable
  std::string from;          // address_sort_key(from)
  std::string to;            // address_sort_key(to)
  std::string subject;       // base_subject(subject)
};
[[nodiscard]] SortKeys sort_keys(const Summary& s);

}  // namespace refmail::mime
