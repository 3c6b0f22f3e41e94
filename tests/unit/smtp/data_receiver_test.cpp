// DATA receiver: dot-unstuffing and end-of-data (RFC 5321 4.5.2), fed at every split.
#include "smtp/data_receiver.hpp"

#include <gtest/gtest.h>

using namespace refmail::smtp;

namespace {

struct Out {
  bool done = false;
  std::size_t consumed = 0;
  std::string bytes;
  bool bare_lf = false;
};

Out run(std::string_view in, std::size_t split) {
  DataReceiver rx;
  MessageSink sink(1 << 20);
  Out o;
  std::size_t i = 0;
  for (std::string_view part : {in.substr(0, split), in.substr(split)}) {
    if (o.done) break;
    auto r = rx.feed(part, sink);
    o.consumed += r.consumed;
    o.done = r.done;
    i += part.size();
  }
  o.bytes = sink.take();
  o.bare_lf = rx.bare_lf_seen();
  return o;
}

// Every split point gives the same result.
Out run_all(std::string_view in) {
  Out first = run(in, 0);
  for (std::size_t s = 1; s <= in.size(); ++s) {
    Out o = run(in, s);
    EXPECT_EQ(o.done, first.done) << "split " << s;
    EXPECT_EQ(o.consumed, first.consumed) << "split " << s;
    EXPECT_EQ(o.bytes, first.bytes) << "split " << s;
    EXPECT_EQ(o.bare_lf, first.bare_lf) << "split " << s;
  }
  // And one byte at a time.
  DataReceiver rx;
  MessageSink sink(1 << 20);
  std::size_t consumed = 0;
  bool done = false;
  for (std::size_t i = 0; i < in.size() && !done; ++i) {
    auto r = rx.feed(in.substr(i, 1), sink);
    consumed += r.consumed;
    done = r.done;
  }
  EXPECT_EQ(done, first.done);
  EXPECT_EQ(consumed, first.consumed);
  EXPECT_EQ(sink.take(), first.bytes);
  return first;
}

TEST(DataReceiver, Table) {
  const struct {
    std::string in;
    bool done;
    std::string bytes;
    std::size_t consumed;
    bool bare_lf;
  } cases[] = {
      {".\r\n", true, "", 3, false},
      {"a\r\n.\r\n", true, "a\r\n", 6, false},
      {"a\r\n.\r\nMAIL", true, "a\r\n", 6, false},
      {"..x\r\n.\r\n", true, ".x\r\n", 8, false},
      {"a\r\n..\r\n.\r\n", true, "a\r\n.\r\n", 10, false},
      {"a\r\n...\r\n.\r\n", true, "a\r\n..\r\n", 11, false},
      {".x\r\n.\r\n", true, "x\r\n", 7, false},  // unstuffing a non-stuffed dot
      {"a\r\n.\rb\r\n.\r\n", true, "a\r\n\rb\r\n", 11, false},
      // Smuggling: none of these end the message.
      {"a\n.\nb\r\n.\r\n", true, "a\n.\nb\r\n", 10, true},
      {"a\n.\r\nb\r\n.\r\n", true, "a\n.\r\nb\r\n", 11, true},
      {"a\r\n.\nb\r\n.\r\n", true, "a\r\n\nb\r\n", 11, true},
      {"a\r.\r\nb\r\n.\r\n", true, "a\r.\r\nb\r\n", 11, false},
      {"a\r\n.\r", false, "a\r\n", 5, false},
      {"abc", false, "abc", 3, false},
      {"", false, "", 0, false},
      {std::string("x\0y\r\n.\r\n", 8), true, std::string("x\0y\r\n", 5), 8, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    Out o = run_all(c.in);
    EXPECT_EQ(o.done, c.done);
    EXPECT_EQ(o.bytes, c.bytes);
    EXPECT_EQ(o.consumed, c.consumed);
    EXPECT_EQ(o.bare_lf, c.bare_lf);
  }
}

TEST(MessageSink, LimitsAndFacts) {
  MessageSink s(10);
  s.append("0123456789");
  EXPECT_FALSE(s.over_size());
  s.append("x");
  EXPECT_TRUE(s.over_size());
  EXPECT_EQ(s.size_bytes(), 11u);
  MessageSink t(100);
  t.append("ab\ncdef");
  t.append("gh\r\nz");
  EXPECT_EQ(t.longest_line(), 8u);  // "cdefgh\r\n"
  EXPECT_FALSE(t.eight_bit_seen());
  EXPECT_FALSE(t.nul_seen());
  t.append(std::string("\x80\0", 2));
  EXPECT_TRUE(t.eight_bit_seen());
  EXPECT_TRUE(t.nul_seen());
}

}  // namespace
