// tests/unit/mime/test_summary.cpp — the reading view on corpus messages (RFC 2047
// subjects and names, RFC 2231 file names, non-UTF-8 charsets, RFC 8621 4.1.4 body
// selection over alternative/related/mixed), cuts -> blob ids, serialization.
// Expected values were read from the files (and cross-checked with Python's email).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "mime/rfc2231.hpp"
#include "mime/scanner.hpp"
#include "mime/summary.hpp"

namespace refmail::mime {
namespace {

std::string corpus(const std::string& rel) {
  const std::string path = std::string(REFMAIL_SHARED_DIR) + "/corpus/" + rel;
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Summary summarize_file(const std::string& rel) { return summarize(corpus(rel), Skeleton{}); }

std::vector<std::string> paths(const std::vector<PartSummary>& v) {
  std::vector<std::string> out;
  for (const auto& p : v) out.push_back(p.part_path);
  return out;
}

using V = std::vector<std::string>;

TEST(SummaryCorpus, Iso2022JpSubjectAndBody) {
  const Summary s = summarize_file("mimekit/UnitTests/TestData/messages/japanese.txt");
  EXPECT_EQ(s.subject, "日本語メールテスト (testing Japanese emails)");
  ASSERT_EQ(s.from.size(), 1u);
  EXPECT_EQ(s.from[0], (Address{"Atsushi Eno", "x@x.com"}));
  EXPECT_EQ(s.to, (std::vector<Address>{{"Jeffrey Stedfast", "x@x.com"}}));
  EXPECT_EQ(s.message_id, V{"55AE6D15.4010805@veritas-vos-liberabit.com"});
  EXPECT_EQ(s.date_raw, "Wed, 22 Jul 2015 01:02:29 +0900");
  EXPECT_EQ(s.date, 1437494549);
  ASSERT_EQ(s.text_body.size(), 1u);
  EXPECT_EQ(s.text_body[0].part_path, "1");
  EXPECT_EQ(s.text_body[0].type, "text/plain");
  EXPECT_EQ(s.text_body[0].charset, "iso-2022-jp");
  EXPECT_EQ(s.text_body[0].content,
            "Let's see if both subject and body works fine...\n\n日本語が\n正常に\n送れているか\nテスト.\n");
  EXPECT_FALSE(s.text_body[0].truncated);
  EXPECT_EQ(paths(s.html_body), V{"1"});  // RFC 8621: a lone text/plain is both
  EXPECT_TRUE(s.attachments.empty());
  EXPECT_FALSE(s.has_attachment);
  EXPECT_EQ(s.preview, "Let's see if both subject and body works fine... 日本語が 正常に 送れているか テスト.");
  EXPECT_EQ(s.size, corpus("mimekit/UnitTests/TestData/messages/japanese.txt").size());
}

TEST(SummaryCorpus, Rfc2047AddressesAndSubject) {
  const Summary s = summarize_file("apache_mime4j/core/src/test/resources/mimetools-testmsgs/intl.msg");
  EXPECT_EQ(s.from, (std::vector<Address>{{"Keith Moore", "moore@cs.utk.edu"}}));
  EXPECT_EQ(s.to, (std::vector<Address>{{"Keld Jørn Simonsen", "keld@dkuug.dk"}}));
  EXPECT_EQ(s.cc, (std::vector<Address>{{"André Pirard", "PIRARD@vm1.ulg.ac.be"}}));
  EXPECT_EQ(s.bcc, (std::vector<Address>{{"Patrik Fältström", "paf@nada.kth.se"}}));
  EXPECT_EQ(s.subject, "If you can read this you understand the example... so, cool!");
  EXPECT_FALSE(s.date.has_value());
}

TEST(SummaryCorpus, Koi8rQuotedPrintable) {
  const Summary s = summarize_file("mimekit/UnitTests/TestData/tnef/ukr.eml");
  EXPECT_EQ(s.subject, "rr test 7");
  ASSERT_EQ(s.text_body.size(), 1u);
  EXPECT_EQ(s.text_body[0].charset, "koi8-r");
  EXPECT_EQ(s.text_body[0].content, "шостий\n\n\n{EMAILSIGNATURE}\n\n\n\nRR Test 1\n\n\n");
  EXPECT_EQ(s.preview, "шостий {EMAILSIGNATURE} RR Test 1");
  ASSERT_EQ(s.attachments.size(), 1u);
  EXPECT_EQ(s.attachments[0].name, "winmail.dat");
  EXPECT_EQ(s.attachments[0].type, "application/ms-tnef");
  EXPECT_EQ(s.attachments[0].disposition, "attachment");
  EXPECT_EQ(s.attachments[0].part_path, "2");
  EXPECT_EQ(s.attachments[0].size, 9566u);  // INVENTORY.tsv decoded_attachment_bytes
  EXPECT_TRUE(s.has_attachment);
  EXPECT_EQ(s.date, 1510560073);
}

TEST(SummaryCorpus, Latin9QuotedPrintable) {
  const Summary s =
      summarize_file("apache_mime4j/core/src/test/resources/mimetools-testmsgs/german-qp.msg");
  EXPECT_EQ(s.subject, "Testnachricht");
  ASSERT_EQ(s.text_body.size(), 1u);
  EXPECT_EQ(s.text_body[0].charset, "iso-8859-15");
  EXPECT_NE(s.text_body[0].content.find("mit 8 Bit Sönderzäichen, und obendrein noch \nquoted"),
            std::string::npos);
  EXPECT_NE(s.text_body[0].content.find("Grüße,\n\nJörn\n"), std::string::npos);
}

TEST(SummaryCorpus, Rfc2231AttachmentName) {
  const Summary s = summarize_file("zbateson_mail_mime_parser/tests/_data/emails/m3004.txt");
  EXPECT_EQ(s.subject, "Die Hasen und die Frösche");
  EXPECT_EQ(s.to, (std::vector<Address>{{"Joe Blow", "blow@example.com"},
                                        {"Heinz Müller", "mueller@example.com"}}));
  ASSERT_EQ(s.attachments.size(), 1u);
  const PartSummary& a = s.attachments[0];
  EXPECT_EQ(a.name, "HasenundFrösche.txt");
  EXPECT_EQ(a.type, "text/plain");
  EXPECT_EQ(a.charset, "iso-8859-1");
  EXPECT_EQ(a.disposition, "attachment");
  EXPECT_EQ(a.cid, "Pine.LNX.4.21.0005191026120.8452@penguin.example.com");
  EXPECT_EQ(a.size, 755u);
  EXPECT_EQ(a.part_path, "2");
  EXPECT_TRUE(a.blob_id.empty());
  EXPECT_EQ(paths(s.text_body), V{"1"});
}

TEST(SummaryCorpus, Rfc2231WinsOverRfc2047Name) {
  const Summary s = summarize_file(
      "apache_mime4j/core/src/test/resources/mimetools-testmsgs/attachment-filename-encoding-UTF8.msg");
  ASSERT_FALSE(s.attachments.empty());
  EXPECT_EQ(s.attachments.back().name, "attachment.äöü");
  EXPECT_EQ(s.attachments.back().size, 5u);  // "Test\n"
}

TEST(SummaryCorpus, Rfc2047InUnquotedParameter) {
  const Summary s =
      summarize_file("apache_mime4j/core/src/test/resources/testmsgs/russian-headers.msg");
  ASSERT_EQ(s.attachments.size(), 1u);
  EXPECT_EQ(s.attachments[0].name, "Список.doc");
  EXPECT_EQ(s.attachments[0].part_path, "1");
  EXPECT_TRUE(s.text_body.empty());
  EXPECT_TRUE(s.has_attachment);
}

TEST(SummaryCorpus, Rfc2231ContinuationParameter) {
  const std::string m = corpus("cpython_test_email/msg_29.txt");
  const auto parts = scan_message(m);
  ASSERT_FALSE(parts.empty());
  const HeaderField* ct = parts[0].field("content-type");
  ASSERT_NE(ct, nullptr);
  const auto f = parse_parameterized_field(ct->raw_value);
  EXPECT_EQ(f.value, "text/plain");
  EXPECT_EQ(f.param("title"), "This is even more ***fun*** isn't it!");
  const Summary s = summarize(m, Skeleton{});
  EXPECT_EQ(s.from, (std::vector<Address>{{"John X. Doe", "bbb@ddd.com"}}));
}

TEST(SummaryCorpus, Rfc8621AlternativeRelatedMixed) {
  // mixed[ alternative[ related[html, gif, jpg], text ], document.txt ]
  const Summary s = summarize_file("mimekit/UnitTests/TestData/messages/body.6.txt");
  EXPECT_EQ(paths(s.text_body), V{"1.2"});
  EXPECT_EQ(paths(s.html_body), V{"1.1.1"});
  EXPECT_EQ(paths(s.attachments), (V{"1.1.2", "1.1.3", "2"}));
  ASSERT_EQ(s.html_body.size(), 1u);
  EXPECT_EQ(s.html_body[0].type, "text/html");
  EXPECT_EQ(s.html_body[0].content, "<html>This is an <b>html</b> body.</html>");
  EXPECT_EQ(s.text_body[0].content, "This is the text body.");
  EXPECT_EQ(s.attachments[0].name, "empty.gif");
  EXPECT_EQ(s.attachments[0].disposition, "inline");
  EXPECT_EQ(s.attachments[1].type, "image/jpeg");
  EXPECT_EQ(s.attachments[2].name, "document.txt");
  EXPECT_EQ(s.attachments[2].size, 29u);
  EXPECT_TRUE(s.attachments[2].content.empty());  // attachments carry no content
  EXPECT_EQ(s.preview, "This is the text body.");
  EXPECT_TRUE(s.has_attachment);
}

TEST(SummaryCorpus, Rfc8621RelatedAroundAlternative) {
  // mixed[ related[ alternative[text, html], png(cid), png(cid) ], png, png ]
  const Summary s = summarize_file("zbateson_mail_mime_parser/tests/_data/emails/m2005.txt");
  EXPECT_EQ(s.subject, "Die Hasen und die Frösche");
  EXPECT_EQ(s.to, (std::vector<Address>{{"Heinz Müller", "mueller@example.com"}}));
  EXPECT_EQ(paths(s.text_body), V{"1.1.1"});
  EXPECT_EQ(paths(s.html_body), V{"1.1.2"});
  EXPECT_EQ(paths(s.attachments), (V{"1.2", "1.3", "2", "3"}));
  ASSERT_EQ(s.attachments.size(), 4u);
  EXPECT_EQ(s.attachments[0].cid, "4.2.0.58.20000519003556.00a918e0@pop.example.com.2");
  EXPECT_EQ(s.attachments[0].name, "2aa3ed95.png");
  EXPECT_EQ(s.attachments[2].name, "blueball.png");
  EXPECT_EQ(s.attachments[2].disposition, "attachment");
  EXPECT_TRUE(s.preview.starts_with("Die Hasen und die Frösche Die Hasen klagten einst über"));
  EXPECT_TRUE(s.has_attachment);
}

TEST(SummaryCorpus, HtmlOnlyAlternativeFillsText) {
  const std::string m =
      "From: a@b.c\r\nContent-Type: multipart/alternative; boundary=X\r\n\r\n"
      "--X\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
      "<html><head><title>T</title><style>p{}</style></head><body><p>Caf&eacute; &amp; "
      "cr&#232;me&nbsp;br&ucirc;l&#xE9;e</p><script>x()</script>second&lt;line</body></html>\r\n"
      "--X--\r\n";
  const Summary s = summarize(m, Skeleton{});
  EXPECT_EQ(paths(s.html_body), V{"1"});
  EXPECT_EQ(paths(s.text_body), V{"1"});
  EXPECT_EQ(s.preview, "Café & crème brûlée second<line");
}

TEST(Summary, CutsGiveBlobIdsAndSizes) {
  const std::string rel = "zbateson_mail_mime_parser/tests/_data/emails/m3004.txt";
  Skeleton skel;
  skel.bytes = corpus(rel);  // (a real skeleton would lack the cut text)
  Cut c;
  c.blob_id = "blobABC";
  c.encoding = CutEncoding::Base64;
  c.decoded_size = 755;
  c.part_path = "2";
  skel.cuts.push_back(c);
  Cut partial = c;
  partial.blob_id = "ignored";
  partial.partial = true;
  partial.part_path = "";
  skel.cuts.push_back(partial);
  const Summary s = summarize(corpus(rel), skel);
  ASSERT_EQ(s.attachments.size(), 1u);
  EXPECT_EQ(s.attachments[0].blob_id, "blobABC");
  EXPECT_EQ(s.attachments[0].size, 755u);
  EXPECT_TRUE(s.text_body[0].blob_id.empty());
}

TEST(Summary, MalformedAndBounded) {
  // Unknown transfer encoding: an octet-stream attachment, not a body.
  const std::string m1 =
      "Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
      "begin 644 f\r\n`\r\nend\r\n";
  const Summary s1 = summarize(m1, Skeleton{});
  EXPECT_TRUE(s1.text_body.empty());
  ASSERT_EQ(s1.attachments.size(), 1u);
  EXPECT_EQ(s1.attachments[0].type, "application/octet-stream");
  // Body bounded and flagged truncated; output is valid UTF-8.
  std::string big = "Content-Type: text/plain; charset=iso-8859-1\r\n\r\n";
  for (int i = 0; i < 10000; ++i) big += "caf\xE9 \xFF\r\n";
  SummaryLimits lim;
  lim.max_body_bytes = 1000;
  lim.max_preview_chars = 10;
  const Summary s2 = summarize(big, Skeleton{}, lim);
  ASSERT_EQ(s2.text_body.size(), 1u);
  EXPECT_LE(s2.text_body[0].content.size(), 1000u);
  EXPECT_TRUE(s2.text_body[0].truncated);
  EXPECT_EQ(s2.text_body[0].size, 80000u);
  EXPECT_EQ(s2.preview, "café ÿ caf");
  // Garbage never throws.
  for (const std::string& g : {std::string(), std::string("\0\0\0", 3), std::string(5000, '\n'),
                              std::string("Content-Type: multipart/mixed\r\n\r\n--\r\n")}) {
    const Summary s = summarize(g, Skeleton{});
    EXPECT_EQ(s.size, g.size());
  }
}

TEST(Summary, SerializeRoundTrip) {
  for (const char* rel : {"zbateson_mail_mime_parser/tests/_data/emails/m2005.txt",
                          "mimekit/UnitTests/TestData/messages/japanese.txt",
                          "apache_mime4j/core/src/test/resources/mimetools-testmsgs/intl.msg"}) {
    Summary s = summarize_file(rel);
    s.date = s.date.value_or(-12345);
    const std::string bytes = s.serialize();
    auto back = Summary::parse(bytes);
    ASSERT_TRUE(back.has_value()) << rel;
    EXPECT_EQ(*back, s);
    // Every truncation and a flipped version byte fail cleanly.
    for (std::size_t n = 0; n < bytes.size(); n += 1 + n / 50)
      EXPECT_FALSE(Summary::parse(std::string_view(bytes).substr(0, n)).has_value());
    std::string bad = bytes;
    bad[4] = 9;
    EXPECT_FALSE(Summary::parse(bad).has_value());
    EXPECT_FALSE(Summary::parse(bytes + "x").has_value());
  }
}

TEST(Summary, PreviewAndHtml) {
  EXPECT_EQ(make_preview("  a\r\n\t b \xC2\xA0 c  ", 256), "a b c");
  EXPECT_EQ(make_preview("éééé", 2), "éé");
  EXPECT_EQ(html_to_text("a<br>b<!-- c -->d<p>e</p>&lt;&#65;&#x42;&bogus;", 100), "a\nbd\ne\n<AB&bogus;");
  EXPECT_LE(html_to_text(std::string(10000, 'x'), 100).size(), 100u);
}

}  // namespace
}  // namespace refmail::mime

namespace refmail::mime {
namespace {

TEST(SummaryCorpus, RelatedRootByTypeParameter) {
  // MHTML: multipart/related; type="text/html" with the image first (RFC 2387 3.1).
  const Summary s = summarize_file("mimekit/UnitTests/TestData/messages/multipart-related-mhtml.txt");
  EXPECT_EQ(paths(s.html_body), V{"2"});
  EXPECT_EQ(paths(s.text_body), V{"2"});
  EXPECT_EQ(paths(s.attachments), V{"1"});
  ASSERT_EQ(s.attachments.size(), 1u);
  EXPECT_EQ(s.attachments[0].type, "image/png");
  EXPECT_EQ(s.attachments[0].location, "image1");
}

TEST(Summary, RelatedRootByStart) {
  const std::string m =
      "Content-Type: multipart/related; boundary=B; start=\"<root@x>\"\r\n\r\n"
      "--B\r\nContent-Type: image/gif\r\nContent-ID: <img@x>\r\n\r\nGIF\r\n"
      "--B\r\nContent-Type: text/html\r\nContent-ID: <root@x>\r\n\r\n<p>hi</p>\r\n--B--\r\n";
  const Summary s = summarize(m, Skeleton{});
  EXPECT_EQ(paths(s.html_body), V{"2"});
  EXPECT_EQ(paths(s.attachments), V{"1"});
  EXPECT_EQ(s.preview, "hi");
  EXPECT_FALSE(s.has_attachment);  // the only attachment is a cid image
}

}  // namespace
}  // namespace refmail::mime

namespace refmail::mime {
namespace {

TEST(Summary, HtmlMetaCharset) {
  const std::string m =
      "Content-Type: text/html\r\n\r\n"
      "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=koi8-r\">"
      "</head><body>\xF0\xD2\xC9\xD7\xC5\xD4</body></html>\r\n";
  const Summary s = summarize(m, Skeleton{});
  ASSERT_EQ(s.html_body.size(), 1u);
  EXPECT_EQ(s.html_body[0].charset, "");
  EXPECT_NE(s.html_body[0].content.find("Привет"), std::string::npos);
  EXPECT_EQ(s.preview, "Привет");
}

}  // namespace
}  // namespace refmail::mime

namespace refmail::mime {
namespace {

TEST(Summary, DeepAndWideStructuresAreBounded) {
  // 500 nested multiparts (the scanner stops at its max_depth) and 10,000 parts.
  std::string deep = "Subject: deep\r\n";
  for (int i = 0; i < 500; ++i)
    deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
            std::to_string(i) + "\r\n";
  deep += "Content-Type: text/plain\r\n\r\nbottom\r\n";
  const Summary d = summarize(deep, Skeleton{});
  EXPECT_EQ(d.subject, "deep");
  std::string wide = "Content-Type: multipart/mixed; boundary=w\r\n\r\n";
  for (int i = 0; i < 10000; ++i)
    wide += "--w\r\nContent-Type: application/x-" + std::to_string(i) +
            "\r\nContent-Disposition: attachment; filename=f" + std::to_string(i) + "\r\n\r\nx\r\n";
  wide += "--w--\r\n";
  SummaryLimits lim;
  const Summary w = summarize(wide, Skeleton{}, lim);
  EXPECT_EQ(w.attachments.size(), lim.max_parts);
  EXPECT_EQ(w.attachments[0].name, "f0");
  EXPECT_TRUE(w.has_attachment);
}

}  // namespace
}  // namespace refmail::mime
