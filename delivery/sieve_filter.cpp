// delivery/sieve_filter.cpp — the Sieve step of a delivery: message view, script cache,
// the plan from one or two runs.
#include "delivery/sieve_filter.hpp"

#include <algorithm>
#include <cctype>

#include "config/config.hpp"
#include "mime/codec.hpp"
#include "mime/headers.hpp"
#include "mime/summary.hpp"
#include "storage/types.hpp"

namespace refmail::delivery {

namespace {

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// A field's value unfolded (RFC 5322 2.2.3: CRLF before WSP removed), without the
// leading space and the final line ending.
std::string unfold(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c != '\r' && c != '\n') out += c;
  }
  std::size_t b = 0;
  while (b < out.size() && (out[b] == ' ' || out[b] == '\t')) ++b;
  return out.substr(b);
}

// The extensions refmail's delivery does not carry out: scripts requiring them are
// refused when stored. editheader: the message is stored once for every recipient, so
// one user's edits cannot be applied to it.
constexpr std::string_view kNotCarriedOut[] = {"editheader"};

}  // namespace

DeliveredMessage::DeliveredMessage(std::string_view header_section, std::string_view body_skeleton,
                                   const mime::Summary& summary, std::string envelope_from, std::string envelope_to,
                                   std::uint64_t size)
    : header_(header_section),
      body_(body_skeleton),
      summary_(summary),
      from_(std::move(envelope_from)),
      to_(std::move(envelope_to)),
      size_(size) {}

std::vector<std::string> DeliveredMessage::header(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& f : mime::header_fields(header_)) {
    if (iequal(f.name, name)) out.push_back(unfold(f.value));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> DeliveredMessage::headers() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : mime::header_fields(header_)) out.emplace_back(std::string(f.name), unfold(f.value));
  return out;
}

std::string DeliveredMessage::body_raw() const { return std::string(body_); }

std::vector<std::string> DeliveredMessage::body_text(const std::vector<std::string>& content_types) const {
  auto wanted = [&](const std::string& type) {
    if (content_types.empty()) return true;
    for (const auto& t : content_types) {
      if (t.empty()) return true;
      if (t.find('/') == std::string::npos) {
        if (type.size() > t.size() && type[t.size()] == '/' && iequal(type.substr(0, t.size()), t)) return true;
      } else if (iequal(type, t)) {
        return true;
      }
    }
    return false;
  };
  std::vector<std::string> out;
  // text/plain parts and, where a message has only HTML, the HTML ones: the summary's
  // textBody and htmlBody (RFC 8621 4.1.4) hold each text part's decoded content.
  std::vector<std::string_view> seen;  // part paths: a part in both lists is given once
  for (const auto* list : {&summary_.text_body, &summary_.html_body}) {
    for (const auto& p : *list) {
      if (std::find(seen.begin(), seen.end(), p.part_path) != seen.end() || !wanted(p.type)) continue;
      seen.push_back(p.part_path);
      out.push_back(p.content);
    }
  }
  return out;
}

SieveCache::Entry SieveCache::get(std::string_view source, const sieve::Limits& limits) {
  {
    std::lock_guard lock(mu_);
    if (auto it = by_source_.find(std::string(source)); it != by_source_.end()) return it->second;
  }
  Entry e;
  auto c = sieve::compile(source, limits);
  if (c.error) e.error = c.error->to_string();
  else e.script = std::move(c.script);
  std::lock_guard lock(mu_);
  if (by_source_.size() >= kMaxEntries) by_source_.clear();  // scripts change rarely
  by_source_.emplace(std::string(source), e);
  return e;
}

namespace {

// One run's actions into the plan, the keep aside (plan_sieve decides it once).
void add_actions(const sieve::Outcome& o, SievePlan& plan) {
  for (const auto& f : o.fileinto) plan.rows.push_back({f.mailbox, f.flags, f.create, false});
  for (const auto& r : o.redirects) plan.redirects.push_back(r.address);
  if (o.reject) plan.reject = o.reject;
  if (o.vacation) plan.vacation = o.vacation;
}

}  // namespace

SievePlan plan_sieve(const sieve::Script* before, const sieve::Script* user, std::string user_error,
                     const sieve::Message& message, const sieve::Context& context, const sieve::Limits& limits) {
  SievePlan plan;
  bool keep = true;
  std::vector<std::string> keep_flags;
  if (before != nullptr) {
    auto o = sieve::run(*before, message, context, limits);
    if (o.runtime_error) {
      plan.error = "before script: " + *o.runtime_error;
    } else {
      keep = o.keep;
      keep_flags = o.keep_flags;
      add_actions(o, plan);
    }
  }
  if (keep && user != nullptr) {
    auto o = sieve::run(*user, message, context, limits);
    if (o.runtime_error) {
      if (!plan.error.empty()) plan.error += "; ";
      plan.error += *o.runtime_error;
    } else {
      keep = o.keep;
      for (auto& f : o.keep_flags) {
        if (std::find(keep_flags.begin(), keep_flags.end(), f) == keep_flags.end()) keep_flags.push_back(f);
      }
      add_actions(o, plan);
    }
  } else if (keep && !user_error.empty()) {
    if (!plan.error.empty()) plan.error += "; ";
    plan.error += user_error;
  }
  if (keep) plan.rows.insert(plan.rows.begin(), SievePlan::Row{"INBOX", keep_flags, false, true});
  return plan;
}

namespace {

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (std::size_t j = 1; j < len; ++j) {
      const auto cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

}  // namespace

std::optional<sieve::Vacation> vacation_action(const storage::VacationSettings& settings, std::int64_t now) {
  if (!settings.enabled) return std::nullopt;
  if (settings.from_date && now < *settings.from_date) return std::nullopt;
  if (settings.to_date && now >= *settings.to_date) return std::nullopt;
  constexpr std::size_t kMaxText = 256u << 10;
  sieve::Vacation v;
  v.period_seconds = 7 * 86400;
  v.mime = true;
  if (settings.subject) v.subject = *settings.subject;
  std::string text = settings.text_body ? *settings.text_body
                     : settings.html_body ? mime::html_to_text(*settings.html_body, kMaxText)
                                          : std::string();
  const mime::QpParams qp{mime::LineEnding::Lf, 76};  // the user's text: LF or CRLF lines
  std::string plain;
  for (char c : text) {
    if (c != '\r') plain += c;
  }
  const std::string plain_part =
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
      mime::qp_encode(plain, qp);
  if (!settings.html_body) {
    v.reason = plain_part;
    return v;
  }
  std::string html;
  for (char c : *settings.html_body) {
    if (c != '\r') html += c;
  }
  const std::string html_part =
      "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
      mime::qp_encode(html, qp);
  // A boundary that quoted-printable output can never hold ("=_" is not a valid escape).
  const std::string boundary = "=_refmail_vacation";
  v.reason = "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n--" + boundary + "\r\n" +
             plain_part + "\r\n--" + boundary + "\r\n" + html_part + "\r\n--" + boundary + "--\r\n";
  return v;
}

sieve::Limits sieve_limits(const config::Config& cfg) {
  sieve::Limits l;
  l.max_script_bytes = static_cast<std::size_t>(cfg.sieve.max_script_bytes);
  l.max_redirects = cfg.sieve.max_redirects;
  return l;
}

std::string validate_sieve(std::string_view source, const sieve::Limits& limits) {
  if (source.find('\0') != std::string_view::npos) return "script contains a NUL byte";
  if (!valid_utf8(source)) return "script is not valid UTF-8";
  auto c = sieve::compile(source, limits);
  if (c.error) return c.error->to_string();
  for (auto ext : kNotCarriedOut) {
    if (sieve::uses_extension(*c.script, ext)) {
      return "1:1: the \"" + std::string(ext) + "\" extension is not supported by this server";
    }
  }
  return {};
}

std::string sieve_capabilities() {
  std::string out;
  std::string_view all = sieve::capabilities();
  while (!all.empty()) {
    const auto sp = all.find(' ');
    const auto word = all.substr(0, sp);
    all = sp == std::string_view::npos ? std::string_view() : all.substr(sp + 1);
    if (std::find(std::begin(kNotCarriedOut), std::end(kNotCarriedOut), word) != std::end(kNotCarriedOut)) continue;
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}

}  // namespace refmail::delivery
