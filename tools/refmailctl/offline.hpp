// tools/refmailctl/offline.hpp — commands that open the store directly, without the
// daemon. They refuse (one line, exit 1) while refmaild holds the store: RocksDB's
// lock file is the arbiter, so two writers can never open it at once.
#pragma once
#include <iosfwd>
#include <string>

#include "config/config.hpp"

namespace refmail::tools {

// fsck with repair: recompute every count, print the drift, write the corrections.
int offline_fsck(const config::Config& cfg, bool repair, bool json, std::ostream& out, std::ostream& err);

// Replace <data_dir>/store with the checkpoint in `checkpoint_dir`.
int offline_restore(const config::Config& cfg, const std::string& checkpoint_dir, std::ostream& out,
                    std::ostream& err);

// Rebuild the full-text index (<data_dir>/fts) of `account`, or of every user when empty.
int offline_index_rebuild(const config::Config& cfg, const std::string& account, std::ostream& out,
                          std::ostream& err);

}  // namespace refmail::tools
