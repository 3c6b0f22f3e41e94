// imap/response.cpp — see response.hpp. RFC 9051 7 (responses), 7.5 (continuation).
// Must never: emit a bare CR/LF/NUL inside a status line.
// SECURITY: safe_text() is applied to every text and code that may carry peer data.
#include "imap/response.hpp"

#include "imap/strings.hpp"

namespace refmail::imap {

namespace {
constexpr std::size_t kMaxText = 1000;

std::string status_line(std::string_view prefix, Condition status, std::string_view code, std::string_view text) {
  std::string out(prefix);
  out += ' ';
  out += to_string(status);
  if (!code.empty()) {
    out += " [";
    out += safe_text(code);
    out += ']';
  }
  out += ' ';
  out += text.empty() ? std::string("completed") : safe_text(text);
  out += "\r\n";
  return out;
}
}  // namespace

const char* to_string(Condition s) noexcept {
  switch (s) {
    case Condition::Ok: return "OK";
    case Condition::No: return "NO";
    case Condition::Bad: return "BAD";
    case Condition::Bye: return "BYE";
    case Condition::PreAuth: return "PREAUTH";
  }
  return "BAD";
}

std::string safe_text(std::string_view text) {
  std::string out(text.substr(0, kMaxText));
  for (char& c : out)
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  return out;
}

std::string tagged(std::string_view tag, Condition status, std::string_view code, std::string_view text) {
  return status_line(safe_text(tag), status, code, text);
}

std::string untagged_status(Condition status, std::string_view code, std::string_view text) {
  return status_line("*", status, code, text);
}

std::string untagged(std::string_view data) {
  std::string out = "* ";
  for (char c : data) out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
  out += "\r\n";
  return out;
}

std::string continuation(std::string_view text) {
  std::string out = "+ ";
  out += safe_text(text);
  out += "\r\n";
  return out;
}

ResponseBuilder& ResponseBuilder::atom(std::string_view a) {
  s_ += a;
  return *this;
}
ResponseBuilder& ResponseBuilder::number(std::uint64_t n) {
  s_ += std::to_string(n);
  return *this;
}
ResponseBuilder& ResponseBuilder::string(std::string_view s, bool utf8) {
  s_ += quoted_or_literal(s, utf8);
  return *this;
}
ResponseBuilder& ResponseBuilder::nstring(const std::string* s, bool utf8) {
  if (s == nullptr) {
    s_ += "NIL";
    return *this;
  }
  return string(*s, utf8);
}
ResponseBuilder& ResponseBuilder::open() {
  s_ += '(';
  return *this;
}
ResponseBuilder& ResponseBuilder::close() {
  s_ += ')';
  return *this;
}
ResponseBuilder& ResponseBuilder::sp() {
  s_ += ' ';
  return *this;
}
ResponseBuilder& ResponseBuilder::literal_prefix(std::uint64_t size, bool binary) {
  if (binary) s_ += '~';
  s_ += '{';
  s_ += std::to_string(size);
  s_ += "}\r\n";
  return *this;
}

}  // namespace refmail::imap
