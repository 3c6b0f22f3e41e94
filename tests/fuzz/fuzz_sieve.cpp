// tests/fuzz/fuzz_sieve.cpp — libFuzzer target: the Sieve language core (sieve/).
// Input: a script, optionally followed by a line "%%" and a message (header fields, a
// blank line, a body) to run it on; without one a fixed message is used. Invariants:
// nothing crashes, throws or hangs; a compile error has a position and a message and
// no script; a run stays within its step budget (+1 for the step that tripped it) and
// its action limits; a run-time error leaves only the implicit keep; a reject comes
// with no fileinto or explicit keep; a second run of the same script gives the same
// outcome; a vacation reply has CRLF line ends only and no field injected by the script.
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sieve/sieve.hpp"
#include "sieve/vacation.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace refmail::sieve;

namespace {

class FuzzMessage : public Message {
 public:
  explicit FuzzMessage(std::string_view raw) : size_(raw.size()) {
    std::size_t i = 0;
    while (i < raw.size() && fields_.size() < 200) {
      std::size_t eol = raw.find('\n', i);
      if (eol == std::string_view::npos) eol = raw.size();
      std::string line(raw.substr(i, eol - i));
      if (!line.empty() && line.back() == '\r') line.pop_back();
      i = eol + 1;
      if (line.empty()) break;
      if ((line[0] == ' ' || line[0] == '\t') && !fields_.empty()) {
        fields_.back().second += line;
        continue;
      }
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      fields_.emplace_back(line.substr(0, colon), line.substr(colon + 1));
    }
    body_ = i < raw.size() ? std::string(raw.substr(i)) : std::string();
  }
  std::vector<std::string> header(std::string_view name) const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : fields_)
      if (iequal(k, name)) out.push_back(v);
    return out;
  }
  std::vector<std::pair<std::string, std::string>> headers() const override { return fields_; }
  std::uint64_t size() const override { return size_; }
  std::string envelope_from() const override { return "sender+tag@example.org"; }
  std::string envelope_to() const override { return "user@example.com"; }
  std::string body_raw() const override { return body_; }
  std::vector<std::string> body_text(const std::vector<std::string>&) const override { return {body_}; }

 private:
  static bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    return true;
  }
  std::vector<std::pair<std::string, std::string>> fields_;
  std::string body_;
  std::uint64_t size_;
};

constexpr std::string_view kDefaultMessage =
    "From: Alice <alice@example.org>\r\n"
    "To: Bob <bob+lists@example.com>, user@example.com\r\n"
    "Subject: Hello =?utf-8?q?W=C3=B6rld?= money\r\n"
    "Date: Tue, 1 Apr 1997 09:06:31 -0800\r\n"
    "Received: from a by b; Wed, 02 Apr 1997 01:00:00 +0000\r\n"
    "Message-ID: <1234@example.org>\r\n"
    "List-Id: <list.example.org>\r\n"
    "X-Spam-Score: 12\r\n"
    "\r\n"
    "Hello, this is the body.\r\nMake money fast.\r\n";

bool crlf_only(const std::string& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
    if (s[i] == '\r' && (i + 1 >= s.size() || s[i + 1] != '\n')) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 65536) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view script = input, raw = kDefaultMessage;
  if (auto sep = input.find("\n%%\n"); sep != std::string_view::npos) {
    script = input.substr(0, sep + 1);
    raw = input.substr(sep + 4);
  }
  Limits limits;
  limits.max_steps = 20000;
  limits.max_string_bytes = 16 << 10;
  auto c = compile(script, limits);
  if (c.error) {
    FUZZ_CHECK(!c.script);
    FUZZ_CHECK(c.error->line >= 1 && c.error->column >= 1);
    FUZZ_CHECK(!c.error->message.empty());
    return 0;
  }
  FUZZ_CHECK(c.script != nullptr);
  FuzzMessage m(raw);
  Context ctx;
  ctx.now_unix = 1700000000;
  ctx.tz_offset_minutes = 60;
  ctx.user_addresses = {"user@example.com"};
  ctx.mailbox_exists = [](std::string_view mb) { return mb != "missing"; };
  Outcome o = run(*c.script, m, ctx, limits);
  FUZZ_CHECK(o.steps <= limits.max_steps + 1);
  FUZZ_CHECK(o.redirects.size() <= limits.max_redirects);
  FUZZ_CHECK(o.fileinto.size() + o.redirects.size() <= limits.max_actions);
  if (o.runtime_error) {
    FUZZ_CHECK(o.keep && o.keep_flags.empty());
    FUZZ_CHECK(o.fileinto.empty() && o.redirects.empty() && !o.reject && !o.vacation && o.header_edits.empty());
  }
  if (o.reject) FUZZ_CHECK(o.fileinto.empty() && !o.vacation);
  for (const auto& r : o.redirects)
    for (char ch : r.address) FUZZ_CHECK(static_cast<unsigned char>(ch) > ' ' && ch != ',');
  Outcome again = run(*c.script, m, ctx, limits);
  FUZZ_CHECK(again.keep == o.keep && again.steps == o.steps && again.runtime_error == o.runtime_error);
  FUZZ_CHECK(again.fileinto.size() == o.fileinto.size() && again.keep_flags == o.keep_flags);
  if (o.vacation) {
    (void)vacation_allowed(m, ctx, *o.vacation);
    std::string reply = vacation_reply(m, ctx, *o.vacation, "mx.example.com", "id1");
    FUZZ_CHECK(crlf_only(reply));
    // The header ends at the first blank line; the script's :from/:subject cannot add
    // a field line of its own.
    std::string_view head(reply);
    head = head.substr(0, head.find("\r\n\r\n"));
    std::size_t lines = 0;
    for (std::size_t i = 0; i + 1 < head.size(); ++i)
      if (head[i] == '\r' && head[i + 1] == '\n' && i + 2 < head.size() && head[i + 2] != ' ' && head[i + 2] != '\t') ++lines;
    FUZZ_CHECK(o.vacation->mime || lines <= 12);
    FUZZ_CHECK(vacation_key(*o.vacation, m.envelope_from()).size() == 32);
  }
  return 0;
}
