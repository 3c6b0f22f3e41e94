// sieve/variables.cpp — variable substitution, set modifiers and flag lists
// (RFC 5229, RFC 5232). See variables_internal.hpp.
#include "sieve/variables_internal.hpp"

#include "sieve/ast_internal.hpp"
#include "sieve/match_internal.hpp"

namespace refmail::sieve::detail {

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string expand_variables(std::string_view s, const std::map<std::string, std::string>& vars,
                             const std::vector<std::string>& match_vars, std::size_t max_bytes) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size() && out.size() <= max_bytes) {
    if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '{') {
      std::size_t close = s.find('}', i + 2);
      if (close != std::string_view::npos) {
        std::string_view name = s.substr(i + 2, close - i - 2);
        bool digits = !name.empty(), ident = !name.empty();
        for (std::size_t k = 0; k < name.size(); ++k) {
          char c = name[k];
          bool d = c >= '0' && c <= '9';
          bool a = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
          if (!d) digits = false;
          if (!(a || (d && k > 0) || (c == '.' && k > 0 && k + 1 < name.size()))) ident = false;
        }
        if (digits) {
          std::size_t n = 0;
          for (char c : name) n = n > 1000 ? n : n * 10 + static_cast<std::size_t>(c - '0');
          if (n < match_vars.size()) out += match_vars[n];
          i = close + 1;
          continue;
        }
        if (ident) {
          if (name.find('.') == std::string_view::npos) {
            auto it = vars.find(to_lower(name));
            if (it != vars.end()) out += it->second;
          }
          i = close + 1;
          continue;
        }
      }
    }
    out.push_back(s[i++]);
  }
  if (out.size() > max_bytes) out.resize(max_bytes);
  return out;
}

std::string apply_modifiers(std::string v, unsigned mods) {
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  auto upper = [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; };
  if (mods & kModLower) for (auto& c : v) c = lower(c);
  if (mods & kModUpper) for (auto& c : v) c = upper(c);
  if ((mods & kModLowerFirst) && !v.empty()) v[0] = lower(v[0]);
  if ((mods & kModUpperFirst) && !v.empty()) v[0] = upper(v[0]);
  if (mods & kModQuoteWildcard) v = quote_wildcard(v);
  if (mods & kModLength) {  // RFC 5229 4.1.3: length in characters (UTF-8)
    std::size_t n = 0;
    for (char c : v)
      if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    v = std::to_string(n);
  }
  return v;
}

std::vector<std::string> flag_list(const std::vector<std::string>& strings) {
  std::vector<std::string> out;
  for (const auto& s : strings) {
    std::size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && s[i] == ' ') ++i;
      std::size_t j = i;
      while (j < s.size() && s[j] != ' ') ++j;
      if (j > i && out.size() < kMaxFlags) {
        std::string_view f(s.data() + i, j - i);
        bool dup = false;
        for (const auto& o : out)
          if (iequals(o, f)) dup = true;
        if (!dup) out.emplace_back(f);
      }
      i = j;
    }
  }
  return out;
}

std::string join_flags(const std::vector<std::string>& flags) {
  std::string out;
  for (const auto& f : flags) {
    if (!out.empty()) out.push_back(' ');
    out += f;
  }
  return out;
}

}  // namespace refmail::sieve::detail
