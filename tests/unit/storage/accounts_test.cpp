// tests/unit/storage/accounts_test.cpp — domains, users, passwords (argon2id),
// aliases with catch-alls and loops, recipient resolution, case-insensitivity.
#include "helpers.hpp"

namespace refmail::storage::testing {
namespace {

// The default cost is argon2id m = 9 MiB, t = 4 (each check holds 9 MiB, not 64); a
// hash made with other parameters is replaced at the next successful login only.
TEST(Accounts, PasswordHashesUseTheStoreCostAndOlderOnesAreRehashedAtLogin) {
  TempDir dir;
  {
    auto s = open_store(test_options(dir.path()));  // libsodium's minimum: an "old" hash
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->add_domain("x.test"));
    ASSERT_TRUE(s->add_user("old@x.test", "old secret"));
    EXPECT_EQ(s->get_user("old@x.test")->password_params, "m=8,t=1,p=1");
  }
  auto o = test_options(dir.path());
  o.password_cost = PasswordCost::interactive;
  auto s = open_store(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->add_user("new@x.test", "new secret"));
  EXPECT_EQ(s->get_user("new@x.test")->password_params, "m=9216,t=4,p=1");
  EXPECT_EQ(s->verify_password("old@x.test", "wrong").error(), errc::bad_password);
  EXPECT_EQ(s->get_user("old@x.test")->password_params, "m=8,t=1,p=1") << "a failed login changes nothing";
  ASSERT_TRUE(s->verify_password("old@x.test", "old secret"));
  EXPECT_EQ(s->get_user("old@x.test")->password_params, "m=9216,t=4,p=1");
  ASSERT_TRUE(s->verify_password("old@x.test", "old secret"));
  EXPECT_EQ(s->verify_password("old@x.test", "wrong").error(), errc::bad_password);
}

TEST(Accounts, DomainsAreCaseInsensitiveAndRemovalRefusesWhileUsed) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->add_domain("Example.ORG"));
  EXPECT_EQ(s->add_domain("example.org").error(), errc::exists);
  EXPECT_EQ(s->add_domain("bad domain").error(), errc::invalid_argument);
  EXPECT_EQ(s->add_domain("a..b").error(), errc::invalid_argument);
  EXPECT_EQ(*s->list_domains(), std::vector<std::string>{"example.org"});
  EXPECT_TRUE(*s->is_local_domain("EXAMPLE.org."));
  ASSERT_TRUE(s->add_user("Bob@Example.org", "secret"));
  ASSERT_TRUE(s->verify_password("bob@example.org", "secret"));  // now remembered
  auto r = s->remove_domain("example.org");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::not_empty);
  EXPECT_NE(error_detail(r.error()).find("users"), std::string::npos);
  ASSERT_TRUE(s->remove_user("bob@example.org"));
  EXPECT_FALSE(s->verify_password("bob@example.org", "secret")) << "a removed user's remembered password";
  ASSERT_TRUE(s->add_alias("info@example.org", {"x@far.test"}));
  EXPECT_EQ(s->remove_domain("example.org").error(), errc::not_empty);
  ASSERT_TRUE(s->remove_alias("info@example.org"));
  ASSERT_TRUE(s->remove_domain("example.org"));
  EXPECT_TRUE(s->list_domains()->empty());
  EXPECT_EQ(s->remove_domain("example.org").error(), errc::not_found);
}

TEST(Accounts, UsersPasswordsAndFlags) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->add_domain("x.test"));
  EXPECT_EQ(s->add_user("bob@other.test", "pw").error(), errc::not_local_domain);
  EXPECT_EQ(s->add_user("bob@x.test", "").error(), errc::invalid_argument);
  EXPECT_EQ(s->add_user("no-at-sign", "pw").error(), errc::invalid_argument);
  ASSERT_TRUE(s->add_user("Bob@X.test", "correct horse", /*is_admin=*/true, 1000));
  EXPECT_EQ(s->add_user("bob@x.test", "pw").error(), errc::exists);
  auto ok = s->verify_password("BOB@x.test", "correct horse");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, "bob@x.test");
  EXPECT_EQ(s->verify_password("bob@x.test", "Correct horse").error(), errc::bad_password);
  EXPECT_EQ(s->verify_password("nobody@x.test", "x").error(), errc::bad_password);
  ASSERT_TRUE(s->set_password("bob@x.test", "new one"));
  // "correct horse" was just verified (and remembered): the new stored hash voids that.
  EXPECT_FALSE(s->verify_password("bob@x.test", "correct horse"));
  EXPECT_TRUE(s->verify_password("bob@x.test", "new one"));
  EXPECT_TRUE(s->verify_password("bob@x.test", "new one"));  // remembered: no argon2id
  EXPECT_FALSE(s->verify_password("bob@x.test", "new on"));
  auto u = s->get_user("bob@x.test");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->is_admin);
  EXPECT_EQ(u->quota_bytes, 1000u);
  ASSERT_TRUE(s->set_admin("bob@x.test", false));
  EXPECT_FALSE(s->get_user("bob@x.test")->is_admin);
  ASSERT_TRUE(s->add_user("amy@x.test", "pw"));
  auto users = s->list_users("x.test");
  ASSERT_TRUE(users);
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].address, "amy@x.test");
  EXPECT_EQ(s->list_users()->size(), 2u);
  auto boxes = s->list_mailboxes("amy@x.test");
  ASSERT_TRUE(boxes);
  std::vector<std::string> names;
  for (const auto& b : *boxes) names.push_back(b.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"Archive", "Drafts", "INBOX", "Sent", "Trash"}));
}

TEST(Accounts, RemovingAUserExpungesItsMail) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"a@x.test", "b@x.test"});
  auto att = random_bytes(3000, 1);
  auto r = deliver(*s, {{"a@x.test"}, {"b@x.test"}, {"b@x.test", "Archive"}}, {att});
  ASSERT_TRUE(r);
  auto blob = s->get_message(r->message_id)->record.blob_ids.at(0);
  ASSERT_TRUE(s->remove_user("b@x.test"));
  EXPECT_EQ(s->get_message(r->message_id)->refcount, 1);
  EXPECT_EQ(*s->grant_count("b@x.test", blob), 0);
  EXPECT_EQ(s->get_user("b@x.test").error(), errc::not_found);
  EXPECT_EQ(s->stats()->per_account.count("b@x.test"), 0u);
  expect_fsck_clean(*s);
  ASSERT_TRUE(s->remove_user("a@x.test"));
  EXPECT_FALSE(s->blob_info(blob));
  EXPECT_EQ(s->stats()->physical_bytes, 0u);
  expect_fsck_clean(*s);
}

TEST(Accounts, AliasesResolveRecursivelyWithCatchAllAndLoops) {
  TempDir dir;
  auto s = open_store(test_options(dir.path()));
  ASSERT_TRUE(s);
  add_users(*s, {"amy@x.test", "bob@x.test", "cy@y.test"});
  ASSERT_TRUE(s->add_alias("Team@X.test", {"amy@x.test", "BOB@x.test", "cy@y.test"}));
  ASSERT_TRUE(s->add_alias("all@x.test", {"team@x.test", "partner@far.test", "all@x.test"}));
  ASSERT_TRUE(s->add_alias("@y.test", {"cy@y.test"}));
  ASSERT_TRUE(s->add_alias("loop1@x.test", {"loop2@x.test"}));
  ASSERT_TRUE(s->add_alias("loop2@x.test", {"loop1@x.test"}));
  EXPECT_EQ(s->add_alias("team@x.test", {"amy@x.test"}).error(), errc::exists);
  EXPECT_EQ(s->add_alias("x@nothere.test", {"amy@x.test"}).error(), errc::not_local_domain);

  auto r = s->resolve_recipient("ALL@x.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->accounts, (std::vector<std::string>{"amy@x.test", "bob@x.test", "cy@y.test"}));
  EXPECT_EQ(r->foreign, std::vector<std::string>{"partner@far.test"});
  auto u = s->resolve_recipient("Bob@X.Test");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->accounts, std::vector<std::string>{"bob@x.test"});
  auto catchall = s->resolve_recipient("anything@y.test");
  ASSERT_TRUE(catchall);
  EXPECT_EQ(catchall->accounts, std::vector<std::string>{"cy@y.test"});
  EXPECT_EQ(s->resolve_recipient("nobody@x.test").error(), errc::not_found);
  EXPECT_EQ(s->resolve_recipient("someone@far.test").error(), errc::not_local_domain);
  EXPECT_EQ(s->resolve_recipient("loop1@x.test").error(), errc::not_found);
  auto aliases = s->list_aliases("x.test");
  ASSERT_TRUE(aliases);
  EXPECT_EQ(aliases->size(), 4u);
  auto y = s->list_aliases("y.test");
  ASSERT_EQ(y->size(), 1u);
  EXPECT_EQ((*y)[0].address, "@y.test");
  ASSERT_TRUE(s->remove_alias("team@x.test"));
  EXPECT_EQ(s->remove_alias("team@x.test").error(), errc::not_found);
}

}  // namespace
}  // namespace refmail::storage::testing
