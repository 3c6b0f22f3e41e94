// imap/datetime.cpp — see datetime.hpp. RFC 3501 9: date-month is case-insensitive.
#include "imap/datetime.hpp"

#include "mime/headers.hpp"

#include <cstdio>

namespace refmail::imap {
namespace {

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

int month_of(std::string_view m) {
  if (m.size() != 3) return 0;
  for (int i = 0; i < 12; ++i) {
    std::string_view n = kMonths[i];
    if (lower(m[0]) == lower(n[0]) && lower(m[1]) == lower(n[1]) && lower(m[2]) == lower(n[2])) return i + 1;
  }
  return 0;
}

// Exactly `n` digits.
std::optional<int> digits(std::string_view s, std::size_t n) {
  if (s.size() != n) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in(int y, int m) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : d[m - 1];
}


std::optional<Date> parse_day_month_year(std::string_view day, std::string_view rest) {
  // rest = "Mon-YYYY"
  auto d = day.size() == 1 ? digits(day, 1) : digits(day, 2);
  if (!d || rest.size() != 8 || rest[3] != '-') return std::nullopt;
  int m = month_of(rest.substr(0, 3));
  auto y = digits(rest.substr(4), 4);
  if (!m || !y || *d < 1 || *d > days_in(*y, m)) return std::nullopt;
  return Date{*y, m, *d};
}

}  // namespace

std::int64_t DateTime::to_unix() const {
  return mime::days_from_civil(date.year, static_cast<unsigned>(date.month), static_cast<unsigned>(date.day)) * 86400 + hour * 3600 + minute * 60 + second -
         zone_minutes * 60;
}

std::optional<Date> parse_date(std::string_view s) {
  auto dash = s.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 2) return std::nullopt;
  return parse_day_month_year(s.substr(0, dash), s.substr(dash + 1));
}

std::optional<DateTime> parse_date_time(std::string_view s) {
  if (!s.empty() && s.front() == ' ') s.remove_prefix(1);  // date-day-fixed "SP DIGIT"
  auto dash = s.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 2) return std::nullopt;
  // "Mon-YYYY hh:mm:ss +zzzz"
  std::string_view rest = s.substr(dash + 1);
  if (rest.size() != 8 + 1 + 8 + 1 + 5 || rest[8] != ' ' || rest[17] != ' ') return std::nullopt;
  auto date = parse_day_month_year(s.substr(0, dash), rest.substr(0, 8));
  std::string_view t = rest.substr(9, 8), z = rest.substr(18);
  if (!date || t[2] != ':' || t[5] != ':') return std::nullopt;
  auto hh = digits(t.substr(0, 2), 2), mm = digits(t.substr(3, 2), 2), ss = digits(t.substr(6, 2), 2);
  auto zh = digits(z.substr(1, 2), 2), zm = digits(z.substr(3, 2), 2);
  if (!hh || !mm || !ss || !zh || !zm || (z[0] != '+' && z[0] != '-') || *hh > 23 || *mm > 59 || *ss > 60 ||
      *zm > 59)
    return std::nullopt;
  DateTime dt;
  dt.date = *date;
  dt.hour = *hh;
  dt.minute = *mm;
  dt.second = *ss;
  dt.zone_minutes = (*zh * 60 + *zm) * (z[0] == '-' ? -1 : 1);
  return dt;
}

std::string format_date(const Date& d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d-%s-%04d", d.day, kMonths[(d.month + 11) % 12], d.year);
  return buf;
}

std::string format_date_time(const DateTime& t) {
  char buf[48];
  int z = t.zone_minutes < 0 ? -t.zone_minutes : t.zone_minutes;
  std::snprintf(buf, sizeof buf, "%2d-%s-%04d %02d:%02d:%02d %c%02d%02d", t.date.day,
                kMonths[(t.date.month + 11) % 12], t.date.year, t.hour, t.minute, t.second,
                t.zone_minutes < 0 ? '-' : '+', z / 60, z % 60);
  return buf;
}

}  // namespace refmail::imap
