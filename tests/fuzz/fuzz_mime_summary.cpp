// tests/fuzz/fuzz_mime_summary.cpp — libFuzzer target: arbitrary bytes -> splitter ->
// summarize(). The first byte picks the limits and the cut threshold; the rest is the
// message. Invariants (abort on violation): every string of the summary is valid UTF-8
// (what JMAP emits as JSON), the lists and strings stay within SummaryLimits, and the
// summary survives serialize()/parse() unchanged.
// Seed: tests/fuzz/seeds/fuzz_mime_summary/; run: fuzz_mime_summary -max_total_time=60 DIR
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"
#include "mime/charset.hpp"
#include "mime/splitter.hpp"
#include "mime/summary.hpp"

using namespace refmail::mime;

namespace {

// Keeps no bytes: the summary only needs the blob ids the skeleton names.
class CountingSink final : public BlobSink {
 public:
  void begin() override {}
  void append(std::span<const char>) override {}
  boost::system::result<std::string> commit() override { return "b" + std::to_string(n_++); }
  void discard() override {}

 private:
  int n_ = 0;
};

void check_part(const PartSummary& p, const SummaryLimits& sl) {
  for (const std::string* s : {&p.part_path, &p.type, &p.charset, &p.disposition, &p.name, &p.cid,
                               &p.language, &p.location, &p.blob_id, &p.content})
    FUZZ_CHECK(is_valid_utf8(*s));
  FUZZ_CHECK(p.content.size() <= sl.max_body_bytes);
}

void check_summary(const Summary& s, const SummaryLimits& sl) {
  for (const auto* list : {&s.from, &s.sender, &s.reply_to, &s.to, &s.cc, &s.bcc}) {
    FUZZ_CHECK(list->size() <= sl.max_addresses);
    for (const Address& a : *list) FUZZ_CHECK(is_valid_utf8(a.name) && is_valid_utf8(a.email));
  }
  FUZZ_CHECK(is_valid_utf8(s.subject));
  FUZZ_CHECK(s.subject.size() <= sl.max_header_bytes);
  FUZZ_CHECK(is_valid_utf8(s.date_raw));
  for (const auto* ids : {&s.message_id, &s.in_reply_to, &s.references})
    for (const std::string& id : *ids) FUZZ_CHECK(is_valid_utf8(id));
  std::size_t total = 0;
  for (const auto* parts : {&s.text_body, &s.html_body, &s.attachments}) {
    FUZZ_CHECK(parts->size() <= sl.max_parts);
    for (const PartSummary& p : *parts) {
      check_part(p, sl);
      total += p.content.size();
    }
  }
  FUZZ_CHECK(is_valid_utf8(s.preview));
  FUZZ_CHECK(s.preview.size() <= 4 * sl.max_preview_chars);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t ctl = data[0];
  const std::string_view m(reinterpret_cast<const char*>(data + 1), size - 1);
  SplitParams sp;
  sp.min_cut_bytes = (ctl & 0x80) ? 2048 : (ctl & 0x0f);
  sp.limits.max_depth = 1 + (ctl & 0x30);
  sp.limits.max_parts = 8 + (ctl & 0x3f) * 4;
  sp.limits.max_header_bytes = 4096;
  CountingSink sink;
  Splitter splitter(sp, sink);
  splitter.feed(m);
  auto skel = splitter.finish();
  FUZZ_CHECK(skel.has_value());

  SummaryLimits sl;
  sl.limits = sp.limits;
  if (ctl & 0x40) {  // small limits, so the fuzzer reaches them
    sl.max_body_bytes = 64;
    sl.max_total_body_bytes = 100;
    sl.max_preview_chars = 16;
    sl.max_header_bytes = 32;
    sl.max_addresses = 3;
    sl.max_parts = 4;
  }
  for (std::string_view input : {m, std::string_view(skel->bytes)}) {
    const Summary s = summarize(input, *skel, sl);
    check_summary(s, sl);
    auto back = Summary::parse(s.serialize());
    FUZZ_CHECK(back.has_value());
    FUZZ_CHECK(*back == s);
  }
  return 0;
}
