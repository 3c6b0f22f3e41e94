// tests/unit/mime/test_scanner.cpp — the streaming scanner: a table of messages with
// the expected part tree and body ranges; every case is also fed one byte at a time
// and split at every byte position, and must give identical events.
#include <gtest/gtest.h>

#include <sstream>

#include "mime/scanner.hpp"

using namespace refmail::mime;

namespace {

struct Recorder final : ScanHandler {
  std::string bytes;       // concatenation of on_bytes
  std::string body_bytes;  // Body-kind bytes only
  std::vector<std::string> events;
  std::vector<Part> ended;
  std::uint64_t expect_offset = 0;
  bool offsets_ok = true;
  int open_leaf = -1;
  bool body_outside_leaf = false;

  void on_part_begin(const Part& p) override {
    std::ostringstream s;
    s << "begin " << p.path << " " << p.type << "/" << p.subtype << " h[" << p.header.begin
      << "," << p.header.end << ") b" << p.body.begin;
    events.push_back(s.str());
    if (p.is_leaf()) open_leaf = static_cast<int>(p.index);
  }
  void on_bytes(std::uint64_t off, std::string_view b, ByteKind k) override {
    if (off != expect_offset) offsets_ok = false;
    expect_offset = off + b.size();
    bytes.append(b);
    if (k == ByteKind::Body) {
      body_bytes.append(b);
      if (open_leaf < 0) body_outside_leaf = true;
    }
  }
  void on_part_end(const Part& p) override {
    std::ostringstream s;
    s << "end " << p.path << " b[" << p.body.begin << "," << p.body.end << ")";
    events.push_back(s.str());
    ended.push_back(p);
    if (static_cast<int>(p.index) == open_leaf) open_leaf = -1;
  }
};

Recorder scan_chunks(std::string_view m, const std::vector<std::size_t>& cuts,
                     const Limits& lim = {}) {
  Recorder r;
  Scanner s(lim, r);
  std::size_t prev = 0;
  for (std::size_t c : cuts) {
    s.feed(m.substr(prev, c - prev));
    prev = c;
  }
  s.feed(m.substr(prev));
  s.finish();
  return r;
}

// The body text of the leaf with `path`.
std::string body_of(const Recorder& r, std::string_view m, std::string_view path) {
  for (const Part& p : r.ended)
    if (p.path == path && p.is_leaf())
      return std::string(m.substr(p.body.begin, p.body.end - p.body.begin));
  return "<none>";
}

struct Case {
  const char* name;
  std::string msg;
  std::vector<std::pair<std::string, std::string>> leaf_bodies;  // path -> body text
  std::vector<std::string> types;                                // "path type/subtype"
};

std::vector<Case> cases() {
  std::vector<Case> v;
  v.push_back({"simple", "Subject: hi\r\n\r\nhello\r\n", {{"1", "hello\r\n"}}, {"1 text/plain"}});
  v.push_back({"lf_only", "Subject: hi\n\nhello", {{"1", "hello"}}, {"1 text/plain"}});
  v.push_back({"no_body", "Subject: hi\r\n", {{"1", ""}}, {"1 text/plain"}});
  v.push_back({"multipart",
               "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\n"
               "Content-Type: text/plain\r\n\r\none\r\n--b1\r\n\r\ntwo\r\n\r\n--b1--\r\nepilogue\r\n",
               {{"1", "one"}, {"2", "two\r\n"}},
               {" multipart/mixed", "1 text/plain", "2 text/plain"}});
  v.push_back({"nested_and_rfc822",
               "Content-Type: multipart/mixed; boundary=outer\n\n--outer\n"
               "Content-Type: multipart/alternative; boundary=inner\n\n--inner\n\nplain\n"
               "--inner\nContent-Type: text/html\n\n<b>x</b>\n--inner--\n--outer\n"
               "Content-Type: message/rfc822\n\nSubject: inner\n\nbody of inner\n"
               "--outer\nContent-Type: message/rfc822\n\nContent-Type: multipart/mixed; boundary=z\n\n"
               "--z\n\nzz\n--z--\n--outer--\n",
               {{"1.1", "plain"}, {"1.2", "<b>x</b>"}, {"2.1", "body of inner"}, {"3.1", "zz"}},
               {" multipart/mixed", "1 multipart/alternative", "1.1 text/plain", "1.2 text/html",
                "2 message/rfc822", "2.1 text/plain", "3 message/rfc822", "3 multipart/mixed",
                "3.1 text/plain"}});
  v.push_back({"boundary_trailing_whitespace",
               "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b  \t\r\n\r\nA\r\n--b \r\n\r\nB\r\n--b-- \r\n",
               {{"1", "A"}, {"2", "B"}},
               {" multipart/mixed", "1 text/plain", "2 text/plain"}});
  v.push_back({"missing_final_boundary",
               "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nA\r\n--b\r\n\r\nunterminated",
               {{"1", "A"}, {"2", "unterminated"}},
               {" multipart/mixed", "1 text/plain", "2 text/plain"}});
  v.push_back({"boundary_prefix_is_not_a_delimiter",
               "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--bb\r\n--b x\r\nA\r\n--b--",
               {{"1", "--bb\r\n--b x\r\nA"}},
               {" multipart/mixed", "1 text/plain"}});
  v.push_back({"content_after_close_and_outer_boundary_in_epilogue",
               "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/mixed; boundary=i\n\n"
               "--i\n\nA\n--i--\njunk after close\n--o\n\nB\n--o--\ntrailer",
               {{"1.1", "A"}, {"2", "B"}},
               {" multipart/mixed", "1 multipart/mixed", "1.1 text/plain", "2 text/plain"}});
  v.push_back({"header_without_blank_line",
               "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nno header here\r\n--b--\r\n",
               {{"1", "no header here"}},
               {" multipart/mixed", "1 text/plain"}});
  v.push_back({"digest_defaults",
               "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d--\n",
               {{"1.1", "first"}},
               {" multipart/digest", "1 message/rfc822", "1.1 text/plain"}});
  v.push_back({"nul_and_bare_cr",
               std::string("Subject: x\r\n\r\na\0b\rc\r\n", 21), {{"1", std::string("a\0b\rc\r\n", 7)}},
               {"1 text/plain"}});
  v.push_back({"mbox_from_line", "From someone Mon Jan  1 00:00:00 2024\nSubject: s\n\nbody\n",
               {{"1", "body\n"}}, {"1 text/plain"}});
  v.push_back({"rfc2231_boundary",
               "Content-Type: multipart/signed;\n\tboundary*=\"us-ascii''Ee%51f\"\n\n--EeQf\n\none\n--EeQf--\n",
               {{"1", "one"}}, {" multipart/signed", "1 text/plain"}});
  v.push_back({"rfc2231_continued_boundary",
               "Content-Type: multipart/mixed; boundary*0=ab; boundary*1*=%63d\n\n--abcd\n\nx\n--abcd--\n",
               {{"1", "x"}}, {" multipart/mixed", "1 text/plain"}});
  v.push_back({"missing_subtype_is_text_plain", "Content-Type: text\n\nbody", {{"1", "body"}},
               {"1 text/plain"}});
  v.push_back({"dash_lines_in_body",
               "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n-- \nsig\n----------\n--b--\n",
               {{"1", "-- \nsig\n----------"}}, {" multipart/mixed", "1 text/plain"}});
  v.push_back({"empty_part_between_delimiters",
               "Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\nX\n--b--\n",
               {{"1", ""}, {"2", "X"}},
               {" multipart/mixed", "1 text/plain", "2 text/plain"}});
  return v;
}

}  // namespace

TEST(Scanner, TableCasesWholeOneByteAndEverySplit) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const Recorder whole = scan_chunks(c.msg, {});
    EXPECT_EQ(whole.bytes, c.msg);
    EXPECT_TRUE(whole.offsets_ok);
    EXPECT_FALSE(whole.body_outside_leaf);
    for (const auto& [path, body] : c.leaf_bodies) EXPECT_EQ(body_of(whole, c.msg, path), body) << path;
    std::vector<std::string> types;
    for (const Part& p : scan_message(c.msg)) types.push_back(p.path + " " + p.type + "/" + p.subtype);
    EXPECT_EQ(types, c.types);
    // One byte at a time.
    std::vector<std::size_t> all;
    for (std::size_t i = 1; i < c.msg.size(); ++i) all.push_back(i);
    const Recorder bytewise = scan_chunks(c.msg, all);
    EXPECT_EQ(bytewise.events, whole.events);
    EXPECT_EQ(bytewise.bytes, c.msg);
    EXPECT_EQ(bytewise.body_bytes, whole.body_bytes);
    // Split at every position.
    for (std::size_t i = 0; i <= c.msg.size(); ++i) {
      const Recorder two = scan_chunks(c.msg, {i});
      ASSERT_EQ(two.events, whole.events) << "split at " << i;
      ASSERT_EQ(two.bytes, c.msg);
      ASSERT_EQ(two.body_bytes, whole.body_bytes);
    }
  }
}

TEST(Scanner, HeaderFieldsAndParams) {
  const std::string m =
      "From: a@b\r\nContent-Type: Application/PDF; name=\"a \\\"q\\\".pdf\";\r\n"
      "\tfoo=bar (comment)\r\nContent-Transfer-Encoding:  BASE64 \r\n"
      "Content-Disposition: attachment;\r\n filename*0*=utf-8''%C3%A9;\r\n filename*1=x.pdf\r\n\r\nQUJD\r\n";
  const auto parts = scan_message(m);
  ASSERT_EQ(parts.size(), 1u);
  const Part& p = parts[0];
  EXPECT_EQ(p.type, "application");
  EXPECT_EQ(p.subtype, "pdf");
  ASSERT_NE(p.type_param("name"), nullptr);
  EXPECT_EQ(*p.type_param("name"), "a \"q\".pdf");
  ASSERT_NE(p.type_param("foo"), nullptr);
  EXPECT_EQ(*p.type_param("foo"), "bar");
  EXPECT_EQ(p.encoding, TransferEncoding::Base64);
  EXPECT_EQ(p.disposition, "attachment");
  ASSERT_NE(p.disposition_param("filename*0*"), nullptr);
  EXPECT_TRUE(p.has_file_name());
  const HeaderField* ct = p.field("content-type");
  ASSERT_NE(ct, nullptr);
  EXPECT_EQ(ct->raw_value, " Application/PDF; name=\"a \\\"q\\\".pdf\";\r\n\tfoo=bar (comment)");
  EXPECT_EQ(ct->value, "Application/PDF; name=\"a \\\"q\\\".pdf\";\tfoo=bar (comment)");
  EXPECT_EQ(m.substr(ct->range.begin, ct->range.size()),
            "Content-Type: Application/PDF; name=\"a \\\"q\\\".pdf\";\r\n\tfoo=bar (comment)\r\n");
  EXPECT_EQ(m.substr(p.body.begin, p.body.size()), "QUJD\r\n");
  EXPECT_EQ(p.header.end, p.body.begin);
}

TEST(Scanner, LimitsMakeTheRestOpaqueNeverDropped) {
  // Depth: 500 nested multiparts with a 10-level limit.
  std::string deep;
  for (int i = 0; i < 500; ++i)
    deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
            std::to_string(i) + "\r\n";
  deep += "\r\nleaf\r\n";
  for (int i = 499; i >= 0; --i) deep += "--b" + std::to_string(i) + "--\r\n";
  Limits lim;
  lim.max_depth = 10;
  const Recorder r = scan_chunks(deep, {deep.size() / 3});
  EXPECT_EQ(r.bytes, deep);
  const auto parts = scan_message(deep, lim);
  EXPECT_EQ(parts.size(), 11u);
  EXPECT_TRUE(parts.back().limited);
  // Default limit (100) stops there; a high limit parses all 500 levels (no recursion).
  EXPECT_EQ(scan_message(deep).size(), 101u);
  lim.max_depth = 1000;
  EXPECT_EQ(scan_message(deep, lim).size(), 501u);

  // Parts: 10,000 parts with a 100-part limit.
  std::string many = "Content-Type: multipart/mixed; boundary=x\r\n\r\n";
  for (int i = 0; i < 10000; ++i) many += "--x\r\n\r\np" + std::to_string(i) + "\r\n";
  many += "--x--\r\n";
  lim = Limits{};
  lim.max_parts = 100;
  Recorder rm;
  {
    Scanner s(lim, rm);
    s.feed(many);
    s.finish();
  }
  EXPECT_EQ(rm.bytes, many);
  EXPECT_EQ(scan_message(many, lim).size(), 100u);
  EXPECT_EQ(scan_message(many).size(), 10000u);  // the default max_parts
  lim.max_parts = 20000;
  EXPECT_EQ(scan_message(many, lim).size(), 10001u);

  // Header bytes: a 100 KB header line with a 4 KB limit ends the header block.
  std::string big = "Subject: x\r\nX-Long: " + std::string(100000, 'a') + "\r\n\r\nbody";
  lim = Limits{};
  lim.max_header_bytes = 4096;
  const auto hp = scan_message(big, lim);
  ASSERT_EQ(hp.size(), 1u);
  EXPECT_TRUE(hp[0].limited);
  EXPECT_EQ(hp[0].body.end, big.size());
  Recorder rb;
  Scanner sb(lim, rb);
  for (std::size_t i = 0; i < big.size(); i += 1000) sb.feed(std::string_view(big).substr(i, 1000));
  sb.finish();
  EXPECT_EQ(rb.bytes, big);
  EXPECT_LE(sb.max_held_bytes(), 4096u + 1000u);
}

TEST(Scanner, LongHeaderLineFedBytewiseIsLinear) {
  // 60 KB header line, one byte per feed: quadratic rescanning would take minutes.
  const std::string m = "X-Long: " + std::string(60000, 'h') + "\r\nSubject: s\r\n\r\nbody";
  Recorder r;
  Scanner s(Limits{}, r);
  for (char c : m) s.feed(std::string_view(&c, 1));
  s.finish();
  EXPECT_EQ(r.bytes, m);
  ASSERT_EQ(r.ended.size(), 1u);
  EXPECT_EQ(r.ended[0].fields.size(), 2u);
  EXPECT_EQ(r.ended[0].body.begin, m.size() - 4);
}

TEST(Scanner, VeryLongBoundaryBytewiseAndDashLinesNotHeld) {
  const std::string b(5000, 'q');
  const std::string m = "Content-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n--" + b +
                        "\r\n\r\none\r\n--" + b + " \r\n\r\ntwo\r\n--" + b + "--\r\n";
  std::vector<std::size_t> all;
  for (std::size_t i = 1; i < m.size(); ++i) all.push_back(i);
  const Recorder r = scan_chunks(m, all);
  EXPECT_EQ(r.bytes, m);
  EXPECT_EQ(body_of(r, m, "1"), "one");
  EXPECT_EQ(body_of(r, m, "2"), "two");
  // A long line of dashes that cannot be a delimiter is not held back.
  const std::string d = "Content-Type: multipart/mixed; boundary=zz\n\n--zz\n\n" +
                        std::string(6000, '-') + "\nx\n--zz--\n";
  Recorder rd;
  Scanner s(Limits{}, rd);
  for (char c : d) s.feed(std::string_view(&c, 1));
  s.finish();
  EXPECT_EQ(rd.bytes, d);
  EXPECT_LT(s.max_held_bytes(), 100u);
}

TEST(Scanner, HeldBytesStayBoundedForHugeBodies) {
  std::string m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n";
  const std::string line(76, 'A');
  for (int i = 0; i < 20000; ++i) m += line + "\r\n";
  m += "--b--\r\n";
  Recorder r;
  Scanner s(Limits{}, r);
  for (std::size_t i = 0; i < m.size(); i += 4096) s.feed(std::string_view(m).substr(i, 4096));
  s.finish();
  EXPECT_EQ(r.bytes, m);
  EXPECT_LT(s.max_held_bytes(), 4096u + 200u);
}

// Hardening issue item 0: a structured value ending inside a comment with a backslash
// (a quoted-pair cut short) stepped past the end of the value, and read_token's substr
// threw std::out_of_range, which aborted refmaild. Such a value is now just a comment.
TEST(Scanner, ValueEndingInCommentBackslashDoesNotThrow) {
  for (const std::string value : {"(\\", "((a\\", "(\\\\", "text/plain (\\", "x; a=(\\"}) {
    for (const std::string header : {"Content-Type", "Content-Transfer-Encoding", "Content-Disposition"}) {
      const std::string m = header + ": " + value + "\r\n\r\nbody\r\n";
      Recorder r;
      EXPECT_NO_THROW(r = scan_chunks(m, {})) << m;
      EXPECT_EQ(r.bytes, m);
      EXPECT_EQ(body_of(r, m, "1"), "body\r\n") << m;
      for (std::size_t cut = 0; cut <= m.size(); ++cut) EXPECT_EQ(scan_chunks(m, {cut}).bytes, m);
    }
  }
  const std::string exact = "Content-Type: (\\\r\n\r\nbody\r\n";  // the 26 bytes of the report
  ASSERT_EQ(exact.size(), 26u);
  EXPECT_EQ(scan_chunks(exact, {}).ended.at(0).type, "text");
}

// Found by fuzz_mime_roundtrip (docs/FUZZING.md): a header block ended by a delimiter
// line that the part limit turns into content. Everything after it is content, whether
// the input arrives whole or is cut right after that line (the closing delimiter used to
// count only when it arrived in the same piece).
TEST(Scanner, PartLimitAtABodyStartDoesNotDependOnTheCut) {
  const std::string m =
      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\none\r\n"
      "--b\r\nContent-Type: application/pdf\r\n"
      "--b\r\ntail\r\n--b--\r\n";
  Limits lim;
  lim.max_parts = 3;
  const Recorder whole = scan_chunks(m, {}, lim);
  ASSERT_EQ(whole.ended.size(), 3u);
  const Part& pdf = whole.ended.at(1);
  EXPECT_EQ(pdf.subtype, "pdf");
  EXPECT_TRUE(pdf.limited);
  EXPECT_EQ(m.substr(pdf.body.begin, pdf.body.end - pdf.body.begin), "--b\r\ntail\r\n--b--\r\n");
  EXPECT_EQ(whole.bytes, m);
  for (std::size_t cut = 1; cut < m.size(); ++cut) {
    const Recorder r = scan_chunks(m, {cut}, lim);
    EXPECT_EQ(r.events, whole.events) << "cut at " << cut;
    EXPECT_EQ(r.bytes, m);
  }
}
