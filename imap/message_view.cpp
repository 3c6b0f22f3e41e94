// imap/message_view.cpp — the skeleton's layout in the joined message, FETCH sections
// (RFC 9051 6.4.5), BINARY (RFC 3516) and RangeSource (see message_view.hpp).
// Must never: read a blob to place a section, or slice outside the skeleton's bytes.
// SECURITY: cut offsets and sizes come from a stored skeleton that may be corrupt: they
// are checked (ordered, inside the bytes, no overflow) before any arithmetic uses them.
#include "imap/message_view.hpp"

#include <algorithm>

#include "imap/message_view_internal.hpp"
#include "mime/codec.hpp"
#include "mime/errc.hpp"

namespace refmail::imap {

namespace {

class ViewCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "refmail.imap.view"; }
  std::string message(int ev) const override {
    switch (static_cast<view_errc>(ev)) {
      case view_errc::no_such_part: return "no such body part";
      case view_errc::not_a_leaf: return "not a leaf body part";
      case view_errc::unknown_cte: return "unknown content-transfer-encoding";
      case view_errc::needs_blobs: return "blob bytes needed";
    }
    return "unknown message view error";
  }
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto l = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (l(a[i]) != l(b[i])) return false;
  }
  return true;
}

SectionBytes range(const mime::ByteRange& r) { return {r.begin, r.size(), std::nullopt}; }

// HEADER.FIELDS / HEADER.FIELDS.NOT: the chosen fields as sent, then the empty line.
SectionBytes header_fields(const view_detail::Layout& l, std::size_t i, const Section& s) {
  const mime::Part& p = l.parts[i];
  const std::string& bytes = l.scanned;
  std::string out;
  const bool keep_listed = s.text == Section::Text::HeaderFields;
  for (const mime::HeaderField& f : p.fields) {
    bool listed = false;
    for (const std::string& name : s.fields) listed = listed || iequals(name, f.name);
    if (listed != keep_listed) continue;
    if (f.range.begin > f.range.end || f.range.end > bytes.size()) continue;  // not from this scan
    out.append(bytes, f.range.begin, f.range.size());
  }
  // The header's own empty line ("\n" in an LF message), CRLF when it has none.
  const std::string_view h(bytes.data() + p.header.begin, p.header.size());
  const bool lf = !(h == "\r\n" || h.ends_with("\r\n\r\n")) && (h == "\n" || h.ends_with("\n\n"));
  out += lf ? "\n" : "\r\n";
  SectionBytes r;
  r.size = out.size();
  r.synthesized = std::move(out);
  return r;
}

}  // namespace

const boost::system::error_category& view_category() noexcept {
  static const ViewCategory c;
  return c;
}

namespace view_detail {

void write_string(ResponseBuilder& b, std::string_view s, bool utf8) {
  if (s.find('\0') == std::string_view::npos) {
    b.string(s, utf8);
    return;
  }
  std::string copy(s);
  for (char& c : copy)
    if (c == '\0') c = '\x80';
  b.string(copy, utf8);
}

void write_nstring(ResponseBuilder& b, const std::string* s, bool utf8) {
  if (s == nullptr) {
    b.atom("NIL");
    return;
  }
  write_string(b, *s, utf8);
}

std::uint64_t Layout::joined(std::uint64_t y) const {
  // Placeholder k sits at scanned offset cuts[k].offset + k (offsets are ordered).
  const auto& cuts = skel->cuts;
  std::size_t lo = 0, hi = cuts.size();
  while (lo < hi) {  // k = number of placeholders before y
    const std::size_t mid = lo + (hi - lo) / 2;
    if (cuts[mid].offset + mid < y) lo = mid + 1;
    else hi = mid;
  }
  return y - lo + cut_before[lo];
}

mime::ByteRange Layout::header(std::size_t i) const {
  return {joined(parts[i].header.begin), joined(parts[i].header.end)};
}

mime::ByteRange Layout::body(std::size_t i) const {
  const std::uint64_t b = joined(parts[i].body.begin);
  return {b, std::max(b, joined(parts[i].body.end))};
}

std::pair<std::size_t, std::size_t> Layout::cuts_in_body(std::size_t i) const {
  const auto& cuts = skel->cuts;
  auto first_at_or_after = [&](std::uint64_t y) {
    std::size_t lo = 0, hi = cuts.size();
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (cuts[mid].offset + mid < y) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const std::size_t a = first_at_or_after(parts[i].body.begin);
  return {a, std::max(a, first_at_or_after(parts[i].body.end))};
}

std::ptrdiff_t Layout::find(const std::vector<std::uint32_t>& path) const {
  std::string want;
  for (std::uint32_t n : path) {
    if (!want.empty()) want += '.';
    want += std::to_string(n);
  }
  for (const mime::Part& p : parts)
    if (p.path == want) return static_cast<std::ptrdiff_t>(p.index);
  return -1;
}

boost::system::result<Layout> make_layout(const mime::Skeleton& skel, const mime::Limits& limits) {
  Layout l;
  l.skel = &skel;
  l.cut_before.reserve(skel.cuts.size() + 1);
  l.cut_before.push_back(0);
  std::uint64_t prev = 0, sum = 0;
  constexpr std::uint64_t kMaxJoined = std::uint64_t{1} << 48;
  for (const mime::Cut& c : skel.cuts) {
    if (c.offset < prev || c.offset > skel.bytes.size() || c.encoded_size > kMaxJoined - sum)
      return mime::errc::skeleton_corrupt;
    prev = c.offset;
    sum += c.encoded_size;
    l.cut_before.push_back(sum);
  }
  l.total = skel.bytes.size() + sum;
  l.scanned.reserve(skel.bytes.size() + skel.cuts.size());
  std::uint64_t pos = 0;
  for (const mime::Cut& c : skel.cuts) {
    l.scanned.append(skel.bytes, pos, c.offset - pos);
    l.scanned.push_back(kPlaceholder);
    pos = c.offset;
  }
  l.scanned.append(skel.bytes, pos);
  l.parts = mime::scan_message(l.scanned, limits);
  if (l.parts.empty()) return mime::errc::skeleton_corrupt;  // the scanner always reports the top
  return l;
}

namespace {
class TopHeader final : public mime::ScanHandler {
 public:
  std::optional<mime::Part> top;
  void on_part_begin(const mime::Part& p) override {
    if (!top) top = p;
  }
  void on_bytes(std::uint64_t, std::string_view, mime::ByteKind) override {}
  void on_part_end(const mime::Part&) override {}
};
}  // namespace

mime::Part top_header(const mime::Skeleton& skel, const mime::Limits& limits) {
  TopHeader h;
  mime::Scanner scanner(limits, h);
  constexpr std::size_t kChunk = 64 * 1024;
  const std::string_view bytes(skel.bytes);
  std::size_t pos = 0, k = 0;
  while (pos < bytes.size() && !h.top) {
    while (k < skel.cuts.size() && skel.cuts[k].offset < pos) ++k;  // out of order: ignored
    if (k < skel.cuts.size() && skel.cuts[k].offset == pos) {
      scanner.feed(std::string_view(&kPlaceholder, 1));
      ++k;
      continue;
    }
    std::size_t end = std::min(bytes.size(), pos + kChunk);
    if (k < skel.cuts.size() && skel.cuts[k].offset < end) end = static_cast<std::size_t>(skel.cuts[k].offset);
    scanner.feed(bytes.substr(pos, end - pos));
    pos = end;
  }
  if (!h.top) scanner.finish();
  return h.top ? std::move(*h.top) : mime::Part{};
}

}  // namespace view_detail

boost::system::result<SectionBytes> locate_section(const mime::Skeleton& skel, const Section& section,
                                                   const ViewOptions& options) {
  auto layout = view_detail::make_layout(skel, options.limits);
  if (!layout) return layout.error();
  const view_detail::Layout& l = *layout;
  using Text = Section::Text;
  if (section.part.empty()) {
    switch (section.text) {
      case Text::None: return SectionBytes{0, l.total, std::nullopt};
      case Text::Header: return range(l.header(0));
      case Text::Text: {
        const std::uint64_t b = l.header(0).end;
        return SectionBytes{b, l.total - b, std::nullopt};
      }
      case Text::HeaderFields:
      case Text::HeaderFieldsNot: return header_fields(l, 0, section);
      case Text::Mime: return view_errc::no_such_part;  // RFC 9051 6.4.5: MIME needs a part
    }
    return view_errc::no_such_part;
  }
  const std::ptrdiff_t found = l.find(section.part);
  if (found < 0) return view_errc::no_such_part;
  const auto i = static_cast<std::size_t>(found);
  const mime::Part& p = l.parts[i];
  switch (section.text) {
    case Text::None: return range(l.body(i));
    case Text::Mime: return range(l.header(i));
    default: break;
  }
  // HEADER, TEXT, HEADER.FIELDS[.NOT] of a part: of its encapsulated message only.
  if (!p.is_message || p.children.empty()) return view_errc::no_such_part;
  const std::size_t m = p.children.front();
  switch (section.text) {
    case Text::Header: return range(l.header(m));
    case Text::Text: return range(l.body(m));
    default: return header_fields(l, m, section);
  }
}

SectionBytes apply_partial(const SectionBytes& bytes, const Partial& partial) {
  SectionBytes r;
  const std::uint64_t off = std::min<std::uint64_t>(partial.offset, bytes.size);
  const std::uint64_t len = std::min<std::uint64_t>(partial.length, bytes.size - off);
  r.size = len;
  if (bytes.synthesized) {
    r.synthesized = bytes.synthesized->substr(static_cast<std::size_t>(off), static_cast<std::size_t>(len));
  } else {
    r.offset = bytes.offset + off;
  }
  return r;
}

boost::system::result<BinaryBytes> locate_binary(const mime::Skeleton& skel,
                                                 const std::vector<std::uint32_t>& part,
                                                 mime::BlobSource* blobs, const ViewOptions& options) {
  if (part.empty()) return view_errc::not_a_leaf;
  auto layout = view_detail::make_layout(skel, options.limits);
  if (!layout) return layout.error();
  const view_detail::Layout& l = *layout;
  const std::ptrdiff_t found = l.find(part);
  if (found < 0) return view_errc::no_such_part;
  const auto i = static_cast<std::size_t>(found);
  const mime::Part& p = l.parts[i];
  if (!p.is_leaf() || p.is_multipart || p.type == "multipart") return view_errc::not_a_leaf;
  if (p.encoding == mime::TransferEncoding::Unknown) return view_errc::unknown_cte;

  const auto [lo, hi] = l.cuts_in_body(i);
  const std::string_view sbody(l.scanned.data() + p.body.begin, p.body.size());
  if (hi == lo) {  // uncut: decode the skeleton's bytes
    BinaryBytes r;
    switch (p.encoding) {
      case mime::TransferEncoding::Base64: r.decoded = mime::base64_decode(sbody).bytes; break;
      case mime::TransferEncoding::QuotedPrintable: r.decoded = mime::qp_decode(sbody).bytes; break;
      default: r.decoded = std::string(sbody); break;
    }
    r.size = r.decoded->size();
    return r;
  }
  if (hi == lo + 1 && !skel.cuts[lo].partial) {
    const mime::Cut& c = skel.cuts[lo];
    // Base64 cuts may keep blank lines around them as literal text: they decode to nothing.
    // (sbody holds the cut's placeholder and the literal text around it.)
    const bool only_blank = sbody.find_first_not_of(std::string_view(" \t\r\n\x01")) == std::string_view::npos;
    const bool whole = c.encoding == mime::CutEncoding::Base64 ? only_blank : sbody.size() == 1;
    const bool same_cte = (c.encoding == mime::CutEncoding::Base64) == (p.encoding == mime::TransferEncoding::Base64) &&
                          (c.encoding == mime::CutEncoding::QuotedPrintable) ==
                              (p.encoding == mime::TransferEncoding::QuotedPrintable);
    if (whole && same_cte) return BinaryBytes{c.blob_id, c.decoded_size, std::nullopt};
  }
  // A partial cut (or an unusual mix): join the body and decode it as it streams (no
  // allocation from the skeleton's sizes: a corrupt size ends in blob_short).
  if (blobs == nullptr) return view_errc::needs_blobs;
  const mime::ByteRange b = l.body(i);
  mime::Joiner j(skel, *blobs);
  if (auto s = j.seek(b.begin, b.size()); !s) return s.error();
  std::optional<mime::Base64Decoder> b64;
  std::optional<mime::QpDecoder> qp;
  if (p.encoding == mime::TransferEncoding::Base64) b64.emplace();
  if (p.encoding == mime::TransferEncoding::QuotedPrintable) qp.emplace();
  std::string buf(64 * 1024, '\0');
  std::string out;
  std::uint64_t n = 0;
  while (n < b.size()) {
    auto r = j.read(std::span<char>(buf.data(), buf.size()));
    if (!r) return r.error();
    if (*r == 0) return mime::errc::skeleton_corrupt;
    n += *r;
    const std::string_view chunk(buf.data(), *r);
    if (b64) b64->update(chunk, out);
    else if (qp) qp->update(chunk, out);
    else out.append(chunk);
  }
  if (b64) b64->finish(out);
  if (qp) qp->finish(out);
  BinaryBytes r;
  r.size = out.size();
  r.decoded = std::move(out);
  return r;
}

RangeSource::RangeSource(std::shared_ptr<const mime::Skeleton> skel, mime::BlobSource& blobs,
                         std::uint64_t offset, std::uint64_t size)
    : skel_(std::move(skel)),
      window_(size >= kWindowFrom ? std::make_unique<mime::WindowSource>(blobs) : nullptr),
      joiner_(*skel_, window_ ? static_cast<mime::BlobSource&>(*window_) : blobs),
      offset_(std::min(offset, joiner_.total_size())),
      size_(std::min(size, joiner_.total_size() - offset_)) {}

boost::system::result<std::size_t> RangeSource::read(std::span<char> out) {
  if (!started_) {
    started_ = true;
    if (auto s = joiner_.seek(offset_, size_); !s) return s.error();
  }
  return joiner_.read(out);
}

}  // namespace refmail::imap
