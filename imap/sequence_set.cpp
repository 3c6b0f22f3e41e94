// imap/sequence_set.cpp — see sequence_set.hpp. RFC 9051 9: seq-number = nz-number / "*",
// seq-range = seq-number ":" seq-number (either order), nz-number = digit-nz *DIGIT.
#include "imap/sequence_set.hpp"

#include <algorithm>

namespace refmail::imap {
namespace {

// One seq-number at s[i]; 0 for "*"; nullopt when malformed or out of range.
bool seq_number(std::string_view s, std::size_t& i, std::uint32_t& out) {
  if (i < s.size() && s[i] == '*') {
    ++i;
    out = SeqRange::kStar;
    return true;
  }
  if (i >= s.size() || s[i] < '1' || s[i] > '9') return false;
  std::uint64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
    if (v > 0xffffffffull) return false;
    ++i;
  }
  out = static_cast<std::uint32_t>(v);
  return true;
}

std::string number(std::uint32_t n) { return n == SeqRange::kStar ? std::string("*") : std::to_string(n); }

}  // namespace

bool SequenceSet::contains(std::uint32_t n, std::uint32_t largest) const {
  for (const auto& r : ranges) {
    std::uint32_t a = r.first == SeqRange::kStar ? largest : r.first;
    std::uint32_t b = r.last == SeqRange::kStar ? largest : r.last;
    if (a > b) std::swap(a, b);
    if (n >= a && n <= b) return true;
  }
  return false;
}

boost::system::result<SequenceSet> parse_sequence_set(std::string_view s, std::size_t max_ranges) {
  SequenceSet set;
  if (s == "$") {
    set.saved = true;
    return set;
  }
  std::size_t i = 0;
  for (;;) {
    if (set.ranges.size() >= max_ranges) return errc::too_many_items;
    SeqRange r;
    if (!seq_number(s, i, r.first)) return errc::bad_sequence_set;
    r.last = r.first;
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!seq_number(s, i, r.last)) return errc::bad_sequence_set;
      // "4:2" is "2:4" (RFC 9051 9); "*" stays where it was written.
      if (r.first != SeqRange::kStar && r.last != SeqRange::kStar && r.first > r.last) std::swap(r.first, r.last);
    }
    set.ranges.push_back(r);
    if (i == s.size()) return set;
    if (s[i] != ',') return errc::bad_sequence_set;
    ++i;
  }
}

std::string format_sequence_set(const SequenceSet& s) {
  if (s.saved) return "$";
  std::string o;
  for (const auto& r : s.ranges) {
    if (!o.empty()) o.push_back(',');
    o += number(r.first);
    if (r.last != r.first) o += ":" + number(r.last);
  }
  return o;
}

}  // namespace refmail::imap
