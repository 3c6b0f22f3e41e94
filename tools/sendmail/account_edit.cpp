// tools/sendmail/account_edit.cpp — text-level rewrite of one [account.NAME] table
// and the atomic 0600 write (see account_edit.hpp).
// SECURITY: never writes a file that does not re-parse to exactly the intended change.
#include "tools/sendmail/account_edit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sstream>

#include <toml++/toml.h>

#include "tools/sendmail/settings.hpp"

namespace refmail::sendmail {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// "[ account . \"work\" ]  # c" -> "account.work"; "" when the line is not a table header.
std::string header_name(std::string_view line) {
  std::string_view t = trim(line);
  if (t.size() < 3 || t.front() != '[' || t[1] == '[') return {};
  auto close = t.find(']');
  if (close == std::string_view::npos) return {};
  std::string out;
  for (char c : t.substr(1, close - 1))
    if (c != ' ' && c != '\t' && c != '"' && c != '\'') out += c;
  return out;
}

bool is_key_line(std::string_view line, std::string_view key) {
  std::string_view t = trim(line);
  if (!t.starts_with(key)) return false;
  t.remove_prefix(key.size());
  t = trim(t);
  return !t.empty() && t.front() == '=';
}

bool is_value_line(std::string_view line) {
  std::string_view t = trim(line);
  return !t.empty() && t.front() != '#' && t.find('=') != std::string_view::npos;
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

std::optional<toml::table> parse_or_none(std::string_view text, std::string& error) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    error = "line " + std::to_string(e.source().begin.line) + ": " + std::string(e.description());
    return std::nullopt;
  }
}

// The document without account.NAME, for comparing "everything else".
toml::table without_account(toml::table doc, const std::string& name) {
  if (auto* acc = doc["account"].as_table()) {
    acc->erase(name);
    if (acc->empty()) doc.erase("account");
  }
  return doc;
}

bool same(const toml::node* a, const toml::node* b) {
  return a && b && toml::node_view<const toml::node>(a) == toml::node_view<const toml::node>(b);
}

}  // namespace

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

Result<AccountUpdate> make_account_update(const AccountSetArgs& a, const std::optional<std::string>& password) {
  AccountUpdate u;
  if (!valid_name(a.name)) return fail(EX_USAGE, "account set: names are [A-Za-z0-9_-], 1..64 characters");
  u.name = a.name;
  auto str = [&](const char* key, const std::optional<std::string>& v) {
    if (v) u.set.emplace_back(key, toml_string(*v));
  };
  str("host", a.host);
  if (a.port) u.set.emplace_back("port", std::to_string(*a.port));
  if (a.tls && !parse_tls_setting(*a.tls)) return fail(EX_USAGE, "account set: --tls must be starttls, tls or none");
  str("tls", a.tls);
  if (a.auth && !parse_auth_setting(*a.auth)) {
    return fail(EX_USAGE, "account set: --auth must be auto, plain, login or xoauth2");
  }
  str("auth", a.auth);
  str("user", a.user);
  str("from", a.from);
  str("ca_file", a.ca_file);
  // The three secret sources exclude each other: setting one removes the others.
  if (password) {
    u.set.emplace_back("password", toml_string(*password));
    u.remove = {"password_file", "password_command"};
  } else if (a.password_file) {
    u.set.emplace_back("password_file", toml_string(*a.password_file));
    u.remove = {"password", "password_command"};
  } else if (a.password_command) {
    u.set.emplace_back("password_command", toml_string(*a.password_command));
    u.remove = {"password", "password_file"};
  }
  return u;
}

Result<std::string> apply_account_update(std::string_view text, const AccountUpdate& u, std::string_view source) {
  const std::string src(source);
  std::string error;
  auto before = parse_or_none(text, error);
  if (!before) return fail(EX_CONFIG, src + ": " + error + " (not rewritten)");

  // Split into lines, each keeping its '\n'.
  std::vector<std::string> lines;
  for (std::size_t pos = 0; pos < text.size();) {
    auto nl = text.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.emplace_back(text.substr(pos, end - pos));
    pos = end;
  }
  if (!lines.empty() && lines.back().back() != '\n') lines.back() += '\n';

  // Find the table header, skipping the inside of multi-line strings.
  const std::string target = "account." + u.name;
  std::vector<bool> header(lines.size(), false);
  bool in_multiline = false;
  std::optional<std::size_t> start;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (!in_multiline) {
      std::string h = header_name(l);
      if (!h.empty() || trim(l).starts_with("[[")) header[i] = true;
      if (h == target) start = i;
    }
    std::size_t count = 0;
    for (std::size_t p = l.find("\"\"\""); p != std::string::npos; p = l.find("\"\"\"", p + 3)) ++count;
    for (std::size_t p = l.find("'''"); p != std::string::npos; p = l.find("'''", p + 3)) ++count;
    if (count % 2 == 1) in_multiline = !in_multiline;
  }

  auto key_line = [](const std::string& key, const std::string& value) { return key + " = " + value + "\n"; };
  if (!start) {
    std::string out(text);
    if (!out.empty() && out.back() != '\n') out += '\n';
    if (!out.empty()) out += '\n';
    out += "[" + target + "]\n";
    for (const auto& [k, v] : u.set) out += key_line(k, v);
    lines.assign(1, out);
  } else {
    std::size_t end = *start + 1;
    while (end < lines.size() && !header[end]) ++end;
    std::size_t insert_at = *start + 1;  // after the last key = value line of the table
    for (std::size_t i = *start + 1; i < end; ++i)
      if (is_value_line(lines[i])) insert_at = i + 1;
    std::vector<std::string> added;
    for (const auto& [k, v] : u.set) {
      bool replaced = false;
      for (std::size_t i = *start + 1; i < end; ++i) {
        if (!is_key_line(lines[i], k)) continue;
        const std::string& l = lines[i];
        const std::string indent = l.substr(0, l.find_first_not_of(" \t"));
        lines[i] = indent + key_line(k, v);
        replaced = true;
        break;
      }
      if (!replaced) added.push_back(key_line(k, v));
    }
    for (const std::string& k : u.remove)
      for (std::size_t i = *start + 1; i < end; ++i)
        if (is_key_line(lines[i], k)) lines[i].clear();
    lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(insert_at), added.begin(), added.end());
  }
  std::string out;
  for (const std::string& l : lines) out += l;

  // Verify: valid TOML, other content unchanged, the account holds exactly the new values.
  auto after = parse_or_none(out, error);
  const std::string refuse = src + ": account '" + u.name + "' is written in a form this command does not "
                                   "edit (inline table or dotted keys?); edit the file by hand";
  if (!after) return fail(EX_CONFIG, refuse);
  if (without_account(*before, u.name) != without_account(*after, u.name)) return fail(EX_CONFIG, refuse);
  const toml::table* acc = (*after)["account"][u.name].as_table();
  if (!acc) return fail(EX_CONFIG, refuse);
  for (const auto& [k, v] : u.set) {
    std::string error2;
    auto expect = parse_or_none("x = " + v, error2);
    if (!expect || !same(acc->get(k), expect->get("x"))) return fail(EX_CONFIG, refuse);
  }
  for (const std::string& k : u.remove)
    if (acc->contains(k)) return fail(EX_CONFIG, refuse);
  if (const toml::table* old = (*before)["account"][u.name].as_table()) {
    for (const auto& [k, v] : *old) {
      const std::string key(k.str());
      bool touched = false;
      for (const auto& [sk, sv] : u.set) touched = touched || sk == key;
      for (const auto& rk : u.remove) touched = touched || rk == key;
      if (!touched && !same(acc->get(key), &v)) return fail(EX_CONFIG, refuse);
    }
  }
  auto valid = parse_settings(out, source);
  if (!valid) return fail(EX_CONFIG, "the result would be invalid: " + valid.error().message + " (not written)");
  return out;
}

Result<void> write_file_atomically(const std::string& path, std::string_view content) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string tmp = path + ".tmpXXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return fail(EX_CANTCREAT, "cannot create a file next to " + path + ": " + std::strerror(errno));
  auto give_up = [&](int code, const std::string& what) -> Result<void> {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(code, what + " " + tmp + ": " + std::strerror(e));
  };
  if (::fchmod(fd, 0600) != 0) return give_up(EX_IOERR, "cannot chmod");
  for (std::size_t done = 0; done < content.size();) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return give_up(EX_IOERR, "cannot write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return give_up(EX_IOERR, "cannot fsync");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return fail(EX_IOERR, "cannot close " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return fail(EX_CANTCREAT, "cannot replace " + path + ": " + std::strerror(e));
  }
  // The rename is durable only once the folder is synced.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace refmail::sendmail
