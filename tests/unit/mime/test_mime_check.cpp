// tests/unit/mime/test_mime_check.cpp — `refmailctl mime check` called directly on the
// corpus: exit 0, every message identical, counts matching INVENTORY.tsv; JSON output;
// failure statuses.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "mime_test_util.hpp"
#include "tools/refmailctl/commands.hpp"

using namespace refmail::mime::test;

namespace {
std::uint64_t field(const std::string& text, const std::string& key) {
  const std::size_t k = text.find(key + "=");
  if (k == std::string::npos) return ~0ull;
  return std::stoull(text.substr(k + key.size() + 1));
}
}  // namespace

TEST(MimeCheck, WholeCorpusIsIdenticalAndCountsMatchInventory) {
  std::vector<std::string> files;
  for (const auto& p : corpus_files()) files.push_back(p.string());
  // Expected message count from the inventory.
  std::ifstream inv(std::filesystem::path(REFMAIL_SHARED_DIR) / "corpus" / "INVENTORY.tsv");
  std::string line;
  std::getline(inv, line);
  std::uint64_t expected_messages = 0, inventory_files = 0;
  while (std::getline(inv, line)) {
    std::istringstream ls(line);
    std::string source, path, kind, bytes, messages;
    std::getline(ls, source, '\t');
    std::getline(ls, path, '\t');
    std::getline(ls, kind, '\t');
    std::getline(ls, bytes, '\t');
    std::getline(ls, messages, '\t');
    expected_messages += std::stoull(messages);
    ++inventory_files;
  }
  ASSERT_EQ(inventory_files, files.size());
  std::ostringstream out, err;
  const int rc = refmail::tools::mime_check(files, false, out, err);
  const std::string text = out.str();
  EXPECT_EQ(rc, 0) << err.str();
  EXPECT_EQ(err.str(), "");
  const std::size_t s = text.rfind("summary:");
  ASSERT_NE(s, std::string::npos);
  const std::string summary = text.substr(s);
  EXPECT_EQ(field(summary, "messages"), expected_messages) << summary;
  EXPECT_EQ(field(summary, "identical"), expected_messages);
  EXPECT_EQ(field(summary, "different"), 0u);
  EXPECT_EQ(field(summary, "files"), files.size());
  EXPECT_GE(field(summary, "cut"), 45u);
  EXPECT_EQ(text.find("DIFFERENT"), std::string::npos);
  // One line per message plus the summary.
  EXPECT_EQ(static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n')),
            expected_messages + 1);
}

TEST(MimeCheck, JsonAndFailureStatuses) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("refmail_mime_check_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string att(6000, 'Q');
  const std::string msg =
      "From: a@b\nContent-Type: multipart/mixed; boundary=z\n\n--z\n"
      "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" +
      refmail::mime::base64_encode(att, {76, refmail::mime::LineEnding::Lf, false}) +
      "\n--z--\n";
  {
    std::ofstream(dir / "a.eml", std::ios::binary) << msg;
    std::ofstream(dir / "box.mbox", std::ios::binary)
        << "From x Mon Jan 1 00:00:00 2024\n" << msg << "From y Mon Jan 1 00:00:00 2024\n" << msg;
  }
  std::ostringstream out, err;
  int rc = refmail::tools::mime_check({(dir / "a.eml").string(), (dir / "box.mbox").string()},
                                      true, out, err);
  EXPECT_EQ(rc, 0);
  const std::string j = out.str();
  EXPECT_NE(j.find("\"summary\":{\"files\":2,\"unreadable\":0,\"messages\":3,\"identical\":3"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("\"unique_blobs\":1,"), std::string::npos) << j;  // same file, 3 messages
  std::ostringstream out2, err2;
  rc = refmail::tools::mime_check({(dir / "missing.eml").string()}, false, out2, err2);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(err2.str().find("cannot read"), std::string::npos);
  std::filesystem::remove_all(dir);
}
