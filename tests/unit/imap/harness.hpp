// tests/unit/imap/harness.hpp — drives imap::CommandReader over a transcript fed whole,
// one byte at a time and in pseudo-random chunks, and checks that every feeding gives
// the same events (consecutive AppendData chunks are joined, NeedMore is dropped).
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "imap/reader.hpp"

namespace refmail::imap::test {

struct Rec {
  ReaderEvent::Kind kind = ReaderEvent::Kind::NeedMore;
  std::optional<Command> command;
  ParseError error;
  AppendInfo append;
  std::string data;  // AppendData, joined
  std::string line;
  friend bool operator==(const Rec&, const Rec&) = default;
};

struct Policy {
  bool auto_idle = true;   // expect_idle_done() after IDLE
  bool auto_sasl = true;   // expect_sasl_line() after AUTHENTICATE without initial response
  std::function<bool(const AppendInfo&)> reject_append;  // true: abort_append()
  CommandLimits limits;
  ReaderOptions options;
};

inline std::vector<Rec> drive(std::string_view in, const std::vector<std::size_t>& chunks, const Policy& p,
                              std::size_t* max_buffered = nullptr) {
  CommandReader r(p.limits, p.options);
  std::vector<Rec> out;
  std::size_t at = 0, ci = 0;
  for (;;) {
    for (;;) {
      ReaderEvent e = r.next();
      if (max_buffered) *max_buffered = std::max(*max_buffered, r.buffered());
      if (e.kind == ReaderEvent::Kind::NeedMore) {
        EXPECT_EQ(r.buffered(), 0u);
        break;
      }
      if (e.kind == ReaderEvent::Kind::AppendData) {
        EXPECT_FALSE(e.data.empty());
        if (!out.empty() && out.back().kind == ReaderEvent::Kind::AppendData) {
          out.back().data.append(e.data);
          continue;
        }
      }
      Rec rec;
      rec.kind = e.kind;
      rec.command = e.command;
      rec.error = e.error;
      rec.append = e.append;
      rec.data.assign(e.data);
      rec.line = e.line;
      out.push_back(rec);
      if (e.kind == ReaderEvent::Kind::Command) {
        if (std::holds_alternative<Idle>(e.command->body) && p.auto_idle) r.expect_idle_done();
        if (auto* a = std::get_if<Authenticate>(&e.command->body); a && !a->initial_response && p.auto_sasl)
          r.expect_sasl_line();
      }
      if (e.kind == ReaderEvent::Kind::AppendBegin && p.reject_append && p.reject_append(e.append))
        r.abort_append();
    }
    if (at >= in.size()) break;
    std::size_t n = chunks.empty() ? in.size() : chunks[ci++ % chunks.size()];
    n = std::min(n, in.size() - at);
    r.feed(in.substr(at, n));
    at += n;
  }
  return out;
}

// Runs `in` whole, byte by byte and in 6 random chunkings; expects equal results.
inline std::vector<Rec> run(std::string_view in, const Policy& p = {}) {
  auto whole = drive(in, {}, p);
  EXPECT_EQ(drive(in, {1}, p), whole) << "byte by byte differs for: " << in.substr(0, 200);
  for (unsigned seed = 1; seed <= 6; ++seed) {
    std::mt19937 rng(seed);
    std::vector<std::size_t> chunks;
    for (int i = 0; i < 64; ++i) chunks.push_back(1 + rng() % (seed * 7));
    EXPECT_EQ(drive(in, chunks, p), whole) << "chunking " << seed << " differs for: " << in.substr(0, 200);
  }
  return whole;
}

// One command line (CRLF added) that must parse; returns its body.
template <class T>
T parse_ok(std::string_view line, const Policy& p = {}) {
  auto ev = run(std::string(line) + "\r\n", p);
  if (ev.size() != 1 || ev[0].kind != ReaderEvent::Kind::Command) {
    ADD_FAILURE() << "not one command: " << line << (ev.empty() ? "" : " error: " + ev[0].error.text);
    return T{};
  }
  auto* t = std::get_if<T>(&ev[0].command->body);
  if (!t) {
    ADD_FAILURE() << "wrong command type for: " << line;
    return T{};
  }
  return *t;
}

// A command that must be refused; returns the error.
inline ParseError parse_bad(std::string_view line, const Policy& p = {}) {
  auto ev = run(std::string(line) + "\r\n", p);
  if (ev.size() != 1 || ev[0].kind != ReaderEvent::Kind::Error) {
    ADD_FAILURE() << "not one error: " << line;
    return {};
  }
  return ev[0].error;
}

}  // namespace refmail::imap::test
