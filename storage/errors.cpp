// storage/errors.cpp — the storage error category and the per-thread failure detail.
// SECURITY: see errors.hpp; details are for operators, not remote peers.
#include "storage/errors.hpp"

#include "storage/impl.hpp"

namespace refmail::storage {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "refmail.storage"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "success";
      case errc::locked: return "store is locked by another process (is refmaild running?)";
      case errc::io_error: return "store I/O error";
      case errc::corrupt: return "store data is corrupt";
      case errc::not_found: return "not found";
      case errc::exists: return "already exists";
      case errc::quota_exceeded: return "quota exceeded";
      case errc::no_space: return "no space left on the store's disk";
      case errc::permission_denied: return "permission denied on the store's folder";
      case errc::invalid_argument: return "invalid argument";
      case errc::not_local_domain: return "domain is not local";
      case errc::not_empty: return "not empty";
      case errc::bad_password: return "wrong password";
      case errc::busy: return "busy";
      case errc::expired: return "state too old for the change log";
      case errc::modified: return "changed since the given modseq";
      case errc::too_large: return "too large";
      case errc::in_use: return "in use";
    }
    return "unknown storage error";
  }
};

thread_local boost::system::error_code t_last_code;
thread_local std::string t_last_detail;

}  // namespace

const boost::system::error_category& storage_category() noexcept {
  static const Category category;
  return category;
}

std::string error_detail(const boost::system::error_code& ec) {
  if (ec && ec == t_last_code && !t_last_detail.empty()) return t_last_detail;
  return ec.message();
}

boost::system::error_code fail(errc e, std::string detail) {
  auto ec = make_error_code(e);
  t_last_code = ec;
  t_last_detail = std::move(detail);
  return ec;
}

}  // namespace refmail::storage
