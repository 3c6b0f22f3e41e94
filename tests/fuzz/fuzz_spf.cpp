// tests/fuzz/fuzz_spf.cpp — libFuzzer target: SPF check_host() and DMARC evaluation
// (trust/spf.hpp, trust/dmarc.hpp) over a fuzz-chosen zone table (trust/dns_table.hpp).
// Input: the first byte picks the client address, the rest is the zone table text
// ("name TYPE value" lines; the seeds hold records for example.com, its includes and
// _dmarc.example.com). Invariants: nothing crashes, throws or hangs; the SPF result
// names its mechanism exactly when a directive or the default decided; only fail has
// an explanation, and it is printable; the DNS questions asked stay within the RFC
// 7208 4.6.4 budget; the header fields stay on one line; a DMARC pass has disposition
// none; an organizational domain is a suffix of its domain; macro expansion of the
// whole text terminates within its cap.
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"
#include "trust/dmarc.hpp"
#include "trust/dns_table.hpp"
#include "trust/public_suffix.hpp"
#include "trust/spf.hpp"

using namespace refmail::trust;

namespace {

bool one_line(const std::string& s) { return s.find('\r') == std::string::npos && s.find('\n') == std::string::npos; }

const PublicSuffixList& psl() {
  static const PublicSuffixList p = PublicSuffixList::parse("com\nco.uk\nuk\n*.ck\n!www.ck\n");
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > 16384) return 0;
  static const char* kIps[] = {"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.3", "198.51.100.7"};
  const char* ip = kIps[data[0] % 4];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  {
    DnsTable dns(text);
    SpfOptions opt;
    opt.now = 1700000000;
    SpfVerdict v = check_mail_from(ip, "user@example.com", "helo.example.com", dns, opt);
    const bool decided = v.result == SpfResult::Pass || v.result == SpfResult::Fail ||
                         v.result == SpfResult::SoftFail || v.result == SpfResult::Neutral;
    FUZZ_CHECK(decided == !v.mechanism.empty());
    FUZZ_CHECK(v.explanation.empty() || v.result == SpfResult::Fail);
    for (char c : v.explanation) FUZZ_CHECK(c >= 0x20 && c <= 0x7E);
    // 1 TXT + 10 terms, each at most 1 + 10 MX hosts + (ptr) 1 + 10 names, + redirect's
    // TXT, + the exp TXT, + %{p} lookups (1 + 10).
    FUZZ_CHECK(dns.queries().size() <= 1 + 10 * 12 + 2 + 11);
    FUZZ_CHECK(one_line(spf_auth_result(v, "user@example.com")));
    FUZZ_CHECK(one_line(received_spf(v, ip, "user@example.com", "helo.example.com", "mx.example.org")));
    DnsTable helo_dns(text);
    SpfVerdict h = check_helo(ip, "helo.example.com", helo_dns, opt);
    FUZZ_CHECK(h.explanation.empty() || h.result == SpfResult::Fail);
  }
  {
    MacroContext ctx;
    ctx.ip = ip;
    ctx.sender = "strong-bad@email.example.com";
    ctx.domain = "email.example.com";
    ctx.helo = "mx.example.org";
    auto e = expand_macros(text.substr(0, 512), ctx, true);
    if (e) FUZZ_CHECK(e->size() <= kMaxExpansion);
  }
  {
    DnsTable dns(text);
    // The From field comes from the first line, so the fuzzer reaches the address parser.
    const std::string_view first = text.substr(0, text.find('\n'));
    DmarcInput in;
    in.from_fields = {first.size() > 3 && first.substr(0, 3) == "F: " ? first.substr(3) : "a@sub.example.com"};
    in.spf = DmarcSpfInput{"example.com", SpfResult::Pass};
    in.dkim = {{"sub.example.com", DmarcAuthResult::Pass}, {"other.example", DmarcAuthResult::Fail}};
    in.random_percent = data[0] % 100;
    DmarcVerdict v = check_dmarc(in, dns, psl());
    if (v.result == DmarcResult::Pass) FUZZ_CHECK(v.disposition == DmarcPolicy::None);
    FUZZ_CHECK(dns.queries().size() <= 3);
    FUZZ_CHECK(one_line(dmarc_auth_result(v)));
    (void)parse_dmarc_record(text);
    if (!v.from_domain.empty()) {
      const std::string org = psl().organizational_domain(v.from_domain);
      FUZZ_CHECK(v.from_domain.size() >= org.size() &&
                 v.from_domain.compare(v.from_domain.size() - org.size(), org.size(), org) == 0);
    }
  }
  return 0;
}
