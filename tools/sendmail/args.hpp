// tools/sendmail/args.hpp — refmail-sendmail's command line: the classic sendmail
// interface (`[-t] [-i] [-f FROM] [-F NAME] [--] [RCPT...] < message`, with the usual
// -o/-b/-N/... flags accepted and ignored as Postfix and msmtp do), the notification
// mode (`send --to A --subject S ...`) and `account set NAME ...`.
// Pure: parses strings, reads no file. Errors are EX_USAGE failures with one line.
// SECURITY: no secret is ever taken from the command line (ps shows it): a password
// comes from stdin (--password-stdin), a file or a command.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tools/sendmail/failure.hpp"

namespace refmail::sendmail {

inline constexpr std::string_view kDefaultConfigPath = "/etc/refmail/sendmail.toml";

enum class Mode { Sendmail, Send, AccountSet, Help, Version };

struct CommonArgs {
  std::string config_path{kDefaultConfigPath};
  std::string account;          // empty: the config's default
  bool verbose = false;         // SMTP dialogue on stderr, secrets masked
  bool dry_run = false;         // print the message and envelope, send nothing
  bool allow_plaintext = false; // permits an account with tls = "none"
};

struct SendmailArgs {
  bool extract_recipients = false;  // -t
  bool ignore_dots = false;         // -i / -oi
  std::string from;                 // -f / -r: envelope sender
  std::string full_name;            // -F: display name for a generated From:
  std::vector<std::string> rcpts;   // operands (each may hold a comma-separated list)
};

struct SendArgs {
  std::vector<std::string> to, cc, bcc;
  std::string from;
  std::string subject;
  std::optional<std::string> body;       // --body TEXT
  std::optional<std::string> body_file;  // --body-file F ("-" = stdin)
  std::optional<std::string> html_file;
  std::vector<std::string> attach;
};

struct AccountSetArgs {
  std::string name;
  std::optional<std::string> host, tls, auth, user, from, ca_file, password_file, password_command;
  std::optional<std::uint16_t> port;
  bool password_stdin = false;
};

struct Invocation {
  Mode mode = Mode::Sendmail;
  CommonArgs common;
  SendmailArgs sendmail;
  SendArgs send;
  AccountSetArgs account;
};

// `program` is argv[0]: invoked as "sendmail" (basename), there are no sub-commands and
// every operand is a recipient, as scripts expect. `args` excludes argv[0].
[[nodiscard]] Result<Invocation> parse_args(std::string_view program, std::span<const std::string> args);

[[nodiscard]] std::string usage_text();

}  // namespace refmail::sendmail
