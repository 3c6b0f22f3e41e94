// trust/dkim_errc.cpp — the "refmail.dkim" error category (see dkim_errc.hpp).
#include "trust/dkim_errc.hpp"

#include <string>

namespace refmail::trust::dkim {
namespace {

class DkimCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "refmail.dkim"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "success";
      case errc::syntax: return "tag-list syntax error";
      case errc::duplicate_tag: return "duplicate tag";
      case errc::missing_tag: return "required tag missing";
      case errc::bad_value: return "invalid tag value";
      case errc::unsupported: return "unsupported algorithm, canonicalization or key type";
      case errc::too_large: return "limit exceeded";
      case errc::bad_key: return "not a usable key";
      case errc::key_too_small: return "key too small";
      case errc::crypto: return "cryptographic operation failed";
      case errc::bad_argument: return "invalid argument";
    }
    return "unknown refmail.dkim error";
  }
};

}  // namespace

const boost::system::error_category& dkim_category() noexcept {
  static const DkimCategory category;
  return category;
}

}  // namespace refmail::trust::dkim
