// tests/unit/web/jmap_body_structure_test.cpp — Email/set create with bodyStructure
// (RFC 8621 4.6) and Email/get bodyStructure (4.1.4): the tree is written as given, its
// blob leaves stay references to the uploaded blobs (no new blob), Email/get shows the
// tree from the skeleton, the raw message carries the exact bytes, and every invalid
// creation is refused with a SetError (never accepted and dropped).
#include "helpers.hpp"
#include "mime/codec.hpp"
#include "mime/scanner.hpp"

namespace refmail::web::testing {
namespace {

class JmapBodyStructure : public WebFixture {
 public:
  std::string upload(const std::string& user, const std::string& bytes, const std::string& type) {
    auto up = router_->handle(req("POST", "/jmap/upload/" + acct(user) + "/", user, bytes, {{"Content-Type", type}}));
    EXPECT_EQ(up.status, 201) << up.body;
    return std::string(json::parse(up.body).at("blobId").as_string());
  }

  std::string mailbox(const std::string& user, const std::string& role) {
    auto boxes = api(user, json::array{json::array{"Mailbox/get", json::object{{"accountId", acct(user)}}, "m"}});
    for (const auto& b : boxes.at(0).at(1).at("list").as_array())
      if (b.at("role") == json::value(role)) return std::string(b.at("id").as_string());
    return {};
  }

  // Email/set create of one email; the response's arguments.
  json::object create(const std::string& user, json::object email) {
    auto res = api(user, json::array{json::array{
        "Email/set", json::object{{"accountId", acct(user)}, {"create", json::object{{"k", std::move(email)}}}}, "c"}});
    return res.at(0).at(1).as_object();
  }

  json::object get(const std::string& user, const std::string& id, json::array props,
                   json::array body_props = {}) {
    json::object args{{"accountId", acct(user)}, {"ids", json::array{id}}, {"properties", std::move(props)},
                      {"fetchAllBodyValues", true}};
    if (!body_props.empty()) args["bodyProperties"] = std::move(body_props);
    auto res = api(user, json::array{json::array{"Email/get", args, "g"}});
    return res.at(0).at(1).at("list").at(0).as_object();
  }

  json::object base(const std::string& user) {
    return json::object{{"mailboxIds", json::object{{mailbox(user, "inbox"), true}}},
                        {"from", json::array{json::object{{"email", user + "@example.test"}}}},
                        {"subject", "bs"}};
  }

  // Decoded body of the leaf at `path` in a raw message.
  static std::string leaf_bytes(const std::string& raw, const std::string& path) {
    for (const auto& p : mime::scan_message(raw)) {
      if (p.path != path || !p.is_leaf()) continue;
      std::string body = raw.substr(p.body.begin, p.body.size());
      if (p.encoding != mime::TransferEncoding::Base64) return body;
      std::string out;
      mime::Base64Decoder dec;
      dec.update(body, out);
      dec.finish(out);
      return out;
    }
    return "<no part " + path + ">";
  }
};

TEST_F(JmapBodyStructure, MixedTextAndBlobIsWrittenAndReadBack) {
  const std::string payload = random_bytes(3000, 31);
  const std::string blob = upload("alice", payload, "application/octet-stream");
  const auto blobs_before = store_->stats()->blobs;
  json::object email = base("alice");
  email["bodyStructure"] = json::object{
      {"type", "multipart/mixed"},
      {"subParts", json::array{json::object{{"partId", "t"}, {"type", "text/plain"}},
                               json::object{{"blobId", blob}, {"type", "application/octet-stream"}, {"name", "x.bin"},
                                            {"disposition", "attachment"}}}}};
  email["bodyValues"] = json::object{{"t", json::object{{"value", "hello bodystructure"}}}};
  auto res = create("alice", email);
  ASSERT_TRUE(res.at("created").is_object()) << json::serialize(res);
  const std::string id(res.at("created").at("k").at("id").as_string());
  EXPECT_EQ(store_->stats()->blobs, blobs_before);  // a reference, not a copy

  auto em = get("alice", id, json::array{"bodyValues", "attachments", "bodyStructure", "textBody"});
  const std::string text_part(em.at("textBody").at(0).at("partId").as_string());
  EXPECT_EQ(em.at("bodyValues").at(text_part).at("value").as_string(), "hello bodystructure");
  ASSERT_EQ(em.at("attachments").as_array().size(), 1u);
  EXPECT_EQ(em.at("attachments").at(0).at("blobId").as_string(), blob);
  EXPECT_EQ(em.at("attachments").at(0).at("size").to_number<std::uint64_t>(), 3000u);
  const auto& bs = em.at("bodyStructure").as_object();
  EXPECT_EQ(bs.at("type").as_string(), "multipart/mixed");
  EXPECT_TRUE(bs.at("partId").is_null());
  EXPECT_TRUE(bs.at("blobId").is_null());
  const auto& subs = bs.at("subParts").as_array();
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_EQ(subs[0].at("type").as_string(), "text/plain");
  EXPECT_EQ(subs[0].at("charset").as_string(), "utf-8");
  EXPECT_EQ(subs[0].at("partId").as_string(), text_part);
  EXPECT_EQ(subs[0].at("size").to_number<std::uint64_t>(), std::string("hello bodystructure").size());
  EXPECT_EQ(subs[1].at("blobId").as_string(), blob);
  EXPECT_EQ(subs[1].at("size").to_number<std::uint64_t>(), 3000u);
  EXPECT_EQ(subs[1].at("name").as_string(), "x.bin");
  EXPECT_EQ(subs[1].at("disposition").as_string(), "attachment");
  EXPECT_EQ(subs[1].at("type").as_string(), "application/octet-stream");
  EXPECT_FALSE(subs[1].as_object().contains("subParts"));
  EXPECT_FALSE(subs[1].as_object().contains("headers"));  // not asked

  // The raw message (the email's blobId) carries the text and the exact bytes.
  auto dl = router_->handle(req("GET", "/jmap/download/" + acct("alice") + "/" + id + "/m.eml"));
  ASSERT_EQ(dl.status, 200);
  const std::string raw = drain(dl);
  EXPECT_EQ(leaf_bytes(raw, "2"), payload);
  EXPECT_NE(leaf_bytes(raw, "1").find("hello bodystructure"), std::string::npos);
  EXPECT_EQ(raw.find("Content-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding"), std::string::npos);
}

TEST_F(JmapBodyStructure, AlternativeWithRelatedInlineImageAndPartHeaders) {
  const std::string png = random_bytes(5000, 32);
  const std::string img = upload("alice", png, "image/png");
  json::object email = base("alice");
  json::object plain{{"partId", "p"}, {"type", "text/plain"}, {"header:X-Note", " plain one"}};
  json::object html{{"partId", "h"}, {"type", "text/html"}, {"language", json::array{"en"}}};
  json::object image{{"blobId", img}, {"type", "image/png"}, {"cid", "logo@x"}, {"disposition", "inline"},
                     {"name", "logo.png"}};
  image["headers"] = json::array{json::object{{"name", "X-Img"}, {"value", " 1"}}};
  json::object related{{"type", "multipart/related"}, {"subParts", json::array{html, image}}};
  email["bodyStructure"] = json::object{{"type", "multipart/alternative"}, {"subParts", json::array{plain, related}}};
  email["bodyValues"] = json::object{{"p", json::object{{"value", "plain text"}}},
                                     {"h", json::object{{"value", "<p>html <img src=\"cid:logo@x\"></p>"}}}};
  auto res = create("alice", email);
  ASSERT_TRUE(res.at("created").is_object()) << json::serialize(res);
  const std::string id(res.at("created").at("k").at("id").as_string());
  auto em = get("alice", id, json::array{"bodyValues", "textBody", "htmlBody", "attachments", "bodyStructure"},
                json::array{"partId", "blobId", "type", "cid", "language", "headers", "header:X-Note", "size"});
  EXPECT_EQ(em.at("bodyValues").at(em.at("textBody").at(0).at("partId").as_string()).at("value").as_string(), "plain text");
  EXPECT_NE(json::serialize(em.at("bodyValues").at(em.at("htmlBody").at(0).at("partId").as_string())).find("cid:logo@x"),
            std::string::npos);
  ASSERT_EQ(em.at("attachments").as_array().size(), 1u);
  EXPECT_EQ(em.at("attachments").at(0).at("cid").as_string(), "logo@x");
  EXPECT_EQ(em.at("attachments").at(0).at("blobId").as_string(), img);
  const auto& bs = em.at("bodyStructure");
  EXPECT_EQ(bs.at("type").as_string(), "multipart/alternative");
  EXPECT_EQ(bs.at("subParts").at(0).at("header:X-Note").as_string(), " plain one");
  const auto& rel = bs.at("subParts").at(1);
  EXPECT_EQ(rel.at("type").as_string(), "multipart/related");
  bool type_param = false;
  for (const auto& h : rel.at("headers").as_array())
    if (h.at("name") == "Content-Type") type_param = json::serialize(h).find("type=\\\"text/html\\\"") != std::string::npos;
  EXPECT_TRUE(type_param) << json::serialize(rel.at("headers"));
  EXPECT_EQ(rel.at("subParts").at(0).at("type").as_string(), "text/html");
  EXPECT_EQ(rel.at("subParts").at(0).at("language").at(0).as_string(), "en");
  const auto& got_image = rel.at("subParts").at(1);
  EXPECT_EQ(got_image.at("cid").as_string(), "logo@x");
  EXPECT_EQ(got_image.at("blobId").as_string(), img);
  EXPECT_EQ(got_image.at("size").to_number<std::uint64_t>(), png.size());
  bool x_img = false;
  for (const auto& h : got_image.at("headers").as_array()) x_img = x_img || (h.at("name") == "X-Img" && h.at("value") == " 1");
  EXPECT_TRUE(x_img);
  // Multipart sizes are the raw body sizes of the joined message.
  auto dl = router_->handle(req("GET", "/jmap/download/" + acct("alice") + "/" + id + "/m.eml"));
  const std::string raw = drain(dl);
  for (const auto& p : mime::scan_message(raw)) {
    if (p.path == "2" && p.is_multipart) {
      EXPECT_EQ(rel.at("size").to_number<std::uint64_t>(), p.body.size());
    }
  }
  EXPECT_EQ(leaf_bytes(raw, "2.2"), png);
}

TEST_F(JmapBodyStructure, InvalidCreationsAreRefused) {
  const std::string blob = upload("alice", random_bytes(3000, 33), "application/octet-stream");
  const json::object text_leaf{{"partId", "t"}, {"type", "text/plain"}};
  const json::object blob_leaf{{"blobId", blob}, {"type", "application/octet-stream"}};
  auto mixed = [](json::array subs) { return json::object{{"type", "multipart/mixed"}, {"subParts", std::move(subs)}}; };
  const json::object values{{"t", json::object{{"value", "x"}}}};
  struct Case {
    const char* what;
    json::value structure;
    json::object values;
    json::object extra;
    const char* type;
  };
  json::object both = text_leaf;
  both["blobId"] = blob;
  json::object image_text{{"partId", "t"}, {"type", "image/png"}};
  json::object leaf_with_subs = blob_leaf;
  leaf_with_subs["subParts"] = json::array{text_leaf};
  json::object cte = text_leaf;
  cte["header:Content-Transfer-Encoding"] = " base64";
  json::object cte_headers = blob_leaf;
  cte_headers["headers"] = json::array{json::object{{"name", "Content-Transfer-Encoding"}, {"value", " 7bit"}}};
  json::object injected = text_leaf;
  injected["header:X-A"] = " a\r\nBcc: evil@x.test";
  json::object charset = text_leaf;
  charset["charset"] = "iso-8859-1";
  json::object sized = text_leaf;
  sized["size"] = 5;
  json::object unknown = blob_leaf;
  unknown["bogus"] = 1;
  json::object dup = blob_leaf;
  dup["header:X-A"] = " 1";
  dup["headers"] = json::array{json::object{{"name", "x-a"}, {"value", " 2"}}};
  json::object root_subject = text_leaf;
  root_subject["header:Subject"] = " other";
  json::value deep = text_leaf;
  for (int i = 0; i < 12; ++i) deep = json::object{{"type", "multipart/mixed"}, {"subParts", json::array{deep}}};
  json::array many;
  for (int i = 0; i < 120; ++i) many.push_back(blob_leaf);
  std::vector<Case> cases = {
      {"with textBody", mixed(json::array{text_leaf}), values,
       json::object{{"textBody", json::array{json::object{{"partId", "t"}}}}}, "invalidProperties"},
      {"with attachments", mixed(json::array{text_leaf}), values,
       json::object{{"attachments", json::array{json::object{{"blobId", blob}}}}}, "invalidProperties"},
      {"partId not in bodyValues", mixed(json::array{text_leaf}), json::object{}, {}, "invalidProperties"},
      {"partId twice", mixed(json::array{text_leaf, text_leaf}), values, {}, "invalidProperties"},
      {"partId and blobId", mixed(json::array{both}), values, {}, "invalidProperties"},
      {"neither", mixed(json::array{json::object{{"type", "text/plain"}}}), values, {}, "invalidProperties"},
      {"non-text from bodyValues", mixed(json::array{image_text}), values, {}, "invalidProperties"},
      {"multipart without subParts", json::object{{"type", "multipart/mixed"}}, values, {}, "invalidProperties"},
      {"multipart with empty subParts", mixed(json::array{}), values, {}, "invalidProperties"},
      {"leaf with subParts", mixed(json::array{leaf_with_subs}), values, {}, "invalidProperties"},
      {"isTruncated", mixed(json::array{text_leaf}),
       json::object{{"t", json::object{{"value", "x"}, {"isTruncated", true}}}}, {}, "invalidProperties"},
      {"isEncodingProblem", mixed(json::array{text_leaf}),
       json::object{{"t", json::object{{"value", "x"}, {"isEncodingProblem", true}}}}, {}, "invalidProperties"},
      {"Content-Transfer-Encoding", mixed(json::array{cte}), values, {}, "invalidProperties"},
      {"Content-Transfer-Encoding in headers", mixed(json::array{cte_headers}), values, {}, "invalidProperties"},
      {"header injection", mixed(json::array{injected}), values, {}, "invalidProperties"},
      {"charset with partId", mixed(json::array{charset}), values, {}, "invalidProperties"},
      {"size with partId", mixed(json::array{sized}), values, {}, "invalidProperties"},
      {"unknown property", mixed(json::array{unknown}), values, {}, "invalidProperties"},
      {"header given twice", mixed(json::array{dup}), values, {}, "invalidProperties"},
      {"root repeats an Email field", root_subject, values, {}, "invalidProperties"},
      {"too deep", deep, values, {}, "invalidProperties"},
      {"too many parts", mixed(many), values, {}, "invalidProperties"},
      {"bad type", mixed(json::array{json::object{{"blobId", blob}, {"type", "not a type"}}}), values, {}, "invalidProperties"},
      {"not an object", json::array{text_leaf}, values, {}, "invalidProperties"},
  };
  const auto rows_before = store_->list_rows("alice@example.test", "INBOX")->size();
  for (auto& c : cases) {
    json::object email = base("alice");
    email["bodyStructure"] = c.structure;
    email["bodyValues"] = c.values;
    for (const auto& kv : c.extra) email[kv.key()] = kv.value();
    auto res = create("alice", email);
    ASSERT_TRUE(res.at("notCreated").is_object()) << c.what << ": " << json::serialize(res);
    EXPECT_EQ(res.at("notCreated").at("k").at("type").as_string(), c.type) << c.what << ": " << json::serialize(res);
    EXPECT_FALSE(res.at("notCreated").at("k").at("description").as_string().empty()) << c.what;
  }
  // Unknown blobs: blobNotFound listing each of them.
  json::object email = base("alice");
  email["bodyStructure"] = mixed(json::array{json::object{{"blobId", "Gnope1"}}, blob_leaf, json::object{{"blobId", "Gnope2"}}});
  auto res = create("alice", email);
  const auto& err = res.at("notCreated").at("k");
  EXPECT_EQ(err.at("type").as_string(), "blobNotFound");
  EXPECT_EQ(err.at("notFound"), json::value(json::array{"Gnope1", "Gnope2"}));
  // Another account's blob is not found for bob either.
  json::object bobs = base("bob");
  bobs["bodyStructure"] = blob_leaf;
  EXPECT_EQ(create("bob", bobs).at("notCreated").at("k").at("type").as_string(), "blobNotFound");
  EXPECT_EQ(store_->list_rows("alice@example.test", "INBOX")->size(), rows_before);
}

TEST_F(JmapBodyStructure, SingleLeafBodiesAndSubmissionToALocalUser) {
  const std::string payload = random_bytes(4096, 34);
  const std::string blob = upload("alice", payload, "application/pdf");
  // A single blob leaf as the whole body.
  json::object only_blob = base("alice");
  only_blob["bodyStructure"] = json::object{{"blobId", blob}, {"type", "application/pdf"}, {"name", "r.pdf"},
                                            {"disposition", "attachment"}};
  auto res = create("alice", only_blob);
  ASSERT_TRUE(res.at("created").is_object()) << json::serialize(res);
  const std::string id(res.at("created").at("k").at("id").as_string());
  auto dl = router_->handle(req("GET", "/jmap/download/" + acct("alice") + "/" + id + "/m.eml"));
  const std::string raw = drain(dl);
  EXPECT_TRUE(raw.ends_with("\r\n"));
  EXPECT_EQ(leaf_bytes(raw, "1"), payload);
  auto em = get("alice", id, json::array{"bodyStructure", "attachments"});
  EXPECT_EQ(em.at("bodyStructure").at("partId").as_string(), "1");
  EXPECT_EQ(em.at("bodyStructure").at("blobId").as_string(), blob);
  EXPECT_EQ(em.at("attachments").at(0).at("size").to_number<std::uint64_t>(), payload.size());

  // A single text leaf, submitted to bob, who reads the text and the tree.
  json::object only_text = base("alice");
  only_text["to"] = json::array{json::object{{"email", "bob@example.test"}}};
  only_text["bodyStructure"] = json::object{{"partId", "t"}, {"type", "text/plain"}};
  only_text["bodyValues"] = json::object{{"t", json::object{{"value", "Grüße, Bob"}}}};
  auto sent = api("alice", json::array{
      json::array{"Email/set", json::object{{"accountId", acct("alice")}, {"create", json::object{{"k", only_text}}}}, "c"},
      json::array{"EmailSubmission/set",
                  json::object{{"accountId", acct("alice")},
                               {"create", json::object{{"s", json::object{{"emailId", "#k"}, {"identityId", "I0"}}}}}},
                  "s"}});
  ASSERT_TRUE(sent.at(1).at(1).at("created").is_object()) << json::serialize(sent);
  auto rows = store_->list_rows("bob@example.test", "INBOX");
  ASSERT_EQ(rows->size(), 1u);
  auto got = get("bob", rows->at(0).message_id, json::array{"bodyValues", "textBody", "bodyStructure"});
  EXPECT_EQ(got.at("bodyValues").at("1").at("value").as_string(), "Grüße, Bob");
  EXPECT_EQ(got.at("bodyStructure").at("type").as_string(), "text/plain");
}

}  // namespace
}  // namespace refmail::web::testing
