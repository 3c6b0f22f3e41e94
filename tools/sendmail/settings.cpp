// tools/sendmail/settings.cpp — parsing and validation of refmail-sendmail's TOML
// configuration, and resolution of an account's secret (see settings.hpp).
// SECURITY: unknown keys are refused; secrets never appear in error messages.
#include "tools/sendmail/settings.hpp"

#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <toml++/toml.h>

namespace refmail::sendmail {

namespace {

std::string where(std::string_view source, const toml::node& n) {
  return std::string(source) + ":" + std::to_string(n.source().begin.line);
}

Failure bad(std::string_view source, const toml::node& n, std::string_view key, std::string_view why) {
  return fail(EX_CONFIG, where(source, n) + ": key '" + std::string(key) + "': " + std::string(why));
}

using Setter = std::function<std::string(const toml::node&, Account&)>;

std::string want_string(const toml::node& n, std::string& out) {
  const auto* s = n.as_string();
  if (!s) return "expected a string";
  out = s->get();
  if (out.find('\0') != std::string::npos) return "contains a NUL byte";
  return {};
}

const std::map<std::string, Setter, std::less<>>& account_schema() {
  static const std::map<std::string, Setter, std::less<>> table{
      {"host", [](const toml::node& n, Account& a) {
         if (auto e = want_string(n, a.host); !e.empty()) return e;
         return a.host.empty() ? std::string("must not be empty") : std::string();
       }},
      {"port", [](const toml::node& n, Account& a) -> std::string {
         const auto* i = n.as_integer();
         if (!i) return "expected an integer";
         if (i->get() < 1 || i->get() > 65535) return "must be 1..65535";
         a.port = static_cast<std::uint16_t>(i->get());
         return {};
       }},
      {"tls", [](const toml::node& n, Account& a) -> std::string {
         std::string s;
         if (auto e = want_string(n, s); !e.empty()) return e;
         auto t = parse_tls_setting(s);
         if (!t) return "expected \"starttls\", \"tls\" or \"none\"";
         a.tls = *t;
         return {};
       }},
      {"auth", [](const toml::node& n, Account& a) -> std::string {
         std::string s;
         if (auto e = want_string(n, s); !e.empty()) return e;
         auto m = parse_auth_setting(s);
         if (!m) return "expected \"auto\", \"plain\", \"login\" or \"xoauth2\"";
         a.auth = *m;
         return {};
       }},
      {"user", [](const toml::node& n, Account& a) { return want_string(n, a.user); }},
      {"password", [](const toml::node& n, Account& a) {
         std::string s;
         auto e = want_string(n, s);
         if (e.empty()) a.password = std::move(s);
         return e;
       }},
      {"password_file", [](const toml::node& n, Account& a) { return want_string(n, a.password_file); }},
      {"password_command", [](const toml::node& n, Account& a) { return want_string(n, a.password_command); }},
      {"ca_file", [](const toml::node& n, Account& a) { return want_string(n, a.ca_file); }},
      {"from", [](const toml::node& n, Account& a) { return want_string(n, a.from); }},
      {"helo", [](const toml::node& n, Account& a) { return want_string(n, a.helo); }},
      {"allow_plaintext", [](const toml::node& n, Account& a) -> std::string {
         const auto* b = n.as_boolean();
         if (!b) return "expected true or false";
         a.allow_plaintext = b->get();
         return {};
       }},
      {"timeout", [](const toml::node& n, Account& a) -> std::string {
         const auto* i = n.as_integer();
         if (!i) return "expected an integer (seconds)";
         if (i->get() < 1 || i->get() > 3600) return "must be 1..3600 seconds";
         a.timeout = std::chrono::seconds(i->get());
         return {};
       }},
  };
  return table;
}

bool valid_account_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

}  // namespace

std::optional<TlsSetting> parse_tls_setting(std::string_view s) {
  if (s == "starttls") return TlsSetting::StartTls;
  if (s == "tls") return TlsSetting::Implicit;
  if (s == "none") return TlsSetting::None;
  return std::nullopt;
}

std::optional<AuthSetting> parse_auth_setting(std::string_view s) {
  if (s == "auto") return AuthSetting::Auto;
  if (s == "plain") return AuthSetting::Plain;
  if (s == "login") return AuthSetting::Login;
  if (s == "xoauth2") return AuthSetting::XOAuth2;
  return std::nullopt;
}

std::uint16_t Account::effective_port() const noexcept {
  if (port != 0) return port;
  switch (tls) {
    case TlsSetting::Implicit: return 465;   // RFC 8314 3.3
    case TlsSetting::StartTls: return 587;   // RFC 6409 3.1
    case TlsSetting::None: return 25;
  }
  return 587;
}

Result<Settings> parse_settings(std::string_view text, std::string_view source) {
  Settings out;
  out.source = std::string(source);
  toml::table doc;
  try {
    doc = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return fail(EX_CONFIG, std::string(source) + ":" + std::to_string(e.source().begin.line) + ": " +
                               std::string(e.description()));
  }
  for (const auto& [k, v] : doc) {
    const std::string key(k.str());
    if (key == "default") {
      if (auto e = want_string(v, out.default_account); !e.empty()) return bad(source, v, key, e);
      continue;
    }
    if (key != "account") return bad(source, v, key, "unknown key");
    const auto* accounts = v.as_table();
    if (!accounts) return bad(source, v, key, "expected tables [account.NAME]");
    for (const auto& [name_key, body] : *accounts) {
      const std::string name(name_key.str());
      const std::string full = "account." + name;
      if (!valid_account_name(name)) return bad(source, body, full, "account names are [A-Za-z0-9_-], 1..64");
      const auto* t = body.as_table();
      if (!t) return bad(source, body, full, "expected a table [" + full + "]");
      Account a;
      a.name = name;
      const auto& schema = account_schema();
      for (const auto& [sk, sv] : *t) {
        const std::string skey(sk.str());
        auto it = schema.find(skey);
        if (it == schema.end()) return bad(source, sv, full + "." + skey, "unknown key");
        if (auto why = it->second(sv, a); !why.empty()) return bad(source, sv, full + "." + skey, why);
      }
      if (a.host.empty()) return bad(source, body, full, "missing 'host'");
      const int secrets = (a.password ? 1 : 0) + (a.password_file.empty() ? 0 : 1) +
                          (a.password_command.empty() ? 0 : 1);
      if (secrets > 1) {
        return bad(source, body, full, "give only one of password, password_file, password_command");
      }
      if (secrets == 1 && a.user.empty()) return bad(source, body, full, "a password needs a 'user'");
      out.accounts.push_back(std::move(a));
    }
  }
  if (!out.default_account.empty()) {
    bool found = false;
    for (const Account& a : out.accounts) found = found || a.name == out.default_account;
    if (!found) {
      return fail(EX_CONFIG, std::string(source) + ": default account '" + out.default_account +
                                 "' has no [account." + out.default_account + "] table");
    }
  }
  return out;
}

bool readable_by_others(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  return (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
}

Result<Settings> load_settings(const std::string& path, std::vector<std::string>& warnings) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(EX_CONFIG, "cannot read config " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return fail(EX_CONFIG, "cannot read config " + path);
  auto s = parse_settings(ss.str(), path);
  if (!s) return s;
  bool inline_password = false;
  for (const Account& a : s->accounts) inline_password = inline_password || a.password.has_value();
  if (inline_password && readable_by_others(path)) {
    warnings.push_back("warning: " + path + " holds a password and is readable by group/others (chmod 600 it)");
  }
  return s;
}

Result<Account> choose_account(const Settings& settings, std::string_view name) {
  std::string_view want = name.empty() ? std::string_view(settings.default_account) : name;
  if (want.empty()) {
    if (settings.accounts.size() == 1) return settings.accounts.front();
    if (settings.accounts.empty()) return fail(EX_CONFIG, settings.source + ": no [account.NAME] table");
    return fail(EX_CONFIG, settings.source + ": several accounts and no 'default': use --account NAME");
  }
  for (const Account& a : settings.accounts)
    if (a.name == want) return a;
  return fail(EX_CONFIG, settings.source + ": no account named '" + std::string(want) + "'");
}

Result<std::string> resolve_secret(const Account& a, std::vector<std::string>& warnings) {
  if (a.password) return *a.password;
  std::string raw;
  if (!a.password_file.empty()) {
    std::ifstream in(a.password_file, std::ios::binary);
    if (!in) {
      return fail(EX_CONFIG, "cannot read password_file " + a.password_file + ": " + std::strerror(errno));
    }
    std::getline(in, raw);
    if (readable_by_others(a.password_file)) {
      warnings.push_back("warning: password_file " + a.password_file +
                         " is readable by group/others (chmod 600 it)");
    }
  } else if (!a.password_command.empty()) {
    // The command's first output line is the secret (a password or an OAuth token).
    // No input for the command: stdin may still hold the rest of the message.
    const std::string cmd = "exec </dev/null; " + a.password_command;
    std::FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return fail(EX_OSERR, "cannot run password_command: " + std::string(std::strerror(errno)));
    char buf[4096];
    std::string all;
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0 && all.size() < (1u << 20)) all.append(buf, n);
    const int status = ::pclose(p);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return fail(EX_CONFIG, "password_command of account '" + a.name + "' failed (exit status " +
                                 std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
    }
    raw = all.substr(0, all.find('\n'));
  } else {
    return std::string();
  }
  while (!raw.empty() && (raw.back() == '\r' || raw.back() == '\n')) raw.pop_back();
  if (raw.empty()) return fail(EX_CONFIG, "the secret of account '" + a.name + "' is empty");
  return raw;
}

}  // namespace refmail::sendmail
