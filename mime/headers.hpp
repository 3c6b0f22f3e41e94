// mime/headers.hpp — small header-field utilities shared by the summary and the
// composer: RFC 5322 3.3 date-time parsing/formatting (no clocks: the caller gives
// the time), RFC 5322 3.6.4 msg-id lists, header-value bounding, and picking named
// fields out of a raw header block without scanning the body.
// SECURITY: untrusted input; every function is total, bounded and never throws.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace refmail::mime {

// Parses an RFC 5322 3.3 date-time (with the obsolete forms of 4.3: two/three digit
// years, named zones, missing seconds, comments, a missing weekday) into seconds since
// the Unix epoch (UTC). Lenient about case, whitespace and a missing zone (taken as
// UTC). std::nullopt if the fields are missing or out of range.
[[nodiscard]] std::optional<std::int64_t> parse_rfc5322_date(std::string_view text);

// "Sat, 21 Nov 2026 08:53:00 +0000" for `epoch_seconds` (UTC), RFC 5322 3.3.
// REQUIRES: year of the date in 1..9999.
[[nodiscard]] std::string format_rfc5322_date(std::int64_t epoch_seconds);
// Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant's days_from_civil); shared
// with imap/datetime.cpp (IMAP date-time).
[[nodiscard]] std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);
// Its inverse: the proleptic Gregorian date of day `z` since 1970-01-01.
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d);

inline constexpr std::size_t kMaxMessageIds = 1000;

// msg-id list (Message-ID, In-Reply-To, References): the ids between '<' and '>',
// without the brackets, CFWS inside removed, in order. Lenient: a value with no
// brackets gives its whitespace-separated words that contain '@'.
[[nodiscard]] std::vector<std::string> parse_message_ids(std::string_view field_body,
                                                         std::size_t max_ids = kMaxMessageIds);

inline constexpr std::size_t kMaxHeaderScanBytes = 256 * 1024;
inline constexpr std::size_t kMaxFieldBodyBytes = 64 * 1024;

// The bodies of the top-level header fields whose names are in `names` (lower-case;
// compared ASCII case-insensitively, obs-optional space before ':' allowed), in order:
// the first header block only (RFC 5322 3.6.3), unfolded by appending continuation
// lines (RFC 5322 2.2.3), each at most about kMaxFieldBodyBytes; only the first
// `max_scan_bytes` of the message are looked at. No decoding (RFC 2047 or otherwise).
[[nodiscard]] std::vector<std::string> header_field_bodies(std::string_view message,
                                                           std::initializer_list<std::string_view> names,
                                                           std::size_t max_scan_bytes = kMaxHeaderScanBytes);

// One complete top-level field of a header section: [start, end) covers its name, its
// value and every continuation line with their line endings; `name` has no trailing
// WSP (obs-optional), `value` is everything after the colon up to `end`, unfolded not.
struct FieldSpan {
  std::size_t start = 0;
  std::size_t end = 0;
  std::string_view name;
  std::string_view value;
};
// The fields of the first header block in order, within the first `max_scan_bytes`: a
// field cut by the bound (or by the end of `section`) is left out, and so is every line
// without a colon. Views into `section`.
[[nodiscard]] std::vector<FieldSpan> header_fields(std::string_view section,
                                                   std::size_t max_scan_bytes = kMaxHeaderScanBytes);

// `s` cut to at most `max_bytes` without splitting a UTF-8 sequence.
[[nodiscard]] std::string_view truncate_utf8(std::string_view s, std::size_t max_bytes) noexcept;

}  // namespace refmail::mime
