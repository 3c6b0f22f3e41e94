// tests/unit/mime/test_composer.cpp — draft -> skeleton -> joined bytes: structure,
// line rules, no Bcc, boundaries, cuts, parsed back with our summary, and accepted
// without defects by Python's email package (policy=default).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "mime/composer.hpp"
#include "mime/errc.hpp"
#include "mime/codec.hpp"
#include "mime/joiner.hpp"
#include "mime/scanner.hpp"
#include "mime/splitter.hpp"
#include "mime/summary.hpp"

namespace refmail::mime {
namespace {

class Blobs final : public BlobSource {
 public:
  std::map<std::string, std::string> data;
  boost::system::result<std::size_t> read(std::string_view id, std::uint64_t off,
                                          std::span<char> out) override {
    auto it = data.find(std::string(id));
    if (it == data.end()) return errc::blob_missing;
    if (off >= it->second.size()) return std::size_t{0};
    const std::size_t n = std::min<std::size_t>(out.size(), it->second.size() - off);
    std::memcpy(out.data(), it->second.data() + off, n);
    return n;
  }
};

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

// CRLF only, every line <= 998 octets (RFC 5322 2.1.1), header lines <= 78 here.
void expect_wire_rules(const std::string& m) {
  std::size_t start = 0;
  bool in_headers = true;
  while (start < m.size()) {
    const auto lf = m.find('\n', start);
    ASSERT_NE(lf, std::string::npos) << "message must end with CRLF";
    ASSERT_GT(lf, start) << "bare LF (empty line without CR)";
    ASSERT_EQ(m[lf - 1], '\r') << "bare LF at " << lf;
    const std::size_t len = lf - 1 - start;
    EXPECT_LE(len, 998u);
    if (in_headers) {
      EXPECT_LE(len, 78u) << m.substr(start, len);
      if (len == 0) in_headers = false;
    }
    start = lf + 1;
  }
  EXPECT_TRUE(m.ends_with("\r\n"));
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m[i] == '\r') {
      ASSERT_TRUE(i + 1 < m.size() && m[i + 1] == '\n') << "bare CR at " << i;
    }
}

// Runs Python's email parser over the bytes; returns its report ("OK" when clean).
std::string python_check(const std::string& bytes, const std::string& expect_names) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("refmail_composer_" + std::to_string(::getpid()) + "_" +
                    std::to_string(std::rand()));
  std::filesystem::create_directories(dir);
  const auto msg = dir / "m.eml";
  const auto out = dir / "out.txt";
  const auto script = dir / "check.py";
  std::ofstream(msg, std::ios::binary) << bytes;
  std::ofstream(script) << R"PY(
import email, email.policy, sys
raw = open(sys.argv[1], 'rb').read()
m = email.message_from_bytes(raw, policy=email.policy.default)
problems = []
names = []
for part in m.walk():
    if part.defects:
        problems.append('%s: %r' % (part.get_content_type(), part.defects))
    for k, v in part.items():
        if getattr(v, 'defects', None):
            problems.append('header %s: %r' % (k, v.defects))
    if part.get_filename():
        names.append(part.get_filename())
    if not part.is_multipart():
        part.get_content()  # must decode
if 'bcc' in m:
    problems.append('Bcc written')
if sys.argv[3] != '|'.join(names):
    problems.append('names %r' % names)
open(sys.argv[2], 'w', encoding='utf-8').write('\n'.join(problems) if problems else 'OK')
)PY";
  const std::string cmd = "python3 '" + script.string() + "' '" + msg.string() + "' '" +
                          out.string() + "' '" + expect_names + "'";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(out);
  std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove_all(dir);
  if (rc != 0) return "python failed rc=" + std::to_string(rc) + " " + report;
  return report;
}

Draft full_draft(Blobs& blobs) {
  Draft d;
  d.from = {{"Zoë Ärger", "zoe@example.org"}};
  d.to = {{"John Doe", "john@example.com"}, {"Smith, Jane", "jane@example.com"},
          {"", "plain@example.net"}};
  d.cc = {{"山田太郎", "taro@example.jp"}};
  d.bcc = {{"Secret", "hidden@example.com"}};
  d.reply_to = {{"", "replies@example.org"}};
  d.subject = "Résumé of the quarterly meeting in Zürich — with a long tail so it must fold";
  d.text_body = "Hello John,\n\nPlease find the résumé attached.\n"
                "A very long line " + std::string(1200, 'x') + "\n-- \nZoë\n";
  d.html_body = "<html><body><p>Hello <b>John</b>, r&eacute;sum&eacute; attached.</p>"
                "<img src=\"cid:logo@example.org\"></body></html>\n";
  blobs.data["logoblob"] = random_bytes(3000, 1);
  blobs.data["pdfblob"] = random_bytes(100000, 2);
  blobs.data["emptyblob"] = "";
  d.inline_images.push_back({"logoblob", "logo@example.org", "image/png", "logo.png", 3000});
  d.attachments.push_back({"pdfblob",
                           "Quarterly résumé — final version with a rather long file name.pdf",
                           "application/pdf", 100000, std::nullopt});
  d.attachments.push_back({"emptyblob", "empty.txt", "text/plain", 0, std::nullopt});
  d.in_reply_to = {"parent@example.com"};
  d.references = {"root@example.com", "parent@example.com"};
  d.date = 1700000000;
  d.random_seed = 42;
  d.host = "mail.example.org";
  return d;
}

TEST(Composer, FullDraftJoinsToAValidMessage) {
  Blobs blobs;
  const Draft d = full_draft(blobs);
  auto c = compose(d);
  ASSERT_TRUE(c.has_value());
  // Attachments and inline images are cuts: nothing encoded at compose time.
  ASSERT_EQ(c->skeleton.cuts.size(), 3u);
  for (const Cut& cut : c->skeleton.cuts) {
    EXPECT_EQ(cut.encoding, CutEncoding::Base64);
    EXPECT_EQ(cut.line_length, 76u);
    EXPECT_EQ(cut.line_ending, LineEnding::Crlf);
  }
  EXPECT_LT(c->skeleton.bytes.size(), 8000u);
  auto joined = join_all(c->skeleton, blobs);
  ASSERT_TRUE(joined.has_value());
  const std::string& m = *joined;
  EXPECT_EQ(m.size(), c->skeleton.joined_size());
  expect_wire_rules(m);
  EXPECT_EQ(m.find("hidden@example.com"), std::string::npos);
  EXPECT_EQ(m.find("Bcc:"), std::string::npos);
  EXPECT_NE(m.find("\r\nMIME-Version: 1.0\r\n"), std::string::npos);
  EXPECT_TRUE(m.starts_with("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
  EXPECT_NE(m.find("multipart/mixed"), std::string::npos);
  EXPECT_NE(m.find("multipart/alternative"), std::string::npos);
  EXPECT_NE(m.find("multipart/related"), std::string::npos);
  EXPECT_NE(m.find("filename*0*=utf-8''Quarterly%20r%C3%A9sum%C3%A9"), std::string::npos);

  // Parse it back with our own summary.
  const Summary s = summarize(m, c->skeleton);
  EXPECT_EQ(s.from, d.from);
  EXPECT_EQ(s.to, d.to);
  EXPECT_EQ(s.cc, d.cc);
  EXPECT_EQ(s.reply_to, d.reply_to);
  EXPECT_TRUE(s.bcc.empty());
  EXPECT_EQ(s.subject, d.subject);
  EXPECT_EQ(s.date, d.date);
  EXPECT_EQ(s.message_id, std::vector<std::string>{c->message_id});
  EXPECT_TRUE(c->message_id.ends_with("@mail.example.org"));
  EXPECT_EQ(s.in_reply_to, d.in_reply_to);
  EXPECT_EQ(s.references, d.references);
  ASSERT_EQ(s.text_body.size(), 1u);
  EXPECT_EQ(s.text_body[0].content, *d.text_body);
  ASSERT_EQ(s.html_body.size(), 1u);
  EXPECT_EQ(s.html_body[0].content, *d.html_body);
  ASSERT_EQ(s.attachments.size(), 3u);
  EXPECT_EQ(s.attachments[0].cid, "logo@example.org");
  EXPECT_EQ(s.attachments[0].blob_id, "logoblob");
  EXPECT_EQ(s.attachments[0].disposition, "inline");
  EXPECT_EQ(s.attachments[0].size, 3000u);
  EXPECT_EQ(s.attachments[1].name, d.attachments[0].name);
  EXPECT_EQ(s.attachments[1].type, "application/pdf");
  EXPECT_EQ(s.attachments[1].blob_id, "pdfblob");
  EXPECT_EQ(s.attachments[1].size, 100000u);
  EXPECT_EQ(s.attachments[2].name, "empty.txt");
  EXPECT_EQ(s.attachments[2].size, 0u);
  EXPECT_TRUE(s.has_attachment);
  EXPECT_EQ(s.size, m.size());
  // The same summary from the skeleton bytes alone (what the store keeps).
  const Summary s2 = summarize(c->skeleton.bytes, c->skeleton);
  EXPECT_EQ(s2.attachments, s.attachments);
  EXPECT_EQ(s2.text_body, s.text_body);
  EXPECT_EQ(s2.size, m.size());

  EXPECT_EQ(python_check(m, "logo.png|" + d.attachments[0].name + "|empty.txt"), "OK");
}

TEST(Composer, Shapes) {
  struct Shape {
    bool text, html, image, attachment;
    const char* top;
  };
  const Shape shapes[] = {
      {true, false, false, false, "text/plain"},
      {false, true, false, false, "text/html"},
      {true, true, false, false, "multipart/alternative"},
      {false, true, true, false, "multipart/related"},
      {true, false, false, true, "multipart/mixed"},
      {false, false, false, true, "multipart/mixed"},
      {false, false, false, false, "text/plain"},
      {true, false, true, false, "multipart/mixed"},  // cid image without HTML
  };
  for (const Shape& sh : shapes) {
    Blobs blobs;
    blobs.data["img"] = random_bytes(500, 3);
    blobs.data["att"] = random_bytes(77, 4);
    Draft d;
    d.from = {{"", "a@example.com"}};
    d.to = {{"", "b@example.com"}};
    d.subject = "plain subject";
    d.date = 0;
    d.random_seed = 7;
    if (sh.text) d.text_body = "only ascii\r\nlines\r\n";
    if (sh.html) d.html_body = "<p>caf\xC3\xA9</p>";
    if (sh.image) d.inline_images.push_back({"img", "c1@x", "image/gif", "", 500});
    if (sh.attachment) d.attachments.push_back({"att", "a.bin", "bogus type", 77, std::nullopt});
    auto c = compose(d);
    ASSERT_TRUE(c.has_value());
    auto joined = join_all(c->skeleton, blobs);
    ASSERT_TRUE(joined.has_value());
    expect_wire_rules(*joined);
    const Summary s = summarize(*joined, c->skeleton);
    if (sh.text) {
      ASSERT_FALSE(s.text_body.empty());
      EXPECT_EQ(s.text_body[0].content, "only ascii\nlines\n");
    }
    if (sh.html && !sh.text) {
      ASSERT_FALSE(s.html_body.empty());
      EXPECT_EQ(s.html_body[0].content, "<p>caf\xC3\xA9</p>");
    }
    if (sh.attachment) {
      ASSERT_FALSE(s.attachments.empty());
      EXPECT_EQ(s.attachments.back().type, "application/octet-stream");
      EXPECT_EQ(s.attachments.back().size, 77u);
    }
    const auto ct = joined->find(std::string("Content-Type: ") + sh.top);
    const auto blank = joined->find("\r\n\r\n");
    EXPECT_LT(ct, blank) << sh.top << "\n" << *joined;
    const std::string names = sh.image && !sh.html ? "" : sh.attachment ? "a.bin" : "";
    EXPECT_EQ(python_check(*joined, names), "OK") << *joined;
  }
}

// A literal attachment (a small part that was never a store blob) is written into the
// skeleton: no cut for it, and it decodes back to its bytes next to a blob attachment.
TEST(Composer, LiteralAttachmentLivesInTheSkeleton) {
  Blobs blobs;
  blobs.data["big"] = random_bytes(3000, 5);
  const std::string small = random_bytes(301, 6);
  Draft d;
  d.from = {{"", "a@example.com"}};
  d.to = {{"", "b@example.com"}};
  d.subject = "fwd";
  d.random_seed = 11;
  d.text_body = "see attached\r\n";
  d.attachments.push_back({"big", "big.bin", "application/octet-stream", 3000, std::nullopt});
  d.attachments.push_back({"not-a-valid-blob-id!", "small.bin", "image/png", 301, small});
  auto c = compose(d);
  ASSERT_TRUE(c.has_value());
  ASSERT_EQ(c->skeleton.cuts.size(), 1u);
  EXPECT_EQ(c->skeleton.cuts[0].blob_id, "big");
  auto joined = join_all(c->skeleton, blobs);
  ASSERT_TRUE(joined.has_value());
  expect_wire_rules(*joined);
  int found = 0;
  for (const auto& p : scan_message(*joined)) {
    if (!p.is_leaf() || p.encoding != TransferEncoding::Base64) continue;
    const auto decoded = base64_decode(std::string_view(*joined).substr(p.body.begin, p.body.size())).bytes;
    if (decoded == small) ++found;
    if (decoded == blobs.data["big"]) ++found;
  }
  EXPECT_EQ(found, 2);
  EXPECT_EQ(python_check(*joined, "big.bin|small.bin"), "OK") << *joined;
  // Without the literal the same invalid id is refused.
  d.attachments[1].literal.reset();
  EXPECT_FALSE(compose(d).has_value());
}

TEST(Composer, BoundaryNeverInContent) {
  // A body that contains what the first boundary would be: the composer must pick
  // another one. We find the first boundary from a run, then put it in the text.
  Blobs blobs;
  blobs.data["att"] = "x";
  Draft d;
  d.from = {{"", "a@example.com"}};
  d.text_body = "hi";
  d.attachments.push_back({"att", "x.txt", "text/plain", 1, std::nullopt});
  d.random_seed = 99;
  auto c1 = compose(d);
  ASSERT_TRUE(c1.has_value());
  const std::string& sk = c1->skeleton.bytes;
  const auto pos = sk.find("boundary=\"");
  ASSERT_NE(pos, std::string::npos);
  const std::string boundary = sk.substr(pos + 10, sk.find('"', pos + 10) - pos - 10);
  d.text_body = "line\n--" + boundary + "\nmore";
  auto c2 = compose(d);
  ASSERT_TRUE(c2.has_value());
  EXPECT_EQ(c2->skeleton.bytes.find("boundary=\"" + boundary + "\""), std::string::npos);
  auto joined = join_all(c2->skeleton, blobs);
  ASSERT_TRUE(joined.has_value());
  const Summary s = summarize(*joined, c2->skeleton);
  ASSERT_EQ(s.text_body.size(), 1u);
  EXPECT_EQ(s.text_body[0].content, *d.text_body);
  ASSERT_EQ(s.attachments.size(), 1u);
}

TEST(Composer, RejectsBadInput) {
  Draft d;
  EXPECT_FALSE(compose(d).has_value());  // no From
  d.from = {{"", "a@example.com"}};
  EXPECT_TRUE(compose(d).has_value());
  Draft inj = d;
  inj.to = {{"", "b@example.com\r\nBcc: x@evil"}};
  EXPECT_FALSE(compose(inj).has_value());
  Draft badblob = d;
  badblob.attachments.push_back({"../etc/passwd", "p", "text/plain", 1, std::nullopt});
  EXPECT_FALSE(compose(badblob).has_value());
  Draft badid = d;
  badid.in_reply_to = {"a>b"};
  EXPECT_FALSE(compose(badid).has_value());
  // Header injection through the subject or a display name is encoded, not written.
  Draft subj = d;
  subj.subject = "hi\r\nBcc: victim@example.com";
  subj.to = {{"Evil\r\nX-Injected: 1", "b@example.com"}};
  auto c = compose(subj);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->skeleton.bytes.find("\r\nBcc:"), std::string::npos);
  EXPECT_EQ(c->skeleton.bytes.find("\r\nX-Injected"), std::string::npos);
}

TEST(Composer, DeterministicFromSeed) {
  Blobs blobs;
  const Draft d = full_draft(blobs);
  auto a = compose(d), b = compose(d);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->skeleton, b->skeleton);
  Draft e = d;
  e.random_seed = 43;
  auto c = compose(e);
  ASSERT_TRUE(c.has_value());
  EXPECT_NE(c->message_id, a->message_id);
  Draft f = d;
  f.message_id = "given@example.org";
  auto g = compose(f);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->message_id, "given@example.org");
  EXPECT_NE(g->skeleton.bytes.find("Message-ID: <given@example.org>\r\n"), std::string::npos);
}

}  // namespace
}  // namespace refmail::mime

namespace refmail::mime {
namespace {

TEST(Composer, PythonCheckCanFail) {
  // The checker itself must see defects: a multipart with no closing delimiter.
  const std::string broken =
      "From: a@b.c\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"q\"\r\n\r\n"
      "--q\r\nContent-Type: text/plain\r\n\r\nhi\r\n";
  EXPECT_NE(python_check(broken, ""), "OK");
}

}  // namespace
}  // namespace refmail::mime

namespace refmail::mime {
namespace {

// A composed message that is received again (local delivery of a relayed copy, an
// import) splits back into the same attachment bytes: the composer's base64 is the
// splitter's canonical form, so dedup finds them.
class CountingSink final : public BlobSink {
 public:
  std::vector<std::string> committed;
  std::string current;
  void begin() override { current.clear(); }
  void append(std::span<const char> d) override { current.append(d.data(), d.size()); }
  boost::system::result<std::string> commit() override {
    committed.push_back(current);
    return "c" + std::to_string(committed.size());
  }
  void discard() override { current.clear(); }
};

TEST(Composer, ComposedMessageSplitsBackIntoTheSameBlobs) {
  Blobs blobs;
  const Draft d = full_draft(blobs);
  auto c = compose(d);
  ASSERT_TRUE(c.has_value());
  auto joined = join_all(c->skeleton, blobs);
  ASSERT_TRUE(joined.has_value());
  CountingSink sink;
  auto skel = split_message(*joined, sink);
  ASSERT_TRUE(skel.has_value());
  // The 100 KB PDF and the 3 KB logo are over the default 2 KiB threshold.
  std::vector<std::string> want = {blobs.data["logoblob"], blobs.data["pdfblob"]};
  std::vector<std::string> got;
  for (const Cut& cut : skel->cuts) {
    EXPECT_FALSE(cut.partial);
    got.push_back(sink.committed.at(std::stoul(cut.blob_id.substr(1)) - 1));
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(skel->joined_size(), joined->size());
}

}  // namespace
}  // namespace refmail::mime
