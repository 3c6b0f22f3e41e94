// tools/sendmail/settings.hpp — refmail-sendmail's own configuration file (TOML):
//
//   default = "work"              # optional: account used without --account
//   [account.work]
//   host = "mail.example.org"     # required
//   port = 587                    # default: 587 (starttls), 465 (tls), 25 (none)
//   tls = "starttls"              # starttls | tls (implicit, port 465) | none
//   auth = "auto"                 # auto (from EHLO: PLAIN, then LOGIN) | plain | login | xoauth2
//   user = "alerts@example.org"   # no user: no AUTH
//   password_file = "/etc/refmail/alerts.pw"   # or password = "...", or password_command
//   ca_file = "/etc/refmail/ca.pem"            # default: the system trust store
//   from = "alerts@example.org"   # envelope sender and generated From:
//
// Also per account: allow_plaintext (bool; tls = "none" needs it or --allow-plaintext),
// timeout (seconds, default 60), helo (EHLO name, default: the machine's host name).
// Unknown keys and bad values are refused with file:line, like config/config.cpp.
// SECURITY: a config or password file readable by group/others that holds a secret
// draws a warning; password_command runs through /bin/sh with no input, and only its
// first output line is used (trailing CR/LF removed).
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/sendmail/failure.hpp"

namespace refmail::sendmail {

enum class TlsSetting { StartTls, Implicit, None };
enum class AuthSetting { Auto, Plain, Login, XOAuth2 };

struct Account {
  std::string name;
  std::string host;
  std::uint16_t port = 0;  // 0: the TLS mode's default (effective_port())
  TlsSetting tls = TlsSetting::StartTls;
  AuthSetting auth = AuthSetting::Auto;
  std::string user;
  std::optional<std::string> password;
  std::string password_file;
  std::string password_command;
  std::string ca_file;
  std::string from;
  std::string helo;
  bool allow_plaintext = false;
  std::chrono::seconds timeout{60};

  [[nodiscard]] std::uint16_t effective_port() const noexcept;
  [[nodiscard]] bool has_secret() const noexcept {
    return password.has_value() || !password_file.empty() || !password_command.empty();
  }
};

struct Settings {
  std::string source;           // the file name, for messages
  std::string default_account;  // "" when not set
  std::vector<Account> accounts;
};

// Parses TOML text. Failure: EX_CONFIG with "source:line: ..." (line 0 when unknown).
[[nodiscard]] Result<Settings> parse_settings(std::string_view text, std::string_view source);

// Reads and parses `path`. A missing or unreadable file is EX_CONFIG. When the file holds
// an inline password and is readable by group or others, a warning line is appended.
[[nodiscard]] Result<Settings> load_settings(const std::string& path, std::vector<std::string>& warnings);

// The account named `name`, or (name empty) the `default` one, or the only one.
[[nodiscard]] Result<Account> choose_account(const Settings& settings, std::string_view name);

// The password or OAuth token of the account ("" when it has none). Reads
// password_file (first line; warns when group/world readable) or runs password_command.
// Failures (EX_CONFIG): unreadable file, command failed or printed nothing.
[[nodiscard]] Result<std::string> resolve_secret(const Account& account, std::vector<std::string>& warnings);

// Parses the words of the config values (also used by `account set` to validate flags).
[[nodiscard]] std::optional<TlsSetting> parse_tls_setting(std::string_view s);
[[nodiscard]] std::optional<AuthSetting> parse_auth_setting(std::string_view s);

// True when the file mode lets group or others read it.
[[nodiscard]] bool readable_by_others(const std::string& path);

}  // namespace refmail::sendmail
