// mime/limits.hpp — parser limits of the MIME scanner (and thus splitter/summary).
// Past a limit the rest of the input is opaque body of the current part: it is
// never dropped, never rejected and never throws, so join(split(m)) == m still holds.
// SECURITY: these bound memory and work per message on untrusted input.
#pragma once
#include <cstddef>

namespace refmail::mime {

struct Limits {
  // Deepest entity nesting (root = 0). A multipart or message/rfc822 at this depth is
  // treated as a leaf: its content is opaque body.
  std::size_t max_depth = 100;
  // Most entities (root, parts, encapsulated messages) per message. When reached,
  // further delimiter lines are body of the current part until the end of input.
  std::size_t max_parts = 10000;
  // Most header bytes per entity; past it the header block ends at the last complete
  // line and the rest is the (opaque) body of that entity.
  std::size_t max_header_bytes = 256 * 1024;
  // Longest header line; a longer one ends the header block like max_header_bytes.
  // (Body lines are streamed and not limited; a delimiter line is at most
  // kMaxDelimiterLineBytes long.)
  std::size_t max_line_bytes = 64 * 1024;
};

// Longest line that may still be recognised as a boundary delimiter. RFC 2046 5.1.1
// allows 70 boundary characters plus "--" twice and transport padding; real mail has
// longer ones (mime4j's test mail goes to 7 KB), so the bound is generous.
inline constexpr std::size_t kMaxDelimiterLineBytes = 8192;

}  // namespace refmail::mime
