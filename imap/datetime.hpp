// imap/datetime.hpp — IMAP dates (RFC 3501 / RFC 9051 section 9): `date-text` as in
// SEARCH SINCE 1-Feb-1994, and `date-time` as in INTERNALDATE / APPEND
// "17-Jul-1996 02:44:25 -0700"; parse, print, convert to Unix seconds.
// Must never: accept an impossible date (30 Feb, hour 24, zone minute 60) or read
// past its input. Pure functions, no locale, no time zone database.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace refmail::imap {

struct Date {
  int year = 0;   // 4 digits
  int month = 0;  // 1..12
  int day = 0;    // 1..31, valid for the month
  friend bool operator==(const Date&, const Date&) = default;
};

struct DateTime {
  Date date;
  int hour = 0, minute = 0, second = 0;  // second 0..60 (leap second)
  int zone_minutes = 0;                  // -0700 -> -420
  friend bool operator==(const DateTime&, const DateTime&) = default;
  [[nodiscard]] std::int64_t to_unix() const;
};

// date-text = date-day "-" date-month "-" date-year (day 1 or 2 digits).
[[nodiscard]] std::optional<Date> parse_date(std::string_view s);
// The inside of a date-time's quotes; the day may be "SP DIGIT", "2DIGIT" or "DIGIT".
[[nodiscard]] std::optional<DateTime> parse_date_time(std::string_view s);
// "1-Feb-1994"
[[nodiscard]] std::string format_date(const Date& d);
// "17-Jul-1996 02:44:25 -0700" (day space-padded, as RFC 3501 date-day-fixed), unquoted.
[[nodiscard]] std::string format_date_time(const DateTime& t);

}  // namespace refmail::imap
