// config/import_config.hpp — the [import] section: legacy IMAP sources refmail copies
// mail from when they notify it (webhook or IDLE), and which source user lands in
// which refmail account with which credentials. Pure values and parsing; no sockets.
// SECURITY: a source's notify token authenticates its webhooks; passwords may live in
// files (password_file) so the TOML can stay world-readable. Tokens shorter than 16
// characters are refused.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace refmail::config {

enum class errc;

// How the IMAP connection is protected (RFC 9051 / RFC 8314).
enum class ImportTls { None, StartTls, Tls };

struct ImportSource {
  std::string name;              // the id used in notifications and refmailctl
  std::string host;              // IMAP server
  std::uint16_t port = 143;
  ImportTls tls = ImportTls::StartTls;
  std::string ca_file;           // empty: the system CA store
  std::string token;             // notify endpoint bearer token (empty: no webhook)
  std::string master_user;       // optional master login: LOGIN "user*master" (Dovecot)
  std::string master_password;   // or master_password_file
  std::string master_password_file;
  std::string master_separator = "*";
  bool idle = false;             // keep an IMAP IDLE watcher per mapped mailbox
  // Imported messages' To/Cc recipients that are local accounts get a grant for the
  // message's blobs (download only; no mailbox row). Default off; a mapping may override.
  bool grant_recipients = false;
};

struct ImportMapping {
  std::string source;            // ImportSource::name
  std::string user;              // login name on the source
  std::string account;           // refmail account (user@domain)
  std::string password;          // or password_file, or none with the source's master login
  std::string password_file;
  std::vector<std::string> mailboxes{"INBOX"};  // watched by IDLE; `import run` copies all listed
  std::optional<bool> grant_recipients;  // unset: the source's grant_recipients
};

struct Import {
  std::vector<ImportSource> sources;
  std::vector<ImportMapping> mappings;
  std::chrono::seconds coalesce_window{30};  // a burst of notifications -> one batch
  std::uint32_t batch_size = 200;            // UIDs per UID FETCH
  std::uint64_t max_message_bytes = 100ull << 20;  // larger literals are refused
  std::chrono::seconds timeout{120};         // connect, TLS, each response line/literal
  std::vector<std::chrono::seconds> retry_schedule{
      std::chrono::seconds(30), std::chrono::seconds(120), std::chrono::seconds(600),
      std::chrono::seconds(1800)};  // the last one repeats

  [[nodiscard]] const ImportSource* find_source(std::string_view name) const;
  // The mapping for (source, user); user names compare exactly.
  [[nodiscard]] const ImportMapping* find_mapping(std::string_view source, std::string_view user) const;
  // Whether messages imported through `m` grant their local To/Cc recipients: the
  // mapping's own setting, else its source's (false when the source is unknown).
  [[nodiscard]] bool grants_recipients(const ImportMapping& m) const;
};

struct ImportParseError {
  errc code;
  std::string message;  // "file:line: key 'import.x': reason"
};

// Parses the [import] table of a whole refmail TOML document (other tables are
// ignored; config::parse owns them). Returns nothing on success.
[[nodiscard]] std::optional<ImportParseError> parse_import(std::string_view toml_text,
                                                           std::string_view source_name, Import& out);

// Reads the password for a mapping (password, password_file, else the source's master
// password / file). Errors are an empty optional and `why`.
[[nodiscard]] std::optional<std::string> read_secret(const std::string& inline_value,
                                                     const std::string& file, std::string& why);

}  // namespace refmail::config
