// server/dns_internal.hpp — the c-ares plumbing shared by the relay's MX routing
// (dns.cpp) and the mail authentication lookups (dns_lookup.cpp): one private channel
// driven to completion with poll(2) on the calling thread, and the answer section of a
// raw DNS message read record by record. Blocking: never on the io_context thread.
// SECURITY: answers are untrusted bytes; the reader checks every length against the
// message and expands names with c-ares' bounded ares_expand_name.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "server/dns.hpp"

struct ares_channeldata;

namespace refmail::server::dns_detail {

enum class Answer { Ok, NoData, NxDomain, TempFail };

struct Query {
  int status = 0;      // an ARES_* status; ARES_ETIMEOUT until answered
  std::string answer;  // raw DNS message
  bool done = false;
};

class Channel {
 public:
  explicit Channel(const DnsOptions& o);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }
  // One query (class IN, `type` an ns_t_* value), run to completion or c-ares' timeout.
  [[nodiscard]] Query run(const std::string& name, int type);

 private:
  ares_channeldata* ch_ = nullptr;
  bool ok_ = false;
};

// ARES_SUCCESS -> Ok, ENODATA -> NoData, ENOTFOUND -> NxDomain, anything else TempFail.
[[nodiscard]] Answer classify(int status);
[[nodiscard]] std::string why(int status);

// The RDATA of every answer record of `type` in a raw message, in order, as text:
// A/AAAA addresses, MX "<pref> <host>", PTR/CNAME host names (no trailing dot), TXT
// the character-strings concatenated (RFC 7208 3.3). nullopt when malformed.
// At most `max_records` are returned.
[[nodiscard]] std::optional<std::vector<std::string>> answer_records(const std::string& message, int type,
                                                                     std::size_t max_records = 64);

}  // namespace refmail::server::dns_detail
