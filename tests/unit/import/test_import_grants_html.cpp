// tests/unit/import/test_import_grants_html.cpp — issue 9 items 4 and 6: an imported
// message's other local recipients get grant-only access (download, no mailbox row),
// and GET /api/messages/{id}.html keeps an HTML body as sanitised HTML: hostile
// markup (scripts, event handlers, javascript: URLs, forms, frames, styles, remote
// images) never survives, cid: images become authorised download links.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <regex>
#include <set>

#include "tests/unit/import/helpers.hpp"
#include "config/config.hpp"
#include "delivery/service.hpp"
#include "storage/store.hpp"
#include "web/import_api.hpp"
#include "web/jmap.hpp"

using namespace refmail;

namespace {

struct Store : import_testing::TestStore {
  Store() : TestStore({"alice@example.test", "bob@example.test", "carol@example.test"}, "pw-long-enough-1") {}
};

std::string base64_lines(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    for (int k = 3; k >= 0; --k) b64.push_back(t[(v >> (6 * k)) & 63]);
  }
  if (i < in.size()) {
    unsigned v = (unsigned char)in[i] << 16 | (i + 1 < in.size() ? (unsigned char)in[i + 1] << 8 : 0);
    b64.push_back(t[(v >> 18) & 63]);
    b64.push_back(t[(v >> 12) & 63]);
    b64.push_back(i + 1 < in.size() ? t[(v >> 6) & 63] : '=');
    b64.push_back('=');
  }
  std::string lines;
  for (std::size_t j = 0; j < b64.size(); j += 76) lines += b64.substr(j, 76) + "\r\n";
  return lines;
}

std::string blob_of(storage::Store& st, const std::string& message_id) {
  auto m = st.get_message(message_id);
  EXPECT_TRUE(m);
  if (!m || m->record.blob_ids.empty()) return {};
  return m->record.blob_ids[0];
}

std::string with_attachment(const std::string& to_cc, const std::string& content) {
  return "From: x@outside.test\r\n" + to_cc + "Subject: s\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee\r\n"
         "--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n" +
         base64_lines(content) + "--b1--\r\n";
}

web::Response view(storage::Store& st, const std::string& id, const std::string& account) {
  web::Request r;
  r.method = "GET";
  r.target = "/api/messages/" + id + ".html";
  return web::handle_message_html(r, st, account);
}

}  // namespace

// ---- grants for other local recipients (delivery::Import grant_accounts) ----

TEST(ImportGrants, GrantOnlyNoMailboxRow) {
  Store st;
  config::Config cfg;
  delivery::Import req;
  req.account = "alice@example.test";
  req.bytes = with_attachment("To: alice@example.test, bob@example.test\r\n", std::string(6000, 'G'));
  req.internal_date = 1704189600;
  req.grant_accounts = {"bob@example.test", "alice@example.test", "bob@example.test"};
  auto out = delivery::Service(*st, cfg).import(req);
  ASSERT_EQ(out.status, delivery::Status::ok) << out.detail;
  const std::string blob = blob_of(*st, out.message_id);
  ASSERT_FALSE(blob.empty());

  auto g = st->grant_count("bob@example.test", blob);
  ASSERT_TRUE(g);
  EXPECT_EQ(*g, 1);  // one grant, though bob was listed twice
  auto ga = st->grant_count("alice@example.test", blob);
  ASSERT_TRUE(ga);
  EXPECT_EQ(*ga, 1);  // the target's row only: no extra grant for itself
  auto gc = st->grant_count("carol@example.test", blob);
  ASSERT_TRUE(gc);
  EXPECT_EQ(*gc, 0);

  // Bob has no mailbox row: the message is not in his INBOX, and the HTML view
  // (which needs a row) answers him 404 while alice reads it.
  auto rows = st->list_account_rows("bob@example.test");
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());
  EXPECT_EQ(view(*st, out.message_id, "bob@example.test").status, 404);
  EXPECT_EQ(view(*st, out.message_id, "alice@example.test").status, 200);

  // The grant keeps the blob alive after alice expunges her copy.
  auto arows = st->list_account_rows("alice@example.test");
  ASSERT_TRUE(arows);
  ASSERT_EQ(arows->size(), 1u);
  std::vector<std::uint32_t> uids{(*arows)[0].uid};
  ASSERT_TRUE(st->expunge((*arows)[0].account, (*arows)[0].mailbox, uids));
  std::array<char, 16> buf{};
  auto n = st->read_blob(blob, 0, buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, buf.size());
  g = st->grant_count("bob@example.test", blob);
  ASSERT_TRUE(g);
  EXPECT_EQ(*g, 1);
  // The counts agree with what fsck recomputes (holds count as grants and references).
  auto f = st->fsck(false);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->clean());
  // Deleting bob releases his hold; with alice's row gone the blob is collected.
  ASSERT_TRUE(st->remove_user("bob@example.test"));
  EXPECT_FALSE(st->read_blob(blob, 0, buf));
  f = st->fsck(false);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->clean());
}

TEST(ImportGrants, UnknownGrantAccountFailsTheCommitCleanly) {
  Store st;
  config::Config cfg;
  delivery::Import req;
  req.account = "alice@example.test";
  req.bytes = with_attachment("To: alice@example.test\r\n", std::string(6000, 'H'));
  req.grant_accounts = {"nobody@example.test"};
  auto out = delivery::Service(*st, cfg).import(req);
  EXPECT_NE(out.status, delivery::Status::ok);
  auto rows = st->list_account_rows("alice@example.test");
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());  // nothing half-imported
}

// ---- the sanitised HTML view ----

namespace {

// Every tag in `html` must be an allowed element with only allowed attributes; links
// http/https/mailto only; images only from the authorised download path.
void expect_only_allowed_markup(const std::string& html, const std::string& download_prefix) {
  static const std::set<std::string> kAllowed = {
      "p", "br", "div", "span", "b", "i", "u", "strong", "em", "a", "ul", "ol", "li", "table", "thead", "tbody",
      "tfoot", "tr", "td", "th", "img", "blockquote", "pre", "code", "h1", "h2", "h3", "h4", "h5", "h6"};
  std::regex tag_re(R"(<(/?)([a-zA-Z0-9]+)([^>]*)>)");
  std::regex attr_re(R"re(\s([a-z]+)="([^"]*)")re");
  std::size_t tags = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tag_re); it != std::sregex_iterator(); ++it) {
    ++tags;
    const std::string name = (*it)[2];
    const std::string attrs = (*it)[3];
    EXPECT_TRUE(kAllowed.count(name)) << "element <" << name << "> in " << html;
    for (auto a = std::sregex_iterator(attrs.begin(), attrs.end(), attr_re); a != std::sregex_iterator(); ++a) {
      const std::string k = (*a)[1], v = (*a)[2];
      if (name == "a" && k == "href") {
        EXPECT_TRUE(v.rfind("http://", 0) == 0 || v.rfind("https://", 0) == 0 || v.rfind("mailto:", 0) == 0)
            << v;
      } else if (name == "a" && (k == "rel" || k == "target")) {
      } else if (name == "img" && k == "src") {
        EXPECT_EQ(v.rfind(download_prefix, 0), 0u) << v;
      } else if (name == "img" && k == "alt") {
      } else if ((name == "td" || name == "th") && (k == "colspan" || k == "rowspan")) {
      } else {
        ADD_FAILURE() << "attribute " << k << " on <" << name << "> in " << html;
      }
    }
    const std::string rest = std::regex_replace(attrs, attr_re, "");
    for (char c : rest) EXPECT_TRUE(c == ' ' || c == '/') << "unparsed attribute text '" << rest << "' in " << html;
  }
  EXPECT_GT(tags, 0u);
}

std::string body_of(const std::string& page) {
  auto a = page.find("<div class=\"html\">");
  auto b = page.rfind("</div>\n");
  if (a == std::string::npos || b == std::string::npos || b < a) return {};
  return page.substr(a + 18, b - a - 18);
}

std::string render(Store& st, const std::string& html, bool with_logo = true) {
  config::Config cfg;
  std::string msg =
      "From: x@outside.test\r\nTo: alice@example.test\r\nSubject: hostile\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/related; boundary=\"r1\"\r\n\r\n--r1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
      html + "\r\n";
  if (with_logo)
    msg += "--r1\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Disposition: inline\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n" +
           base64_lines(std::string(3000, 'P')) + "--r1--\r\n";
  else
    msg += "--r1--\r\n";
  delivery::Import req;
  req.account = "alice@example.test";
  req.bytes = msg;
  auto out = delivery::Service(*st, cfg).import(req);
  EXPECT_EQ(out.status, delivery::Status::ok) << out.detail;
  auto resp = view(*st, out.message_id, "alice@example.test");
  EXPECT_EQ(resp.status, 200);
  return resp.body;
}

}  // namespace

TEST(MessageHtmlSanitise, KeepsAllowedMarkup) {
  Store st;
  auto page = render(st,
                     "<html><body><h1>Title</h1><p>Hello <b>bold</b> <i>it</i> <u>u</u> <strong>s</strong> "
                     "<em>e</em></p><ul><li>one</li></ul><ol><li>two</li></ol><blockquote>q</blockquote>"
                     "<pre><code>x &lt; y</code></pre><table><tr><th colspan=\"2\">h</th></tr>"
                     "<tr><td rowspan=2>c</td><td>d</td></tr></table>"
                     "<a href=\"https://example.org/a?b=1&amp;c=2\">link</a> <a href='mailto:a@b.test'>mail</a>"
                     "<img src=\"cid:logo@x\" alt=\"Logo\"></body></html>");
  const std::string body = body_of(page);
  ASSERT_FALSE(body.empty()) << page;
  const std::string dl = "/jmap/download/" + web::account_id_for("alice@example.test") + "/";
  expect_only_allowed_markup(body, dl);
  for (const char* want : {"<h1>Title</h1>", "<b>bold</b>", "<i>it</i>", "<u>u</u>", "<strong>s</strong>",
                           "<em>e</em>", "<ul><li>one</li></ul>", "<ol><li>two</li></ol>",
                           "<blockquote>q</blockquote>", "<pre><code>x &lt; y</code></pre>",
                           "<th colspan=\"2\">h</th>", "<td rowspan=\"2\">c</td>",
                           "href=\"https://example.org/a?b=1&amp;c=2\"", "href=\"mailto:a@b.test\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">mail</a>",
                           "<img src=\"" })
    EXPECT_NE(body.find(want), std::string::npos) << want << "\n" << body;
  EXPECT_NE(body.find("<img src=\"" + dl), std::string::npos) << body;
  EXPECT_NE(body.find("alt=\"Logo\""), std::string::npos) << body;
  // The cid image is shown once, in the body, not again below it.
  const auto after = page.substr(page.rfind("</div>\n"));
  EXPECT_EQ(after.find("<img"), std::string::npos) << after;
}

TEST(MessageHtmlSanitise, HostileMarkupNeverSurvives) {
  Store st;
  const char* hostile[] = {
      "<script>alert(1)</script>",
      "<SCRIPT SRC=http://evil.test/x.js></SCRIPT>",
      "<scr<script>ipt>alert(2)</script>",
      "<img src=x onerror=alert(3)>",
      "<img src=\"http://remote.test/pixel.png\">",
      "<img src='https://remote.test/pixel.png'>",
      "<img src=\"data:image/png;base64,AAAA\">",
      "<img src=\"cid:missing@x\">",
      "<img src=\"//remote.test/p.png\">",
      "<a href=\"javascript:alert(4)\">j1</a>",
      "<a href=\"JaVaScRiPt:alert(5)\">j2</a>",
      "<a href=\"jav&#x61;script:alert(6)\">j3</a>",
      "<a href=\"jav&#97script:alert(7)\">j4</a>",
      "<a href=\" &#14; javascript:alert(8)\">j5</a>",
      "<a href=\"java\tscript:alert(9)\">j6</a>",
      "<a href=\"vbscript:x\">j7</a>",
      "<a href=\"data:text/html,<script>alert(10)</script>\">j8</a>",
      "<a href=\"https://ok.test/\" onclick=\"alert(11)\" style=\"x\">ok</a>",
      "<p onmouseover=\"alert(12)\" style=\"background:url(http://remote.test/bg)\">p</p>",
      "<div title=\"a>b\" onclick=alert(13)>t</div>",
      "<iframe src=\"http://evil.test/\">inside-frame</iframe>",
      "<object data=x>obj</object><embed src=x>",
      "<form action=\"http://evil.test/\"><input name=pw type=password><button>Go</button></form>",
      "<style>body{background:url(http://remote.test/css)}</style>",
      "<link rel=stylesheet href=http://remote.test/s.css><meta http-equiv=refresh content=\"0;url=http://evil.test\">",
      "<base href=\"http://evil.test/\">",
      "<svg onload=alert(14)><script>alert(15)</script></svg>",
      "<math><mtext><script>alert(16)</script></mtext></math>",
      "<!-- <script>alert(17)</script> -->",
      "<![CDATA[<script>alert(18)</script>]]>",
      "<textarea><script>alert(19)</script></textarea>",
      "<noscript><img src=x onerror=alert(20)></noscript>",
      "<template><script>alert(21)</script></template>",
      "<b><i>unclosed",
      "</div></td></tr></table></body></html>stray",
      "<a href=http://ok.test/>unquoted</a>",
      "<p\x01 onclick=alert(22)>ctl</p>",
      "<img src=\"cid:logo@x\" onerror=\"alert(23)\">",
      "<p>a & b &lt; c &#60; d &bogus e \"q\"</p>",
      "<plaintext><script>alert(24)</script>",
  };
  const std::string dl = "/jmap/download/" + web::account_id_for("alice@example.test") + "/";
  for (const char* h : hostile) {
    SCOPED_TRACE(h);
    auto page = render(st, std::string("<p>start</p>") + h + "<p>end</p>");
    const std::string body = body_of(page);
    ASSERT_NE(body.find("<p>start</p>"), std::string::npos) << page;
    std::string lower = body;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const char* bad : {"<script", "<iframe", "<form", "<input", "<button", "<style", "<svg", "<math", "<object",
                            "<embed", "<link", "<meta", "<base", "<textarea", "javascript:", "vbscript:", "data:",
                            "remote.test", "evil.test", "onerror", "onclick", "onload", "onmouseover", "style=",
                            "inside-frame"})
      EXPECT_EQ(lower.find(bad), std::string::npos) << bad << " in " << body;
    expect_only_allowed_markup(body, dl);
    // Balanced: as many opening as closing tags for each non-void element.
    for (const char* el : {"p", "b", "i", "div", "a", "table", "td", "tr"}) {
      std::regex open("<" + std::string(el) + "[ >]"), close("</" + std::string(el) + ">");
      auto n_open = std::distance(std::sregex_iterator(body.begin(), body.end(), open), std::sregex_iterator());
      auto n_close = std::distance(std::sregex_iterator(body.begin(), body.end(), close), std::sregex_iterator());
      EXPECT_EQ(n_open, n_close) << el << " in " << body;
    }
    // The page's own structure survives: the header table comes before the body and the
    // document ends properly.
    EXPECT_NE(page.find("</body></html>\n"), std::string::npos);
  }
  // Specific outcomes.
  auto page = render(st, "<p>a & b &lt; c &#60; d &bogus e \"q\"</p>");
  EXPECT_NE(page.find("<p>a &amp; b &lt; c &#60; d &amp;bogus e &quot;q&quot;</p>"), std::string::npos) << page;
  page = render(st, "<a href=\"https://ok.test/\" onclick=\"alert(11)\">ok</a>");
  EXPECT_NE(page.find("<a href=\"https://ok.test/\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">ok</a>"),
            std::string::npos)
      << page;
  page = render(st, "<a href=\"javascript:alert(4)\">j1</a>");
  EXPECT_NE(page.find("<a>j1</a>"), std::string::npos) << page;
  page = render(st, "<b><i>unclosed");
  EXPECT_NE(page.find("<b><i>unclosed</i></b>"), std::string::npos) << page;
  page = render(st, "<form><input name=x>kept text</form>");
  EXPECT_NE(page.find("kept text"), std::string::npos) << page;
  page = render(st, "<IMG SRC=\"CID:LOGO@X\">", true);
  EXPECT_NE(page.find("<img src=\"/jmap/download/"), std::string::npos) << page;
}

TEST(MessageHtmlSanitise, DeepNestingIsBounded) {
  Store st;
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "<div>";
  deep += "x";
  auto page = render(st, deep, false);
  const std::string body = body_of(page);
  std::regex open("<div>");
  auto n = std::distance(std::sregex_iterator(body.begin(), body.end(), open), std::sregex_iterator());
  EXPECT_LE(n, 64);
  EXPECT_NE(body.find('x'), std::string::npos);
}

TEST(MessageHtmlSanitise, AlternativeShowsTheHtmlPart) {
  Store st;
  config::Config cfg;
  delivery::Import req;
  req.account = "alice@example.test";
  req.bytes =
      "From: x@outside.test\r\nTo: alice@example.test\r\nSubject: alt\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/alternative; boundary=\"a1\"\r\n\r\n--a1\r\nContent-Type: text/plain\r\n\r\n"
      "plain version\r\n--a1\r\nContent-Type: text/html\r\n\r\n<p>rich <b>version</b></p>"
      "<script>alert(1)</script>\r\n--a1--\r\n";
  auto out = delivery::Service(*st, cfg).import(req);
  ASSERT_EQ(out.status, delivery::Status::ok) << out.detail;
  auto resp = view(*st, out.message_id, "alice@example.test");
  ASSERT_EQ(resp.status, 200);
  EXPECT_NE(resp.body.find("<p>rich <b>version</b></p>"), std::string::npos) << resp.body;
  EXPECT_EQ(resp.body.find("plain version"), std::string::npos) << resp.body;
  EXPECT_EQ(resp.body.find("<script"), std::string::npos) << resp.body;
}
