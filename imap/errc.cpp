// imap/errc.cpp — the "refmail.imap" error category (see errc.hpp).
#include "imap/errc.hpp"

#include <string>

namespace refmail::imap {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "refmail.imap"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::syntax: return "malformed IMAP response or command";
      case errc::line_too_long: return "IMAP line too long";
      case errc::bad_literal: return "malformed IMAP literal";
      case errc::unsafe_argument: return "argument cannot be sent in an IMAP command";
      case errc::literal_too_large: return "IMAP literal too large";
      case errc::too_big: return "message larger than APPENDLIMIT";
      case errc::command_too_large: return "IMAP command too large";
      case errc::too_deep: return "IMAP command nested too deeply";
      case errc::too_many_items: return "too many items in an IMAP command";
      case errc::bad_mailbox_name: return "invalid IMAP mailbox name";
      case errc::bad_sequence_set: return "invalid IMAP sequence set";
      case errc::unknown_command: return "unknown IMAP command";
    }
    return "unknown IMAP error";
  }
};

}  // namespace

const boost::system::error_category& category() {
  static const Category c;
  return c;
}

}  // namespace refmail::imap
