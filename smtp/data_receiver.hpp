// smtp/data_receiver.hpp — the DATA content receiver (RFC 5321 4.1.1.4, 4.5.2):
// removes dot-stuffing and finds the end of data. A push parser: feed it any split of
// the stream; it says how much it consumed and whether the end was found.
// SECURITY (SMTP smuggling, CVE-2023-51766 and friends): the end of data is ONLY
// <CRLF>.<CRLF>; a line starts only after CRLF. A bare LF is content, never a line end,
// so "\n.\n", "\n.\r\n" and "\r\n.\n" never end the message. Bare LFs are reported so the
// session can reject them by policy. The bytes handed to the sink are exactly the
// received bytes minus the stuffed dots and minus the final ".\r\n".
#pragma once

#include "smtp/message_sink.hpp"

#include <cstddef>
#include <string_view>

namespace refmail::smtp {

class DataReceiver {
 public:
  struct Result {
    std::size_t consumed = 0;  // bytes of `in` used (all of it unless done)
    bool done = false;         // <CRLF>.<CRLF> seen; bytes after it are not consumed
  };

  // REQUIRES: not done since the last reset().
  [[nodiscard]] Result feed(std::string_view in, MessageSink& sink);
  // True when a LF not preceded by CR was seen in the content.
  [[nodiscard]] bool bare_lf_seen() const noexcept { return bare_lf_; }
  void reset() noexcept { *this = DataReceiver{}; }

 private:
  enum class State {
    LineStart,  // after CRLF (or at the start of the content)
    Dot,        // line started with '.'
    DotCr,      // line is ".\r" so far
    Mid,        // inside a line
    Done,
  };
  State state_ = State::LineStart;
  bool prev_cr_ = false;  // in Mid: the last content byte was CR
  bool bare_lf_ = false;
};

}  // namespace refmail::smtp
