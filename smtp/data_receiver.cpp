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
        // Consume whole lines as one run, so the sink sees large spans; stop at a line
        // that starts with '.', which the byte-wise states handle.
        const std::size_t run_start = i;
        for (;;) {
          const void* lf = std::memchr(in.data() + i, '\n', n - i);
          if (lf == nullptr) {
            prev_cr_ = in[n - 1] == '\r';
            i = n;
            break;
          }
          const std::size_t at = static_cast<const char*>(lf) - in.data();
          const bool cr_before = at > run_start ? in[at - 1] == '\r' : prev_cr_;
          i = at + 1;
          prev_cr_ = false;
          if (!cr_before) {
            bare_lf_ = true;  // content, not a line end (see header)
            continue;
          }
          if (i == n || in[i] == '.') {
            state_ = State::LineStart;
            break;
          }
        }
        sink.append(in.substr(run_start, i - run_start));
        break;
      }
      case State::Done:
        REFMAIL_CHECK(false);
    }
  }
  return {n, false};
}

}  // namespace refmail::smtp
