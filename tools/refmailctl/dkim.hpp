// tools/refmailctl/dkim.hpp — `refmailctl dkim ...`: the DKIM signing keys under
// <data_dir>/dkim (delivery/dkim_signing.hpp), on the files (refmaild picks a change up
// at the next message). keygen DOMAIN | rotate DOMAIN | list [DOMAIN] | show DOMAIN |
// remove DOMAIN SELECTOR.
#pragma once
#include <ostream>
#include <string>

#include "config/config.hpp"

namespace refmail::tools {

struct DkimArgs {
  std::string sub;  // keygen, rotate, list, show, remove
  std::string domain;
  std::string selector;
  unsigned bits = 2048;
  bool json = false;
};

// Returns the exit status.
[[nodiscard]] int dkim_command(const std::string& data_dir, const DkimArgs& a, std::ostream& out, std::ostream& err);

// `refmailctl dns DOMAIN`: every record DOMAIN needs for mail served by this refmail, in
// zone-file form: MX (the configured hostname), SPF, the DKIM selectors (signing and
// retired), DMARC and TLS-RPT with reports to postmaster@DOMAIN, and the client set-up
// SRV records for the configured listeners' ports.
[[nodiscard]] int dns_command(const config::Config& cfg, const std::string& domain, std::ostream& out,
                              std::ostream& err);

}  // namespace refmail::tools
