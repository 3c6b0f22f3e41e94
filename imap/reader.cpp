// imap/reader.cpp — see reader.hpp. A line ends at LF (a missing CR makes the command
// BAD, but the line still frames it, so a literal announced on it is accounted for);
// a line that ends with "{n}", "{n+}", "~{n}" or "~{n+}" announces a literal
// (RFC 9051 4.3, RFC 7888, RFC 3516 4.2) whose n bytes follow, then the command goes
// on with the next line.
#include "imap/reader.hpp"

#include <algorithm>

namespace refmail::imap {
namespace {

constexpr std::size_t kTailBytes = 64;        // enough for "~{" + 20 digits + "+}\r"
constexpr std::uint64_t kLiteralMinusMax = 4096;  // RFC 7888 5

bool ieq_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i];
    if (a >= 'a' && a <= 'z') a = static_cast<char>(a - 'a' + 'A');
    if (a != prefix[i]) return false;
  }
  return true;
}

}  // namespace

CommandReader::CommandReader(CommandLimits limits, ReaderOptions options) : limits_(limits), options_(options) {}

void CommandReader::feed(std::string_view bytes) { in_.append(bytes); }

void CommandReader::discard_buffered() {
  in_.clear();
  in_pos_ = 0;
}

std::string CommandReader::take_buffered() {
  std::string rest = in_.substr(in_pos_);
  discard_buffered();
  return rest;
}

bool CommandReader::at_command_boundary() const {
  return state_ == State::Line && cur_.lines.empty() && line_.empty() && !line_overflow_ && !pending_continuation_;
}

void CommandReader::expect_idle_done() { mode_ = Mode::IdleDone; }
void CommandReader::expect_sasl_line() { mode_ = Mode::SaslLine; }

void CommandReader::abort_append() {
  if (state_ != State::AppendData) return;
  if (pending_continuation_) {
    reset_command();  // the client waits for "+", which never comes
    return;
  }
  // A non-synchronizing literal (or a synchronizing one whose "+" already went out):
  // its bytes are on their way, drop them and the rest of the command.
  failed_ = true;
  silent_ = true;
  state_ = State::Discard;
}

ParseOptions CommandReader::parse_options() const {
  ParseOptions o;
  o.utf8_accept = options_.utf8_accept;
  o.max_depth = limits_.max_depth;
  o.max_items = limits_.max_items;
  o.max_sequence_ranges = limits_.max_sequence_ranges;
  return o;
}

void CommandReader::fail(errc code, std::string text) {
  if (failed_) return;
  failed_ = true;
  error_ = ParseError{tag_, code, std::move(text)};
}

void CommandReader::reset_line() {
  line_.clear();
  tail_.clear();
  line_overflow_ = false;
}

void CommandReader::reset_command() {
  cur_ = RawCommand{};
  cur_bytes_ = 0;
  tag_.clear();
  failed_ = false;
  silent_ = false;
  error_ = ParseError{};
  remaining_ = 0;
  pending_continuation_ = false;
  append_index_ = 0;
  append_mailbox_.clear();
  state_ = State::Line;
  reset_line();
}

ReaderEvent CommandReader::error_event() {
  ReaderEvent e;
  e.kind = ReaderEvent::Kind::Error;
  e.error = error_;
  if (e.error.tag.empty()) e.error.tag = tag_;
  return e;
}

std::optional<CommandReader::Announcement> CommandReader::announcement(std::string_view t) {
  if (t.empty() || t.back() != '}') return std::nullopt;
  std::size_t i = t.size() - 1;
  Announcement a;
  if (i > 0 && t[i - 1] == '+') {
    a.non_sync = true;
    --i;
  }
  std::size_t digits_end = i;
  while (i > 0 && t[i - 1] >= '0' && t[i - 1] <= '9') --i;
  std::size_t ndigits = digits_end - i;
  if (ndigits == 0 || ndigits > 19 || i == 0 || t[i - 1] != '{') return std::nullopt;
  std::uint64_t v = 0;
  for (std::size_t k = i; k < digits_end; ++k) v = v * 10 + static_cast<std::uint64_t>(t[k] - '0');
  a.size = v;
  a.binary = i >= 2 && t[i - 2] == '~';
  return a;
}

bool CommandReader::is_append_message(std::string_view text) const {
  std::string_view first = cur_.lines.empty() ? text : std::string_view(cur_.lines.front());
  if (tag_.empty() || first.size() <= tag_.size() || first[tag_.size()] != ' ') return false;
  std::string_view rest = first.substr(tag_.size() + 1);
  if (!ieq_prefix(rest, "APPEND ")) return false;
  if (!cur_.lines.empty()) return true;  // past the first line: only message literals
  // On the first line, a literal right after "APPEND " is the mailbox name.
  rest.remove_prefix(7);
  return !rest.empty() && rest.front() != '{' && rest.front() != '~';
}

ReaderEvent CommandReader::finish_command(std::string text) {
  if (failed_) {
    bool silent = silent_;
    ReaderEvent e = error_event();
    reset_command();
    if (silent) return next();
    return e;
  }
  cur_.lines.push_back(std::move(text));
  auto r = parse_command(cur_, parse_options());
  ReaderEvent e;
  if (r) {
    e.kind = ReaderEvent::Kind::Command;
    e.command = std::move(*r);
  } else {
    e.kind = ReaderEvent::Kind::Error;
    e.error = r.error();
  }
  reset_command();
  return e;
}

std::optional<ReaderEvent> CommandReader::literal_announced(std::string text, const Announcement& a) {
  bool append_msg = is_append_message(text);
  if (!failed_) {
    if (a.non_sync && options_.non_sync == NonSyncLiterals::None)
      fail(errc::bad_literal, "Non-synchronizing literals are not supported");
    else if (a.non_sync && options_.non_sync == NonSyncLiterals::LiteralMinus && a.size > kLiteralMinusMax)
      fail(errc::literal_too_large, "Non-synchronizing literal over 4096 bytes (LITERAL-)");
    else if (a.binary && !append_msg)
      fail(errc::bad_literal, "literal8 is only allowed for APPEND data");
    else if (append_msg && a.size > limits_.max_append_bytes)
      fail(errc::too_big, "Message larger than APPENDLIMIT");
    else if (append_msg && append_index_ >= limits_.max_append_messages)
      fail(errc::too_many_items, "Too many messages in one APPEND");
    else if (!append_msg && a.size > limits_.max_literal_bytes)
      fail(errc::literal_too_large, "Literal too large");
    else if (!append_msg && cur_bytes_ + a.size > limits_.max_command_bytes)
      fail(errc::command_too_large, "Command too large");
  }
  AppendInfo info;
  if (!failed_ && append_msg) {
    // What the session needs before the bytes: mailbox, flags and date of this message.
    RawCommand probe;
    if (append_index_ == 0) {
      probe.lines = cur_.lines;
      probe.literals = cur_.literals;
      probe.lines.push_back(text);
    } else {
      probe.lines.push_back(tag_ + " APPEND X" + text);  // " [flags SP] [date SP] {n}"
    }
    probe.lines.emplace_back();
    probe.literals.push_back(RawLiteral{"", a.size, a.binary, true});
    auto r = parse_command(probe, parse_options());
    if (!r) {
      fail(r.error().code, r.error().text);
    } else {
      auto& app = std::get<Append>(r->body);
      if (append_index_ == 0) append_mailbox_ = app.mailbox;
      info.tag = tag_;
      info.mailbox = append_mailbox_;
      info.index = append_index_;
      info.message = app.messages.back();
      info.synchronizing = !a.non_sync;
    }
  }
  reset_line();
  if (failed_) {
    // RFC 9051 7.5: a refused synchronizing literal is never sent (no "+"), so the
    // command ends here; a non-synchronizing one is on its way and is discarded.
    if (!a.non_sync) return finish_command("");
    remaining_ = a.size;
    state_ = State::Discard;
    return std::nullopt;
  }
  cur_bytes_ += append_msg ? 0 : a.size;
  cur_.lines.push_back(std::move(text));
  cur_.literals.push_back(RawLiteral{"", a.size, a.binary, append_msg});
  remaining_ = a.size;
  if (append_msg) {
    ++append_index_;
    state_ = State::AppendData;
    pending_continuation_ = !a.non_sync;
    ReaderEvent e;
    e.kind = ReaderEvent::Kind::AppendBegin;
    e.append = std::move(info);
    return e;
  }
  state_ = State::Literal;
  if (a.non_sync) return std::nullopt;
  ReaderEvent e;
  e.kind = ReaderEvent::Kind::Continuation;
  return e;
}

std::optional<ReaderEvent> CommandReader::end_of_line() {
  std::string text = line_overflow_ ? tail_ : line_;
  bool overflow = line_overflow_;
  bool crlf = !text.empty() && text.back() == '\r';
  if (crlf) text.pop_back();
  if (mode_ != Mode::Command) {
    Mode m = mode_;
    mode_ = Mode::Command;
    reset_line();
    tag_.clear();
    ReaderEvent e;
    if (overflow || !crlf) {
      e.kind = ReaderEvent::Kind::Error;
      e.error = ParseError{"", overflow ? errc::line_too_long : errc::syntax,
                           overflow ? "Line too long" : "Line not ended by CRLF"};
      return e;
    }
    if (m == Mode::SaslLine) {
      e.kind = ReaderEvent::Kind::SaslLine;
      e.line = std::move(text);
      return e;
    }
    // RFC 9051 6.3.13: "DONE" (case-insensitive) ends IDLE.
    if (text.size() == 4 && ieq_prefix(text, "DONE")) {
      e.kind = ReaderEvent::Kind::IdleDone;
      return e;
    }
    e.kind = ReaderEvent::Kind::Error;
    e.error = ParseError{"", errc::syntax, "Expected DONE"};
    return e;
  }
  if (cur_.lines.empty() && tag_.empty() && !overflow) tag_ = peek_tag(text);
  if (!crlf) fail(errc::syntax, "Line not ended by CRLF");
  if (cur_.lines.empty() && text.empty() && !overflow) fail(errc::syntax, "Empty command line");
  cur_bytes_ += text.size() + 2;
  if (cur_bytes_ > limits_.max_command_bytes) fail(errc::command_too_large, "Command too large");
  auto a = announcement(text);
  if (!a) {
    reset_line();
    return finish_command(std::move(text));
  }
  return literal_announced(std::move(text), *a);
}

ReaderEvent CommandReader::next() {
  if (pending_continuation_) {
    pending_continuation_ = false;
    ReaderEvent e;
    e.kind = ReaderEvent::Kind::Continuation;
    return e;
  }
  // Compact: drop consumed bytes (views handed out before this call are now dead).
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ > 64 * 1024) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  for (;;) {
    std::size_t avail = in_.size() - in_pos_;
    switch (state_) {
      case State::Literal: {
        auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, avail));
        cur_.literals.back().data.append(in_, in_pos_, take);
        in_pos_ += take;
        remaining_ -= take;
        if (remaining_ > 0) return ReaderEvent{};
        state_ = State::Line;
        continue;
      }
      case State::Discard: {
        auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, avail));
        in_pos_ += take;
        remaining_ -= take;
        if (remaining_ > 0) return ReaderEvent{};
        state_ = State::Line;
        continue;
      }
      case State::AppendData: {
        ReaderEvent e;
        if (remaining_ == 0) {
          state_ = State::Line;
          e.kind = ReaderEvent::Kind::AppendEnd;
          return e;
        }
        if (avail == 0) return e;
        auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, avail));
        e.kind = ReaderEvent::Kind::AppendData;
        e.data = std::string_view(in_).substr(in_pos_, take);
        in_pos_ += take;
        remaining_ -= take;
        return e;
      }
      case State::Line: {
        std::size_t nl = in_.find('\n', in_pos_);
        std::size_t end = nl == std::string::npos ? in_.size() : nl;
        std::string_view seg = std::string_view(in_).substr(in_pos_, end - in_pos_);
        if (!line_overflow_ && line_.size() + seg.size() > limits_.max_line_bytes) {
          if (mode_ == Mode::Command && cur_.lines.empty() && tag_.empty()) {
            // The tag of an overlong line: from its first max_line_bytes + 1 bytes, and
            // only if a space ends it there, so the answer does not depend on how the
            // line was cut into reads (found by fuzz_imap_command).
            std::string head = line_;
            head.append(seg.substr(0, limits_.max_line_bytes + 1 - line_.size()));
            if (head.find(' ') != std::string::npos) tag_ = peek_tag(head);
          }
          if (mode_ == Mode::Command) fail(errc::line_too_long, "Line too long");
          line_overflow_ = true;
          tail_ = line_;
          line_.clear();
          line_.shrink_to_fit();
        }
        if (line_overflow_) {
          tail_.append(seg.size() > kTailBytes ? seg.substr(seg.size() - kTailBytes) : seg);
          if (tail_.size() > 2 * kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
        } else {
          line_.append(seg);
        }
        if (nl == std::string::npos) {
          in_pos_ = in_.size();
          return ReaderEvent{};
        }
        in_pos_ = nl + 1;
        if (auto e = end_of_line()) return std::move(*e);
        continue;
      }
    }
  }
}

}  // namespace refmail::imap
