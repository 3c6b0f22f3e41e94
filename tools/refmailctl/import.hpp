// tools/refmailctl/import.hpp — `refmailctl import ...`: the legacy-import worker through
// the admin API (/admin/v1/import). status [--json] | run SOURCE USER [--mailbox M].
// SECURITY: only talks to the admin socket; prints what the daemon returned.
#pragma once
#include <ostream>
#include <string>

#include "tools/refmailctl/queue.hpp"

namespace refmail::tools {

// Runs one import subcommand ("status" or "run"); returns the exit status.
[[nodiscard]] int import_command(const std::string& sub, const std::string& source, const std::string& user,
                                 const std::string& mailbox, bool json_out, const AdminCall& call,
                                 std::ostream& out);

}  // namespace refmail::tools
