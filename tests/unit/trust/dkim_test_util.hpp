// tests/unit/trust/dkim_test_util.hpp — a KeyLookup over a map (the DNS, in memory),
// and file reading for the DKIM tests.
#pragma once
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "trust/dkim.hpp"

namespace refmail::trust::dkim::test {

class MapLookup final : public KeyLookup {
 public:
  std::map<std::string, std::vector<std::string>> records;
  bool temperror = false;
  int queries = 0;
  KeyAnswer txt(std::string_view qname) override {
    ++queries;
    KeyAnswer a;
    if (temperror) {
      a.status = KeyAnswer::Status::TempError;
      return a;
    }
    auto it = records.find(std::string(qname));
    if (it == records.end()) return a;  // NxDomain
    a.status = KeyAnswer::Status::Found;
    a.records = it->second;
    return a;
  }
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string lf_to_crlf(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  return out;
}

}  // namespace refmail::trust::dkim::test
