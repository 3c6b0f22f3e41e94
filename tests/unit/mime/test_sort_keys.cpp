// tests/unit/mime/test_sort_keys.cpp — the keys emails sort by (mime/sort_keys.hpp):
// base subjects, address keys, the length bound, and hostile input.
#include <gtest/gtest.h>

#include "mime/sort_keys.hpp"
#include "mime/summary.hpp"

namespace refmail::mime {
namespace {

TEST(SortKeys, BaseSubjectStripsReplyAndForwardMarks) {
  EXPECT_EQ(base_subject("Lunch"), "lunch");
  EXPECT_EQ(base_subject("Re: Lunch"), "lunch");
  EXPECT_EQ(base_subject("RE: re: Fwd: lunch"), "lunch");
  EXPECT_EQ(base_subject("Re[2]: lunch"), "lunch");
  EXPECT_EQ(base_subject("Fw: lunch (fwd)"), "lunch");
  EXPECT_EQ(base_subject("[team] Re: lunch"), "lunch");
  EXPECT_EQ(base_subject("  \tlunch  "), "lunch");
  EXPECT_EQ(base_subject("Reply: lunch"), "reply: lunch");  // "re" must be followed by ':'
  EXPECT_EQ(base_subject("[only]"), "[only]");              // a blob alone stays
  EXPECT_EQ(base_subject(""), "");
}

TEST(SortKeys, BoundedCaseFoldedAndWithoutNul) {
  std::string long_subject(10000, 'A');
  EXPECT_EQ(base_subject(long_subject), std::string(kMaxSortKeyBytes, 'a'));
  EXPECT_EQ(base_subject(std::string("a\0b", 3)), "ab");
  // A cut never splits a UTF-8 sequence: 40 two-byte characters cut at 64 bytes.
  std::string accents;
  for (int i = 0; i < 40; ++i) accents += "\xc3\xa9";
  EXPECT_EQ(base_subject(accents).size(), 64u);
  std::string odd = "x" + accents;  // 81 bytes: the cut falls inside a character
  EXPECT_EQ(base_subject(odd).size(), 63u);
  // Many reply prefixes: bounded work, and they all go.
  std::string prefixes;
  for (int i = 0; i < 1000; ++i) prefixes += "re: ";
  EXPECT_EQ(base_subject(prefixes + "end"), "end");
}

TEST(SortKeys, AddressKeyIsTheFirstNameElseTheEmail) {
  EXPECT_EQ(address_sort_key({}), "");
  EXPECT_EQ(address_sort_key({Address{"Bob Smith", "bob@x.test"}, Address{"Amy", "amy@x.test"}}), "bob smith");
  EXPECT_EQ(address_sort_key({Address{"", "Amy@X.test"}}), "amy@x.test");
}

TEST(SortKeys, FromASummary) {
  Summary s;
  s.from.push_back(Address{"Zed", "z@x.test"});
  s.to.push_back(Address{"", "To@x.test"});
  s.subject = "Re: Plans";
  s.date = 1'700'000'000;
  auto k = sort_keys(s);
  EXPECT_EQ(k.sent_at, 1'700'000'000);
  EXPECT_EQ(k.from, "zed");
  EXPECT_EQ(k.to, "to@x.test");
  EXPECT_EQ(k.subject, "plans");
  EXPECT_EQ(sort_keys(Summary{}).sent_at, 0);  // no Date
}

}  // namespace
}  // namespace refmail::mime
