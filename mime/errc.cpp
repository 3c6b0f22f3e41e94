// mime/errc.cpp — the "refmail.mime" error category (see errc.hpp).
#include "mime/errc.hpp"

#include <string>

namespace refmail::mime {
namespace {

class MimeCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "refmail.mime"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "success";
      case errc::skeleton_truncated: return "skeleton data is truncated";
      case errc::skeleton_bad_magic: return "not a refmail skeleton";
      case errc::skeleton_bad_version: return "unsupported skeleton format version";
      case errc::skeleton_corrupt: return "skeleton data is inconsistent";
      case errc::blob_missing: return "referenced blob is missing";
      case errc::blob_short: return "blob is shorter than its cut";
      case errc::blob_read_failed: return "blob could not be read";
      case errc::finished: return "input after finish()";
      case errc::bad_argument: return "invalid argument";
      case errc::sink_failed: return "blob sink failed";
    }
    return "unknown refmail.mime error";
  }
};

}  // namespace

const boost::system::error_category& mime_category() noexcept {
  static const MimeCategory category;
  return category;
}

}  // namespace refmail::mime
