// smtp/errc.cpp — the "refmail.smtp" error category.
#include "smtp/errc.hpp"

#include <string>

namespace refmail::smtp {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "refmail.smtp"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::line_too_long: return "line too long";
      case errc::syntax_error: return "syntax error";
      case errc::bad_address: return "bad address syntax";
      case errc::address_too_long: return "address too long";
      case errc::utf8_not_permitted: return "non-ASCII address without SMTPUTF8";
      case errc::unknown_parameter: return "unsupported parameter";
      case errc::bad_parameter: return "bad parameter";
      case errc::bad_base64: return "invalid base64 data";
      case errc::malformed_sasl: return "malformed SASL response";
    }
    return "unknown smtp error";
  }
};

}  // namespace

const boost::system::error_category& smtp_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace refmail::smtp
