// mime/composer.hpp — a draft (addresses, subject, text/HTML bodies, inline images and
// attachments given by blob id) -> a Skeleton whose attachment bodies are cuts, so a
// message written in refmail is stored and delivered locally without ever encoding an
// attachment; joined (joiner.hpp) it is a correct RFC 5322 / RFC 2045-2049 message:
// CRLF, lines <= 998 (<= 78 for headers where possible), MIME-Version, Date,
// Message-ID, RFC 2047 subject/display names, RFC 2231 file names, base64 at 76 columns,
// multipart/alternative (text + HTML), multipart/related (HTML + cid images),
// multipart/mixed (attachments), boundaries that cannot occur in the content; or, for
// JMAP's bodyStructure (RFC 8621 4.6), any tree of multiparts and leaves the caller gives
// (DraftPart), with text leaves encoded here and blob leaves as cuts.
// Bcc is never written (the envelope carries it). No clocks, no randomness of its own:
// the caller passes the date and a random seed.
// SECURITY: draft fields are user input: every header value is encoded or validated
// (no CR/LF injection); blob ids are checked against blob_io.hpp's alphabet.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "mime/address.hpp"
#include "mime/skeleton.hpp"

namespace refmail::mime {

struct DraftInlineImage {
  std::string blob_id;      // decoded bytes in the blob store
  std::string cid;          // Content-ID the HTML refers to ("cid:..."), without <>
  std::string type;         // "image/png"; invalid -> application/octet-stream
  std::string name;         // file name, UTF-8 (may be empty)
  std::uint64_t size = 0;   // decoded size: must equal the blob's size
};

struct DraftAttachment {
  std::string blob_id;
  std::string name;         // file name, UTF-8
  std::string type;         // media type; invalid -> application/octet-stream
  std::uint64_t size = 0;   // decoded size: must equal the blob's size
  // Set: the attachment's bytes go into the skeleton itself (base64, 76, CRLF) and
  // blob_id is ignored, as the splitter keeps parts under its cut threshold. For small
  // parts that were never store blobs (a forwarded message's small attachment).
  std::optional<std::string> literal;
};

// Bounds on a DraftPart tree (check_draft_part).
constexpr std::size_t kMaxDraftPartDepth = 10;   // multipart nesting below the root
constexpr std::size_t kMaxDraftParts = 100;      // nodes in the whole tree

// One node of a body tree given whole by the caller (RFC 8621 4.6 bodyStructure).
// A multipart ("multipart/<sub>") has sub_parts and no content; a leaf has exactly one
// of `text` (UTF-8, written by the composer as charset=utf-8 with a transfer encoding
// it chooses), `literal` (bytes written into the skeleton as base64) or `blob_id` (a
// base64 cut referencing the blob: never copied).
struct DraftPart {
  std::string type;                   // lower-case "type/subtype"
  std::vector<DraftPart> sub_parts;   // multipart only, non-empty
  std::optional<std::string> text;    // text/* leaves only
  std::optional<std::string> literal;
  std::string blob_id;
  std::uint64_t size = 0;             // blob/literal leaves: decoded size (= the blob's)
  std::string charset;                // blob/literal leaves: charset parameter ("" none)
  std::string disposition;            // "" (no Content-Disposition) or a token
  std::string name;                   // UTF-8 file name ("" none)
  std::string cid;                    // Content-ID without <> ("" none)
  std::vector<std::string> language;  // Content-Language tags
  std::string location;               // Content-Location ("" none)
  // Further header fields: name, raw value (what follows the colon; folds only as
  // CRLF + WSP). Content-Type/-Transfer-Encoding/-Disposition/-ID/-Language/-Location
  // come from the fields above and may not be given here; nor, on the root, the fields
  // the composer writes for the message (Date, From, Subject, Message-ID...).
  std::vector<std::pair<std::string, std::string>> headers;
};

// "" if `root` can be composed, else what is wrong with it (for a JMAP SetError
// description; names the part by its position, e.g. "bodyStructure/subParts/1").
[[nodiscard]] std::string check_draft_part(const DraftPart& root);

struct Draft {
  std::vector<Address> from;      // REQUIRES: at least one
  std::vector<Address> sender;    // optional (RFC 5322 3.6.2), at most one
  std::vector<Address> reply_to;
  std::vector<Address> to, cc;
  std::vector<Address> bcc;       // never written into the message
  std::string subject;            // UTF-8
  std::optional<std::string> text_body;  // UTF-8; LF or CRLF line endings
  std::optional<std::string> html_body;  // UTF-8
  std::vector<DraftInlineImage> inline_images;  // go with html_body in multipart/related
  std::vector<DraftAttachment> attachments;
  // Set: the whole body is this tree (text_body, html_body, inline_images and
  // attachments must then be empty).
  std::optional<DraftPart> body;
  std::vector<std::string> in_reply_to;  // msg-ids without <>
  std::vector<std::string> references;
  std::int64_t date = 0;          // epoch seconds (the caller's clock)
  std::string message_id;         // without <>; empty: generated from seed + host
  std::uint64_t random_seed = 0;  // caller's randomness, for Message-ID and boundaries
  std::string host = "localhost"; // right-hand side of a generated Message-ID
};

struct Composed {
  Skeleton skeleton;        // cuts reference the draft's blob ids (base64, 76, CRLF)
  std::string message_id;   // without <>
};

// Builds the message. Errors (errc::bad_argument): no From, more than one Sender, an
// address or msg-id with control characters / angle brackets / over 900 bytes, an
// invalid blob id, a `body` that check_draft_part refuses or given together with the
// other body fields. Never throws.
[[nodiscard]] boost::system::result<Composed> compose(const Draft& draft);

}  // namespace refmail::mime
