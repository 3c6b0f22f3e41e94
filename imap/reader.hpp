// imap/reader.hpp — the server side's incremental IMAP command reader (RFC 9051 2.2,
// 4.3, 7.5): bytes in, framed and parsed commands out. It collects a command line by
// line with its literals: synchronizing {n} (it asks the caller to send "+"),
// non-synchronizing {n+} (LITERAL+ / LITERAL-, RFC 7888) and literal8 ~{n} (BINARY,
// RFC 3516, APPEND only). An APPEND message (MULTIAPPEND, RFC 3502) is never
// buffered: its bytes come out as AppendData chunks between AppendBegin and AppendEnd.
// No sockets, no clock, no storage, no session state: a session (imap/session, later)
// drives it; the server's read deadline handles a client that stops sending.
// Must never: buffer more than the limits below, send "+" for a literal it will
// refuse, or lose track of a refused non-synchronizing literal's bytes (they are
// discarded as they stream, so the next command starts at the right byte).
// SECURITY: the first code to see an unauthenticated client's bytes. Every error is
// an event with the tag (if one was read) for "<tag> BAD <text>" (or "NO [TOOBIG]"
// for errc::too_big); the reader then resynchronises at the end of that command.
//
// How a session drives it:
//   reader.feed(bytes_read);
//   for (;;) {
//     ReaderEvent e = reader.next();
//     NeedMore     -> break (read more, with a deadline)
//     Continuation -> write "+ Ready for literal data\r\n"
//     Command      -> execute e.command (after IDLE call expect_idle_done(); after an
//                     AUTHENTICATE that needs more, expect_sasl_line(); after STARTTLS
//                     or COMPRESS, buffered() > 0 means the client pipelined past it)
//     Error        -> write "<tag> BAD <text>" ("* BAD" without tag; NO [TOOBIG] for too_big)
//     AppendBegin  -> open a message writer for e.append (or call abort_append() and
//                     answer NO); AppendData -> write e.data; AppendEnd -> finish it.
//                     The Command event with the whole Append comes after the last one.
//     IdleDone / SaslLine -> the awaited line arrived
//   }
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "imap/command.hpp"
#include "imap/parser.hpp"

namespace refmail::imap {

struct CommandLimits {
  std::size_t max_line_bytes = 64 * 1024;          // one line, literals excluded
  std::uint64_t max_literal_bytes = 64 * 1024;     // one literal of a non-APPEND command
  std::uint64_t max_append_bytes = 50ull << 20;    // one APPEND message (APPENDLIMIT, RFC 7889)
  std::size_t max_command_bytes = 1024 * 1024;     // lines + buffered literals of one command
  std::size_t max_append_messages = 1000;          // messages in one MULTIAPPEND
  std::size_t max_depth = 64;                      // parentheses / NOT / OR nesting
  std::size_t max_items = 100000;                  // list elements, keys, ranges per command
  std::size_t max_sequence_ranges = 50000;         // ranges in one sequence set
};

enum class NonSyncLiterals {
  None,          // {n+} is refused (BAD), its bytes discarded
  LiteralMinus,  // RFC 7888 LITERAL-: {n+} up to 4096 bytes
  LiteralPlus,   // RFC 7888 LITERAL+: any {n+} within the limits
};

struct ReaderOptions {
  NonSyncLiterals non_sync = NonSyncLiterals::LiteralPlus;
  bool utf8_accept = false;  // after ENABLE UTF8=ACCEPT / IMAP4rev2 (RFC 6855, 9051)
};

// One APPEND message about to stream.
struct AppendInfo {
  std::string tag;
  std::string mailbox;      // decoded, as in command.hpp
  std::size_t index = 0;    // 0 for the first message of a MULTIAPPEND
  AppendMessage message;    // flags, date, size, binary
  bool synchronizing = false;  // a Continuation event follows unless abort_append()
  friend bool operator==(const AppendInfo&, const AppendInfo&) = default;
};

struct ReaderEvent {
  enum class Kind { NeedMore, Continuation, Command, Error, AppendBegin, AppendData, AppendEnd, IdleDone, SaslLine };
  Kind kind = Kind::NeedMore;
  std::optional<Command> command;  // Command
  ParseError error;                // Error
  AppendInfo append;               // AppendBegin
  std::string_view data;           // AppendData: valid until the next feed() or next()
  std::string line;                // SaslLine, without CRLF
};

class CommandReader {
 public:
  explicit CommandReader(CommandLimits limits = {}, ReaderOptions options = {});

  // Appends received bytes. Invalidates the `data` view of the last event.
  void feed(std::string_view bytes);
  // The next event; NeedMore when every buffered byte is consumed. After NeedMore,
  // buffered() == 0.
  [[nodiscard]] ReaderEvent next();

  // The next line is IDLE's "DONE" (RFC 2177 / RFC 9051 6.3.13): IdleDone, or an
  // Error for anything else. REQUIRES: at_command_boundary().
  void expect_idle_done();
  // The next line is a SASL response (RFC 9051 6.2.2): SaslLine with its text.
  // REQUIRES: at_command_boundary().
  void expect_sasl_line();
  // Refuses the APPEND message just announced (meant to be called right after
  // AppendBegin): no Continuation follows; a synchronizing literal ends the command
  // at once, a non-synchronizing one (or one whose "+" was already sent) and the rest
  // of the command are discarded as they stream. No Error or Command event is
  // produced for it: the session answers. Does nothing outside an APPEND message.
  void abort_append();
  // Takes effect for the next command (ENABLE UTF8=ACCEPT, capability changes).
  void set_options(ReaderOptions options) { options_ = options; }

  [[nodiscard]] std::size_t buffered() const { return in_.size() - in_pos_; }
  // Everything held for the command being read: unread input, the current line, the
  // lines and literals collected so far. Bounded by the limits plus one feed().
  [[nodiscard]] std::size_t held_bytes() const { return buffered() + line_.size() + tail_.size() + cur_bytes_; }
  // Drops unread bytes (after STARTTLS: plaintext pipelined before the handshake).
  void discard_buffered();
  // Removes and returns the unread bytes (after COMPRESS: they are compressed).
  [[nodiscard]] std::string take_buffered();
  [[nodiscard]] bool at_command_boundary() const;

 private:
  enum class State { Line, Literal, AppendData, Discard };
  enum class Mode { Command, IdleDone, SaslLine };
  struct Announcement {
    std::uint64_t size = 0;
    bool non_sync = false;
    bool binary = false;
  };

  [[nodiscard]] std::optional<ReaderEvent> end_of_line();
  [[nodiscard]] std::optional<ReaderEvent> literal_announced(std::string text, const Announcement& a);
  [[nodiscard]] ReaderEvent finish_command(std::string text);
  [[nodiscard]] ReaderEvent error_event();
  [[nodiscard]] ParseOptions parse_options() const;
  [[nodiscard]] bool is_append_message(std::string_view text) const;
  void fail(errc code, std::string text);
  void reset_command();
  void reset_line();
  static std::optional<Announcement> announcement(std::string_view text);

  CommandLimits limits_;
  ReaderOptions options_;
  std::string in_;
  std::size_t in_pos_ = 0;
  State state_ = State::Line;
  Mode mode_ = Mode::Command;
  // the line being read
  std::string line_;
  bool line_overflow_ = false;
  std::string tail_;  // the end of an overlong line (to find a literal announcement)
  // the command being collected
  RawCommand cur_;
  std::size_t cur_bytes_ = 0;
  std::string tag_;
  bool failed_ = false;
  bool silent_ = false;  // abort_append(): no event at the end
  ParseError error_;
  std::uint64_t remaining_ = 0;  // literal bytes still to come
  bool pending_continuation_ = false;
  std::size_t append_index_ = 0;
  std::string append_mailbox_;
};

}  // namespace refmail::imap
