// sieve/validate_internal.hpp — the command and test table (RFC 5228 and the
// extensions): which tags each takes, which positional arguments, which extension it
// needs; turns the parser's raw argument lists into a typed Node, or a compile error
// at the offending argument's line:column.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sieve/ast_internal.hpp"

namespace refmail::sieve::detail {

struct RawArg {
  enum Kind { Tag, Number, Strings } kind = Strings;
  std::string tag;
  std::uint64_t number = 0;
  std::vector<std::string> strings;
  bool list = false;  // written as [ ... ]
  unsigned line = 0, column = 0;
};

struct RawNode {
  std::string name;
  bool is_test = false;
  unsigned line = 0, column = 0;
  std::vector<RawArg> args;
  bool has_test = false, test_list = false;  // a test, or "(" test-list ")" followed
  std::vector<Node> tests;                     // already validated
  bool has_block = false;
  std::vector<Node> block;                     // already validated
};

// REQUIRES: `extensions` holds the bits of every "require" seen so far.
// On success fills `out` and returns nullopt. A "require" adds its bits to `extensions`.
[[nodiscard]] std::optional<Error> validate(RawNode&& raw, unsigned& extensions, const Limits& limits,
                                            Node& out);

}  // namespace refmail::sieve::detail
