// tests/fuzz/fuzz_imap_command.cpp — libFuzzer target: arbitrary bytes as an IMAP
// client's stream -> the server's command reader and parser (imap/reader.cpp,
// imap/parse_*.cpp; library refmail_imap). Byte 0 picks the options (LITERAL+ / LITERAL- /
// none, UTF8=ACCEPT, small limits) and the chunking seed.
// Invariants (abort on violation): no crash, throw or unbounded recursion; the stream
// fed whole, one byte at a time and in pseudo-random chunks gives the same events;
// nothing stays buffered after NeedMore; every parsed sequence set prints and re-parses
// to itself; every decoded mailbox name encodes to modified UTF-7 and decodes back;
// a strictly valid mUTF-7 input re-encodes to exactly itself; dates round-trip; any
// NUL-free value written by quoted_or_literal() reads back as itself.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "imap/mutf7.hpp"
#include "imap/reader.hpp"
#include "imap/strings.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace refmail::imap;

namespace {

struct Rec {
  ReaderEvent::Kind kind;
  std::optional<Command> command;
  ParseError error;
  AppendInfo append;
  std::string data;
  std::string line;
  friend bool operator==(const Rec&, const Rec&) = default;
};

void check_set(const SequenceSet& s) {
  auto again = parse_sequence_set(format_sequence_set(s), 1u << 20);
  FUZZ_CHECK(again && *again == s);
}

void check_name(const std::string& name, bool utf8) {
  if (utf8) {
    FUZZ_CHECK(valid_utf8(name));
    return;
  }
  auto enc = mutf7_encode(name);
  FUZZ_CHECK(enc);
  auto dec = mutf7_decode(*enc);
  FUZZ_CHECK(dec && *dec == name);
}

void check_key(const SearchKey& k) {
  if (k.kind == SearchKey::Kind::Uid || k.kind == SearchKey::Kind::SequenceSet) check_set(k.set);
  for (const auto& c : k.children) check_key(c);
}

void check_command(const Command& c, bool utf8) {
  if (auto* f = std::get_if<Fetch>(&c.body)) check_set(f->set);
  if (auto* s = std::get_if<Store>(&c.body)) check_set(s->set);
  if (auto* s = std::get_if<Copy>(&c.body)) {
    check_set(s->set);
    check_name(s->mailbox, utf8);
  }
  if (auto* e = std::get_if<Expunge>(&c.body); e && e->uids) check_set(*e->uids);
  if (auto* s = std::get_if<Search>(&c.body)) check_key(s->key);
  if (auto* s = std::get_if<Select>(&c.body)) check_name(s->mailbox, utf8);
  if (auto* s = std::get_if<Create>(&c.body)) check_name(s->mailbox, utf8);
  if (auto* s = std::get_if<Rename>(&c.body)) {
    check_name(s->from, utf8);
    check_name(s->to, utf8);
  }
  if (auto* s = std::get_if<Status>(&c.body)) check_name(s->mailbox, utf8);
  if (auto* a = std::get_if<Append>(&c.body)) {
    check_name(a->mailbox, utf8);
    for (const auto& m : a->messages)
      if (m.date) FUZZ_CHECK(parse_date_time(format_date_time(*m.date)) == m.date);
  }
}

std::vector<Rec> drive(std::string_view in, const CommandLimits& lim, const ReaderOptions& opt, std::uint32_t seed,
                       int mode) {
  CommandReader r(lim, opt);
  std::vector<Rec> out;
  std::size_t at = 0;
  std::uint32_t x = seed | 1;
  for (;;) {
    for (;;) {
      ReaderEvent e = r.next();
      if (e.kind == ReaderEvent::Kind::NeedMore) {
        FUZZ_CHECK(r.buffered() == 0);
        break;
      }
      if (e.kind == ReaderEvent::Kind::AppendData) {
        FUZZ_CHECK(!e.data.empty());
        if (!out.empty() && out.back().kind == ReaderEvent::Kind::AppendData) {
          out.back().data.append(e.data);
          continue;
        }
      }
      out.push_back(Rec{e.kind, e.command, e.error, e.append, std::string(e.data), e.line});
      if (e.kind == ReaderEvent::Kind::Command) {
        if (std::holds_alternative<Idle>(e.command->body)) r.expect_idle_done();
        if (auto* a = std::get_if<Authenticate>(&e.command->body); a && !a->initial_response) r.expect_sasl_line();
      }
      if (e.kind == ReaderEvent::Kind::AppendBegin) {
        FUZZ_CHECK(e.append.message.size <= lim.max_append_bytes);
        if (e.append.index == 1) r.abort_append();
      }
    }
    if (at >= in.size()) break;
    std::size_t n = in.size() - at;
    if (mode == 1) n = 1;
    if (mode == 2) {
      x = x * 1103515245u + 12345u;
      n = std::min<std::size_t>(n, 1 + (x >> 16) % 97);
    }
    r.feed(in.substr(at, n));
    at += n;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::uint8_t ctl = data[0];
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  // The small types on their own.
  if (auto s = parse_sequence_set(in, 1000)) check_set(*s);
  if (auto d = mutf7_decode(in)) {
    auto e = mutf7_encode(*d);
    FUZZ_CHECK(e && *e == in);  // strict: one spelling per name
  }
  if (auto t = parse_date_time(in)) FUZZ_CHECK(parse_date_time(format_date_time(*t)) == t);
  if (auto d = parse_date(in)) FUZZ_CHECK(parse_date(format_date(*d)) == d);

  // Any NUL-free value written as an IMAP string reads back as itself.
  if (in.find('\0') == std::string_view::npos) {
    bool utf8 = ctl & 4;
    CommandReader r(CommandLimits{}, ReaderOptions{NonSyncLiterals::LiteralPlus, utf8});
    r.feed("a LOGIN " + quoted_or_literal(in, utf8) + " x\r\n");
    ReaderEvent e = r.next();
    if (e.kind == ReaderEvent::Kind::Continuation) e = r.next();
    FUZZ_CHECK(e.kind == ReaderEvent::Kind::Command && std::get<Login>(e.command->body).user == in);
  }

  CommandLimits lim;
  ReaderOptions opt;
  opt.non_sync = static_cast<NonSyncLiterals>((ctl & 3) % 3);
  opt.utf8_accept = ctl & 4;
  if (ctl & 8) {
    lim.max_line_bytes = 64;
    lim.max_literal_bytes = 32;
    lim.max_append_bytes = 48;
    lim.max_command_bytes = 256;
    lim.max_append_messages = 3;
    lim.max_depth = 8;
    lim.max_items = 64;
    lim.max_sequence_ranges = 8;
  }
  auto whole = drive(in, lim, opt, 0, 0);
  for (const auto& r : whole)
    if (r.command) check_command(*r.command, opt.utf8_accept);
  FUZZ_CHECK(drive(in, lim, opt, 0, 1) == whole);
  FUZZ_CHECK(drive(in, lim, opt, ctl >> 4, 2) == whole);
  return 0;
}
