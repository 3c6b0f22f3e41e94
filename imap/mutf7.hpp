// imap/mutf7.hpp — mailbox names on the wire: modified UTF-7 (RFC 3501 5.1.3) to and
// from UTF-8, and strict UTF-8 validation (RFC 3629) for UTF8=ACCEPT (RFC 6855, 9051).
// Must never: accept an ambiguous encoding. Decoding is strict so that
// encode(decode(x)) == x for every accepted x: no 8-bit or control bytes, no printable
// ASCII inside a shift, no padding bits set, no unpaired surrogates, no U+0000, no
// adjacent shifts, no ASCII (controls included) inside a shift, every shift closed by '-'.
// SECURITY: inputs come from clients; two spellings of one name would let a client
// create look-alike mailboxes or bypass an ACL check by name.
#pragma once
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "imap/errc.hpp"

namespace refmail::imap {

// UTF-8 -> modified UTF-7 (not quoted). errc::unsafe_argument for invalid UTF-8.
[[nodiscard]] boost::system::result<std::string> mutf7_encode(std::string_view utf8);
// Modified UTF-7 -> UTF-8. errc::bad_mailbox_name for anything not strictly valid.
[[nodiscard]] boost::system::result<std::string> mutf7_decode(std::string_view mutf7);
// True when `s` is well-formed UTF-8: shortest forms, no surrogates, <= U+10FFFF.
[[nodiscard]] bool valid_utf8(std::string_view s) noexcept;

}  // namespace refmail::imap
