// web/autoconfig.cpp — autoconfig_xml: the Thunderbird autoconfig document.
#include "web/autoconfig.hpp"

#include <algorithm>
#include <cctype>

namespace refmail::web {

namespace {

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
  }
  return out;
}

// The domain of an address, lower-cased, if it looks like a host name; else "".
std::string domain_of(std::string_view address) {
  auto at = address.rfind('@');
  if (at == std::string_view::npos) return "";
  std::string d(address.substr(at + 1));
  if (d.empty() || d.size() > 253) return "";
  for (auto& c : d) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return "";
  }
  return d;
}

void server(std::string& x, const char* kind, const char* type, const std::string& host, const config::Endpoint& ep,
            const char* socket) {
  if (!ep.enabled()) return;
  x += std::string("  <") + kind + "Server type=\"" + type + "\">\n";
  x += "    <hostname>" + xml_escape(host) + "</hostname>\n";
  x += "    <port>" + std::to_string(ep.port) + "</port>\n";
  x += std::string("    <socketType>") + socket + "</socketType>\n";
  x += "    <authentication>password-cleartext</authentication>\n";
  x += "    <username>%EMAILADDRESS%</username>\n";
  x += std::string("  </") + kind + "Server>\n";
}

}  // namespace

std::string autoconfig_xml(const config::Config& cfg, std::string_view email_address) {
  std::string provider = domain_of(email_address);
  if (provider.empty() && !cfg.local_domains.empty()) provider = cfg.local_domains.front();
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n";
  x += " <emailProvider id=\"" + xml_escape(provider) + "\">\n";
  for (const auto& d : cfg.local_domains) x += "  <domain>" + xml_escape(d) + "</domain>\n";
  x += "  <displayName>" + xml_escape(cfg.hostname) + "</displayName>\n";
  // Implicit TLS first (RFC 8314 prefers it), then STARTTLS.
  server(x, "incoming", "imap", cfg.hostname, cfg.imaps, "SSL");
  server(x, "incoming", "imap", cfg.hostname, cfg.imap, "STARTTLS");
  server(x, "outgoing", "smtp", cfg.hostname, cfg.smtps, "SSL");
  server(x, "outgoing", "smtp", cfg.hostname, cfg.submission, "STARTTLS");
  x += " </emailProvider>\n</clientConfig>\n";
  return x;
}

}  // namespace refmail::web
