// tools/refmailctl/sieve.hpp — `refmailctl sieve ...` and `refmailctl vacation ...`: a
// user's Sieve scripts and vacation reply through the admin API (/admin/v1/sieve), as
// `doveadm sieve` gives a Dovecot admin. sieve list USER | show USER NAME |
// put USER NAME FILE [--activate] | activate USER NAME | deactivate USER |
// delete USER NAME; vacation show USER | off USER.
#pragma once
#include <ostream>
#include <string>

#include "tools/refmailctl/queue.hpp"

namespace refmail::tools {

struct SieveArgs {
  std::string user, name, file;
  bool activate = false;
};

// Runs one sieve subcommand; returns the exit status (64: usage, 66: FILE unreadable).
[[nodiscard]] int sieve_command(const std::string& sub, const SieveArgs& a, bool json_out, const AdminCall& call,
                                std::ostream& out, std::ostream& err);
// Runs one vacation subcommand (show, off).
[[nodiscard]] int vacation_command(const std::string& sub, const std::string& user, bool json_out,
                                   const AdminCall& call, std::ostream& out);

}  // namespace refmail::tools
