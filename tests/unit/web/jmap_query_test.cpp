// tests/unit/web/jmap_query_test.cpp — Email/query through the mailbox index's views
// (one mailbox's view, the account's merged date order, each filtered as it is walked)
// answers exactly what the in-memory reference answers, for every filter kind, sort,
// collapseThreads, paging and anchor form, with and without calculateTotal.
#include "helpers.hpp"

namespace refmail::web::testing {
namespace {

using JmapQuery = WebFixture;

storage::UnixSeconds at(int minutes) {
  return storage::UnixSeconds(std::chrono::seconds(1'700'000'000 + minutes * 60));
}

TEST_F(JmapQuery, ViewWalksEqualTheInMemoryReference) {
  // 36 emails: six senders, replies forming threads, every 5th with an attachment, dates
  // with ties (several in the same second), a header on some.
  std::vector<std::string> ids;
  for (int i = 0; i < 36; ++i) {
    const std::string n = std::to_string(i);
    std::string head = "From: sender" + std::to_string(i % 6) + " <s" + std::to_string(i % 6) +
                       "@outside.test>\r\nTo: alice@example.test\r\nMessage-ID: <m" + n + "@x>\r\n";
    if (i % 4 == 1) head += "In-Reply-To: <m" + std::to_string(i - 1) + "@x>\r\nReferences: <m" + std::to_string(i - 1) + "@x>\r\n";
    if (i % 3 == 0) head += "X-Tag: batch" + std::to_string(i % 2) + "\r\n";
    head += "Date: Mon, " + std::to_string(1 + i % 27) + " Nov 2026 10:00:00 +0000\r\n";
    std::string raw;
    if (i % 5 == 0) {
      raw = mime_with_attachment("report " + n, random_bytes(500 + 40 * i, static_cast<unsigned>(i)));
      raw = head + raw.substr(raw.find("Subject:"));
    } else {
      raw = head + "Subject: " + (i % 4 == 1 ? "Re: topic " + std::to_string(i - 1) : "topic " + n) +
            "\r\n\r\nbody " + std::string(static_cast<std::size_t>(i % 7) * 9, 'x') + "\r\n";
    }
    ids.push_back(deliver(raw, {"alice@example.test"}, at((i * 7) % 11)));
  }
  auto boxes = api("alice", json::array{json::array{"Mailbox/get", json::object{{"accountId", acct("alice")}}, "m"}});
  std::map<std::string, std::string> role;
  for (const auto& b : boxes.at(0).at(1).at("list").as_array())
    if (b.at("role").is_string()) role[std::string(b.at("role").as_string())] = std::string(b.at("id").as_string());
  ASSERT_TRUE(role.count("inbox") && role.count("archive") && role.count("trash"));
  // Some moved to Archive, some in both, some in Trash; keywords on others.
  json::object update;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    json::object u;
    if (i % 6 == 2) u["mailboxIds"] = json::object{{role["archive"], true}};
    if (i % 6 == 3) u["mailboxIds/" + role["archive"]] = true;
    if (i % 9 == 4) u["mailboxIds"] = json::object{{role["trash"], true}};
    if (i % 3 == 0) u["keywords/$seen"] = true;
    if (i % 7 == 1) u["keywords/$flagged"] = true;
    if (!u.empty()) update[ids[i]] = std::move(u);
  }
  auto set = api("alice", json::array{json::array{"Email/set", json::object{{"accountId", acct("alice")}, {"update", update}}, "s"}});
  ASSERT_EQ(set.at(0).at(1).at("updated").as_object().size(), update.size()) << json::serialize(set);

  const json::string inbox(role["inbox"]), archive(role["archive"]), trash(role["trash"]);
  auto cond = [](const char* k, json::value v) { return json::value(json::object{{k, std::move(v)}}); };
  auto op = [](const char* o, json::array c) { return json::value(json::object{{"operator", o}, {"conditions", std::move(c)}}); };
  const std::vector<json::value> filters = {
      nullptr,
      cond("hasKeyword", "$flagged"),
      cond("notKeyword", "$seen"),
      cond("inMailboxOtherThan", json::array{role["trash"], role["archive"]}),
      cond("minSize", 600),
      cond("maxSize", 400),
      cond("hasAttachment", true),
      cond("from", "s3@"),
      cond("subject", "topic 1"),
      cond("after", "2023-11-14T22:18:00Z"),
      cond("before", "2023-11-14T22:20:00Z"),
      cond("allInThreadHaveKeyword", "$seen"),
      cond("someInThreadHaveKeyword", "$flagged"),
      cond("noneInThreadHaveKeyword", "$flagged"),
      cond("header", json::array{"X-Tag", "batch1"}),
      cond("header", json::array{"X-Tag"}),
      json::object{{"inMailbox", role["inbox"]}, {"from", "s1@"}},
      json::object{{"inMailbox", role["archive"]}, {"hasKeyword", "$seen"}},
      op("AND", json::array{cond("inMailbox", archive), cond("notKeyword", "$flagged")}),
      op("AND", json::array{cond("inMailbox", inbox), op("OR", json::array{cond("hasAttachment", true), cond("hasKeyword", "$flagged")})}),
      op("OR", json::array{cond("inMailbox", trash), cond("from", "s5@")}),
      op("NOT", json::array{cond("inMailbox", inbox)}),
      cond("inMailbox", "nope"),
      op("AND", json::array{cond("inMailbox", "nope"), cond("minSize", 1)}),
  };
  auto sort = [](const char* p, bool asc) { return json::object{{"property", p}, {"isAscending", asc}}; };
  const std::vector<json::value> sorts = {
      nullptr,
      json::array{sort("receivedAt", false)},
      json::array{sort("receivedAt", true)},
      json::array{sort("size", true)},
      json::array{sort("from", false)},
      json::array{sort("subject", true)},
      json::array{sort("sentAt", false)},
      json::array{sort("receivedAt", false), sort("size", true)},
      // A view's order, its ties (six senders, "Re: topic n" and "topic n") ordered by
      // the rest in memory.
      json::array{sort("from", true), sort("receivedAt", false)},
      json::array{sort("subject", false), sort("size", true), sort("from", false)},
      json::array{sort("sentAt", true),
                  json::object{{"property", "hasKeyword"}, {"keyword", "$seen"}, {"isAscending", true}}},
      json::array{sort("to", true)},
      json::array{json::object{{"property", "hasKeyword"}, {"keyword", "$flagged"}, {"isAscending", false}},
                  sort("receivedAt", false)},
  };
  std::vector<json::object> pages;
  for (std::int64_t pos : {0, 3, 30, -4})
    for (std::int64_t limit : {0, 5, 50}) pages.push_back(json::object{{"position", pos}, {"limit", limit}});
  for (const auto& anchor : {ids[4], ids[20], std::string("Mnope")})
    for (std::int64_t off : {-3, 0, 2}) pages.push_back(json::object{{"anchor", anchor}, {"anchorOffset", off}, {"limit", 3}});
  int checked = 0;
  std::vector<int> selected(filters.size(), 0);  // forms with ids, per filter
  for (std::size_t fi = 0; fi < filters.size(); ++fi) {
    const auto& f = filters[fi];
    for (const auto& s : sorts) {
      for (bool collapse : {false, true}) {
        for (std::size_t p = 0; p < pages.size(); ++p) {
          json::object args = pages[p];
          args["accountId"] = acct("alice");
          if (!f.is_null()) args["filter"] = f;
          if (!s.is_null()) args["sort"] = s;
          if (collapse) args["collapseThreads"] = true;
          if (p % 2 == 0) args["calculateTotal"] = true;
          json::array calls{json::array{"Email/query", args, "q"}};
          auto got = api("alice", calls).at(0);
          auto want = reference_api("alice", calls).at(0);
          ASSERT_EQ(got, want) << json::serialize(args);
          if (want.at(0) == "Email/query" && !want.at(1).at("ids").as_array().empty()) ++selected[fi];
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 24 * 13 * 2 * 21);
  // Every filter selects mail, but the two on a mailbox that does not exist.
  for (std::size_t fi = 0; fi + 2 < filters.size(); ++fi) EXPECT_GT(selected[fi], 0) << json::serialize(filters[fi]);
  EXPECT_EQ(selected[filters.size() - 1] + selected[filters.size() - 2], 0);
}

// A page of an account-wide query walks only what it shows: a newest-first page of a
// large account is answered without reading its other rows (checked through the
// reference: the same ids), and the total is only given when asked.
TEST_F(JmapQuery, AccountOrderPagesAndTotals) {
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i)
    ids.push_back(deliver("Subject: n" + std::to_string(i) + "\r\n\r\nx\r\n", {"alice@example.test"}, at(i)));
  json::object args{{"accountId", acct("alice")}, {"filter", json::object{{"notKeyword", "$flagged"}}}, {"limit", 3}};
  auto r = api("alice", json::array{json::array{"Email/query", args, "q"}}).at(0).at(1);
  EXPECT_EQ(r.at("ids"), (json::array{ids[39], ids[38], ids[37]}));
  EXPECT_FALSE(r.as_object().contains("total"));
  EXPECT_EQ(r.at("position"), 0);
  args["calculateTotal"] = true;
  args["position"] = -2;
  r = api("alice", json::array{json::array{"Email/query", args, "q"}}).at(0).at(1);
  EXPECT_EQ(r.at("ids"), (json::array{ids[1], ids[0]}));
  EXPECT_EQ(r.at("total"), 40);
  EXPECT_EQ(r.at("position"), 38);
}

// Past 512 mailboxes the account's order is not merged (a cursor per mailbox): the
// in-memory path answers, the same.
TEST_F(JmapQuery, ManyMailboxesAnswerTheSame) {
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i)
    ids.push_back(deliver("Subject: n" + std::to_string(i) + "\r\n\r\nx\r\n", {"alice@example.test"}, at(i % 9)));
  for (int i = 0; i < 520; ++i) ASSERT_TRUE(store_->create_mailbox("alice@example.test", "Box " + std::to_string(i)));
  for (const json::value& f : {json::value(json::object{{"notKeyword", "$flagged"}}), json::value(nullptr)}) {
    json::object args{{"accountId", acct("alice")}, {"limit", 7}, {"position", 3}, {"calculateTotal", true}};
    if (!f.is_null()) args["filter"] = f;
    json::array calls{json::array{"Email/query", args, "q"}};
    auto got = api("alice", calls).at(0);
    EXPECT_EQ(got, reference_api("alice", calls).at(0));
    EXPECT_EQ(got.at(1).at("total"), 30);
  }
}

}  // namespace
}  // namespace refmail::web::testing
