// tests/fuzz/fuzz_spam_reply.cpp — libFuzzer target: rspamd's reply (delivery/spam.hpp),
// which a broken or hostile rspamd writes. Input: the HTTP body. Invariants: nothing
// crashes or throws; a verdict without an error has a known action; the verdict's fields
// applied to a skeleton keep its cut where its body starts, and every line they add is
// free of bare CR/LF injection (each added line ends with CRLF and starts a field or a
// fold).
#include <cstdint>
#include <string>
#include <string_view>

#include "delivery/spam.hpp"
#include "mime/skeleton.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using namespace refmail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto v = delivery::parse_rspamd_reply(in);
  FUZZ_CHECK(v.error.empty() == (v.action != delivery::SpamAction::unchecked));
  mime::Skeleton s;
  const std::string head = "Subject: x\r\nTo: y\r\n\r\n";
  s.bytes = head + "body";
  mime::Cut c;
  c.offset = head.size();
  c.blob_id = "b";
  s.cuts.push_back(c);
  delivery::apply_spam_fields(s, v, v.action == delivery::SpamAction::add_header);
  FUZZ_CHECK(s.bytes.substr(s.cuts[0].offset) == "body");
  const auto end = s.bytes.find("\r\n\r\n");
  FUZZ_CHECK(end != std::string::npos && end + 4 == s.cuts[0].offset);
  for (std::size_t i = 0; i < end; ++i) {
    if (s.bytes[i] == '\n') FUZZ_CHECK(i > 0 && s.bytes[i - 1] == '\r');
    if (s.bytes[i] == '\r') FUZZ_CHECK(s.bytes[i + 1] == '\n');
  }
  return 0;
}
