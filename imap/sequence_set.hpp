// imap/sequence_set.hpp — IMAP sequence sets (RFC 9051 9 `sequence-set`, RFC 5182 `$`):
// "1:4,7,9:*" as compact ranges, parsed strictly and printed back.
// Must never: expand a range ("1:4000000000" stays one range), accept 0, a leading
// zero or a number >= 2^32, or more ranges than the caller's bound.
// SECURITY: client input; the parse is linear in the text and allocates one range per
// comma at most, and at most max_ranges of them.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "imap/errc.hpp"

namespace refmail::imap {

// One range as written, with first <= last when both are numbers. kStar stands for
// "*" (the largest number in use): 0 is never a valid seq-number, so it is free.
struct SeqRange {
  static constexpr std::uint32_t kStar = 0;
  std::uint32_t first = 1;
  std::uint32_t last = 1;  // == first for a single number
  friend bool operator==(const SeqRange&, const SeqRange&) = default;
};

struct SequenceSet {
  std::vector<SeqRange> ranges;  // empty when saved
  bool saved = false;            // "$": the result of the last SEARCH ... RETURN (SAVE)
  friend bool operator==(const SequenceSet&, const SequenceSet&) = default;
  // Whether `n` is in the set when "*" means `largest`. REQUIRES: !saved.
  [[nodiscard]] bool contains(std::uint32_t n, std::uint32_t largest) const;
};

// errc::bad_sequence_set when malformed; errc::too_many_items over max_ranges.
[[nodiscard]] boost::system::result<SequenceSet> parse_sequence_set(std::string_view s, std::size_t max_ranges);
// The wire form: "1:4,7,9:*" or "$". parse(format(s)) == s for every parsed s.
[[nodiscard]] std::string format_sequence_set(const SequenceSet& s);

}  // namespace refmail::imap
