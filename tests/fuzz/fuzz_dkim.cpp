// tests/fuzz/fuzz_dkim.cpp — DKIM verification of arbitrary messages (trust/dkim.hpp).
// Input: a key record, a NUL byte, then the message. Every key query is answered with
// that record (its first byte picks found / nxdomain / temperror), so signature parsing,
// key parsing, canonicalization and the crypto calls all see hostile bytes. Invariants:
// one result per DKIM-Signature field, at most kMaxSignaturesVerified evaluated; the
// verdict does not depend on how the message is chunked; and a message signed here with
// a fixed Ed25519 key verifies (sign -> verify round trip on any input).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"
#include "trust/dkim.hpp"

using namespace refmail::trust::dkim;

namespace {

constexpr std::int64_t kNow = 1'700'000'000;

class FuzzLookup final : public KeyLookup {
 public:
  std::string record;
  KeyAnswer::Status status = KeyAnswer::Status::Found;
  KeyAnswer txt(std::string_view) override {
    KeyAnswer a;
    a.status = status;
    if (status == KeyAnswer::Status::Found) a.records = {record};
    return a;
  }
};

const std::shared_ptr<const PrivateKey>& fixed_key() {
  static const std::shared_ptr<const PrivateKey> k = [] {
    std::uint8_t seed[32];
    for (int i = 0; i < 32; ++i) seed[i] = static_cast<std::uint8_t>(i * 7 + 1);
    auto r = PrivateKey::from_ed25519_seed(seed);
    FUZZ_CHECK(r.has_value());
    return std::make_shared<const PrivateKey>(std::move(*r));
  }();
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = in.find('\0');
  const std::string_view record = nul == std::string_view::npos ? std::string_view() : in.substr(0, nul);
  const std::string_view message = nul == std::string_view::npos ? in : in.substr(nul + 1);

  FuzzLookup keys;
  keys.record = std::string(record);
  if (!record.empty()) {
    const unsigned pick = static_cast<unsigned char>(record.front()) % 8;
    if (pick == 1) keys.status = KeyAnswer::Status::NxDomain;
    if (pick == 2) keys.status = KeyAnswer::Status::TempError;
  }
  auto whole = verify(message, keys, kNow);
  std::size_t evaluated = 0;
  for (const auto& r : whole)
    if (r.status != Status::None) ++evaluated;
  FUZZ_CHECK(evaluated <= kMaxSignaturesVerified);

  // Chunked at a size picked from the input: the same verdicts.
  const std::size_t chunk = 1 + size % 7;
  Verifier v(keys, kNow);
  for (std::size_t i = 0; i < message.size(); i += chunk) v.feed(message.substr(i, chunk));
  auto chunked = v.finish();
  FUZZ_CHECK(chunked.size() == whole.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    FUZZ_CHECK(chunked[i].status == whole[i].status);
    FUZZ_CHECK(chunked[i].reason == whole[i].reason);
  }

  // Sign -> verify. Excluded: a message starting with WSP (its first line would continue
  // the prepended field) and one whose header block is cut (signing refuses it).
  if (!message.empty() && (message.front() == ' ' || message.front() == '\t')) return 0;
  SignerConfig c;
  c.domain = "example.com";
  c.selector = "fuzz";
  c.header_canon = size % 2 ? Canon::Simple : Canon::Relaxed;
  c.body_canon = size % 3 ? Canon::Relaxed : Canon::Simple;
  auto field = sign(message, c, fixed_key(), kNow);
  if (!field) return 0;
  FuzzLookup good;
  good.record = fixed_key()->dns_record();
  const std::string signed_message = *field + std::string(message);
  auto r = verify(signed_message, good, kNow);
  FUZZ_CHECK(!r.empty());
  FUZZ_CHECK(r.front().status == Status::Pass);
  return 0;
}
