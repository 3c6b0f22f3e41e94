// tests/fuzz/fuzz_imap_session.cpp — libFuzzer target: arbitrary bytes -> imap::Session.
// Byte 0 chooses the listener options and limits, byte 1 the chunking; the rest is the
// client stream, fed in pseudo-random chunks. A deterministic fake authenticator answers
// Authenticate ("user"/"pass" succeeds, password "temp" is a temporary failure), StartTls
// is answered with tls_started() at once, a MailboxRequest with a NO.
// Invariants (abort on violation): every Write is CRLF-terminated lines that start with
// "* ", "+ " or "<tag> OK|NO|BAD ", no NUL; an asynchronous action or Close ends its
// batch; nothing after Close; output bounded by the input; bytes held bounded; without
// STARTTLS, the whole stream and the chunked stream give the same output.
#include "tests/fuzz/fuzz_check.hpp"
#include "imap/session.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

using namespace refmail::imap;

namespace {

struct Rng {
  std::uint64_t s;
  std::uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint32_t>(s >> 33);
  }
};

void check_lines(const std::string& w) {
  FUZZ_CHECK(w.size() >= 3);
  FUZZ_CHECK(w.ends_with("\r\n"));
  std::size_t pos = 0;
  while (pos < w.size()) {
    const std::size_t end = w.find("\r\n", pos);
    FUZZ_CHECK(end != std::string::npos);
    std::string_view line(w.data() + pos, end - pos);
    for (char ch : line) FUZZ_CHECK(ch != '\r' && ch != '\n' && ch != '\0');
    if (line.starts_with("* ") || line.starts_with("+ ")) {
      // untagged data or a continuation
    } else {
      const std::size_t sp = line.find(' ');
      FUZZ_CHECK(sp != std::string_view::npos && sp > 0);
      const std::string_view rest = line.substr(sp + 1);
      FUZZ_CHECK(rest.starts_with("OK ") || rest.starts_with("NO ") || rest.starts_with("BAD "));
    }
    pos = end + 2;
  }
}

struct Runner {
  Session s;
  Limits lim;
  std::string out;
  bool closed = false;
  bool saw_tls = false;  // or COMPRESS: the stream changes meaning there

  Runner(const Options& o, const Limits& l) : s(o, l), lim(l) {}

  void perform(std::vector<Action> actions) {
    while (!actions.empty()) {
      std::vector<Action> next;
      for (std::size_t i = 0; i < actions.size(); ++i) {
        FUZZ_CHECK(!closed);
        const bool last = i + 1 == actions.size();
        Action& a = actions[i];
        if (auto* w = std::get_if<action::Write>(&a)) {
          check_lines(w->bytes);
          out += w->bytes;
        } else if (std::holds_alternative<action::WriteLiteral>(a)) {
          FUZZ_CHECK(false);  // not produced in this slice
        } else if (std::holds_alternative<action::StartTls>(a)) {
          FUZZ_CHECK(last);
          saw_tls = true;
          out += "<tls>";
          next = s.tls_started();
        } else if (auto* au = std::get_if<action::Authenticate>(&a)) {
          FUZZ_CHECK(last);
          FUZZ_CHECK(!au->user.empty() && au->user.size() <= 255 && !au->password.empty());
          out += "<auth>";
          next = s.auth_result(au->password == "temp" ? AuthOutcome::Temporary
                               : (au->user == "user" && au->password == "pass") ? AuthOutcome::Ok
                                                                                   : AuthOutcome::Failed);
        } else if (std::holds_alternative<action::MailboxRequest>(a)) {
          FUZZ_CHECK(last);
          MailboxReply r;
          r.status = Condition::No;
          r.code = "NONEXISTENT";
          r.text = "No such mailbox";
          next = s.mailbox_result(std::move(r));
        } else if (std::holds_alternative<action::StartCompression>(a)) {
          // What follows would be compressed: like STARTTLS, whole and chunked feeds
          // differ from here (the rest of the chunk is handed over, not parsed).
          saw_tls = true;
          out += "<compress>";
        } else if (std::holds_alternative<action::Close>(a)) {
          FUZZ_CHECK(last);
          FUZZ_CHECK(s.closed());
          closed = true;
        }
      }
      actions = std::move(next);
    }
  }

  void feed(std::string_view bytes) {
    auto a = s.feed(bytes);
    if (closed) FUZZ_CHECK(a.empty());
    perform(std::move(a));
    // The reader's bounds: one command, the line limit, plus this chunk.
    FUZZ_CHECK(s.held_bytes() <= lim.command.max_command_bytes + lim.command.max_line_bytes +
                                     lim.max_input_buffer + bytes.size() + 64 * 1024);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t flags = data[0];
  Rng chunk{data[1] + 1ull};
  const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

  Options o;
  o.tls_available = flags & 1;
  o.tls_active = flags & 2;
  o.login_without_tls = flags & 4;
  o.mailbox_requests = flags & 8;
  o.server_version = "0.1";
  Limits l;
  l.non_sync = static_cast<NonSyncLiterals>((flags >> 4) % 3);
  if (flags & 64) {
    l.command.max_line_bytes = 64;
    l.command.max_literal_bytes = 32;
    l.command.max_append_bytes = 100;
    l.command.max_command_bytes = 256;
    l.command.max_depth = 4;
    l.command.max_items = 16;
    l.command.max_sequence_ranges = 8;
    l.max_errors = 3;
    l.max_auth_failures = 2;
    l.max_unauthenticated_commands = 5;
    l.max_input_buffer = 128;
  }

  Runner whole(o, l);
  whole.perform(whole.s.start());
  whole.feed(in);

  Runner chunked(o, l);
  chunked.perform(chunked.s.start());
  for (std::size_t at = 0; at < in.size();) {
    std::size_t n = (flags & 128) ? 1 + chunk.next() % 3 : 1 + chunk.next() % 64;
    n = std::min(n, in.size() - at);
    chunked.feed(in.substr(at, n));
    at += n;
  }

  // Output bounded by the input: a greeting, then at most a few hundred bytes per
  // two-byte command line.
  FUZZ_CHECK(whole.out.size() <= 4096 + 160 * in.size());
  FUZZ_CHECK(chunked.out.size() <= 4096 + 160 * in.size());
  if (!whole.saw_tls && !chunked.saw_tls) FUZZ_CHECK(whole.out == chunked.out);
  return 0;
}
