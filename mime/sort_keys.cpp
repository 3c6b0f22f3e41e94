// mime/sort_keys.cpp — see sort_keys.hpp.
#include "mime/sort_keys.hpp"

#include "mime/headers.hpp"
#include "mime/summary.hpp"

namespace refmail::mime {

namespace {

// ASCII case folded, NULs dropped, at most `max` bytes of `s` looked at.
std::string key_of(std::string_view s, std::size_t max) {
  std::string out;
  s = s.substr(0, std::min(s.size(), max));
  out.reserve(s.size());
  for (char c : s)
    if (c != '\0') out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  return out;
}

std::string cut(std::string s) { return std::string(truncate_utf8(s, kMaxSortKeyBytes)); }

}  // namespace

std::string base_subject(std::string_view subject) {
  // A bounded prefix: what sorts is the start once the reply/forward prefixes are gone.
  std::string s = key_of(subject, 4096);
  auto trim = [&] {
    std::size_t b = 0;
    while (b < s.size() && (s[b] == ' ' || s[b] == '\t')) ++b;
    s.erase(0, b);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  };
  for (bool changed = true; changed;) {
    changed = false;
    trim();
    if (s.size() >= 5 && s.compare(s.size() - 5, 5, "(fwd)") == 0) {
      s.resize(s.size() - 5);
      changed = true;
      continue;
    }
    for (std::string_view p : {"re", "fwd", "fw"}) {
      if (s.compare(0, p.size(), p) != 0) continue;
      std::size_t i = p.size();
      if (i < s.size() && s[i] == '[') {
        auto close = s.find(']', i);
        if (close == std::string::npos) continue;
        i = close + 1;
      }
      if (i < s.size() && s[i] == ':') {
        s.erase(0, i + 1);
        changed = true;
        break;
      }
    }
    if (!changed && s.size() > 1 && s.front() == '[') {
      auto close = s.find(']');
      if (close != std::string::npos && close + 1 < s.size()) {
        s.erase(0, close + 1);
        changed = true;
      }
    }
  }
  return cut(std::move(s));
}

std::string address_sort_key(const std::vector<Address>& list) {
  if (list.empty()) return {};
  return cut(key_of(list.front().name.empty() ? list.front().email : list.front().name, 4 * kMaxSortKeyBytes));
}

SortKeys sort_keys(const Summary& s) {
  SortKeys k;
  k.sent_at = s.date.value_or(0);
  k.from = address_sort_key(s.from);
  k.to = address_sort_key(s.to);
  k.subject = base_subject(s.subject);
  return k;
}

}  // namespace refmail::mime
