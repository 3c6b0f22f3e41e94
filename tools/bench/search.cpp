// tools/bench/search.cpp — full-text search (search/, issue 15 part 2): one account of N
// messages (env REFMAIL_BENCH_SEARCH_N, default 20000; 1 % hold the word "needle"), in a
// temporary store. Reports the time to index the account from nothing (rebuild, as
// after a lost index), and Email/query {text: needle} (+ hasKeyword) through the web
// router with the index and without it (the summary scan it replaces). Measures; asserts
// nothing.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <string>

#include <boost/json.hpp>

#include "config/config.hpp"
#include "search/index.hpp"
#include "storage/store.hpp"
#include "tests/unit/web/store_setup.hpp"
#include "web/router.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace refmail;

struct World {
  fs::path dir;
  config::Config cfg;
  std::unique_ptr<storage::Store> store;
  std::shared_ptr<search::Index> index;
  std::unique_ptr<web::Router> with_index, without_index;
  std::size_t n = 0;
  ~World() {
    with_index.reset();
    without_index.reset();
    index.reset();
    store.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

World& world() {
  static std::unique_ptr<World> w = [] {
    auto owned = std::make_unique<World>();
    World& x = *owned;
    const char* env = std::getenv("REFMAIL_BENCH_SEARCH_N");
    x.n = env ? std::strtoull(env, nullptr, 10) : 20000;
    std::random_device rd;
    x.dir = fs::temp_directory_path() / ("refmail-bench-search-" + std::to_string(rd()));
    auto s = web::testing::open_test_store(x.dir / "store");
    if (!s) std::abort();
    x.store = std::move(*s);
    (void)x.store->add_domain("example.test");
    (void)x.store->add_user("alice@example.test", "alice-pw");
    static const char* kWords[] = {"meeting", "report", "budget", "lunch", "project", "deadline", "review",
                                   "invoice", "travel", "schedule", "update", "team"};
    std::mt19937 g(1);
    for (std::size_t i = 0; i < x.n; ++i) {
      std::string body;
      for (int k = 0; k < 60; ++k) body += std::string(kWords[g() % 12]) + (k % 12 == 11 ? "\r\n" : " ");
      if (i % 100 == 0) body += "needle\r\n";
      std::string raw = "From: Sender " + std::to_string(i % 50) + " <s" + std::to_string(i % 50) +
                        "@outside.test>\r\nTo: alice@example.test\r\nSubject: message " + std::to_string(i) +
                        " about " + kWords[g() % 12] + "\r\n\r\n" + body;
      if (web::testing::deliver_message(*x.store, raw, {"alice@example.test"}).empty()) std::abort();
    }
    search::Options o;
    o.dir = x.dir / "fts";
    x.index = std::make_shared<search::Index>(*x.store, o);
    auto t0 = std::chrono::steady_clock::now();
    auto r = x.index->rebuild("alice@example.test");
    auto t1 = std::chrono::steady_clock::now();
    if (!r) std::abort();
    std::cerr << "search bench: " << x.n << " messages indexed in "
              << std::chrono::duration<double>(t1 - t0).count() << " s (rebuild), "
              << r->indexed << " documents\n";
    x.with_index = std::make_unique<web::Router>(*x.store, x.cfg);
    x.with_index->set_search(x.index);
    x.without_index = std::make_unique<web::Router>(*x.store, x.cfg);
    return owned;
  }();
  return *w;
}

web::Request query(const json::object& filter) {
  json::object body{{"using", json::array{"urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"}},
                    {"methodCalls", json::array{json::array{
                        "Email/query",
                        json::object{{"accountId", web::account_id_for("alice@example.test")}, {"filter", filter},
                                     {"limit", 50}},
                        "q"}}}};
  web::Request r;
  r.method = "POST";
  r.target = "/jmap/api";
  r.body = json::serialize(body);
  r.peer = "127.0.0.1:40000";
  r.headers = {{"Content-Type", "application/json"},
               {"Authorization", "Basic " + web::testing::b64("alice@example.test:alice-pw")}};
  return r;
}

void run(benchmark::State& state, bool indexed, const json::object& filter) {
  auto& w = world();
  auto& router = indexed ? *w.with_index : *w.without_index;
  auto req = query(filter);
  for (auto _ : state) {
    auto resp = router.handle(req);
    if (resp.status != 200) state.SkipWithError("query failed");
    benchmark::DoNotOptimize(resp.body);
  }
  state.counters["messages"] = static_cast<double>(w.n);
}

void BM_TextQueryIndex(benchmark::State& s) { run(s, true, json::object{{"text", "needle"}}); }
void BM_TextQueryScan(benchmark::State& s) { run(s, false, json::object{{"text", "needle"}}); }
void BM_TextKeywordIndex(benchmark::State& s) {
  run(s, true, json::object{{"text", "needle"}, {"notKeyword", "$seen"}});
}
void BM_TextKeywordScan(benchmark::State& s) {
  run(s, false, json::object{{"text", "needle"}, {"notKeyword", "$seen"}});
}
void BM_CommonWordIndex(benchmark::State& s) { run(s, true, json::object{{"body", "budget"}}); }

BENCHMARK(BM_TextQueryIndex)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TextQueryScan)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_TextKeywordIndex)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TextKeywordScan)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_CommonWordIndex)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
