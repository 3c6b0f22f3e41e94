// tests/unit/web/blobs_test.cpp — downloads (grants, identical 404s, Range edge
// cases, headers, names), uploads (dedup, same answer), the SHA-256 pre-check.
#include <openssl/sha.h>

#include "helpers.hpp"

namespace refmail::web::testing {
namespace {

using Blobs = WebFixture;

std::string attachment_blob(WebFixture& f, const std::string& user) {
  auto r = f.api(user, json::array{
      json::array{"Email/query", json::object{{"accountId", WebFixture::acct(user)}}, "q"},
      json::array{"Email/get", json::object{{"accountId", WebFixture::acct(user)},
                                            {"#ids", json::object{{"resultOf", "q"}, {"name", "Email/query"}, {"path", "/ids"}}},
                                            {"properties", json::array{"attachments"}}}, "g"}});
  return std::string(r.at(1).at(1).at("list").at(0).at("attachments").at(1).at("blobId").as_string());
}

TEST_F(Blobs, DownloadNeedsAGrantAndAnswersLikeMissing) {
  std::string payload = random_bytes(2500000, 7);
  std::string mid = deliver(mime_with_attachment("d", payload), {"alice@example.test"});
  std::string blob = attachment_blob(*this, "alice");
  auto url = [&](const std::string& user, const std::string& id, const std::string& name = "report.pdf") {
    return "/jmap/download/" + acct(user) + "/" + id + "/" + name + "?accept=application%2Fpdf";
  };
  auto ok = router_->handle(req("GET", url("alice", blob)));
  ASSERT_EQ(ok.status, 200);
  EXPECT_EQ(drain(ok), payload);
  EXPECT_EQ(ok.content_type, "application/pdf");
  EXPECT_EQ(header(ok, "ETag"), "\"" + blob + "\"");
  EXPECT_EQ(header(ok, "X-Content-Type-Options"), "nosniff");
  EXPECT_NE(header(ok, "Cache-Control").find("private, immutable"), std::string::npos);
  EXPECT_NE(header(ok, "Content-Disposition").find("filename*=UTF-8''report.pdf"), std::string::npos);

  auto stranger = router_->handle(req("GET", url("bob", blob), "bob"));
  std::string missing_id = blob;
  missing_id.back() = missing_id.back() == '0' ? '1' : '0';
  auto missing = router_->handle(req("GET", url("bob", missing_id), "bob"));
  EXPECT_EQ(stranger.status, 404);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(stranger.body, missing.body);
  EXPECT_EQ(stranger.headers, missing.headers);
  // Another account's id in the URL, wrong shapes, other people's messages: same 404.
  for (const std::string& t : {url("bob", blob), url("alice", "../../etc"), url("alice", std::string(300, 'a')),
                               url("alice", "a%2Fb"), url("alice", "Mnope"), url("alice", "PMnope-1")}) {
    auto r = router_->handle(req("GET", t));
    EXPECT_EQ(r.status, 404) << t;
    EXPECT_EQ(r.body, missing.body) << t;
  }
  EXPECT_EQ(router_->handle(req("GET", url("bob", mid), "bob")).status, 404);
  // The message's own blobId downloads the rebuilt message.
  auto whole = router_->handle(req("GET", url("alice", mid, "m.eml")));
  ASSERT_EQ(whole.status, 200);
  EXPECT_EQ(drain(whole), mime_with_attachment("d", payload));
  // A small part kept in the skeleton has a synthetic id.
  auto r = api("alice", json::array{json::array{"Email/get", json::object{{"accountId", acct("alice")}, {"ids", json::array{mid}},
                                                                            {"properties", json::array{"attachments"}}}, "g"}});
  std::string small(r.at(0).at(1).at("list").at(0).at("attachments").at(0).at("blobId").as_string());
  auto s = router_->handle(req("GET", url("alice", small, "small.txt")));
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(drain(s), "tiny note");
}

TEST_F(Blobs, RangeRequests) {
  std::string payload = random_bytes(100000, 8);
  deliver(mime_with_attachment("r", payload), {"alice@example.test"});
  std::string blob = attachment_blob(*this, "alice");
  std::string u = "/jmap/download/" + acct("alice") + "/" + blob + "/x";
  auto get = [&](const std::string& range) {
    return router_->handle(req("GET", u, "alice", "", {{"Range", range}}));
  };
  auto r = get("bytes=10-19");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(drain(r), payload.substr(10, 10));
  EXPECT_EQ(header(r, "Content-Range"), "bytes 10-19/100000");
  r = get("bytes=99990-");
  EXPECT_EQ(drain(r), payload.substr(99990));
  r = get("bytes=-5");
  EXPECT_EQ(drain(r), payload.substr(99995));
  r = get("bytes=99999-200000");  // clamped
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(drain(r), payload.substr(99999));
  r = get("bytes=100000-");
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(header(r, "Content-Range"), "bytes */100000");
  r = get("bytes=5-1");  // invalid: ignored
  EXPECT_EQ(r.status, 200);
  r = get("bytes=0-1,1-2");  // several (overlapping): the whole body
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(drain(r).size(), payload.size());
  r = get("bytes=-0");
  EXPECT_EQ(r.status, 416);
  r = get("items=0-1");
  EXPECT_EQ(r.status, 200);
  auto cached = router_->handle(req("GET", u, "alice", "", {{"If-None-Match", "\"" + blob + "\""}}));
  EXPECT_EQ(cached.status, 304);
}

TEST_F(Blobs, NamesAreSanitized) {
  deliver(mime_with_attachment("n", random_bytes(5000, 9)), {"alice@example.test"});
  std::string blob = attachment_blob(*this, "alice");
  auto r = router_->handle(req("GET", "/jmap/download/" + acct("alice") + "/" + blob + "/..%2F..%2Fetc%2Fpasswd%0D%0AX:%20y"));
  ASSERT_EQ(r.status, 200);
  std::string cd = header(r, "Content-Disposition");
  EXPECT_EQ(cd.find('/'), std::string::npos);
  EXPECT_EQ(cd.find('\r'), std::string::npos);
  EXPECT_EQ(cd.find('\n'), std::string::npos);
  auto u = router_->handle(req("GET", "/jmap/download/" + acct("alice") + "/" + blob + "/r%C3%A9sum%C3%A9.pdf?accept=text/html%3Bx"));
  EXPECT_NE(header(u, "Content-Disposition").find("filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"), std::string::npos);
  EXPECT_EQ(u.content_type, "application/octet-stream");  // a bad accept type is not echoed
}

TEST_F(Blobs, UploadDedupAndPreCheck) {
  std::string payload = random_bytes(400000, 10);
  deliver(mime_with_attachment("u", payload), {"alice@example.test"});
  std::string blob = attachment_blob(*this, "alice");
  auto p0 = store_->stats()->physical_bytes;
  auto up = [&](const std::string& user, std::string body, std::vector<std::pair<std::string, std::string>> h) {
    h.emplace_back("Content-Type", "application/pdf");
    return router_->handle(req("POST", "/jmap/upload/" + acct(user) + "/", user, std::move(body), h));
  };
  auto r1 = up("bob", payload, {});
  ASSERT_EQ(r1.status, 201) << r1.body;
  auto j = json::parse(r1.body);
  EXPECT_EQ(j.at("blobId").as_string(), blob);
  EXPECT_EQ(j.at("size").to_number<std::uint64_t>(), payload.size());
  EXPECT_LT(store_->stats()->physical_bytes - p0, 1024u);  // only the small hold record
  auto r2 = up("bob", payload, {});
  EXPECT_EQ(r2.status, r1.status);
  EXPECT_EQ(r2.body, r1.body);
  // Bob may now download it (the upload hold grants it).
  EXPECT_EQ(router_->handle(req("GET", "/jmap/download/" + acct("bob") + "/" + blob + "/x", "bob")).status, 200);

  unsigned char d[32];
  SHA256(reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), d);
  std::string digest = "sha-256=:" + b64(std::string(reinterpret_cast<char*>(d), 32)) + ":";
  auto holder = up("alice", "", {{"Repr-Digest", digest}});
  EXPECT_EQ(holder.status, 201);
  EXPECT_NE(holder.body.find(blob), std::string::npos);
  auto stranger = up("carol", "", {{"Repr-Digest", digest}});
  EXPECT_EQ(stranger.status, 412);
  EXPECT_EQ(stranger.body.find(blob), std::string::npos);
  EXPECT_EQ(up("carol", "", {{"Repr-Digest", "sha-256=:short:"}}).status, 400);
  EXPECT_EQ(up("carol", "abc", {{"Repr-Digest", digest}}).status, 400);  // body does not match
  EXPECT_EQ(up("carol", "", {}).status, 400);
  // Uploading to another account's id.
  auto other = router_->handle(req("POST", "/jmap/upload/" + acct("alice") + "/", "carol", "x"));
  EXPECT_EQ(other.status, 404);
}

// The upload's type comes back in JSON: parameters with bytes that are not printable ASCII
// (found by fuzz_jmap_api: the answer was not valid JSON) are dropped, a bad media type is
// application/octet-stream, a good one is kept whole.
TEST_F(Blobs, UploadTypeIsSafeToEcho) {
  auto type_of = [&](std::string content_type) {
    auto r = router_->handle(req("POST", "/jmap/upload/" + acct("alice") + "/", "alice", "some bytes",
                                 {{"Content-Type", std::move(content_type)}}));
    EXPECT_EQ(r.status, 201) << r.body;
    boost::system::error_code ec;
    auto j = json::parse(r.body, ec);
    EXPECT_FALSE(ec) << r.body;
    return ec ? std::string() : std::string(j.at("type").as_string());
  };
  EXPECT_EQ(type_of("text/plain; charset=utf-8"), "text/plain; charset=utf-8");
  EXPECT_EQ(type_of(std::string("Sap/..u...k;\xcc\x00p`\x00\x00", 18)), "Sap/..u...k");
  EXPECT_EQ(type_of("text/plain; name=\"caf\xc3\xa9\""), "text/plain");
  EXPECT_EQ(type_of("text/plain; x=" + std::string(300, 'a')), "text/plain");
  EXPECT_EQ(type_of("no slash"), "application/octet-stream");
  EXPECT_EQ(type_of("\xff/x"), "application/octet-stream");
}

TEST_F(Blobs, EventSourceReportsStateChanges) {
  auto r = router_->handle(req("GET", "/jmap/eventsource?types=*&closeafter=no&ping=0"));
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(r.events);
  EXPECT_EQ(r.content_type, "text/event-stream");
  std::string first = r.events->poll();
  EXPECT_NE(first.find("event: state"), std::string::npos);
  EXPECT_EQ(r.events->poll(), "");
  deliver("From: a@b.test\r\nSubject: s\r\n\r\nx\r\n", {"alice@example.test"});
  EXPECT_NE(r.events->poll().find("StateChange"), std::string::npos);
}

TEST_F(Blobs, StatsAndMetrics) {
  deliver(mime_with_attachment("s", random_bytes(5000, 11)), {"alice@example.test", "bob@example.test"});
  EXPECT_EQ(router_->handle(req("GET", "/api/admin/stats")).status, 403);  // alice is no admin
  auto s = router_->handle(req("GET", "/api/admin/stats", "carol"));
  ASSERT_EQ(s.status, 200) << s.body;
  auto doc = json::parse(s.body);
  EXPECT_EQ(doc.at("physical_bytes").to_number<std::uint64_t>(), store_->stats()->physical_bytes);
  auto top = doc.at("top_shared").as_array();
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].at("references").to_number<std::uint64_t>(), 2u);
  EXPECT_EQ(top[0].at("name").as_string(), "report.pdf");
  auto m = router_->handle(req("GET", "/metrics", ""));
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("refmail_http_requests_total{status=\"403\"} 1"), std::string::npos);
  EXPECT_NE(m.body.find("refmail_physical_bytes"), std::string::npos);
  EXPECT_NE(m.body.find("refmail_http_request_duration_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
  auto remote = req("GET", "/metrics", "");
  remote.peer = "192.0.2.1:9";
  EXPECT_EQ(router_->handle(remote).status, 401);
}

}  // namespace
}  // namespace refmail::web::testing
