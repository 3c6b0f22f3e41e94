// mime/address.hpp — RFC 5322 3.4 address lists (From, To, Cc, Reply-To, ...):
// mailboxes, groups (flattened), display names (RFC 2047 decoded), comments, quoted
// local parts, obsolete routes; SMTPUTF8 (RFC 6532) UTF-8 allowed. And formatting of
// addresses for the composer.
// Lenient, as mail readers must be; bounded: at most `max_addresses` results.
// SECURITY: untrusted input; decoded display names may contain any Unicode: format
// them back with format_address(), never paste them into a header.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace refmail::mime {

struct Address {
  std::string name;   // display name, UTF-8, empty if none
  std::string email;  // addr-spec as written ("local@domain", quoted local part kept
                      // quoted); may lack '@' for malformed input; never empty

  friend bool operator==(const Address&, const Address&) = default;
};

inline constexpr std::size_t kMaxAddresses = 1000;

// Parses an address-list field body (folded or not). Group names are dropped and
// their members returned in order; empty groups give nothing. Entries without any
// address are skipped. Old style "a@b (Full Name)" takes the comment as the name.
[[nodiscard]] std::vector<Address> parse_address_list(std::string_view field_body,
                                                      std::size_t max_addresses = kMaxAddresses);

// "Name <local@domain>" with the name as an atom sequence, a quoted string or RFC 2047
// encoded-words as needed; just "local@domain" if there is no name. 7-bit output
// unless the address itself is UTF-8 (SMTPUTF8). `first_line_used` as in
// encode_rfc2047().
[[nodiscard]] std::string format_address(const Address& address, std::size_t first_line_used = 0);

// Comma-separated, folded with CRLF SP between addresses so lines stay <= 78 where
// possible.
[[nodiscard]] std::string format_address_list(const std::vector<Address>& addresses,
                                              std::size_t first_line_used = 0);

}  // namespace refmail::mime
