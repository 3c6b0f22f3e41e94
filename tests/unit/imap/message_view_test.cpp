// tests/unit/imap/message_view_test.cpp — the IMAP message view (imap/message_view.hpp):
// ENVELOPE / BODY / BODYSTRUCTURE against hand-checked strings (Dovecot 2.3.19's answers
// for the same messages, see each test), FETCH sections and BINARY against scans of the
// ORIGINAL messages of the corpus, RangeSource against slices of the originals, what a
// range reads, and corrupt skeletons.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <set>
#include <random>

#include "imap/message_view.hpp"
#include "mime/codec.hpp"
#include "mime/errc.hpp"
#include "mime/scanner.hpp"
#include "tests/unit/mime/mime_test_util.hpp"

using namespace refmail;
using namespace refmail::imap;
using mime::test::MemoryBlobs;

namespace {

struct Stored {
  MemoryBlobs blobs;
  std::shared_ptr<const mime::Skeleton> skel;
};

std::unique_ptr<Stored> store(std::string_view m, std::uint64_t min_cut = 2048) {
  auto s = std::make_unique<Stored>();
  mime::SplitParams sp;
  sp.min_cut_bytes = min_cut;
  auto r = mime::split_message(m, s->blobs, sp);
  EXPECT_TRUE(r.has_value());
  s->skel = std::make_shared<const mime::Skeleton>(r ? std::move(*r) : mime::Skeleton{});
  return s;
}

std::vector<std::uint32_t> part_numbers(std::string_view path) {
  std::vector<std::uint32_t> out;
  std::uint32_t n = 0;
  for (char c : path) {
    if (c == '.') {
      out.push_back(n);
      n = 0;
    } else {
      n = n * 10 + static_cast<std::uint32_t>(c - '0');
    }
  }
  if (!path.empty()) out.push_back(n);
  return out;
}

Section section(std::string_view path, Section::Text text = Section::Text::None,
                std::vector<std::string> fields = {}) {
  return Section{part_numbers(path), text, std::move(fields)};
}

// The bytes a located section stands for, read through a RangeSource in odd chunks.
std::string read_section(const Stored& s, const SectionBytes& b, std::size_t chunk = 1000) {
  if (b.synthesized) return *b.synthesized;
  auto& blobs = const_cast<MemoryBlobs&>(s.blobs);
  RangeSource src(s.skel, blobs, b.offset, b.size);
  EXPECT_EQ(src.size(), b.size);
  std::string out, buf(chunk, '\0');
  while (true) {
    auto r = src.read(std::span<char>(buf.data(), buf.size()));
    EXPECT_TRUE(r.has_value()) << r.error().message();
    if (!r || *r == 0) break;
    out.append(buf.data(), *r);
  }
  return out;
}

std::string located(const Stored& s, const Section& sec) {
  auto r = locate_section(*s.skel, sec);
  EXPECT_TRUE(r.has_value());
  return r ? read_section(s, *r) : std::string("<error>");
}

std::string slice(std::string_view m, const mime::ByteRange& r) {
  return std::string(m.substr(r.begin, r.size()));
}

std::string base64_text(std::string_view data) { return mime::base64_encode(data, {76, mime::LineEnding::Crlf, true}); }

// ---- hand-checked messages (the strings are Dovecot 2.3.19's answers, quoting aside)

const std::string kBinary = [] {
  std::string s;
  for (int k = 0; k < 12; ++k)
    for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
  return s;
}();

const std::string kMixed =
    "From: \"Joe Q. Public\" <john.q.public@example.com>\r\n"
    "To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\r\n"
    "Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>\r\n"
    "Subject: =?UTF-8?B?w6lsw6l2ZQ==?= report\r\n"
    "Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
    "Message-ID: <5678.21-Nov-1997@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
    "--XX\r\nContent-Type: text/plain; format=flowed\r\n\r\nhello\r\nworld\r\n"
    "--XX\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Language: en, de\r\n"
    "Content-Location: http://x.test/a.pdf\r\nContent-ID: <id1@x>\r\nContent-Description: the file\r\n\r\n" +
    base64_text(kBinary) + "--XX--\r\n";

const std::string kGroups =
    "From: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\r\n"
    "To: undisclosed-recipients:;\r\n"
    "Cc: foo (Foo Bar), <@route.test,@r2.test:x@y.test>\r\n"
    "Sender: \r\n"
    "Content-Type: text/html\r\n\r\n<p>x</p>\r\n";

const std::string kForward =
    "From: a@b.test\r\nSubject: fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
    "--o\r\nContent-Type: multipart/alternative; boundary=\"i\"\r\n\r\n--i\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n\r\nplain\r\n--i\r\n"
    "Content-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    "<b>x=3D</b>\r\n--i--\r\n"
    "--o\r\nContent-Type: message/rfc822\r\n\r\nFrom: inner@c.test\r\nSubject: inner\r\n"
    "Date: Wed, 2 Jul 2003 10:00:00 +0000\r\n\r\nline1\r\nline2\r\n"
    "--o--\r\n";

const std::string kPlain = "Subject: x\r\nContent-Type: text/plain\r\n\r\nbody\r\n";

}  // namespace

TEST(MessageView, MultipartMixedWithACutAttachment) {
  auto s = store(kMixed);
  ASSERT_EQ(s->skel->cuts.size(), 1u);  // the PDF is a blob: sizes come from the cut
  EXPECT_EQ(envelope(*s->skel),
            "(\"Tue, 1 Jul 2003 10:52:37 +0200\" \"=?UTF-8?B?w6lsw6l2ZQ==?= report\" "
            "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
            "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
            "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
            "((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")(\"Who?\" NIL \"one\" \"y.test\")) "
            "((NIL NIL \"boss\" \"nil.test\")(\"Giant; \\\"Big\\\" Box\" NIL \"sysservices\" \"example.net\")) "
            "NIL NIL \"<5678.21-Nov-1997@example.com>\")");
  auto bs = body_structure(*s->skel, true);
  ASSERT_TRUE(bs.has_value()) << bs.error().message();
  EXPECT_EQ(*bs,
            "((\"text\" \"plain\" (\"format\" \"flowed\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL)"
            "(\"application\" \"pdf\" (\"name\" \"a.pdf\") \"<id1@x>\" \"the file\" \"base64\" 4202 NIL "
            "(\"attachment\" (\"filename\" \"a.pdf\")) (\"en\" \"de\") \"http://x.test/a.pdf\") "
            "\"mixed\" (\"boundary\" \"XX\") NIL NIL NIL)");
  auto body = body_structure(*s->skel, false);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(*body,
            "((\"text\" \"plain\" (\"format\" \"flowed\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1)"
            "(\"application\" \"pdf\" (\"name\" \"a.pdf\") \"<id1@x>\" \"the file\" \"base64\" 4202) \"mixed\")");
  EXPECT_EQ(located(*s, section("1")), "hello\r\nworld");
  // RFC 2046 5.1.1: the CRLF before the delimiter is the delimiter's, not the body's.
  const std::string pdf_text = base64_text(kBinary);
  EXPECT_EQ(located(*s, section("2")), pdf_text.substr(0, pdf_text.size() - 2));
  EXPECT_EQ(located(*s, section("2", Section::Text::Mime)).substr(0, 45), "Content-Type: application/pdf; name=\"a.pdf\"\r\n");
  EXPECT_EQ(located(*s, section("", Section::Text::HeaderFields, {"SUBJECT", "date"})),
            "Subject: =?UTF-8?B?w6lsw6l2ZQ==?= report\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n\r\n");
  EXPECT_EQ(located(*s, section("")), kMixed);
  // BINARY[2]: the blob itself, not decoded again.
  auto bin = locate_binary(*s->skel, {2});
  ASSERT_TRUE(bin.has_value());
  EXPECT_EQ(bin->blob_id, s->skel->cuts[0].blob_id);
  EXPECT_EQ(bin->size, kBinary.size());
  EXPECT_FALSE(bin->decoded.has_value());
  EXPECT_EQ(s->blobs.blobs.at(bin->blob_id), kBinary);
  auto text = locate_binary(*s->skel, {1});
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(text->decoded, "hello\r\nworld");
  EXPECT_EQ(locate_binary(*s->skel, {}).error(), make_error_code(view_errc::not_a_leaf));
  EXPECT_EQ(locate_binary(*s->skel, {3}).error(), make_error_code(view_errc::no_such_part));
}

TEST(MessageView, GroupsRoutesCommentsAndDefaults) {
  auto s = store(kGroups);
  const std::string from =
      "((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")(NIL NIL \"joe\" \"where.test\")"
      "(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL))";
  // Sender is empty: it is From (RFC 3501 7.4.2), as Reply-To, which is absent.
  EXPECT_EQ(envelope(*s->skel), "(NIL NIL " + from + " " + from + " " + from +
                                    " ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
                                    "((\"Foo Bar\" NIL \"foo\" \"MISSING_DOMAIN\")(NIL \"@route.test,@r2.test\" \"x\" \"y.test\")) "
                                    "NIL NIL NIL)");
  auto bs = body_structure(*s->skel, true);
  ASSERT_TRUE(bs.has_value());
  EXPECT_EQ(*bs, "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL)");
}

TEST(MessageView, NestedAlternativeAndAttachedMessage) {
  auto s = store(kForward);
  const std::string inner_env =
      "(\"Wed, 2 Jul 2003 10:00:00 +0000\" \"inner\" ((NIL NIL \"inner\" \"c.test\")) ((NIL NIL \"inner\" \"c.test\")) "
      "((NIL NIL \"inner\" \"c.test\")) NIL NIL NIL NIL NIL)";
  auto bs = body_structure(*s->skel, true);
  ASSERT_TRUE(bs.has_value());
  EXPECT_EQ(*bs,
            "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL)"
            "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 11 0 NIL NIL NIL NIL) "
            "\"alternative\" (\"boundary\" \"i\") NIL NIL NIL)"
            "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 88 " + inner_env +
            " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL) 5 NIL NIL NIL NIL) "
            "\"mixed\" (\"boundary\" \"o\") NIL NIL NIL)");
  auto body = body_structure(*s->skel, false);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(*body,
            "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0)"
            "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 11 0) \"alternative\")"
            "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 88 " + inner_env +
            " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1) 5) \"mixed\")");
  EXPECT_EQ(envelope(*s->skel), "(NIL \"fwd\" ((NIL NIL \"a\" \"b.test\")) ((NIL NIL \"a\" \"b.test\")) "
                                "((NIL NIL \"a\" \"b.test\")) NIL NIL NIL NIL NIL)");
  const std::string inner = "From: inner@c.test\r\nSubject: inner\r\nDate: Wed, 2 Jul 2003 10:00:00 +0000\r\n\r\nline1\r\nline2";
  EXPECT_EQ(located(*s, section("2")), inner);
  EXPECT_EQ(located(*s, section("2", Section::Text::Header)), inner.substr(0, inner.find("line1")));
  EXPECT_EQ(located(*s, section("2", Section::Text::Text)), "line1\r\nline2");
  EXPECT_EQ(located(*s, section("2.1")), "line1\r\nline2");
  EXPECT_EQ(located(*s, section("2", Section::Text::HeaderFieldsNot, {"from", "date"})), "Subject: inner\r\n\r\n");
  EXPECT_EQ(located(*s, section("2", Section::Text::Mime)), "Content-Type: message/rfc822\r\n\r\n");
  EXPECT_EQ(located(*s, section("1.2", Section::Text::Mime)),
            "Content-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
  EXPECT_EQ(located(*s, section("1.2")), "<b>x=3D</b>");
  EXPECT_EQ(located(*s, section("1")).substr(0, 5), "--i\r\n");
  for (const char* missing : {"3", "1.3", "2.2", "1.1.1", "0"})
    EXPECT_EQ(locate_section(*s->skel, section(missing)).error(), make_error_code(view_errc::no_such_part)) << missing;
  EXPECT_EQ(locate_section(*s->skel, section("1", Section::Text::Header)).error(),
            make_error_code(view_errc::no_such_part));  // not a message/rfc822 part
  EXPECT_EQ(locate_section(*s->skel, section("", Section::Text::Mime)).error(),
            make_error_code(view_errc::no_such_part));
  auto qp = locate_binary(*s->skel, {1, 2});
  ASSERT_TRUE(qp.has_value());
  EXPECT_EQ(qp->decoded, "<b>x=</b>");
  EXPECT_EQ(qp->size, 9u);
  EXPECT_EQ(locate_binary(*s->skel, {2}).error(), make_error_code(view_errc::not_a_leaf));
  EXPECT_EQ(locate_binary(*s->skel, {1}).error(), make_error_code(view_errc::not_a_leaf));
}

// The parser's limits are the caller's (those the message was split with): past them
// the rest is opaque body, so IMAP numbers the parts the splitter and the summary saw.
TEST(MessageView, LimitsAreTheCallers) {
  auto s = store(kForward);
  ViewOptions shallow;
  shallow.limits.max_depth = 1;  // the multipart/alternative at depth 1 is not parsed
  EXPECT_TRUE(locate_section(*s->skel, section("1.2")).has_value());
  EXPECT_EQ(locate_section(*s->skel, section("1.2"), shallow).error(), make_error_code(view_errc::no_such_part));
  EXPECT_EQ(located(*s, section("1")), slice(kForward, mime::scan_message(kForward)[1].body));
  const std::string bs = body_structure(*s->skel, false, nullptr, shallow).value();
  EXPECT_TRUE(bs.starts_with("(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"alternative\")")) << bs;
  EXPECT_NE(body_structure(*s->skel, false).value(), bs);
}

TEST(MessageView, NonMultipartMessage) {
  auto s = store(kPlain);
  EXPECT_EQ(envelope(*s->skel), "(NIL \"x\" NIL NIL NIL NIL NIL NIL NIL NIL)");
  EXPECT_EQ(body_structure(*s->skel, true).value(),
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL)");
  EXPECT_EQ(located(*s, section("1")), "body\r\n");  // RFC 9051 6.4.5: part 1 is the body
  EXPECT_EQ(located(*s, section("", Section::Text::Text)), "body\r\n");
  EXPECT_EQ(located(*s, section("", Section::Text::Header)), "Subject: x\r\nContent-Type: text/plain\r\n\r\n");
  EXPECT_EQ(located(*s, section("1", Section::Text::Mime)), "Subject: x\r\nContent-Type: text/plain\r\n\r\n");
  EXPECT_EQ(located(*s, section("", Section::Text::HeaderFields, {"x-none"})), "\r\n");
  EXPECT_EQ(locate_section(*s->skel, section("2")).error(), make_error_code(view_errc::no_such_part));
  EXPECT_EQ(locate_section(*s->skel, section("1.1")).error(), make_error_code(view_errc::no_such_part));
  // An LF message keeps its own empty line in synthesized headers.
  auto lf = store("Subject: x\nFrom: a@b\n\nbody\n");
  EXPECT_EQ(located(*lf, section("", Section::Text::HeaderFields, {"from"})), "From: a@b\n\n");
  // <partial>
  auto whole = locate_section(*s->skel, section("")).value();
  EXPECT_EQ(read_section(*s, apply_partial(whole, {2, 5})), kPlain.substr(2, 5));
  EXPECT_EQ(apply_partial(whole, {1000, 5}).size, 0u);
  auto fields = locate_section(*s->skel, section("", Section::Text::HeaderFields, {"subject"})).value();
  EXPECT_EQ(apply_partial(fields, {3, 100}).synthesized, "ject: x\r\n\r\n");
}

// Dovecot 2.3.19's answers for this message but for two places: Dovecot adds "charset"
// "us-ascii" beside an RFC 2231 charset* (we take charset* as the charset), and it counts
// the CRLF before the next delimiter in the undecoded message/rfc822 part (30 bytes, 1
// line) while RFC 2046 5.1.1 gives it to the delimiter (28, 0), as Dovecot itself does
// for every other part.
TEST(MessageView, UnparsedMultipartAndMessageRepeatedFieldsAndHumanText) {
  const std::string m =
      "From: a@b.test\r\nTo: x@y.test\r\nSubject: two  spaces\r\n\tand a fold\r\nTo: \"Second\tTo\" <z@y.test>\r\n"
      "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
      "--o\r\nContent-Type: multipart/related\r\nContent-Language: en\r\n\r\nno boundary here\r\n"
      "--o\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogaGkNCg0KYm9keQ0K\r\n"
      "--o\r\nContent-Type: text/plain; charset*=us-ascii'en'utf-8\r\n\r\nx\r\n"
      "--o--\r\n";
  auto s = store(m);
  EXPECT_EQ(envelope(*s->skel),
            "(NIL \"two spaces and a fold\" ((NIL NIL \"a\" \"b.test\")) ((NIL NIL \"a\" \"b.test\")) "
            "((NIL NIL \"a\" \"b.test\")) ((NIL NIL \"x\" \"y.test\")(\"Second To\" NIL \"z\" \"y.test\")) NIL NIL NIL NIL)");
  EXPECT_EQ(body_structure(*s->skel, true).value(),
            "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"related\" NIL NIL (\"en\") NIL)"
            "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 28 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 0 NIL NIL NIL NIL)"
            "(\"text\" \"plain\" (\"charset*\" \"us-ascii'en'utf-8\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) "
            "\"mixed\" (\"boundary\" \"o\") NIL NIL NIL)");
  EXPECT_EQ(body_structure(*s->skel, false).value(),
            "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"related\")"
            "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 28 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 0)"
            "(\"text\" \"plain\" (\"charset*\" \"us-ascii'en'utf-8\") NIL NIL \"7bit\" 1 0) \"mixed\")");
  // The unparsed message/rfc822 part has no HEADER/TEXT of its own; its body is there.
  EXPECT_EQ(located(*s, section("2")), "U3ViamVjdDogaGkNCg0KYm9keQ0K");
  EXPECT_EQ(locate_section(*s->skel, section("2", Section::Text::Header)).error(),
            make_error_code(view_errc::no_such_part));
}

TEST(MessageView, EightBitValuesAreLiteralsUnlessUtf8) {
  auto s = store("Subject: caf\xc3\xa9\r\nFrom: \"Jos\xc3\xa9\" <j@x.test>\r\n\r\nx\r\n");
  const std::string env = envelope(*s->skel);
  EXPECT_NE(env.find("{5}\r\ncaf\xc3\xa9"), std::string::npos) << env;
  const std::string utf8 = envelope(*s->skel, {.utf8 = true});
  EXPECT_NE(utf8.find("\"caf\xc3\xa9\" ((\"Jos\xc3\xa9\" NIL \"j\" \"x.test\"))"), std::string::npos) << utf8;
}

TEST(MessageView, NulInHeaderValuesNeverReachesALiteral) {
  auto s = store(std::string("Subject: a\0b\r\nContent-Type: text/plain; name=\"x\0y\"\r\n\r\nx\r\n", 57));
  const std::string env = envelope(*s->skel);
  EXPECT_EQ(env.find('\0'), std::string::npos);
  EXPECT_NE(env.find("{3}\r\na\x80" "b"), std::string::npos) << env;
  const std::string bs = body_structure(*s->skel, true).value();
  EXPECT_EQ(bs.find('\0'), std::string::npos);
  EXPECT_NE(bs.find("{3}\r\nx\x80y"), std::string::npos) << bs;
}

TEST(MessageView, LinesOfCutTextParts) {
  // Text attachments are cut; their line counts come from the cut's parameters (base64)
  // or from its text (identity, QP: read through the blobs).
  std::string text;
  for (int i = 0; i < 300; ++i) text += "line " + std::to_string(i) + " = caf\xc3\xa9 " + std::string(i % 90, 'x') + "\r\n";
  auto msg = [&](const std::string& cte, const std::string& body) {
    return "From: a@b.test\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           "Content-Type: text/csv\r\nContent-Disposition: attachment; filename=a.csv\r\n"
           "Content-Transfer-Encoding: " + cte + "\r\n\r\n" + body + "\r\n--b\r\n"
           "Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\n--c\r\n" + body + "\r\n--b--\r\n";
  };
  const std::string cases[][2] = {
      {"base64", mime::base64_encode(text, {76, mime::LineEnding::Crlf, true})},
      {"base64", mime::base64_encode(text, {64, mime::LineEnding::Crlf, false})},
      {"quoted-printable", mime::qp_encode(text, {mime::LineEnding::Crlf, 76})},
      {"8bit", text},
  };
  for (const auto& c : cases) {
    const std::string m = msg(c[0], c[1]);
    auto s = store(m, 100);
    ASSERT_GE(s->skel->cuts.size(), 1u) << c[0];
    mime::Skeleton uncut{m, {}};
    const auto want = body_structure(uncut, true);
    ASSERT_TRUE(want.has_value());
    auto got = body_structure(*s->skel, true, &s->blobs);
    ASSERT_TRUE(got.has_value()) << c[0];
    EXPECT_EQ(*got, *want) << c[0];
    auto got_body = body_structure(*s->skel, false, &s->blobs);
    EXPECT_EQ(got_body.value(), body_structure(uncut, false).value()) << c[0];
    if (c[0] != "base64") {
      EXPECT_EQ(body_structure(*s->skel, true).error(), make_error_code(view_errc::needs_blobs)) << c[0];
    } else {
      EXPECT_EQ(body_structure(*s->skel, true).value(), *want);  // arithmetic, no blob
    }
  }
}

TEST(MessageView, RangeSourceReadsOnlyTheBlobsOfItsRange) {
  class Counting final : public mime::BlobSource {
   public:
    explicit Counting(mime::BlobSource& in) : in_(in) {}
    std::map<std::string, std::uint64_t> bytes;
    boost::system::result<std::size_t> read(std::string_view id, std::uint64_t off, std::span<char> out) override {
      auto r = in_.read(id, off, out);
      if (r) bytes[std::string(id)] += *r;
      return r;
    }

   private:
    mime::BlobSource& in_;
  };
  std::string big(3'000'000, '\0'), small(9000, '\0');
  std::mt19937 rng(3);
  for (char& c : big) c = static_cast<char>(rng());
  for (char& c : small) c = static_cast<char>(rng());
  const std::string m = "From: a@b.test\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                        "Content-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64_text(big) +
                        "--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64_text(small) +
                        "--b--\r\n";
  auto s = store(m);
  ASSERT_EQ(s->skel->cuts.size(), 2u);
  auto read_all = [](LiteralSource& src) {
    std::string out, buf(65536, '\0');
    while (true) {
      auto r = src.read(std::span<char>(buf.data(), buf.size()));
      EXPECT_TRUE(r.has_value());
      if (!r || *r == 0) return out;
      out.append(buf.data(), *r);
    }
  };
  {  // BODY[2]: the small blob only.
    Counting c(s->blobs);
    const auto b = locate_section(*s->skel, section("2")).value();
    RangeSource src(s->skel, c, b.offset, b.size);
    const std::string text = base64_text(small);
    EXPECT_EQ(read_all(src), text.substr(0, text.size() - 2));  // without the delimiter's CRLF
    EXPECT_EQ(c.bytes.size(), 1u);
    EXPECT_EQ(c.bytes[s->skel->cuts[1].blob_id], small.size());
  }
  {  // BODY[]<1500000.1000>: about 750 bytes of the big blob.
    Counting c(s->blobs);
    RangeSource src(s->skel, c, 1'500'000, 1000);
    EXPECT_EQ(read_all(src), m.substr(1'500'000, 1000));
    EXPECT_EQ(c.bytes.size(), 1u);
    EXPECT_LE(c.bytes[s->skel->cuts[0].blob_id], 1000u / 4 * 3 + 120);
  }
  {  // A large range goes through the window and still equals the original.
    RangeSource src(s->skel, s->blobs, 100, 2'000'000);
    EXPECT_EQ(read_all(src), m.substr(100, 2'000'000));
  }
  {  // Past the end: cut at the end.
    RangeSource src(s->skel, s->blobs, m.size() - 10, 1000);
    EXPECT_EQ(src.size(), 10u);
    EXPECT_EQ(read_all(src), m.substr(m.size() - 10));
  }
}

TEST(MessageView, BinaryOfUnknownEncodingAndUncutParts) {
  auto s = store("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n"
                 "--b\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--\r\n");
  EXPECT_EQ(locate_binary(*s->skel, {1}).error(), make_error_code(view_errc::unknown_cte));
  auto b = locate_binary(*s->skel, {2});
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->decoded, "hello");
  EXPECT_TRUE(b->blob_id.empty());
}

// A body whose re-encoding fails after the splitter released its first lines becomes a
// partial cut (verified prefix as a blob, the rest literal): BINARY joins and decodes it.
TEST(MessageView, PartialCutIsJoinedForBinary) {
  std::string data(300000, '\0');
  std::mt19937 rng(4);
  for (char& c : data) c = static_cast<char>(rng());
  std::string text = mime::base64_encode(data, {76, mime::LineEnding::Crlf, true});
  text[text.size() - 100] = '*';  // not base64: the re-encoding fails late
  const std::string m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
                        "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
                        text + "--b--\r\n";
  auto s = std::make_unique<Stored>();
  mime::SplitParams sp;
  sp.max_held_body_bytes = 64 * 1024;
  // Fed in small chunks, as from a socket: lines are released before the mismatch.
  s->skel = std::make_shared<const mime::Skeleton>(
      mime::test::split_with(m, s->blobs, mime::test::Chunking::Random, 1, sp).skeleton);
  ASSERT_EQ(s->skel->cuts.size(), 1u);
  ASSERT_TRUE(s->skel->cuts[0].partial);
  const std::string body = text.substr(0, text.size() - 2);
  EXPECT_EQ(located(*s, section("2")), body);
  EXPECT_EQ(locate_binary(*s->skel, {2}).error(), make_error_code(view_errc::needs_blobs));
  auto bin = locate_binary(*s->skel, {2}, &s->blobs);
  ASSERT_TRUE(bin.has_value()) << bin.error().message();
  EXPECT_TRUE(bin->blob_id.empty());
  const std::string want = mime::base64_decode(body).bytes;  // skips the '*'
  EXPECT_TRUE(bin->decoded == want);
  EXPECT_EQ(bin->size, want.size());
  EXPECT_GT(bin->size, 299000u);
  const mime::Skeleton uncut{m, {}};
  EXPECT_EQ(body_structure(*s->skel, true).value(), body_structure(uncut, true).value());
}

// Every corpus message, split as the store splits it (and again cutting everything of
// 64 bytes or more): each section equals the bytes a scan of the ORIGINAL message names,
// read through RangeSource; body structures and BINARY equal those of the uncut message.
TEST(MessageView, CorpusSectionsMatchTheOriginal) {
  std::size_t messages = 0, sections = 0, cut_messages = 0, binaries = 0;
  std::mt19937 rng(5);
  for (const auto& path : mime::test::corpus_files()) {
    for (const std::string& m : mime::test::split_mbox(mime::test::read_file(path))) {
      for (std::uint64_t min_cut : {std::uint64_t{2048}, std::uint64_t{64}}) {
        auto s = store(m, min_cut);
        ++messages;
        if (!s->skel->cuts.empty()) ++cut_messages;
        const std::vector<mime::Part> orig = mime::scan_message(m);
        ASSERT_FALSE(orig.empty());
        const std::string where = path.string() + " min_cut " + std::to_string(min_cut);
        ASSERT_EQ(located(*s, section("")), m) << where;
        ASSERT_EQ(located(*s, section("", Section::Text::Header)), slice(m, {0, orig[0].header.end})) << where;
        ASSERT_EQ(located(*s, section("", Section::Text::Text)), m.substr(orig[0].header.end)) << where;
        std::set<std::string> seen;
        for (const mime::Part& p : orig) {
          if (p.path.empty() || !seen.insert(p.path).second) continue;  // first entity of a path
          const Section sec = section(p.path);
          ASSERT_EQ(located(*s, sec), slice(m, p.body)) << where << " BODY[" << p.path << "]";
          ASSERT_EQ(located(*s, section(p.path, Section::Text::Mime)), slice(m, p.header)) << where << " " << p.path;
          sections += 2;
          if (p.is_message && !p.children.empty()) {
            const mime::Part& inner = orig[p.children.front()];
            ASSERT_EQ(located(*s, section(p.path, Section::Text::Header)), slice(m, inner.header)) << where;
            ASSERT_EQ(located(*s, section(p.path, Section::Text::Text)), slice(m, inner.body)) << where;
            sections += 2;
          }
          if (!p.is_leaf() || p.type == "multipart") continue;
          auto bin = locate_binary(*s->skel, sec.part, &s->blobs);
          if (p.encoding == mime::TransferEncoding::Unknown) {
            EXPECT_EQ(bin.error(), make_error_code(view_errc::unknown_cte));
            continue;
          }
          ASSERT_TRUE(bin.has_value()) << where << " " << p.path << " " << bin.error().message();
          const std::string text = slice(m, p.body);
          const std::string want = p.encoding == mime::TransferEncoding::Base64 ? mime::base64_decode(text).bytes
                                   : p.encoding == mime::TransferEncoding::QuotedPrintable ? mime::qp_decode(text).bytes
                                                                                          : text;
          const std::string got = bin->decoded ? *bin->decoded : s->blobs.blobs.at(bin->blob_id);
          ASSERT_EQ(got.size(), bin->size);
          ASSERT_TRUE(got == want) << where << " BINARY[" << p.path << "]";
          ++binaries;
        }
        const mime::Skeleton uncut{m, {}};
        for (bool ext : {true, false}) {
          auto want = body_structure(uncut, ext);
          auto got = body_structure(*s->skel, ext, &s->blobs);
          ASSERT_TRUE(want.has_value() && got.has_value()) << where;
          ASSERT_EQ(*got, *want) << where;
        }
        ASSERT_EQ(envelope(*s->skel), envelope(uncut));
        for (int i = 0; i < 8; ++i) {
          const std::uint64_t off = rng() % (m.size() + 1);
          const std::uint64_t len = 1 + rng() % 6000;
          ASSERT_EQ(read_section(*s, apply_partial({0, m.size(), std::nullopt}, {static_cast<std::uint32_t>(off),
                                                                                   static_cast<std::uint32_t>(len)}),
                                 1 + rng() % 5000),
                    m.substr(off, len))
              << where;
        }
      }
    }
  }
  EXPECT_GT(messages, 400u);
  EXPECT_GT(cut_messages, 50u);
  EXPECT_GT(sections, 1000u);
  EXPECT_GT(binaries, 500u);
}

// Body structure sizes are the scanner's body sizes of the original (independent of the
// view's own code path for the uncut skeleton): the numbers in BODY for a flat multipart.
TEST(MessageView, BodySizesAreOriginalBodyLengths) {
  auto s = store(kMixed);
  const auto orig = mime::scan_message(kMixed);
  ASSERT_EQ(orig.size(), 3u);
  const std::string body = body_structure(*s->skel, false).value();
  EXPECT_NE(body.find("\"7bit\" " + std::to_string(orig[1].body.size()) + " 1)"), std::string::npos);
  EXPECT_NE(body.find("\"base64\" " + std::to_string(orig[2].body.size()) + ")"), std::string::npos);
}

TEST(MessageView, CorruptSkeletonsGiveErrorsOrBoundedOutput) {
  auto base = store(kMixed, 64);
  ASSERT_FALSE(base->skel->cuts.empty());
  std::mt19937 rng(9);
  for (int i = 0; i < 3000; ++i) {
    mime::Skeleton k = *base->skel;
    mime::Cut& c = k.cuts[rng() % k.cuts.size()];
    switch (rng() % 6) {
      case 0: c.offset = rng() % (k.bytes.size() + 20); break;
      case 1: c.encoded_size = rng() % 2 ? rng() : (std::uint64_t{1} << 63) + rng(); break;
      case 2: c.decoded_size = rng() % 2 ? rng() % 10000 : ~std::uint64_t{0} - rng() % 5; break;
      case 3: c.line_length = rng() % 200; break;
      case 4: c.encoding = static_cast<mime::CutEncoding>(rng() % 3); break;
      case 5: k.bytes.resize(rng() % (k.bytes.size() + 1)); break;
    }
    const std::size_t bound = 8 * k.bytes.size() + 2000;
    EXPECT_LE(envelope(k).size(), bound);
    for (bool ext : {true, false})
      if (auto r = body_structure(k, ext, &base->blobs)) EXPECT_LE(r->size(), bound);
    for (const char* p : {"", "1", "2", "2.1"}) {
      auto r = locate_section(k, section(p));
      if (r) EXPECT_LE(r->offset + r->size, k.joined_size() + 0) << p;
      (void)locate_binary(k, part_numbers(p), &base->blobs);
    }
    auto shared = std::make_shared<const mime::Skeleton>(k);
    RangeSource src(shared, base->blobs, rng() % 5000, rng() % 9000);
    std::string buf(4096, '\0');
    std::uint64_t got = 0;
    for (int n = 0; n < 100; ++n) {
      auto r = src.read(std::span<char>(buf.data(), buf.size()));
      if (!r || *r == 0) break;
      got += *r;
    }
    EXPECT_LE(got, src.size());
  }
}
