// tests/unit/mime/test_summary_properties.cpp — properties over the whole corpus and
// over random/mutated input: the summary and the header decoders never throw, always
// give valid UTF-8 within their bounds, and the summary serialization round-trips.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "mime/address.hpp"
#include "mime/charset.hpp"
#include "mime/rfc2047.hpp"
#include "mime/rfc2231.hpp"
#include "mime/summary.hpp"

namespace refmail::mime {
namespace {

std::vector<std::string> corpus_files() {
  std::vector<std::string> out;
  std::ifstream inv(std::string(REFMAIL_SHARED_DIR) + "/corpus/INVENTORY.tsv");
  std::string line;
  std::getline(inv, line);  // header
  while (std::getline(inv, line)) {
    std::istringstream ls(line);
    std::string source, path;
    std::getline(ls, source, '\t');
    std::getline(ls, path, '\t');
    out.push_back(std::string(REFMAIL_SHARED_DIR) + "/corpus/" + source + "/" + path);
  }
  return out;
}

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

void check_summary(const Summary& s, const SummaryLimits& lim, const std::string& what) {
  EXPECT_TRUE(is_valid_utf8(s.subject)) << what;
  EXPECT_LE(s.subject.size(), lim.max_header_bytes) << what;
  EXPECT_TRUE(is_valid_utf8(s.preview)) << what;
  EXPECT_LE(code_points(s.preview), lim.max_preview_chars) << what;
  for (const auto* list : {&s.from, &s.sender, &s.reply_to, &s.to, &s.cc, &s.bcc}) {
    EXPECT_LE(list->size(), lim.max_addresses);
    for (const Address& a : *list) {
      EXPECT_TRUE(is_valid_utf8(a.name)) << what;
      EXPECT_TRUE(is_valid_utf8(a.email)) << what;
      EXPECT_FALSE(a.email.empty()) << what;
    }
  }
  // Every string is emitted as JSON by JMAP Email/get: all must be valid UTF-8.
  EXPECT_TRUE(is_valid_utf8(s.date_raw)) << what;
  for (const auto* ids : {&s.message_id, &s.in_reply_to, &s.references})
    for (const std::string& id : *ids) EXPECT_TRUE(is_valid_utf8(id)) << what;
  std::size_t total = 0;
  for (const auto* parts : {&s.text_body, &s.html_body, &s.attachments}) {
    EXPECT_LE(parts->size(), lim.max_parts);
    for (const PartSummary& p : *parts) {
      EXPECT_TRUE(is_valid_utf8(p.content)) << what << " part " << p.part_path;
      for (const std::string* x : {&p.part_path, &p.type, &p.charset, &p.disposition, &p.name,
                                   &p.cid, &p.language, &p.location, &p.blob_id})
        EXPECT_TRUE(is_valid_utf8(*x)) << what << " part " << p.part_path;
      EXPECT_LE(p.content.size(), lim.max_body_bytes);
      EXPECT_FALSE(p.type.empty());
      total += p.content.size();
    }
  }
  for (const PartSummary& p : s.attachments) EXPECT_TRUE(p.content.empty()) << what;
  // A part in both lists is counted twice here; the budget is per distinct part.
  EXPECT_LE(total, 2 * lim.max_total_body_bytes) << what;
  auto back = Summary::parse(s.serialize());
  ASSERT_TRUE(back.has_value()) << what;
  EXPECT_EQ(*back, s) << what;
}

TEST(SummaryProperties, EveryCorpusFile) {
  const auto files = corpus_files();
  ASSERT_GT(files.size(), 200u);
  const SummaryLimits lim;
  std::size_t with_text = 0, with_attachments = 0;
  for (const std::string& f : files) {
    const std::string m = read_file(f);
    const Summary s = summarize(m, Skeleton{}, lim);
    check_summary(s, lim, f);
    EXPECT_EQ(s.size, m.size());
    with_text += !s.text_body.empty();
    with_attachments += !s.attachments.empty();
  }
  // Sanity: the corpus is mostly readable mail.
  EXPECT_GT(with_text, files.size() / 2);
  EXPECT_GT(with_attachments, 40u);
}

TEST(SummaryProperties, TightLimitsAndMutations) {
  const auto files = corpus_files();
  SummaryLimits lim;
  lim.max_body_bytes = 300;
  lim.max_total_body_bytes = 500;
  lim.max_preview_chars = 20;
  lim.max_header_bytes = 40;
  lim.max_addresses = 2;
  lim.max_parts = 3;
  lim.limits.max_depth = 3;
  lim.limits.max_parts = 20;
  std::mt19937 rng(12345);
  for (std::size_t k = 0; k < files.size(); k += 3) {
    std::string m = read_file(files[k]);
    if (m.size() > 300000) m.resize(300000);
    check_summary(summarize(m, Skeleton{}, lim), lim, files[k]);
    // Random byte flips and a random truncation.
    for (int round = 0; round < 3 && !m.empty(); ++round) {
      std::string mut = m;
      for (int i = 0; i < 20; ++i) mut[rng() % mut.size()] = static_cast<char>(rng() & 0xFF);
      mut.resize(rng() % (mut.size() + 1));
      check_summary(summarize(mut, Skeleton{}, lim), lim, files[k] + " (mutated)");
    }
  }
}

TEST(HeaderProperties, RandomInputIsSafe) {
  std::mt19937 rng(777);
  const std::string alphabet = "=?_QBqb'*%\"\\()<>@,;: \t\r\nabcXYZ019-./\x80\xC3\xA9\xFF\x1B$";
  for (int i = 0; i < 5000; ++i) {
    std::string s(rng() % 200, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    if (i % 3 == 0) s = "=?utf-8?" + s;
    if (i % 5 == 0) s = "attachment; filename*0*=" + s;
    EXPECT_TRUE(is_valid_utf8(decode_rfc2047(s)));
    const auto f = parse_parameterized_field(s);
    for (const auto& [n, v] : f.params) EXPECT_TRUE(is_valid_utf8(v));
    for (const Address& a : parse_address_list(s)) {
      EXPECT_TRUE(is_valid_utf8(a.name));
      EXPECT_FALSE(a.email.empty());
    }
    const std::string enc = encode_rfc2047(s, i % 2 ? EncodeContext::Text : EncodeContext::Phrase, i % 60);
    EXPECT_TRUE(is_ascii(enc));
  }
}

}  // namespace
}  // namespace refmail::mime
