// tests/unit/sieve/sieve_test_util.hpp — a Message over an in-memory RFC 5322 text
// and helpers to compile and run a script in one call, for the Sieve unit tests.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sieve/sieve.hpp"
#include "sieve/vacation.hpp"

namespace refmail::sieve::test {

class FakeMessage : public Message {
 public:
  // `raw`: header fields, a blank line, the body (LF or CRLF).
  explicit FakeMessage(std::string_view raw, std::string from = "sender@example.org",
                       std::string to = "user@example.com")
      : from_(std::move(from)), to_(std::move(to)) {
    std::string text(raw);
    std::size_t i = 0;
    while (i < text.size()) {
      std::size_t eol = text.find('\n', i);
      if (eol == std::string::npos) eol = text.size();
      std::string line = text.substr(i, eol - i);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      i = eol + 1;
      if (line.empty()) break;
      if ((line[0] == ' ' || line[0] == '\t') && !fields_.empty()) {
        fields_.back().second += line;
        continue;
      }
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      fields_.emplace_back(line.substr(0, colon), value);
    }
    body_ = i < text.size() ? text.substr(i) : std::string();
    size_ = raw.size();
  }
  std::vector<std::string> header(std::string_view name) const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : fields_)
      if (iequal(k, name)) out.push_back(v);
    return out;
  }
  std::vector<std::pair<std::string, std::string>> headers() const override { return fields_; }
  std::uint64_t size() const override { return size_; }
  std::string envelope_from() const override { return from_; }
  std::string envelope_to() const override { return to_; }
  std::string body_raw() const override { return body_; }
  std::vector<std::string> body_text(const std::vector<std::string>& types) const override {
    last_types = types;
    return {body_};
  }
  void set_size(std::uint64_t s) { size_ = s; }

  mutable std::vector<std::string> last_types;

 private:
  static bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    return true;
  }
  std::vector<std::pair<std::string, std::string>> fields_;
  std::string body_;
  std::string from_, to_;
  std::uint64_t size_ = 0;
};

inline const char* kSimpleMessage =
    "From: Alice <alice@example.org>\r\n"
    "To: Bob <bob+lists@example.com>, carol@example.net\r\n"
    "Cc: user@example.com\r\n"
    "Subject: Hello =?utf-8?q?W=C3=B6rld?= money\r\n"
    "Date: Tue, 1 Apr 1997 09:06:31 -0800\r\n"
    "Message-ID: <1234@example.org>\r\n"
    "X-Spam-Score: 12\r\n"
    "\r\n"
    "Hello, this is the body.\r\nMake money fast.\r\n";

// Compiles (the test fails if it does not) and runs.
inline Outcome run_script(std::string_view script, const Message& m, const Context& ctx = {},
                          const Limits& limits = {}) {
  auto c = compile(script, limits);
  EXPECT_FALSE(c.error) << (c.error ? c.error->to_string() : "");
  if (!c.script) {
    Outcome o;
    o.runtime_error = "did not compile";
    return o;
  }
  return run(*c.script, m, ctx, limits);
}

inline Outcome run_script(std::string_view script, std::string_view raw = kSimpleMessage,
                          const Context& ctx = {}) {
  FakeMessage m(raw);
  return run_script(script, m, ctx, Limits{});
}

// "line:column: message" of a script that must not compile, "" if it compiles.
inline std::string compile_error(std::string_view script, const Limits& limits = {}) {
  auto c = compile(script, limits);
  if (!c.error) return "";
  EXPECT_FALSE(c.script);
  return c.error->to_string();
}

inline std::vector<std::string> mailboxes(const Outcome& o) {
  std::vector<std::string> out;
  for (const auto& f : o.fileinto) out.push_back(f.mailbox);
  return out;
}

}  // namespace refmail::sieve::test
