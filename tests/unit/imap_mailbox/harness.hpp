// tests/unit/imap_mailbox/harness.hpp — an IMAP client's view of imap::Session driven
// over imap::MailboxEngine on a real store (a temporary folder), the way the server's
// listener drives them (server/imap_server.cpp): every MailboxRequest runs through the
// engine, every literal source is read to its end. Sessions share the store, so one
// test can watch another session's (or JMAP's, or a delivery's) changes. Every test runs
// three times (fresh store each time): the client's bytes fed whole, one byte at a time,
// and in pseudo-random chunks of 1..7 bytes; the outputs must not depend on it.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "delivery/service.hpp"
#include "imap/mailbox/engine.hpp"
#include "imap/session.hpp"
#include "storage/store.hpp"
#include "tests/unit/sendmail/temp_dir.hpp"
#include "tests/unit/web/store_setup.hpp"

namespace refmail::imap::test {

using sendmail::test::TempDir;

// One client connection: a session and, after login, its engine.
class Client {
 public:
  // How send() feeds the session: whole, one byte at a time, or random 1..7-byte chunks.
  enum class Feed { Whole, ByteByByte, Chunks };

  Client(storage::Store& store, delivery::Service* service, std::string user, Feed feed = Feed::Whole)
      : store_(store), service_(service), user_(std::move(user)), feed_(feed) {
    Options o;
    o.login_without_tls = true;
    o.mailbox_requests = true;
    session_ = std::make_unique<Session>(o);
    (void)perform(session_->start());
  }

  // Sends bytes (whole lines, CRLF included) and returns everything the server wrote
  // until it waits for input again, fed as this client's Feed says.
  std::string send(std::string_view bytes) {
    if (feed_ == Feed::Whole) return perform(session_->feed(bytes));
    std::string out;
    for (std::size_t at = 0; at < bytes.size();) {
      std::size_t n = feed_ == Feed::ByteByByte ? 1 : 1 + rng_() % 7;
      n = std::min(n, bytes.size() - at);
      out += perform(session_->feed(bytes.substr(at, n)));
      at += n;
    }
    return out;
  }
  // "<tag> <command>\r\n", then the output.
  std::string cmd(std::string_view tag, std::string_view command) {
    return send(std::string(tag) + " " + std::string(command) + "\r\n");
  }
  std::string login() { return cmd("L", "LOGIN " + user_ + " pw"); }
  // While IDLE: what a poll reports.
  std::string poll() { return perform(session_->poll_mailbox()); }
  Session& session() { return *session_; }

 private:
  std::string perform(std::vector<Action> actions) {
    std::string out;
    while (!actions.empty()) {
      std::vector<Action> next;
      for (auto& a : actions) {
        if (auto* w = std::get_if<action::Write>(&a)) {
          out += w->bytes;
        } else if (auto* l = std::get_if<action::WriteLiteral>(&a)) {
          std::string lit;
          std::vector<char> buf(7);  // small reads: partial reads must work
          while (lit.size() < l->size) {
            auto n = l->source->read(buf);
            EXPECT_TRUE(n);
            if (!n || *n == 0) break;
            lit.append(buf.data(), *n);
          }
          EXPECT_EQ(lit.size(), l->size);
          out += lit;
        } else if (auto* au = std::get_if<action::Authenticate>(&a)) {
          EngineOptions eo;
          eo.delivery = service_;
          engine_ = std::make_unique<MailboxEngine>(store_, au->user, eo);
          next = session_->auth_result(AuthOutcome::Ok);
        } else if (auto* m = std::get_if<action::MailboxRequest>(&a)) {
          next = session_->mailbox_result(engine_->execute(*m));
        } else if (auto* d = std::get_if<action::AppendData>(&a)) {
          engine_->append_data(d->bytes);
        } else if (std::holds_alternative<action::Close>(a)) {
          out += "<<Close>>";
        }
      }
      actions = std::move(next);
    }
    return out;
  }

  storage::Store& store_;
  delivery::Service* service_;
  std::string user_;
  Feed feed_;
  std::minstd_rand rng_{7};
  std::unique_ptr<Session> session_;
  std::unique_ptr<MailboxEngine> engine_;
};

class EngineFixture : public ::testing::TestWithParam<Client::Feed> {
 public:
  void SetUp() override {
    auto s = web::testing::open_test_store(dir_.path / "data");
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    ASSERT_TRUE(store_->add_domain("example.test"));
    ASSERT_TRUE(store_->add_user("alice@example.test", "pw", false));
    ASSERT_TRUE(store_->add_user("bob@example.test", "pw", false));
    service_ = std::make_unique<delivery::Service>(*store_, cfg_);
  }

  std::string deliver(const std::string& raw, std::string to = "alice@example.test") {
    auto id = web::testing::deliver_message(*store_, raw, {to});
    EXPECT_FALSE(id.empty());
    return id;
  }
  static std::string message(int n, const std::string& extra_headers = "") {
    return "From: Sender <sender@outside.test>\r\nTo: alice@example.test\r\nSubject: message " + std::to_string(n) +
           "\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <m" + std::to_string(n) + "@outside.test>\r\n" +
           extra_headers + "\r\nBody of message " + std::to_string(n) + ".\r\n";
  }
  Client client(std::string user = "alice@example.test") {
    Client c(*store_, service_.get(), user, GetParam());
    EXPECT_NE(c.login().find("L OK"), std::string::npos);
    return c;
  }

  TempDir dir_;
  config::Config cfg_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<delivery::Service> service_;
};

}  // namespace refmail::imap::test
