// config/config.hpp — refmail's configuration: the TOML schema, its embedded
// defaults, and validation. Every key has a default, so refmaild runs with no file.
// Pure logic: parses text it is given (or a file it is told to read); opens no
// sockets. Errors name the file, the line and the key ("refmail.toml:7: key
// 'limits.message_size': expected an integer").
// SECURITY: unknown keys are refused (a typo must not silently disable a limit).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "config/import_config.hpp"

namespace refmail::config {

// A TCP listen address; an empty host means "disabled".
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  [[nodiscard]] bool enabled() const { return !host.empty(); }
  [[nodiscard]] std::string to_string() const;
};

struct Limits {
  std::uint64_t message_size_bytes = 50ull << 20;  // SMTP SIZE and DATA/BDAT cap
  std::uint32_t recipients = 1000;                 // RCPTs per transaction
  std::uint32_t connections = 500;                 // concurrent connections, all listeners
  // Each listener's own share of them (submission and smtps share one), so a flood on
  // one port cannot take the others' slots; a full budget sheds an idle connection
  // (server/connections.hpp) before it refuses.
  std::uint32_t mx_connections = 300;
  std::uint32_t submission_connections = 200;
  std::uint32_t http_connections = 300;
  std::uint32_t imap_connections = 300;  // imap and imaps share one
  // Message content being received over SMTP and not yet stored, all sessions together;
  // over it, the session that grows gets 452 4.3.1 at the end of its content.
  std::uint64_t inflight_bytes = 128ull << 20;
  std::uint32_t connections_per_ip = 50;
  std::uint32_t errors_before_disconnect = 10;
  std::uint32_t commands_before_mail = 50;
  std::uint32_t command_line_bytes = 2048;
  std::uint32_t data_line_bytes = 65536;
  // SMTP: the client has this long to send each complete command (RFC 5321 4.5.3.2
  // asks for >= 5 min), and each block of message content.
  std::chrono::seconds read_timeout{300};
  // SMTP: a transaction (MAIL to the reply after its content) and a whole session end
  // at these, however the client paces its bytes (421 4.4.2).
  std::chrono::seconds transaction_timeout{1200};
  std::chrono::seconds session_timeout{3600};
  // IMAP (server/imap_server.cpp): before login, the client has imap_login_timeout to
  // send each command (counted from our last answer); a command begun (a line or a
  // literal partly received) must be complete within imap_command_timeout; an idle
  // logged-in client, or one in IDLE, is logged out after imap_idle_timeout
  // (RFC 9051 5.4 asks for at least 30 minutes; "* BYE Autologout").
  std::chrono::seconds imap_login_timeout{60};
  std::chrono::seconds imap_command_timeout{60};
  std::chrono::seconds imap_idle_timeout{1800};
  std::uint64_t http_body_bytes = 64ull << 20;
  std::uint32_t mime_max_depth = 50;
  std::uint32_t mime_max_parts = 5000;
  std::uint32_t mime_max_header_bytes = 256u << 10;
};

struct Tls {
  std::string cert_file;  // PEM; empty: a self-signed pair is generated in data_dir/tls
  std::string key_file;
};

struct Smtp {
  // SMTP AUTH and IMAP LOGIN / AUTHENTICATE PLAIN without TLS from a loopback peer that
  // is not a trusted proxy; for tests on 127.0.0.1 only.
  bool plain_auth_on_loopback = false;
  bool allow_any_sender = false;        // submission may use any MAIL FROM / From
  // Submission: every From:/Sender: header address must be one the user may use as MAIL
  // FROM (own address or an alias delivering to them), RFC 6409 8; else 550 5.7.1.
  // Off with allow_any_sender.
  bool check_header_from = true;
  // A bare LF in DATA: false keeps it as content (default, as received); true drains the
  // message and answers 550 5.5.2 (Postfix smtpd_forbid_bare_newline = reject).
  bool reject_bare_lf = false;
  std::uint64_t min_cut_bytes = 2048;   // attachments smaller than this stay in the skeleton
};

// The outbound relay (server/relay.cpp). A smarthost, when set, replaces MX routing.
struct Relay {
  std::chrono::seconds max_age{5 * 24 * 3600};  // then the message bounces
  bool delay_warnings = false;                   // a "still trying" DSN to local senders
  std::chrono::seconds delay_warning_after{4 * 3600};
  // Retry delays after attempt 1, 2, ...; the last one repeats (RFC 5321 4.5.4.1).
  std::vector<std::chrono::seconds> retry_schedule{
      std::chrono::seconds(60), std::chrono::seconds(300), std::chrono::seconds(900),
      std::chrono::seconds(1800), std::chrono::seconds(3600)};
  std::vector<std::string> dns_servers;  // "ip" or "ip:port"; empty: /etc/resolv.conf
  std::uint16_t mx_port = 25;            // port of MX hosts (tests use a high port)
  std::uint32_t concurrency = 20;        // deliveries in flight, all destinations
  std::uint32_t per_domain_concurrency = 4;
  std::chrono::seconds timeout{300};     // connect, TLS handshake and every reply
  Endpoint smarthost;                    // disabled: deliver to the MX hosts
  std::string smarthost_tls = "starttls";  // starttls, tls, none
  std::string smarthost_auth = "plain";    // plain, login, xoauth2, none
  std::string smarthost_user;
  std::string smarthost_password;          // or smarthost_password_file
  std::string smarthost_password_file;
  std::string smarthost_ca_file;           // empty: the system CA store
};

// Inbound authentication (docs/ARCHITECTURE.md "Inbound authentication"): SPF, DKIM and
// DMARC of mail received on the MX listener, in an Authentication-Results field. DNS
// comes from relay.dns_servers.
struct Auth {
  bool verify = true;
  // Clients whose mail is not checked (local scripts and relays, as Postfix's
  // mynetworks): addresses or networks. Authenticated sessions are never checked.
  std::vector<std::string> skip_networks{"127.0.0.0/8", "::1"};
  // A DMARC p=reject (after pct) is refused with 550 5.7.1; off: quarantined (Junk).
  bool enforce_dmarc_reject = false;
  std::string public_suffix_list = "/usr/share/publicsuffix/public_suffix_list.dat";
  // The MTA-STS policy (RFC 8461) served at /.well-known/mta-sts.txt: "none" (not
  // served), "testing" or "enforce"; the MX host patterns (empty: hostname) and max_age.
  std::string mta_sts_mode = "none";
  std::vector<std::string> mta_sts_mx;
  std::chrono::seconds mta_sts_max_age{604800};
};

// Spam filtering through rspamd (docs/ARCHITECTURE.md "Spam filtering"): mail from the
// world is checked before the 250, submissions with the outbound policy. Off while
// `rspamd` is disabled.
struct Spam {
  Endpoint rspamd;      // the normal worker (checkv2), e.g. 127.0.0.1:11333
  Endpoint controller;  // the controller (learnspam/learnham); disabled: no learning
  std::string password;  // the controller's password, or password_file
  std::string password_file;
  std::chrono::seconds timeout{20};  // the whole check; past it the fail mode applies
  bool fail_open = true;             // rspamd down or slow: deliver unchecked (false: 451)
  bool reject = true;                // a reject verdict answers 550 (false: Junk)
  // Messages above this are sent to rspamd as their skeleton (header, text parts, MIME
  // structure; attachment bodies left out): attachments are never sent twice.
  std::uint64_t max_size_bytes = 20ull << 20;
  bool outbound = true;  // check authenticated submissions (reject: 550 and a warn line)
  [[nodiscard]] bool enabled() const { return rspamd.enabled(); }
};

struct Admin {
  std::string socket_path;  // empty: <data_dir>/refmaild.sock
  Endpoint listen;          // optional TCP admin API; requires token
  std::string token;
};

// Reverse proxies in front of refmail (server/proxy_peer.hpp, docs/ARCHITECTURE.md
// "Trusted proxies"). Only a connection whose socket peer is in `trusted` may tell us
// the client's address; such a connection never has loopback privileges.
struct Proxy {
  std::vector<std::string> trusted;  // addresses or networks: "127.0.0.1", "10.0.0.0/8", "fd00::/8"
  // Listeners ("smtp", "submission", "smtps", "imap", "imaps", "http", "managesieve", as in [listen]) where a connection
  // from a trusted peer must open with a PROXY protocol v2 header.
  std::vector<std::string> proxy_protocol;
  [[nodiscard]] bool proxy_protocol_on(std::string_view listener) const;
};

// Sieve scripts (storage/sieve.cpp) and the ManageSieve listener (RFC 5804,
// server/managesieve_server.cpp).
struct Sieve {
  std::uint64_t max_script_bytes = 256u << 10;  // a script; larger: NO (QUOTA/MAXSIZE)
  std::uint32_t max_scripts = 32;                // per account; more: NO (QUOTA/MAXSCRIPTS)
  std::uint32_t max_redirects = 4;               // MAXREDIRECTS advertised (redirects per message)
};

// The webmail (web/static_files.hpp) served on the HTTP listener at "/".
struct Webmail {
  bool enabled = true;
  std::string dir;  // folder with index.html; empty: web/ui/dist of the source tree built from
};

struct Config {
  std::string source;  // file the values came from, or "(defaults)"
  std::string data_dir = "./data";
  std::string hostname = "localhost";
  std::vector<std::string> local_domains{"example.test"};
  Endpoint smtp{"127.0.0.1", 2525};
  Endpoint submission{"127.0.0.1", 2587};
  Endpoint smtps{"127.0.0.1", 2465};
  Endpoint imap{"127.0.0.1", 2143};   // STARTTLS (production: 143)
  Endpoint imaps{"127.0.0.1", 2993};  // implicit TLS (production: 993)
  Endpoint http{"127.0.0.1", 8080};
  Endpoint managesieve{"127.0.0.1", 4190};  // RFC 5804, STARTTLS before AUTHENTICATE
  Tls tls;
  Limits limits;
  Smtp smtp_policy;
  Relay relay;
  Auth auth;
  Spam spam;
  Admin admin;
  Webmail webmail;
  Proxy proxy;
  Sieve sieve;
  Import import;  // [import]: legacy IMAP sources (config/import_config.hpp)
  std::string log_level = "info";  // debug, info, warn, error

  // The admin socket path with the data_dir default applied.
  [[nodiscard]] std::string admin_socket() const;
};

enum class errc { cannot_read = 1, syntax, unknown_key, bad_type, bad_value };
[[nodiscard]] const boost::system::error_category& category();
[[nodiscard]] inline boost::system::error_code make_error_code(errc e) {
  return {static_cast<int>(e), category()};
}

// A refused configuration: one line fit to print, "file:line: key 'x': reason".
struct Error {
  errc code;
  std::string message;
};

// Parses TOML text; `source_name` is used in error messages.
[[nodiscard]] boost::system::result<Config, Error> parse(std::string_view toml_text,
                                                         std::string_view source_name);
// Reads and parses a file.
[[nodiscard]] boost::system::result<Config, Error> load_file(const std::string& path);

// Parses "host:port" or "[v6]:port"; "" means disabled.
[[nodiscard]] bool parse_endpoint(std::string_view text, Endpoint& out);

}  // namespace refmail::config
