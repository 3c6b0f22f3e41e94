// tools/refmailctl/dkim.cpp — `refmailctl dkim ...` (see dkim.hpp).
#include "tools/refmailctl/dkim.hpp"

#include <sysexits.h>

#include <ctime>

#include <boost/json.hpp>

#include "config/mta_sts.hpp"
#include "delivery/dkim_signing.hpp"

namespace refmail::tools {

namespace {

// A TXT record in zone-file form, in character-strings of at most 255 octets.
std::string zone_line(const delivery::DkimKeyInfo& k) {
  std::string line = k.dns_name + ". 3600 IN TXT (";
  for (std::size_t i = 0; i < k.dns_record.size(); i += 255) line += " \"" + k.dns_record.substr(i, 255) + "\"";
  return line + " )";
}

void print(const std::vector<delivery::DkimKeyInfo>& keys, bool json, bool records, std::ostream& out) {
  if (json) {
    boost::json::array a;
    for (const auto& k : keys) {
      a.push_back(boost::json::object{{"domain", k.domain},       {"selector", k.selector},
                                      {"algorithm", k.algorithm}, {"bits", k.bits},
                                      {"signing", k.signing},     {"dns_name", k.dns_name},
                                      {"dns_record", k.dns_record}});
    }
    out << boost::json::serialize(boost::json::object{{"keys", a}}) << "\n";
    return;
  }
  for (const auto& k : keys) {
    if (records) {
      out << "; " << k.algorithm << (k.signing ? ", signing" : ", retired: keep published until mail signed with it "
                                                               "has been delivered, then remove")
          << "\n" << zone_line(k) << "\n";
    } else {
      out << k.domain << " " << k.selector << " " << k.algorithm << " " << k.bits << " "
          << (k.signing ? "signing" : "retired") << "\n";
    }
  }
}

}  // namespace

int dns_command(const config::Config& cfg, const std::string& domain_in, std::ostream& out, std::ostream& err) {
  std::string domain = domain_in;
  for (auto& c : domain) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!domain.empty() && domain.back() == '.') domain.pop_back();
  if (domain.empty() || domain.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos) {
    err << "refmailctl: not a domain name: " << domain_in << "\n";
    return EX_USAGE;
  }
  const std::string host = cfg.hostname + ".";
  const std::string d = domain + ".";
  out << "; DNS records for " << domain << ", mail served by " << cfg.hostname << " (refmail)\n";
  if (cfg.hostname == "localhost" || cfg.hostname.find('.') == std::string::npos) {
    out << "; WARNING: hostname = \"" << cfg.hostname << "\" in the configuration: set the server's public name\n";
  }
  out << d << " 3600 IN MX 10 " << host << "\n";
  out << "; SPF: the hosts of the MX records may send for " << domain << "\n";
  out << d << " 3600 IN TXT \"v=spf1 mx -all\"\n";
  delivery::DkimKeyring ring(cfg.data_dir + "/dkim");
  std::string why;
  auto keys = ring.list(domain, why);
  if (keys.empty()) {
    out << "; DKIM: no keys yet; `refmailctl dkim keygen " << domain << "` makes them\n";
  } else {
    out << "; DKIM (refmailctl dkim show " << domain << ")\n";
    for (const auto& k : keys) out << zone_line(k) << (k.signing ? "" : "  ; retired") << "\n";
  }
  out << "; DMARC: start with p=none, read the reports, then quarantine or reject\n";
  out << "_dmarc." << d << " 3600 IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@" << domain << "\"\n";
  out << "; TLS reporting (RFC 8460): daily reports on TLS to this MX, to postmaster\n";
  out << "_smtp._tls." << d << " 3600 IN TXT \"v=TLSRPTv1; rua=mailto:postmaster@" << domain << "\"\n";
  out << "; mail clients (RFC 6186, RFC 8314), for the ports configured in [listen]\n";
  auto srv = [&](const char* name, const config::Endpoint& ep, int prio) {
    if (ep.enabled()) out << name << "._tcp." << d << " 3600 IN SRV " << prio << " 1 " << ep.port << " " << host << "\n";
  };
  srv("_imaps", cfg.imaps, 0);
  srv("_imap", cfg.imap, 10);
  srv("_submissions", cfg.smtps, 0);
  srv("_submission", cfg.submission, 10);
  out << "; Thunderbird-style autoconfig is served at /.well-known/autoconfig/mail/config-v1.1.xml on the\n"
         "; HTTP listener; point autoconfig." << domain << " at the host that serves it on port 80/443.\n";
  if (const auto policy = config::mta_sts_policy(cfg); !policy.empty()) {
    out << "; MTA-STS (RFC 8461): refmail serves the policy at /.well-known/mta-sts.txt on its HTTP listener;\n"
           "; senders fetch https://mta-sts." << domain << "/.well-known/mta-sts.txt: point that name at an HTTPS\n"
           "; front (a certificate valid for it) that passes the path to refmail\n";
    out << "_mta-sts." << d << " 3600 IN TXT \"v=STSv1; id=" << config::mta_sts_id(cfg) << "\"\n";
  } else {
    out << "; MTA-STS: not published ([auth] mta_sts_mode = \"none\")\n";
  }
  return 0;
}

int dkim_command(const std::string& data_dir, const DkimArgs& a, std::ostream& out, std::ostream& err) {
  delivery::DkimKeyring ring(data_dir + "/dkim");
  std::string why;
  if (a.sub == "keygen" || a.sub == "rotate") {
    auto existing = ring.list(a.domain, why);
    bool signing = false;
    for (const auto& k : existing) signing = signing || k.signing;
    if (a.sub == "keygen" && signing) {
      err << "refmailctl: " << a.domain << " already has signing keys; `refmailctl dkim rotate " << a.domain
          << "` makes new ones\n";
      return EX_USAGE;
    }
    if (a.sub == "rotate" && !signing) {
      err << "refmailctl: " << a.domain << " has no signing keys; `refmailctl dkim keygen " << a.domain << "` first\n";
      return EX_USAGE;
    }
    auto made = ring.generate(a.domain, a.bits, std::time(nullptr), why);
    if (!made) {
      err << "refmailctl: " << why << "\n";
      return EX_SOFTWARE;
    }
    if (!a.json) {
      out << "; publish these TXT records; mail from " << a.domain << " is signed with them from now on\n";
    }
    print(*made, a.json, true, out);
    if (!a.json && a.sub == "rotate") {
      out << "; the previous keys are retired (no longer signing) and still listed by `refmailctl dkim show`\n";
    }
    return 0;
  }
  if (a.sub == "list" || a.sub == "show") {
    auto keys = ring.list(a.domain, why);
    if (!why.empty()) {
      err << "refmailctl: " << why << "\n";
      return EX_SOFTWARE;
    }
    if (a.sub == "show" && keys.empty()) {
      err << "refmailctl: no DKIM keys for " << a.domain << "\n";
      return EX_DATAERR;
    }
    print(keys, a.json, a.sub == "show", out);
    return 0;
  }
  if (a.sub == "remove") {
    if (!ring.remove(a.domain, a.selector, why)) {
      err << "refmailctl: " << why << "\n";
      return EX_DATAERR;
    }
    out << "removed " << a.selector << "._domainkey." << a.domain << "\n";
    return 0;
  }
  return EX_USAGE;
}

}  // namespace refmail::tools
