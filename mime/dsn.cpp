// mime/dsn.cpp — see dsn.hpp. RFC 3464 (delivery-status fields), RFC 6522 (report).
#include "mime/headers.hpp"
#include "mime/dsn.hpp"

#include <ctime>

namespace refmail::mime {
namespace {

// Peer text on one line: CR/LF/TAB become spaces, other control bytes and non-ASCII
// become '?', bounded (a 10,000-line reply must not become a 10 MB bounce).
std::string one_line(std::string_view s, std::size_t max = 900) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else if (u < 32 || u >= 127) {
      out.push_back('?');
    } else {
      out.push_back(c);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string hex64(std::uint64_t v) {
  static const char* d = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = d[v & 15];
  return s;
}

// Quotes a peer reply for the human part: each line prefixed with "    ", at most
// 20 lines of 200 bytes.
std::string quote_reply(std::string_view s) {
  std::string out;
  std::size_t lines = 0;
  while (!s.empty() && lines < 20) {
    auto nl = s.find('\n');
    auto line = s.substr(0, nl);
    out += "    " + one_line(line, 200) + "\r\n";
    ++lines;
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  if (!s.empty() && lines == 20) out += "    (reply truncated)\r\n";
  return out;
}

// The original header section with line ends normalised to CRLF.
std::string crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 32);
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string header_section(std::string_view message, std::size_t max_bytes) {
  std::size_t end = message.size();
  auto a = message.find("\r\n\r\n");
  auto b = message.find("\n\n");
  if (a != std::string_view::npos) end = a + 4;
  if (b != std::string_view::npos && b + 2 < end) end = b + 2;
  if (end > max_bytes) {
    end = max_bytes;
    auto nl = message.substr(0, end).rfind('\n');
    if (nl != std::string_view::npos) end = nl + 1;
  }
  return std::string(message.substr(0, end));
}

std::string status_from_reply(int code, std::string_view reply) {
  // RFC 3463: class "." subject "." detail, class 2, 4 or 5, after the basic code.
  std::string_view r = reply;
  if (r.size() >= 4 && r[0] >= '2' && r[0] <= '5' && (r[3] == ' ' || r[3] == '-')) r.remove_prefix(4);
  std::size_t i = 0;
  auto digits = [&](std::size_t max) {
    std::size_t n = 0;
    while (i < r.size() && r[i] >= '0' && r[i] <= '9' && n < max) ++i, ++n;
    return n;
  };
  if (!r.empty() && (r[0] == '2' || r[0] == '4' || r[0] == '5')) {
    i = 1;
    if (i < r.size() && r[i] == '.') {
      ++i;
      if (digits(3) > 0 && i < r.size() && r[i] == '.') {
        ++i;
        if (digits(3) > 0 && (i == r.size() || r[i] == ' ' || r[i] == '\r' || r[i] == '\n')) {
          return std::string(r.substr(0, i));
        }
      }
    }
  }
  if (code >= 500) return "5.0.0";
  if (code >= 400) return "4.0.0";
  return code >= 200 && code < 300 ? "2.0.0" : "4.0.0";
}

std::string compose_dsn(const DsnInput& in) {
  bool failed = false;
  for (const auto& r : in.recipients) failed = failed || r.action != "delayed";
  const std::string boundary = "=_refmail_report_" + hex64(in.random_seed) + "_" +
                               hex64(in.random_seed * 0x9E3779B97F4A7C15ull + 1);
  const std::string mta = one_line(in.reporting_mta, 255);
  std::string m;
  m += "From: Mail Delivery System <" + one_line(in.from, 64) + "@" + mta + ">\r\n";
  m += "To: <" + one_line(in.to, 512) + ">\r\n";
  std::string subject = failed ? "Undelivered Mail Returned to Sender" : "Delayed Mail (still being retried)";
  if (!in.original_subject.empty()) subject += ": " + one_line(in.original_subject, 200);
  m += "Subject: " + subject + "\r\n";
  m += "Date: " + format_rfc5322_date(in.date) + "\r\n";
  m += "Message-ID: <" + hex64(in.random_seed ^ 0x5DEECE66Dull) + "." + std::to_string(in.date) + "@" + mta + ">\r\n";
  m += "Auto-Submitted: auto-replied\r\n";  // RFC 3834 5: never answered by autoresponders
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n";
  m += "\r\nThis is a MIME-encapsulated delivery status notification.\r\n";

  // 1. The human-readable part.
  m += "\r\n--" + boundary + "\r\n";
  m += "Content-Type: text/plain; charset=us-ascii\r\nContent-Description: Notification\r\n\r\n";
  m += "This is the mail system at host " + mta + ".\r\n\r\n";
  if (failed) {
    m += "Your message could not be delivered to one or more recipients.\r\n";
    m += "It is attached below (headers only).\r\n\r\n";
  } else {
    m += "Your message has not been delivered yet to the recipients below.\r\n";
    m += "The mail system will keep trying; you need not send it again.\r\n\r\n";
  }
  for (const auto& r : in.recipients) {
    if (r.action == "delayed" && failed) continue;
    m += "<" + one_line(r.address, 512) + ">";
    if (!r.remote_mta.empty()) m += ": host " + one_line(r.remote_mta, 255) + " said:";
    m += "\r\n" + quote_reply(r.diagnostic) + "\r\n";
  }

  // 2. message/delivery-status (RFC 3464 2.2 per-message, 2.3 per-recipient fields).
  m += "--" + boundary + "\r\n";
  m += "Content-Type: message/delivery-status\r\nContent-Description: Delivery report\r\n\r\n";
  m += "Reporting-MTA: dns; " + mta + "\r\n";
  if (!in.original_envid.empty()) m += "Original-Envelope-Id: " + one_line(in.original_envid, 100) + "\r\n";
  if (in.arrival_date > 0) m += "Arrival-Date: " + format_rfc5322_date(in.arrival_date) + "\r\n";
  for (const auto& r : in.recipients) {
    m += "\r\nFinal-Recipient: rfc822; " + one_line(r.address, 512) + "\r\n";
    m += "Action: " + (r.action == "delayed" ? std::string("delayed") : std::string("failed")) + "\r\n";
    m += "Status: " + one_line(r.status, 16) + "\r\n";
    if (!r.remote_mta.empty()) m += "Remote-MTA: dns; " + one_line(r.remote_mta, 255) + "\r\n";
    if (!r.diagnostic.empty()) m += "Diagnostic-Code: smtp; " + one_line(r.diagnostic, 900) + "\r\n";
    m += "Last-Attempt-Date: " + format_rfc5322_date(in.date) + "\r\n";
  }

  // 3. The original header section (RFC 6522 text/rfc822-headers).
  m += "\r\n--" + boundary + "\r\n";
  m += "Content-Type: text/rfc822-headers\r\nContent-Description: Undelivered message headers\r\n\r\n";
  std::string hs = crlf(in.original_headers);
  while (hs.size() >= 2 && hs.ends_with("\r\n\r\n")) hs.resize(hs.size() - 2);
  m += hs;
  if (!hs.empty() && !hs.ends_with("\r\n")) m += "\r\n";
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

}  // namespace refmail::mime
