// tests/unit/delivery/dkim_signing_test.cpp — the submission signer (keys picked by the
// From domain once the header block ends, whatever the chunking) and the keyring's
// files (generate, rotate, list, remove, reload while running).
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "delivery/dkim_signing.hpp"
#include "tests/unit/trust/dkim_test_util.hpp"

namespace refmail::delivery {
namespace {

namespace dk = trust::dkim;
constexpr std::int64_t kNow = 1'760'000'000;

const std::string kMessage =
    "From: Alice <alice@example.test>\r\nTo: bob@remote.test\r\nSubject: hi\r\n\r\nbody line\r\n\r\nmore\r\n";

struct Keys {
  std::shared_ptr<const dk::PrivateKey> key = std::make_shared<const dk::PrivateKey>(*dk::generate_ed25519_key());
  std::vector<std::string> asked;
  SubmissionSigner::KeysFor fn() {
    return [this](std::string_view d) {
      asked.emplace_back(d);
      std::vector<dk::SignRequest> r;
      if (d != "example.test") return r;
      dk::SignRequest q;
      q.config.domain = "example.test";
      q.config.selector = "s1";
      q.key = key;
      r.push_back(std::move(q));
      return r;
    };
  }
  dk::test::MapLookup lookup() {
    dk::test::MapLookup l;
    l.records["s1._domainkey.example.test"] = {key->dns_record()};
    return l;
  }
};

std::vector<std::string> sign_in_chunks(SubmissionSigner& s, std::string_view m, std::size_t step) {
  for (std::size_t i = 0; i < m.size(); i += step) s.feed(m.substr(i, step));
  std::string why;
  auto out = s.finish(kNow, why);
  EXPECT_EQ(why, "");
  return out;
}

TEST(SubmissionSigner, SignsByFromDomainWhateverTheChunking) {
  for (std::size_t step : {1, 2, 3, 5, 64, 4096}) {
    Keys k;
    SubmissionSigner s(k.fn());
    auto fields = sign_in_chunks(s, kMessage, step);
    ASSERT_EQ(fields.size(), 1u) << step;
    EXPECT_EQ(k.asked, std::vector<std::string>{"example.test"});
    EXPECT_EQ(s.domain(), "example.test");
    auto l = k.lookup();
    auto r = dk::verify(fields[0] + kMessage, l, kNow);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status, dk::Status::Pass) << step << " " << r[0].reason;
  }
}

TEST(SubmissionSigner, NothingWithoutKeyOrSingleFromDomain) {
  const std::string cases[] = {
      "From: a@other.test\r\nSubject: x\r\n\r\nb\r\n",            // no key for the domain
      "From: a@example.test, b@example.test\r\n\r\nb\r\n",         // two addresses
      "From: a@example.test\r\nFrom: a@example.test\r\n\r\nb\r\n",  // two fields
      "Subject: no from\r\n\r\nb\r\n",
      "\r\nno header at all\r\n",
  };
  for (const auto& m : cases) {
    Keys k;
    SubmissionSigner s(k.fn());
    EXPECT_TRUE(sign_in_chunks(s, m, 3).empty()) << m;
  }
}

TEST(SubmissionSigner, HeaderOnlyMessageAndBareLfAreSigned) {
  for (const std::string m : {std::string("From: a@example.test\r\nSubject: x\r\n"),
                              std::string("From: a@example.test\nSubject: x\n\nbody\n")}) {
    Keys k;
    SubmissionSigner s(k.fn());
    auto fields = sign_in_chunks(s, m, 4);
    ASSERT_EQ(fields.size(), 1u) << m;
    auto l = k.lookup();
    EXPECT_EQ(dk::verify(fields[0] + m, l, kNow).at(0).status, dk::Status::Pass) << m;
  }
}

TEST(SubmissionSigner, AHeaderBlockPastTheBoundIsNotSigned) {
  Keys k;
  SubmissionSigner s(k.fn());
  s.feed("From: a@example.test\r\n");
  const std::string filler = "X-Filler: " + std::string(1000, 'x') + "\r\n";
  for (std::size_t n = 0; n <= dk::kMaxHeaderBlockBytes / filler.size() + 1; ++n) s.feed(filler);
  s.feed("\r\nbody\r\n");
  std::string why;
  EXPECT_TRUE(s.finish(kNow, why).empty());
  EXPECT_TRUE(k.asked.empty());
}

struct TempDir {
  std::string path;
  TempDir() {
    std::random_device rd;
    path = (std::filesystem::temp_directory_path() / ("refmail-dkim-" + std::to_string(rd()))).string();
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

TEST(DkimKeyring, GenerateRotateListRemove) {
  TempDir dir;
  DkimKeyring ring(dir.path);
  EXPECT_TRUE(ring.signers("example.test").empty());
  std::string why;
  auto first = ring.generate("Example.Test", 1024, kNow, why);
  ASSERT_TRUE(first) << why;
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].selector, "rm20251009r");
  EXPECT_EQ((*first)[1].selector, "rm20251009e");
  EXPECT_EQ((*first)[0].dns_name, "rm20251009r._domainkey.example.test");
  EXPECT_EQ((*first)[1].dns_record.rfind("v=DKIM1; k=ed25519; p=", 0), 0u);
  auto perms = std::filesystem::status(dir.path + "/example.test/rm20251009r.pem").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::group_all, std::filesystem::perms::none);
  EXPECT_EQ(perms & std::filesystem::perms::others_all, std::filesystem::perms::none);
  EXPECT_EQ(ring.signers("example.test").size(), 2u);

  // Rotation the same day: new names, the old retired; a running keyring sees it.
  auto second = ring.generate("example.test", 1024, kNow, why);
  ASSERT_TRUE(second) << why;
  EXPECT_EQ((*second)[0].selector, "rm20251009n2r");
  auto signers = ring.signers("example.test");
  ASSERT_EQ(signers.size(), 2u);
  EXPECT_EQ(signers[0].config.selector, "rm20251009n2r");
  auto all = ring.list("", why);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_TRUE(all[0].signing && all[1].signing);
  EXPECT_FALSE(all[2].signing || all[3].signing);

  EXPECT_FALSE(ring.remove("example.test", "rm20251009n2r", why));
  EXPECT_NE(why.find("still signs"), std::string::npos);
  EXPECT_TRUE(ring.remove("example.test", "rm20251009r", why)) << why;
  EXPECT_FALSE(ring.remove("example.test", "rm20251009r", why));
  EXPECT_FALSE(ring.remove("../etc", "passwd", why));
  EXPECT_EQ(ring.list("example.test", why).size(), 3u);
  EXPECT_FALSE(ring.generate("../x", 2048, kNow, why));
  EXPECT_TRUE(ring.signers("../example.test").empty());
}

}  // namespace
}  // namespace refmail::delivery
