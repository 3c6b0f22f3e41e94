// sieve/regex_internal.hpp — POSIX extended regular expressions for the regex match
// type (draft-ietf-sieve-regex): a parser to a small instruction program and a Pike VM
// (Thompson NFA simulation with submatch slots) that runs in O(text x program) time
// and never recurses or backtracks. Bytes, not characters ('.' matches one byte).
// Submatches follow leftmost-first priority (as Perl/RE2), not POSIX leftmost-longest.
// SECURITY: patterns come from scripts (and, through variables, from messages): the
// program is bounded (kMaxRegexProgram instructions, repetition counts <= 255, nesting
// <= 64) and every VM step is charged to the caller's budget.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace refmail::sieve::detail {

inline constexpr std::size_t kMaxRegexProgram = 8192;
inline constexpr std::size_t kMaxRegexGroups = 32;

struct RegexInst {
  enum Kind : std::uint8_t { Char, Any, Class, Split, Jmp, Save, Bol, Eol, Match } kind = Match;
  std::uint8_t c = 0;
  std::uint32_t x = 0, y = 0;  // Split: preferred x, then y; Jmp: x; Save: slot x; Class: index x
};

struct RegexProgram {
  std::vector<RegexInst> code;
  std::vector<std::vector<bool>> classes;  // 256 entries each
  std::size_t groups = 0;                  // capture groups, not counting group 0
};

// Compiles `pattern`; `icase` folds ASCII letters. nullopt on success, else what is wrong.
[[nodiscard]] std::optional<std::string> compile_regex(std::string_view pattern, bool icase, RegexProgram& out);

enum class RegexResult { NoMatch, Match, Budget };

// Searches `text` for the leftmost match (unanchored unless the pattern says ^/$).
// On a match, fills `captures` (if not null) with group 0..groups (empty if unset).
// Each thread step costs one unit of `budget`; Budget when it runs out.
[[nodiscard]] RegexResult regex_search(const RegexProgram& program, std::string_view text, bool icase,
                                       std::vector<std::string>* captures, std::size_t& budget);

}  // namespace refmail::sieve::detail
