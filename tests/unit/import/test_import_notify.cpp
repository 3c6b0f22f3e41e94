// tests/unit/import/test_import_notify.cpp — the notify endpoint: both JSON forms,
// refusals, token checks, and the durable coalesced enqueue (one job per mailbox per
// window, pending UIDs keyed so repeats are idempotent) on a temporary store; and the
// HTML view of an imported message (escaping, no script or remote content, links,
// 404 for another account).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/unit/import/helpers.hpp"
#include "config/config.hpp"
#include "delivery/service.hpp"
#include "storage/store.hpp"
#include "delivery/import_keys.hpp"
#include "web/import_api.hpp"
#include "web/jmap.hpp"

using namespace refmail;

namespace {

const char* kToml = R"(
[import]
coalesce_window = 30
[[import.sources]]
name = "legacy"
host = "127.0.0.1"
token = "tok-0123456789abcdef"
[[import.mappings]]
source = "legacy"
user = "alice"
account = "alice@example.test"
password = "pw"
)";

struct TempStore : import_testing::TestStore {
  TempStore() : TestStore({"alice@example.test"}, "pw-alice-123") {}
};

web::Request request(std::string body, std::string auth, std::string target = "/api/import/notify") {
  web::Request r;
  r.method = "POST";
  r.target = std::move(target);
  r.body = std::move(body);
  if (!auth.empty()) r.headers.emplace_back("Authorization", std::move(auth));
  r.peer = "127.0.0.1:1";
  return r;
}

}  // namespace

TEST(ImportNotify, ParsesRefmailJson) {
  auto n = web::parse_notification(
      R"({"source":"legacy","user":"alice","mailbox":"Archive","uidvalidity":7,"uids":[5,3,5,"9"]})");
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(n->source, "legacy");
  EXPECT_EQ(n->mailbox, "Archive");
  EXPECT_EQ(n->uidvalidity, 7u);
  EXPECT_EQ(n->uids, (std::vector<std::uint32_t>{3, 5, 9}));
  EXPECT_FALSE(n->ignored);
}

TEST(ImportNotify, ParsesDovecotOxJson) {
  // As sent by Dovecot's push_notification ox driver.
  auto n = web::parse_notification(
      R"({"user":"alice","event":"messageNew","folder":"INBOX","imap-uidvalidity":1700000000,)"
      R"("imap-uid":42,"from":"Bob <bob@x>","subject":"hi","snippet":"...","unseen":3})");
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(n->source, "");
  EXPECT_EQ(n->user, "alice");
  EXPECT_EQ(n->mailbox, "INBOX");
  EXPECT_EQ(n->uidvalidity, 1700000000u);
  EXPECT_EQ(n->uids, (std::vector<std::uint32_t>{42}));
  auto other = web::parse_notification(R"({"user":"alice","event":"messageRead","folder":"INBOX","imap-uid":1})");
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->ignored);
}

TEST(ImportNotify, Refusals) {
  const char* bad[] = {
      "",
      "{",
      "[]",
      R"({"uids":[1]})",
      R"({"user":"","uids":[1]})",
      R"({"user":5,"uids":[1]})",
      R"({"user":"a","uids":[]})",
      R"({"user":"a","uids":[0]})",
      R"({"user":"a","uids":[-1]})",
      R"({"user":"a","uids":[4294967296]})",
      R"({"user":"a","uids":"1"})",
      R"({"user":"a","uids":[1.5]})",
      R"({"user":"a","mailbox":"x\ny","uids":[1]})",
      R"({"user":"a","event":"messageNew","folder":"INBOX"})",
      R"({"user":"a","event":"messageNew","folder":"INBOX","imap-uid":"abc"})",
  };
  for (const char* b : bad) EXPECT_FALSE(web::parse_notification(b)) << b;
  std::string huge = R"({"user":"a","uids":[)" + std::string(70000, ' ') + "1]}";
  EXPECT_FALSE(web::parse_notification(huge));
}

TEST(ImportNotify, HandlerChecksTokenSourceAndUser) {
  auto cfg = config::parse(kToml, "t.toml");
  ASSERT_TRUE(cfg) << cfg.error().message;
  TempStore st;
  int woken = 0;
  web::ImportContext ctx{*st, *cfg, [&](storage::UnixSeconds) { ++woken; }};
  std::string body = R"({"source":"legacy","user":"alice","uids":[1,2]})";
  EXPECT_EQ(web::handle_import(request(body, ""), ctx).status, 401);
  EXPECT_EQ(web::handle_import(request(body, "Bearer tok-0123456789abcdeX"), ctx).status, 401);
  EXPECT_EQ(web::handle_import(request(R"({"source":"nope","user":"alice","uids":[1]})",
                                       "Bearer tok-0123456789abcdef"),
                               ctx)
                .status,
            401);
  EXPECT_EQ(web::handle_import(request(R"({"source":"legacy","user":"carol","uids":[1]})",
                                       "Bearer tok-0123456789abcdef"),
                               ctx)
                .status,
            404);
  EXPECT_EQ(web::handle_import(request("{bad", "Bearer tok-0123456789abcdef"), ctx).status, 400);
  EXPECT_EQ(woken, 0);
  auto all = (*st).due_imports(storage::UnixSeconds::max(), 10);
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());  // nothing refused reached the store

  // Good: Bearer, and Basic with source as user name (the ox driver's URL credentials).
  auto r = web::handle_import(request(body, "Bearer tok-0123456789abcdef"), ctx);
  EXPECT_EQ(r.status, 202) << r.body;
  auto ox = R"({"user":"alice","event":"messageNew","folder":"INBOX","imap-uid":3})";
  // base64("legacy:tok-0123456789abcdef")
  r = web::handle_import(request(ox, "Basic bGVnYWN5OnRvay0wMTIzNDU2Nzg5YWJjZGVm"), ctx);
  EXPECT_EQ(r.status, 202) << r.body;
  r = web::handle_import(request(ox, "Bearer tok-0123456789abcdef", "/api/import/notify?source=legacy"), ctx);
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(woken, 1);  // coalesced: one job, one wake-up
  all = (*st).due_imports(storage::UnixSeconds::max(), 10);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].account, "alice@example.test");
  auto mb = delivery::import_keys::mbox("legacy", "alice", "INBOX");
  auto pending = (*st).scan_import_state(delivery::import_keys::pending_prefix(mb), 100);
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->size(), 3u);  // UIDs 1, 2, 3 once each
}

TEST(ImportNotify, EnqueueCoalescesPerMailboxAndWindow) {
  auto cfg = config::parse(kToml, "t.toml");
  ASSERT_TRUE(cfg);
  TempStore st;
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  web::ImportNotification n;
  n.source = "legacy";
  n.user = "alice";
  n.uids = {1};
  auto a = web::enqueue_notification(*st, cfg->import, n, now);
  ASSERT_TRUE(a) << a.error();
  EXPECT_TRUE(a->new_job);
  EXPECT_EQ(a->due, now + std::chrono::seconds(30));
  n.uids = {1, 2};
  auto b = web::enqueue_notification(*st, cfg->import, n, now);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->new_job);
  EXPECT_EQ(b->job_id, a->job_id);
  n.mailbox = "Archive";  // another mailbox: its own job
  auto c = web::enqueue_notification(*st, cfg->import, n, now);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->new_job);
  // Not due before the window ends.
  auto due = (*st).due_imports(now, 10);
  ASSERT_TRUE(due);
  EXPECT_TRUE(due->empty());
  due = (*st).due_imports(now + std::chrono::seconds(30), 10);
  ASSERT_TRUE(due);
  EXPECT_EQ(due->size(), 2u);
  n.user = "zed";
  EXPECT_FALSE(web::enqueue_notification(*st, cfg->import, n, now));
}

// ---- GET /api/messages/{id}.html ----


TEST(MessageHtml, RendersForTheRecipientOnly) {
  TempStore st;
  ASSERT_TRUE((*st).add_user("bob@example.test", "pw-bob-123456"));
  config::Config cfg;
  std::string att(5000, 'A');
  std::string b64;
  {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t i = 0; i + 2 < att.size(); i += 3) {
      unsigned v = (unsigned char)att[i] << 16 | (unsigned char)att[i + 1] << 8 | (unsigned char)att[i + 2];
      for (int k = 3; k >= 0; --k) b64.push_back(t[(v >> (6 * k)) & 63]);
    }
  }
  std::string lines;
  for (std::size_t i = 0; i < b64.size(); i += 76) lines += b64.substr(i, 76) + "\r\n";
  std::string msg =
      "From: \"Ann <script>\" <ann@outside.test>\r\nTo: alice@example.test\r\nCc: carl@x.test\r\n"
      "Subject: Q3 <b>report</b>\r\nDate: Tue, 2 Jan 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
      "<html><head><title>t</title></head><body><p>Hello &amp; welcome</p><script>alert(1)</script>"
      "<img src=\"http://tracker.example/x.png\"></body></html>\r\n"
      "--b1\r\nContent-Type: application/pdf; name=\"r&d.pdf\"\r\nContent-Disposition: attachment; "
      "filename=\"r&d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      lines + "--b1--\r\n";
  delivery::Import req;
  req.account = "alice@example.test";
  req.bytes = msg;
  req.internal_date = 1704189600;
  auto out = delivery::Service(*st, cfg).import(req);
  ASSERT_EQ(out.status, delivery::Status::ok) << out.detail;
  const std::string id = out.message_id;

  web::Request r;
  r.method = "GET";
  r.target = "/api/messages/" + id + ".html";
  auto resp = web::handle_message_html(r, *st, "alice@example.test");
  ASSERT_EQ(resp.status, 200) << resp.body;
  EXPECT_EQ(resp.content_type, "text/html; charset=utf-8");
  const auto& h = resp.body;
  EXPECT_NE(h.find("Ann &lt;script&gt; &lt;ann@outside.test&gt;"), std::string::npos) << h;
  EXPECT_NE(h.find("alice@example.test"), std::string::npos);
  EXPECT_NE(h.find("carl@x.test"), std::string::npos);
  EXPECT_NE(h.find("Q3 &lt;b&gt;report&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(h.find("2024-01-02T10:00:00Z"), std::string::npos) << h;
  EXPECT_NE(h.find("Hello &amp; welcome"), std::string::npos) << h;
  EXPECT_EQ(h.find("<script"), std::string::npos);
  EXPECT_EQ(h.find("alert(1)"), std::string::npos);
  EXPECT_EQ(h.find("tracker.example"), std::string::npos);
  EXPECT_NE(h.find("/jmap/download/" + web::account_id_for("alice@example.test") + "/"), std::string::npos);
  EXPECT_NE(h.find("r%26d.pdf"), std::string::npos) << h;
  EXPECT_NE(h.find(">r&amp;d.pdf</a>"), std::string::npos) << h;
  bool csp = false;
  for (const auto& [k, v] : resp.headers) csp = csp || (k == "Content-Security-Policy" && v.find("default-src 'none'") == 0);
  EXPECT_TRUE(csp);

  // Another account, a wrong id, a bad path: the same 404.
  EXPECT_EQ(web::handle_message_html(r, *st, "bob@example.test").status, 404);
  r.target = "/api/messages/M000000000000000000000000.html";
  EXPECT_EQ(web::handle_message_html(r, *st, "alice@example.test").status, 404);
  r.target = "/api/messages/../x.html";
  EXPECT_EQ(web::handle_message_html(r, *st, "alice@example.test").status, 404);
}
