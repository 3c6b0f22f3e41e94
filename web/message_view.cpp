// web/message_view.cpp — GET /api/messages/{id}.html: one message as a self-contained,
// sanitised HTML page (declared in web/import_api.hpp, whose imported mail it shows).
#include <algorithm>
#include <set>

#include "mime/summary.hpp"
#include "storage/store.hpp"
#include "web/html_sanitizer.hpp"
#include "web/import_api.hpp"
#include "web/jmap.hpp"
#include "web/jmap_internal.hpp"

namespace refmail::web {

namespace {

// Percent-encodes a path segment (file names in download links).
std::string url_segment(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string o;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      o.push_back(static_cast<char>(c));
    } else {
      o.push_back('%');
      o.push_back(hex[c >> 4]);
      o.push_back(hex[c & 15]);
    }
  }
  return o.empty() ? std::string("part") : o;
}

std::string addresses(const std::vector<mime::Address>& list) {
  std::string o;
  for (const auto& a : list) {
    if (!o.empty()) o += ", ";
    o += a.name.empty() ? a.email : a.name + " <" + a.email + ">";
  }
  return o;
}

}  // namespace

Response handle_message_html(const Request& req, storage::Store& store, const std::string& account) {
  constexpr std::string_view kPrefix = "/api/messages/";
  constexpr std::string_view kSuffix = ".html";
  auto path = req.path();
  if (req.method != "GET" && req.method != "HEAD") return error_response(405, "use GET");
  if (path.size() <= kPrefix.size() + kSuffix.size() || path.substr(0, kPrefix.size()) != kPrefix ||
      path.substr(path.size() - kSuffix.size()) != kSuffix)
    return error_response(404, "not found");
  std::string id(path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size()));
  bool ok_id = id.size() > 1 && id.size() <= 64 && id[0] == 'M';
  for (char c : id) ok_id = ok_id && (std::isalnum(static_cast<unsigned char>(c)) != 0);
  if (!ok_id) return error_response(404, "not found");
  // The account must hold a row of this message (else: the same 404 as a bad id).
  auto rows = store.message_rows(account, id);
  if (!rows) return error_response(503, storage::error_detail(rows.error()));
  if (rows->empty()) return error_response(404, "not found");
  auto msg = store.get_message(id);
  if (!msg) return error_response(404, "not found");
  auto sum = mime::Summary::parse(msg->record.summary);
  if (!sum) return error_response(500, "stored summary unreadable");
  const auto& s = *sum;
  const std::string acc_id = account_id_for(account);
  auto link = [&](const mime::PartSummary& p) {
    std::string blob = p.blob_id.empty() ? part_blob_id(id, p.part_path) : p.blob_id;
    std::string name = p.name.empty() ? (p.cid.empty() ? "part" : p.cid) : p.name;
    return "/jmap/download/" + acc_id + "/" + blob + "/" + url_segment(name) + "?accept=" + url_segment(p.type);
  };
  // cid: URLs in the HTML body (RFC 2392) become the part's authorised download link;
  // only image parts of this message qualify.
  std::set<std::string> used_cids;
  auto cid_link = [&](std::string_view cid) -> std::string {
    const mime::PartSummary* hit = nullptr;
    for (const auto* list : {&s.attachments, &s.text_body, &s.html_body})
      for (const auto& p : *list)
        if (!hit && !p.cid.empty() && p.type.rfind("image/", 0) == 0 && p.cid == cid) hit = &p;
    for (const auto* list : {&s.attachments, &s.text_body, &s.html_body})
      for (const auto& p : *list)
        if (!hit && !p.cid.empty() && p.type.rfind("image/", 0) == 0 && equal_nocase(p.cid, cid)) hit = &p;
    if (!hit) return {};
    used_cids.insert(hit->cid);
    return link(*hit);
  };
  std::string title = s.subject.empty() ? "(no subject)" : s.subject;
  std::string h = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
                  "</title><style>body{font-family:sans-serif;max-width:60em;margin:1em auto}"
                  "table.h td{padding:0 .5em;vertical-align:top}table.h td:first-child{color:#666}"
                  "pre{white-space:pre-wrap;font-family:inherit}img{max-width:100%}</style></head><body>\n"
                  "<table class=\"h\">\n";
  auto header = [&](const char* name, const std::string& value) {
    if (!value.empty()) h += "<tr><td>" + std::string(name) + "</td><td>" + html_escape(value) + "</td></tr>\n";
  };
  header("From", addresses(s.from));
  header("To", addresses(s.to));
  header("Cc", addresses(s.cc));
  header("Subject", title);
  header("Date", s.date ? utc_date(*s.date) : s.date_raw);
  h += "</table>\n<hr>\n";
  // RFC 8621 4.1.4: htmlBody prefers text/html in multipart/alternative (and equals
  // textBody when there is no HTML); now that HTML is sanitised, show that one.
  const auto& body_parts = s.html_body.empty() ? s.text_body : s.html_body;
  for (const auto& p : body_parts) {
    if (p.type.rfind("image/", 0) == 0) {
      h += "<p><img alt=\"" + html_escape(p.name) + "\" src=\"" + html_escape(link(p)) + "\"></p>\n";
      continue;
    }
    if (p.type == "text/html") {
      h += "<div class=\"html\">" + sanitize_html(p.content, cid_link) + (p.truncated ? "<p>[...]</p>" : "") +
           "</div>\n";
      continue;
    }
    h += "<pre>" + html_escape(p.content) + (p.truncated ? "\n[...]" : "") + "</pre>\n";
  }
  // Inline images (cid: parts, screenshots) not shown by the HTML body, and
  // attachments: authorised download links.
  bool first = true;
  for (const auto& p : s.attachments) {
    if (!p.cid.empty() && used_cids.count(p.cid)) continue;
    if (p.type.rfind("image/", 0) == 0 && (p.disposition == "inline" || !p.cid.empty())) {
      h += "<p><img alt=\"" + html_escape(p.name.empty() ? p.cid : p.name) + "\" src=\"" +
           html_escape(link(p)) + "\"></p>\n";
    }
  }
  for (const auto& p : s.attachments) {
    if (first) h += "<hr>\n<ul class=\"attachments\">\n";
    first = false;
    h += "<li><a href=\"" + html_escape(link(p)) + "\">" + html_escape(p.name.empty() ? "(unnamed)" : p.name) +
         "</a> (" + html_escape(p.type) + ", " + std::to_string(p.size) + " bytes)</li>\n";
  }
  if (!first) h += "</ul>\n";
  h += "</body></html>\n";
  Response r{200, "text/html; charset=utf-8", {}, std::move(h), nullptr, nullptr};
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; "
                         "form-action 'none'; frame-ancestors 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Cache-Control", "private, no-store");
  if (req.method == "HEAD") r.body.clear();
  return r;
}

}  // namespace refmail::web
