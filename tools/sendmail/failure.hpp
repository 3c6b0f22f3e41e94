// tools/sendmail/failure.hpp — how refmail-sendmail reports an expected failure: a
// sysexits.h exit code and one human-readable line (sendmail's contract with scripts:
// EX_TEMPFAIL means "try again later", anything else non-zero is permanent).
// SECURITY: messages never contain a password or token; they may contain the server's
// reply text, which callers print as-is on one line (control characters replaced).
#pragma once
#include <sysexits.h>

#include <string>
#include <utility>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

namespace refmail::sendmail {

struct Failure {
  int exit_code = EX_SOFTWARE;  // a sysexits.h value, never 0
  std::string message;          // one line, no trailing newline
};

// Only reached if a caller calls .value() on a failed result (a bug): abort loudly.
[[noreturn]] void throw_exception_from_error(const Failure& f, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Failure>;

[[nodiscard]] inline Failure fail(int exit_code, std::string message) {
  return Failure{exit_code, std::move(message)};
}

// Replaces CR, LF and other control characters by spaces, so a server's (or a file
// name's) text cannot forge extra lines in our error output.
[[nodiscard]] std::string one_line(std::string_view s);

}  // namespace refmail::sendmail
