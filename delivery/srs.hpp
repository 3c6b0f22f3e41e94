// delivery/srs.hpp — the Sender Rewriting Scheme, as libsrs2 and postsrsd write it: mail
// that refmail forwards to another domain (an alias with a foreign target) leaves with an
// envelope sender at refmail's own domain, so SPF holds at the next hop, and a bounce to
// that address finds its way back to the original sender.
//   SRS0=<hash>=<time>=<domain>=<local>@<our domain>        (first forward)
//   SRS1=<hash>=<first forwarder>==<hash>=<time>=<domain>=<local>@<our domain>
// <time> is the day number mod 1024 in two base32 characters; <hash> the first 4
// characters of base64(HMAC-SHA1(secret, lower-cased fields)), compared without case.
// SECURITY: reverse() is the only way mail reaches a foreign address without an
// authenticated sender; it accepts only addresses this secret signed, within max_age.
#pragma once
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace refmail::delivery {

class Srs {
 public:
  // `secret`: at least 16 bytes; `domain`: ours, where rewritten senders live.
  Srs(std::string secret, std::string domain, unsigned max_age_days = 21)
      : secret_(std::move(secret)), domain_(std::move(domain)), max_age_days_(max_age_days) {}

  // The envelope sender for forwarding mail from `sender` ("local@domain"). An SRS0 or
  // SRS1 address of another forwarder becomes SRS1 (the first forwarder is kept); an
  // address without '@' is returned as is.
  [[nodiscard]] std::string forward(std::string_view sender, std::time_t now) const;
  // `local_part` of an address at one of our domains: nullopt when it is not SRS, its
  // hash is wrong, or (SRS0) its time is older than max_age or in the future; else where
  // mail to it goes (SRS0: the original sender; SRS1: the first forwarder's SRS0 address).
  [[nodiscard]] std::optional<std::string> reverse(std::string_view local_part, std::time_t now) const;
  // True when `local_part` starts with SRS0= or SRS1= (any case): to be decided by reverse().
  [[nodiscard]] static bool looks_like_srs(std::string_view local_part);

  [[nodiscard]] const std::string& domain() const noexcept { return domain_; }

 private:
  [[nodiscard]] std::string hash(std::string_view a, std::string_view b, std::string_view c = {}) const;

  std::string secret_;
  std::string domain_;
  unsigned max_age_days_;
};

}  // namespace refmail::delivery
