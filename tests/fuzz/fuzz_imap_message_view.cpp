// tests/fuzz/fuzz_imap_message_view.cpp — libFuzzer target: arbitrary bytes -> split ->
// IMAP message view (imap/message_view.hpp). The first input byte picks the cut
// threshold; the rest is the message. Checked (abort on violation): for every part the
// scanner finds in the ORIGINAL bytes, BODY[n] and BODY[n.MIME] read through RangeSource
// are the original's slices; BODY[], HEADER, TEXT likewise; BODY and BODYSTRUCTURE of the
// skeleton equal those of the uncut message, as ENVELOPE does; a random range equals the
// original's. Then the skeleton's cuts are damaged from the input's bytes and every
// function must still return (an error or a bounded answer).
// Seed with ../shared/corpus; run: fuzz_imap_message_view -max_total_time=30 CORPUS_DIR
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "imap/message_view.hpp"
#include "mime/errc.hpp"
#include "mime/memory_blobs.hpp"
#include "mime/scanner.hpp"
#include "mime/splitter.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace refmail;

namespace {

using mime::MemoryBlobs;

std::vector<std::uint32_t> numbers(std::string_view path) {
  std::vector<std::uint32_t> out;
  std::uint32_t n = 0;
  for (char c : path) {
    if (c == '.') {
      out.push_back(n);
      n = 0;
    } else {
      n = n * 10 + static_cast<std::uint32_t>(c - '0');
    }
  }
  if (!path.empty()) out.push_back(n);
  return out;
}

// The bytes of a located section, read through RangeSource; nullopt if a read failed.
std::optional<std::string> read(const std::shared_ptr<const mime::Skeleton>& skel, mime::BlobSource& blobs,
                                const imap::SectionBytes& b) {
  if (b.synthesized) return *b.synthesized;
  imap::RangeSource src(skel, blobs, b.offset, b.size);
  std::string out, buf(4096, '\0');
  while (true) {
    auto r = src.read(std::span<char>(buf.data(), buf.size()));
    if (!r) return std::nullopt;
    if (*r == 0) break;
    out.append(buf.data(), *r);
    if (out.size() > src.size()) return std::nullopt;
  }
  return out;
}

std::string slice(std::string_view m, const mime::ByteRange& r) { return std::string(m.substr(r.begin, r.size())); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Each call scans the skeleton: bound the input and the parts checked so that an input
  // costs milliseconds (the view's cost per call is the skeleton's size, by design).
  if (size < 1 || size > (64u << 10)) return 0;
  const std::string_view m(reinterpret_cast<const char*>(data) + 1, size - 1);
  MemoryBlobs blobs;
  mime::SplitParams sp;
  sp.min_cut_bytes = 16 + data[0] * 16;
  auto split = mime::split_message(m, blobs, sp);
  FUZZ_CHECK(split.has_value());
  auto skel = std::make_shared<const mime::Skeleton>(std::move(*split));
  const mime::Skeleton uncut{std::string(m), {}};

  auto whole = imap::locate_section(*skel, imap::Section{});
  FUZZ_CHECK(whole && read(skel, blobs, *whole) == std::string(m));
  const std::vector<mime::Part> orig = mime::scan_message(m);
  FUZZ_CHECK(!orig.empty());
  auto header = imap::locate_section(*skel, imap::Section{{}, imap::Section::Text::Header, {}});
  FUZZ_CHECK(header && read(skel, blobs, *header) == slice(m, {0, orig[0].header.end}));
  std::map<std::string, bool> seen;
  for (const mime::Part& p : orig) {
    if (p.path.empty() || seen.count(p.path) || seen.size() >= 64) continue;
    seen[p.path] = true;
    auto body = imap::locate_section(*skel, imap::Section{numbers(p.path), imap::Section::Text::None, {}});
    FUZZ_CHECK(body && read(skel, blobs, *body) == slice(m, p.body));
    auto mime_header = imap::locate_section(*skel, imap::Section{numbers(p.path), imap::Section::Text::Mime, {}});
    FUZZ_CHECK(mime_header && read(skel, blobs, *mime_header) == slice(m, p.header));
  }
  for (bool ext : {true, false}) {
    auto a = imap::body_structure(*skel, ext, &blobs);
    auto b = imap::body_structure(uncut, ext);
    FUZZ_CHECK(a && b && *a == *b);
  }
  FUZZ_CHECK(imap::envelope(*skel) == imap::envelope(uncut));
  if (!m.empty()) {
    const std::uint64_t off = (data[0] * 7919u) % m.size();
    auto part = imap::apply_partial(*whole, {static_cast<std::uint32_t>(off), 1 + data[0] * 13u});
    FUZZ_CHECK(read(skel, blobs, part) == std::string(m.substr(off, 1 + data[0] * 13u)));
  }

  // Damaged cuts: answers or errors, never a crash, a hang or an unbounded answer.
  if (skel->cuts.empty()) return 0;
  mime::Skeleton bad = *skel;
  for (std::size_t i = 0; i < bad.cuts.size() && i + 1 < size; ++i) {
    mime::Cut& c = bad.cuts[i];
    switch (data[i + 1] % 5) {
      case 0: c.offset ^= data[i + 1]; break;
      case 1: c.encoded_size += data[i + 1]; break;
      case 2: c.decoded_size ^= data[i + 1]; break;
      case 3: c.line_length = data[i + 1]; break;
      default: c.encoding = static_cast<mime::CutEncoding>(data[i + 1] % 3); break;
    }
  }
  const std::size_t bound = 16 * (bad.bytes.size() + 256);
  for (bool ext : {true, false})
    if (auto r = imap::body_structure(bad, ext, &blobs)) FUZZ_CHECK(r->size() <= bound);
  FUZZ_CHECK(imap::envelope(bad).size() <= bound);
  auto shared = std::make_shared<const mime::Skeleton>(bad);
  for (const auto& [path, _] : seen) {
    if (auto r = imap::locate_section(bad, imap::Section{numbers(path), imap::Section::Text::None, {}}))
      (void)read(shared, blobs, *r);
    (void)imap::locate_binary(bad, numbers(path), &blobs);
  }
  return 0;
}
