// imap/message_view_internal.hpp — shared by the message view's files (message_view.cpp,
// message_body.cpp, message_envelope.cpp): the skeleton's MIME structure with every
// entity's header and body placed in the JOINED message.
// The structure comes from scanning the skeleton bytes with one placeholder byte (0x01)
// where each cut's text was: a cut removes only a leaf body's text (never a header or a
// delimiter), and the placeholder keeps the line it starts from being read as something
// else (without it, a body that followed its header with no empty line would, once cut,
// leave the header followed by the next blank line and the header would grow). A
// placeholder stands for its cut's encoded_size bytes of the joined message, so a range
// of the scanned bytes maps to exactly one joined range (the tests check every section of
// the corpus against scans of the original messages).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "imap/message_view.hpp"
#include "imap/response.hpp"
#include "mime/scanner.hpp"

namespace refmail::imap::view_detail {

inline constexpr char kPlaceholder = '\x01';

struct Layout {
  const mime::Skeleton* skel = nullptr;
  std::string scanned;                    // skel->bytes with a placeholder per cut
  std::vector<mime::Part> parts;          // pre-order, scan of `scanned`
  std::vector<std::uint64_t> cut_before;  // cut_before[k]: encoded bytes of cuts[0..k)
  std::uint64_t total = 0;                // joined size

  // Joined offset of scanned offset y (a placeholder at y comes after it).
  [[nodiscard]] std::uint64_t joined(std::uint64_t y) const;
  [[nodiscard]] mime::ByteRange header(std::size_t i) const;  // joined
  [[nodiscard]] mime::ByteRange body(std::size_t i) const;    // joined
  // Indexes [first, last) of the cuts inside part i's body.
  [[nodiscard]] std::pair<std::size_t, std::size_t> cuts_in_body(std::size_t i) const;
  // Index of the first entity (pre-order) whose path is `path`, or -1.
  [[nodiscard]] std::ptrdiff_t find(const std::vector<std::uint32_t>& path) const;
};

// Checks the cut table (ordered, inside the bytes, sizes summing without overflow)
// and scans the skeleton with its placeholders. mime::errc::skeleton_corrupt otherwise.
[[nodiscard]] boost::system::result<Layout> make_layout(const mime::Skeleton& skel, const mime::Limits& limits);

// The top-level entity's header only (for ENVELOPE): stops feeding at its end; total
// (placeholders are fed for cuts whose offsets are in order, the rest are ignored).
[[nodiscard]] mime::Part top_header(const mime::Skeleton& skel, const mime::Limits& limits);

// Header bytes as an IMAP string (quoted or literal): NUL, allowed only in a literal8,
// becomes 0x80 (as Dovecot), so no value can end the literal early for a client.
void write_string(ResponseBuilder& b, std::string_view s, bool utf8);
void write_nstring(ResponseBuilder& b, const std::string* s, bool utf8);

// Writes the ENVELOPE of an entity's header fields.
void write_envelope(const mime::Part& part, const ViewOptions& options, ResponseBuilder& out);

}  // namespace refmail::imap::view_detail
