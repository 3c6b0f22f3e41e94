// tools/bench/imap_view.cpp — refmail-bench-imap_view: the IMAP message view on a message
// with an 11 MB attachment (base64, 76 columns, CRLF) cut to a blob: BODYSTRUCTURE,
// locate_section(BODY[1]) (where the text part lies), BODY[1] read through RangeSource,
// and BODY[2] (the attachment's 15 MB of base64) streamed from the in-memory blob.
// A benchmark measures; it asserts nothing about time.
#include <benchmark/benchmark.h>

#include <cstring>
#include <map>
#include <random>
#include <string>

#include "imap/message_view.hpp"
#include "mime/codec.hpp"
#include "mime/memory_blobs.hpp"
#include "mime/errc.hpp"
#include "mime/splitter.hpp"

namespace {

using namespace refmail;

using Blobs = mime::MemoryBlobs;

struct Fixture {
  Blobs blobs;
  std::shared_ptr<const mime::Skeleton> skel;
  std::uint64_t message_bytes = 0;
  Fixture() {
    std::string data(11u << 20, '\0');
    std::mt19937 rng(1);
    for (char& c : data) c = static_cast<char>(rng());
    std::string text;
    for (int i = 0; i < 200; ++i) text += "A line of the letter that comes with the attachment, number " + std::to_string(i) + ".\r\n";
    const std::string m = "From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: the file\r\n"
                          "Date: Mon, 7 Dec 2026 03:00:00 +0000\r\nMessage-ID: <big@example.test>\r\nMIME-Version: 1.0\r\n"
                          "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
                          text + "\r\n--b\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\n"
                          "Content-Disposition: attachment; filename=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                          mime::base64_encode(data) + "--b--\r\n";
    message_bytes = m.size();
    auto r = mime::split_message(m, blobs);
    skel = std::make_shared<const mime::Skeleton>(std::move(r.value()));
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_BodyStructure(benchmark::State& state) {
  Fixture& f = fixture();
  for (auto _ : state) benchmark::DoNotOptimize(imap::body_structure(*f.skel, true));
  state.counters["message_bytes"] = static_cast<double>(f.message_bytes);
  state.counters["skeleton_bytes"] = static_cast<double>(f.skel->bytes.size());
}
BENCHMARK(BM_BodyStructure);

void BM_BodyStructureAndLocateBody1(benchmark::State& state) {
  Fixture& f = fixture();
  const imap::Section s{{1}, imap::Section::Text::None, {}};
  for (auto _ : state) {
    benchmark::DoNotOptimize(imap::body_structure(*f.skel, true));
    benchmark::DoNotOptimize(imap::locate_section(*f.skel, s));
  }
}
BENCHMARK(BM_BodyStructureAndLocateBody1);

void read_section(benchmark::State& state, std::uint32_t part) {
  Fixture& f = fixture();
  const auto where = imap::locate_section(*f.skel, imap::Section{{part}, imap::Section::Text::None, {}}).value();
  std::string buf(64 * 1024, '\0');
  for (auto _ : state) {
    imap::RangeSource src(f.skel, f.blobs, where.offset, where.size);
    std::uint64_t got = 0;
    while (true) {
      auto r = src.read(std::span<char>(buf.data(), buf.size()));
      if (!r || *r == 0) break;
      got += *r;
    }
    if (got != where.size) {
      state.SkipWithError("short read");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * where.size));
  state.counters["section_bytes"] = static_cast<double>(where.size);
}
void BM_ReadBody1(benchmark::State& state) { read_section(state, 1); }
void BM_ReadBody2(benchmark::State& state) { read_section(state, 2); }
BENCHMARK(BM_ReadBody1);
BENCHMARK(BM_ReadBody2)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
