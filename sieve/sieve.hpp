// sieve/sieve.hpp — the Sieve mail filtering language (RFC 5228) and its extensions:
// compile a script once, run it per delivered message. Sans-I/O: the message and the
// delivery context come through sieve/message.hpp, the decisions go out as an Outcome.
// Extensions (capabilities()): body (RFC 5173), comparator-i;ascii-numeric (RFC 4790),
// copy (RFC 3894), date + index (RFC 5260), editheader (RFC 5293), encoded-character
// (RFC 5228 2.4.2.4), envelope, fileinto, reject + ereject (RFC 5429), imap4flags
// (RFC 5232), mailbox (RFC 5490),
// regex (draft-ietf-sieve-regex, POSIX ERE), relational (RFC 5231), subaddress
// (RFC 5233), vacation + vacation-seconds (RFC 5230, 6131), variables (RFC 5229).
// SECURITY: scripts and messages are untrusted; compile and run are total, never throw
// for bad input, and are bounded by Limits (no recursion deeper than max_nesting, no
// backtracking regex: a linear-time VM charged to max_steps).
#pragma once
#include <memory>
#include <optional>
#include <string_view>

#include "sieve/limits.hpp"
#include "sieve/message.hpp"
#include "sieve/outcome.hpp"

namespace refmail::sieve {

class Script;  // compiled, immutable: share it across threads and runs

struct Compiled {
  std::shared_ptr<const Script> script;  // null exactly when error is set
  std::optional<Error> error;
};

// Compiles `source` (UTF-8). Unknown commands, tests, tags, extensions, wrong argument
// types, misplaced require/elsif/else, over-limit sizes: an Error with line:column.
[[nodiscard]] Compiled compile(std::string_view source, const Limits& limits = {});

// The extensions this library implements, space-separated (ManageSieve's SIEVE
// capability, RFC 5804 1.7).
[[nodiscard]] std::string_view capabilities();

// Runs `script` over `message`. Never throws for bad input; a run-time error (budget,
// too many actions, conflicting actions, bad regex) gives Outcome::runtime_error and the
// implicit keep.
[[nodiscard]] Outcome run(const Script& script, const Message& message, const Context& context,
                          const Limits& limits = {});

}  // namespace refmail::sieve
