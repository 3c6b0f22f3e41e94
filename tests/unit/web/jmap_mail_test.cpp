// tests/unit/web/jmap_mail_test.cpp — Email/get from the summary (body values,
// attachments), query filters, keyword and mailbox updates, destroy with GC, drafts
// composed from uploaded blobs and EmailSubmission to a local user (no new blob bytes).
#include <openssl/sha.h>

#include "helpers.hpp"

namespace refmail::web::testing {
namespace {

using JmapMail = WebFixture;

TEST_F(JmapMail, EmailGetFromSummary) {
  std::string payload = random_bytes(300000, 2);
  std::string id = deliver(mime_with_attachment("report", payload), {"alice@example.test"});
  auto res = api("alice", json::array{json::array{
      "Email/get",
      json::object{{"accountId", acct("alice")}, {"ids", json::array{id, "Mnope"}}, {"fetchTextBodyValues", true},
                   {"maxBodyValueBytes", 8}},
      "g"}}).as_array();
  auto em = res[0].at(1).at("list").at(0).as_object();
  EXPECT_EQ(res[0].at(1).at("notFound").at(0).as_string(), "Mnope");
  EXPECT_EQ(em.at("subject").as_string(), "report");
  EXPECT_EQ(em.at("from").at(0).at("email").as_string(), "sender@outside.test");
  EXPECT_EQ(em.at("sentAt").as_string(), "2024-01-01T10:00:00Z");
  EXPECT_TRUE(em.at("hasAttachment").as_bool());
  auto tb = em.at("textBody").as_array();
  ASSERT_FALSE(tb.empty());
  std::string part(tb[0].at("partId").as_string());
  auto bv = em.at("bodyValues").at(part).as_object();
  EXPECT_EQ(bv.at("value").as_string(), "See atta");
  EXPECT_TRUE(bv.at("isTruncated").as_bool());
  auto atts = em.at("attachments").as_array();
  ASSERT_EQ(atts.size(), 2u);
  EXPECT_EQ(atts[1].at("name").as_string(), "report.pdf");
  EXPECT_EQ(atts[1].at("size").to_number<std::uint64_t>(), payload.size());
  EXPECT_EQ(atts[1].at("type").as_string(), "application/pdf");
  EXPECT_EQ(atts[0].at("name").as_string(), "small.txt");
  EXPECT_EQ(atts[0].at("blobId").as_string().front(), 'P');  // kept in the skeleton
}

TEST_F(JmapMail, QueryFiltersAndSort) {
  deliver(mime_with_attachment("alpha news", random_bytes(3000, 3)), {"alice@example.test"});
  std::string plain = "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: lunch\r\n\r\nPizza today?\r\n";
  deliver(plain, {"alice@example.test"});
  auto q = [&](json::object filter) {
    auto r = api("alice", json::array{json::array{"Email/query", json::object{{"accountId", acct("alice")}, {"filter", filter}}, "q"}});
    return r.at(0).at(1).at("ids").as_array().size();
  };
  EXPECT_EQ(q(json::object{{"subject", "ALPHA"}}), 1u);
  EXPECT_EQ(q(json::object{{"text", "pizza"}}), 1u);
  EXPECT_EQ(q(json::object{{"from", "bob@"}}), 1u);
  EXPECT_EQ(q(json::object{{"hasAttachment", true}}), 1u);
  EXPECT_EQ(q(json::object{{"hasAttachment", false}}), 1u);
  EXPECT_EQ(q(json::object{{"before", "2000-01-01T00:00:00Z"}}), 0u);
  EXPECT_EQ(q(json::object{{"after", "2000-01-01T00:00:00Z"}}), 2u);
  EXPECT_EQ(q(json::object{{"operator", "NOT"}, {"conditions", json::array{json::object{{"subject", "lunch"}}}}}), 1u);
  auto boxes = api("alice", json::array{json::array{"Mailbox/get", json::object{{"accountId", acct("alice")}}, "m"}});
  std::string inbox;
  for (const auto& b : boxes.at(0).at(1).at("list").as_array()) {
    if (b.at("role") == "inbox") {
      inbox = std::string(b.at("id").as_string());
      EXPECT_EQ(b.at("totalEmails").to_number<std::uint64_t>(), 2u);
      EXPECT_EQ(b.at("unreadEmails").to_number<std::uint64_t>(), 2u);
    }
  }
  ASSERT_FALSE(inbox.empty());
  EXPECT_EQ(q(json::object{{"inMailbox", inbox}}), 2u);
  auto page = api("alice", json::array{json::array{
      "Email/query", json::object{{"accountId", acct("alice")}, {"position", 1}, {"limit", 5}, {"calculateTotal", true}},
      "q"}});
  EXPECT_EQ(page.at(0).at(1).at("ids").as_array().size(), 1u);
  EXPECT_EQ(page.at(0).at(1).at("total").as_int64(), 2);
  // RFC 8620 5.5: no total unless asked.
  page = api("alice", json::array{json::array{"Email/query", json::object{{"accountId", acct("alice")}}, "q"}});
  EXPECT_FALSE(page.at(0).at(1).as_object().contains("total"));
}

// Every sort of RFC 8621 4.4.2 against messages with known values, either direction,
// several comparators at once, and the errors for what is not a sort.
TEST_F(JmapMail, QuerySortsByEveryProperty) {
  auto msg = [](const std::string& from, const std::string& to, const std::string& subject, const std::string& date,
                const std::string& id, const std::string& reply_to, std::size_t pad) {
    std::string m = "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nDate: " + date +
                    "\r\nMessage-ID: <" + id + ">\r\n";
    if (!reply_to.empty()) m += "In-Reply-To: <" + reply_to + ">\r\n";
    return m + "\r\n" + std::string(pad, 'x') + "\r\n";
  };
  auto at = [](std::int64_t t) { return storage::UnixSeconds(std::chrono::seconds(1'700'000'000 + t)); };
  // a: received 1st, sent 3rd; b: received 3rd, sent 1st; c: 2nd / 2nd (a reply to a); d: 4th, no Date.
  const auto a = deliver(msg("Zed <z@x.test>", "Amy <amy@x.test>", "Re: banana", "Tue, 03 Jan 2023 10:00:00 +0000", "a@x", "", 10),
                         {"alice@example.test"}, at(10));
  const auto b = deliver(msg("amy@x.test", "bob@x.test", "apple", "Sun, 01 Jan 2023 10:00:00 +0000", "b@x", "", 300),
                         {"alice@example.test"}, at(30));
  const auto c = deliver(msg("Mia <m@x.test>", "Cat <c@x.test>", "Fwd: cherry", "Mon, 02 Jan 2023 10:00:00 +0000", "c@x", "a@x", 50),
                         {"alice@example.test"}, at(20));
  const auto d = deliver("From: bob@x.test\r\nSubject: [list] date\r\n\r\nno date\r\n", {"alice@example.test"}, at(40));
  auto set = api("alice", json::array{json::array{
      "Email/set", json::object{{"accountId", acct("alice")},
                                {"update", json::object{{a, json::object{{"keywords/$flagged", true}}},
                                                        {c, json::object{{"keywords/$flagged", true}}},
                                                        {d, json::object{{"keywords/$flagged", true}}}}}},
      "s"}});
  ASSERT_TRUE(set.at(0).at(1).at("updated").is_object()) << json::serialize(set);
  auto sorted = [&](json::array sort) {
    auto r = api("alice", json::array{json::array{"Email/query", json::object{{"accountId", acct("alice")}, {"sort", sort}}, "q"}});
    std::vector<std::string> out;
    if (!r.at(0).at(1).as_object().contains("ids")) return std::vector<std::string>{std::string(r.at(0).at(1).at("type").as_string())};
    for (const auto& id : r.at(0).at(1).at("ids").as_array()) out.emplace_back(id.as_string());
    return out;
  };
  auto by = [&](const char* p, bool asc = true) {
    return sorted(json::array{json::object{{"property", p}, {"isAscending", asc}}});
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(by("receivedAt"), (V{a, c, b, d}));
  EXPECT_EQ(by("receivedAt", false), (V{d, b, c, a}));
  EXPECT_EQ(by("size"), (V{d, a, c, b}));
  EXPECT_EQ(by("sentAt"), (V{d, b, c, a}));  // no Date sorts first (as 0)
  EXPECT_EQ(by("from"), (V{b, d, c, a}));    // amy@x.test, bob@x.test, Mia, Zed: name, else email, case folded
  EXPECT_EQ(by("to", false), (V{c, b, a, d}));  // Cat, bob@x.test, Amy, (none)
  EXPECT_EQ(by("subject"), (V{b, a, c, d}));  // apple, banana, cherry, date: Re:, Fwd:, [list] stripped
  // hasKeyword, then receivedAt newest first to order within each group.
  EXPECT_EQ(sorted(json::array{json::object{{"property", "hasKeyword"}, {"keyword", "$flagged"}, {"isAscending", false}},
                               json::object{{"property", "receivedAt"}, {"isAscending", false}}}),
            (V{d, c, a, b}));
  // Thread keywords: a and c are one thread (both flagged); b is alone (not flagged).
  EXPECT_EQ(sorted(json::array{json::object{{"property", "allInThreadHaveKeyword"}, {"keyword", "$flagged"}},
                               json::object{{"property", "receivedAt"}}}),
            (V{b, a, c, d}));
  EXPECT_EQ(sorted(json::array{json::object{{"property", "someInThreadHaveKeyword"}, {"keyword", "$flagged"}, {"isAscending", false}},
                               json::object{{"property", "size"}}}),
            (V{d, a, c, b}));
  // Errors: unknown property or collation: unsupportedSort; not a comparator list, or a
  // keyword sort without its keyword: invalidArguments.
  EXPECT_EQ(by("weird"), V{"unsupportedSort"});
  EXPECT_EQ(sorted(json::array{json::object{{"property", "subject"}, {"collation", "i;klingon"}}}), V{"unsupportedSort"});
  EXPECT_EQ(sorted(json::array{json::object{{"property", "subject"}, {"collation", "i;ascii-casemap"}}}), (V{b, a, c, d}));
  EXPECT_EQ(sorted(json::array{json::object{{"property", "hasKeyword"}}}), V{"invalidArguments"});
  EXPECT_EQ(sorted(json::array{json::object{{"isAscending", true}}}), V{"invalidArguments"});

  // The thread keyword and header filters on the same messages.
  auto filtered = [&](json::object filter) {
    auto r = api("alice", json::array{json::array{
        "Email/query", json::object{{"accountId", acct("alice")}, {"filter", filter}, {"sort", json::array{json::object{{"property", "receivedAt"}}}}},
        "q"}});
    if (!r.at(0).at(1).as_object().contains("ids")) return V{std::string(r.at(0).at(1).at("type").as_string())};
    V out;
    for (const auto& id : r.at(0).at(1).at("ids").as_array()) out.emplace_back(id.as_string());
    return out;
  };
  EXPECT_EQ(filtered(json::object{{"allInThreadHaveKeyword", "$flagged"}}), (V{a, c, d}));
  EXPECT_EQ(filtered(json::object{{"noneInThreadHaveKeyword", "$flagged"}}), (V{b}));
  ASSERT_TRUE(api("alice", json::array{json::array{
      "Email/set", json::object{{"accountId", acct("alice")}, {"update", json::object{{c, json::object{{"keywords/$flagged", nullptr}}}}}},
      "s"}}).at(0).at(1).at("updated").is_object());
  EXPECT_EQ(filtered(json::object{{"allInThreadHaveKeyword", "$flagged"}}), (V{d}));
  EXPECT_EQ(filtered(json::object{{"someInThreadHaveKeyword", "$flagged"}}), (V{a, c, d}));
  EXPECT_EQ(filtered(json::object{{"header", json::array{"In-Reply-To"}}}), (V{c}));
  EXPECT_EQ(filtered(json::object{{"header", json::array{"date"}}}), (V{a, c, b}));
  EXPECT_EQ(filtered(json::object{{"header", json::array{"subject", "CHERRY"}}}), (V{c}));
  EXPECT_EQ(filtered(json::object{{"header", json::array{"subject", "nothing"}}}), V{});
  EXPECT_EQ(filtered(json::object{{"header", json::array{}}}), V{"unsupportedFilter"});
  EXPECT_EQ(filtered(json::object{{"header", json::array{"bad:name"}}}), V{"unsupportedFilter"});
  EXPECT_EQ(filtered(json::object{{"header", json::array{"a", "b", "c"}}}), V{"unsupportedFilter"});

  // Limits: 10,000 conditions are refused before any email is looked at; 256 in all are
  // answered; 12 levels are answered (deeper ones the JSON parser's depth limit refuses
  // as notJSON, before any method runs).
  json::array many;
  for (int i = 0; i < 10000; ++i) many.push_back(json::object{{"hasKeyword", "k" + std::to_string(i)}});
  EXPECT_EQ(filtered(json::object{{"operator", "OR"}, {"conditions", many}}), V{"unsupportedFilter"});
  many.resize(255);
  EXPECT_EQ(filtered(json::object{{"operator", "OR"}, {"conditions", many}}), V{});
  json::object deep{{"hasKeyword", "x"}};
  for (int i = 0; i < 12; ++i) deep = json::object{{"operator", "NOT"}, {"conditions", json::array{deep}}};
  EXPECT_EQ(filtered(deep), V{});
  // position past the end, limit 0 and 10^9: bounded answers.
  auto page = [&](std::int64_t position, std::int64_t limit) {
    return api("alice", json::array{json::array{
        "Email/query", json::object{{"accountId", acct("alice")}, {"position", position}, {"limit", limit}}, "q"}}).at(0).at(1);
  };
  EXPECT_TRUE(page(1'000'000'000, 10).at("ids").as_array().empty());
  EXPECT_TRUE(page(0, 0).at("ids").as_array().empty());
  EXPECT_EQ(page(0, 1'000'000'000).at("ids").as_array().size(), 4u);
}

// Email/query of one mailbox by receivedAt is answered from the store's date view; the
// same query with the filter wrapped in an AND takes the general path (every row
// filtered and sorted). Both must give the same ids, position and total for every
// paging form, collapsed or not, in either direction.
TEST_F(JmapMail, MailboxQueryFromTheIndexEqualsTheFilteredPath) {
  std::vector<std::string> ids;
  for (int i = 0; i < 14; ++i) {
    // Distinct dates out of arrival order; every third message replies to the first.
    std::string refs = i % 3 == 2 ? "In-Reply-To: <m0@x>\r\nReferences: <m0@x>\r\n" : "";
    // Sort keys with ties: four From names (one empty: the email sorts), five base
    // subjects (odd ones behind "Re:"), four Dates and none on every sixth, four sizes.
    static const char* kNames[] = {"Zed", "amy", "", "Bob"};
    std::string date = i % 6 == 5 ? "" : "Date: Mon, 0" + std::to_string(1 + i % 4) + " Jan 2024 10:00:00 +0000\r\n";
    std::string raw = "From: " + std::string(kNames[i % 4]) + " <a" + std::to_string(i % 3) +
                      "@outside.test>\r\nTo: alice@example.test\r\nSubject: " + (i % 2 ? "Re: " : "") + "topic " +
                      std::to_string(i % 5) + "\r\n" + date + "Message-ID: <m" + std::to_string(i) + "@x>\r\n" + refs +
                      "\r\nbody" + std::string(static_cast<std::size_t>(i % 4) * 10, 'x') + "\r\n";
    ids.push_back(deliver(raw, {"alice@example.test"},
                          storage::UnixSeconds(std::chrono::seconds(1'700'000'000 + (i * 5) % 14 * 60))));
  }
  deliver("Subject: elsewhere\r\n\r\nx\r\n", {"bob@example.test"});
  auto boxes = api("alice", json::array{json::array{"Mailbox/get", json::object{{"accountId", acct("alice")}}, "m"}});
  std::string inbox, sent;
  for (const auto& b : boxes.at(0).at(1).at("list").as_array()) {
    if (b.at("role") == "inbox") {
      inbox = std::string(b.at("id").as_string());
      EXPECT_EQ(b.at("totalEmails").to_number<std::uint64_t>(), 14u);
      EXPECT_EQ(b.at("totalThreads").to_number<std::uint64_t>(), 10u);  // 4 replies joined m0
    }
    if (b.at("role") == "sent") sent = std::string(b.at("id").as_string());
  }
  ASSERT_FALSE(inbox.empty());
  ASSERT_FALSE(sent.empty());
  // Every third message read, so the unread and read views differ from the mailbox.
  json::object seen;
  for (std::size_t i = 0; i < ids.size(); i += 3) seen[ids[i]] = json::object{{"keywords/$seen", true}};
  ASSERT_EQ(api("alice", json::array{json::array{"Email/set", json::object{{"accountId", acct("alice")}, {"update", seen}}, "s"}})
                .at(0).at(1).at("updated").as_object().size(),
            seen.size());
  // general: the filter as an AND of its conditions (the streamed path); reference:
  // the in-memory path.
  auto run = [&](json::object args, bool general, bool reference = false) {
    auto box = args.at("filter").as_string();
    args["filter"] = json::object{{"inMailbox", box}};
    if (auto* kw = args.if_contains("seen")) {  // "not" / "has": only unread / read mail
      args["filter"].as_object()[kw->as_string() == "not" ? "notKeyword" : "hasKeyword"] = "$seen";
      args.erase("seen");
    }
    if (general) {
      json::array conds;
      for (const auto& c : args["filter"].as_object()) conds.push_back(json::object{{c.key(), c.value()}});
      args["filter"] = json::object{{"operator", "AND"}, {"conditions", conds}};
    }
    args["accountId"] = acct("alice");
    args["calculateTotal"] = true;
    json::array calls{json::array{"Email/query", args, "q"}};
    auto r = reference ? reference_api("alice", calls) : api("alice", calls);
    auto res = r.at(0).as_array();
    if (res.at(0) == "error") return json::value(res.at(1).at("type"));
    auto& o = res.at(1).as_object();
    return json::value(json::object{{"ids", o.at("ids")}, {"position", o.at("position")}, {"total", o.at("total")}});
  };
  int checked = 0;
  for (const char* seen_filter : {"", "not", "has"}) {
  for (const auto* box : {&inbox, &sent}) {
    for (bool collapse : {false, true}) {
      for (int dir = 0; dir < 11; ++dir) {  // no sort, then each sorted view either way
        std::vector<json::object> forms;
        for (std::int64_t pos : {0, 3, 13, 14, 40, -2, -40})
          for (std::int64_t limit : {0, 1, 5, 100}) forms.push_back(json::object{{"position", pos}, {"limit", limit}});
        for (const auto& anchor : {ids[0], ids[7], ids[13], std::string("Mnope")})
          for (std::int64_t off : {-20, -1, 0, 2, 30})
            forms.push_back(json::object{{"anchor", anchor}, {"anchorOffset", off}, {"limit", 4}});
        for (auto form : forms) {
          form["filter"] = *box;
          if (*seen_filter) form["seen"] = seen_filter;
          if (collapse) form["collapseThreads"] = true;
          static const char* kProps[] = {"receivedAt", "size", "sentAt", "from", "subject"};
          if (dir > 0) form["sort"] = json::array{json::object{{"property", kProps[(dir - 1) / 2]}, {"isAscending", dir % 2 == 0}}};
          auto fast = run(form, false);
          auto general = run(form, true);
          EXPECT_EQ(fast, general) << json::serialize(form);
          EXPECT_EQ(fast, run(form, false, true)) << json::serialize(form);
          ++checked;
        }
      }
    }
  }
  }
  EXPECT_EQ(checked, 3 * 2 * 2 * 11 * 48);
  // The view's order is the dates': the newest first by default.
  auto newest = run(json::object{{"filter", inbox}, {"limit", 2}}, false);
  EXPECT_EQ(newest.at("ids"), (json::array{ids[11], ids[8]}));
}

TEST_F(JmapMail, KeywordsMovesAndDestroyReturnPhysicalBytes) {
  auto before = store_->stats();
  std::string id = deliver(mime_with_attachment("x", random_bytes(200000, 4)), {"alice@example.test"});
  auto boxes = api("alice", json::array{json::array{"Mailbox/get", json::object{{"accountId", acct("alice")}}, "m"}});
  std::string archive;
  for (const auto& b : boxes.at(0).at(1).at("list").as_array()) {
    if (b.at("role") == "archive") archive = std::string(b.at("id").as_string());
  }
  auto set = api("alice", json::array{json::array{
      "Email/set",
      json::object{{"accountId", acct("alice")},
                   {"update", json::object{{id, json::object{{"keywords/$seen", true}, {"mailboxIds", json::object{{archive, true}}}}}}}},
      "s"}});
  ASSERT_TRUE(set.at(0).at(1).at("updated").as_object().contains(id)) << json::serialize(set);
  auto rows = store_->list_rows("alice@example.test", "Archive");
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0).keywords, std::vector<std::string>{"$seen"});
  EXPECT_TRUE(store_->list_rows("alice@example.test", "INBOX")->empty());
  auto del = api("alice", json::array{json::array{
      "Email/set", json::object{{"accountId", acct("alice")}, {"destroy", json::array{id, "Mmissing"}}}, "d"}});
  EXPECT_EQ(del.at(0).at(1).at("destroyed").at(0).as_string(), id);
  EXPECT_TRUE(del.at(0).at(1).at("notDestroyed").as_object().contains("Mmissing"));
  ASSERT_TRUE(store_->gc());
  auto after = store_->stats();
  EXPECT_EQ(after->physical_bytes, before->physical_bytes);
  EXPECT_EQ(after->blobs, before->blobs);
}

TEST_F(JmapMail, DraftWithUploadedBlobSubmittedLocallyAddsNoBlobBytes) {
  std::string payload = random_bytes(100000, 5);
  auto up = router_->handle(req("POST", "/jmap/upload/" + acct("alice") + "/", "alice", payload,
                                {{"Content-Type", "application/pdf"}}));
  ASSERT_EQ(up.status, 201) << up.body;
  std::string blob(json::parse(up.body).at("blobId").as_string());
  auto boxes = api("alice", json::array{json::array{"Mailbox/get", json::object{{"accountId", acct("alice")}}, "m"}});
  std::string drafts, sent;
  for (const auto& b : boxes.at(0).at(1).at("list").as_array()) {
    if (b.at("role") == "drafts") drafts = std::string(b.at("id").as_string());
    if (b.at("role") == "sent") sent = std::string(b.at("id").as_string());
  }
  auto blobs_before = store_->stats()->blobs;
  json::object draft{{"mailboxIds", json::object{{drafts, true}}},
                     {"keywords", json::object{{"$draft", true}}},
                     {"from", json::array{json::object{{"email", "alice@example.test"}}}},
                     {"to", json::array{json::object{{"name", "Bob"}, {"email", "bob@example.test"}}}},
                     {"subject", "the report"},
                     {"textBody", json::array{json::object{{"partId", "t"}, {"type", "text/plain"}}}},
                     {"bodyValues", json::object{{"t", json::object{{"value", "Here it is."}}}}},
                     {"attachments", json::array{json::object{{"blobId", blob}, {"type", "application/pdf"}, {"name", "r.pdf"}}}}};
  auto res = api("alice", json::array{
      json::array{"Email/set", json::object{{"accountId", acct("alice")}, {"create", json::object{{"k1", draft}}}}, "c"},
      json::array{"EmailSubmission/set",
                  json::object{{"accountId", acct("alice")},
                               {"create", json::object{{"s1", json::object{{"emailId", "#k1"}, {"identityId", "I0"}}}}},
                               {"onSuccessUpdateEmail",
                                json::object{{"#s1", json::object{{"mailboxIds/" + drafts, nullptr}, {"mailboxIds/" + sent, true},
                                                                  {"keywords/$draft", nullptr}}}}}},
                  "s"}}).as_array();
  ASSERT_TRUE(res[0].at(1).at("created").is_object()) << json::serialize(res);
  ASSERT_TRUE(res[1].at(1).at("created").is_object()) << json::serialize(res);
  ASSERT_EQ(res.size(), 3u);  // the implicit Email/set
  EXPECT_EQ(res[2].at(0).as_string(), "Email/set");
  EXPECT_EQ(store_->stats()->blobs, blobs_before);
  EXPECT_EQ(store_->list_rows("alice@example.test", "Sent")->size(), 1u);
  EXPECT_TRUE(store_->list_rows("alice@example.test", "Drafts")->empty());
  // Bob reads it, and may download the attachment (he now holds a grant).
  auto got = api("bob", json::array{
      json::array{"Email/query", json::object{{"accountId", acct("bob")}}, "q"},
      json::array{"Email/get", json::object{{"accountId", acct("bob")},
                                            {"#ids", json::object{{"resultOf", "q"}, {"name", "Email/query"}, {"path", "/ids"}}},
                                            {"fetchTextBodyValues", true}}, "g"}});
  auto em = got.at(1).at(1).at("list").at(0);
  EXPECT_EQ(em.at("subject").as_string(), "the report");
  EXPECT_EQ(em.at("attachments").at(0).at("blobId").as_string(), blob);
  EXPECT_NE(json::serialize(em.at("bodyValues")).find("Here it is."), std::string::npos);
  auto dl = router_->handle(req("GET", "/jmap/download/" + acct("bob") + "/" + blob + "/r.pdf", "bob"));
  ASSERT_EQ(dl.status, 200);
  EXPECT_EQ(drain(dl), payload);
  // A draft may not reference a blob the account holds no grant for.
  json::object stolen = draft;
  stolen["mailboxIds"] = json::object{{drafts, true}};
  auto carol = api("carol", json::array{json::array{"Mailbox/get", json::object{{"accountId", acct("carol")}}, "m"}});
  std::string carol_drafts;
  for (const auto& b : carol.at(0).at(1).at("list").as_array()) {
    if (b.at("role") == "drafts") carol_drafts = std::string(b.at("id").as_string());
  }
  stolen["mailboxIds"] = json::object{{carol_drafts, true}};
  stolen["from"] = json::array{json::object{{"email", "carol@example.test"}}};
  auto denied = api("carol", json::array{json::array{
      "Email/set", json::object{{"accountId", acct("carol")}, {"create", json::object{{"x", stolen}}}}, "c"}});
  EXPECT_EQ(denied.at(0).at(1).at("notCreated").at("x").at("type").as_string(), "blobNotFound");
  // Nor claim another sender in From.
  json::object spoof = draft;
  spoof.erase("attachments");
  spoof["from"] = json::array{json::object{{"email", "ceo@example.test"}}};
  auto refused = api("alice", json::array{json::array{
      "Email/set", json::object{{"accountId", acct("alice")}, {"create", json::object{{"x", spoof}}}}, "c"}});
  EXPECT_EQ(refused.at(0).at(1).at("notCreated").at("x").at("type").as_string(), "invalidProperties");
}

// Forwarding by blobId: a small part kept in the skeleton ("P" id) and a cut attachment,
// taken from a received message, go into a new draft with no upload and no new blob bytes;
// an account without a row of that message cannot use the part id.
TEST_F(JmapMail, ForwardKeepsAttachmentsByPartIdWithoutNewBlobs) {
  std::string payload = random_bytes(50000, 9);
  std::string mid = deliver(mime_with_attachment("fwd me", payload), {"alice@example.test"});
  auto r = api("alice", json::array{json::array{"Email/get", json::object{{"accountId", acct("alice")}, {"ids", json::array{mid}},
                                                                            {"properties", json::array{"attachments"}}}, "g"}});
  const auto& atts = r.at(0).at(1).at("list").at(0).at("attachments").as_array();
  ASSERT_EQ(atts.size(), 2u);
  std::string small(atts[0].at("blobId").as_string()), big(atts[1].at("blobId").as_string());
  ASSERT_TRUE(small.starts_with("P")) << small;
  auto boxes = api("alice", json::array{json::array{"Mailbox/get", json::object{{"accountId", acct("alice")}}, "m"}});
  std::string drafts;
  for (const auto& b : boxes.at(0).at(1).at("list").as_array())
    if (b.at("role") == "drafts") drafts = std::string(b.at("id").as_string());
  auto before = store_->stats();
  json::object draft{{"mailboxIds", json::object{{drafts, true}}},
                     {"to", json::array{json::object{{"email", "bob@example.test"}}}},
                     {"subject", "Fwd: fwd me"},
                     {"attachments", json::array{json::object{{"blobId", small}, {"type", "text/plain"}, {"name", "small.txt"}},
                                                 json::object{{"blobId", big}, {"type", "application/pdf"}, {"name", "report.pdf"}}}}};
  auto res = api("alice", json::array{json::array{
      "Email/set", json::object{{"accountId", acct("alice")}, {"create", json::object{{"f", draft}}}}, "c"}});
  ASSERT_TRUE(res.at(0).at(1).at("created").is_object()) << json::serialize(res);
  std::string fid(res.at(0).at(1).at("created").at("f").at("id").as_string());
  EXPECT_EQ(store_->stats()->blobs, before->blobs);
  // The new message carries both attachments with the original bytes.
  auto g = api("alice", json::array{json::array{"Email/get", json::object{{"accountId", acct("alice")}, {"ids", json::array{fid}},
                                                                            {"properties", json::array{"attachments"}}}, "g"}});
  const auto& natts = g.at(0).at(1).at("list").at(0).at("attachments").as_array();
  ASSERT_EQ(natts.size(), 2u);
  EXPECT_EQ(natts[1].at("blobId").as_string(), big);
  std::string nsmall(natts[0].at("blobId").as_string());
  auto dl = router_->handle(req("GET", "/jmap/download/" + acct("alice") + "/" + nsmall + "/small.txt"));
  ASSERT_EQ(dl.status, 200);
  EXPECT_EQ(drain(dl), "tiny note");
  // Bob holds no row of the original: its part id is not found for him.
  json::object stolen = draft;
  auto bob_boxes = api("bob", json::array{json::array{"Mailbox/get", json::object{{"accountId", acct("bob")}}, "m"}});
  for (const auto& b : bob_boxes.at(0).at(1).at("list").as_array())
    if (b.at("role") == "drafts") stolen["mailboxIds"] = json::object{{b.at("id").as_string(), true}};
  stolen["attachments"] = json::array{json::object{{"blobId", small}, {"type", "text/plain"}, {"name", "s.txt"}}};
  auto denied = api("bob", json::array{json::array{
      "Email/set", json::object{{"accountId", acct("bob")}, {"create", json::object{{"x", stolen}}}}, "c"}});
  EXPECT_EQ(denied.at(0).at(1).at("notCreated").at("x").at("type").as_string(), "blobNotFound");
}

TEST_F(JmapMail, ForeignRecipientsGoToTheQueue) {
  std::string id = deliver("From: alice@example.test\r\nTo: x@far.test\r\nSubject: out\r\n\r\nhi\r\n",
                           {"alice@example.test"});
  auto res = api("alice", json::array{json::array{
      "EmailSubmission/set",
      json::object{{"accountId", acct("alice")}, {"create", json::object{{"s", json::object{{"emailId", id}}}}}}, "s"}});
  ASSERT_TRUE(res.at(0).at(1).at("created").is_object()) << json::serialize(res);
  auto q = store_->due_queue(std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()) +
                                 std::chrono::hours(1), 10);
  ASSERT_EQ(q->size(), 1u);
  auto env = json::parse(q->at(0).envelope);
  EXPECT_EQ(env.at("mail_from").as_string(), "alice@example.test");
  EXPECT_EQ(env.at("rcpt_to").at(0).as_string(), "x@far.test");
}

}  // namespace
}  // namespace refmail::web::testing
