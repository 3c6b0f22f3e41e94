// tools/sendmail/app.hpp — refmail-sendmail as a function: arguments, stdin and two
// output streams in, a sysexits.h exit code out; main.cpp only forwards to it, so the
// unit tests run whole invocations (dry runs, account set, bad input) in-process.
// SECURITY: everything is validated (config, account, sender, recipients, attachments)
// before a connection is opened, so bad input never half-sends.
#pragma once
#include <istream>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

namespace refmail::sendmail {

// `program` is argv[0]; `args` the rest. Errors are one line "refmail-sendmail: ..."
// on `err`; --dry-run writes the message to `out` and the envelope ("# ..." lines) to `err`.
[[nodiscard]] int run(std::string_view program, std::span<const std::string> args, std::istream& in,
                      std::ostream& out, std::ostream& err);

}  // namespace refmail::sendmail
