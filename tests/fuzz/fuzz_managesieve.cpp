// tests/fuzz/fuzz_managesieve.cpp — libFuzzer target: arbitrary bytes -> managesieve::Session.
// Byte 0 chooses the options and limits, byte 1 the chunking; the rest is the client
// stream, fed in pseudo-random chunks. A fake authenticator answers Authenticate
// ("u"/"p" succeeds, password "t" is a temporary failure), StartTls is answered at once,
// ScriptRequests run on a small in-memory script table.
// Invariants (abort on violation): an asynchronous action or Close ends its batch;
// nothing after Close; a script request only after a login, with a name and content
// within the limits; held bytes bounded by the limits plus one chunk; without STARTTLS,
// the whole stream and the chunked stream give the same output.
#include "tests/fuzz/fuzz_check.hpp"
#include "managesieve/session.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

using namespace refmail::managesieve;

namespace {

struct Rng {
  std::uint64_t s;
  std::uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint32_t>(s >> 33);
  }
};

struct Runner {
  Session s;
  Options opt;
  Limits lim;
  std::string out;
  bool closed = false;
  bool saw_tls = false;
  bool logged_in = false;
  std::map<std::string, std::string> scripts;
  std::string active;

  Runner(const Options& o, const Limits& l) : s(o, l), opt(o), lim(l) {}

  ScriptReply run(const ScriptRequest& r) {
    ScriptReply rep;
    auto missing = [&] { rep.status = ScriptStatus::NonExistent; };
    switch (r.op) {
      case ScriptOp::List:
        for (const auto& [n, c] : scripts) rep.scripts.push_back({n, n == active});
        break;
      case ScriptOp::Get:
        if (auto it = scripts.find(r.name); it != scripts.end()) rep.content = it->second; else missing();
        break;
      case ScriptOp::Put:
        FUZZ_CHECK(r.content.size() <= opt.max_script_bytes);
        if (scripts.size() >= 3 && !scripts.count(r.name)) rep.status = ScriptStatus::MaxScripts;
        else scripts[r.name] = r.content;
        break;
      case ScriptOp::Delete:
        if (!scripts.count(r.name)) missing();
        else if (r.name == active) rep.status = ScriptStatus::Active;
        else scripts.erase(r.name);
        break;
      case ScriptOp::Rename:
        if (!scripts.count(r.name)) missing();
        else if (scripts.count(r.new_name)) rep.status = ScriptStatus::AlreadyExists;
        else {
          scripts[r.new_name] = scripts[r.name];
          scripts.erase(r.name);
          if (active == r.name) active = r.new_name;
        }
        break;
      case ScriptOp::Activate:
        if (!r.name.empty() && !scripts.count(r.name)) missing(); else active = r.name;
        break;
      case ScriptOp::HaveSpace:
        FUZZ_CHECK(r.size_bytes <= opt.max_script_bytes);
        break;
    }
    return rep;
  }

  void perform(std::vector<Action> actions) {
    while (!actions.empty()) {
      std::vector<Action> next;
      for (std::size_t i = 0; i < actions.size(); ++i) {
        FUZZ_CHECK(!closed);
        const bool last = i + 1 == actions.size();
        Action& a = actions[i];
        if (auto* w = std::get_if<action::Write>(&a)) {
          FUZZ_CHECK(!w->bytes.empty() && w->bytes.ends_with("\r\n"));
          out += w->bytes;
        } else if (std::holds_alternative<action::StartTls>(a)) {
          FUZZ_CHECK(last);
          saw_tls = true;
          out += "<tls>";
          next = s.tls_started();
        } else if (auto* au = std::get_if<action::Authenticate>(&a)) {
          FUZZ_CHECK(last);
          FUZZ_CHECK(!au->user.empty() && !au->password.empty());
          FUZZ_CHECK(opt.login_without_tls || s.tls_active());
          AuthOutcome o = AuthOutcome::Failed;
          if (au->password == "p" && au->user == "u") o = AuthOutcome::Ok;
          if (au->password == "t") o = AuthOutcome::Temporary;
          logged_in = o == AuthOutcome::Ok;
          next = s.auth_result(o);
        } else if (auto* r = std::get_if<ScriptRequest>(&a)) {
          FUZZ_CHECK(last);
          FUZZ_CHECK(s.user().has_value());
          next = s.script_result(run(*r));
        } else if (std::holds_alternative<action::Close>(a)) {
          FUZZ_CHECK(last);
          closed = true;
        }
      }
      actions = std::move(next);
    }
  }
};

std::string run_stream(const Options& o, const Limits& l, std::string_view in, std::uint8_t chunking, bool* tls) {
  Runner r(o, l);
  r.perform(r.s.start());
  Rng rng{chunking + 1ull};
  std::size_t pos = 0;
  while (pos < in.size() && !r.closed) {
    std::size_t n = in.size() - pos;
    if (chunking != 0) n = std::min<std::size_t>(n, 1 + rng.next() % (chunking % 64 + 1));
    r.perform(r.s.feed(in.substr(pos, n)));
    pos += n;
    const std::size_t bound = l.max_input_buffer + n + l.max_line_bytes + o.max_script_bytes +
                              l.max_args * (l.max_string_bytes + l.max_line_bytes);
    FUZZ_CHECK(r.s.held_bytes() <= bound);
  }
  *tls = r.saw_tls;
  FUZZ_CHECK(r.out.size() <= 4096 + in.size() * 64 + 3 * o.max_script_bytes * (1 + in.size()));
  return r.out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t mode = data[0];
  Options o;
  o.login_without_tls = (mode & 1) != 0;
  o.tls_available = (mode & 2) != 0;
  o.sieve_extensions = "fileinto vacation";
  o.max_redirects = mode & 4 ? 4 : 0;
  o.max_script_bytes = mode & 8 ? 64 : 4096;
  if (mode & 16) {
    o.validate = [](std::string_view s) -> std::optional<std::string> {
      if (s.find("bad") != std::string_view::npos) return std::string("1:1: bad\r\nsecond line");
      return std::nullopt;
    };
  }
  Limits l;
  if (mode & 32) {
    l.max_line_bytes = 64;
    l.max_string_bytes = 32;
    l.max_literal_skip = 1024;
    l.max_input_buffer = 256;
    l.max_errors = 3;
  }
  const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
  bool tls_whole = false, tls_chunked = false;
  const std::string whole = run_stream(o, l, in, 0, &tls_whole);
  const std::string chunked = run_stream(o, l, in, data[1] | 1, &tls_chunked);
  // STARTTLS drops what was pipelined after it, which depends on the chunking.
  if (!tls_whole && !tls_chunked) FUZZ_CHECK(whole == chunked);
  return 0;
}
