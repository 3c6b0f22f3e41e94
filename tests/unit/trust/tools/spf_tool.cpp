// tests/unit/trust/tools/spf_tool.cpp — refmail_spf_tool: trust/spf over a zone table
// file (trust/dns_table.hpp format), for comparing with another implementation
// (tests/unit/trust/test_spf_pyspf.py runs pyspf on the same table).
//   refmail_spf_tool ZONE IP SENDER HELO      one check, one line out
//   refmail_spf_tool ZONE < cases             "IP SENDER HELO" per line ("-" = empty sender)
//   ZONE = "dns:HOST:PORT" asks that DNS server through server::AresDnsLookup (c-ares)
//   instead of a table (tests/unit/trust/test_spf_nsd.py runs nsd for it).
// Each answer is "<result>\t<mechanism>\t<explanation>" on its own line. Every check
// gets a fresh table, so the query log and counters never leak between cases.
// Exit status 2 on a usage error or an unreadable zone file.
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

#include "server/dns_lookup.hpp"
#include "trust/dns_table.hpp"
#include "trust/spf.hpp"

namespace {

std::string g_server;  // "HOST:PORT" for c-ares, or empty for the table

void check(const std::string& zone, const std::string& ip, std::string sender, const std::string& helo) {
  if (sender == "-") sender.clear();
  refmail::trust::DnsTable table(zone);
  refmail::server::DnsOptions o;
  o.servers = {g_server};
  o.timeout = std::chrono::milliseconds(1000);
  refmail::server::AresDnsLookup resolver(o);
  refmail::trust::DnsLookup& dns = g_server.empty() ? static_cast<refmail::trust::DnsLookup&>(table) : resolver;
  refmail::trust::SpfOptions opt;
  opt.receiver = "receiver.test";
  opt.now = 1700000000;
  auto v = refmail::trust::check_mail_from(ip, sender, helo, dns, opt);
  std::cout << refmail::trust::to_string(v.result) << '\t' << v.mechanism << '\t' << v.explanation << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 5) {
    std::cerr << "usage: refmail_spf_tool ZONE [IP SENDER HELO]\n";
    return 2;
  }
  std::string zone;
  if (std::string_view(argv[1]).substr(0, 4) == "dns:") {
    g_server = argv[1] + 4;
  } else {
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
      std::cerr << "cannot read " << argv[1] << '\n';
      return 2;
    }
    std::stringstream buf;
    buf << in.rdbuf();
    zone = buf.str();
  }
  if (argc == 5) {
    check(zone, argv[2], argv[3], argv[4]);
    return 0;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string ip, sender, helo;
    if (!(words >> ip >> sender >> helo)) {
      std::cout << "usage-error\t\t\n";
      continue;
    }
    check(zone, ip, sender, helo);
  }
  return 0;
}
