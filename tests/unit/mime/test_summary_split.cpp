// tests/unit/mime/test_summary_split.cpp — the summary agrees with the splitter: every
// cut of every corpus message shows up in the summary under its part path with its
// blob id, the cut's decoded size equals the size the summary decodes itself, and the
// summary computed from the skeleton bytes alone lists the same attachments.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <utility>
#include <sstream>
#include <string>

#include "mime/errc.hpp"
#include "mime/splitter.hpp"
#include "mime/summary.hpp"

namespace refmail::mime {
namespace {

class Sink final : public BlobSink {
 public:
  std::map<std::string, std::string> blobs;
  std::string current;
  void begin() override { current.clear(); }
  void append(std::span<const char> d) override { current.append(d.data(), d.size()); }
  boost::system::result<std::string> commit() override {
    std::string id = "b" + std::to_string(blobs.size());
    blobs.emplace(id, current);
    return id;
  }
  void discard() override { current.clear(); }
};

// The sink's blobs read back, as the store's BlobSource would serve them.
class Source final : public BlobSource {
 public:
  explicit Source(const Sink& s) : sink_(s) {}
  boost::system::result<std::size_t> read(std::string_view id, std::uint64_t offset, std::span<char> out) override {
    auto it = sink_.blobs.find(std::string(id));
    if (it == sink_.blobs.end()) return make_error_code(errc::skeleton_corrupt);
    if (offset >= it->second.size()) return std::size_t{0};
    const std::size_t n = std::min<std::size_t>(out.size(), it->second.size() - offset);
    std::memcpy(out.data(), it->second.data() + offset, n);
    ++reads;
    return n;
  }
  std::size_t reads = 0;

 private:
  const Sink& sink_;
};

// As the SMTP session feeds it: in small pieces (held-back lines get released between
// pieces, which is when partial cuts happen).
boost::system::result<Skeleton> split_in_pieces(std::string_view m, BlobSink& sink, const SplitParams& params) {
  Splitter s(params, sink);
  for (std::size_t i = 0; i < m.size(); i += 997) s.feed(m.substr(i, 997));
  return s.finish();
}

std::string read_file(const std::string& f) {
  std::ifstream in(f, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> corpus_files() {
  std::vector<std::string> out;
  std::ifstream inv(std::string(REFMAIL_SHARED_DIR) + "/corpus/INVENTORY.tsv");
  std::string line;
  std::getline(inv, line);
  while (std::getline(inv, line)) {
    std::istringstream ls(line);
    std::string source, path;
    std::getline(ls, source, '\t');
    std::getline(ls, path, '\t');
    out.push_back(std::string(REFMAIL_SHARED_DIR) + "/corpus/" + source + "/" + path);
  }
  return out;
}

const PartSummary* find_part(const Summary& s, std::string_view path) {
  for (const auto* list : {&s.attachments, &s.text_body, &s.html_body})
    for (const PartSummary& p : *list)
      if (p.part_path == path) return &p;
  return nullptr;
}

TEST(SummarySplit, CutsMatchSummaryParts) {
  std::size_t checked_cuts = 0;
  for (const std::string& f : corpus_files()) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string m = ss.str();
    Sink sink;
    SplitParams params;
    params.min_cut_bytes = 256;
    auto skel = split_message(m, sink, params);
    ASSERT_TRUE(skel.has_value()) << f;
    SummaryLimits lim;
    lim.limits = params.limits;
    const Summary plain = summarize(m, Skeleton{}, lim);
    const Summary with_cuts = summarize(m, *skel, lim);
    const Summary from_skeleton = summarize(skel->bytes, *skel, lim);
    EXPECT_EQ(with_cuts.size, m.size()) << f;
    EXPECT_EQ(from_skeleton.size, m.size()) << f;
    for (const Cut& cut : skel->cuts) {
      if (cut.partial) continue;
      const PartSummary* p = find_part(with_cuts, cut.part_path);
      const PartSummary* q = find_part(plain, cut.part_path);
      ASSERT_NE(p, nullptr) << f << " cut " << cut.part_path;
      ASSERT_NE(q, nullptr) << f << " cut " << cut.part_path;
      EXPECT_EQ(p->blob_id, cut.blob_id) << f;
      EXPECT_EQ(p->size, cut.decoded_size) << f << " " << cut.part_path;
      EXPECT_EQ(q->size, cut.decoded_size) << f << " " << cut.part_path;
      EXPECT_EQ(sink.blobs[cut.blob_id].size(), cut.decoded_size) << f;
      ++checked_cuts;
    }
    EXPECT_EQ(from_skeleton.attachments, with_cuts.attachments) << f;
    EXPECT_EQ(from_skeleton.subject, with_cuts.subject) << f;
    EXPECT_EQ(from_skeleton.from, with_cuts.from) << f;
  }
  EXPECT_GT(checked_cuts, 40u);
}

// Streaming ingest summarises the skeleton's bytes with the staged blobs as the source
// of cut bodies: the summary and body structure must equal the full message's, for
// every corpus message, at the production cut size and at a small one.
TEST(SummarySplit, FromSkeletonWithCutBytesEqualsFullMessage) {
  std::size_t files = 0, with_cuts = 0, partial = 0;
  for (const std::string& f : corpus_files()) {
    const std::string m = read_file(f);
    // Production parameters; small cuts; a tiny hold-back window (partial cuts).
    for (auto [min_cut, held] : {std::pair<std::uint64_t, std::size_t>{2048, 4u << 20}, {64, 4u << 20}, {16, 100}}) {
      Sink sink;
      SplitParams params;
      params.min_cut_bytes = min_cut;
      params.max_held_body_bytes = held;
      auto skel = split_in_pieces(m, sink, params);
      ASSERT_TRUE(skel.has_value()) << f;
      SummaryLimits lim;
      lim.limits = params.limits;
      Source source(sink);
      const Summary full = summarize(m, *skel, lim);
      const Summary streamed = summarize(skel->bytes, *skel, lim, &source);
      EXPECT_EQ(streamed, full) << f << " min_cut " << min_cut;
      EXPECT_EQ(body_structure(skel->bytes, *skel, false, lim).part, body_structure(m, *skel, false, lim).part) << f;
      if (!skel->cuts.empty()) ++with_cuts;
      for (const Cut& c : skel->cuts) partial += c.partial ? 1 : 0;
    }
    ++files;
  }
  EXPECT_GT(files, 200u);
  EXPECT_GT(with_cuts, 60u);
  EXPECT_GT(partial, 0u);
}

// A text body cut whole (a named text/plain part) gets its content from the blob, and
// only the first max_body_bytes of it are read.
TEST(SummarySplit, CutTextBodyContentComesFromTheBlobPrefix) {
  std::string text;
  for (int i = 0; i < 4000; ++i) text += "line " + std::to_string(i) + " of the report\r\n";
  const std::string m = "From: a@x.test\r\nSubject: t\r\nContent-Type: text/plain; name=report.txt\r\n\r\n" + text;
  Sink sink;
  SplitParams params;
  auto skel = split_in_pieces(m, sink, params);
  ASSERT_TRUE(skel.has_value());
  ASSERT_EQ(skel->cuts.size(), 1u);
  SummaryLimits lim;
  lim.max_body_bytes = 1000;
  Source source(sink);
  const Summary full = summarize(m, *skel, lim);
  const Summary streamed = summarize(skel->bytes, *skel, lim, &source);
  ASSERT_EQ(streamed.text_body.size(), 1u);
  EXPECT_EQ(streamed, full);
  EXPECT_TRUE(streamed.text_body[0].truncated);
  EXPECT_EQ(streamed.text_body[0].content.substr(0, 20), "line 0 of the report");
  EXPECT_LE(streamed.text_body[0].content.size(), 1000u);
  const Summary without = summarize(skel->bytes, *skel, lim);
  EXPECT_TRUE(without.text_body[0].content.empty());
  EXPECT_TRUE(without.text_body[0].truncated);
}

// A partial cut (late re-encoding mismatch past the hold limit) and a message/rfc822
// holding a cut attachment: sizes and text content still equal the full message's.
TEST(SummarySplit, PartialCutsAndNestedMessagesFromSkeleton) {
  std::string b64;
  {
    std::string raw;
    for (int i = 0; i < 20000; ++i) raw.push_back(static_cast<char>('a' + (i * 7) % 26));
    static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string enc;
    for (std::size_t i = 0; i + 2 < raw.size(); i += 3) {
      const unsigned v = (static_cast<unsigned char>(raw[i]) << 16) | (static_cast<unsigned char>(raw[i + 1]) << 8) |
                         static_cast<unsigned char>(raw[i + 2]);
      enc += tbl[(v >> 18) & 63];
      enc += tbl[(v >> 12) & 63];
      enc += tbl[(v >> 6) & 63];
      enc += tbl[v & 63];
    }
    for (std::size_t i = 0; i < enc.size(); i += 76) b64 += enc.substr(i, 76) + "\r\n";
    b64[b64.size() - 100] = '*';  // not base64, far from the start: a late mismatch
  }
  const std::string inner = "From: in@x.test\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n"
                            "--in\r\nContent-Type: text/plain\r\n\r\ninner text\r\n"
                            "--in\r\nContent-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                            b64 + "--in--\r\n";
  const std::string m = "From: a@x.test\r\nSubject: outer\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=out\r\n\r\n"
                        "--out\r\nContent-Type: text/plain; name=notes.txt\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                        b64 + "--out\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "--out--\r\n";
  Sink sink;
  SplitParams params;
  params.max_held_body_bytes = 4096;
  auto skel = split_in_pieces(m, sink, params);
  ASSERT_TRUE(skel.has_value());
  std::size_t partial = 0;
  for (const Cut& c : skel->cuts) partial += c.partial ? 1 : 0;
  ASSERT_GE(partial, 1u) << "the test needs a partial cut";
  SummaryLimits lim;
  lim.limits = params.limits;
  Source source(sink);
  const Summary full = summarize(m, *skel, lim);
  const Summary streamed = summarize(skel->bytes, *skel, lim, &source);
  EXPECT_EQ(streamed, full);
  ASSERT_FALSE(full.text_body.empty());
  EXPECT_FALSE(full.text_body[0].content.empty());
  EXPECT_EQ(body_structure(skel->bytes, *skel, false, lim).sub_parts.size(), body_structure(m, *skel, false, lim).sub_parts.size());
}

}  // namespace
}  // namespace refmail::mime
