// delivery/spam.cpp — rspamd's reply read, and the verdict's header fields written.
#include "delivery/spam.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include <boost/json.hpp>

#include "mime/headers.hpp"
#include "mime/skeleton.hpp"

namespace refmail::delivery {

namespace {

namespace json = boost::json;

constexpr std::size_t kMaxReplyBytes = 4u << 20;
constexpr std::size_t kMaxSymbolsListed = 30;
constexpr std::size_t kMaxSymbolBytes = 128;
constexpr std::size_t kMaxSubjectBytes = 998 - 10;

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

SpamVerdict failed(std::string why) {
  SpamVerdict v;
  v.error = std::move(why);
  return v;
}

// A symbol name fit for a header value: [A-Za-z0-9_.-] only, bounded.
std::string clean_symbol(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, kMaxSymbolBytes)) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') out += c;
  }
  return out;
}

// A header value with no line breaks or control characters (rspamd's subject comes from
// the message, and from a possibly broken rspamd).
std::string clean_value(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) break;
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  return out;
}

std::string number(double d) {
  if (!std::isfinite(d)) d = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", d);
  return buf;
}

}  // namespace

bool is_junk_mailbox(std::string_view name) { return iequal(name, "junk") || iequal(name, "spam"); }

std::string_view to_string(SpamAction a) {
  switch (a) {
    case SpamAction::no_action: return "no action";
    case SpamAction::greylist: return "greylist";
    case SpamAction::add_header: return "add header";
    case SpamAction::rewrite_subject: return "rewrite subject";
    case SpamAction::soft_reject: return "soft reject";
    case SpamAction::reject: return "reject";
    case SpamAction::unchecked: return "unchecked";
  }
  return "unchecked";
}

SpamVerdict parse_rspamd_reply(std::string_view text) {
  if (text.size() > kMaxReplyBytes) return failed("rspamd reply too large");
  boost::system::error_code ec;
  json::parse_options opt;
  opt.max_depth = 32;
  json::value doc = json::parse(text, ec, {}, opt);
  if (ec) return failed("rspamd reply is not JSON: " + ec.message());
  const auto* o = doc.if_object();
  if (o == nullptr) return failed("rspamd reply is not a JSON object");
  if (const auto* e = o->if_contains("error"); e && e->is_string()) {
    return failed("rspamd: " + clean_value(e->as_string(), 200));
  }
  const auto* action = o->if_contains("action");
  if (action == nullptr || !action->is_string()) return failed("rspamd reply has no action");
  static constexpr SpamAction kActions[] = {SpamAction::no_action,       SpamAction::greylist,
                                            SpamAction::add_header,      SpamAction::rewrite_subject,
                                            SpamAction::soft_reject,     SpamAction::reject};
  SpamVerdict v;
  bool known = false;
  for (auto a : kActions) {
    if (action->as_string() == to_string(a)) {
      v.action = a;
      known = true;
    }
  }
  if (!known) return failed("rspamd reply has an unknown action: " + clean_value(action->as_string(), 64));
  auto num = [&](std::string_view key, double& out) {
    const auto* n = o->if_contains(key);
    if (n == nullptr) return false;
    if (n->is_double()) out = n->as_double();
    else if (n->is_int64()) out = static_cast<double>(n->as_int64());
    else if (n->is_uint64()) out = static_cast<double>(n->as_uint64());
    else return false;
    if (!std::isfinite(out)) out = 0;
    return true;
  };
  if (!num("score", v.score)) return failed("rspamd reply has no score");
  (void)num("required_score", v.required);
  if (const auto* sk = o->if_contains("is_skipped"); sk && sk->is_bool()) v.skipped = sk->as_bool();
  if (const auto* syms = o->if_contains("symbols"); syms && syms->is_object()) {
    std::vector<std::pair<double, std::string>> listed;
    for (const auto& [name, sym] : syms->as_object()) {
      double score = 0;
      if (const auto* so = sym.if_object()) {
        if (const auto* sc = so->if_contains("score")) {
          if (sc->is_double()) score = sc->as_double();
          else if (sc->is_int64()) score = static_cast<double>(sc->as_int64());
        }
      }
      if (!std::isfinite(score) || score == 0) continue;
      auto n = clean_symbol(name);
      if (!n.empty()) listed.emplace_back(score, std::move(n));
    }
    std::stable_sort(listed.begin(), listed.end(), [](const auto& a, const auto& b) {
      return std::abs(a.first) > std::abs(b.first);
    });
    for (auto& [score, name] : listed) {
      if (v.symbols.size() >= kMaxSymbolsListed) break;
      v.symbols.push_back(std::move(name));
    }
  }
  if (v.action == SpamAction::rewrite_subject) {
    if (const auto* s = o->if_contains("subject"); s && s->is_string()) {
      v.subject = clean_value(s->as_string(), kMaxSubjectBytes);
    }
  }
  return v;
}

void apply_spam_fields(mime::Skeleton& s, const SpamVerdict& v, bool junk) {
  // Edits inside the header section only, applied back to front; every cut lies after it.
  struct Edit {
    std::size_t start, end;
    std::string with;
  };
  std::vector<Edit> edits;
  for (const auto& f : mime::header_fields(s.bytes)) {
    const bool ours = iequal(f.name, "x-spam") || iequal(f.name, "x-spam-flag") || iequal(f.name, "x-spam-score") ||
                      iequal(f.name, "x-spam-status") || iequal(f.name, "x-spam-symbols");
    if (ours) {
      edits.push_back({f.start, f.end, {}});
    } else if (iequal(f.name, "subject") && v.action == SpamAction::rewrite_subject && !v.subject.empty()) {
      const bool crlf = f.end >= 2 && s.bytes[f.end - 2] == '\r';
      edits.push_back({f.start, f.end, std::string(f.name) + ": " + v.subject + (crlf ? "\r\n" : "\n")});
    }
  }
  std::int64_t delta = 0;
  for (auto it = edits.rbegin(); it != edits.rend(); ++it) {
    s.bytes.replace(it->start, it->end - it->start, it->with);
    delta += static_cast<std::int64_t>(it->with.size()) - static_cast<std::int64_t>(it->end - it->start);
  }
  std::string top;
  if (junk) top += "X-Spam: Yes\r\n";
  top += "X-Spam-Status: ";
  if (v.action == SpamAction::unchecked) {
    top += "unchecked";
    if (v.truncated) top += " (skeleton only)";
  } else {
    top += junk ? "Yes" : "No";
    top += ", score=" + number(v.score) + " required=" + number(v.required) + " action=\"" +
           std::string(to_string(v.action)) + "\"";
    if (v.truncated) top += " skeleton-only";
    if (!v.symbols.empty()) {
      // Folded so no line passes 78 characters (RFC 5322 2.1.1).
      top += "\r\n\ttests=";
      std::size_t line = 7;
      for (std::size_t i = 0; i < v.symbols.size(); ++i) {
        const auto& sym = v.symbols[i];
        if (i > 0) {
          if (line + 1 + sym.size() > 76) {
            top += ",\r\n\t";
            line = 1;
          } else {
            top += ",";
            ++line;
          }
        }
        top += sym;
        line += sym.size();
      }
    }
  }
  top += "\r\n";
  s.bytes.insert(0, top);
  delta += static_cast<std::int64_t>(top.size());
  for (auto& c : s.cuts) c.offset = static_cast<std::uint64_t>(static_cast<std::int64_t>(c.offset) + delta);
}

}  // namespace refmail::delivery
