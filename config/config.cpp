// config/config.cpp — the schema table: every key, its type, its validation, and
// where it lands in Config. Walking the parsed document against this table is what
// refuses unknown keys and bad values with the file, line and key name.
#include "config/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <toml++/toml.h>

#include "net/address.hpp"

namespace refmail::config {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "refmail.config"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::cannot_read: return "cannot read configuration file";
      case errc::syntax: return "TOML syntax error";
      case errc::unknown_key: return "unknown key";
      case errc::bad_type: return "wrong type for key";
      case errc::bad_value: return "bad value for key";
    }
    return "unknown config error";
  }
};

// A setter validates one value and stores it; it returns an error text or "".
using Setter = std::function<std::string(const toml::node&, Config&)>;

std::string want_string(const toml::node& n, std::string& out) {
  auto v = n.value<std::string>();
  if (!n.is_string() || !v) return "expected a string";
  out = *v;
  return {};
}

// Integer in [lo, hi], stored through `pick`.
template <typename Int>
Setter integer_at(std::function<Int&(Config&)> pick, std::int64_t lo, std::int64_t hi) {
  return [pick, lo, hi](const toml::node& n, Config& c) -> std::string {
    if (!n.is_integer()) return "expected an integer";
    std::int64_t v = *n.value<std::int64_t>();
    if (v < lo || v > hi) {
      return "must be between " + std::to_string(lo) + " and " + std::to_string(hi);
    }
    pick(c) = static_cast<Int>(v);
    return {};
  };
}

Setter seconds_at(std::function<std::chrono::seconds&(Config&)> pick, std::int64_t lo,
                  std::int64_t hi) {
  return [pick, lo, hi](const toml::node& n, Config& c) -> std::string {
    if (!n.is_integer()) return "expected an integer number of seconds";
    std::int64_t v = *n.value<std::int64_t>();
    if (v < lo || v > hi) {
      return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + " seconds";
    }
    pick(c) = std::chrono::seconds(v);
    return {};
  };
}

Setter boolean_at(std::function<bool&(Config&)> pick) {
  return [pick](const toml::node& n, Config& c) -> std::string {
    if (!n.is_boolean()) return "expected true or false";
    pick(c) = *n.value<bool>();
    return {};
  };
}

Setter string_at(std::function<std::string&(Config&)> pick, bool allow_empty = true) {
  return [pick, allow_empty](const toml::node& n, Config& c) -> std::string {
    std::string s;
    if (auto e = want_string(n, s); !e.empty()) return e;
    if (!allow_empty && s.empty()) return "must not be empty";
    if (s.find('\0') != std::string::npos) return "must not contain NUL";
    pick(c) = s;
    return {};
  };
}

// An array of strings, each checked by `check` (an error text, or "" when it is fine),
// stored through `pick`; `expected` is the error when the value is not an array.
Setter string_array_at(std::function<std::vector<std::string>&(Config&)> pick, std::string expected,
                       std::function<std::string(const std::string&)> check) {
  return [pick, expected, check](const toml::node& n, Config& c) -> std::string {
    const auto* arr = n.as_array();
    if (!arr) return expected;
    std::vector<std::string> out;
    for (const auto& el : *arr) {
      auto v = el.value<std::string>();
      if (!el.is_string() || !v) return "every entry must be a string";
      if (auto why = check(*v); !why.empty()) return why;
      out.push_back(*v);
    }
    pick(c) = std::move(out);
    return {};
  };
}

// An array of addresses or networks ("10.0.0.0/8", "fd00::/8"), each checked by net::Network.
Setter networks_at(std::function<std::vector<std::string>&(Config&)> pick) {
  return string_array_at(std::move(pick), "expected an array of addresses or networks such as \"10.0.0.0/8\"",
                         [](const std::string& v) -> std::string {
                           std::string why;
                           return net::Network::parse(v, &why) ? "" : "'" + v + "': " + why;
                         });
}

Setter endpoint_at(std::function<Endpoint&(Config&)> pick) {
  return [pick](const toml::node& n, Config& c) -> std::string {
    std::string s;
    if (auto e = want_string(n, s); !e.empty()) return e;
    Endpoint ep;
    if (!parse_endpoint(s, ep)) {
      return "expected \"host:port\" (IPv4, [IPv6] or a name, port 1-65535), or \"\" to disable";
    }
    pick(c) = ep;
    return {};
  };
}

bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
  std::size_t label = 0;
  for (char ch : d) {
    if (ch == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || static_cast<unsigned char>(ch) >= 0x80;
    if (!ok || ++label > 63) return false;
  }
  return true;
}

std::string lower(std::string s) {
  for (auto& ch : s) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return s;
}

const std::map<std::string, Setter, std::less<>>& schema() {
  static const std::map<std::string, Setter, std::less<>> table = {
      {"data_dir", string_at([](Config& c) -> std::string& { return c.data_dir; }, false)},
      {"hostname",
       [](const toml::node& n, Config& c) -> std::string {
         std::string s;
         if (auto e = want_string(n, s); !e.empty()) return e;
         if (!valid_domain(s)) return "expected a host name such as \"mail.example.org\"";
         c.hostname = lower(s);
         return {};
       }},
      {"local_domains",
       [](const toml::node& n, Config& c) -> std::string {
         const auto* arr = n.as_array();
         if (!arr) return "expected an array of domain names";
         std::vector<std::string> out;
         for (const auto& el : *arr) {
           auto v = el.value<std::string>();
           if (!el.is_string() || !v || !valid_domain(*v)) {
             return "every entry must be a domain name such as \"example.org\"";
           }
           out.push_back(lower(*v));
         }
         c.local_domains = std::move(out);
         return {};
       }},
      {"log_level",
       [](const toml::node& n, Config& c) -> std::string {
         std::string s;
         if (auto e = want_string(n, s); !e.empty()) return e;
         if (s != "debug" && s != "info" && s != "warn" && s != "error") {
           return "expected one of \"debug\", \"info\", \"warn\", \"error\"";
         }
         c.log_level = s;
         return {};
       }},
      {"listen.smtp", endpoint_at([](Config& c) -> Endpoint& { return c.smtp; })},
      {"listen.submission", endpoint_at([](Config& c) -> Endpoint& { return c.submission; })},
      {"listen.smtps", endpoint_at([](Config& c) -> Endpoint& { return c.smtps; })},
      {"listen.imap", endpoint_at([](Config& c) -> Endpoint& { return c.imap; })},
      {"listen.imaps", endpoint_at([](Config& c) -> Endpoint& { return c.imaps; })},
      {"listen.http", endpoint_at([](Config& c) -> Endpoint& { return c.http; })},
      {"listen.managesieve", endpoint_at([](Config& c) -> Endpoint& { return c.managesieve; })},
      {"tls.cert_file", string_at([](Config& c) -> std::string& { return c.tls.cert_file; })},
      {"tls.key_file", string_at([](Config& c) -> std::string& { return c.tls.key_file; })},
      {"limits.message_size",
       integer_at<std::uint64_t>([](Config& c) -> std::uint64_t& { return c.limits.message_size_bytes; },
                                 1024, 1ll << 34)},
      {"limits.recipients",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.limits.recipients; }, 1,
                                 100000)},
      {"limits.connections",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.limits.connections; }, 1,
                                 1000000)},
      {"limits.mx_connections",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.limits.mx_connections; }, 1,
                                 1000000)},
      {"limits.submission_connections",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.limits.submission_connections; },
                                 1, 1000000)},
      {"limits.http_connections",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.limits.http_connections; }, 1,
                                 1000000)},
      {"limits.imap_connections",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.limits.imap_connections; }, 1,
                                 1000000)},
      {"limits.inflight_bytes",
       integer_at<std::uint64_t>([](Config& c) -> std::uint64_t& { return c.limits.inflight_bytes; },
                                 1ll << 20, 1ll << 40)},
      {"limits.connections_per_ip",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.limits.connections_per_ip; },
                                 1, 1000000)},
      {"limits.errors_before_disconnect",
       integer_at<std::uint32_t>(
           [](Config& c) -> std::uint32_t& { return c.limits.errors_before_disconnect; }, 1, 1000)},
      {"limits.commands_before_mail",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.limits.commands_before_mail; },
                                 1, 100000)},
      {"limits.command_line_bytes",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.limits.command_line_bytes; },
                                 512, 65536)},
      {"limits.data_line_bytes",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.limits.data_line_bytes; },
                                 1000, 1 << 24)},
      {"limits.read_timeout",
       seconds_at([](Config& c) -> std::chrono::seconds& { return c.limits.read_timeout; }, 1, 3600)},
      {"limits.transaction_timeout",
       seconds_at([](Config& c) -> std::chrono::seconds& { return c.limits.transaction_timeout; }, 1, 86400)},
      {"limits.session_timeout",
       seconds_at([](Config& c) -> std::chrono::seconds& { return c.limits.session_timeout; }, 1, 86400)},
      {"limits.imap_login_timeout",
       seconds_at([](Config& c) -> std::chrono::seconds& { return c.limits.imap_login_timeout; }, 1, 3600)},
      {"limits.imap_command_timeout",
       seconds_at([](Config& c) -> std::chrono::seconds& { return c.limits.imap_command_timeout; }, 1, 3600)},
      {"limits.imap_idle_timeout",
       seconds_at([](Config& c) -> std::chrono::seconds& { return c.limits.imap_idle_timeout; }, 1, 86400)},
      {"limits.http_body_size",
       integer_at<std::uint64_t>([](Config& c) -> std::uint64_t& { return c.limits.http_body_bytes; },
                                 1024, 1ll << 34)},
      {"limits.mime_max_depth",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.limits.mime_max_depth; }, 1,
                                 10000)},
      {"limits.mime_max_parts",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.limits.mime_max_parts; }, 1,
                                 1000000)},
      {"limits.mime_max_header_bytes",
       integer_at<std::uint32_t>(
           [](Config& c) -> std::uint32_t& { return c.limits.mime_max_header_bytes; }, 1024, 1 << 26)},
      {"smtp.plain_auth_on_loopback",
       boolean_at([](Config& c) -> bool& { return c.smtp_policy.plain_auth_on_loopback; })},
      {"smtp.allow_any_sender",
       boolean_at([](Config& c) -> bool& { return c.smtp_policy.allow_any_sender; })},
      {"smtp.check_header_from",
       boolean_at([](Config& c) -> bool& { return c.smtp_policy.check_header_from; })},
      {"smtp.reject_bare_lf",
       boolean_at([](Config& c) -> bool& { return c.smtp_policy.reject_bare_lf; })},
      {"smtp.min_cut_bytes",
       integer_at<std::uint64_t>([](Config& c) -> std::uint64_t& { return c.smtp_policy.min_cut_bytes; },
                                 1, 1ll << 30)},
      {"relay.max_age",
       seconds_at([](Config& c) -> std::chrono::seconds& { return c.relay.max_age; }, 1,
                  60ll * 24 * 3600)},
      {"relay.delay_warnings", boolean_at([](Config& c) -> bool& { return c.relay.delay_warnings; })},
      {"relay.delay_warning_after",
       seconds_at([](Config& c) -> std::chrono::seconds& { return c.relay.delay_warning_after; }, 1,
                  60ll * 24 * 3600)},
      {"relay.retry_schedule",
       [](const toml::node& n, Config& c) -> std::string {
         const auto* arr = n.as_array();
         if (!arr || arr->empty()) return "expected a non-empty array of seconds";
         std::vector<std::chrono::seconds> out;
         for (const auto& el : *arr) {
           auto v = el.value<std::int64_t>();
           if (!el.is_integer() || !v || *v < 1 || *v > 7 * 24 * 3600) {
             return "every entry must be a number of seconds between 1 and 604800";
           }
           out.emplace_back(*v);
         }
         c.relay.retry_schedule = std::move(out);
         return {};
       }},
      {"relay.dns_servers",
       string_array_at([](Config& c) -> std::vector<std::string>& { return c.relay.dns_servers; },
                       "expected an array of \"ip\" or \"ip:port\" strings", [](const std::string& v) -> std::string {
                         Endpoint ep;
                         in_addr a4{};
                         in6_addr a6{};
                         bool ok = inet_pton(AF_INET, v.c_str(), &a4) == 1 || inet_pton(AF_INET6, v.c_str(), &a6) == 1 ||
                                   (parse_endpoint(v, ep) && (inet_pton(AF_INET, ep.host.c_str(), &a4) == 1 ||
                                                              inet_pton(AF_INET6, ep.host.c_str(), &a6) == 1));
                         return ok ? "" : "every entry must be an IP address, \"ip:port\" or \"[v6]:port\"";
                       })},
      {"relay.mx_port",
       integer_at<std::uint16_t>([](Config& c) -> std::uint16_t& { return c.relay.mx_port; }, 1, 65535)},
      {"relay.concurrency",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.relay.concurrency; }, 1, 10000)},
      {"relay.per_domain_concurrency",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.relay.per_domain_concurrency; },
                                 1, 10000)},
      {"relay.timeout",
       seconds_at([](Config& c) -> std::chrono::seconds& { return c.relay.timeout; }, 1, 3600)},
      {"relay.smarthost", endpoint_at([](Config& c) -> Endpoint& { return c.relay.smarthost; })},
      {"relay.smarthost_tls",
       [](const toml::node& n, Config& c) -> std::string {
         std::string s;
         if (auto e = want_string(n, s); !e.empty()) return e;
         if (s != "starttls" && s != "tls" && s != "none") return "expected \"starttls\", \"tls\" or \"none\"";
         c.relay.smarthost_tls = s;
         return {};
       }},
      {"relay.smarthost_auth",
       [](const toml::node& n, Config& c) -> std::string {
         std::string s;
         if (auto e = want_string(n, s); !e.empty()) return e;
         s = lower(s);
         if (s != "plain" && s != "login" && s != "xoauth2" && s != "none") {
           return "expected \"plain\", \"login\", \"xoauth2\" or \"none\"";
         }
         c.relay.smarthost_auth = s;
         return {};
       }},
      {"relay.smarthost_user", string_at([](Config& c) -> std::string& { return c.relay.smarthost_user; })},
      {"relay.smarthost_password",
       string_at([](Config& c) -> std::string& { return c.relay.smarthost_password; })},
      {"relay.smarthost_password_file",
       string_at([](Config& c) -> std::string& { return c.relay.smarthost_password_file; })},
      {"relay.smarthost_ca_file",
       string_at([](Config& c) -> std::string& { return c.relay.smarthost_ca_file; })},
      {"auth.verify", boolean_at([](Config& c) -> bool& { return c.auth.verify; })},
      {"auth.skip_networks", networks_at([](Config& c) -> std::vector<std::string>& { return c.auth.skip_networks; })},
      {"auth.enforce_dmarc_reject", boolean_at([](Config& c) -> bool& { return c.auth.enforce_dmarc_reject; })},
      {"auth.public_suffix_list", string_at([](Config& c) -> std::string& { return c.auth.public_suffix_list; })},
      {"auth.mta_sts_mode",
       [](const toml::node& n, Config& c) -> std::string {
         auto v = n.value<std::string>();
         if (!n.is_string() || !v || (*v != "none" && *v != "testing" && *v != "enforce")) {
           return "expected \"none\", \"testing\" or \"enforce\"";
         }
         c.auth.mta_sts_mode = *v;
         return {};
       }},
      {"auth.mta_sts_mx",
       string_array_at([](Config& c) -> std::vector<std::string>& { return c.auth.mta_sts_mx; },
                       "expected an array of MX host names or \"*.example.org\" patterns",
                       [](const std::string& v) -> std::string {
                         const bool ok = !v.empty() && v.size() <= 253 &&
                                         v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*") ==
                                             std::string::npos &&
                                         (v.find('*') == std::string::npos || (v.rfind("*.", 0) == 0 && v.find('*', 1) == std::string::npos));
                         return ok ? "" : "'" + v + "' is not a host name or a *.domain pattern";
                       })},
      {"auth.mta_sts_max_age",
       seconds_at([](Config& c) -> std::chrono::seconds& { return c.auth.mta_sts_max_age; }, 86400, 31557600)},
      {"spam.rspamd", endpoint_at([](Config& c) -> Endpoint& { return c.spam.rspamd; })},
      {"spam.controller", endpoint_at([](Config& c) -> Endpoint& { return c.spam.controller; })},
      {"spam.password", string_at([](Config& c) -> std::string& { return c.spam.password; })},
      {"spam.password_file", string_at([](Config& c) -> std::string& { return c.spam.password_file; })},
      {"spam.timeout", seconds_at([](Config& c) -> std::chrono::seconds& { return c.spam.timeout; }, 1, 600)},
      {"spam.fail_mode",
       [](const toml::node& n, Config& c) -> std::string {
         auto v = n.value<std::string>();
         if (!n.is_string() || !v || (*v != "open" && *v != "closed")) return "expected \"open\" or \"closed\"";
         c.spam.fail_open = *v == "open";
         return {};
       }},
      {"spam.reject", boolean_at([](Config& c) -> bool& { return c.spam.reject; })},
      {"spam.max_size",
       integer_at<std::uint64_t>([](Config& c) -> std::uint64_t& { return c.spam.max_size_bytes; }, 1024, 1ll << 34)},
      {"spam.outbound", boolean_at([](Config& c) -> bool& { return c.spam.outbound; })},
      {"proxy.trusted", networks_at([](Config& c) -> std::vector<std::string>& { return c.proxy.trusted; })},
      {"proxy.proxy_protocol",
       string_array_at([](Config& c) -> std::vector<std::string>& { return c.proxy.proxy_protocol; },
                       "expected an array of listener names", [](const std::string& v) -> std::string {
                         bool ok = v == "smtp" || v == "submission" || v == "smtps" || v == "imap" ||
                                   v == "imaps" || v == "http" || v == "managesieve";
                         return ok ? "" : "every entry must be one of \"smtp\", \"submission\", \"smtps\", "
                                          "\"imap\", \"imaps\", \"http\", \"managesieve\"";
                       })},
      {"sieve.max_script_bytes",
       integer_at<std::uint64_t>([](Config& c) -> std::uint64_t& { return c.sieve.max_script_bytes; }, 1024,
                                 16ll << 20)},
      {"sieve.max_scripts",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.sieve.max_scripts; }, 1, 10000)},
      {"sieve.max_redirects",
       integer_at<std::uint32_t>([](Config& c) -> std::uint32_t& { return c.sieve.max_redirects; }, 0, 100)},
      {"webmail.enabled", boolean_at([](Config& c) -> bool& { return c.webmail.enabled; })},
      {"webmail.dir", string_at([](Config& c) -> std::string& { return c.webmail.dir; })},
      {"admin.socket", string_at([](Config& c) -> std::string& { return c.admin.socket_path; })},
      {"admin.listen", endpoint_at([](Config& c) -> Endpoint& { return c.admin.listen; })},
      {"admin.token",
       [](const toml::node& n, Config& c) -> std::string {
         std::string s;
         if (auto e = want_string(n, s); !e.empty()) return e;
         if (!s.empty() && s.size() < 16) return "an admin token must be at least 16 characters";
         c.admin.token = s;
         return {};
       }},
  };
  return table;
}

// The sections that may appear as tables; everything else must be a leaf key.
bool is_section(std::string_view name) {
  return name == "listen" || name == "tls" || name == "limits" || name == "smtp" ||
         name == "relay" || name == "admin" || name == "webmail" || name == "proxy" ||
         name == "auth" || name == "spam" || name == "sieve";
}

std::string where(std::string_view source, const toml::node& n) {
  return std::string(source) + ":" + std::to_string(n.source().begin.line);
}

Error fail(errc code, std::string_view source, const toml::node& n, std::string_view key,
           std::string_view why) {
  return Error{code, where(source, n) + ": key '" + std::string(key) + "': " + std::string(why)};
}

}  // namespace

const boost::system::error_category& category() {
  static const Category cat;
  return cat;
}

std::string Endpoint::to_string() const {
  if (!enabled()) return "(disabled)";
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

bool Proxy::proxy_protocol_on(std::string_view listener) const {
  return std::find(proxy_protocol.begin(), proxy_protocol.end(), listener) != proxy_protocol.end();
}

std::string Config::admin_socket() const {
  if (!admin.socket_path.empty()) return admin.socket_path;
  return data_dir + "/refmaild.sock";
}

bool parse_endpoint(std::string_view text, Endpoint& out) {
  if (text.empty()) {
    out = Endpoint{};
    return true;
  }
  std::string host;
  std::string_view port_text;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    host = std::string(text.substr(1, close - 1));
    in6_addr a6{};
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) return false;
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    host = std::string(text.substr(0, colon));
    if (host.find(':') != std::string::npos) return false;  // IPv6 needs brackets
    in_addr a4{};
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1 && !valid_domain(host)) return false;
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || p != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    return false;
  }
  out.host = host;
  out.port = static_cast<std::uint16_t>(port);
  return true;
}

boost::system::result<Config, Error> parse(std::string_view toml_text, std::string_view source_name) {
  Config cfg;
  cfg.source = std::string(source_name);
  toml::table doc;
  try {
    doc = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    return Error{errc::syntax, std::string(source_name) + ":" +
                                   std::to_string(e.source().begin.line) + ": " +
                                   std::string(e.description())};
  }
  const auto& table = schema();
  for (const auto& [k, v] : doc) {
    std::string key(k.str());
    if (key == "import") continue;  // config/import_config.cpp
    if (is_section(key)) {
      const auto* sub = v.as_table();
      if (!sub) return fail(errc::bad_type, source_name, v, key, "expected a table [" + key + "]");
      for (const auto& [sk, sv] : *sub) {
        std::string full = key + "." + std::string(sk.str());
        auto it = table.find(full);
        if (it == table.end()) return fail(errc::unknown_key, source_name, sv, full, "unknown key");
        if (auto why = it->second(sv, cfg); !why.empty()) {
          return fail(errc::bad_value, source_name, sv, full, why);
        }
      }
      continue;
    }
    auto it = table.find(key);
    if (it == table.end()) return fail(errc::unknown_key, source_name, v, key, "unknown key");
    if (auto why = it->second(v, cfg); !why.empty()) {
      return fail(errc::bad_value, source_name, v, key, why);
    }
  }
  if (auto e = parse_import(toml_text, source_name, cfg.import)) return Error{e->code, e->message};
  // Cross-key rules.
  if (cfg.tls.cert_file.empty() != cfg.tls.key_file.empty()) {
    return Error{errc::bad_value, std::string(source_name) +
                                      ": keys 'tls.cert_file' and 'tls.key_file' must be set together"};
  }
  if (cfg.admin.listen.enabled() && cfg.admin.token.empty()) {
    return Error{errc::bad_value, std::string(source_name) +
                                      ": key 'admin.listen' needs 'admin.token' (the TCP admin API "
                                      "is never open without a token)"};
  }
  if (!cfg.relay.smarthost_password.empty() && !cfg.relay.smarthost_password_file.empty()) {
    return Error{errc::bad_value, std::string(source_name) +
                                      ": keys 'relay.smarthost_password' and 'relay.smarthost_password_file' "
                                      "are exclusive"};
  }
  if (!cfg.proxy.proxy_protocol.empty() && cfg.proxy.trusted.empty()) {
    return Error{errc::bad_value, std::string(source_name) +
                                      ": key 'proxy.proxy_protocol' needs 'proxy.trusted' (the header is "
                                      "believed only from trusted addresses)"};
  }
  if (cfg.local_domains.empty()) {
    return Error{errc::bad_value,
                 std::string(source_name) + ": key 'local_domains' must list at least one domain"};
  }
  return cfg;
}

boost::system::result<Config, Error> load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{errc::cannot_read, path + ": cannot read configuration file"};
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Error{errc::cannot_read, path + ": read error"};
  return parse(ss.str(), path);
}

}  // namespace refmail::config
