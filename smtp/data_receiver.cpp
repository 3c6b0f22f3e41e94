// smtp/data_receiver.cpp — RFC 5321 4.5.2 dot-unstuffing and end-of-data detection.
// The Mid state scans with memchr for LF, so a normal line costs one memchr and one
// append; the byte-wise states only run at line starts.
#include "smtp/data_receiver.hpp"

#include "smtp/check.hpp"

#include <cstring>

namespace refmail::smtp {

DataReceiver::Result DataReceiver::feed(std::string_view in, MessageSink& sink) {
  REFMAIL_CHECK(state_ != State::Done);
  std::size_t i = 0;
  const std::size_t n = in.size();
  while (i < n) {
    switch (state_) {
      case State::LineStart:
        if (in[i] == '.') {
          // RFC 5321 4.5.2: a leading period is removed (or it starts ".<CRLF>").
          state_ = State::Dot;
          ++i;
        } else {
          state_ = State::Mid;
          prev_cr_ = false;
        }
        break;
      case State::Dot:
        if (in[i] == '\r') {
          state_ = State::DotCr;
          ++i;
        } else {
          state_ = State::Mid;  // the dot is dropped; this byte is content
          prev_cr_ = false;
        }
        break;
      case State::DotCr:
        if (in[i] == '\n') {
          state_ = State::Done;
          return {i + 1, true};
        }
        // ".\r" + something else: the dot is dropped, the CR is content.
        sink.append("\r");
        state_ = State::Mid;
        prev_cr_ = true;
        break;
      case State::Mid: {
        const void* lf = std::memchr(in.data() + i, '\n', n - i);
        if (lf == nullptr) {
          sink.append(in.substr(i));
          prev_cr_ = in[n - 1] == '\r';
          i = n;
          break;
        }
        const std::size_t at = static_cast<const char*>(lf) - in.data();
        const bool cr_before = at > i ? in[at - 1] == '\r' : prev_cr_;
        sink.append(in.substr(i, at + 1 - i));
        i = at + 1;
        prev_cr_ = false;
        if (cr_before) {
          state_ = State::LineStart;
        } else {
          bare_lf_ = true;  // content, not a line end (see header)
        }
        break;
      }
      case State::Done:
        REFMAIL_CHECK(false);
    }
  }
  return {n, false};
}

}  // namespace refmail::smtp
