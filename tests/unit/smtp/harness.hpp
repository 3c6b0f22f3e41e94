// tests/unit/smtp/harness.hpp — drives an smtp::Session from a scripted client and an
// auto-answering "server", and renders everything it does as one string: the reply
// bytes plus [MARKERS] for the other actions. expect_transcript() runs the same script
// whole, one byte at a time, and in odd-sized chunks, and requires identical output.
#pragma once

#include "smtp/session.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <variant>
#include <vector>

namespace refmail::smtp::test {

struct Responder {
  bool auth_ok = true;
  bool auth_temp_fail = false;  // answer Authenticate with auth_temp_failure()
  bool sender_ok = true;
  std::function<RcptVerdict(const CheckRecipient&)> rcpt = [](const CheckRecipient&) {
    return RcptVerdict::Accept;
  };
  DeliveryStatus delivery = DeliveryStatus::Ok;
  std::string queue_id = "Q1";
};

struct RunResult {
  std::string out;  // replies + markers
  std::vector<Deliver> deliveries;
  std::vector<Authenticate> auths;
  std::vector<CheckRecipient> rcpt_checks;
  std::vector<CheckSender> sender_checks;
  bool closed = false;
  SessionState final_state = SessionState::Init;
};

inline Options default_options() {
  Options o;
  o.hostname = "mx.test";
  return o;
}

class Driver {
 public:
  Driver(Options o, Limits l, Responder r = {}) : s_(std::move(o), l), r_(std::move(r)) {
    handle(s_.start());
  }

  // Feeds `turn` in chunks of `chunk` bytes (0 = whole). Bytes after a StartTls or a
  // Close in the same turn are dropped, as a real connection would (they are TLS
  // handshake bytes, or nobody reads them).
  void feed(std::string_view turn, std::size_t chunk = 0) {
    if (chunk == 0) chunk = turn.size() ? turn.size() : 1;
    for (std::size_t i = 0; i < turn.size() && !stop_turn_; i += chunk) {
      handle(s_.feed(turn.substr(i, std::min(chunk, turn.size() - i))));
    }
    stop_turn_ = false;
  }

  RunResult& result() {
    res_.final_state = s_.state();
    return res_;
  }
  Session& session() { return s_; }
  Responder& responder() { return r_; }

  void handle(std::vector<Action> actions) {
    for (std::size_t k = 0; k < actions.size(); ++k) {
      Action& a = actions[k];
      const bool last = k + 1 == actions.size();
      if (auto* rep = std::get_if<Reply>(&a)) {
        res_.out += rep->wire;
      } else if (std::holds_alternative<StartTls>(a)) {
        EXPECT_TRUE(last) << "StartTls must end a batch";
        res_.out += "[STARTTLS]\n";
        stop_turn_ = true;
        handle(s_.tls_started());
      } else if (auto* au = std::get_if<Authenticate>(&a)) {
        EXPECT_TRUE(last);
        res_.out += "[AUTH " + au->mechanism + " " + au->authzid + "/" + au->user + "/" + au->password + "]\n";
        res_.auths.push_back(*au);
        handle(r_.auth_temp_fail ? s_.auth_temp_failure() : s_.auth_result(r_.auth_ok));
      } else if (auto* cs = std::get_if<CheckSender>(&a)) {
        EXPECT_TRUE(last);
        res_.sender_checks.push_back(*cs);
        handle(s_.sender_result(r_.sender_ok));
      } else if (auto* cr = std::get_if<CheckRecipient>(&a)) {
        EXPECT_TRUE(last);
        res_.rcpt_checks.push_back(*cr);
        handle(s_.recipient_result(r_.rcpt(*cr)));
      } else if (auto* d = std::get_if<Deliver>(&a)) {
        EXPECT_TRUE(last);
        res_.out += "[DELIVER " + std::to_string(d->bytes.size()) + "]\n";
        res_.deliveries.push_back(std::move(*d));
        handle(s_.delivery_result(r_.delivery, r_.queue_id));
      } else if (std::holds_alternative<Close>(a)) {
        EXPECT_TRUE(last);
        res_.out += "[CLOSE]\n";
        res_.closed = true;
        stop_turn_ = true;
      }
    }
  }

 private:
  Session s_;
  Responder r_;
  RunResult res_;
  bool stop_turn_ = false;
};

inline RunResult run_transcript(const Options& o, const Limits& l, const std::vector<std::string>& turns,
                                const Responder& r, std::size_t chunk) {
  Driver d(o, l, r);
  for (const auto& t : turns) d.feed(t, chunk);
  return d.result();
}

// Runs the script whole, byte by byte, and in chunks of 7 and 1000; every run must give
// the same output. Returns the whole-fed run for further checks.
inline RunResult check_all_splits(const Options& o, const Limits& l, const std::vector<std::string>& turns,
                                  const Responder& r = {}) {
  RunResult whole = run_transcript(o, l, turns, r, 0);
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{1000}}) {
    RunResult split = run_transcript(o, l, turns, r, chunk);
    EXPECT_EQ(split.out, whole.out) << "differs when fed in chunks of " << chunk;
    EXPECT_EQ(split.deliveries.size(), whole.deliveries.size());
    for (std::size_t i = 0; i < split.deliveries.size() && i < whole.deliveries.size(); ++i)
      EXPECT_EQ(split.deliveries[i].bytes, whole.deliveries[i].bytes) << "chunk " << chunk;
  }
  return whole;
}

// The golden-transcript check: output must equal `expected` for every split.
inline RunResult expect_transcript(const Options& o, const Limits& l, const std::vector<std::string>& turns,
                                   const std::string& expected, const Responder& r = {}) {
  RunResult res = check_all_splits(o, l, turns, r);
  EXPECT_EQ(res.out, expected);
  return res;
}

inline RunResult expect_transcript(const std::vector<std::string>& turns, const std::string& expected,
                                   const Responder& r = {}) {
  return expect_transcript(default_options(), Limits{}, turns, expected, r);
}

constexpr const char* kGreeting = "220 mx.test ESMTP refmail\r\n";
constexpr const char* kEhloPlain =
    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 26214400\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250 DSN\r\n";

}  // namespace refmail::smtp::test
