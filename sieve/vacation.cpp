// sieve/vacation.cpp — RFC 5230 4.5/4.6 (whether to reply), 5 (the reply) and the
// per-sender key. See vacation.hpp.
// SECURITY: every value taken from the script or the original message and written into
// the reply's header is stripped of CR/LF (addresses) or RFC 2047 re-encoded (Subject),
// so no field can be injected.
#include "sieve/vacation.hpp"

#include <cstdint>
#include <cstdio>

#include "mime/address.hpp"
#include "mime/headers.hpp"
#include "mime/rfc2047.hpp"
#include "sieve/variables_internal.hpp"

namespace refmail::sieve {
namespace {

using detail::iequals;
using detail::to_lower;

std::string bare(std::string s) {
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return s;
}

std::string one_line(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != '\r' && c != '\n' && c != '\0') out.push_back(c);
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string> own_addresses(const Message& m, const Context& c, const Vacation& v) {
  std::vector<std::string> mine;
  for (const auto& a : c.user_addresses) mine.push_back(to_lower(bare(a)));
  for (const auto& a : v.addresses) mine.push_back(to_lower(bare(a)));
  if (auto to = bare(m.envelope_to()); !to.empty()) mine.push_back(to_lower(to));
  return mine;
}

std::string crlf(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out.push_back('\r');
    if (s[i] == '\r' && (i + 1 >= s.size() || s[i + 1] != '\n')) { out += "\r\n"; continue; }
    out.push_back(s[i]);
  }
  return out;
}

std::uint64_t fnv1a(std::string_view s, std::uint64_t h) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

bool vacation_allowed(const Message& m, const Context& c, const Vacation& v) {
  std::string sender = to_lower(bare(m.envelope_from()));
  if (sender.empty()) return false;  // RFC 5230 4.5: never to the null sender
  auto at = sender.rfind('@');
  std::string local = at == std::string::npos ? sender : sender.substr(0, at);
  // RFC 5230 4.5: not to list or system addresses.
  if (local == "mailer-daemon" || local.rfind("owner-", 0) == 0 ||
      (local.size() >= 8 && local.compare(local.size() - 8, 8, "-request") == 0))
    return false;
  // RFC 5230 4.5 (and RFC 3834 2): not to list mail, bulk mail, or automatic replies.
  for (const auto& [name, value] : m.headers()) {
    std::string n = to_lower(name);
    if (n == "list-id" || n == "list-help" || n == "list-subscribe" || n == "list-unsubscribe" ||
        n == "list-post" || n == "list-owner" || n == "list-archive")
      return false;
    if (n == "precedence") {
      std::string p = to_lower(trim(value));
      if (p == "bulk" || p == "list" || p == "junk") return false;
    }
    if (n == "auto-submitted") {
      std::string a = to_lower(trim(value));
      auto semi = a.find(';');
      if (semi != std::string::npos) a = trim(a.substr(0, semi));
      if (a != "no") return false;
    }
  }
  auto mine = own_addresses(m, c, v);
  for (const auto& a : mine)
    if (a == sender) return false;  // RFC 5230 4.6: not to oneself
  // RFC 5230 4.5: only if one of the user's addresses is an explicit recipient.
  for (const char* field : {"to", "cc", "bcc", "resent-to", "resent-cc"}) {
    for (const auto& value : m.header(field)) {
      for (const auto& addr : mime::parse_address_list(value, 256)) {
        std::string e = to_lower(addr.email);
        for (const auto& a : mine)
          if (a == e) return true;
      }
    }
  }
  return false;
}

std::string vacation_reply(const Message& m, const Context& c, const Vacation& v, std::string_view hostname,
                           std::string_view message_id_local) {
  std::string from = one_line(v.from);
  if (!from.empty()) {
    // RFC 5230 4.3: :from is an address, perhaps with a display name: written back through
    // the address formatter, so a UTF-8 name is RFC 2047 encoded.
    auto parsed = mime::parse_address_list(from, 1);
    if (!parsed.empty()) from = one_line(mime::format_address(parsed.front(), 6));
  }
  if (from.empty()) from = one_line(bare(m.envelope_to()));
  if (from.empty() && !c.user_addresses.empty()) from = one_line(c.user_addresses.front());
  std::string to = one_line(bare(m.envelope_from()));
  std::string subject;
  if (!v.subject.empty()) {
    subject = one_line(v.subject);
  } else {
    // RFC 5230 5.7: "Auto: " and the original subject (decoded, re-encoded below).
    auto subjects = m.header("subject");
    subject = "Auto: " + (subjects.empty() ? std::string() : one_line(mime::decode_rfc2047(subjects.front())));
  }
  std::string out;
  out += "From: " + from + "\r\n";
  out += "To: " + to + "\r\n";
  out += "Subject: " + mime::encode_rfc2047(subject, mime::EncodeContext::Text, 9) + "\r\n";
  out += "Date: " + mime::format_rfc5322_date(c.now_unix) + "\r\n";
  out += "Message-ID: <" + one_line(message_id_local) + "@" + one_line(hostname) + ">\r\n";
  // RFC 5230 5.8: In-Reply-To and References from the original's Message-ID.
  auto ids = m.header("message-id");
  if (!ids.empty()) {
    auto parsed = mime::parse_message_ids(ids.front(), 1);
    if (!parsed.empty()) {
      std::string id = "<" + one_line(parsed.front()) + ">";
      out += "In-Reply-To: " + id + "\r\n";
      std::string refs;
      auto old_refs = m.header("references");
      if (!old_refs.empty())
        for (const auto& r : mime::parse_message_ids(old_refs.front(), 20)) refs += "<" + one_line(r) + "> ";
      out += "References: " + mime::fold_header(refs + id, 12) + "\r\n";
    }
  }
  out += "Auto-Submitted: auto-replied\r\n";  // RFC 5230 5.6, RFC 3834 5
  out += "MIME-Version: 1.0\r\n";
  if (v.mime) {
    // RFC 5230 4.3: the reason is a MIME entity (its own header fields, a blank line,
    // the body).
    std::string entity = crlf(v.reason);
    if (entity.rfind("\r\n", 0) == 0) out += "Content-Type: text/plain; charset=utf-8\r\n";
    out += entity;
  } else {
    out += "Content-Type: text/plain; charset=utf-8\r\n";
    out += "Content-Transfer-Encoding: 8bit\r\n\r\n";
    out += crlf(v.reason);
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

std::string vacation_key(const Vacation& v, std::string_view sender) {
  std::string material;
  if (!v.handle.empty()) {
    material = std::string("h\0", 2) + v.handle;
  } else {
    // RFC 5230 4.2: without :handle, the reply's reason, subject, from and addresses
    // identify it.
    material = "r";
    for (const auto* s : {&v.reason, &v.subject, &v.from}) {
      material.push_back('\0');
      material += *s;
    }
    for (const auto& a : v.addresses) {
      material.push_back('\0');
      material += a;
    }
    material += v.mime ? std::string("\0m", 2) : std::string("\0t", 2);
  }
  material.push_back('\x01');
  material += to_lower(bare(std::string(sender)));
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx",
                static_cast<unsigned long long>(fnv1a(material, 14695981039346656037ull)),
                static_cast<unsigned long long>(fnv1a(material, 0x9e3779b97f4a7c15ull)));
  return buf;
}

}  // namespace refmail::sieve
