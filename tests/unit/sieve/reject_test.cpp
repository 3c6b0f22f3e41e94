// tests/unit/sieve/reject_test.cpp — RFC 5429 (reject, ereject): the reason, the
// cancelled implicit keep, and the conflicts with fileinto/keep (and vacation, RFC 5230
// 4.7) that are run-time errors ending in the implicit keep.
#include "tests/unit/sieve/sieve_test_util.hpp"

namespace refmail::sieve::test {
namespace {

TEST(SieveReject, Rfc5429Example) {
  const char* s = "require [\"reject\"];\n"
                  "if header :contains \"from\" \"coyote@desert.example.org\" {\n"
                  "   reject text:\nI am not taking mail from you, and I don't\nwant your birdseed, either!\n.\n;\n}\n";
  auto o = run_script(s, "From: coyote@desert.example.org\r\n\r\nx");
  ASSERT_TRUE(o.reject);
  EXPECT_EQ(*o.reject, "I am not taking mail from you, and I don't\r\nwant your birdseed, either!\r\n");
  EXPECT_FALSE(o.ereject);
  EXPECT_FALSE(o.keep);
  EXPECT_FALSE(run_script(s, "From: roadrunner@example.org\r\n\r\nx").reject);
}

TEST(SieveReject, Ereject) {
  auto o = run_script("require \"ereject\"; ereject \"no thanks\";");
  ASSERT_TRUE(o.reject);
  EXPECT_TRUE(o.ereject);
  EXPECT_FALSE(o.keep);
  EXPECT_EQ(compile_error("require \"reject\"; ereject \"x\";"), "1:19: command \"ereject\" requires \"ereject\"");
}

TEST(SieveReject, ConflictsAreRuntimeErrors) {
  for (const char* s : {
           "require [\"reject\", \"fileinto\"]; fileinto \"x\"; reject \"no\";",
           "require [\"reject\"]; keep; reject \"no\";",
           "require [\"reject\"]; reject \"no\"; keep;",
           "require [\"reject\", \"vacation\"]; reject \"no\"; vacation \"away\";",
           "require [\"reject\", \"ereject\"]; reject \"no\"; ereject \"no\";",
       }) {
    auto o = run_script(s);
    EXPECT_TRUE(o.runtime_error) << s;
    EXPECT_TRUE(o.keep) << s;
    EXPECT_FALSE(o.reject) << s;
    EXPECT_TRUE(o.fileinto.empty()) << s;
  }
  // redirect and discard are allowed with reject.
  auto o = run_script("require \"reject\"; redirect \"a@example.net\"; reject \"no\";");
  EXPECT_FALSE(o.runtime_error);
  EXPECT_EQ(o.redirects.size(), 1u);
}

}  // namespace
}  // namespace refmail::sieve::test
