// tests/fuzz/fuzz_search_query.cpp — libFuzzer target: arbitrary bytes as a JMAP text
// condition's value -> search::Index::search (Xapian's QueryParser, restricted to
// phrases and CJK n-grams) over a real index of a real store (RocksDB and Xapian in
// $TMPDIR/refmail-fuzz-search-<pid>, removed at exit). Byte 0 picks the field; the
// rest is the text. Every 64th input (the first 256 of them) is also delivered as a
// message body and indexed, so document building sees hostile text too.
// Invariants (abort on violation): no crash or UB; search answers ids or
// query_too_long (over the byte limit) and nothing else; every id it answers is one
// the account was delivered.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "search/index.hpp"
#include "storage/store.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/unit/web/store_setup.hpp"

namespace fs = std::filesystem;
using namespace refmail;

namespace {

constexpr std::string_view kAccount = "alice@example.test";

struct World {
  fs::path dir;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<search::Index> index;
  std::set<std::string> delivered;
  std::uint64_t inputs = 0;
};

World* g_world = nullptr;

void remove_dir() {
  if (g_world) {
    g_world->index.reset();
    g_world->store.reset();
    std::error_code ec;
    fs::remove_all(g_world->dir, ec);
  }
}

World& world() {
  if (g_world) return *g_world;
  g_world = new World;
  g_world->dir = fs::temp_directory_path() / ("refmail-fuzz-search-" + std::to_string(::getpid()));
  fs::remove_all(g_world->dir);
  auto s = web::testing::open_test_store(g_world->dir / "store");
  FUZZ_CHECK(s.has_value());
  g_world->store = std::move(*s);
  FUZZ_CHECK(g_world->store->add_domain("example.test").has_value());
  FUZZ_CHECK(g_world->store->add_user(std::string(kAccount), "pw").has_value());
  for (const char* body : {"The service runs every night", "会议通知 明天下午", "invoice attached \"quoted\""}) {
    std::string raw = "From: Zed <zed@zoo.test>\r\nTo: alice@example.test\r\nSubject: seed\r\n\r\n" + std::string(body) + "\r\n";
    g_world->delivered.insert(web::testing::deliver_message(*g_world->store, raw, {std::string(kAccount)}));
  }
  search::Options o;
  o.dir = g_world->dir / "fts";
  g_world->index = std::make_unique<search::Index>(*g_world->store, o);
  FUZZ_CHECK(g_world->index->catch_up(kAccount).has_value());
  std::atexit(remove_dir);
  return *g_world;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  World& w = world();
  const auto field = static_cast<search::Field>(data[0] % 7);
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (++w.inputs % 64 == 0 && w.delivered.size() < 256) {
    std::string raw = "From: f@f.test\r\nTo: alice@example.test\r\nSubject: " + text.substr(0, 200) + "\r\n\r\n" + text + "\r\n";
    auto id = web::testing::deliver_message(*w.store, raw, {std::string(kAccount)});
    if (!id.empty()) w.delivered.insert(id);
    FUZZ_CHECK(w.index->catch_up(kAccount).has_value());
  }
  auto r = w.index->search(kAccount, field, text);
  if (!r) {
    FUZZ_CHECK(r.error() == search::errc::query_too_long);
    FUZZ_CHECK(text.size() > 1024);
    return 0;
  }
  for (const auto& id : *r) FUZZ_CHECK(w.delivered.count(id) == 1);
  return 0;
}
