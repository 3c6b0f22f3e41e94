// tests/fuzz/fuzz_imap_client.cpp — libFuzzer target: arbitrary bytes as an IMAP server's
// responses -> the import's sans-I/O parser (imap/client.cpp, the refmail_imap library;
// it needs no Asio or RocksDB). The first byte picks the limits and the chunking seed.
// Invariants (abort on violation): no crash or throw; the same stream fed whole or in
// pseudo-random chunks gives the same responses; the buffer stays bounded; after an
// error every call repeats it. Also fed: INTERNALDATE, flags and the argument quoting.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_check.hpp"
#include "imap/client.hpp"

using namespace refmail::imap;

namespace {

std::string render(const Response& r) {
  std::string o = std::to_string(static_cast<int>(r.kind)) + "|" + r.tag + "|" + r.status + "|" +
                  r.code + "|" + r.text + "|" + (r.number ? std::to_string(*r.number) : "-") + "|" +
                  r.keyword + "|";
  for (auto n : r.numbers) o += std::to_string(n) + ",";
  o += "|";
  for (const auto& a : r.atoms) o += a + ",";
  if (r.fetch) {
    const FetchData& f = *r.fetch;
    o += "|F" + std::to_string(f.seq) + "/" + (f.uid ? std::to_string(*f.uid) : "-") + "/" +
         f.internal_date.value_or("-") + "/" + (f.rfc822_size ? std::to_string(*f.rfc822_size) : "-") +
         "/" + (f.body ? *f.body : "-") + "/" + std::to_string(f.body_too_large) + "/" +
         std::to_string(f.body_size);
    if (f.flags) {
      for (const auto& x : *f.flags) o += "/" + x;
      (void)flags_to_keywords(*f.flags);
    }
    if (f.internal_date) (void)parse_internal_date(*f.internal_date);
  }
  (void)r.code_number("UIDVALIDITY");
  return o;
}

struct Run {
  std::vector<std::string> responses;
  bool failed = false;
};

Run run(std::string_view in, const Limits& lim, std::uint64_t seed, bool chunked) {
  Parser p(lim);
  Run out;
  std::size_t i = 0;
  while (i < in.size() && !out.failed) {
    std::size_t n = in.size() - i;
    if (chunked) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      n = std::min<std::size_t>(n, 1 + (seed >> 33) % 61);
    }
    p.feed(in.substr(i, n));
    i += n;
    for (;;) {
      auto r = p.next();
      if (!r) {
        out.failed = true;
        auto again = p.next();
        FUZZ_CHECK(!again && again.error() == r.error());
        break;
      }
      if (!*r) break;
      out.responses.push_back(render(**r));
    }
    // Buffered text is bounded by the line limit plus a kept literal plus one chunk.
    if (!out.failed) FUZZ_CHECK(p.buffered() <= 2 * lim.max_line_bytes + lim.max_literal_bytes + n + 64);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t ctl = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  Limits lim;
  lim.max_line_bytes = 64 + (ctl & 0x0f) * 64;
  lim.max_literal_bytes = (ctl & 0x30) * 8;
  lim.max_response_items = 4 + (ctl >> 6) * 50;

  const Run whole = run(in, lim, 0, false);
  const Run chunked = run(in, lim, ctl + 1u, true);
  if (!whole.failed && !chunked.failed) FUZZ_CHECK(whole.responses == chunked.responses);

  // The helpers that take server- or user-supplied text.
  const std::string_view head = in.substr(0, std::min<std::size_t>(in.size(), 64));
  (void)parse_internal_date(head);
  (void)quote(head);
  (void)mailbox_arg(head);
  return 0;
}
