// sieve/variables_internal.hpp — the variables extension's string work (RFC 5229):
// ${name} and ${N} substitution (3), the set modifiers (4.1), flag-list normalisation
// for imap4flags (RFC 5232 3). Pure functions; sizes bounded by the caller's limit.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace refmail::sieve::detail {

// Substitutes variable references in `s`. Unknown names (and namespaced names) expand
// to ""; malformed references stay as written. The result is cut at `max_bytes`.
// Not recursive: substituted text is not scanned again.
[[nodiscard]] std::string expand_variables(std::string_view s, const std::map<std::string, std::string>& vars,
                                           const std::vector<std::string>& match_vars, std::size_t max_bytes);

// RFC 5229 4.1, in precedence order (40 lower/upper, 30 lowerfirst/upperfirst,
// 20 quotewildcard, 10 length). `modifiers` as the kMod* bits.
[[nodiscard]] std::string apply_modifiers(std::string value, unsigned modifiers);

// RFC 5232 3: the flags of a list of strings, each split at spaces, duplicates
// (ASCII case-insensitive) dropped, first spelling kept; at most kMaxFlags (the rest
// are dropped: an IMAP message with hundreds of keywords is not a use case).
inline constexpr std::size_t kMaxFlags = 256;
[[nodiscard]] std::vector<std::string> flag_list(const std::vector<std::string>& strings);
[[nodiscard]] std::string join_flags(const std::vector<std::string>& flags);
[[nodiscard]] bool iequals(std::string_view a, std::string_view b);
[[nodiscard]] std::string to_lower(std::string_view s);

}  // namespace refmail::sieve::detail
