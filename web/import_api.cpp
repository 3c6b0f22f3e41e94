// web/import_api.cpp — see import_api.hpp. Parsing is strict (types checked, sizes
// bounded); enqueueing is one batch of pending-UID keys plus, when no job is pending
// for the mailbox, one new job and its marker.
#include "web/import_api.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <initializer_list>
#include <set>

#include <boost/beast/core/detail/base64.hpp>
#include <boost/json.hpp>

#include "delivery/import_keys.hpp"
#include "metrics/metrics.hpp"
#include "mime/summary.hpp"
#include "storage/store.hpp"
#include "web/jmap.hpp"
#include "web/jmap_internal.hpp"

namespace refmail::web {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxBody = 64 * 1024;
constexpr std::size_t kMaxUids = 10000;

std::optional<std::uint32_t> as_u32(const json::value& v) {
  if (v.is_int64() && v.as_int64() > 0 && v.as_int64() <= 0xffffffffLL) return static_cast<std::uint32_t>(v.as_int64());
  if (v.is_uint64() && v.as_uint64() > 0 && v.as_uint64() <= 0xffffffffULL) return static_cast<std::uint32_t>(v.as_uint64());
  if (v.is_string()) {  // some agents send numbers as strings
    const auto& s = v.as_string();
    if (s.empty() || s.size() > 10) return std::nullopt;
    std::uint64_t n = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (n == 0 || n > 0xffffffffULL) return std::nullopt;
    return static_cast<std::uint32_t>(n);
  }
  return std::nullopt;
}

bool safe_name(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (c == '\0' || c == '\r' || c == '\n') return false;
  return true;
}

bool token_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Bearer <token>, or Basic base64(user:token) (what the ox driver's URL user:pass sends).
struct Credentials {
  std::string user;
  std::string token;
};
Credentials credentials(const Request& req) {
  Credentials c;
  std::string_view h = req.header("Authorization");
  if (h.size() > 7 && (h.substr(0, 7) == "Bearer " || h.substr(0, 7) == "bearer ")) {
    c.token.assign(h.substr(7));
  } else if (h.size() > 6 && (h.substr(0, 6) == "Basic " || h.substr(0, 6) == "basic ")) {
    auto b64 = h.substr(6);
    if (b64.size() > 1024) return c;
    std::string dec(boost::beast::detail::base64::decoded_size(b64.size()), '\0');
    auto [n, used] = boost::beast::detail::base64::decode(dec.data(), b64.data(), b64.size());
    dec.resize(n);
    auto colon = dec.find(':');
    if (colon != std::string::npos) {
      c.user = dec.substr(0, colon);
      c.token = dec.substr(colon + 1);
    }
  }
  return c;
}

// An error for result<T, std::string>.
struct Err {
  std::string why;
  template <class T>
  operator boost::system::result<T, std::string>() const {  // NOLINT(google-explicit-constructor)
    return boost::system::result<T, std::string>(boost::system::in_place_error, why);
  }
};

}  // namespace


std::string import_job_payload(std::string_view source, std::string_view user, std::string_view mailbox, bool full) {
  json::object o{{"source", source}, {"user", user}, {"mailbox", mailbox}, {"full", full}};
  return json::serialize(o);
}

boost::system::result<ImportNotification, std::string> parse_notification(std::string_view body) {
  if (body.size() > kMaxBody) return Err{std::string("body too large")};
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return Err{std::string("malformed JSON: expected an object")};
  const auto& o = v.as_object();
  ImportNotification n;
  auto str = [&](std::string_view key, std::string& out, std::size_t max) -> std::optional<std::string> {
    auto* p = o.if_contains(key);
    if (!p) return std::nullopt;
    if (!p->is_string() || !safe_name(p->as_string(), max)) return "'" + std::string(key) + "' must be a non-empty string";
    out.assign(p->as_string().data(), p->as_string().size());
    return std::nullopt;
  };
  if (auto e = str("source", n.source, 64)) return Err{*e};
  if (auto e = str("user", n.user, 320)) return Err{*e};
  if (n.user.empty()) return Err{std::string("'user' is required")};
  if (o.contains("folder") || o.contains("event") || o.contains("imap-uid")) {
    // Dovecot push_notification, ox driver.
    if (auto e = str("folder", n.mailbox, 512)) return Err{*e};
    std::string event;
    if (auto e = str("event", event, 64)) return Err{*e};
    if (!event.empty() && event != "messageNew" && event != "MessageNew" && event != "messageAppend" &&
        event != "MessageAppend") {
      n.ignored = true;
      return n;
    }
    if (auto* p = o.if_contains("imap-uidvalidity")) {
      auto u = as_u32(*p);
      if (!u) return Err{std::string("'imap-uidvalidity' must be a positive 32-bit number")};
      n.uidvalidity = *u;
    }
    auto* p = o.if_contains("imap-uid");
    if (!p) return Err{std::string("'imap-uid' is required")};
    auto u = as_u32(*p);
    if (!u) return Err{std::string("'imap-uid' must be a positive 32-bit number")};
    n.uids.push_back(*u);
    return n;
  }
  if (auto e = str("mailbox", n.mailbox, 512)) return Err{*e};
  if (auto* p = o.if_contains("uidvalidity")) {
    auto u = as_u32(*p);
    if (!u) return Err{std::string("'uidvalidity' must be a positive 32-bit number")};
    n.uidvalidity = *u;
  }
  if (auto* p = o.if_contains("uids")) {
    if (!p->is_array()) return Err{std::string("'uids' must be an array")};
    if (p->as_array().size() > kMaxUids) return Err{std::string("too many uids (max 10000 per notification)")};
    for (const auto& e : p->as_array()) {
      auto u = as_u32(e);
      if (!u) return Err{std::string("'uids' must hold positive 32-bit numbers")};
      n.uids.push_back(*u);
    }
  }
  if (auto* p = o.if_contains("full")) {
    if (!p->is_bool()) return Err{std::string("'full' must be true or false")};
    n.full = p->as_bool();
  }
  if (n.uids.empty() && !n.full) return Err{std::string("'uids' is empty (or set \"full\": true)")};
  std::sort(n.uids.begin(), n.uids.end());
  n.uids.erase(std::unique(n.uids.begin(), n.uids.end()), n.uids.end());
  return n;
}

boost::system::result<EnqueueResult, std::string> enqueue_notification(storage::Store& store,
                                                                       const config::Import& cfg,
                                                                       const ImportNotification& n,
                                                                       storage::UnixSeconds now) {
  const auto* m = cfg.find_mapping(n.source, n.user);
  if (!m) return Err{std::string("no mapping for user " + n.user + " of source " + n.source)};
  auto mb = delivery::import_keys::mbox(n.source, n.user, n.mailbox);
  EnqueueResult out;
  std::vector<storage::ImportStateOp> ops;
  std::string uv = std::to_string(n.uidvalidity);
  for (auto uid : n.uids) ops.push_back({delivery::import_keys::pending(mb, uid), uv});
  auto marker = store.get_import_state(delivery::import_keys::marker(mb));
  if (!marker) return Err{"store: " + storage::error_detail(marker.error())};
  if (*marker && !n.full) {
    out.job_id = **marker;  // coalesced into the pending job
  } else {
    out.due = n.full ? now : now + cfg.coalesce_window;
    // The job first, then its marker with the UIDs: a crash in between leaves a job
    // with nothing to do, never UIDs without a job.
    auto id = store.enqueue_import(m->account, import_job_payload(n.source, n.user, n.mailbox, n.full), out.due);
    if (!id) return Err{"store: " + storage::error_detail(id.error())};
    out.job_id = *id;
    out.new_job = true;
    if (!n.full) ops.push_back({delivery::import_keys::marker(mb), *id});
  }
  auto w = store.write_import_state(ops);
  if (!w) return Err{"store: " + storage::error_detail(w.error())};
  return out;
}

Response handle_import(const Request& req, ImportContext& ctx) {
  if (req.path() != "/api/import/notify") return error_response(404, "not found");
  if (req.method != "POST" && req.method != "PUT") {
    auto r = error_response(405, "use POST or PUT");
    r.headers.emplace_back("Allow", "POST, PUT");
    return r;
  }
  if (req.body.size() > kMaxBody) return error_response(413, "notification too large");
  auto creds = credentials(req);
  auto parsed = parse_notification(req.body);
  if (!parsed) return error_response(400, parsed.error());
  ImportNotification n = std::move(*parsed);
  if (n.source.empty()) n.source = query_value(req.target, "source");
  if (n.source.empty()) n.source = creds.user;
  const auto* src = ctx.cfg.import.find_source(n.source);
  // Unknown source, no token configured and a wrong token answer alike.
  if (!src || src->token.empty() || !token_equal(creds.token, src->token)) {
    auto r = error_response(401, "unknown source or bad token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"refmail-import\"");
    return r;
  }
  if (n.ignored) return Response{200, "application/json", {}, R"({"ignored":true})", nullptr, nullptr};
  if (!ctx.cfg.import.find_mapping(n.source, n.user)) return error_response(404, "unknown user for this source");
  if (n.full) return error_response(400, "full copies are started with refmailctl import run");
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  auto q = enqueue_notification(ctx.store, ctx.cfg.import, n, now);
  if (!q) return error_response(503, q.error());
  if (q->new_job && ctx.wake) ctx.wake(q->due);
  if (ctx.metrics) {
    ctx.metrics->add(metrics::with_label("refmail_import_notifications_total", "source", n.source));
    if (q->new_job) ctx.metrics->add(metrics::with_label("refmail_import_jobs_enqueued_total", "source", n.source));
  }
  json::object o{{"job", q->job_id}, {"queued", n.uids.size()}, {"coalesced", !q->new_job}};
  return Response{202, "application/json", {}, json::serialize(o), nullptr, nullptr};
}

namespace {

std::string html_escape(std::string_view s) {
  std::string o;
  o.reserve(s.size() + 16);
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o.push_back(c);
    }
  }
  return o;
}

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

// ---- HTML body sanitiser (allow-list) ----
// Elements kept (without any attribute unless listed): p br div span b i u strong em
// a[href: http, https, mailto] ul ol li table thead tbody tr td th[colspan rowspan]
// img[src: cid: only, rewritten to the authorised download link; alt] blockquote pre
// code h1-h6. Elements whose content is dropped with them: script style head title
// iframe object embed applet frame frameset noscript noembed noframes template
// textarea select option svg math xmp plaintext. Every other tag (form, input,
// button, link, meta, base, font...) is dropped, its text kept. Comments, doctypes
// and processing instructions are dropped. Attribute values are entity-decoded,
// checked, then escaped again, so the browser sees exactly the value checked.
constexpr std::size_t kMaxHtmlDepth = 64;

bool is_one_of(std::string_view name, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), name) != set.end();
}

bool allowed_element(std::string_view n) {
  return is_one_of(n, {"p", "br", "div", "span", "b", "i", "u", "strong", "em", "a", "ul", "ol", "li",
                       "table", "thead", "tbody", "tfoot", "tr", "td", "th", "img", "blockquote", "pre",
                       "code", "h1", "h2", "h3", "h4", "h5", "h6"});
}
bool void_element(std::string_view n) { return n == "br" || n == "img"; }
bool dropped_with_content(std::string_view n) {
  return is_one_of(n, {"script", "style", "head", "title", "iframe", "object", "embed", "applet", "frame",
                       "frameset", "noscript", "noembed", "noframes", "template", "textarea", "select",
                       "option", "svg", "math", "xmp", "plaintext"});
}

void append_utf8(std::string& o, std::uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    o.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    o.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    o.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    o.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    o.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    o.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    o.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    o.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    o.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    o.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes character references in an attribute value (HTML 13.2.5.72): numeric ones
// (with or without ';') and the few named ones mail uses; others stay as written.
std::string decode_entities(std::string_view v) {
  std::string o;
  std::size_t i = 0;
  while (i < v.size()) {
    if (v[i] != '&') {
      o.push_back(v[i++]);
      continue;
    }
    if (i + 2 < v.size() && v[i + 1] == '#') {
      std::size_t j = i + 2;
      bool hex = j < v.size() && (v[j] == 'x' || v[j] == 'X');
      if (hex) ++j;
      std::uint32_t cp = 0;
      std::size_t digits = 0;
      while (j < v.size() && (hex ? std::isxdigit(static_cast<unsigned char>(v[j])) != 0
                                  : std::isdigit(static_cast<unsigned char>(v[j])) != 0)) {
        unsigned char c = static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(v[j])));
        if (cp < 0x110000) cp = cp * (hex ? 16 : 10) + (std::isdigit(c) ? c - '0' : c - 'a' + 10);
        ++j;
        ++digits;
      }
      if (digits > 0) {
        if (j < v.size() && v[j] == ';') ++j;
        append_utf8(o, cp);
        i = j;
        continue;
      }
    }
    static const std::pair<std::string_view, std::string_view> named[] = {
        {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"},
        {"&nbsp;", "\xC2\xA0"}, {"&colon;", ":"}, {"&tab;", "\t"}, {"&newline;", "\n"}};
    bool done = false;
    for (const auto& [name, text] : named) {
      if (v.size() - i >= name.size()) {
        bool eq = true;
        for (std::size_t k = 0; k < name.size() && eq; ++k)
          eq = std::tolower(static_cast<unsigned char>(v[i + k])) == name[k];
        if (eq) {
          o += text;
          i += name.size();
          done = true;
          break;
        }
      }
    }
    if (!done) o.push_back(v[i++]);
  }
  return o;
}

// The value with leading/trailing whitespace and C0 controls removed (URL parsers do
// the same before reading the scheme).
std::string_view trim_url(std::string_view v) {
  while (!v.empty() && static_cast<unsigned char>(v.front()) <= 0x20) v.remove_prefix(1);
  while (!v.empty() && static_cast<unsigned char>(v.back()) <= 0x20) v.remove_suffix(1);
  return v;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t k = 0; k < prefix.size(); ++k)
    if (std::tolower(static_cast<unsigned char>(s[k])) != prefix[k]) return false;
  return true;
}

bool equal_nocase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k)
    if (std::tolower(static_cast<unsigned char>(a[k])) != std::tolower(static_cast<unsigned char>(b[k]))) return false;
  return true;
}

// RFC 2392: a cid: URL is the Content-ID, %hh-encoded.
std::string percent_decode(std::string_view s) {
  std::string o;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      auto hexval = [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                                                           : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
      };
      o.push_back(static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
      i += 2;
    } else {
      o.push_back(s[i]);
    }
  }
  return o;
}

struct Tag {
  std::string name;  // lower-case
  bool end = false;
  std::vector<std::pair<std::string, std::string>> attrs;  // lower-case name, raw value
};

// Parses the tag starting at h[i] == '<' (HTML 13.2.5.6 onwards, simplified); returns
// the index after its '>' or h.size() when unterminated (the tag is then dropped).
std::size_t parse_tag(std::string_view h, std::size_t i, Tag& t, bool& complete) {
  complete = false;
  std::size_t j = i + 1;
  if (j < h.size() && h[j] == '/') {
    t.end = true;
    ++j;
  }
  while (j < h.size() && (std::isalnum(static_cast<unsigned char>(h[j])) != 0) && t.name.size() < 32)
    t.name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(h[j++]))));
  auto space = [&](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; };
  for (;;) {
    while (j < h.size() && (space(h[j]) || h[j] == '/')) ++j;
    if (j >= h.size()) return h.size();
    if (h[j] == '>') {
      complete = true;
      return j + 1;
    }
    std::string name;
    while (j < h.size() && !space(h[j]) && h[j] != '/' && h[j] != '>' && (h[j] != '=' || name.empty())) {
      if (name.size() < 64) name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(h[j]))));
      ++j;
    }
    while (j < h.size() && space(h[j])) ++j;
    std::string value;
    if (j < h.size() && h[j] == '=') {
      ++j;
      while (j < h.size() && space(h[j])) ++j;
      if (j < h.size() && (h[j] == '"' || h[j] == '\'')) {
        char q = h[j++];
        auto e = h.find(q, j);
        if (e == std::string_view::npos) return h.size();
        value.assign(h.substr(j, e - j));
        j = e + 1;
      } else {
        while (j < h.size() && !space(h[j]) && h[j] != '>') value.push_back(h[j++]);
      }
    }
    if (!t.end && t.attrs.size() < 64) t.attrs.emplace_back(std::move(name), std::move(value));
  }
}

// Text between tags: kept, with '<', '>' and '"' escaped and a bare '&' (not starting
// a character reference) escaped; NUL dropped.
void append_text(std::string& o, std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\0') continue;
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '"') o += "&quot;";
    else if (c == '&') {
      std::size_t j = i + 1;
      while (j < text.size() && j - i <= 32 && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '#')) ++j;
      if (j > i + 1 && j < text.size() && text[j] == ';') o.push_back('&');
      else o += "&amp;";
    } else {
      o.push_back(c);
    }
  }
}

// Sanitises an HTML body (see the allow-list above). `cid_link` maps a Content-ID to
// its download link ("" when the message has no such part: the image is dropped).
// The output is balanced: every element it opens is closed.
template <class CidLink>
std::string sanitize_html(std::string_view h, CidLink&& cid_link) {
  std::string o;
  o.reserve(h.size());
  std::vector<std::string> open;  // allowed elements opened and not yet closed
  std::size_t i = 0;
  auto lower_find = [&](std::size_t from, std::string_view needle) {
    for (std::size_t k = from; k + needle.size() <= h.size(); ++k)
      if (starts_with_nocase(h.substr(k), needle)) return k;
    return std::string_view::npos;
  };
  while (i < h.size()) {
    auto lt = h.find('<', i);
    if (lt == std::string_view::npos) {
      append_text(o, h.substr(i));
      break;
    }
    append_text(o, h.substr(i, lt - i));
    i = lt;
    if (h.substr(i, 4) == "<!--") {  // comment (HTML 13.2.5.43): dropped
      auto e = h.find("-->", i + 4);
      i = e == std::string_view::npos ? h.size() : e + 3;
      continue;
    }
    if (i + 1 < h.size() && (h[i + 1] == '!' || h[i + 1] == '?')) {  // doctype, <![CDATA[, <?xml: dropped
      auto e = h.find('>', i);
      i = e == std::string_view::npos ? h.size() : e + 1;
      continue;
    }
    bool starts_tag = i + 1 < h.size() && (std::isalpha(static_cast<unsigned char>(h[i + 1])) ||
                                           (h[i + 1] == '/' && i + 2 < h.size() &&
                                            std::isalpha(static_cast<unsigned char>(h[i + 2]))));
    if (!starts_tag) {
      o += "&lt;";
      ++i;
      continue;
    }
    Tag t;
    bool complete = false;
    i = parse_tag(h, i, t, complete);
    if (!complete) break;  // an unterminated tag ends the body
    if (!t.end && dropped_with_content(t.name)) {
      // Raw text up to the matching end tag (or the end of the body) goes with it.
      auto e = lower_find(i, "</" + t.name);
      if (e == std::string_view::npos) break;
      auto gt = h.find('>', e);
      i = gt == std::string_view::npos ? h.size() : gt + 1;
      continue;
    }
    if (!allowed_element(t.name)) continue;
    if (t.end) {
      auto it = std::find(open.rbegin(), open.rend(), t.name);
      if (it == open.rend()) continue;  // stray end tag: dropped
      std::size_t keep = static_cast<std::size_t>(open.rend() - it) - 1;
      while (open.size() > keep) {
        o += "</" + open.back() + ">";
        open.pop_back();
      }
      continue;
    }
    if (!void_element(t.name) && open.size() >= kMaxHtmlDepth) continue;
    std::string attrs;
    if (t.name == "a") {
      for (const auto& [k, v] : t.attrs) {
        if (k != "href") continue;
        std::string url(trim_url(decode_entities(v)));
        if (starts_with_nocase(url, "http://") || starts_with_nocase(url, "https://") ||
            starts_with_nocase(url, "mailto:")) {
          attrs = " href=\"" + html_escape(url) + "\" rel=\"noopener noreferrer nofollow\" target=\"_blank\"";
          break;
        }
      }
    } else if (t.name == "img") {
      std::string src, alt;
      for (const auto& [k, v] : t.attrs) {
        if (k == "src" && src.empty()) {
          std::string url(trim_url(decode_entities(v)));
          if (starts_with_nocase(url, "cid:")) src = cid_link(percent_decode(url.substr(4)));
        } else if (k == "alt" && alt.empty()) {
          alt = decode_entities(v);
        }
      }
      if (src.empty()) continue;  // remote, data: or unknown images are removed
      attrs = " src=\"" + html_escape(src) + "\" alt=\"" + html_escape(alt) + "\"";
    } else if (t.name == "td" || t.name == "th") {
      for (const auto& [k, v] : t.attrs) {
        if (k != "colspan" && k != "rowspan") continue;
        bool digits = !v.empty() && v.size() <= 3 &&
                      std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
        if (digits) attrs += " " + k + "=\"" + v + "\"";
      }
    }
    o += "<" + t.name + attrs + ">";
    if (!void_element(t.name)) open.push_back(t.name);
  }
  while (!open.empty()) {
    o += "</" + open.back() + ">";
    open.pop_back();
  }
  return o;
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
  auto rows = store.list_account_rows(account);
  if (!rows) return error_response(503, storage::error_detail(rows.error()));
  const storage::MailboxRow* row = nullptr;
  for (const auto& r : *rows)
    if (r.message_id == id) row = &r;
  if (!row) return error_response(404, "not found");
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
  auto cid_link = [&](const std::string& cid) -> std::string {
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

Response handle_admin_import(const Request& req, ImportContext& ctx) {
  auto path = req.path();
  const auto& icfg = ctx.cfg.import;
  if (path == "/admin/v1/import" && req.method == "GET") {
    json::array sources;
    for (const auto& s : icfg.sources) {
      json::object o{{"source", s.name}, {"host", s.host}, {"port", s.port}};
      auto st = ctx.store.get_import_state(delivery::import_keys::stats(s.name));
      if (st && *st) {
        boost::system::error_code ec;
        auto v = json::parse(**st, ec);
        if (!ec && v.is_object())
          for (const auto& kv : v.as_object()) o[kv.key()] = kv.value();
      }
      std::string prefix = std::string(s.name) + '\0';
      auto jobs = ctx.store.scan_import_state("P" + prefix, 100000);
      auto uids = ctx.store.scan_import_state("Q" + prefix, 1000000);
      o["pending_jobs"] = jobs ? jobs->size() : 0;
      o["pending_uids"] = uids ? uids->size() : 0;
      std::size_t mappings = 0;
      for (const auto& m : icfg.mappings) mappings += m.source == s.name;
      o["mappings"] = mappings;
      sources.push_back(std::move(o));
    }
    auto all = ctx.store.due_imports(storage::UnixSeconds::max(), 100000);
    json::object out{{"sources", std::move(sources)}, {"queued_jobs", all ? all->size() : 0}};
    return Response{200, "application/json", {}, json::serialize(out), nullptr, nullptr};
  }
  if (path == "/admin/v1/import/run" && req.method == "POST") {
    boost::system::error_code ec;
    auto v = json::parse(req.body, ec);
    if (ec || !v.is_object()) return error_response(400, "expected {\"source\", \"user\"}");
    const auto& o = v.as_object();
    auto* s = o.if_contains("source");
    auto* u = o.if_contains("user");
    if (!s || !u || !s->is_string() || !u->is_string()) return error_response(400, "expected {\"source\", \"user\"}");
    std::string source(s->as_string()), user(u->as_string());
    const auto* m = icfg.find_mapping(source, user);
    if (!m) return error_response(404, "no mapping for user " + user + " of source " + source);
    std::vector<std::string> boxes = m->mailboxes;
    if (auto* mb = o.if_contains("mailbox")) {
      if (!mb->is_string() || !safe_name(mb->as_string(), 512)) return error_response(400, "bad mailbox");
      boxes = {std::string(mb->as_string())};
    }
    auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    json::array jobs;
    for (const auto& b : boxes) {
      ImportNotification n;
      n.source = source;
      n.user = user;
      n.mailbox = b;
      n.full = true;
      auto q = enqueue_notification(ctx.store, icfg, n, now);
      if (!q) return error_response(503, q.error());
      if (ctx.wake) ctx.wake(q->due);
      if (ctx.metrics && q->new_job) ctx.metrics->add(metrics::with_label("refmail_import_jobs_enqueued_total", "source", source));
      jobs.push_back(json::object{{"mailbox", b}, {"job", q->job_id}});
    }
    return Response{202, "application/json", {}, json::serialize(json::object{{"jobs", std::move(jobs)}}), nullptr,
                    nullptr};
  }
  return error_response(404, "not found");
}

}  // namespace refmail::web
