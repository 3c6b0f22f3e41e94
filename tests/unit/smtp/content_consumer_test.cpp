// Streaming content (Session::set_content_consumer): the consumer gets exactly the bytes
// Deliver would have carried, in order, however the input is cut; it is told to forget
// them whenever they will not be delivered (size, shed, policy, RSET); and the session
// keeps no copy of its own.
#include "harness.hpp"

using namespace refmail::smtp;
using namespace refmail::smtp::test;

namespace {

struct Recorder final : ContentConsumer {
  std::vector<std::string> events;  // "begin N" (recipients), "discard"
  std::string bytes;                // of the current message
  std::size_t held = 0;
  void begin(const Envelope& env) override {
    events.push_back("begin " + std::to_string(env.rcpt_to.size()));
    bytes.clear();
  }
  void write(std::string_view b) override {
    bytes.append(b);
    held = bytes.size();
  }
  void discard() override {
    events.push_back("discard");
    bytes.clear();
    held = 0;
  }
  std::size_t held_bytes() const override { return held; }
};

const std::string kTxn = "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nRCPT TO:<g@e.f>\r\n";

struct Streamed {
  std::string out;
  Recorder rec;
  std::vector<Deliver> deliveries;
};

Streamed run(const std::vector<std::string>& turns, std::size_t chunk, Limits l = {}) {
  Streamed r;
  Driver d(default_options(), l);
  d.session().set_content_consumer(&r.rec);
  for (const auto& t : turns) d.feed(t, chunk);
  r.out = d.result().out;
  r.deliveries = d.result().deliveries;
  return r;
}

TEST(ContentConsumer, GetsTheUnstuffedBytesAndDeliverCarriesNone) {
  const std::string body = "Subject: t\r\n\r\n..leading dot\r\nlast\r\n";
  for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
    Streamed r = run({kTxn + "DATA\r\n", body + ".\r\n"}, chunk);
    ASSERT_EQ(r.deliveries.size(), 1u) << chunk;
    EXPECT_TRUE(r.deliveries[0].bytes.empty());
    EXPECT_EQ(r.deliveries[0].envelope.rcpt_to.size(), 2u);
    EXPECT_EQ(r.rec.bytes, "Subject: t\r\n\r\n.leading dot\r\nlast\r\n") << chunk;
    EXPECT_EQ(r.rec.events, std::vector<std::string>{"begin 2"}) << chunk;
    EXPECT_NE(r.out.find("[DELIVER 0]\n250 2.0.0 Ok: queued as Q1"), std::string::npos);
  }
}

TEST(ContentConsumer, BdatChunksArriveInOrderAndRsetDiscards) {
  Streamed r = run({kTxn + "BDAT 5\r\nabcdeBDAT 3\r\nfghRSET\r\n", "MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 4 LAST\r\nwxyz"}, 1);
  EXPECT_EQ(r.rec.events, (std::vector<std::string>{"begin 2", "discard", "begin 1"}));
  EXPECT_EQ(r.rec.bytes, "wxyz");
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_TRUE(r.deliveries[0].bytes.empty());
}

TEST(ContentConsumer, RefusedContentIsDiscarded) {
  Limits small;
  small.max_message_size = 10;
  Streamed big = run({kTxn + "DATA\r\n", "0123456789abcdef\r\n.\r\n"}, 3, small);
  EXPECT_EQ(big.rec.events, (std::vector<std::string>{"begin 2", "discard"}));
  EXPECT_NE(big.out.find("552 5.3.4"), std::string::npos);
  EXPECT_TRUE(big.deliveries.empty());

  Streamed nul = run({kTxn + "DATA\r\n", std::string("a\0b\r\n.\r\n", 8)}, 0);
  EXPECT_EQ(nul.rec.events, (std::vector<std::string>{"begin 2", "discard"}));
  EXPECT_NE(nul.out.find("554 5.6.0"), std::string::npos);
  EXPECT_TRUE(nul.deliveries.empty());
}

TEST(ContentConsumer, ShedDiscardsAndTheSessionHoldsNothingOfItsOwn) {
  Recorder rec;
  Driver d(default_options(), Limits{});
  d.session().set_content_consumer(&rec);
  d.feed(kTxn + "DATA\r\n");
  d.feed(std::string(5000, 'x') + "\r\n");
  EXPECT_EQ(d.session().held_content_bytes(), 5002u) << "the consumer's figure";
  d.session().shed_content();
  EXPECT_EQ(rec.events, (std::vector<std::string>{"begin 2", "discard"}));
  EXPECT_EQ(d.session().held_content_bytes(), 0u);
  d.feed("more\r\n.\r\n");
  EXPECT_TRUE(rec.bytes.empty()) << "nothing written after the discard";
  EXPECT_NE(d.result().out.find("452 4.3.1"), std::string::npos);
  EXPECT_TRUE(d.result().deliveries.empty());
}

}  // namespace
