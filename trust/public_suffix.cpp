// trust/public_suffix.cpp — see public_suffix.hpp; the algorithm of
// https://publicsuffix.org/list/ ("Formal algorithm").
#include "trust/public_suffix.hpp"

#include <cctype>
#include <vector>

namespace refmail::trust {
namespace {

std::string normalize(std::string_view d) {
  std::string out(d);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

}  // namespace

PublicSuffixList PublicSuffixList::parse(std::string_view text) {
  PublicSuffixList psl;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    // A rule is the first word of its line; "//" starts a comment.
    auto b = line.find_first_not_of(" \t\r");
    if (b == std::string_view::npos) continue;
    line.remove_prefix(b);
    line = line.substr(0, line.find_first_of(" \t\r"));
    if (line.empty() || line.substr(0, 2) == "//") continue;
    if (line[0] == '!') {
      psl.exceptions_.insert(normalize(line.substr(1)));
    } else if (line.substr(0, 2) == "*.") {
      psl.wildcards_.insert(normalize(line.substr(2)));
    } else if (line != "*") {
      psl.rules_.insert(normalize(line));
    }
  }
  return psl;
}

std::string PublicSuffixList::public_suffix(std::string_view domain) const {
  const std::string d = normalize(domain);
  if (d.empty()) return {};
  // Label start offsets, left to right: suffix k is d.substr(starts[k]).
  std::vector<std::size_t> starts{0};
  for (std::size_t i = 0; i < d.size(); ++i)
    if (d[i] == '.') starts.push_back(i + 1);
  std::size_t best = starts.back();  // implicit "*": the last label
  std::size_t best_labels = 1;
  for (std::size_t k = 0; k < starts.size(); ++k) {
    const std::string_view suffix = std::string_view(d).substr(starts[k]);
    const std::size_t labels = starts.size() - k;
    // An exception rule prevails: its suffix is the rule minus its leftmost label.
    if (exceptions_.count(std::string(suffix))) return k + 1 < starts.size() ? d.substr(starts[k + 1]) : d;
    if (labels > best_labels && rules_.count(std::string(suffix))) {
      best = starts[k];
      best_labels = labels;
    }
    // "*.b" matches "x.b": the suffix minus its first label is a wildcard parent.
    if (labels > best_labels && k + 1 < starts.size() &&
        wildcards_.count(std::string(std::string_view(d).substr(starts[k + 1])))) {
      best = starts[k];
      best_labels = labels;
    }
  }
  return d.substr(best);
}

std::string PublicSuffixList::organizational_domain(std::string_view domain) const {
  const std::string d = normalize(domain);
  const std::string suffix = public_suffix(d);
  if (suffix.size() >= d.size()) return d;  // the domain is a public suffix itself
  // One more label to the left of the suffix.
  const std::string rest = d.substr(0, d.size() - suffix.size() - 1);  // without the dot
  const auto dot = rest.rfind('.');
  return (dot == std::string::npos ? rest : rest.substr(dot + 1)) + "." + suffix;
}

}  // namespace refmail::trust
