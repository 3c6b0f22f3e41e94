// tests/fuzz/fuzz_sendmail_args.cpp — libFuzzer target: refmail-sendmail's command line
// (tools/sendmail/args.cpp, pure, compiled in here). The input is NUL-separated words;
// the first byte picks argv[0] ("sendmail", "refmail-sendmail", a path). Invariants:
// no crash or throw; a failure carries a non-zero exit code and a one-line message; a
// parsed port is never 0.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_check.hpp"
#include "tools/sendmail/args.hpp"

using namespace refmail::sendmail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static constexpr std::string_view kPrograms[] = {"sendmail", "refmail-sendmail",
                                                   "/usr/sbin/sendmail", "/opt/x/refmail-sendmail"};
  const std::string_view program = kPrograms[data[0] % 4];
  std::vector<std::string> args;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  while (!rest.empty() && args.size() < 64) {
    const std::size_t z = rest.find('\0');
    args.emplace_back(rest.substr(0, z));
    if (z == std::string_view::npos) break;
    rest.remove_prefix(z + 1);
  }
  auto r = parse_args(program, args);
  if (!r) {
    FUZZ_CHECK(r.error().exit_code != 0);
    FUZZ_CHECK(one_line(r.error().message).size() <= r.error().message.size());
    return 0;
  }
  if (r->mode == Mode::AccountSet && r->account.port) FUZZ_CHECK(*r->account.port != 0);
  return 0;
}
