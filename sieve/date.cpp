// sieve/date.cpp — RFC 5260 date-parts over a zoned time, and parsing of Date-style
// header field values with their original zone (mime/headers.hpp parses the instant).
#include <array>
#include <cstdio>

#include "mime/headers.hpp"
#include "sieve/date_internal.hpp"

namespace refmail::sieve::detail {
namespace {

constexpr std::array<std::string_view, 13> kParts = {"year", "month", "day", "date", "julian", "hour", "minute",
                                                     "second", "time", "iso8601", "std11", "zone", "weekday"};

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::string zone_string(int minutes, bool colon) {
  char buf[16];
  int a = minutes < 0 ? -minutes : minutes;
  std::snprintf(buf, sizeof buf, colon ? "%c%02d:%02d" : "%c%02d%02d", minutes < 0 ? '-' : '+', a / 60, a % 60);
  return buf;
}

}  // namespace

std::optional<int> parse_zone(std::string_view z) {
  if (z.size() != 5 || (z[0] != '+' && z[0] != '-')) return std::nullopt;
  for (std::size_t i = 1; i < 5; ++i)
    if (z[i] < '0' || z[i] > '9') return std::nullopt;
  int h = (z[1] - '0') * 10 + (z[2] - '0'), m = (z[3] - '0') * 10 + (z[4] - '0');
  if (h > 23 || m > 59) return std::nullopt;
  int v = h * 60 + m;
  return z[0] == '-' ? -v : v;
}

std::optional<ZonedTime> parse_date_header(std::string_view value) {
  auto t = mime::parse_rfc5322_date(value);
  if (!t) return std::nullopt;
  ZonedTime z;
  z.unix_seconds = *t;
  // The original zone: the last "+hhmm"/"-hhmm" token after the time (comments aside);
  // named zones (obsolete, RFC 5322 4.3) other than UT/GMT/Z are given as their offsets.
  std::string_view v = value;
  if (auto c = v.find('('); c != std::string_view::npos) v = v.substr(0, c);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r' || v.back() == '\n')) v.remove_suffix(1);
  auto sp = v.find_last_of(" \t");
  std::string_view last = sp == std::string_view::npos ? v : v.substr(sp + 1);
  if (auto o = parse_zone(last)) {
    z.offset_minutes = *o;
  } else {
    std::string u(last);
    for (auto& c : u) c = static_cast<char>((c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c);
    static const std::array<std::pair<std::string_view, int>, 8> named = {{
        {"EST", -300}, {"EDT", -240}, {"CST", -360}, {"CDT", -300},
        {"MST", -420}, {"MDT", -360}, {"PST", -480}, {"PDT", -420}}};
    for (const auto& [n, o] : named)
      if (u == n) z.offset_minutes = o;
  }
  return z;
}

bool is_date_part(std::string_view part) {
  for (auto p : kParts)
    if (p == part) return true;
  return false;
}

std::string date_part(const ZonedTime& t, std::string_view part) {
  std::int64_t local = t.unix_seconds + static_cast<std::int64_t>(t.offset_minutes) * 60;
  std::int64_t days = floor_div(local, 86400);
  std::int64_t secs = local - days * 86400;
  std::int64_t y;
  unsigned m, d;
  mime::civil_from_days(days, y, m, d);
  int hh = static_cast<int>(secs / 3600), mm = static_cast<int>(secs / 60 % 60), ss = static_cast<int>(secs % 60);
  char buf[64];
  auto fmt2 = [&](int v) { std::snprintf(buf, sizeof buf, "%02d", v); return std::string(buf); };
  if (part == "year") { std::snprintf(buf, sizeof buf, "%04lld", static_cast<long long>(y)); return buf; }
  if (part == "month") return fmt2(static_cast<int>(m));
  if (part == "day") return fmt2(static_cast<int>(d));
  if (part == "date") {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
    return buf;
  }
  if (part == "julian") {  // RFC 5260 4.2: Modified Julian Day (1858-11-17 is day 0)
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(days + 40587));
    return buf;
  }
  if (part == "hour") return fmt2(hh);
  if (part == "minute") return fmt2(mm);
  if (part == "second") return fmt2(ss);
  if (part == "time") { std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", hh, mm, ss); return buf; }
  if (part == "iso8601") {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d", static_cast<long long>(y), m, d, hh, mm, ss);
    return std::string(buf) + zone_string(t.offset_minutes, true);
  }
  if (part == "std11") {
    static const char* wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int w = static_cast<int>(((days % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
    std::snprintf(buf, sizeof buf, "%s, %02u %s %04lld %02d:%02d:%02d ", wd[w], d, mo[m - 1], static_cast<long long>(y),
                  hh, mm, ss);
    return std::string(buf) + zone_string(t.offset_minutes, false);
  }
  if (part == "zone") return zone_string(t.offset_minutes, false);
  if (part == "weekday") return std::to_string(((days % 7) + 7 + 4) % 7);  // 0 = Sunday
  return {};
}

}  // namespace refmail::sieve::detail
