// sieve/outcome.hpp — what one run of a script decided: the actions for the caller to
// perform (RFC 5228 4, and the extensions' actions). The interpreter performs none.
// SECURITY: strings here may come from the message (through variables): the caller
// must treat mailbox names, addresses and header values as untrusted.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace refmail::sieve {

struct FileInto {
  std::string mailbox;             // UTF-8 (RFC 5228 4.1), as the script names it
  std::vector<std::string> flags;  // imap4flags (RFC 5232): :flags or the internal variable
  bool create = false;             // :create (RFC 5490)
};

struct Redirect {
  std::string address;  // a mailbox address (RFC 5228 4.2), checked for shape at compile/run
  bool copy = false;    // :copy (RFC 3894): did not cancel the implicit keep
};

struct Vacation {
  std::string handle;                // :handle, "" if none (vacation_key derives one)
  std::int64_t period_seconds = 0;   // :days * 86400 or :seconds (RFC 5230, RFC 6131)
  std::string subject;               // :subject, "" if none
  std::string from;                  // :from, "" if none
  std::string reason;                // the reply body (or a MIME entity with :mime)
  bool mime = false;
  std::vector<std::string> addresses;  // :addresses
};

// editheader (RFC 5293). add: insert `name: value` at the top of the header (or at the
// bottom with last). remove: delete the occurrence number `index` (1-based, counted
// among the fields named `name` in the header as it stands after the previous edits)
// whose raw value is `value`. Edits are to be applied in order.
struct HeaderEdit {
  enum Kind { add, remove } kind = add;
  std::string name;
  std::string value;
  bool last = false;
  std::size_t index = 0;
};

struct Outcome {
  bool keep = true;                     // implicit or explicit keep (into INBOX) in effect
  std::vector<std::string> keep_flags;  // flags for the kept copy
  std::vector<FileInto> fileinto;       // one per distinct mailbox
  std::vector<Redirect> redirects;      // one per distinct address
  std::optional<std::string> reject;    // reject/ereject reason (RFC 5429)
  bool ereject = false;
  bool discard = false;                 // discard ran (informational: keep is false)
  std::optional<Vacation> vacation;
  std::vector<HeaderEdit> header_edits;
  // RFC 5228 2.10.6: on a run-time error every action is dropped and the implicit keep
  // (keep = true, keep_flags empty) is all that remains.
  std::optional<std::string> runtime_error;
  std::size_t steps = 0;
};

}  // namespace refmail::sieve
