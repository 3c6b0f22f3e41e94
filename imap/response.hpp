// imap/response.hpp — writing the server's responses (RFC 9051 7): tagged OK/NO/BAD with
// an optional response code (RFC 9051 7.1, RFC 5530), untagged data "* ...", the
// continuation request "+ ...", and values (numbers, atoms, strings via imap/strings.hpp).
// A large literal (FETCH BODY[] later) is not built here: its "{n}\r\n" prefix is, and
// its bytes stream from a LiteralSource the server reads (imap/action.hpp WriteLiteral).
// Must never: emit CR, LF or NUL inside a line's text or code (they are replaced by a
// space), or a line without its CRLF.
// SECURITY: response texts may carry peer data (a user name, a mailbox name); the
// sanitising here is what keeps them from injecting protocol lines.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace refmail::imap {

enum class Condition { Ok, No, Bad, Bye, PreAuth };

[[nodiscard]] const char* to_string(Condition s) noexcept;

// Text or code with CR, LF and NUL replaced by a space and cut at 1,000 bytes.
[[nodiscard]] std::string safe_text(std::string_view text);

// "<tag> <status> [<code>] <text>\r\n"; code without brackets ("CAPABILITY IMAP4rev2 ...",
// "TOOBIG"), omitted when empty. REQUIRES: tag non-empty (a tag the reader accepted).
[[nodiscard]] std::string tagged(std::string_view tag, Condition status, std::string_view code,
                                 std::string_view text);
// "* <status> [<code>] <text>\r\n" (untagged OK/NO/BAD/BYE/PREAUTH).
[[nodiscard]] std::string untagged_status(Condition status, std::string_view code, std::string_view text);
// "* <data>\r\n" for untagged data built with ResponseBuilder or a fixed text;
// data is used as is (the caller built it from safe pieces) except that CR/LF/NUL are
// replaced.
[[nodiscard]] std::string untagged(std::string_view data);
// "+ <text>\r\n" (RFC 9051 7.5); "+ \r\n" for an empty text (a SASL challenge).
[[nodiscard]] std::string continuation(std::string_view text);

// Builds the data of one response line piece by piece. Strings that may need a literal
// (string(), nstring()) may put CRLF inside the line: that is the literal's framing.
class ResponseBuilder {
 public:
  ResponseBuilder& atom(std::string_view a);  // as is: REQUIRES a valid atom (no check)
  ResponseBuilder& number(std::uint64_t n);
  ResponseBuilder& string(std::string_view s, bool utf8);   // quoted, else literal
  ResponseBuilder& nstring(const std::string* s, bool utf8);  // NIL when null
  ResponseBuilder& open();   // "("
  ResponseBuilder& close();  // ")"
  ResponseBuilder& sp();
  // The "{size}\r\n" (or "~{size}\r\n") prefix of a streamed literal; the server then
  // writes exactly `size` bytes from a LiteralSource (WriteLiteral).
  ResponseBuilder& literal_prefix(std::uint64_t size, bool binary);
  [[nodiscard]] const std::string& str() const noexcept { return s_; }
  [[nodiscard]] std::string take() { return std::move(s_); }

 private:
  std::string s_;
};

}  // namespace refmail::imap
