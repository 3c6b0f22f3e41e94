// storage/errors.hpp — the store's expected failures as error codes (storage::errc,
// registered as a boost::system error category) plus a one-line, human-readable detail
// for the last failure of the calling thread (names the path, account or blob involved).
// Never throws; RocksDB statuses are mapped here and never leave storage/.
// SECURITY: details may name accounts and paths; they are for operators' logs and CLI
// output, not for remote peers (an SMTP client gets a generic 4xx/5xx).
#pragma once
#include <string>

#include <boost/system/error_code.hpp>

namespace refmail::storage {

enum class errc {
  ok = 0,
  locked,             // the data folder is held by another process or another Store
  io_error,           // an I/O error from the disk or RocksDB
  corrupt,            // on-disk data does not decode or RocksDB reports corruption
  not_found,          // unknown blob, message, mailbox, account, domain, alias, row
  exists,             // the domain, user, alias or mailbox already exists
  quota_exceeded,     // a recipient account would go over its quota
  no_space,           // the disk is full
  permission_denied,  // the data folder cannot be read or written
  invalid_argument,   // a malformed name, address, id or option
  not_local_domain,   // the address's domain is not hosted here
  not_empty,          // a domain still has users or aliases; a mailbox cannot be removed
  bad_password,       // a password did not verify
  busy,               // the operation conflicts with another one in progress
  expired,            // a change-log state older than the log keeps (JMAP cannotCalculateChanges)
  modified,           // the row changed after the caller's modseq (IMAP UNCHANGEDSINCE)
  too_large,          // a value over its configured size (a Sieve script: QUOTA/MAXSIZE)
  in_use,             // the active Sieve script cannot be deleted (RFC 5804 ACTIVE)
};

[[nodiscard]] const boost::system::error_category& storage_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), storage_category()};
}

// A one-line description of `ec`: the detail recorded by the store for the calling
// thread's most recent failure when it is this same code (e.g. "store /x/data is
// locked by another process (is refmaild running?)"), else ec.message().
[[nodiscard]] std::string error_detail(const boost::system::error_code& ec);

}  // namespace refmail::storage

template <>
struct boost::system::is_error_code_enum<refmail::storage::errc> : std::true_type {};
