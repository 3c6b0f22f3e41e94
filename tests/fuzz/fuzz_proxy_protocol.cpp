// tests/fuzz/fuzz_proxy_protocol.cpp — libFuzzer target: the PROXY protocol v2 header
// (net/proxy_protocol.hpp) and the X-Forwarded-For walk (net/forwarded.hpp) on
// arbitrary bytes. Inputs that start with "\r\n\r\n" get the rest of the v2 signature
// spliced in so the fuzzer spends its time past it. Invariants: nothing crashes or
// throws; header_size() is within [16, 16 + kMaxBlockBytes]; parse() of exactly that
// many bytes agrees with header_size() on the prefix; an accepted PROXY header with a
// source has a destination (their families may differ: an IPv4-mapped IPv6 address is
// made IPv4, as the budgets key on it); the X-Forwarded-For result is one of
// the elements' addresses (its text appears in the input once made canonical).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_check.hpp"
#include "net/forwarded.hpp"
#include "net/proxy_protocol.hpp"

using namespace refmail::net;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> in(data, data + size);
  static constexpr std::uint8_t kSig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
  if (in.size() >= 4 && in[0] == 0x0D && in[1] == 0x0A && in[2] == 0x0D && in[3] == 0x0A) {
    in.insert(in.begin() + 4, kSig + 4, kSig + 12);
  }
  if (in.size() >= proxy::kPrefixBytes) {
    auto n = proxy::header_size(std::span(in.data(), proxy::kPrefixBytes));
    if (n) {
      FUZZ_CHECK(*n >= proxy::kPrefixBytes && *n <= proxy::kPrefixBytes + proxy::kMaxBlockBytes);
      if (in.size() >= *n) {
        auto h = proxy::parse(std::span(in.data(), *n));
        if (h && h->source) {
          FUZZ_CHECK(h->command == proxy::Command::Proxy);
          FUZZ_CHECK(h->destination.has_value());
          FUZZ_CHECK(!h->source->to_string().empty());
        }
      }
    } else {
      FUZZ_CHECK(!proxy::parse(std::span(in.data(), in.size())));
    }
  }
  // The same bytes as X-Forwarded-For values, split at NUL into several fields.
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> values;
  std::string_view rest = text;
  while (true) {
    auto nul = rest.find('\0');
    values.push_back(rest.substr(0, nul));
    if (nul == std::string_view::npos) break;
    rest.remove_prefix(nul + 1);
  }
  auto trusted = NetworkSet::from_strings({"10.0.0.0/8", "127.0.0.1", "fd00::/8"});
  if (auto client = forwarded_client(values, trusted)) {
    FUZZ_CHECK(!client->to_string().empty());
    FUZZ_CHECK(IpAddress::parse(client->to_string()) == client);
  }
  (void)forwarded_https(values);
  return 0;
}
