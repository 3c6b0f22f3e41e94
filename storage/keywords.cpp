// storage/keywords.cpp — IMAP flags (RFC 9051 2.3.2) as the store's keywords (JMAP's,
// RFC 8621 4.1.1): \Seen is "$seen", and so on; other keywords lower-case as given.
#include <algorithm>
#include <cctype>

#include "storage/types.hpp"

namespace refmail::storage {

namespace {
constexpr std::pair<std::string_view, std::string_view> kSystem[] = {
    {"\\seen", "$seen"}, {"\\answered", "$answered"}, {"\\flagged", "$flagged"},
    {"\\draft", "$draft"}, {"\\deleted", "$deleted"},
};
std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& ch : r) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return r;
}

}  // namespace

std::optional<std::string> flag_to_keyword(std::string_view flag) {
  std::string l = lower(flag);
  if (!l.empty() && l[0] == '\\') {
    for (auto [f, k] : kSystem)
      if (l == f) return std::string(k);
    if (l == "\\recent") return std::string();
    return std::nullopt;
  }
  // RFC 8621 4.1.1: 1-255 of %x21-%x7e except ( ) { ] % * " \ (the IMAP atom rules).
  if (l.empty() || l.size() > storage::kMaxKeywordBytes) return std::nullopt;
  for (unsigned char ch : l)
    if (ch < 0x21 || ch > 0x7e || std::string_view("(){]%*\"\\").find(static_cast<char>(ch)) != std::string_view::npos)
      return std::nullopt;
  return l;
}

std::string keyword_to_flag(std::string_view keyword) {
  for (auto [f, k] : kSystem)
    if (keyword == k) {
      std::string r = "\\";
      r += static_cast<char>(std::toupper(static_cast<unsigned char>(f[1])));
      r += f.substr(2);
      return r;
    }
  return std::string(keyword);
}

}  // namespace refmail::storage
