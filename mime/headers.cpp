// mime/headers.cpp — RFC 5322 date-time and msg-id utilities (sections 3.3, 3.6.4, 4.3).
// Civil-date arithmetic after H. Hinnant's days_from_civil (proleptic Gregorian).
// SECURITY: bounded loops over the input only; no locale, no clocks, no exceptions.
#include "mime/headers.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "mime/charset.hpp"

namespace refmail::mime {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

constexpr std::array<std::string_view, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                                      "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 12> kMonthNames = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDayNames = {"Thu", "Fri", "Sat", "Sun",
                                                       "Mon", "Tue", "Wed"};  // 1970-01-01 = Thu


bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

struct Tok {
  std::string text;
  char kind;  // 'n' number, 'a' alpha word, 'z' signed zone (+hhmm), ':' time "hh:mm[:ss]"
};

// Splits into numbers, words, signed zones and times; comments and punctuation dropped.
std::vector<Tok> tokenize_date(std::string_view s) {
  std::vector<Tok> out;
  std::size_t i = 0;
  int depth = 0;
  while (i < s.size() && out.size() < 16) {
    const char c = s[i];
    if (c == '(') {
      ++depth;
      ++i;
      continue;
    }
    if (c == ')') {
      if (depth > 0) --depth;
      ++i;
      continue;
    }
    if (depth > 0) {
      ++i;
      continue;
    }
    if (is_digit(c)) {
      std::size_t j = i;
      while (j < s.size() && (is_digit(s[j]) || s[j] == ':') && j - i < 12) ++j;
      std::string t(s.substr(i, j - i));
      out.push_back({t, t.find(':') != std::string::npos ? ':' : 'n'});
      i = j;
    } else if ((c == '+' || c == '-') && i + 1 < s.size() && is_digit(s[i + 1])) {
      std::size_t j = i + 1;
      while (j < s.size() && is_digit(s[j]) && j - i < 6) ++j;
      out.push_back({std::string(s.substr(i, j - i)), 'z'});
      i = j;
    } else if (is_alpha(c)) {
      std::size_t j = i;
      while (j < s.size() && is_alpha(s[j]) && j - i < 16) ++j;
      std::string t;
      for (std::size_t k = i; k < j; ++k) t.push_back(lower(s[k]));
      out.push_back({t, 'a'});
      i = j;
    } else {
      ++i;
    }
  }
  return out;
}

std::optional<int> month_of(std::string_view w) {
  if (w.size() < 3) return std::nullopt;
  for (std::size_t k = 0; k < kMonths.size(); ++k)
    if (w.substr(0, 3) == kMonths[k]) return static_cast<int>(k) + 1;
  return std::nullopt;
}

// RFC 5322 4.3 obs-zone, in minutes east of UTC.
std::optional<int> named_zone(std::string_view w) {
  if (w == "ut" || w == "utc" || w == "gmt" || w == "z") return 0;
  if (w == "edt") return -4 * 60;
  if (w == "est" || w == "cdt") return -5 * 60;
  if (w == "cst" || w == "mdt") return -6 * 60;
  if (w == "mst" || w == "pdt") return -7 * 60;
  if (w == "pst") return -8 * 60;
  if (w.size() == 1) return 0;  // military zones: RFC 5322 4.3 says treat as -0000
  return std::nullopt;
}

}  // namespace

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<std::int64_t> parse_rfc5322_date(std::string_view text) {
  if (text.size() > 1000) text = text.substr(0, 1000);
  const std::vector<Tok> toks = tokenize_date(text);
  std::optional<int> day, month, hour, minute, second, zone;
  std::optional<std::int64_t> year;
  for (const Tok& t : toks) {
    if (t.kind == ':') {
      if (hour) continue;
      int parts[3] = {-1, -1, 0};
      int n = 0;
      std::size_t k = 0;
      while (k < t.text.size() && n < 3) {
        std::size_t j = k;
        int v = 0;
        while (j < t.text.size() && is_digit(t.text[j]) && j - k < 3) v = v * 10 + (t.text[j++] - '0');
        if (j == k) break;
        parts[n++] = v;
        k = j;
        if (k < t.text.size() && t.text[k] == ':') ++k;
        else break;
      }
      if (n < 2) return std::nullopt;
      hour = parts[0];
      minute = parts[1];
      second = parts[2];
    } else if (t.kind == 'n') {
      if (t.text.size() > 4) continue;
      int v = 0;  // from_chars: no exception on outside bytes (the token is 1-4 digits)
      if (std::from_chars(t.text.data(), t.text.data() + t.text.size(), v).ec != std::errc{}) continue;
      if (!day && t.text.size() <= 2 && !year) {
        day = v;
      } else if (!year) {
        // RFC 5322 4.3: two-digit years 00-49 are 20xx, 50-99 19xx; three-digit +1900.
        std::int64_t y = v;
        if (t.text.size() == 2) y += v < 50 ? 2000 : 1900;
        else if (t.text.size() == 3) y += 1900;
        year = y;
      } else if (!day && t.text.size() <= 2) {
        day = v;
      }
    } else if (t.kind == 'a') {
      if (auto m = month_of(t.text); m && !month && t.text.size() <= 9) {
        month = m;
      } else if (hour && !zone) {
        if (auto z = named_zone(t.text)) zone = z;
      }
    } else if (t.kind == 'z') {
      if (!hour || zone) continue;
      const std::string_view digits = std::string_view(t.text).substr(1);
      if (digits.size() != 4) continue;
      const int hh = (digits[0] - '0') * 10 + (digits[1] - '0');
      const int mm = (digits[2] - '0') * 10 + (digits[3] - '0');
      if (mm > 59) return std::nullopt;
      zone = (t.text[0] == '-' ? -1 : 1) * (hh * 60 + mm);
    }
  }
  if (!day || !month || !year || !hour) return std::nullopt;
  if (*year < 1 || *year > 9999) return std::nullopt;
  if (*day < 1 || static_cast<unsigned>(*day) > days_in_month(*year, static_cast<unsigned>(*month)))
    return std::nullopt;
  if (*hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  const int sec = *second == 60 ? 59 : *second;  // leap second: clamp
  const std::int64_t days =
      days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
  return days * 86400 + *hour * 3600 + *minute * 60 + sec - static_cast<std::int64_t>(zone.value_or(0)) * 60;
}

std::string format_rfc5322_date(std::int64_t epoch_seconds) {
  std::int64_t days = epoch_seconds / 86400;
  std::int64_t rem = epoch_seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  const auto wd = static_cast<std::size_t>(((days % 7) + 7) % 7);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*s, %u %.*s %04lld %02d:%02d:%02d +0000",
                static_cast<int>(kDayNames[wd].size()), kDayNames[wd].data(), d,
                static_cast<int>(kMonthNames[m - 1].size()), kMonthNames[m - 1].data(),
                static_cast<long long>(y), static_cast<int>(rem / 3600),
                static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60));
  return buf;
}

std::vector<std::string> parse_message_ids(std::string_view s, std::size_t max_ids) {
  std::vector<std::string> out;
  bool any_bracket = false;
  std::size_t i = 0;
  while (i < s.size() && out.size() < max_ids) {
    if (s[i] == '(') {  // comment
      int depth = 0;
      for (; i < s.size(); ++i) {
        if (s[i] == '\\') { ++i; continue; }
        if (s[i] == '(') ++depth;
        else if (s[i] == ')' && --depth == 0) break;
      }
      ++i;
      continue;
    }
    if (s[i] == '"') {  // quoted string outside an id: skip it
      for (++i; i < s.size() && s[i] != '"'; ++i)
        if (s[i] == '\\') ++i;
      ++i;
      continue;
    }
    if (s[i] != '<') {
      ++i;
      continue;
    }
    any_bracket = true;
    const std::size_t close = s.find('>', i + 1);
    if (close == std::string_view::npos) break;
    std::string id;
    for (std::size_t k = i + 1; k < close; ++k) {
      const char c = s[k];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '<') continue;
      id.push_back(c);
    }
    if (!id.empty() && id.size() <= 998) {
      repair_utf8(id);  // raw 8-bit bytes: UTF-8 (RFC 6532) or U+FFFD, never as is
      out.push_back(std::move(id));
    }
    i = close + 1;
  }
  if (!any_bracket) {
    std::size_t k = 0;
    while (k < s.size() && out.size() < max_ids) {
      while (k < s.size() && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n' ||
                              s[k] == ','))
        ++k;
      const std::size_t b = k;
      while (k < s.size() && !(s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n' ||
                               s[k] == ','))
        ++k;
      std::string_view w = s.substr(b, k - b);
      if (w.find('@') != std::string_view::npos && w.size() <= 998) {
        out.emplace_back(w);
        repair_utf8(out.back());
      }
    }
  }
  return out;
}

std::string_view truncate_utf8(std::string_view s, std::size_t max_bytes) noexcept {
  if (s.size() <= max_bytes) return s;
  std::size_t n = max_bytes;
  // Back off over continuation bytes to the start of the cut sequence.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::vector<std::string> header_field_bodies(std::string_view message,
                                             std::initializer_list<std::string_view> names,
                                             std::size_t max_scan_bytes) {
  std::vector<std::string> out;
  std::string* current = nullptr;  // the wanted field being unfolded, if any
  std::size_t pos = 0;
  while (pos < message.size() && pos < max_scan_bytes) {
    auto e = message.find('\n', pos);
    if (e == std::string_view::npos) break;
    auto line = message.substr(pos, e - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = e + 1;
    if (line.empty()) break;  // end of the header block
    if (line[0] == ' ' || line[0] == '\t') {
      if (current && current->size() < kMaxFieldBodyBytes) current->append(line);
      continue;
    }
    current = nullptr;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();  // obs-optional
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (std::string_view wanted : names) {
      if (name != wanted) continue;
      out.emplace_back(line.substr(colon + 1, kMaxFieldBodyBytes));
      current = &out.back();
      break;
    }
  }
  return out;
}

std::vector<FieldSpan> header_fields(std::string_view section, std::size_t max_scan_bytes) {
  std::vector<FieldSpan> out;
  section = section.substr(0, std::min(section.size(), max_scan_bytes));
  std::size_t pos = 0;
  while (pos < section.size()) {
    // One field: its first line and every continuation line (starting with WSP).
    const std::size_t start = pos;
    std::size_t end = pos;
    bool complete = false;
    for (;;) {
      const auto nl = section.find('\n', end);
      if (nl == std::string_view::npos) break;
      end = nl + 1;
      if (end >= section.size() || (section[end] != ' ' && section[end] != '\t')) {
        complete = true;
        break;
      }
    }
    if (!complete) break;  // cut by the scan bound
    const std::string_view field = section.substr(start, end - start);
    if (field == "\r\n" || field == "\n") break;  // the end of the header section
    const auto colon = field.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = field.substr(0, colon);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      out.push_back(FieldSpan{start, end, name, field.substr(colon + 1)});
    }
    pos = end;
  }
  return out;
}

}  // namespace refmail::mime
