// tools/refmailctl/import.cpp — see import.hpp. status prints one block per source:
// queued jobs and UIDs, last success, last error, messages and bytes imported, new
// attachment bytes stored (the rest was deduplicated or stayed in skeletons).
#include "tools/refmailctl/import.hpp"

#include <ctime>

#include <boost/json.hpp>

namespace refmail::tools {
namespace {

namespace json = boost::json;

std::int64_t num(const json::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  return 0;
}

std::string when(std::int64_t t) {
  if (t == 0) return "never";
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

int import_command(const std::string& sub, const std::string& source, const std::string& user,
                   const std::string& mailbox, bool json_out, const AdminCall& call, std::ostream& out) {
  if (sub == "status") {
    auto v = call("GET", "/admin/v1/import", nullptr);
    if (json_out) {
      out << json::serialize(v) << "\n";
      return 0;
    }
    const auto& o = v.as_object();
    for (const auto& s : o.at("sources").as_array()) {
      const auto& so = s.as_object();
      out << "source " << std::string(so.at("source").as_string()) << " (" << std::string(so.at("host").as_string())
          << ":" << num(so, "port") << ", " << num(so, "mappings") << " mapped users)\n";
      out << "  queued          " << num(so, "pending_jobs") << " job(s), " << num(so, "pending_uids") << " uid(s)\n";
      out << "  last success    " << when(num(so, "last_success")) << "\n";
      if (const auto* e = so.if_contains("last_error"); e && e->is_string())
        out << "  last error      " << when(num(so, "last_error_at")) << "  " << std::string(e->as_string()) << "\n";
      std::int64_t bytes = num(so, "bytes"), fresh = num(so, "new_blob_bytes");
      out << "  imported        " << num(so, "messages") << " message(s), " << bytes << " bytes\n";
      out << "  new blob bytes  " << fresh << "\n";
      out << "  saved by dedup  " << num(so, "dedup_saved_bytes") << " bytes (attachments already held, by content)\n";
      out << "  skipped         " << num(so, "skipped") << " too large, " << num(so, "duplicates_avoided")
          << " duplicate(s) avoided\n";
    }
    out << "import jobs in the queue: " << num(o, "queued_jobs") << "\n";
    return 0;
  }
  if (sub == "run") {
    json::object body{{"source", source}, {"user", user}};
    if (!mailbox.empty()) body["mailbox"] = mailbox;
    auto v = call("POST", "/admin/v1/import/run", body);
    if (json_out) {
      out << json::serialize(v) << "\n";
      return 0;
    }
    for (const auto& j : v.at("jobs").as_array())
      out << "queued full copy of " << source << "/" << user << "/"
          << std::string(j.at("mailbox").as_string()) << " as job " << std::string(j.at("job").as_string()) << "\n";
    return 0;
  }
  return 64;  // EX_USAGE
}

}  // namespace refmail::tools
