// tests/unit/web/concurrency_test.cpp — maxConcurrentRequests / maxConcurrentUpload:
// places per account, released when the ticket goes, other accounts unaffected.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "web/concurrency.hpp"

namespace refmail::web {
namespace {

TEST(ConcurrencyLimit, RefusesOverTheLimitPerAccountAndReleases) {
  ConcurrencyLimit limit(2);
  std::vector<ConcurrencyLimit::Ticket> held;
  held.push_back(limit.acquire("a@x.test"));
  held.push_back(limit.acquire("a@x.test"));
  EXPECT_TRUE(held[0] && held[1]);
  EXPECT_FALSE(limit.acquire("a@x.test"));
  EXPECT_TRUE(limit.acquire("b@x.test"));  // another account has its own places
  held.pop_back();
  auto again = limit.acquire("a@x.test");
  EXPECT_TRUE(again);
  EXPECT_FALSE(limit.acquire("a@x.test"));
}

TEST(ConcurrencyLimit, MovedTicketsReleaseOnce) {
  ConcurrencyLimit limit(1);
  std::optional<ConcurrencyLimit::Ticket> t(limit.acquire("a@x.test"));
  ASSERT_TRUE(*t);
  ConcurrencyLimit::Ticket moved(std::move(*t));
  t.reset();  // the moved-from ticket releases nothing
  EXPECT_FALSE(limit.acquire("a@x.test"));
}

}  // namespace
}  // namespace refmail::web
