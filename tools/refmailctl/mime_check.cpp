// tools/refmailctl/mime_check.cpp — `refmailctl mime check FILE... [--json]`: offline
// split + join of every message of Maildir files, .eml files and mbox files (split on
// "From " lines), reporting per message whether the join is byte-identical, the part
// count, attachments cut / kept, blob ids and bytes saved, then a summary. Blobs live
// in memory only, deduplicated by content (hash id, bytes compared on a hash match).
// SECURITY: reads only the named files; writes nothing; no daemon, no store.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "mime/blob_io.hpp"
#include "mime/errc.hpp"
#include "mime/joiner.hpp"
#include "mime/memory_blobs.hpp"
#include "mime/splitter.hpp"
#include "tools/refmailctl/commands.hpp"

namespace refmail::tools {
namespace {

using namespace refmail::mime;

// In-memory content-addressed blobs: id = FNV-1a-64 of the bytes (hex) + "-" + size,
// with a suffix on a real collision (bytes are compared, never trusted by hash).
using mime::MemoryBlobs;

struct Msg {
  std::size_t offset;  // in the file (after the "From " line for mbox)
  std::string_view bytes;
};

// mbox: every line beginning "From " starts a new message; the separator line is
// envelope data and not part of the message.
std::vector<Msg> messages_of(const std::string& data) {
  std::vector<Msg> out;
  if (!data.starts_with("From ")) {
    out.push_back({0, data});
    return out;
  }
  std::size_t start = 0;
  while (start < data.size()) {
    const std::size_t eol = data.find('\n', start);
    const std::size_t body = eol == std::string::npos ? data.size() : eol + 1;
    std::size_t next = data.find("\nFrom ", body > 0 ? body - 1 : 0);
    next = next == std::string::npos ? data.size() : next + 1;
    out.push_back({body, std::string_view(data).substr(body, next - body)});
    start = next;
  }
  return out;
}

std::string json_escape(std::string_view s) {
  std::string o;
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o.push_back(static_cast<char>(c));
        }
    }
  }
  return o;
}

struct Totals {
  std::size_t files = 0, unreadable = 0, messages = 0, identical = 0, parts = 0, cut = 0,
              kept = 0;
  std::uint64_t bytes = 0, skeleton_bytes = 0, cut_bytes = 0;
};

}  // namespace

int mime_check(const std::vector<std::string>& files, bool json, std::ostream& out,
               std::ostream& err) {
  MemoryBlobs blobs;
  Totals t;
  bool first_json = true;
  if (json) out << "{\"messages\":[";
  for (const std::string& file : files) {
    std::error_code ec;
    std::ifstream f(file, std::ios::binary);
    if (!std::filesystem::is_regular_file(file, ec) || !f) {
      err << "refmailctl mime check: cannot read " << file << "\n";
      ++t.unreadable;
      continue;
    }
    std::string data{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
    if (f.bad()) {
      err << "refmailctl mime check: read error on " << file << "\n";
      ++t.unreadable;
      continue;
    }
    ++t.files;
    const std::vector<Msg> msgs = messages_of(data);
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      const Msg& m = msgs[i];
      Splitter splitter(SplitParams{}, blobs);
      splitter.feed(m.bytes);
      auto skel = splitter.finish();
      bool identical = false;
      std::string error;
      std::uint64_t cut_bytes = 0;
      if (!skel) {
        error = skel.error().message();
      } else {
        auto joined = join_all(*skel, blobs);
        if (!joined)
          error = joined.error().message();
        else
          identical = *joined == m.bytes;
        for (const Cut& c : skel->cuts) cut_bytes += c.encoded_size;
      }
      const SplitStats& st = splitter.stats();
      ++t.messages;
      t.identical += identical ? 1 : 0;
      t.parts += st.parts;
      t.cut += st.cut;
      t.kept += st.kept;
      t.bytes += m.bytes.size();
      t.skeleton_bytes += skel ? skel->bytes.size() : m.bytes.size();
      t.cut_bytes += cut_bytes;
      std::vector<std::string> ids = skel ? skel->blob_ids() : std::vector<std::string>{};
      const std::string where = msgs.size() > 1 || data.starts_with("From ")
                                    ? file + "#" + std::to_string(i + 1)
                                    : file;
      if (json) {
        out << (first_json ? "" : ",") << "{\"file\":\"" << json_escape(file)
            << "\",\"index\":" << i + 1 << ",\"offset\":" << m.offset
            << ",\"bytes\":" << m.bytes.size() << ",\"identical\":" << (identical ? "true" : "false")
            << ",\"parts\":" << st.parts << ",\"cut\":" << st.cut << ",\"kept\":" << st.kept
            << ",\"skeleton_bytes\":" << (skel ? skel->bytes.size() : m.bytes.size())
            << ",\"saved\":" << cut_bytes << ",\"blob_ids\":[";
        for (std::size_t k = 0; k < ids.size(); ++k)
          out << (k ? "," : "") << "\"" << json_escape(ids[k]) << "\"";
        out << "]";
        if (!error.empty()) out << ",\"error\":\"" << json_escape(error) << "\"";
        out << "}";
        first_json = false;
      } else {
        out << where << ": " << (identical ? "identical" : "DIFFERENT") << " parts=" << st.parts
            << " cut=" << st.cut << " kept=" << st.kept << " bytes=" << m.bytes.size()
            << " saved=" << cut_bytes << " blobs=";
        if (ids.empty()) out << "-";
        for (std::size_t k = 0; k < ids.size(); ++k) out << (k ? "," : "") << ids[k];
        if (!error.empty()) out << " error=\"" << error << "\"";
        out << "\n";
      }
    }
  }
  // Saved overall: input - (skeletons + unique blob bytes, each stored once).
  const std::int64_t saved = static_cast<std::int64_t>(t.bytes) -
                             static_cast<std::int64_t>(t.skeleton_bytes + blobs.unique_bytes());
  if (json) {
    out << "],\"summary\":{\"files\":" << t.files << ",\"unreadable\":" << t.unreadable
        << ",\"messages\":" << t.messages << ",\"identical\":" << t.identical
        << ",\"different\":" << t.messages - t.identical << ",\"parts\":" << t.parts
        << ",\"cut\":" << t.cut << ",\"kept\":" << t.kept << ",\"bytes\":" << t.bytes
        << ",\"skeleton_bytes\":" << t.skeleton_bytes << ",\"cut_bytes\":" << t.cut_bytes
        << ",\"unique_blobs\":" << blobs.blobs().size() << ",\"unique_blob_bytes\":" << blobs.unique_bytes()
        << ",\"saved\":" << saved << "}}\n";
  } else {
    out << "summary: files=" << t.files << " messages=" << t.messages
        << " identical=" << t.identical << " different=" << t.messages - t.identical
        << " unreadable=" << t.unreadable << " parts=" << t.parts << " cut=" << t.cut
        << " kept=" << t.kept << " bytes=" << t.bytes << " skeleton_bytes=" << t.skeleton_bytes
        << " unique_blobs=" << blobs.blobs().size() << " unique_blob_bytes=" << blobs.unique_bytes()
        << " saved=" << saved << "\n";
  }
  if (t.unreadable > 0) return 2;
  return t.identical == t.messages ? 0 : 1;
}

}  // namespace refmail::tools
