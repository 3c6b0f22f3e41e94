// tools/refmailctl/sieve.cpp — see sieve.hpp. Script bodies are sent and printed as the
// store holds them (bytes, not re-encoded); the daemon checks a script before storing it.
// SECURITY: only talks to the admin socket; FILE is read by the admin running the tool.
#include "tools/refmailctl/sieve.hpp"

#include <ctime>
#include <fstream>
#include <iterator>

#include <boost/json.hpp>

#include "tools/refmailctl/admin_client.hpp"

namespace refmail::tools {
namespace {

namespace json = boost::json;

std::string date_or_none(const json::value& v) {
  if (!v.is_int64() && !v.is_uint64()) return "-";
  std::time_t t = static_cast<std::time_t>(v.to_number<std::int64_t>());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

int sieve_command(const std::string& sub, const SieveArgs& a, bool json_out, const AdminCall& call,
                  std::ostream& out, std::ostream& err) {
  const std::string base = "/admin/v1/sieve/" + url_escape(a.user);
  if (sub == "list") {
    auto v = call("GET", base, nullptr);
    if (json_out) {
      out << json::serialize(v) << "\n";
      return 0;
    }
    for (const auto& s : v.at("scripts").as_array()) {
      const auto& o = s.as_object();
      out << (o.at("active").as_bool() ? "* " : "  ") << std::string(o.at("name").as_string()) << "  "
          << o.at("bytes").to_number<std::int64_t>() << " bytes\n";
    }
    return 0;
  }
  if (sub == "deactivate") {
    call("POST", base, json::object{{"active", ""}});
    out << "no active script for " << a.user << "\n";
    return 0;
  }
  const std::string path = base + "/" + url_escape(a.name);
  if (sub == "show") {
    auto v = call("GET", path, nullptr);
    if (json_out) out << json::serialize(v) << "\n";
    else out << std::string(v.at("content").as_string());
    return 0;
  }
  if (sub == "put") {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) {
      err << "refmailctl: cannot read " << a.file << "\n";
      return 66;  // EX_NOINPUT
    }
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    call("PUT", path, json::object{{"content", content}, {"activate", a.activate}});
    out << "script " << a.name << " stored for " << a.user << (a.activate ? " and active\n" : "\n");
    return 0;
  }
  if (sub == "activate") {
    call("POST", base, json::object{{"active", a.name}});
    out << "script " << a.name << " active for " << a.user << "\n";
    return 0;
  }
  if (sub == "delete") {
    call("DELETE", path, nullptr);
    out << "script " << a.name << " deleted for " << a.user << "\n";
    return 0;
  }
  return 64;  // EX_USAGE
}

int vacation_command(const std::string& sub, const std::string& user, bool json_out, const AdminCall& call,
                     std::ostream& out) {
  const std::string base = "/admin/v1/sieve/" + url_escape(user);
  if (sub == "show") {
    auto v = call("GET", base, nullptr);
    const auto& vac = v.at("vacation");
    if (json_out) {
      out << json::serialize(vac) << "\n";
      return 0;
    }
    const auto& o = vac.as_object();
    out << "vacation reply " << (o.at("enabled").as_bool() ? "on" : "off") << "  from " << date_or_none(o.at("from"))
        << "  to " << date_or_none(o.at("to")) << "  subject \"" << std::string(o.at("subject").as_string())
        << "\"\n";
    return 0;
  }
  if (sub == "off") {
    call("POST", base, json::object{{"vacation", false}});
    out << "vacation reply off for " << user << "\n";
    return 0;
  }
  return 64;
}

}  // namespace refmail::tools
