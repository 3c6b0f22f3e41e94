// BDAT / CHUNKING / BINARYMIME (RFC 3030): exact byte counts, no unstuffing, LAST,
// size limits, refused chunks drained before the reply.
#include "harness.hpp"

using namespace refmail::smtp;
using namespace refmail::smtp::test;

namespace {

const std::string kTxn = "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\n";
const std::string kStart = std::string(kGreeting) + kEhloPlain + "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n";

TEST(Bdat, ChunksAreExactAndNotUnstuffed) {
  auto r = expect_transcript({kTxn + "BDAT 5\r\n.\r\n.\r", "BDAT 4 LAST\r\n\n..\n"},
                             kStart + "250 2.0.0 Ok: 5 octets received\r\n[DELIVER 9]\n"
                                      "250 2.0.0 Ok: queued as Q1\r\n");
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_EQ(r.deliveries[0].bytes, ".\r\n.\r\n..\n");
  EXPECT_TRUE(r.deliveries[0].envelope.chunking);
}

TEST(Bdat, ZeroLengthLast) {
  auto r = expect_transcript({kTxn + "BDAT 3\r\nabcBDAT 0 LAST\r\n"},
                             kStart + "250 2.0.0 Ok: 3 octets received\r\n[DELIVER 3]\n"
                                      "250 2.0.0 Ok: queued as Q1\r\n");
  EXPECT_EQ(r.deliveries.at(0).bytes, "abc");
}

TEST(Bdat, WithoutMailConsumesBytesThen503) {
  // "MAIL FROM" inside the chunk must not be executed as a command.
  expect_transcript({"EHLO c\r\nBDAT 21\r\nMAIL FROM:<x@y.z>\r\n\r\nNOOP\r\n"},
                    std::string(kGreeting) + kEhloPlain + "503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n");
}

TEST(Bdat, AfterFailedMailConsumesBytesThen503) {
  expect_transcript({"EHLO c\r\nMAIL FROM:<bad\r\nBDAT 12 LAST\r\nRSET\r\nQUIT\r\nNOOP\r\n"},
                    std::string(kGreeting) + kEhloPlain +
                        "501 5.1.7 Bad sender address syntax\r\n503 5.5.1 Error: need MAIL command\r\n"
                        "250 2.0.0 Ok\r\n");
}

TEST(Bdat, NoRecipients554) {
  expect_transcript({"EHLO c\r\nMAIL FROM:<a@b.c>\r\nBDAT 2 LAST\r\nxyNOOP\r\n"},
                    std::string(kGreeting) + kEhloPlain +
                        "250 2.1.0 Ok\r\n554 5.5.1 Error: no valid recipients\r\n250 2.0.0 Ok\r\n");
}

TEST(Bdat, BeforeEhlo) {
  expect_transcript({"BDAT 4\r\nabcdNOOP\r\n"},
                    std::string(kGreeting) + "503 5.5.1 Error: send EHLO first\r\n250 2.0.0 Ok\r\n");
  expect_transcript({"HELO c\r\nBDAT 4\r\nabcdNOOP\r\n"},
                    std::string(kGreeting) + "250 mx.test\r\n503 5.5.1 Error: send EHLO first\r\n250 2.0.0 Ok\r\n");
}

TEST(Bdat, OverSizeEndsTransaction) {
  Limits l;
  l.max_message_size = 10;
  auto r = check_all_splits(default_options(), l,
                            {kTxn + "BDAT 8\r\n12345678BDAT 8\r\n12345678BDAT 1 LAST\r\nxNOOP\r\n"});
  EXPECT_NE(r.out.find("250 2.0.0 Ok: 8 octets received\r\n"
                       "552 5.3.4 Error: message file too big\r\n"
                       "503 5.5.1 Error: need MAIL command\r\n"
                       "250 2.0.0 Ok\r\n"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(r.deliveries.empty());
}

TEST(Bdat, OverSizeInLastChunk) {
  Limits l;
  l.max_message_size = 10;
  auto r = check_all_splits(default_options(), l, {kTxn + "BDAT 11 LAST\r\n12345678901NOOP\r\n"});
  EXPECT_NE(r.out.find("552 5.3.4 Error: message file too big\r\n250 2.0.0 Ok\r\n"), std::string::npos) << r.out;
  EXPECT_TRUE(r.deliveries.empty());
}

TEST(Bdat, OnlyBdatRsetNoopQuitWhileOpen) {
  expect_transcript({kTxn + "BDAT 1\r\nxDATA\r\nRCPT TO:<z@y.x>\r\nNOOP\r\nRSET\r\nDATA\r\n"},
                    kStart + "250 2.0.0 Ok: 1 octets received\r\n"
                             "503 5.5.1 Error: BDAT transaction in progress\r\n"
                             "503 5.5.1 Error: BDAT transaction in progress\r\n"
                             "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"
                             "503 5.5.1 Error: need MAIL command\r\n");
}

TEST(Bdat, SyntaxErrors) {
  expect_transcript({kTxn + "BDAT\r\nBDAT x\r\nBDAT 1 NOTLAST\r\n"},
                    kStart + "501 5.5.4 Syntax: BDAT size [LAST]\r\n"
                             "501 5.5.4 Syntax: BDAT size [LAST]\r\n"
                             "501 5.5.4 Syntax: BDAT size [LAST]\r\n");
}

TEST(Bdat, BinaryMimeAllowsNulAndLongLines) {
  Limits l;
  l.max_data_line = 10;
  const std::string bin = std::string("\0\x01\xff", 3) + std::string(50, 'z');
  auto r = check_all_splits(default_options(), l,
                            {"EHLO c\r\nMAIL FROM:<a@b.c> BODY=BINARYMIME\r\nRCPT TO:<d@e.f>\r\nBDAT " +
                             std::to_string(bin.size()) + " LAST\r\n" + bin});
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_EQ(r.deliveries[0].bytes, bin);
  EXPECT_EQ(r.deliveries[0].envelope.params.body, Body::BinaryMime);
  // Without BINARYMIME the same content is refused.
  r = check_all_splits(default_options(), l,
                       {kTxn + "BDAT " + std::to_string(bin.size()) + " LAST\r\n" + bin});
  EXPECT_TRUE(r.deliveries.empty());
  EXPECT_NE(r.out.find("554 5.6.0 Error: message contains NUL characters\r\n"), std::string::npos);
}

TEST(Bdat, HugeChunkIsDrainedNotStored) {
  Limits l;
  l.max_message_size = 1000;
  Driver d(default_options(), l);
  d.feed(kTxn + "BDAT 10000000 LAST\r\n");
  const std::string block(65536, 'q');
  std::size_t sent = 0;
  while (sent + block.size() <= 10000000) {
    d.feed(block);
    sent += block.size();
    ASSERT_LE(d.session().buffered_bytes(), 0u);
  }
  d.feed(std::string(10000000 - sent, 'q'));
  EXPECT_NE(d.result().out.find("552 5.3.4 Error: message file too big\r\n"), std::string::npos);
  EXPECT_TRUE(d.result().deliveries.empty());
}

}  // namespace
