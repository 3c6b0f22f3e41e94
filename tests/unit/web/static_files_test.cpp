// Tests for web/static_files: traversal refusals, content types, ETag/304, cache
// headers, security headers on index.html, SPA fallback, the not-built 503, and the
// router hook (API paths keep their JSON 404; other paths reach the webmail).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config/config.hpp"
#include "web/static_files.hpp"
#include "helpers.hpp"

namespace refmail::web {
namespace {

using testing::TempDir;

Request get(std::string target, std::string method = "GET") {
  Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.peer = "127.0.0.1:5000";
  return r;
}

std::string header(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

void write(const std::filesystem::path& p, std::string_view body) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << body;
}

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write(dir_.path() / "index.html", "<!doctype html><title>refmail</title>");
    write(dir_.path() / "assets" / "app-ABC123.js", "console.log(1)");
    write(dir_.path() / "assets" / "app-ABC123.css", "body{}");
    write(dir_.path() / ".secret", "no");
    write(outside(), "outside");
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove(outside(), ec);
  }
  std::filesystem::path outside() const {
    return dir_.path().parent_path() / (dir_.path().filename().string() + "-outside.txt");
  }
  TempDir dir_;
};

TEST(StaticFilesPath, SafePathRules) {
  for (const char* ok : {"/", "/index.html", "/assets/app-1.js", "/mailbox/m1", "/mailbox/m1/", "/a_b-c.d"}) {
    EXPECT_TRUE(StaticFiles::safe_path(ok)) << ok;
  }
  for (const char* bad : {"", "index.html", "/..", "/../etc/passwd", "/assets/../../x", "/./index.html", "/.secret",
                          "/%2e%2e/x", "/a%2fb", "/a\\b", "//etc/passwd", "/a//b", "/a:b", "/a b"}) {
    EXPECT_FALSE(StaticFiles::safe_path(bad)) << bad;
  }
  EXPECT_FALSE(StaticFiles::safe_path(std::string_view("/a\0b", 4)));
  EXPECT_FALSE(StaticFiles::safe_path("/" + std::string(600, 'a')));
}

TEST(StaticFilesPath, ContentTypes) {
  EXPECT_EQ(StaticFiles::content_type_for("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(StaticFiles::content_type_for("assets/a.JS"), "text/javascript; charset=utf-8");
  EXPECT_EQ(StaticFiles::content_type_for("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(StaticFiles::content_type_for("a.svg"), "image/svg+xml");
  EXPECT_EQ(StaticFiles::content_type_for("a.wasm"), "application/wasm");
  EXPECT_EQ(StaticFiles::content_type_for("a.unknown"), "application/octet-stream");
}

TEST_F(StaticFilesTest, IndexHasSecurityHeadersAndNoCache) {
  StaticFiles sf(dir_.path().string());
  auto r = sf.serve(get("/"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<!doctype html><title>refmail</title>");
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
  std::string csp = header(r, "Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos);
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_NE(csp.find("object-src 'none'"), std::string::npos);
  EXPECT_EQ(csp.find("'unsafe-eval'"), std::string::npos);  // 'wasm-unsafe-eval' only
  EXPECT_EQ(csp.find("script-src 'self' 'unsafe-inline'"), std::string::npos);
  EXPECT_EQ(header(r, "X-Frame-Options"), "DENY");
  EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header(r, "Referrer-Policy"), "no-referrer");
  EXPECT_EQ(sf.serve(get("/index.html")).body, r.body);
}

TEST_F(StaticFilesTest, HashedAssetsAreImmutableWithTypes) {
  StaticFiles sf(dir_.path().string());
  auto js = sf.serve(get("/assets/app-ABC123.js"));
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(header(js, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(header(js, "Content-Security-Policy"), "");
  EXPECT_EQ(sf.serve(get("/assets/app-ABC123.css")).content_type, "text/css; charset=utf-8");
  EXPECT_EQ(sf.serve(get("/assets/app-ABC123.js?v=1")).status, 200);
}

TEST_F(StaticFilesTest, EtagAndIfNoneMatch) {
  StaticFiles sf(dir_.path().string());
  auto first = sf.serve(get("/assets/app-ABC123.js"));
  std::string etag = header(first, "ETag");
  ASSERT_EQ(etag.size(), 34u);
  auto req = get("/assets/app-ABC123.js");
  req.headers.emplace_back("If-None-Match", "\"other\", " + etag);
  auto again = sf.serve(req);
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(header(again, "ETag"), etag);
  req.headers.back().second = "\"other\"";
  EXPECT_EQ(sf.serve(req).status, 200);
  // A changed file gets a new ETag (the cache re-reads on size/mtime change).
  write(dir_.path() / "assets" / "app-ABC123.js", "console.log(22)");
  auto changed = sf.serve(get("/assets/app-ABC123.js"));
  EXPECT_EQ(changed.body, "console.log(22)");
  EXPECT_NE(header(changed, "ETag"), etag);
}

TEST_F(StaticFilesTest, TraversalAndHiddenFilesAreRefused) {
  StaticFiles sf(dir_.path().string());
  std::string escape = "/../" + dir_.path().filename().string() + "-outside.txt";
  for (const std::string& t : {escape, std::string("/%2e%2e/etc/passwd"), std::string("/.secret"),
                               std::string("/assets/..%2f..%2fetc%2fpasswd"), std::string("/a\\..\\b"),
                               std::string("/assets/%2E%2E/index.html")}) {
    auto r = sf.serve(get(t));
    EXPECT_EQ(r.status, 400) << t;
    EXPECT_EQ(r.body.find("outside"), std::string::npos);
  }
  EXPECT_EQ(sf.serve(get(std::string("/index.html\0.js", 15))).status, 400);
  // A symbolic link inside the folder is not followed.
  std::filesystem::create_symlink(outside(), dir_.path() / "assets" / "link.txt");
  auto link = sf.serve(get("/assets/link.txt"));
  EXPECT_EQ(link.status, 404);
  EXPECT_EQ(link.body.find("outside"), std::string::npos);
  // Nor is a link to a directory on the way to a file (hardening item 10).
  auto outside_dir = dir_.path().parent_path() / (dir_.path().filename().string() + "-outside-dir");
  std::filesystem::create_directories(outside_dir);
  write(outside_dir / "secret.txt", "outside secret");
  std::filesystem::create_directory_symlink(outside_dir, dir_.path() / "assets" / "linkdir");
  auto through = sf.serve(get("/assets/linkdir/secret.txt"));
  EXPECT_EQ(through.status, 404);
  EXPECT_EQ(through.body.find("outside"), std::string::npos);
  std::filesystem::remove_all(outside_dir);
}

TEST_F(StaticFilesTest, MethodsAndMissingFiles) {
  StaticFiles sf(dir_.path().string());
  auto post = sf.serve(get("/", "POST"));
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(header(post, "Allow"), "GET, HEAD");
  EXPECT_EQ(sf.serve(get("/", "HEAD")).status, 200);
  EXPECT_EQ(sf.serve(get("/assets/missing-1.js")).status, 404);  // never HTML for a script
  EXPECT_EQ(sf.serve(get("/favicon.ico")).status, 404);
  // A client-side route gets the app.
  auto spa = sf.serve(get("/mailbox/m1"));
  EXPECT_EQ(spa.status, 200);
  EXPECT_EQ(spa.content_type, "text/html; charset=utf-8");
  EXPECT_FALSE(header(spa, "Content-Security-Policy").empty());
}

TEST_F(StaticFilesTest, NotBuiltAndOff) {
  TempDir empty;
  StaticFiles unbuilt(empty.path().string());
  auto r = unbuilt.serve(get("/"));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("not built"), std::string::npos);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  StaticFiles off("");
  EXPECT_EQ(off.serve(get("/")).status, 404);
}

TEST(StaticFilesConfig, ExampleFileKeepsTheWebmailDefaults) {
  std::ifstream in(std::string(REFMAIL_SOURCE_DIR) + "/config/refmail.toml");
  std::stringstream ss;
  ss << in.rdbuf();
  auto file = config::parse(ss.str(), "refmail.toml");
  ASSERT_TRUE(file.has_value()) << file.error().message;
  auto def = config::parse("", "(defaults)");
  ASSERT_TRUE(def.has_value());
  EXPECT_EQ(file->webmail.enabled, def->webmail.enabled);
  EXPECT_EQ(file->webmail.dir, def->webmail.dir);
  auto custom = config::parse("[webmail]\nenabled = false\ndir = \"/srv/ui\"\n", "w.toml");
  ASSERT_TRUE(custom.has_value());
  EXPECT_FALSE(custom->webmail.enabled);
  EXPECT_EQ(custom->webmail.dir, "/srv/ui");
  EXPECT_FALSE(config::parse("[webmail]\nenabled = \"yes\"\n", "w.toml").has_value());
}

TEST_F(StaticFilesTest, RouterSendsOnlyNonApiPathsToTheWebmail) {
  TempDir store_dir;
  storage::StoreOptions o;
  o.path = store_dir.path() / "data";
  o.sync_writes = false;
  auto store = storage::Store::open(o);
  ASSERT_TRUE(store.has_value());
  config::Config cfg;
  cfg.webmail.dir = dir_.path().string();
  Router router(**store, cfg);
  auto page = router.handle(get("/"));
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(router.handle(get("/assets/app-ABC123.js")).body, "console.log(1)");
  for (const char* api : {"/api/nothing", "/jmap", "/admin/v1/x", "/.well-known/other"}) {
    auto r = router.handle(get(api));
    EXPECT_EQ(r.status, 404) << api;
    EXPECT_EQ(r.content_type, "application/json") << api;
  }
  EXPECT_EQ(router.handle(get("/healthz")).status, 200);
  cfg.webmail.enabled = false;
  Router off(**store, cfg);
  EXPECT_EQ(off.handle(get("/")).status, 404);
}

}  // namespace
}  // namespace refmail::web
