// sieve/match_internal.hpp — comparators (RFC 4790: i;octet, i;ascii-casemap,
// i;ascii-numeric) and match types (RFC 5228 2.7.1 :is :contains :matches, RFC 5231
// :value, draft-ietf-sieve-regex :regex), with the match variables they set
// (RFC 5229 3.2). Work is counted in "work units" against a caller's budget
// (kWorkPerStep units = one interpreter step).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sieve/ast_internal.hpp"

namespace refmail::sieve::detail {

inline constexpr std::size_t kWorkPerStep = 64;

enum class MatchResult { No, Yes, Budget, BadRegex };

// <0, 0, >0 as a orders before, equal to, after b under the comparator.
[[nodiscard]] int compare(Comparator c, std::string_view a, std::string_view b);
[[nodiscard]] bool relop_holds(Relop r, int cmp);

// One value against one key. For :matches and :regex a successful match fills
// `captures` (${0}.. ) when it is not null. For :count the caller compares the count.
[[nodiscard]] MatchResult match(MatchType type, Relop relop, Comparator comparator, std::string_view value,
                                std::string_view key, std::vector<std::string>* captures, std::size_t& budget);

// RFC 5229 4.1 :quotewildcard: backslash before '*', '?' and '\'.
[[nodiscard]] std::string quote_wildcard(std::string_view s);

}  // namespace refmail::sieve::detail
