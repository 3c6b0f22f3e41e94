// tests/unit/storage/sieve_test.cpp — per-account Sieve scripts (storage/sieve.cpp) on
// both backends (RocksDB in a fresh folder, and the in-memory one): put/get/list,
// activate (the active copy follows put and rename), delete refusing the active
// script, the size and count limits, names, and removal with the account.
#include <gtest/gtest.h>

#include "tests/unit/storage/helpers.hpp"

namespace refmail::storage {
namespace {

class SieveStore : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto o = testing::test_options(dir_.path() / "db");
    o.in_memory = GetParam();
    store_ = testing::open_store(o);
    ASSERT_NE(store_, nullptr);
    testing::add_users(*store_, {"a@example.test", "b@example.test"});
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  SieveLimits lim_;
};

TEST_P(SieveStore, PutGetListReplace) {
  auto& s = *store_;
  ASSERT_TRUE(s.sieve_put("a@example.test", "main", "keep;\r\n", lim_));
  ASSERT_TRUE(s.sieve_put("a@example.test", "b-second", "discard;", lim_));
  auto g = s.sieve_get("A@Example.test", "main");  // the account is canonicalised
  ASSERT_TRUE(g);
  ASSERT_TRUE(*g);
  EXPECT_EQ(**g, "keep;\r\n");
  auto l = s.sieve_list("a@example.test");
  ASSERT_TRUE(l);
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0].name, "b-second");
  EXPECT_EQ((*l)[0].size_bytes, 8u);
  EXPECT_EQ((*l)[1].name, "main");
  EXPECT_FALSE((*l)[1].active);
  ASSERT_TRUE(s.sieve_put("a@example.test", "main", "stop;", lim_));
  EXPECT_EQ(**s.sieve_get("a@example.test", "main"), "stop;");
  // Another account sees nothing; an unknown name is nullopt.
  EXPECT_TRUE(s.sieve_list("b@example.test")->empty());
  EXPECT_FALSE(*s.sieve_get("b@example.test", "main"));
  // An unknown account cannot store scripts.
  auto u = s.sieve_put("nobody@example.test", "x", "keep;", lim_);
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error(), errc::not_found);
}

TEST_P(SieveStore, ActiveScriptFollowsPutRenameAndDeactivate) {
  auto& s = *store_;
  EXPECT_FALSE(*s.sieve_active("a@example.test"));
  ASSERT_TRUE(s.sieve_put("a@example.test", "one", "keep;", lim_));
  ASSERT_TRUE(s.sieve_put("a@example.test", "two", "discard;", lim_));
  auto missing = s.sieve_activate("a@example.test", "three");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), errc::not_found);
  ASSERT_TRUE(s.sieve_activate("a@example.test", "one"));
  auto act = s.sieve_active("a@example.test");
  ASSERT_TRUE(act && *act);
  EXPECT_EQ((*act)->name, "one");
  EXPECT_EQ((*act)->content, "keep;");
  // Replacing the active script replaces the copy delivery reads.
  ASSERT_TRUE(s.sieve_put("a@example.test", "one", "fileinto \"x\";", lim_));
  EXPECT_EQ((*s.sieve_active("a@example.test"))->content, "fileinto \"x\";");
  // Renaming keeps it active under the new name.
  ASSERT_TRUE(s.sieve_rename("a@example.test", "one", "uno"));
  act = s.sieve_active("a@example.test");
  EXPECT_EQ((*act)->name, "uno");
  EXPECT_EQ((*act)->content, "fileinto \"x\";");
  auto l = s.sieve_list("a@example.test");
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[1].name, "uno");
  EXPECT_TRUE((*l)[1].active);
  EXPECT_FALSE((*l)[0].active);
  // Rename onto a taken name, or of a missing script.
  EXPECT_EQ(s.sieve_rename("a@example.test", "uno", "two").error(), errc::exists);
  EXPECT_EQ(s.sieve_rename("a@example.test", "nope", "x").error(), errc::not_found);
  EXPECT_TRUE(s.sieve_rename("a@example.test", "two", "two"));
  // Switching the active script, then deactivating.
  ASSERT_TRUE(s.sieve_activate("a@example.test", "two"));
  EXPECT_EQ((*s.sieve_active("a@example.test"))->name, "two");
  ASSERT_TRUE(s.sieve_activate("a@example.test", ""));
  EXPECT_FALSE(*s.sieve_active("a@example.test"));
  EXPECT_TRUE(s.sieve_activate("a@example.test", ""));  // none active: still fine
}

// JMAP (RFC 9661) ids are immutable: replacement and rename keep a script's id; a name
// deleted and stored again is a new script with a new id.
TEST_P(SieveStore, IdsSurviveReplaceAndRename) {
  auto& s = *store_;
  ASSERT_TRUE(s.sieve_put("a@example.test", "one", "keep;", lim_));
  ASSERT_TRUE(s.sieve_put("a@example.test", "two", "keep;", lim_));
  auto l = s.sieve_list("a@example.test");
  ASSERT_TRUE(l);
  ASSERT_EQ(l->size(), 2u);
  const std::string one = (*l)[0].id, two = (*l)[1].id;
  EXPECT_FALSE(one.empty());
  EXPECT_NE(one, two);
  ASSERT_TRUE(s.sieve_put("a@example.test", "one", "discard;", lim_));
  ASSERT_TRUE(s.sieve_rename("a@example.test", "one", "uno"));
  l = s.sieve_list("a@example.test");
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[1].name, "uno");
  EXPECT_EQ((*l)[1].id, one);
  EXPECT_EQ((*l)[1].size_bytes, 8u);
  EXPECT_EQ(**s.sieve_get("a@example.test", "uno"), "discard;");
  ASSERT_TRUE(s.sieve_delete("a@example.test", "two"));
  ASSERT_TRUE(s.sieve_put("a@example.test", "two", "keep;", lim_));
  l = s.sieve_list("a@example.test");
  EXPECT_NE((*l)[0].id, two);
}

TEST_P(SieveStore, DeleteRefusesTheActiveScript) {
  auto& s = *store_;
  ASSERT_TRUE(s.sieve_put("a@example.test", "one", "keep;", lim_));
  ASSERT_TRUE(s.sieve_activate("a@example.test", "one"));
  auto d = s.sieve_delete("a@example.test", "one");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), errc::in_use);
  EXPECT_EQ(s.sieve_delete("a@example.test", "two").error(), errc::not_found);
  ASSERT_TRUE(s.sieve_activate("a@example.test", ""));
  ASSERT_TRUE(s.sieve_delete("a@example.test", "one"));
  EXPECT_TRUE(s.sieve_list("a@example.test")->empty());
}

TEST_P(SieveStore, LimitsOnSizeAndCount) {
  auto& s = *store_;
  SieveLimits lim;
  lim.max_script_bytes = 10;
  lim.max_scripts = 2;
  EXPECT_EQ(s.sieve_put("a@example.test", "big", std::string(11, 'x'), lim).error(), errc::too_large);
  EXPECT_EQ(s.sieve_check_space("a@example.test", "big", 11, lim).error(), errc::too_large);
  ASSERT_TRUE(s.sieve_put("a@example.test", "one", std::string(10, 'x'), lim));
  ASSERT_TRUE(s.sieve_put("a@example.test", "two", "x", lim));
  EXPECT_EQ(s.sieve_put("a@example.test", "three", "x", lim).error(), errc::quota_exceeded);
  EXPECT_EQ(s.sieve_check_space("a@example.test", "three", 1, lim).error(), errc::quota_exceeded);
  // Replacing an existing script does not count as one more.
  EXPECT_TRUE(s.sieve_check_space("a@example.test", "two", 5, lim));
  EXPECT_TRUE(s.sieve_put("a@example.test", "two", "yy", lim));
  EXPECT_EQ(s.sieve_list("a@example.test")->size(), 2u);
}

TEST_P(SieveStore, Names) {
  EXPECT_TRUE(valid_sieve_name("a"));
  EXPECT_TRUE(valid_sieve_name("Vacation rules 2026"));
  EXPECT_TRUE(valid_sieve_name("r\xc3\xa8gles"));          // UTF-8
  EXPECT_TRUE(valid_sieve_name(std::string(128, 'x')));
  EXPECT_FALSE(valid_sieve_name(std::string(129, 'x')));
  EXPECT_TRUE(valid_sieve_name(std::string(128 * 2 / 2, 'x')));
  std::string e128;
  for (int i = 0; i < 128; ++i) e128 += "\xc3\xa9";  // 128 characters, 256 bytes
  EXPECT_TRUE(valid_sieve_name(e128));
  EXPECT_FALSE(valid_sieve_name(e128 + "x"));
  EXPECT_FALSE(valid_sieve_name(""));
  EXPECT_FALSE(valid_sieve_name("a/b"));
  EXPECT_FALSE(valid_sieve_name("a\nb"));
  EXPECT_FALSE(valid_sieve_name(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_sieve_name("a\x7f"));
  EXPECT_FALSE(valid_sieve_name("a\xc2\x85"));      // U+0085 (C1)
  EXPECT_FALSE(valid_sieve_name("a\xe2\x80\xa8"));  // U+2028
  EXPECT_FALSE(valid_sieve_name("\xc3"));           // truncated
  EXPECT_FALSE(valid_sieve_name("\xc0\xaf"));       // overlong '/'
  EXPECT_FALSE(valid_sieve_name("\xed\xa0\x80"));   // surrogate
  EXPECT_EQ(store_->sieve_put("a@example.test", "a/b", "keep;", lim_).error(), errc::invalid_argument);
  EXPECT_EQ(store_->sieve_rename("a@example.test", "x", "").error(), errc::invalid_argument);
}

TEST_P(SieveStore, RemovedWithTheAccount) {
  auto& s = *store_;
  ASSERT_TRUE(s.sieve_put("a@example.test", "one", "keep;", lim_));
  ASSERT_TRUE(s.sieve_activate("a@example.test", "one"));
  ASSERT_TRUE(s.sieve_put("b@example.test", "one", "keep;", lim_));
  ASSERT_TRUE(s.remove_user("a@example.test"));
  EXPECT_TRUE(s.sieve_list("a@example.test")->empty());
  EXPECT_FALSE(*s.sieve_active("a@example.test"));
  EXPECT_EQ(s.sieve_list("b@example.test")->size(), 1u);  // another account keeps its own
  // A re-created account starts with none.
  testing::add_users(s, {"a@example.test"});
  EXPECT_TRUE(s.sieve_list("a@example.test")->empty());
  testing::expect_fsck_clean(s);
}

// Delivery's memory (vacation: one reply per sender per period; a failing script: told
// once): true the first time and after the time passed, false meanwhile; per account;
// gone with the account.
TEST_P(SieveStore, RememberOnceUntil) {
  auto& s = *store_;
  auto r = s.sieve_remember("a@example.test", "vacation:k1", 1000, 1000 + 86400);
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r);
  EXPECT_FALSE(*s.sieve_remember("a@example.test", "vacation:k1", 2000, 2000 + 86400));
  EXPECT_TRUE(*s.sieve_remember("b@example.test", "vacation:k1", 2000, 2000 + 86400));  // another account
  EXPECT_TRUE(*s.sieve_remember("a@example.test", "vacation:k2", 2000, 2000 + 86400));  // another key
  EXPECT_TRUE(*s.sieve_remember("a@example.test", "vacation:k1", 1000 + 86400, 1000 + 2 * 86400));  // expired
  EXPECT_FALSE(*s.sieve_remember("a@example.test", "vacation:k1", 1000 + 86401, 1000 + 3 * 86400));
  EXPECT_FALSE(s.sieve_remember("a@example.test", "", 1, 2));
  EXPECT_FALSE(s.sieve_remember("a@example.test", std::string(300, 'k'), 1, 2));
  auto nobody = s.sieve_remember("nobody@example.test", "k", 1, 2);
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.error(), errc::not_found);
  ASSERT_TRUE(s.remove_user("a@example.test"));
  testing::add_users(s, {"a@example.test"});
  EXPECT_TRUE(*s.sieve_remember("a@example.test", "vacation:k1", 1000 + 86402, 1000 + 3 * 86400));
}

// The vacation reply settings (JMAP VacationResponse): defaults until set, every
// optional kept apart from its absence, a version per write, gone with the account.
TEST_P(SieveStore, VacationSettingsRoundTrip) {
  auto& s = *store_;
  auto none = s.vacation_get("a@example.test");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->enabled);
  EXPECT_FALSE(none->subject);
  EXPECT_EQ(none->version, 0u);
  VacationSettings v;
  v.enabled = true;
  v.from_date = 0;  // a set zero is not null
  v.to_date = 1'800'000'000;
  v.subject = "";
  v.text_body = std::string("away\r\n\0back", 13);
  auto ver = s.vacation_set("a@example.test", v);
  ASSERT_TRUE(ver);
  EXPECT_EQ(*ver, 1u);
  auto got = s.vacation_get("A@Example.test");
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->enabled);
  EXPECT_EQ(got->from_date, std::optional<std::int64_t>(0));
  EXPECT_EQ(got->to_date, std::optional<std::int64_t>(1'800'000'000));
  EXPECT_EQ(got->subject, std::optional<std::string>(""));
  EXPECT_EQ(got->text_body, std::optional<std::string>(std::string("away\r\n\0back", 13)));
  EXPECT_FALSE(got->html_body);
  EXPECT_EQ(got->version, 1u);
  v.enabled = false;
  v.from_date.reset();
  EXPECT_EQ(*s.vacation_set("a@example.test", v), 2u);
  EXPECT_FALSE(s.vacation_get("a@example.test")->from_date);
  EXPECT_FALSE(s.vacation_get("b@example.test")->enabled);  // another account's own
  auto nobody = s.vacation_set("nobody@example.test", v);
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.error(), errc::not_found);
  ASSERT_TRUE(s.remove_user("a@example.test"));
  testing::add_users(s, {"a@example.test"});
  EXPECT_EQ(s.vacation_get("a@example.test")->version, 0u);
  testing::expect_fsck_clean(s);
}

INSTANTIATE_TEST_SUITE_P(Backends, SieveStore, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Memory" : "RocksDB"; });

}  // namespace
}  // namespace refmail::storage
