// tools/sendmail/message.hpp — the message refmail-sendmail submits: sendmail input
// (stdin, "." ends it unless -i; CRLF normalised; -t recipients from To/Cc/Bcc; Bcc
// removed; missing From/Date/Message-ID added as RFC 6409 8 lets a submitter do), or a
// notification built from flags with the MIME composer (attachments joined from an
// in-memory BlobSource). Pure apart from read_file().
// SECURITY: every recipient must be a valid RFC 5321 forward-path with '@'; a Bcc
// field never leaves (RFC 5322 3.6.3); header values built here are encoded by the
// composer or validated (no CR/LF injection through -F or --subject).
#pragma once
#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/address.hpp"
#include "tools/sendmail/args.hpp"
#include "tools/sendmail/failure.hpp"

namespace refmail::sendmail {

inline constexpr std::size_t kMaxMessageBytes = 64u << 20;  // larger input is refused

// Reads the message from `in`: LF or CRLF lines, converted to CRLF; without
// `ignore_dots` a line holding only "." ends the input (classic sendmail). Failure:
// EX_DATAERR when larger than kMaxMessageBytes, EX_IOERR on a read error.
[[nodiscard]] Result<std::string> read_sendmail_input(std::istream& in, bool ignore_dots);

struct Prepared {
  std::string bytes;                // CRLF message as submitted
  std::vector<std::string> rcpts;   // envelope recipients, addr-specs, no duplicates
};

struct HeaderDefaults {
  std::string envelope_from;   // addr-spec for a generated From:
  std::string full_name;       // -F
  std::int64_t now = 0;        // epoch seconds, for a generated Date:
  std::string message_id;      // without <>, for a generated Message-ID:
};

// Applies sendmail semantics to `crlf_message` (from read_sendmail_input): strips a
// leading mbox "From " line, collects To/Cc/Bcc recipients when `extract` (-t), removes
// Bcc fields, adds From/Date/Message-ID when missing, and validates the recipients
// (operands + extracted). Failure (EX_DATAERR): -t and no header, no recipients, a
// recipient without '@' or not a valid address.
[[nodiscard]] Result<Prepared> prepare_sendmail_message(std::string crlf_message, bool extract,
                                                        const std::vector<std::string>& operands,
                                                        const HeaderDefaults& defaults);

// Splits operands/--to values ("a@x, B <b@y>") into addr-specs and validates each.
[[nodiscard]] Result<std::vector<std::string>> parse_recipients(const std::vector<std::string>& lists);
// The same, keeping display names (for headers the composer writes).
[[nodiscard]] Result<std::vector<mime::Address>> parse_mailboxes(const std::vector<std::string>& lists);

// Checks one addr-spec the way RCPT TO will carry it. Failure: EX_DATAERR.
[[nodiscard]] Result<void> check_address(std::string_view addr, std::string_view what);

struct Notification {
  std::string from;                 // addr-spec (envelope and From:)
  std::string from_name;
  std::vector<mime::Address> to, cc, bcc;  // validated (parse_mailboxes)
  std::string subject;              // UTF-8
  std::optional<std::string> text_body;  // UTF-8; none: HTML only
  std::optional<std::string> html_body;
  struct File {
    std::string name;               // UTF-8 file name as shown
    std::string type;               // media type
    std::string bytes;
  };
  std::vector<File> attachments;
  std::int64_t now = 0;
  std::uint64_t random = 0;
};

// Composes and joins the notification (mime::compose + mime::join_all).
// Failure: EX_DATAERR (the composer refused a value), EX_SOFTWARE.
[[nodiscard]] Result<std::string> build_notification(const Notification& n);

// A media type from a file name's extension (application/octet-stream when unknown).
[[nodiscard]] std::string guess_media_type(std::string_view file_name);

// Reads a whole file. Failure: EX_NOINPUT, naming the file.
[[nodiscard]] Result<std::string> read_file(const std::string& path, std::string_view what);

// A fresh Message-ID (without <>) for `domain`, from OpenSSL's random generator.
[[nodiscard]] std::string make_message_id(std::string_view domain);
// 64 random bits from OpenSSL's generator.
[[nodiscard]] std::uint64_t random_u64();

}  // namespace refmail::sendmail
