// smtp/reply_parser.hpp — parses SMTP server replies for the client side (RFC 5321
// 4.2): single and multi-line ("250-...", "250 ..."), with RFC 2034 enhanced codes.
// A push parser: feed any split of the stream, get complete replies.
// SECURITY: a hostile server controls these bytes: line length (kMaxLine) and the number
// of lines per reply (kMaxLines) are bounded; a malformed reply is an error value.
#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace refmail::smtp {

struct ServerReply {
  int code = 0;                    // 200..599 (1xx is not used by SMTP)
  std::vector<std::string> lines;  // text of each line, after "ddd-" / "ddd "
  // "x.y.z" of the first line when present (RFC 3463 syntax), else "".
  [[nodiscard]] std::string enhanced() const;
  // All lines joined by a space (for logs and DSNs).
  [[nodiscard]] std::string text() const;
  [[nodiscard]] bool positive() const noexcept { return code >= 200 && code < 400; }
  [[nodiscard]] bool transient() const noexcept { return code >= 400 && code < 500; }
};

class ReplyParser {
 public:
  static constexpr std::size_t kMaxLine = 4096;  // RFC 5321 4.5.3.1.5 says 512; be lenient
  static constexpr std::size_t kMaxLines = 128;

  // Appends bytes; returns the replies completed by them, in order.
  // Errors: errc::syntax_error (malformed line, code mismatch), errc::line_too_long.
  // After an error the parser stays failed.
  [[nodiscard]] boost::system::result<std::vector<ServerReply>> feed(std::string_view bytes);
  // Bytes received but not yet part of a complete reply.
  [[nodiscard]] std::size_t buffered_bytes() const noexcept { return buf_.size(); }

 private:
  std::string buf_;
  ServerReply cur_;
  bool failed_ = false;
};

}  // namespace refmail::smtp
