// tests/fuzz/fuzz_mime_records.cpp — libFuzzer target: the stored binary forms read back
// from disk, Skeleton::parse ("RMSK") and Summary::parse ("RMSU"), on arbitrary bytes.
// The first byte picks the parser; the rest is the record, with the right magic and
// version prepended when the low bit of the first byte is set (so the fuzzer spends its
// time past the header). Invariants: parse never crashes or throws; an accepted record
// re-serializes to a form that parses to the same value, and an accepted summary holds
// only valid UTF-8 strings.
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"
#include "mime/charset.hpp"
#include "mime/skeleton.hpp"
#include "mime/summary.hpp"

using namespace refmail::mime;

namespace {

bool summary_strings_valid(const Summary& s) {
  bool ok = is_valid_utf8(s.subject) && is_valid_utf8(s.date_raw) && is_valid_utf8(s.preview);
  for (const auto* list : {&s.from, &s.sender, &s.reply_to, &s.to, &s.cc, &s.bcc})
    for (const Address& a : *list) ok = ok && is_valid_utf8(a.name) && is_valid_utf8(a.email);
  for (const auto* ids : {&s.message_id, &s.in_reply_to, &s.references})
    for (const std::string& id : *ids) ok = ok && is_valid_utf8(id);
  for (const auto* parts : {&s.text_body, &s.html_body, &s.attachments})
    for (const PartSummary& p : *parts)
      for (const std::string* x : {&p.part_path, &p.type, &p.charset, &p.disposition, &p.name,
                                   &p.cid, &p.language, &p.location, &p.blob_id, &p.content})
        ok = ok && is_valid_utf8(*x);
  return ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t ctl = data[0];
  std::string rec;
  const bool summary = ctl & 2;
  if (ctl & 1) {
    // The current magic and version, taken from a serialized empty record.
    const std::string empty = summary ? Summary{}.serialize() : Skeleton{}.serialize();
    rec.assign(empty, 0, 5);
  }
  rec.append(reinterpret_cast<const char*>(data + 1), size - 1);
  if (summary) {
    auto s = Summary::parse(rec);
    if (!s) return 0;
    FUZZ_CHECK(summary_strings_valid(*s));
    auto again = Summary::parse(s->serialize());
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(*again == *s);
  } else {
    auto k = Skeleton::parse(rec);
    if (!k) return 0;
    auto again = Skeleton::parse(k->serialize());
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(*again == *k);
    (void)k->joined_size();
    (void)k->blob_ids();
  }
  return 0;
}
