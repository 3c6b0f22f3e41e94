// imap/strings.hpp — writing IMAP strings (RFC 9051 9: atom, quoted, literal): the
// client's command arguments and the server's response values. The readers of these
// forms are in imap/lexer.cpp.
// Must never: emit CR, LF or NUL inside an atom or a quoted string, or an unescaped
// '"' or '\' inside a quoted string.
// SECURITY: the values come from users and remote peers; a wrong escape would let a
// value inject protocol lines.
#pragma once
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "imap/errc.hpp"

namespace refmail::imap {

// RFC 3501 9 "astring" for a command argument: an atom when safe, else a quoted
// string. unsafe_argument for CR, LF, NUL or non-ASCII (no literals are sent).
[[nodiscard]] boost::system::result<std::string> quote(std::string_view s);
// Any byte string as an IMAP "string": quoted when every byte may be (with `utf8`,
// valid UTF-8 may be, RFC 9051 / RFC 6855), else a literal "{n}\r\n" + bytes (a
// server's response; NUL is allowed only in literal8, so it is the caller's to avoid).
[[nodiscard]] std::string quoted_or_literal(std::string_view s, bool utf8);

}  // namespace refmail::imap
