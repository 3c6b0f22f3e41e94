// imap/parser.hpp — from one complete, framed client command (its lines and literals,
// as imap/reader.hpp collects them) to the typed AST of imap/command.hpp.
// Must never: recurse without a depth bound, allocate beyond the bounds of
// ParseOptions, accept a byte the grammar does not (NUL, bare CR, 8-bit outside
// UTF8=ACCEPT strings and literals), or throw.
// SECURITY: input is an unauthenticated client's; every error is a value with the tag
// (when one was read) and a short text the session sends back as BAD.
// RFC 9051 9 (formal syntax) and the extension grammars listed in command.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "imap/command.hpp"
#include "imap/errc.hpp"

namespace refmail::imap {

struct ParseOptions {
  bool utf8_accept = false;          // RFC 6855 / 9051: UTF-8 in quoted strings and mailbox names
  std::size_t max_depth = 64;        // nesting of parentheses, NOT and OR
  std::size_t max_items = 100000;    // list elements, search keys, set ranges in one command
  std::size_t max_sequence_ranges = 50000;  // ranges in one sequence set
};

// One literal of a command. A streamed literal (an APPEND message) has no data here.
struct RawLiteral {
  std::string data;
  std::uint64_t size = 0;
  bool binary = false;    // ~{n}
  bool streamed = false;  // its bytes went to the session as AppendData events
};

// A framed command: lines without their CRLF; lines[i] (i < literals.size()) ends with
// the announcement of literals[i]. REQUIRES: lines.size() == literals.size() + 1.
struct RawCommand {
  std::vector<std::string> lines;
  std::vector<RawLiteral> literals;
};

struct ParseError {
  std::string tag;  // empty when no valid tag was read: answer "* BAD"
  errc code = errc::syntax;
  std::string text;  // for "<tag> BAD <text>" (or NO [TOOBIG] for errc::too_big)
  friend bool operator==(const ParseError&, const ParseError&) = default;
};

[[nodiscard]] boost::system::result<Command, ParseError> parse_command(const RawCommand& raw,
                                                                      const ParseOptions& options);

// The tag at the start of a line if it is a valid RFC 9051 tag, else "" (for errors
// found before a command is parsed).
[[nodiscard]] std::string peek_tag(std::string_view line);

}  // namespace refmail::imap
