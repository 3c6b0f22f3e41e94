// tests/unit/sieve/editheader_test.cpp — RFC 5293 (editheader): addheader at the top or
// with :last, deleteheader by name, :index/:last and value patterns, later tests seeing
// the edited header, and the protected fields (Received, Auto-Submitted).
#include "tests/unit/sieve/sieve_test_util.hpp"

namespace refmail::sieve::test {
namespace {

constexpr const char* kMsg = "Received: r1\r\nX-Tag: one\r\nSubject: s\r\nX-Tag: two\r\nX-Tag: three\r\n\r\nbody";

TEST(SieveEditHeader, AddHeader) {
  auto o = run_script("require \"editheader\"; addheader \"X-Sieve\" \"yes\"; addheader :last \"X-End\" \"caf\xC3\xA9\";"
                      "if header :is \"x-sieve\" \"yes\" { discard; }", kMsg);
  ASSERT_EQ(o.header_edits.size(), 2u);
  EXPECT_EQ(o.header_edits[0].kind, HeaderEdit::add);
  EXPECT_EQ(o.header_edits[0].name, "X-Sieve");
  EXPECT_EQ(o.header_edits[0].value, "yes");
  EXPECT_FALSE(o.header_edits[0].last);
  EXPECT_TRUE(o.header_edits[1].last);
  EXPECT_EQ(o.header_edits[1].value.rfind("=?", 0), 0u);  // RFC 2047 encoded
  EXPECT_TRUE(o.discard);  // the test saw the added field
  EXPECT_EQ(compile_error("require \"editheader\"; addheader \"Bad Name\" \"v\";"),
            "1:33: bad header field name \"Bad Name\"");
}

TEST(SieveEditHeader, DeleteHeader) {
  auto o = run_script("require \"editheader\"; deleteheader \"x-tag\"; if not exists \"x-tag\" { discard; }", kMsg);
  ASSERT_EQ(o.header_edits.size(), 3u);
  // Deleted bottom-up so each index is right when the edits are applied in order.
  EXPECT_EQ(o.header_edits[0].value, "three");
  EXPECT_EQ(o.header_edits[0].index, 3u);
  EXPECT_EQ(o.header_edits[2].value, "one");
  EXPECT_EQ(o.header_edits[2].index, 1u);
  EXPECT_TRUE(o.discard);

  o = run_script("require [\"editheader\", \"index\"]; deleteheader :index 1 :last \"x-tag\";", kMsg);
  ASSERT_EQ(o.header_edits.size(), 1u);
  EXPECT_EQ(o.header_edits[0].value, "three");

  o = run_script("require \"editheader\"; deleteheader :matches \"x-tag\" \"t*\";", kMsg);
  ASSERT_EQ(o.header_edits.size(), 2u);
  EXPECT_EQ(o.header_edits[0].value, "three");
  EXPECT_EQ(o.header_edits[1].value, "two");
}

TEST(SieveEditHeader, NoInjectionThroughVariables) {
  // A value taken from the message cannot start a new field.
  auto o = run_script("require [\"editheader\", \"variables\"]; if header :matches \"subject\" \"*\" {"
                      " addheader \"X-Orig\" \"${1}\"; }",
                      "Subject: =?utf-8?q?a=0D=0ABcc:_victim@example.net?=\r\n\r\nbody");
  ASSERT_EQ(o.header_edits.size(), 1u);
  EXPECT_EQ(o.header_edits[0].value.find('\n'), std::string::npos) << o.header_edits[0].value;
  EXPECT_EQ(o.header_edits[0].value.find('\r'), std::string::npos) << o.header_edits[0].value;
  // A field name from a variable is checked at run time.
  auto bad = run_script("require [\"editheader\", \"variables\"]; set \"n\" \"X-A: b\"; addheader \"${n}\" \"v\";", kMsg);
  EXPECT_TRUE(bad.runtime_error);
  EXPECT_TRUE(bad.header_edits.empty());
}

TEST(SieveEditHeader, ProtectedFields) {
  auto o = run_script("require \"editheader\"; deleteheader \"received\"; addheader \"Auto-Submitted\" \"no\";"
                      "if exists \"received\" { discard; }", kMsg);
  EXPECT_TRUE(o.header_edits.empty());
  EXPECT_TRUE(o.discard);
}

}  // namespace
}  // namespace refmail::sieve::test
