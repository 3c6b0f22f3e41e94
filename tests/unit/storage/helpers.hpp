// tests/unit/storage/helpers.hpp — temp folders, store options for tests, and a
// one-call delivery helper. Every test gets a fresh RocksDB folder.
#pragma once
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/store.hpp"

namespace refmail::storage::testing {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("refmail-storage-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline StoreOptions test_options(const fs::path& p, std::size_t chunk = 1000) {
  StoreOptions o;
  o.path = p;
  o.password_cost = PasswordCost::test_minimal;
  o.max_chunk_bytes = chunk;
  o.block_cache_bytes = 8 << 20;
  return o;
}

inline std::unique_ptr<Store> open_store(const StoreOptions& o) {
  auto s = Store::open(o);
  if (!s) ADD_FAILURE() << "open failed: " << error_detail(s.error());
  return s ? std::move(*s) : nullptr;
}

inline std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

inline void add_users(Store& s, const std::vector<std::string>& accounts) {
  for (const auto& a : accounts) {
    auto dom = a.substr(a.find('@') + 1);
    auto d = s.add_domain(dom);
    ASSERT_TRUE(d || d.error() == errc::exists) << error_detail(d.error());
    auto u = s.add_user(a, "pw-" + a);
    ASSERT_TRUE(u) << error_detail(u.error());
  }
}

struct Rcpt {
  std::string account;
  std::string mailbox = "INBOX";
};

// One message with the given attachments, delivered to every recipient.
inline result<DeliveryReceipt> deliver(Store& s, const std::vector<Rcpt>& rcpts,
                                       const std::vector<std::string>& attachments,
                                       std::string skeleton = "Subject: test\r\n\r\nbody\r\n") {
  auto d = s.begin_delivery();
  MessageRecord m;
  m.skeleton = std::move(skeleton);
  m.summary = "summary";
  m.logical_size = m.skeleton.size();
  for (const auto& a : attachments) {
    auto id = d.put_blob(a);
    if (!id) return id.error();
    m.blob_ids.push_back(*id);
    m.logical_size += a.size();
  }
  d.set_message(std::move(m));
  for (const auto& r : rcpts) d.add_mailbox_row(r.account, r.mailbox);
  return d.commit();
}

inline std::string read_all(Store& s, const std::string& blob_id) {
  std::string out;
  std::string buf(777, '\0');  // odd size: reads straddle chunk borders
  std::uint64_t off = 0;
  for (;;) {
    auto n = s.read_blob(blob_id, off, buf);
    if (!n) {
      ADD_FAILURE() << "read_blob " << blob_id << ": " << error_detail(n.error());
      return out;
    }
    if (*n == 0) return out;
    out.append(buf.data(), *n);
    off += *n;
  }
}

inline void expect_fsck_clean(Store& s) {
  auto r = s.fsck(false);
  ASSERT_TRUE(r) << error_detail(r.error());
  for (const auto& i : r->issues)
    ADD_FAILURE() << "fsck: " << i.what << " " << i.key << " stored=" << i.stored
                  << " expected=" << i.expected;
}

}  // namespace refmail::storage::testing
