// tools/bench/dkim.cpp — what DKIM signing and inbound verification cost (issue 18):
// CPU per message of a dual signature (RSA-2048 + Ed25519) at submission, of the full
// inbound check (SPF, DKIM, DMARC; DNS answered from memory, so only our CPU counts),
// and the body hash's MB/s over a 40 MB message.
//   build/tools/refmail-bench-dkim --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <random>

#include "trust/dkim.hpp"
#include "trust/dns_table.hpp"
#include "trust/inbound.hpp"

namespace dk = refmail::trust::dkim;
using namespace refmail::trust;

namespace {

constexpr std::int64_t kNow = 1'760'000'000;

// A 20 KB message like the workload's: headers, a text body, a base64 attachment.
std::string message(std::size_t body_bytes) {
  std::mt19937 rng(7);
  std::string m =
      "From: Alice <alice@sender.test>\r\nTo: bob@example.test\r\nSubject: quarterly figures\r\n"
      "Date: Thu, 09 Oct 2025 08:53:20 +0000\r\nMessage-ID: <1@sender.test>\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
      "--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t col = 0;
  while (m.size() < body_bytes) {
    m += b64[rng() % 64];
    if (++col == 76) {
      m += "\r\n";
      col = 0;
    }
  }
  return m + "\r\n--b--\r\n";
}

struct Keys {
  std::shared_ptr<const dk::PrivateKey> rsa = std::make_shared<const dk::PrivateKey>(*dk::generate_rsa_key(2048));
  std::shared_ptr<const dk::PrivateKey> ed = std::make_shared<const dk::PrivateKey>(*dk::generate_ed25519_key());
  std::vector<dk::SignRequest> requests() const {
    dk::SignRequest r, e;
    r.config.domain = e.config.domain = "sender.test";
    r.config.selector = "r1";
    e.config.selector = "e1";
    r.key = rsa;
    e.key = ed;
    return {r, e};
  }
};

const Keys& keys() {
  static const Keys k;
  return k;
}

void BM_SignDual(benchmark::State& state) {
  const auto m = message(20 * 1024);
  for (auto _ : state) {
    dk::Signer s(keys().requests());
    s.feed(m);
    auto r = s.finish(kNow);
    if (!r || r->size() != 2) state.SkipWithError("signing failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * m.size()));
}
BENCHMARK(BM_SignDual)->Unit(benchmark::kMillisecond);

// The full inbound check of one dual-signed message: SPF (one TXT), two DKIM keys, DMARC.
void BM_InboundCheck(benchmark::State& state) {
  const auto body = message(20 * 1024);
  dk::Signer s(keys().requests());
  s.feed(body);
  auto sigs = s.finish(kNow);
  std::string m;
  for (const auto& f : *sigs) m += f;
  m += body;
  DnsTable dns;
  dns.add("sender.test", "TXT", "v=spf1 ip4:192.0.2.0/24 -all");
  dns.add("r1._domainkey.sender.test", "TXT", keys().rsa->dns_record());
  dns.add("e1._domainkey.sender.test", "TXT", keys().ed->dns_record());
  dns.add("_dmarc.sender.test", "TXT", "v=DMARC1; p=reject");
  const auto psl = PublicSuffixList::parse("test\n");
  const std::vector<std::string_view> from{" Alice <alice@sender.test>"};
  for (auto _ : state) {
    InboundFacts f;
    f.authserv_id = "mx.example.test";
    f.client_ip = "192.0.2.1";
    f.helo = "out.sender.test";
    f.mail_from = "alice@sender.test";
    f.now = kNow;
    InboundCheck c(dns, psl, f);
    c.feed(m);
    auto v = c.finish(from);
    if (v.dmarc.result != DmarcResult::Pass || v.dkim.size() != 2 || v.dkim[0].status != dk::Status::Pass ||
        v.dkim[1].status != dk::Status::Pass)
      state.SkipWithError("verification did not pass");
    benchmark::DoNotOptimize(v);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * m.size()));
}
BENCHMARK(BM_InboundCheck)->Unit(benchmark::kMillisecond);

// The body hash alone, relaxed and simple, over a 40 MB message fed in 64 KiB pieces.
void BM_BodyHash40MB(benchmark::State& state) {
  const auto m = message(40u << 20);
  const auto canon = state.range(0) == 0 ? dk::Canon::Simple : dk::Canon::Relaxed;
  for (auto _ : state) {
    dk::BodyHasher h(canon);
    for (std::size_t i = 0; i < m.size(); i += 64 * 1024) h.update(std::string_view(m).substr(i, 64 * 1024));
    benchmark::DoNotOptimize(h.finish());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * m.size()));
  state.SetLabel(canon == dk::Canon::Simple ? "simple" : "relaxed");
}
BENCHMARK(BM_BodyHash40MB)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
