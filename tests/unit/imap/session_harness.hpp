// tests/unit/imap/session_harness.hpp — drives imap::Session over a transcript of steps
// (client bytes, asynchronous outcomes) and renders every action into one log string:
// Write bytes as they are, other actions as "<<...>>" markers. Each transcript is run
// with the client bytes whole, one byte at a time and in six pseudo-random chunkings;
// every run must give the same log.
#pragma once
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <variant>
#include <vector>

#include "imap/session.hpp"

namespace refmail::imap::test {

struct Step {
  enum class Kind { Feed, Auth, Tls, Mailbox } kind = Kind::Feed;
  std::string bytes;
  AuthOutcome outcome = AuthOutcome::Ok;
};
inline Step c(std::string bytes) { return {Step::Kind::Feed, std::move(bytes), {}}; }
inline Step auth(AuthOutcome o) { return {Step::Kind::Auth, {}, o}; }
inline Step tls() { return {Step::Kind::Tls, {}, {}}; }
// A mailbox reply: "* 3 EXISTS" and "OK [READ-WRITE] SELECT completed" (the session
// enters Selected); with a text, no untagged data and "OK <text>".
inline Step mailbox(std::string text = {}) { return {Step::Kind::Mailbox, std::move(text), {}}; }

inline void render(const std::vector<Action>& actions, std::string& log) {
  for (const auto& a : actions) {
    if (auto* w = std::get_if<action::Write>(&a)) {
      log += w->bytes;
    } else if (std::holds_alternative<action::StartTls>(a)) {
      log += "<<StartTls>>";
    } else if (auto* au = std::get_if<action::Authenticate>(&a)) {
      log += "<<Auth " + au->mechanism + " " + au->user + " " + au->password + ">>";
    } else if (auto* m = std::get_if<action::MailboxRequest>(&a)) {
      log += "<<Mailbox " + command_name(m->command) + " " + m->user + ">>";
    } else if (std::holds_alternative<action::Close>(a)) {
      log += "<<Close>>";
    } else {
      log += "<<WriteLiteral>>";
    }
  }
}

// chunking: 0 whole, 1 byte by byte, else a seed for random chunks of 1..7 bytes.
inline std::string run(const Options& o, const Limits& l, const std::vector<Step>& steps, unsigned chunking) {
  Session s(o, l);
  std::string log;
  render(s.start(), log);
  std::mt19937 rng(chunking);
  for (const auto& st : steps) {
    switch (st.kind) {
      case Step::Kind::Feed: {
        std::size_t at = 0;
        while (at < st.bytes.size()) {
          std::size_t n = chunking == 0 ? st.bytes.size() : chunking == 1 ? 1 : 1 + rng() % 7;
          n = std::min(n, st.bytes.size() - at);
          render(s.feed(std::string_view(st.bytes).substr(at, n)), log);
          at += n;
        }
        break;
      }
      case Step::Kind::Auth: render(s.auth_result(st.outcome), log); break;
      case Step::Kind::Tls: render(s.tls_started(), log); break;
      case Step::Kind::Mailbox: {
        MailboxReply r;
        r.status = Condition::Ok;
        if (st.bytes.empty()) {
          r.body.push_back(action::Write{"* 3 EXISTS\r\n"});
          r.code = "READ-WRITE";
          r.text = "SELECT completed";
          r.selection = MailboxReply::Selection::Selected;
        } else {
          r.text = st.bytes;
        }
        render(s.mailbox_result(std::move(r)), log);
        break;
      }
    }
  }
  return log;
}

inline void expect_transcript(const Options& o, const Limits& l, const std::vector<Step>& steps,
                              const std::string& expected) {
  EXPECT_EQ(run(o, l, steps, 0), expected) << "whole";
  EXPECT_EQ(run(o, l, steps, 1), expected) << "byte by byte";
  for (unsigned seed = 2; seed < 8; ++seed) EXPECT_EQ(run(o, l, steps, seed), expected) << "chunking seed " << seed;
}

}  // namespace refmail::imap::test
