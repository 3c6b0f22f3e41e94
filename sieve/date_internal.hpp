// sieve/date_internal.hpp — the date and index extensions' arithmetic (RFC 5260):
// parsing a Date-style header field value with its original zone, shifting to a zone,
// and the date-parts (year, month, day, date, julian, hour, minute, second, time,
// iso8601, std11, zone, weekday). No clock: "now" comes from the caller.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace refmail::sieve::detail {

struct ZonedTime {
  std::int64_t unix_seconds = 0;  // UTC
  int offset_minutes = 0;         // the zone to show it in
};

// RFC 5322 date-time -> UTC seconds and its own zone offset; nullopt if unparseable.
[[nodiscard]] std::optional<ZonedTime> parse_date_header(std::string_view value);
// "+hhmm" / "-hhmm" -> minutes; nullopt if malformed (RFC 5260 4.1).
[[nodiscard]] std::optional<int> parse_zone(std::string_view zone);
[[nodiscard]] bool is_date_part(std::string_view part);
// The date-part of `t` in its zone. REQUIRES: is_date_part(part).
[[nodiscard]] std::string date_part(const ZonedTime& t, std::string_view part);

}  // namespace refmail::sieve::detail
