// tests/fuzz/fuzz_smtp_session.cpp — libFuzzer target: arbitrary bytes -> smtp::Session.
// The first bytes choose the listener options and limits; the rest is the client stream,
// fed in pseudo-randomly sized chunks; every asynchronous action is answered at once
// with pseudo-random outcomes. Invariants (abort on violation): replies are well-formed
// "ddd[ -]text\r\n" lines with one code, asynchronous actions end their batch, buffers and
// delivered messages stay within the limits, nothing happens after Close, and the same
// stream fed whole gives the same replies as when chunked (unless STARTTLS intervenes).
// With the top bit of the first byte set, the bytes are instead server replies fed to a
// ClientSession (no credentials before TLS, nothing after ClientFinished, bounded buffer).
#include "tests/fuzz/fuzz_check.hpp"
#include "smtp/client_session.hpp"
#include "smtp/session.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

using namespace refmail::smtp;

namespace {

struct Rng {
  std::uint64_t s;
  std::uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint32_t>(s >> 33);
  }
};

void check_reply(const Reply& r) {
  const std::string& w = r.wire;
  FUZZ_CHECK(w.size() >= 6 && w.size() < 4096);
  FUZZ_CHECK(r.code >= 200 && r.code <= 599);
  std::size_t pos = 0;
  bool last_seen = false;
  while (pos < w.size()) {
    FUZZ_CHECK(!last_seen);
    const std::size_t end = w.find("\r\n", pos);
    FUZZ_CHECK(end != std::string::npos);
    const std::string_view line(w.data() + pos, end - pos);
    FUZZ_CHECK(line.size() >= 4 && line.size() <= 512);
    for (int k = 0; k < 3; ++k) FUZZ_CHECK(line[k] >= '0' && line[k] <= '9');
    FUZZ_CHECK(std::atoi(std::string(line.substr(0, 3)).c_str()) == r.code);
    FUZZ_CHECK(line[3] == ' ' || line[3] == '-');
    last_seen = line[3] == ' ';
    for (char c : line) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
    pos = end + 2;
  }
  FUZZ_CHECK(last_seen);
}

struct Runner {
  Session s;
  Limits lim;
  Rng rng;        // outcomes
  Rng chunk_rng;  // chunk sizes (separate, so both runs see the same outcomes)
  std::string replies;
  bool closed = false;
  bool tls_happened = false;
  int deliveries = 0;

  Runner(const Options& o, const Limits& l, std::uint64_t seed) : s(o, l), lim(l), rng{seed}, chunk_rng{seed ^ 0x9e3779b97f4a7c15ull} {}

  void handle(std::vector<Action> acts) {
    for (std::size_t i = 0; i < acts.size(); ++i) {
      FUZZ_CHECK(!closed);
      const bool last = i + 1 == acts.size();
      Action& a = acts[i];
      if (auto* r = std::get_if<Reply>(&a)) {
        check_reply(*r);
        replies += r->wire;
      } else if (std::holds_alternative<Close>(a)) {
        FUZZ_CHECK(last);
        FUZZ_CHECK(s.closed());
        closed = true;
      } else if (std::holds_alternative<StartTls>(a)) {
        FUZZ_CHECK(last);
        tls_happened = true;
        handle(s.tls_started());
      } else if (auto* au = std::get_if<Authenticate>(&a)) {
        FUZZ_CHECK(last);
        FUZZ_CHECK(!au->user.empty() && !au->password.empty());
        handle(s.auth_result(rng.next() % 2 == 0));
      } else if (std::holds_alternative<CheckSender>(a)) {
        FUZZ_CHECK(last);
        handle(s.sender_result(rng.next() % 3 != 0));
      } else if (auto* cr = std::get_if<CheckRecipient>(&a)) {
        FUZZ_CHECK(last);
        FUZZ_CHECK(cr->accepted_so_far < lim.max_recipients);
        handle(s.recipient_result(static_cast<RcptVerdict>(rng.next() % 6)));
      } else if (auto* d = std::get_if<Deliver>(&a)) {
        FUZZ_CHECK(last);
        FUZZ_CHECK(d->bytes.size() <= lim.max_message_size);
        FUZZ_CHECK(!d->envelope.rcpt_to.empty());
        FUZZ_CHECK(d->envelope.rcpt_to.size() <= lim.max_recipients);
        ++deliveries;
        const auto st = rng.next() % 4 == 0 ? DeliveryStatus::TempFail : DeliveryStatus::Ok;
        handle(s.delivery_result(st, "FUZZ1"));
      }
    }
  }

  void feed(std::string_view in, bool chunked) {
    std::size_t i = 0;
    while (i < in.size()) {
      std::size_t n = in.size() - i;
      if (chunked) n = std::min<std::size_t>(n, 1 + chunk_rng.next() % 64);
      auto acts = s.feed(in.substr(i, n));
      if (closed) FUZZ_CHECK(acts.empty());
      handle(std::move(acts));
      // Bounded buffering: at most one line (or the awaiting buffer) plus one chunk.
      FUZZ_CHECK(s.buffered_bytes() <= lim.max_input_buffer + lim.max_auth_line + n);
      i += n;
    }
  }
};

// Client mode: the fuzzer plays the server.
void fuzz_client(std::uint8_t flags, std::uint8_t seed, std::string_view stream) {
  ClientOptions o;
  o.tls = static_cast<TlsMode>(flags & 3);
  if (flags & 4) o.auth = ClientCredentials{"user", "SECRETPW", {AuthMechanism::XOAuth2, AuthMechanism::Login,
                                                                  AuthMechanism::Plain}};
  o.allow_plaintext_auth = flags & 8;
  o.use_bdat = flags & 16;
  o.use_pipelining = flags & 32;
  ClientMessage m;
  m.mail_from = Address{"a", "b.example"};
  for (int i = 0; i < 1 + seed % 4; ++i) m.rcpt_to.push_back(Recipient{Address{"r" + std::to_string(i), "c.example"}, {}});
  m.params.smtputf8 = flags & 64;
  m.bytes = "Subject: x\r\n\r\n.body\r\n";
  ClientSession c(o, m);
  Rng rng{seed};
  bool finished = false, tls = o.tls == TlsMode::Implicit, pending_tls = false;
  auto take = [&](std::vector<ClientAction> acts) {
    for (std::size_t k = 0; k < acts.size(); ++k) {
      FUZZ_CHECK(!finished);
      if (auto* w = std::get_if<ClientWrite>(&acts[k])) {
        // Credentials never leave in plaintext unless allowed.
        if (!tls && !o.allow_plaintext_auth) {
          FUZZ_CHECK(w->bytes.find("AUTH") == std::string::npos);
          FUZZ_CHECK(w->bytes.find("U0VDUkVUUFc") == std::string::npos);  // base64("SECRETPW")
        }
      } else if (std::holds_alternative<ClientStartTls>(acts[k])) {
        FUZZ_CHECK(k + 1 == acts.size());
        pending_tls = true;
      } else if (std::holds_alternative<ClientFinished>(acts[k])) {
        FUZZ_CHECK(k + 1 == acts.size());
        FUZZ_CHECK(c.finished());
        finished = true;
      }
    }
  };
  std::size_t i = 0;
  while (i < stream.size() && !finished) {
    const std::size_t n = std::min<std::size_t>(stream.size() - i, 1 + rng.next() % 32);
    take(c.feed(stream.substr(i, n)));
    i += n;
    if (pending_tls && !finished) {
      pending_tls = false;
      tls = true;
      take(c.tls_started());
    }
  }
  if (!finished) take(c.connection_lost("eof"));
  FUZZ_CHECK(finished && c.finished());
  FUZZ_CHECK(c.result().rcpts.size() == m.rcpt_to.size());
  for (const auto& r : c.result().rcpts) FUZZ_CHECK(r.code != -1);
  FUZZ_CHECK(c.feed(std::string_view("250 ok\r\n")).empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const std::uint8_t flags = data[0];
  if (flags & 128) {
    fuzz_client(data[1], data[2], std::string_view(reinterpret_cast<const char*>(data) + 3, size - 3));
    return 0;
  }
  Options o;
  o.hostname = "fuzz.test";
  o.tls_available = flags & 1;
  o.tls_active = flags & 2;
  o.auth_enabled = flags & 4;
  o.auth_without_tls = flags & 8;
  o.require_auth = flags & 16;
  o.require_tls = flags & 32;
  o.bare_lf = (flags & 64) ? BareLfPolicy::Reject : BareLfPolicy::Accept;
  Limits l;
  // Small limits so the fuzzer reaches them.
  l.max_command_line = 512;
  l.max_auth_line = 600 + data[1];
  l.max_message_size = 64 + data[2] * 16;
  l.max_recipients = 1 + data[3] % 8;
  l.max_errors = 5 + data[1] % 20;
  l.max_junk_commands = 5 + data[2] % 30;
  l.max_data_line = 32 + data[3];
  l.max_auth_attempts = 1 + data[1] % 3;
  l.max_input_buffer = 4096;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);
  const std::uint64_t seed = (std::uint64_t{data[1]} << 16) ^ (std::uint64_t{data[2]} << 8) ^ data[3];

  Runner whole(o, l, seed);
  whole.handle(whole.s.start());
  whole.feed(stream, false);

  Runner chunked(o, l, seed);
  chunked.handle(chunked.s.start());
  chunked.feed(stream, true);

  // Chunking must not change the conversation. (STARTTLS legitimately differs: bytes in
  // the same read after it are discarded; the outcomes' RNG order also diverges then.)
  if (!whole.tls_happened && !chunked.tls_happened && whole.s.buffered_bytes() <= l.max_input_buffer) {
    FUZZ_CHECK(whole.replies == chunked.replies);
    FUZZ_CHECK(whole.deliveries == chunked.deliveries);
  }
  return 0;
}
