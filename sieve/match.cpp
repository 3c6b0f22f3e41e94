// sieve/match.cpp — comparators and match types (see match_internal.hpp). The wildcard
// matcher is iterative (one backtrack point: the last '*'), O(text x pattern) at worst,
// and charged to the budget; regex goes to the Pike VM in regex.cpp.
#include <algorithm>

#include "sieve/match_internal.hpp"
#include "sieve/regex_internal.hpp"

namespace refmail::sieve::detail {
namespace {

char fold(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool eq_char(Comparator c, char a, char b) { return c == Comparator::Octet ? a == b : fold(a) == fold(b); }

// RFC 4790 9.1: the number at the start of the string; none = positive infinity.
int compare_numeric(std::string_view a, std::string_view b) {
  auto digits = [](std::string_view s) {
    std::size_t n = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
    std::string_view d = s.substr(0, n);
    bool inf = n == 0;
    while (d.size() > 1 && d.front() == '0') d.remove_prefix(1);
    return std::pair{inf, d};
  };
  auto [ia, da] = digits(a);
  auto [ib, db] = digits(b);
  if (ia || ib) return ia == ib ? 0 : (ia ? 1 : -1);
  if (da.size() != db.size()) return da.size() < db.size() ? -1 : 1;
  int c = da.compare(db);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

std::size_t utf8_len(unsigned char c) {
  if (c < 0xC0) return 1;
  if (c < 0xE0) return 2;
  if (c < 0xF0) return 3;
  return 4;
}

struct WTok { enum { Lit, One, Star } kind; char c; std::size_t wild; };

MatchResult wildcard(Comparator cmp, std::string_view text, std::string_view pattern,
                     std::vector<std::string>* captures, std::size_t& budget) {
  std::vector<WTok> toks;
  std::size_t wilds = 0;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) toks.push_back({WTok::Lit, pattern[++i], 0});
    else if (c == '*') {
      if (!toks.empty() && toks.back().kind == WTok::Star) {  // "**" = "*", but keep the numbering
        toks.push_back({WTok::Star, 0, wilds++});
        continue;
      }
      toks.push_back({WTok::Star, 0, wilds++});
    } else if (c == '?') toks.push_back({WTok::One, 0, wilds++});
    else toks.push_back({WTok::Lit, c, 0});
  }
  std::vector<std::pair<std::size_t, std::size_t>> caps(wilds, {0, 0});
  std::size_t ti = 0, pi = 0, star_pi = SIZE_MAX, star_ti = 0;
  const std::size_t n = text.size(), m = toks.size();
  while (ti < n) {
    if (budget == 0) return MatchResult::Budget;
    --budget;
    if (pi < m && toks[pi].kind == WTok::One) {
      std::size_t len = std::min(utf8_len(static_cast<unsigned char>(text[ti])), n - ti);
      caps[toks[pi].wild] = {ti, ti + len};
      ti += len;
      ++pi;
    } else if (pi < m && toks[pi].kind == WTok::Lit && eq_char(cmp, text[ti], toks[pi].c)) {
      ++ti;
      ++pi;
    } else if (pi < m && toks[pi].kind == WTok::Star) {
      star_pi = pi;
      star_ti = ti;
      caps[toks[pi].wild] = {ti, ti};
      ++pi;
    } else if (star_pi != SIZE_MAX) {
      // RFC 5229 3.2: each '*' matches as little as possible; grow the last one.
      star_ti += std::min(utf8_len(static_cast<unsigned char>(text[star_ti])), n - star_ti);
      ti = star_ti;
      caps[toks[star_pi].wild].second = ti;
      pi = star_pi + 1;
    } else {
      return MatchResult::No;
    }
  }
  while (pi < m && toks[pi].kind == WTok::Star) {
    caps[toks[pi].wild] = {n, n};
    ++pi;
  }
  if (pi != m) return MatchResult::No;
  if (captures) {
    captures->clear();
    captures->emplace_back(text);
    for (std::size_t k = 0; k < wilds && k < 9; ++k)
      captures->emplace_back(text.substr(caps[k].first, caps[k].second - caps[k].first));
  }
  return MatchResult::Yes;
}

}  // namespace

int compare(Comparator c, std::string_view a, std::string_view b) {
  if (c == Comparator::AsciiNumeric) return compare_numeric(a, b);
  std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    auto x = static_cast<unsigned char>(c == Comparator::Octet ? a[i] : fold(a[i]));
    auto y = static_cast<unsigned char>(c == Comparator::Octet ? b[i] : fold(b[i]));
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

bool relop_holds(Relop r, int c) {
  switch (r) {
    case Relop::Gt: return c > 0;
    case Relop::Ge: return c >= 0;
    case Relop::Lt: return c < 0;
    case Relop::Le: return c <= 0;
    case Relop::Eq: return c == 0;
    case Relop::Ne: return c != 0;
  }
  return false;
}

MatchResult match(MatchType type, Relop relop, Comparator cmp, std::string_view value, std::string_view key,
                  std::vector<std::string>* captures, std::size_t& budget) {
  switch (type) {
    case MatchType::Is:
    case MatchType::Count: {
      std::size_t cost = 1 + std::min(value.size(), key.size()) / 16;
      if (budget < cost) return MatchResult::Budget;
      budget -= cost;
      return compare(cmp, value, key) == 0 ? MatchResult::Yes : MatchResult::No;
    }
    case MatchType::Value: {
      std::size_t cost = 1 + std::min(value.size(), key.size()) / 16;
      if (budget < cost) return MatchResult::Budget;
      budget -= cost;
      return relop_holds(relop, compare(cmp, value, key)) ? MatchResult::Yes : MatchResult::No;
    }
    case MatchType::Contains: {
      if (key.empty()) return MatchResult::Yes;
      // Worst case value x key comparisons; charge it up front, bounded.
      std::size_t cost = 1 + (value.size() / 16) * std::min<std::size_t>(key.size(), 64);
      if (budget < cost) return MatchResult::Budget;
      budget -= cost;
      auto it = std::search(value.begin(), value.end(), key.begin(), key.end(),
                            [cmp](char a, char b) { return eq_char(cmp, a, b); });
      return it != value.end() ? MatchResult::Yes : MatchResult::No;
    }
    case MatchType::Matches:
      return wildcard(cmp, value, key, captures, budget);
    case MatchType::Regex: {
      RegexProgram prog;
      bool icase = cmp == Comparator::AsciiCasemap;
      if (compile_regex(key, icase, prog)) return MatchResult::BadRegex;
      std::size_t cost = 1 + prog.code.size() / 8;
      if (budget < cost) return MatchResult::Budget;
      budget -= cost;
      switch (regex_search(prog, value, icase, captures, budget)) {
        case RegexResult::Match: return MatchResult::Yes;
        case RegexResult::NoMatch: return MatchResult::No;
        case RegexResult::Budget: return MatchResult::Budget;
      }
    }
  }
  return MatchResult::No;
}

std::string quote_wildcard(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace refmail::sieve::detail
