// tests/unit/import/helpers.hpp — a fresh store for import tests: a temporary folder
// (storage's test helpers), domain example.test and the given users.
#pragma once
#include <initializer_list>
#include <memory>

#include "tests/unit/storage/helpers.hpp"

namespace refmail::import_testing {

class TestStore {
 public:
  TestStore(std::initializer_list<const char*> users, const char* password) {
    auto o = storage::testing::test_options(dir_.path(), storage::kMaxChunkBytes);
    o.sync_writes = false;
    store_ = storage::testing::open_store(o);
    EXPECT_TRUE(store_->add_domain("example.test"));
    for (const char* u : users) EXPECT_TRUE(store_->add_user(u, password));
  }
  storage::Store& operator*() { return *store_; }
  storage::Store* operator->() { return store_.get(); }

 private:
  storage::testing::TempDir dir_;  // declared first: removed after the store closes
  std::unique_ptr<storage::Store> store_;
};

}  // namespace refmail::import_testing
