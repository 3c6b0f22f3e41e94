// mime/summary.hpp — the reading view of a message, computed once at split time and
// kept with the skeleton so reading never reparses: decoded header fields (RFC 2047,
// RFC 5322 3.4 addresses, 3.3 date, 3.6.4 msg-ids), the text/HTML body parts chosen as
// RFC 8621 4.1.4 chooses textBody/htmlBody (decoded to UTF-8, bounded), a preview, and
// the attachment list with blob ids taken from the skeleton's cuts.
// SECURITY: untrusted input; never throws; every list and string is bounded by
// SummaryLimits; parse() is total on corrupt bytes (errors, never UB).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "mime/address.hpp"
#include "mime/blob_io.hpp"
#include "mime/limits.hpp"
#include "mime/skeleton.hpp"

namespace refmail::mime {

struct SummaryLimits {
  Limits limits;                          // scanner limits: use the splitter's, so part
                                          // paths match the skeleton's cuts
  std::size_t max_body_bytes = 256 * 1024;    // decoded UTF-8 kept per body part
  std::size_t max_total_body_bytes = 1024 * 1024;  // over all body parts
  std::size_t max_preview_chars = 256;    // code points
  std::size_t max_header_bytes = 16 * 1024;  // per decoded header value (subject...)
  std::size_t max_addresses = 1000;       // per address field
  std::size_t max_parts = 1000;           // entries in text_body/html_body/attachments
};

// One leaf part as the reading view needs it (a JMAP EmailBodyPart, RFC 8621 4.1.4).
struct PartSummary {
  std::string part_path;     // Part::path (scanner.hpp): IMAP section number
  std::string type;          // "text/plain", lower-case; application/octet-stream for
                             // a part that cannot be decoded
  std::string charset;       // declared charset, lower-case ("" if none)
  std::string disposition;   // "inline", "attachment" or "" (absent)
  std::string name;          // file name: RFC 2231 / RFC 2047 decoded, UTF-8
  std::string cid;           // Content-ID without the angle brackets
  std::string language;      // Content-Language as written ("" if absent)
  std::string location;      // Content-Location as written ("" if absent)
  std::uint64_t size = 0;    // decoded size in bytes
  std::string blob_id;       // set when the splitter cut this part's body
  // Text parts in text_body/html_body only: decoded UTF-8 content (bounded) and
  // whether it was cut short.
  std::string content;
  bool truncated = false;

  friend bool operator==(const PartSummary&, const PartSummary&) = default;
};

struct Summary {
  std::vector<Address> from, sender, reply_to, to, cc, bcc;
  std::string subject;                    // decoded, UTF-8
  std::string date_raw;                   // the Date field as written (unfolded)
  std::optional<std::int64_t> date;       // epoch seconds, if Date parses
  std::vector<std::string> message_id;    // ids without <>
  std::vector<std::string> in_reply_to;
  std::vector<std::string> references;
  std::vector<PartSummary> text_body;     // RFC 8621 textBody
  std::vector<PartSummary> html_body;     // RFC 8621 htmlBody
  std::vector<PartSummary> attachments;   // RFC 8621 attachments
  std::string preview;                    // <= max_preview_chars, whitespace collapsed
  bool has_attachment = false;
  std::uint64_t size = 0;                 // size of the whole (joined) message

  // Compact binary form: magic "RMSU", version, then the fields (length-prefixed).
  [[nodiscard]] std::string serialize() const;
  // Inverse of serialize(); errc::skeleton_corrupt/_truncated/_bad_magic/_bad_version
  // (the mime error category) on anything serialize() did not produce.
  [[nodiscard]] static boost::system::result<Summary> parse(std::string_view data);

  friend bool operator==(const Summary&, const Summary&) = default;
};

// Summarises `message`: the full received message, or the skeleton's own bytes.
// `skeleton` gives blob ids and decoded sizes of cut parts by part path; pass an empty
// Skeleton for a message that was not split. From the skeleton's bytes, `cut_bytes`
// (when given) supplies the decoded bytes of cuts: a cut text body's content (the first
// max_body_bytes only) and the prefix a partial cut holds; the result then equals the
// full message's summary. Without it a cut text body has no content (truncated).
[[nodiscard]] Summary summarize(std::string_view message, const Skeleton& skeleton,
                                const SummaryLimits& limits = {}, BlobSource* cut_bytes = nullptr);

// One entity of a message's MIME tree as RFC 8621 4.1.4 bodyStructure shows it. Leaves,
// and message/rfc822 parts (JMAP does not descend into them), carry the PartSummary
// facts without content; a multipart has is_multipart, an empty part_path and blob_id,
// and its sub_parts in message order. Sizes: decoded size for leaves, raw body size for
// multiparts (cut bodies counted by their encoded size, never read).
struct StructurePart {
  PartSummary part;
  bool is_multipart = false;
  // Header fields in order: name as written, raw value (after the colon, folds kept,
  // made valid UTF-8). Filled only when asked for.
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<StructurePart> sub_parts;
};

// The tree of `message` (the full message or the skeleton's own bytes, as summarize()
// takes them). Part paths equal the summary's. Bounded by limits.limits (depth, parts)
// and limits.max_parts nodes (the rest of a multipart's children are left out).
[[nodiscard]] StructurePart body_structure(std::string_view message, const Skeleton& skeleton,
                                           bool with_headers, const SummaryLimits& limits = {});

// Plain text from HTML for previews and search: tags removed, script/style/head
// content dropped, block elements become line breaks, entities decoded. Bounded by
// `max_bytes` of output.
[[nodiscard]] std::string html_to_text(std::string_view html, std::size_t max_bytes);

// The first `max_chars` code points of `text` with every whitespace run collapsed to
// one space, trimmed (RFC 8621 4.1.4 preview).
[[nodiscard]] std::string make_preview(std::string_view text, std::size_t max_chars);

}  // namespace refmail::mime
