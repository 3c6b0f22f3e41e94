// config/import_config.cpp — parsing and validation of [import] (see import_config.hpp).
// Unknown keys are refused like everywhere in the config: a typo must not silently
// turn a mapping into one without credentials.
#include "config/import_config.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "config/config.hpp"

namespace refmail::config {
namespace {

struct Ctx {
  std::string_view source;
  std::optional<ImportParseError> err;

  bool fail(errc code, const toml::node& n, std::string_view key, std::string_view why) {
    err = ImportParseError{code, std::string(source) + ":" + std::to_string(n.source().begin.line) +
                                     ": key 'import." + std::string(key) + "': " + std::string(why)};
    return false;
  }
};

bool get_string(Ctx& c, const toml::node& n, std::string_view key, std::string& out, bool allow_empty = true) {
  auto v = n.value<std::string>();
  if (!n.is_string() || !v) return c.fail(errc::bad_type, n, key, "expected a string");
  if (!allow_empty && v->empty()) return c.fail(errc::bad_value, n, key, "must not be empty");
  if (v->find('\0') != std::string::npos || v->find('\r') != std::string::npos ||
      v->find('\n') != std::string::npos)
    return c.fail(errc::bad_value, n, key, "must not contain NUL, CR or LF");
  out = *v;
  return true;
}

bool get_int(Ctx& c, const toml::node& n, std::string_view key, std::int64_t lo, std::int64_t hi,
             std::int64_t& out) {
  if (!n.is_integer()) return c.fail(errc::bad_type, n, key, "expected an integer");
  out = *n.value<std::int64_t>();
  if (out < lo || out > hi)
    return c.fail(errc::bad_value, n, key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  return true;
}

bool parse_source(Ctx& c, const toml::table& t, ImportSource& s) {
  for (const auto& [k, v] : t) {
    std::string key = "sources." + std::string(k.str());
    std::string_view name = k.str();
    std::int64_t i = 0;
    if (name == "name") {
      if (!get_string(c, v, key, s.name, false)) return false;
      for (char ch : s.name)
        if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'))
          return c.fail(errc::bad_value, v, key, "letters, digits, '-', '_' and '.' only");
    } else if (name == "host") {
      if (!get_string(c, v, key, s.host, false)) return false;
    } else if (name == "port") {
      if (!get_int(c, v, key, 1, 65535, i)) return false;
      s.port = static_cast<std::uint16_t>(i);
    } else if (name == "tls") {
      std::string m;
      if (!get_string(c, v, key, m)) return false;
      if (m == "none") s.tls = ImportTls::None;
      else if (m == "starttls") s.tls = ImportTls::StartTls;
      else if (m == "tls") s.tls = ImportTls::Tls;
      else return c.fail(errc::bad_value, v, key, "expected \"none\", \"starttls\" or \"tls\"");
    } else if (name == "ca_file") {
      if (!get_string(c, v, key, s.ca_file)) return false;
    } else if (name == "token") {
      if (!get_string(c, v, key, s.token)) return false;
      if (!s.token.empty() && s.token.size() < 16)
        return c.fail(errc::bad_value, v, key, "a notify token must be at least 16 characters");
    } else if (name == "master_user") {
      if (!get_string(c, v, key, s.master_user)) return false;
    } else if (name == "master_password") {
      if (!get_string(c, v, key, s.master_password)) return false;
    } else if (name == "master_password_file") {
      if (!get_string(c, v, key, s.master_password_file)) return false;
    } else if (name == "master_separator") {
      if (!get_string(c, v, key, s.master_separator, false)) return false;
    } else if (name == "idle") {
      if (!v.is_boolean()) return c.fail(errc::bad_type, v, key, "expected true or false");
      s.idle = *v.value<bool>();
    } else if (name == "grant_recipients") {
      if (!v.is_boolean()) return c.fail(errc::bad_type, v, key, "expected true or false");
      s.grant_recipients = *v.value<bool>();
    } else {
      return c.fail(errc::unknown_key, v, key, "unknown key");
    }
  }
  if (s.name.empty()) return c.fail(errc::bad_value, t, "sources.name", "every source needs a name");
  if (s.host.empty()) return c.fail(errc::bad_value, t, "sources.host", "source '" + s.name + "' needs a host");
  if (!s.master_password.empty() && !s.master_password_file.empty())
    return c.fail(errc::bad_value, t, "sources.master_password",
                  "master_password and master_password_file are exclusive");
  return true;
}

bool parse_mapping(Ctx& c, const toml::table& t, ImportMapping& m) {
  for (const auto& [k, v] : t) {
    std::string key = "mappings." + std::string(k.str());
    std::string_view name = k.str();
    if (name == "source") {
      if (!get_string(c, v, key, m.source, false)) return false;
    } else if (name == "user") {
      if (!get_string(c, v, key, m.user, false)) return false;
    } else if (name == "account") {
      if (!get_string(c, v, key, m.account, false)) return false;
      if (m.account.find('@') == std::string::npos)
        return c.fail(errc::bad_value, v, key, "expected a refmail account user@domain");
    } else if (name == "password") {
      if (!get_string(c, v, key, m.password)) return false;
    } else if (name == "password_file") {
      if (!get_string(c, v, key, m.password_file)) return false;
    } else if (name == "mailboxes") {
      const auto* arr = v.as_array();
      if (!arr || arr->empty()) return c.fail(errc::bad_type, v, key, "expected a non-empty array of mailbox names");
      m.mailboxes.clear();
      for (const auto& e : *arr) {
        std::string s;
        if (!get_string(c, e, key, s, false)) return false;
        m.mailboxes.push_back(s);
      }
    } else if (name == "grant_recipients") {
      if (!v.is_boolean()) return c.fail(errc::bad_type, v, key, "expected true or false");
      m.grant_recipients = *v.value<bool>();
    } else {
      return c.fail(errc::unknown_key, v, key, "unknown key");
    }
  }
  if (m.source.empty() || m.user.empty() || m.account.empty())
    return c.fail(errc::bad_value, t, "mappings", "every mapping needs source, user and account");
  if (!m.password.empty() && !m.password_file.empty())
    return c.fail(errc::bad_value, t, "mappings.password", "password and password_file are exclusive");
  return true;
}

}  // namespace

const ImportSource* Import::find_source(std::string_view name) const {
  for (const auto& s : sources)
    if (s.name == name) return &s;
  return nullptr;
}

const ImportMapping* Import::find_mapping(std::string_view source, std::string_view user) const {
  for (const auto& m : mappings)
    if (m.source == source && m.user == user) return &m;
  return nullptr;
}

bool Import::grants_recipients(const ImportMapping& m) const {
  if (m.grant_recipients) return *m.grant_recipients;
  const auto* s = find_source(m.source);
  return s != nullptr && s->grant_recipients;
}

std::optional<ImportParseError> parse_import(std::string_view toml_text, std::string_view source_name,
                                             Import& out) {
  Ctx c{source_name, std::nullopt};
  toml::table doc;
  try {
    doc = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    return ImportParseError{errc::syntax, std::string(source_name) + ":" + std::to_string(e.source().begin.line) +
                                              ": " + std::string(e.description())};
  }
  const auto* node = doc.get("import");
  if (!node) return std::nullopt;
  const auto* t = node->as_table();
  if (!t) {
    c.fail(errc::bad_type, *node, "", "expected a table [import]");
    return c.err;
  }
  Import imp;
  for (const auto& [k, v] : *t) {
    std::string_view name = k.str();
    std::int64_t i = 0;
    if (name == "coalesce_window") {
      if (!get_int(c, v, name, 0, 3600, i)) return c.err;
      imp.coalesce_window = std::chrono::seconds(i);
    } else if (name == "batch_size") {
      if (!get_int(c, v, name, 1, 10000, i)) return c.err;
      imp.batch_size = static_cast<std::uint32_t>(i);
    } else if (name == "max_message_bytes") {
      if (!get_int(c, v, name, 1024, std::int64_t(1) << 32, i)) return c.err;
      imp.max_message_bytes = static_cast<std::uint64_t>(i);
    } else if (name == "timeout") {
      if (!get_int(c, v, name, 1, 3600, i)) return c.err;
      imp.timeout = std::chrono::seconds(i);
    } else if (name == "retry_schedule") {
      const auto* arr = v.as_array();
      if (!arr || arr->empty()) {
        c.fail(errc::bad_type, v, name, "expected a non-empty array of seconds");
        return c.err;
      }
      imp.retry_schedule.clear();
      for (const auto& e : *arr) {
        if (!get_int(c, e, name, 1, 7 * 24 * 3600, i)) return c.err;
        imp.retry_schedule.emplace_back(i);
      }
    } else if (name == "sources" || name == "mappings") {
      const auto* arr = v.as_array();
      if (!arr) {
        c.fail(errc::bad_type, v, name, "expected an array of tables [[import." + std::string(name) + "]]");
        return c.err;
      }
      for (const auto& e : *arr) {
        const auto* et = e.as_table();
        if (!et) {
          c.fail(errc::bad_type, e, name, "expected tables [[import." + std::string(name) + "]]");
          return c.err;
        }
        if (name == "sources") {
          ImportSource s;
          if (!parse_source(c, *et, s)) return c.err;
          if (imp.find_source(s.name)) {
            c.fail(errc::bad_value, e, "sources.name", "duplicate source '" + s.name + "'");
            return c.err;
          }
          imp.sources.push_back(std::move(s));
        } else {
          ImportMapping m;
          if (!parse_mapping(c, *et, m)) return c.err;
          imp.mappings.push_back(std::move(m));
        }
      }
    } else {
      c.fail(errc::unknown_key, v, name, "unknown key");
      return c.err;
    }
  }
  // Cross-checks: every mapping names a known source, has credentials, and is unique.
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& m : imp.mappings) {
    const auto* s = imp.find_source(m.source);
    if (!s)
      return ImportParseError{errc::bad_value, std::string(source_name) + ": key 'import.mappings': mapping for '" +
                                                   m.user + "' names unknown source '" + m.source + "'"};
    if (m.password.empty() && m.password_file.empty() &&
        (s->master_user.empty() || (s->master_password.empty() && s->master_password_file.empty())))
      return ImportParseError{errc::bad_value, std::string(source_name) + ": key 'import.mappings': mapping for '" +
                                                   m.user + "' has no password, password_file or master login"};
    if (!seen.emplace(m.source, m.user).second)
      return ImportParseError{errc::bad_value, std::string(source_name) + ": key 'import.mappings': user '" +
                                                   m.user + "' is mapped twice for source '" + m.source + "'"};
  }
  out = std::move(imp);
  return std::nullopt;
}

std::optional<std::string> read_secret(const std::string& inline_value, const std::string& file, std::string& why) {
  if (file.empty()) return inline_value;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    why = "cannot read " + file;
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();  // one trailing newline
  return s;
}

}  // namespace refmail::config
