// tests/unit/mime/test_summary_split.cpp — the summary agrees with the splitter: every
// cut of every corpus message shows up in the summary under its part path with its
// blob id, the cut's decoded size equals the size the summary decodes itself, and the
// summary computed from the skeleton bytes alone lists the same attachments.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
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

}  // namespace
}  // namespace refmail::mime
