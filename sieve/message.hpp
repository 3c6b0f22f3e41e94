// sieve/message.hpp — what the interpreter reads: the message (implemented by the caller
// over its stored message) and the delivery context (time, the account's addresses,
// which mailboxes exist). No I/O happens in refmail_sieve itself: every fact comes
// through these two.
// SECURITY: everything a Message returns is untrusted input; the interpreter bounds its
// work on it by Limits::max_steps.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace refmail::sieve {

class Message {
 public:
  virtual ~Message() = default;
  // Raw field values (unfolded, not RFC 2047 decoded) of the fields named `name`
  // (ASCII case-insensitive), in order as received.
  virtual std::vector<std::string> header(std::string_view name) const = 0;
  // All fields (name, raw value) in order: the starting point of editheader's view.
  virtual std::vector<std::pair<std::string, std::string>> headers() const = 0;
  virtual std::uint64_t size() const = 0;
  virtual std::string envelope_from() const = 0;  // "" for <>
  virtual std::string envelope_to() const = 0;    // this recipient, as given in RCPT TO
  // body test (RFC 5173): the undecoded body after the header (:raw), and the decoded
  // text of the parts whose type matches one of `content_types` ("text", "text/html",
  // "" for all; :text asks for {"text"}). The caller decides how.
  virtual std::string body_raw() const = 0;
  virtual std::vector<std::string> body_text(const std::vector<std::string>& content_types) const = 0;
};

struct Context {
  std::int64_t now_unix = 0;        // currentdate, vacation Date
  int tz_offset_minutes = 0;        // the user's zone: date/currentdate without :zone
  std::vector<std::string> user_addresses;  // the account's addresses (vacation)
  // mailboxexists (RFC 5490) and fileinto without :create; empty function: none exists
  // for mailboxexists, and fileinto is not checked.
  std::function<bool(std::string_view mailbox)> mailbox_exists;
};

}  // namespace refmail::sieve
