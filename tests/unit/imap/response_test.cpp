// tests/unit/imap/response_test.cpp — the response writer (imap/response.hpp): status
// lines with codes, sanitised texts, untagged data, continuations, values.
#include "imap/response.hpp"

#include <gtest/gtest.h>

namespace refmail::imap {
namespace {

TEST(ImapResponse, StatusLines) {
  EXPECT_EQ(tagged("a1", Condition::Ok, "", "Done"), "a1 OK Done\r\n");
  EXPECT_EQ(tagged("a1", Condition::No, "TOOBIG", "Too big"), "a1 NO [TOOBIG] Too big\r\n");
  EXPECT_EQ(tagged("a1", Condition::Bad, "", ""), "a1 BAD completed\r\n");
  EXPECT_EQ(untagged_status(Condition::Bye, "ALERT", "Going down"), "* BYE [ALERT] Going down\r\n");
  EXPECT_EQ(untagged_status(Condition::PreAuth, "", "Hi"), "* PREAUTH Hi\r\n");
}

TEST(ImapResponse, PeerTextCannotInjectLines) {
  EXPECT_EQ(tagged("a", Condition::No, "X\r\n", "user\r\na OK evil\0"), "a NO [X  ] user  a OK evil\r\n");
  EXPECT_EQ(untagged(std::string_view("ID (\"a\r\nb\")\0", 12)), "* ID (\"a  b\") \r\n");
  EXPECT_EQ(continuation("x\ny"), "+ x y\r\n");
  EXPECT_EQ(continuation(""), "+ \r\n");
  EXPECT_EQ(safe_text(std::string(5000, 'x')).size(), 1000u);
}

TEST(ImapResponse, Builder) {
  ResponseBuilder b;
  std::string name = "a\"b";
  b.atom("X").sp().open().string("plain", false).sp().string(name, false).sp().nstring(nullptr, false).sp()
      .nstring(&name, false).sp().number(42).sp().string("\xc3\xbc", true).sp().string("\xc3\xbc", false).close();
  EXPECT_EQ(b.str(), "X (\"plain\" \"a\\\"b\" NIL \"a\\\"b\" 42 \"\xc3\xbc\" {2}\r\n\xc3\xbc)");
  ResponseBuilder l;
  l.atom("BODY[] ").literal_prefix(123, false);
  EXPECT_EQ(l.take(), "BODY[] {123}\r\n");
  ResponseBuilder l8;
  l8.literal_prefix(7, true);
  EXPECT_EQ(l8.str(), "~{7}\r\n");
}

}  // namespace
}  // namespace refmail::imap
