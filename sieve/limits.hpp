// sieve/limits.hpp — the bounds of one Sieve compilation and one run, and the compile
// error value. Every loop, string, list and recursion in refmail_sieve is bounded by one
// of these; exceeding one is a compile error (source too large, nesting too deep, string
// too long) or a run-time error (steps, actions, redirects, variables), never a crash.
#pragma once
#include <cstddef>
#include <string>

namespace refmail::sieve {

struct Limits {
  std::size_t max_script_bytes = 1 << 20;    // source size
  std::size_t max_nesting = 64;              // blocks + nested tests together
  std::size_t max_string_bytes = 256 << 10;  // one string literal, one variable value
  std::size_t max_actions = 64;              // fileinto + redirect + flag changes... per run
  std::size_t max_redirects = 4;
  std::size_t max_steps = 100000;            // commands + tests + match work (regex/wildcard)
  std::size_t max_variables = 128;
};

// A compile error at a 1-based line and column of the source (column in bytes).
struct Error {
  unsigned line = 0, column = 0;
  std::string message;
  // "3:14: unknown command \"fileint\""
  [[nodiscard]] std::string to_string() const {
    return std::to_string(line) + ":" + std::to_string(column) + ": " + message;
  }
};

}  // namespace refmail::sieve
