// tools/sendmail/account_edit.hpp — `refmail-sendmail account set`: rewrites one
// [account.NAME] table of the TOML config at the text level, so every other account,
// every comment and the layout survive (a re-serialised document would lose comments),
// and writes the file atomically (temp file in the same folder, fsync, rename, fsync of
// the folder) with mode 0600.
// SECURITY: the result is parsed again and compared with the intended change before
// anything is written: other accounts must be unchanged and the account must hold
// exactly the new values; otherwise the file is left alone. The secret is written only
// to the 0600 temp file, never to a message.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tools/sendmail/args.hpp"
#include "tools/sendmail/failure.hpp"

namespace refmail::sendmail {

struct AccountUpdate {
  std::string name;  // REQUIRES: [A-Za-z0-9_-], 1..64 bytes
  // key -> TOML value literal, already encoded (toml_string(), or digits for port).
  std::vector<std::pair<std::string, std::string>> set;
  std::vector<std::string> remove;  // keys to delete from the table
};

// A TOML basic string literal with quotes and escapes.
[[nodiscard]] std::string toml_string(std::string_view s);

// Builds the update from the command line; `password` is what --password-stdin read.
// Failure (EX_USAGE): a bad account name, TLS mode or AUTH mechanism.
[[nodiscard]] Result<AccountUpdate> make_account_update(const AccountSetArgs& args,
                                                        const std::optional<std::string>& password);

// Returns `text` with the update applied. `text` may be empty (a new file). Failure
// (EX_CONFIG): `text` is not valid TOML, or the account is defined in a form this
// editor does not rewrite (inline table, dotted keys), or the result would not be a
// valid refmail-sendmail config (e.g. a new account without host).
[[nodiscard]] Result<std::string> apply_account_update(std::string_view text, const AccountUpdate& update,
                                                       std::string_view source);

// Writes `content` to `path` atomically with mode 0600. Failure: EX_CANTCREAT / EX_IOERR.
[[nodiscard]] Result<void> write_file_atomically(const std::string& path, std::string_view content);

}  // namespace refmail::sendmail
