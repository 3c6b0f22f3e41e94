// imap/errc.hpp — the error codes of the refmail_imap library (client core and server
// command reader/parser), one boost::system error category "refmail.imap".
// Must never: carry peer data; an error's details travel beside the code as text.
#pragma once
#include <system_error>

#include <boost/system/error_code.hpp>

namespace refmail::imap {

enum class errc {
  // client core (imap/client.hpp)
  syntax = 1,        // malformed response or command (answered with BAD)
  line_too_long,     // a line over Limits / CommandLimits max_line_bytes
  bad_literal,       // malformed literal announcement
  unsafe_argument,   // a caller's argument cannot be sent in a command
  // server command reader/parser (imap/reader.hpp, imap/parser.hpp)
  literal_too_large,    // a literal of a non-APPEND command over max_literal_bytes
  too_big,              // an APPEND message over max_append_bytes: NO [TOOBIG] (RFC 7889)
  command_too_large,    // text plus literals over max_command_bytes
  too_deep,             // parentheses nested deeper than max_depth
  too_many_items,       // a sequence set, list or search program over its bound
  bad_mailbox_name,     // invalid modified UTF-7 or UTF-8 mailbox name
  bad_sequence_set,     // 0, a number >= 2^32, or malformed
  unknown_command,      // a command name the parser does not know
};

[[nodiscard]] const boost::system::error_category& category();
[[nodiscard]] inline boost::system::error_code make_error_code(errc e) {
  return {static_cast<int>(e), category()};
}

}  // namespace refmail::imap

template <>
struct boost::system::is_error_code_enum<refmail::imap::errc> : std::true_type {};
