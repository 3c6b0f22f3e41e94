// storage/fail.hpp — PRIVATE to storage/: how the store's code reports an expected
// failure (an errc plus a one-line detail for the calling thread; errors.hpp).
// Must never: throw.
#pragma once
#include <string>

#include "storage/errors.hpp"
#include "storage/store.hpp"

namespace refmail::storage {

// Records a one-line detail for the calling thread and returns the code.
boost::system::error_code fail(errc e, std::string detail);

// Converts to any result<T> as an error; needed for result<bool>, where a bare
// error_code would be ambiguous.
struct ErrorValue {
  boost::system::error_code ec;
  template <class T>
  operator result<T>() const {  // NOLINT(google-explicit-constructor)
    return result<T>(boost::system::in_place_error, ec);
  }
};
inline ErrorValue as_error(boost::system::error_code ec) { return ErrorValue{ec}; }

}  // namespace refmail::storage
