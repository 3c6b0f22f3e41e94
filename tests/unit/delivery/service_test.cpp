// tests/unit/delivery/service_test.cpp — the delivery service over a real store in a
// temporary folder: every entry path (SMTP, reports, JMAP compose, submission, upload,
// import), one queue row per destination domain on both SMTP and JMAP paths, the
// sender rule shared by both, quota per recipient, the per-recipient hook, and a failed
// commit that leaves nothing behind.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "delivery/service.hpp"
#include "mime/splitter.hpp"
#include "smtp/address.hpp"
#include "storage/store.hpp"
#include "tests/unit/storage/helpers.hpp"

using namespace refmail;
using storage::testing::TempDir;

namespace {

smtp::Address addr(const std::string& s) {
  const std::string path = "<" + s + ">";
  auto p = smtp::parse_path(path, smtp::PathKind::Forward);
  EXPECT_TRUE(p) << s;
  return p ? p->address : smtp::Address{};
}

struct Fixture : ::testing::Test {
  TempDir dir;
  std::unique_ptr<storage::Store> store = storage::testing::open_store(storage::testing::test_options(dir.path()));
  config::Config cfg;
  int wakes = 0;
  delivery::Service mail{*store, cfg, [this] { ++wakes; }};

  void SetUp() override {
    cfg.hostname = "mx.example.test";
    ASSERT_TRUE(store->add_domain("example.test"));
    ASSERT_TRUE(store->add_user("alice@example.test", "pw-long-enough-1", true));
    ASSERT_TRUE(store->add_user("bob@example.test", "pw-long-enough-1"));
    ASSERT_TRUE(store->add_alias("sales@example.test", {"alice@example.test"}));
  }

  std::vector<delivery::QueueEnvelope> queue() {
    auto rows = store->due_queue(storage::UnixSeconds(std::chrono::seconds(std::int64_t(1) << 40)), 100);
    EXPECT_TRUE(rows);
    std::vector<delivery::QueueEnvelope> out;
    for (const auto& r : rows ? *rows : std::vector<storage::QueueEntry>{}) {
      auto e = delivery::parse_queue_envelope(r.envelope);
      EXPECT_TRUE(e) << r.envelope;
      if (e) out.push_back(*e);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.rcpt_to < b.rcpt_to; });
    return out;
  }
  std::vector<storage::MailboxRow> rows(const std::string& account) {
    auto r = store->list_account_rows(account);
    EXPECT_TRUE(r);
    return r ? *r : std::vector<storage::MailboxRow>{};
  }
  delivery::Inbound inbound(const std::string& from, std::vector<std::string> local, std::vector<std::string> foreign,
                            std::string body = "hello\r\n") {
    delivery::Inbound in;
    in.envelope.ehlo_domain = "client.test";
    in.envelope.mail_from = addr(from);
    for (const auto& r : local) in.envelope.rcpt_to.push_back({addr(r), {}});
    for (const auto& r : foreign) in.envelope.rcpt_to.push_back({addr(r), {}});
    in.bytes = "From: " + from + "\r\nTo: someone@example.test\r\nSubject: s\r\nMessage-ID: <m1@client.test>\r\n\r\n" + body;
    for (const auto& r : local) in.local_accounts.push_back(r);
    in.foreign = std::move(foreign);
    in.peer_ip = "192.0.2.1";
    return in;
  }
  // A message alice composed (JMAP Email/set) and holds in Drafts.
  storage::MessageRecord composed(const std::string& from = "alice@example.test") {
    delivery::Inbound in = inbound(from, {}, {});
    std::string bytes = in.bytes;
    mime::SplitParams sp;
    mime::Skeleton sk;
    {
      auto d = store->begin_delivery();
      auto s = mime::split_message(bytes, d.blob_sink(), sp);
      EXPECT_TRUE(s);
      sk = *s;
    }
    delivery::Composed c;
    c.account = "alice@example.test";
    c.mailboxes = {"Drafts"};
    c.summary = mime::summarize(bytes, sk, {});
    c.skeleton = sk;
    auto out = mail.store_composed(std::move(c));
    EXPECT_EQ(out.status, delivery::Status::ok) << out.detail;
    auto m = store->get_message(out.message_id);
    EXPECT_TRUE(m);
    return m ? m->record : storage::MessageRecord{};
  }
};

TEST_F(Fixture, SmtpQueuesOneRowPerDestinationDomainAndWakesTheRelayOnce) {
  auto out = mail.deliver(inbound("alice@example.test", {"bob@example.test"},
                                  {"x@one.test", "y@two.test", "z@ONE.test"}));
  ASSERT_EQ(out.status, delivery::Status::ok) << out.detail;
  EXPECT_EQ(out.queue_rows, 2u);
  EXPECT_EQ(wakes, 1);
  auto q = queue();
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].rcpt_to, (std::vector<std::string>{"x@one.test", "z@ONE.test"}));
  EXPECT_EQ(q[1].rcpt_to, (std::vector<std::string>{"y@two.test"}));
  EXPECT_EQ(q[0].mail_from, "alice@example.test");
  ASSERT_EQ(rows("bob@example.test").size(), 1u);
  // The trace header leads the stored message.
  auto m = store->get_message(out.message_id);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->record.skeleton.find("Received: from client.test"), m->record.skeleton.find("Received:"));
}

TEST_F(Fixture, SubmissionQueuesTheSameRowsAsSmtpForTheSameEnvelope) {
  auto rec = composed();
  auto out = mail.submit({"alice@example.test", "alice@example.test",
                          {"x@one.test", "y@two.test", "z@ONE.test", "bob@example.test"}, rec});
  ASSERT_EQ(out.status, delivery::Status::ok) << out.detail;
  EXPECT_EQ(out.queue_rows, 2u);
  EXPECT_EQ(wakes, 1);
  auto jmap_rows = queue();
  ASSERT_EQ(rows("bob@example.test").size(), 1u);
  // The same envelope over SMTP submission: identical queue envelopes.
  TempDir dir2;
  auto store2 = storage::testing::open_store(storage::testing::test_options(dir2.path()));
  ASSERT_TRUE(store2->add_domain("example.test"));
  ASSERT_TRUE(store2->add_user("alice@example.test", "pw-long-enough-1"));
  ASSERT_TRUE(store2->add_user("bob@example.test", "pw-long-enough-1"));
  delivery::Service smtp_mail(*store2, cfg);
  auto in = inbound("alice@example.test", {"bob@example.test"}, {"x@one.test", "y@two.test", "z@ONE.test"});
  ASSERT_EQ(smtp_mail.deliver(std::move(in)).status, delivery::Status::ok);
  std::swap(store, store2);
  EXPECT_EQ(queue(), jmap_rows);
  std::swap(store, store2);
}

TEST_F(Fixture, SenderRuleIsTheSameForSmtpAndJmap) {
  EXPECT_TRUE(mail.may_send_as("alice@example.test", addr("alice@example.test")));
  EXPECT_TRUE(mail.may_send_as("alice@example.test", addr("SALES@example.test")));  // alias to alice
  EXPECT_FALSE(mail.may_send_as("bob@example.test", addr("sales@example.test")));
  EXPECT_FALSE(mail.may_send_as("alice@example.test", addr("bob@example.test")));
  EXPECT_FALSE(mail.may_send_as("alice@example.test", smtp::Address{}));  // "<>"
  auto rec = composed();
  // JMAP once refused aliases (mailFrom had to be the account): now the SMTP rule.
  EXPECT_EQ(mail.submit({"alice@example.test", "sales@example.test", {"x@one.test"}, rec}).status,
            delivery::Status::ok);
  EXPECT_EQ(mail.submit({"alice@example.test", "bob@example.test", {"x@one.test"}, rec}).status,
            delivery::Status::sender_rejected);
  // From: someone else's address: refused like SMTP submission's header check.
  auto forged = composed("bob@example.test");
  EXPECT_EQ(mail.submit({"alice@example.test", "alice@example.test", {"x@one.test"}, forged}).status,
            delivery::Status::from_rejected);
  EXPECT_FALSE(mail.header_senders_allowed("alice@example.test", "From: bob@example.test\r\n\r\nx"));
  EXPECT_TRUE(mail.header_senders_allowed("alice@example.test", "From: Sales <sales@example.test>\r\n\r\nx"));
  cfg.smtp_policy.allow_any_sender = true;
  EXPECT_EQ(mail.submit({"alice@example.test", "bob@example.test", {"x@one.test"}, forged}).status,
            delivery::Status::ok);
}

TEST_F(Fixture, SubmissionRefusesUnknownAndMalformedRecipients) {
  auto rec = composed();
  EXPECT_EQ(mail.submit({"alice@example.test", "alice@example.test", {"nobody@example.test"}, rec}).status,
            delivery::Status::bad_recipients);
  EXPECT_EQ(mail.submit({"alice@example.test", "alice@example.test", {"a b@one.test"}, rec}).status,
            delivery::Status::bad_recipients);
  EXPECT_EQ(mail.submit({"alice@example.test", "alice@example.test", {}, rec}).status,
            delivery::Status::bad_recipients);
  EXPECT_TRUE(queue().empty());
  EXPECT_EQ(wakes, 0);
}

TEST_F(Fixture, RoutingResolvesAliasesPostmasterAndRelay) {
  delivery::Route r;
  EXPECT_EQ(mail.route(addr("sales@example.test"), std::nullopt, std::nullopt, r), smtp::RcptVerdict::Accept);
  EXPECT_EQ(r.accounts, (std::vector<std::string>{"alice@example.test"}));
  delivery::Route pm;  // no postmaster account: the admins get it (RFC 5321 4.5.1)
  EXPECT_EQ(mail.route(addr("postmaster"), std::nullopt, std::nullopt, pm), smtp::RcptVerdict::Accept);
  EXPECT_EQ(pm.accounts, (std::vector<std::string>{"alice@example.test"}));
  delivery::Route none;
  EXPECT_EQ(mail.route(addr("nobody@example.test"), std::nullopt, std::nullopt, none),
            smtp::RcptVerdict::UnknownUser);
  delivery::Route relay;
  EXPECT_EQ(mail.route(addr("x@one.test"), std::nullopt, std::nullopt, relay), smtp::RcptVerdict::RelayDenied);
  EXPECT_EQ(mail.route(addr("x@one.test"), std::string("alice@example.test"), std::nullopt, relay),
            smtp::RcptVerdict::Accept);
  EXPECT_EQ(relay.foreign, (std::vector<std::string>{"x@one.test"}));
  ASSERT_TRUE(store->set_quota("bob@example.test", 100));
  delivery::Route full;
  EXPECT_EQ(mail.route(addr("bob@example.test"), std::nullopt, 1000, full), smtp::RcptVerdict::MailboxFull);
}

TEST_F(Fixture, QuotaIsPerRecipientAndTheSenderGetsAReport) {
  ASSERT_TRUE(store->set_quota("bob@example.test", 50));
  auto out = mail.deliver(inbound("alice@example.test", {"alice@example.test", "bob@example.test"}, {}));
  ASSERT_EQ(out.status, delivery::Status::ok) << out.detail;
  EXPECT_EQ(out.over_quota, (std::vector<std::string>{"bob@example.test"}));
  EXPECT_TRUE(rows("bob@example.test").empty());
  auto alice = rows("alice@example.test");
  ASSERT_EQ(alice.size(), 2u);  // the message and the report about bob
  EXPECT_FALSE(out.over_quota_report.empty());
  EXPECT_EQ(out.over_quota_report.rfind("failed", 0), std::string::npos) << out.over_quota_report;
  // Nobody left: quota_exceeded, nothing stored.
  auto before = store->stats();
  auto only = mail.deliver(inbound("carol@outside.test", {"bob@example.test"}, {}));
  EXPECT_EQ(only.status, delivery::Status::quota_exceeded);
  EXPECT_EQ(delivery::smtp_status(only.status), smtp::DeliveryStatus::QuotaExceeded);
  auto after = store->stats();
  ASSERT_TRUE(before && after);
  EXPECT_EQ(after->messages, before->messages);
}

TEST_F(Fixture, AFailedCommitLeavesNothing) {
  auto before = store->stats();
  // An attachment big enough to be cut out, then a commit that fails (the hook names a
  // mailbox that does not exist): no row, no queue row, no message, no blob.
  std::string att(8000, 'A');
  std::string body = "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/octet-stream\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n" + att + "\r\n--b--\r\n";
  auto in = inbound("carol@outside.test", {"alice@example.test"}, {"x@one.test"}, body);
  in.bytes = "From: carol@outside.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + body;
  mail.set_recipient_hook([](const delivery::RecipientFacts&) { return delivery::Placement{"No such box", {}, false}; });
  auto out = mail.deliver(std::move(in));
  EXPECT_EQ(out.status, delivery::Status::temp_fail);
  EXPECT_EQ(wakes, 0);
  EXPECT_TRUE(rows("alice@example.test").empty());
  EXPECT_TRUE(queue().empty());
  auto after = store->stats();
  ASSERT_TRUE(before && after);
  EXPECT_EQ(after->messages, before->messages);
  EXPECT_EQ(after->blobs, before->blobs);
  // The same message without the hook: the attachment is cut out and stored.
  mail.set_recipient_hook({});
  auto again = inbound("carol@outside.test", {"alice@example.test"}, {}, body);
  again.bytes = "From: carol@outside.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + body;
  auto ok = mail.deliver(std::move(again));
  ASSERT_EQ(ok.status, delivery::Status::ok) << ok.detail;
  EXPECT_EQ(ok.cuts, 1u);
  auto stored = store->stats();
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->blobs, before->blobs + 1);
}

TEST_F(Fixture, TheRecipientHookPlacesOrDiscardsEachCopy) {
  std::vector<std::string> asked;
  mail.set_recipient_hook([&](const delivery::RecipientFacts& f) {
    asked.push_back(f.account + ":" + f.summary.subject);
    if (f.account == "bob@example.test") return delivery::Placement{"INBOX", {}, true};
    return delivery::Placement{"Archive", {"$flagged"}, false};
  });
  auto out = mail.deliver(inbound("carol@outside.test", {"alice@example.test", "bob@example.test"}, {}));
  ASSERT_EQ(out.status, delivery::Status::ok) << out.detail;
  EXPECT_EQ(asked, (std::vector<std::string>{"alice@example.test:s", "bob@example.test:s"}));
  auto a = rows("alice@example.test");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].mailbox, "Archive");
  EXPECT_EQ(a[0].keywords, (std::vector<std::string>{"$flagged"}));
  EXPECT_TRUE(rows("bob@example.test").empty());
  // Everyone discarded: accepted, nothing stored.
  mail.set_recipient_hook([](const delivery::RecipientFacts&) { return delivery::Placement{"INBOX", {}, true}; });
  auto gone = mail.deliver(inbound("carol@outside.test", {"bob@example.test"}, {}));
  EXPECT_EQ(gone.status, delivery::Status::ok);
  EXPECT_TRUE(gone.message_id.empty());
}

TEST_F(Fixture, SubmittingUsersGetASentCopy) {
  auto in = inbound("alice@example.test", {}, {"x@one.test"});
  in.sent_account = "alice@example.test";
  ASSERT_EQ(mail.deliver(std::move(in)).status, delivery::Status::ok);
  auto a = rows("alice@example.test");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].mailbox, "Sent");
  EXPECT_EQ(a[0].keywords, (std::vector<std::string>{"$seen"}));
}

TEST_F(Fixture, UploadsAreHeldAndCountAgainstQuota) {
  auto up = mail.hold_upload("bob@example.test", "some bytes",
                             storage::UnixSeconds(std::chrono::seconds(std::time(nullptr) + 600)));
  ASSERT_EQ(up.status, delivery::Status::ok) << up.detail;
  EXPECT_TRUE(store->blob_info(up.message_id));
  ASSERT_TRUE(store->set_quota("bob@example.test", 5));
  auto over = mail.hold_upload("bob@example.test", std::string(100, 'x'),
                               storage::UnixSeconds(std::chrono::seconds(std::time(nullptr) + 600)));
  EXPECT_EQ(over.status, delivery::Status::quota_exceeded);
}

TEST_F(Fixture, ImportLandsInTheMailboxWithoutATraceHeader) {
  delivery::Import im;
  im.account = "alice@example.test";
  im.mailbox = "Old mail";
  im.keywords = {"$seen"};
  im.internal_date = 1704189600;
  im.bytes = "From: x@legacy.test\r\nSubject: old\r\n\r\nold body\r\n";
  const std::string original = im.bytes;
  auto out = mail.import(std::move(im));
  ASSERT_EQ(out.status, delivery::Status::ok) << out.detail;
  auto a = rows("alice@example.test");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].mailbox, "Old mail");
  auto m = store->get_message(out.message_id);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->record.skeleton.find("Received:"), std::string::npos);
  EXPECT_EQ(m->record.logical_size, original.size());
}

TEST_F(Fixture, BouncesReachLocalSendersOnly) {
  mime::DsnInput r;
  r.reporting_mta = cfg.hostname;
  r.to = "alice@example.test";
  r.original_headers = "Subject: hello there\r\n";
  r.recipients.push_back({"x@one.test", "failed", "5.1.1", "", "550 5.1.1 no such user"});
  auto out = mail.deliver_report(r, false);
  ASSERT_EQ(out.status, delivery::Status::ok) << out.detail;
  ASSERT_EQ(rows("alice@example.test").size(), 1u);
  r.to = "carol@outside.test";
  EXPECT_EQ(mail.deliver_report(r, false).status, delivery::Status::bad_recipients);
  EXPECT_TRUE(queue().empty());
  EXPECT_EQ(mail.deliver_report(r, true).status, delivery::Status::ok);
  EXPECT_EQ(queue().size(), 1u);
  EXPECT_EQ(delivery::subject_of("X: y\r\nSubject:  hello\r\n there \r\n\r\n"), "hello there");
}

TEST(QueueEnvelope, RoundTripsAndRejectsWhatItWouldNotWrite) {
  delivery::QueueEnvelope e;
  e.mail_from = "a@example.test";
  e.rcpt_to = {"x@one.test", "y@one.test"};
  e.smtputf8 = true;
  e.envid = "E1";
  e.ret = "HDRS";
  e.warned = true;
  e.dsn["x@one.test"] = {3, "rfc822;x@one.test"};
  auto back = delivery::parse_queue_envelope(delivery::serialize(e));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, e);
  // The format rows written before the delivery service hold.
  auto old = delivery::parse_queue_envelope(R"({"mail_from":"a@b.test","rcpt_to":["c@d.test"],"smtputf8":false})");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->rcpt_to, (std::vector<std::string>{"c@d.test"}));
  EXPECT_FALSE(delivery::parse_queue_envelope(R"({"mail_from":"a@b.test","rcpt_to":[]})"));
  EXPECT_FALSE(delivery::parse_queue_envelope(R"({"mail_from":"a@b.test","rcpt_to":[1]})"));
  EXPECT_FALSE(delivery::parse_queue_envelope("not json"));
}

}  // namespace
