// tools/refmailctl/commands.hpp — the subcommands of refmailctl, one file each.
// main.cpp parses the command line (CLI11) and calls one of these; each returns the
// process exit status and writes its report to `out`, its errors to `err`.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

namespace refmail::tools {

// `refmailctl mime check FILE... [--json]`: offline (no daemon). Splits every message
// of each file (Maildir file, .eml, or mbox split into messages), joins it back and
// reports one line per message plus a summary. Returns 0 only if every message
// round-trips byte for byte; 1 if any does not; 2 if a file cannot be read.
int mime_check(const std::vector<std::string>& files, bool json, std::ostream& out,
               std::ostream& err);

}  // namespace refmail::tools
