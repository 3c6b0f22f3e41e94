// tests/unit/mime/test_window_source.cpp — WindowSource serves any read pattern with the
// inner source's bytes, and reads each 1 MiB window from the inner source once per pass.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>

#include "mime/errc.hpp"
#include "mime/joiner.hpp"
#include "mime/window_source.hpp"

namespace refmail::mime {
namespace {

// Serves at most 300 KiB per call (like a store chunk read) and counts calls.
class Counting final : public BlobSource {
 public:
  std::map<std::string, std::string> data;
  int calls = 0;
  boost::system::result<std::size_t> read(std::string_view id, std::uint64_t off, std::span<char> out) override {
    ++calls;
    auto it = data.find(std::string(id));
    if (it == data.end()) return errc::blob_missing;
    if (off >= it->second.size()) return std::size_t{0};
    const std::size_t n = std::min<std::size_t>({out.size(), it->second.size() - off, 300 * 1024});
    std::memcpy(out.data(), it->second.data() + off, n);
    return n;
  }
};

std::string bytes(std::size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(g());
  return s;
}

std::string read_all(BlobSource& src, const std::string& id, std::size_t slice) {
  std::string out, buf(slice, '\0');
  for (;;) {
    auto r = src.read(id, out.size(), buf);
    EXPECT_TRUE(r.has_value());
    if (!r || *r == 0) return out;
    out.append(buf.data(), *r);
  }
}

TEST(WindowSource, SequentialSlicesReadEachWindowOnce) {
  Counting inner;
  inner.data["a"] = bytes(3 * WindowSource::kWindow + 12345, 1);
  WindowSource w(inner);
  EXPECT_EQ(read_all(w, "a", 48 * 1024), inner.data["a"]);
  // 4 windows, each filled by ceil(1 MiB / 300 KiB) = 4 inner reads at most, plus the
  // read that finds the end: far fewer than the ~70 slices asked for.
  EXPECT_LE(inner.calls, 4 * 4 + 2);
  const int direct_before = inner.calls;
  EXPECT_EQ(read_all(inner, "a", 48 * 1024), inner.data["a"]);
  EXPECT_GT(inner.calls - direct_before, 60);
}

TEST(WindowSource, RandomReadsAcrossBlobsAndEnds) {
  Counting inner;
  inner.data["a"] = bytes(WindowSource::kWindow * 2 + 7, 2);
  inner.data["b"] = bytes(1000, 3);
  inner.data["empty"] = "";
  WindowSource w(inner);
  std::mt19937 g(4);
  for (int i = 0; i < 500; ++i) {
    const std::string id = (g() % 3 == 0) ? "b" : "a";
    const std::string& d = inner.data[id];
    const std::uint64_t off = g() % (d.size() + 10);
    std::string buf(1 + g() % 70000, '\0');
    auto r = w.read(id, off, buf);
    ASSERT_TRUE(r.has_value());
    const std::size_t expect = off >= d.size() ? 0 : std::min<std::size_t>(buf.size(), d.size() - off);
    ASSERT_LE(*r, expect);
    if (expect > 0) {
      ASSERT_GT(*r, 0u);  // progress whenever bytes remain
    }
    ASSERT_EQ(buf.substr(0, *r), d.substr(std::min<std::size_t>(off, d.size()), *r)) << id << " @" << off;
  }
  std::string one(1, '\0');
  auto e = w.read("empty", 0, one);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(*e, 0u);
  EXPECT_FALSE(w.read("missing", 0, one).has_value());
  // After an error the next read of a good blob still works.
  auto again = w.read("b", 10, one);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(one[0], inner.data["b"][10]);
}

}  // namespace
}  // namespace refmail::mime
