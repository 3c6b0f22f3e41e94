// tests/unit/server/managesieve_store_test.cpp — run_script_request: each ManageSieve
// script request on a real store (the in-memory backend) and the store's errors mapped to
// RFC 5804 response codes; the placeholder script check.
#include <gtest/gtest.h>

#include "delivery/sieve_filter.hpp"

#include "server/managesieve_server.hpp"
#include "storage/store.hpp"

namespace refmail::server {
namespace {

using managesieve::ScriptOp;
using managesieve::ScriptRequest;
using managesieve::ScriptStatus;

class ManageSieveStore : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::StoreOptions o;
    o.path = "in-memory";
    o.in_memory = true;
    o.password_cost = storage::PasswordCost::test_minimal;
    auto s = storage::Store::open(o);
    ASSERT_TRUE(s) << storage::error_detail(s.error());
    store_ = std::move(*s);
    ASSERT_TRUE(store_->add_domain("example.test"));
    ASSERT_TRUE(store_->add_user("a@example.test", "pw"));
    limits_.max_script_bytes = 100;
    limits_.max_scripts = 2;
  }
  managesieve::ScriptReply run(ScriptOp op, std::string name = {}, std::string arg = {}, std::uint64_t size = 0) {
    ScriptRequest r;
    r.op = op;
    r.name = std::move(name);
    if (op == ScriptOp::Rename) r.new_name = arg; else r.content = arg;
    r.size_bytes = size;
    return run_script_request(*store_, "a@example.test", r, limits_);
  }
  std::unique_ptr<storage::Store> store_;
  storage::SieveLimits limits_;
};

TEST_F(ManageSieveStore, EveryRequestAndItsCode) {
  EXPECT_EQ(run(ScriptOp::Put, "one", "keep;").status, ScriptStatus::Ok);
  EXPECT_EQ(run(ScriptOp::Put, "two", "stop;").status, ScriptStatus::Ok);
  EXPECT_EQ(run(ScriptOp::Put, "three", "stop;").status, ScriptStatus::MaxScripts);
  EXPECT_EQ(run(ScriptOp::HaveSpace, "three", {}, 10).status, ScriptStatus::MaxScripts);
  EXPECT_EQ(run(ScriptOp::HaveSpace, "one", {}, 101).status, ScriptStatus::MaxSize);
  EXPECT_EQ(run(ScriptOp::HaveSpace, "one", {}, 100).status, ScriptStatus::Ok);
  EXPECT_EQ(run(ScriptOp::Put, "one", std::string(101, 'x')).status, ScriptStatus::MaxSize);
  EXPECT_EQ(run(ScriptOp::Put, "a/b", "keep;").status, ScriptStatus::Invalid);
  EXPECT_EQ(run(ScriptOp::Activate, "one").status, ScriptStatus::Ok);
  EXPECT_EQ(run(ScriptOp::Activate, "nope").status, ScriptStatus::NonExistent);
  auto list = run(ScriptOp::List);
  ASSERT_EQ(list.scripts.size(), 2u);
  EXPECT_EQ(list.scripts[0].name, "one");
  EXPECT_TRUE(list.scripts[0].active);
  EXPECT_FALSE(list.scripts[1].active);
  auto get = run(ScriptOp::Get, "one");
  EXPECT_EQ(get.status, ScriptStatus::Ok);
  EXPECT_EQ(get.content, "keep;");
  EXPECT_EQ(run(ScriptOp::Get, "nope").status, ScriptStatus::NonExistent);
  EXPECT_EQ(run(ScriptOp::Delete, "one").status, ScriptStatus::Active);
  EXPECT_EQ(run(ScriptOp::Delete, "nope").status, ScriptStatus::NonExistent);
  EXPECT_EQ(run(ScriptOp::Rename, "one", "two").status, ScriptStatus::AlreadyExists);
  EXPECT_EQ(run(ScriptOp::Rename, "nope", "x").status, ScriptStatus::NonExistent);
  EXPECT_EQ(run(ScriptOp::Rename, "one", "uno").status, ScriptStatus::Ok);
  auto active = store_->sieve_active("a@example.test");
  ASSERT_TRUE(active && *active);
  EXPECT_EQ((*active)->name, "uno");
  EXPECT_EQ(run(ScriptOp::Activate, "").status, ScriptStatus::Ok);
  EXPECT_EQ(run(ScriptOp::Delete, "uno").status, ScriptStatus::Ok);
}

TEST(ManageSieveValidate, TextThatCompiles) {
  // What PUTSCRIPT stores: UTF-8 text without NUL that compiles (delivery::validate_sieve).
  EXPECT_EQ(delivery::validate_sieve("keep;\r\n"), "");
  EXPECT_EQ(delivery::validate_sieve("# r\xc3\xa8gle\r\nkeep;"), "");
  EXPECT_EQ(delivery::validate_sieve(""), "");  // RFC 5228: no commands is the implicit keep
  EXPECT_NE(delivery::validate_sieve(std::string("keep;\0", 6)), "");
  EXPECT_NE(delivery::validate_sieve("keep; \xff"), "");
  EXPECT_NE(delivery::validate_sieve("\xed\xa0\x80"), "");  // a surrogate
  EXPECT_NE(delivery::validate_sieve("kep;"), "");
}

}  // namespace
}  // namespace refmail::server
