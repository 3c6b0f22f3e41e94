// mime/errc.hpp — the expected failures of the MIME module as error codes.
// Registered as a boost::system error category ("refmail.mime") so results carry them
// as values: a damaged skeleton or a missing blob is reported, never thrown.
// SECURITY: messages of this category never include message bytes or blob contents.
#pragma once
#include <boost/system/error_code.hpp>
#include <type_traits>

namespace refmail::mime {

enum class errc {
  ok = 0,
  skeleton_truncated = 1,     // serialized skeleton ends early
  skeleton_bad_magic = 2,     // not a serialized skeleton
  skeleton_bad_version = 3,   // written by an unknown format version
  skeleton_corrupt = 4,       // inconsistent fields (offsets, sizes, ids)
  blob_missing = 5,           // the BlobSource does not know a referenced blob
  blob_short = 6,             // a blob is shorter than its cut says
  blob_read_failed = 7,       // the BlobSource reported an error
  finished = 8,               // feed() after finish()
  bad_argument = 9,           // a caller broke a documented REQUIRES
  sink_failed = 10,           // BlobSink::commit failed and the part could not be kept
};

[[nodiscard]] const boost::system::error_category& mime_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), mime_category()};
}

}  // namespace refmail::mime

template <>
struct boost::system::is_error_code_enum<refmail::mime::errc> : std::true_type {};
