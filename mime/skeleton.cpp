// mime/skeleton.cpp — Skeleton, its builder and its binary form.
// Format v1: "RMSK" u8(version=1) varint(len) bytes varint(ncuts) { varint offset,
// varint len + blob_id, u8 encoding, varint line_length, u8 line_ending, u8 flags
// (1 = last_line_ending, 2 = partial), varint decoded_size, varint encoded_size,
// varint len + part_path }; nothing may follow. Varints are LEB128, at most 10 bytes.
// SECURITY: parse() checks every length against the remaining input before use and
// the cross-field invariants the joiner relies on.
#include "mime/skeleton.hpp"

#include <algorithm>
#include <unordered_set>

#include "mime/blob_io.hpp"
#include "mime/errc.hpp"

namespace refmail::mime {
namespace {

constexpr std::string_view kMagic = "RMSK";
constexpr std::uint8_t kVersion = 1;
constexpr std::uint8_t kFlagLastLineEnding = 1;
constexpr std::uint8_t kFlagPartial = 2;

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_string(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (d_.empty()) return false;
      const auto b = static_cast<std::uint8_t>(d_.front());
      d_.remove_prefix(1);
      if (shift == 63 && b > 1) return false;  // overflow
      v |= std::uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool byte(std::uint8_t& b) {
    if (d_.empty()) return false;
    b = static_cast<std::uint8_t>(d_.front());
    d_.remove_prefix(1);
    return true;
  }
  bool string(std::string& s, std::uint64_t max) {
    std::uint64_t n;
    if (!varint(n) || n > d_.size() || n > max) return false;
    s.assign(d_.substr(0, static_cast<std::size_t>(n)));
    d_.remove_prefix(static_cast<std::size_t>(n));
    return true;
  }
  [[nodiscard]] std::size_t remaining() const { return d_.size(); }

 private:
  std::string_view d_;
};

}  // namespace

std::uint64_t Skeleton::joined_size() const noexcept {
  std::uint64_t n = bytes.size();
  for (const Cut& c : cuts) n += c.encoded_size;
  return n;
}

std::vector<std::string> Skeleton::blob_ids() const {
  std::vector<std::string> ids;
  std::unordered_set<std::string_view> seen;
  for (const Cut& c : cuts)
    if (seen.insert(c.blob_id).second) ids.push_back(c.blob_id);
  return ids;
}

const Cut* Skeleton::cut_for_part(std::string_view path) const noexcept {
  for (const Cut& c : cuts)
    if (!c.partial && c.part_path == path) return &c;
  return nullptr;
}

std::string Skeleton::serialize() const {
  std::string out;
  out.reserve(bytes.size() + 16 + cuts.size() * 48);
  out.append(kMagic);
  out.push_back(static_cast<char>(kVersion));
  put_string(out, bytes);
  put_varint(out, cuts.size());
  for (const Cut& c : cuts) {
    put_varint(out, c.offset);
    put_string(out, c.blob_id);
    out.push_back(static_cast<char>(c.encoding));
    put_varint(out, c.line_length);
    out.push_back(static_cast<char>(c.line_ending));
    out.push_back(static_cast<char>((c.last_line_ending ? kFlagLastLineEnding : 0) |
                                    (c.partial ? kFlagPartial : 0)));
    put_varint(out, c.decoded_size);
    put_varint(out, c.encoded_size);
    put_string(out, c.part_path);
  }
  return out;
}

boost::system::result<Skeleton> Skeleton::parse(std::string_view data) {
  if (data.size() < kMagic.size() + 1) return errc::skeleton_truncated;
  if (data.substr(0, kMagic.size()) != kMagic) return errc::skeleton_bad_magic;
  if (static_cast<std::uint8_t>(data[kMagic.size()]) != kVersion)
    return errc::skeleton_bad_version;
  Reader r(data.substr(kMagic.size() + 1));
  Skeleton s;
  if (!r.string(s.bytes, data.size())) return errc::skeleton_truncated;
  std::uint64_t ncuts;
  if (!r.varint(ncuts)) return errc::skeleton_truncated;
  // Each cut takes at least 9 bytes: bound before reserving.
  if (ncuts > r.remaining() / 9) return errc::skeleton_truncated;
  s.cuts.reserve(static_cast<std::size_t>(ncuts));
  std::uint64_t last_offset = 0;
  for (std::uint64_t i = 0; i < ncuts; ++i) {
    Cut c;
    std::uint8_t enc, eol, flags;
    std::uint64_t line_length;
    if (!r.varint(c.offset) || !r.string(c.blob_id, kMaxBlobIdBytes) || !r.byte(enc) ||
        !r.varint(line_length) || !r.byte(eol) || !r.byte(flags) ||
        !r.varint(c.decoded_size) || !r.varint(c.encoded_size) ||
        !r.string(c.part_path, 4096))
      return errc::skeleton_truncated;
    if (c.blob_id.empty() || enc > 2 || eol > 1 || (flags & ~3u) != 0 ||
        line_length > 0xffffffffu || c.offset < last_offset || c.offset > s.bytes.size())
      return errc::skeleton_corrupt;
    c.encoding = static_cast<CutEncoding>(enc);
    c.line_ending = static_cast<LineEnding>(eol);
    c.line_length = static_cast<std::uint32_t>(line_length);
    c.last_line_ending = (flags & kFlagLastLineEnding) != 0;
    c.partial = (flags & kFlagPartial) != 0;
    switch (c.encoding) {
      case CutEncoding::Identity:
        if (c.encoded_size != c.decoded_size) return errc::skeleton_corrupt;
        break;
      case CutEncoding::Base64:
        if (c.line_length % 4 != 0 || c.decoded_size > (std::uint64_t{1} << 60) ||
            c.encoded_size != base64_encoded_size(c.decoded_size,
                                                  {c.line_length, c.line_ending,
                                                   c.last_line_ending}))
          return errc::skeleton_corrupt;
        break;
      case CutEncoding::QuotedPrintable:
        if (c.line_length < 4 || c.encoded_size < c.decoded_size)
          return errc::skeleton_corrupt;
        break;
    }
    last_offset = c.offset;
    s.cuts.push_back(std::move(c));
  }
  if (r.remaining() != 0) return errc::skeleton_corrupt;
  return s;
}

void SkeletonBuilder::append_literal(std::string_view bytes) { skel_.bytes.append(bytes); }

void SkeletonBuilder::append_cut(Cut cut) {
  cut.offset = skel_.bytes.size();
  if (cut.encoded_size == 0 && cut.decoded_size > 0) {
    if (cut.encoding == CutEncoding::Identity)
      cut.encoded_size = cut.decoded_size;
    else if (cut.encoding == CutEncoding::Base64)
      cut.encoded_size = base64_encoded_size(
          cut.decoded_size, {cut.line_length, cut.line_ending, cut.last_line_ending});
  }
  cut_bytes_ += cut.encoded_size;
  skel_.cuts.push_back(std::move(cut));
}

Skeleton SkeletonBuilder::finish() {
  Skeleton s = std::move(skel_);
  skel_ = Skeleton{};
  cut_bytes_ = 0;
  return s;
}

}  // namespace refmail::mime
