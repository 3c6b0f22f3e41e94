// imap/strings.cpp — see strings.hpp. RFC 9051 9: atom-specials are ( ) { SP CTL % * " \ ];
// quoted-specials are " and \, escaped with a backslash.
#include "imap/strings.hpp"

#include "imap/mutf7.hpp"

namespace refmail::imap {
namespace {

bool is_nil(std::string_view s) {
  return s.size() == 3 && (s[0] == 'N' || s[0] == 'n') && (s[1] == 'I' || s[1] == 'i') && (s[2] == 'L' || s[2] == 'l');
}

std::string quoted(std::string_view s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q.push_back('\\');
    q.push_back(c);
  }
  q.push_back('"');
  return q;
}

}  // namespace

boost::system::result<std::string> quote(std::string_view s) {
  bool atom = !s.empty();
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u == 0 || c == '\r' || c == '\n' || u >= 0x80) return errc::unsafe_argument;
    // atom-specials (RFC 3501 9): ( ) { SP CTL % * " \ ]
    if (u < 0x21 || u == 0x7f || std::string_view("(){%*\"\\]").find(c) != std::string_view::npos) atom = false;
  }
  if (atom && !is_nil(s)) return std::string(s);
  return quoted(s);
}

std::string quoted_or_literal(std::string_view s, bool utf8) {
  bool eight_bit = false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u == 0 || c == '\r' || c == '\n') return "{" + std::to_string(s.size()) + "}\r\n" + std::string(s);
    if (u >= 0x80) eight_bit = true;
  }
  if (eight_bit && !(utf8 && valid_utf8(s))) return "{" + std::to_string(s.size()) + "}\r\n" + std::string(s);
  return quoted(s);
}

}  // namespace refmail::imap
