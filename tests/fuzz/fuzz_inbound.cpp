// tests/fuzz/fuzz_inbound.cpp — libFuzzer target: the inbound check (trust/inbound.hpp)
// over a fuzz-chosen zone table and message, and the forged-field finder. Input: byte 0
// picks the client address and MAIL FROM, byte 1 the chunk size; then the zone table
// text, a line "%%", and the message. Invariants: nothing crashes, throws or hangs; the
// Authentication-Results text is exactly one header field (its first line names our
// authserv-id, every other line is a continuation, CRLF-ended, no bare CR or LF): a
// sender's d=/s=/From cannot inject a field; claimed_results() gives ordered,
// non-overlapping ranges inside the input, each a whole field starting at a line start.
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"
#include "trust/dns_table.hpp"
#include "trust/inbound.hpp"
#include "mime/headers.hpp"

using namespace refmail::trust;

namespace {

const PublicSuffixList& psl() {
  static const PublicSuffixList p = PublicSuffixList::parse("com\nco.uk\nuk\ntest\n");
  return p;
}

void check_one_field(const std::string& h) {
  FUZZ_CHECK(h.rfind("Authentication-Results: mx.example.test;\r\n", 0) == 0);
  FUZZ_CHECK(h.size() >= 2 && h.compare(h.size() - 2, 2, "\r\n") == 0);
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (h[i] == '\r') FUZZ_CHECK(i + 1 < h.size() && h[i + 1] == '\n');
    if (h[i] == '\n') {
      FUZZ_CHECK(i > 0 && h[i - 1] == '\r');
      FUZZ_CHECK(i + 1 == h.size() || h[i + 1] == '\t' || h[i + 1] == ' ');
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2 || size > 65536) return 0;
  static const char* kIps[] = {"192.0.2.1", "2001:db8::1", "198.51.100.7", "::ffff:192.0.2.3"};
  static const char* kFrom[] = {"alice@example.com", "", "bob@sub.example.co.uk", "x@[192.0.2.1]"};
  const std::string_view all(reinterpret_cast<const char*>(data + 2), size - 2);
  const auto sep = all.find("\n%%\n");
  const std::string_view zone = sep == std::string_view::npos ? std::string_view() : all.substr(0, sep);
  const std::string_view message = sep == std::string_view::npos ? all : all.substr(sep + 4);
  const std::size_t step = 1 + data[1] % 97;

  DnsTable dns{zone};
  InboundFacts f;
  f.authserv_id = "mx.example.test";
  f.client_ip = kIps[data[0] % 4];
  f.mail_from = kFrom[(data[0] >> 2) % 4];
  f.helo = "mail.example.com";
  f.now = 1'700'000'000;
  f.random_percent = data[0] % 100;
  InboundCheck check(dns, psl(), f);
  for (std::size_t i = 0; i < message.size(); i += step) check.feed(message.substr(i, step));
  const auto bodies = refmail::mime::header_field_bodies(message, {"from"});
  const std::vector<std::string_view> from(bodies.begin(), bodies.end());
  const auto v = check.finish(from);
  check_one_field(v.header);
  if (v.dmarc.result == DmarcResult::Pass) FUZZ_CHECK(v.dmarc.disposition == DmarcPolicy::None);

  std::size_t last = 0;
  for (const auto& [b, e] : claimed_results(message, "mx.example.test")) {
    FUZZ_CHECK(b >= last && b < e && e <= message.size());
    FUZZ_CHECK(b == 0 || message[b - 1] == '\n');
    FUZZ_CHECK(message[e - 1] == '\n');
    last = e;
  }
  return 0;
}
