// tests/unit/mime/test_body_structure.cpp — caller-given body trees (DraftPart, JMAP
// bodyStructure): composed to a skeleton whose blob leaves are cuts, joined to the exact
// bytes, read back by summarize() and body_structure() (from the joined message and from
// the skeleton's own bytes alike); and check_draft_part's refusals.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>

#include "mime/codec.hpp"
#include "mime/composer.hpp"
#include "mime/errc.hpp"
#include "mime/joiner.hpp"
#include "mime/scanner.hpp"
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

DraftPart text(std::string type, std::string value) {
  DraftPart p;
  p.type = std::move(type);
  p.text = std::move(value);
  return p;
}

DraftPart blob(std::string type, std::string id, std::uint64_t size) {
  DraftPart p;
  p.type = std::move(type);
  p.blob_id = std::move(id);
  p.size = size;
  return p;
}

DraftPart multi(std::string type, std::vector<DraftPart> subs) {
  DraftPart p;
  p.type = std::move(type);
  p.sub_parts = std::move(subs);
  return p;
}

Draft draft_with(DraftPart body) {
  Draft d;
  d.from = {{"", "alice@example.test"}};
  d.subject = "tree";
  d.date = 1700000000;
  d.random_seed = 7;
  d.body = std::move(body);
  return d;
}

std::string decoded_leaf(const std::string& raw, const std::string& path) {
  for (const Part& p : scan_message(raw)) {
    if (p.path != path || !p.is_leaf()) continue;
    const std::string body = raw.substr(p.body.begin, p.body.size());
    std::string out;
    if (p.encoding == TransferEncoding::Base64) {
      Base64Decoder dec;
      dec.update(body, out);
      dec.finish(out);
    } else if (p.encoding == TransferEncoding::QuotedPrintable) {
      QpDecoder dec;
      dec.update(body, out);
      dec.finish(out);
    } else {
      out = body;
    }
    return out;
  }
  return "<missing " + path + ">";
}

void expect_same_tree(const StructurePart& a, const StructurePart& b) {
  EXPECT_EQ(a.is_multipart, b.is_multipart);
  EXPECT_EQ(a.part.part_path, b.part.part_path);
  EXPECT_EQ(a.part.type, b.part.type);
  EXPECT_EQ(a.part.size, b.part.size) << a.part.type << " " << a.part.part_path;
  EXPECT_EQ(a.part.blob_id, b.part.blob_id);
  EXPECT_EQ(a.part.cid, b.part.cid);
  EXPECT_EQ(a.part.name, b.part.name);
  EXPECT_EQ(a.headers, b.headers);
  ASSERT_EQ(a.sub_parts.size(), b.sub_parts.size());
  for (std::size_t i = 0; i < a.sub_parts.size(); ++i) expect_same_tree(a.sub_parts[i], b.sub_parts[i]);
}

TEST(BodyStructure, NestedTreeComposesToCutsAndReadsBack) {
  Blobs blobs;
  blobs.data["imgblob"] = random_bytes(5000, 1);
  blobs.data["pdfblob"] = random_bytes(70000, 2);
  DraftPart image = blob("image/png", "imgblob", 5000);
  image.cid = "logo@example.test";
  image.disposition = "inline";
  image.name = "logo.png";
  image.headers = {{"X-Image", " yes"}};
  DraftPart pdf = blob("application/pdf", "pdfblob", 70000);
  pdf.disposition = "attachment";
  pdf.name = "Résumé.pdf";
  DraftPart html = text("text/html", "<p>Grüße <img src=\"cid:logo@example.test\"></p>\n");
  html.language = {"de", "en-GB"};
  DraftPart plain = text("text/plain", "Hello\nthere");
  plain.headers = {{"X-Note", " plain\r\n folded"}};
  const Draft d = draft_with(multi(
      "multipart/mixed",
      {multi("multipart/alternative", {plain, multi("multipart/related", {html, image})}), pdf}));
  ASSERT_EQ(check_draft_part(*d.body), "");
  auto c = compose(d);
  ASSERT_TRUE(c.has_value());
  ASSERT_EQ(c->skeleton.cuts.size(), 2u);  // both blobs are references, never copied
  EXPECT_EQ(c->skeleton.cuts[0].blob_id, "imgblob");
  EXPECT_EQ(c->skeleton.cuts[0].part_path, "1.2.2");
  EXPECT_EQ(c->skeleton.cuts[1].blob_id, "pdfblob");
  EXPECT_EQ(c->skeleton.cuts[1].part_path, "2");
  auto joined = join_all(c->skeleton, blobs);
  ASSERT_TRUE(joined.has_value());
  const std::string& m = *joined;
  EXPECT_TRUE(m.ends_with("\r\n"));
  EXPECT_EQ(decoded_leaf(m, "1.2.2"), blobs.data["imgblob"]);
  EXPECT_EQ(decoded_leaf(m, "2"), blobs.data["pdfblob"]);
  EXPECT_EQ(decoded_leaf(m, "1.1"), "Hello\r\nthere");
  EXPECT_NE(m.find("X-Note: plain\r\n folded\r\n"), std::string::npos);
  EXPECT_NE(m.find("Content-Language: de, en-GB\r\n"), std::string::npos);
  EXPECT_NE(m.find("Content-ID: <logo@example.test>\r\n"), std::string::npos);
  EXPECT_NE(m.find(" type=\"text/html\""), std::string::npos);  // RFC 2387 on the related part

  const Summary s = summarize(m, c->skeleton);
  ASSERT_EQ(s.text_body.size(), 1u);
  EXPECT_EQ(s.text_body[0].content, "Hello\nthere");
  ASSERT_EQ(s.html_body.size(), 1u);
  EXPECT_EQ(s.html_body[0].content, "<p>Grüße <img src=\"cid:logo@example.test\"></p>\n");
  ASSERT_EQ(s.attachments.size(), 2u);
  EXPECT_EQ(s.attachments[0].cid, "logo@example.test");
  EXPECT_EQ(s.attachments[1].name, "Résumé.pdf");
  EXPECT_EQ(s.attachments[1].size, 70000u);

  // The tree, from the joined message and from the skeleton's own bytes alike.
  const StructurePart full = body_structure(m, c->skeleton, true);
  const StructurePart from_skeleton = body_structure(c->skeleton.bytes, c->skeleton, true);
  expect_same_tree(full, from_skeleton);
  EXPECT_TRUE(full.is_multipart);
  EXPECT_EQ(full.part.type, "multipart/mixed");
  ASSERT_EQ(full.sub_parts.size(), 2u);
  const StructurePart& alt = full.sub_parts[0];
  EXPECT_EQ(alt.part.type, "multipart/alternative");
  ASSERT_EQ(alt.sub_parts.size(), 2u);
  EXPECT_EQ(alt.sub_parts[0].part.part_path, "1.1");
  EXPECT_EQ(alt.sub_parts[0].part.charset, "utf-8");
  const StructurePart& rel = alt.sub_parts[1];
  EXPECT_EQ(rel.part.type, "multipart/related");
  ASSERT_EQ(rel.sub_parts.size(), 2u);
  EXPECT_EQ(rel.sub_parts[0].part.language, "de, en-GB");
  EXPECT_EQ(rel.sub_parts[1].part.blob_id, "imgblob");
  EXPECT_EQ(rel.sub_parts[1].part.size, 5000u);
  bool x_image = false;
  for (const auto& [n, v] : rel.sub_parts[1].headers) x_image = x_image || (n == "X-Image" && v == " yes");
  EXPECT_TRUE(x_image);
  EXPECT_EQ(full.sub_parts[1].part.blob_id, "pdfblob");
  // Multipart sizes: the raw body in the joined message.
  for (const Part& p : scan_message(m)) {
    if (p.path == "1" && p.is_multipart) {
      EXPECT_EQ(alt.part.size, p.body.size());
    }
    if (p.path.empty() && p.is_multipart) {
      EXPECT_EQ(full.part.size, p.body.size());
    }
  }
}

TEST(BodyStructure, SingleLeafRoots) {
  Blobs blobs;
  blobs.data["b"] = random_bytes(1000, 3);
  DraftPart only = blob("application/octet-stream", "b", 1000);
  only.name = "x.bin";
  auto c = compose(draft_with(only));
  ASSERT_TRUE(c.has_value());
  auto m = join_all(c->skeleton, blobs);
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->ends_with("\r\n"));
  EXPECT_EQ(decoded_leaf(*m, "1"), blobs.data["b"]);
  const StructurePart t = body_structure(c->skeleton.bytes, c->skeleton, false);
  EXPECT_FALSE(t.is_multipart);
  EXPECT_EQ(t.part.blob_id, "b");
  EXPECT_EQ(t.part.name, "x.bin");
  EXPECT_EQ(summarize(*m, c->skeleton).attachments.at(0).size, 1000u);

  auto ct = compose(draft_with(text("text/plain", "just text")));
  ASSERT_TRUE(ct.has_value());
  auto mt = join_all(ct->skeleton, blobs);
  ASSERT_TRUE(mt.has_value());
  EXPECT_TRUE(mt->ends_with("\r\n"));
  EXPECT_EQ(summarize(*mt, ct->skeleton).text_body.at(0).content, "just text");

  DraftPart lit;
  lit.type = "text/x-small";
  lit.literal = "tiny\x01";
  lit.size = 5;
  DraftPart lit_root = multi("multipart/mixed", {text("text/plain", "a"), lit});
  auto cl = compose(draft_with(lit_root));
  ASSERT_TRUE(cl.has_value());
  EXPECT_TRUE(cl->skeleton.cuts.empty());
  EXPECT_EQ(decoded_leaf(cl->skeleton.bytes, "2"), "tiny\x01");
}

TEST(BodyStructure, CheckRefusesBadTrees) {
  const DraftPart ok_text = text("text/plain", "x");
  const DraftPart ok_blob = blob("application/pdf", "pdfblob", 10);
  auto refused = [](const DraftPart& p) { return !check_draft_part(p).empty(); };
  EXPECT_EQ(check_draft_part(multi("multipart/mixed", {ok_text, ok_blob})), "");
  EXPECT_TRUE(refused(multi("multipart/mixed", {})));                    // no subParts
  DraftPart leaf_subs = ok_blob;
  leaf_subs.sub_parts = {ok_text};
  EXPECT_TRUE(refused(leaf_subs));                                      // leaf with subParts
  DraftPart both = ok_text;
  both.blob_id = "pdfblob";
  EXPECT_TRUE(refused(both));                                           // text and blob
  DraftPart neither;
  neither.type = "application/pdf";
  EXPECT_TRUE(refused(neither));
  EXPECT_TRUE(refused(text("image/png", "x")));                        // text must be text/*
  DraftPart multi_blob = multi("multipart/mixed", {ok_text});
  multi_blob.blob_id = "pdfblob";
  EXPECT_TRUE(refused(multi_blob));
  EXPECT_TRUE(refused(blob("Application/PDF", "pdfblob", 1)));          // lower-case types only
  EXPECT_TRUE(refused(blob("application", "pdfblob", 1)));
  EXPECT_TRUE(refused(blob("application/pdf", "bad id!", 1)));
  DraftPart charset = ok_text;
  charset.charset = "iso-8859-1";
  EXPECT_TRUE(refused(charset));
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"Content-Transfer-Encoding", " base64"},
           {"content-type", " text/html"},
           {"X-A", " a\r\nBcc: evil@example.test"},   // a new field, not a fold
           {"X-A", " a\nb"},
           {"X-A", " a\r\n \r\n b"},                   // whitespace-only line
           {"X-A", " a\x01"},
           {"X A", " a"},
           {"X:A", " a"},
           {"Subject", " at the root"},
           {"X-A", std::string(" ") + std::string(1000, 'a')},
       }) {
    DraftPart p = ok_text;
    p.headers = {{name, value}};
    EXPECT_TRUE(refused(p)) << name << ":" << value;
  }
  DraftPart dup = ok_text;
  dup.headers = {{"X-A", " 1"}, {"x-a", " 2"}};
  EXPECT_TRUE(refused(dup));
  DraftPart subject_inside = ok_text;
  subject_inside.headers = {{"Subject", " allowed below the root"}};
  EXPECT_EQ(check_draft_part(multi("multipart/mixed", {subject_inside})), "");
  DraftPart cid = ok_blob;
  cid.cid = "a b";
  EXPECT_TRUE(refused(cid));
  DraftPart deep = ok_text;
  for (std::size_t i = 0; i < kMaxDraftPartDepth; ++i) deep = multi("multipart/mixed", {deep});
  EXPECT_EQ(check_draft_part(deep), "");
  EXPECT_TRUE(refused(multi("multipart/mixed", {deep})));
  std::vector<DraftPart> many(kMaxDraftParts, ok_blob);
  EXPECT_TRUE(refused(multi("multipart/mixed", many)));
  many.pop_back();
  EXPECT_EQ(check_draft_part(multi("multipart/mixed", many)), "");
  // compose() refuses the same, and a tree given together with the other body fields.
  EXPECT_FALSE(compose(draft_with(multi("multipart/mixed", {}))).has_value());
  Draft mixed_up = draft_with(ok_text);
  mixed_up.text_body = "also";
  EXPECT_FALSE(compose(mixed_up).has_value());
}

}  // namespace
}  // namespace refmail::mime
