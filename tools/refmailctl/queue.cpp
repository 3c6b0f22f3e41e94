// tools/refmailctl/queue.cpp — see queue.hpp. Prints one line per queue row:
// id, state (due time or HELD), attempts, sender -> recipients, last error.
// SECURITY: only talks to the admin socket; prints what the daemon returned.
#include "tools/refmailctl/queue.hpp"

#include <ctime>

#include <boost/json.hpp>

namespace refmail::tools {
namespace {

namespace json = boost::json;

std::string when(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string str(const json::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

void print_row(const json::object& r, std::ostream& out) {
  bool held = r.contains("held") && r.at("held").is_bool() && r.at("held").as_bool();
  out << str(r, "id") << "  " << (held ? std::string("HELD") : when(r.at("due").to_number<std::int64_t>()))
      << "  attempts=" << r.at("attempts").to_number<std::int64_t>() << "  <" << str(r, "mail_from") << "> ->";
  if (const auto* t = r.if_contains("rcpt_to"); t && t->is_array()) {
    for (const auto& x : t->as_array()) out << " <" << (x.is_string() ? std::string(x.as_string()) : "?") << ">";
  }
  out << "\n";
  auto err = str(r, "last_error");
  if (!err.empty()) out << "    " << err << "\n";
}

}  // namespace

int queue_command(const std::string& sub, const std::string& id, bool json_out, const AdminCall& call,
                  std::ostream& out) {
  if (sub == "list") {
    auto v = call("GET", "/admin/v1/queue", nullptr);
    if (json_out) {
      out << json::serialize(v) << "\n";
      return 0;
    }
    const auto& rows = v.at("queue").as_array();
    for (const auto& r : rows) print_row(r.as_object(), out);
    out << rows.size() << (rows.size() == 1 ? " queued row\n" : " queued rows\n");
    return 0;
  }
  if (sub == "retry-all") {
    auto v = call("POST", "/admin/v1/queue/retry-all", json::object{});
    out << v.at("rescheduled").to_number<std::int64_t>() << " rows due now\n";
    return 0;
  }
  const std::string base = "/admin/v1/queue/" + id;
  if (sub == "show") {
    auto v = call("GET", base, nullptr);
    if (json_out) {
      out << json::serialize(v) << "\n";
    } else {
      print_row(v.as_object(), out);
      out << "message " << str(v.as_object(), "message_id") << "\nenvelope " << str(v.as_object(), "envelope")
          << "\n";
    }
    return 0;
  }
  if (sub == "delete") {
    call("DELETE", base, nullptr);
    out << "queue row " << id << " deleted (no bounce sent)\n";
    return 0;
  }
  if (sub == "retry" || sub == "hold" || sub == "release") {
    call("POST", base + "/" + sub, json::object{});
    out << "queue row " << id << (sub == "hold" ? " held\n" : " due now\n");
    return 0;
  }
  return 64;  // EX_USAGE
}

}  // namespace refmail::tools
