// imap/message_view.hpp — what IMAP FETCH shows of one stored message, computed from its
// skeleton (mime/skeleton.hpp) without joining it: ENVELOPE (RFC 9051 7.5.2 / RFC 3501
// 7.4.2), BODY and BODYSTRUCTURE, where a BODY[section] (RFC 9051 6.4.5) lies in the
// joined message, BINARY[part] (RFC 3516), and RangeSource, which streams a byte range of
// the joined message to the server (FETCH BODY[...] literals) reading only the blob
// bytes the range needs.
// Must never: read a blob for ENVELOPE, BODY, BODYSTRUCTURE sizes or a section's place
// (only the line count of a cut identity/QP text part reads its blob), throw, or emit
// more than a bound of the skeleton's size.
// SECURITY: skeletons come from the store but messages from anyone: every function is
// total on corrupt skeletons (errors, never UB); header values are written as IMAP
// strings through imap/strings.hpp (quoted or literal), never pasted.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include "imap/action.hpp"
#include "imap/command.hpp"
#include "mime/blob_io.hpp"
#include "mime/joiner.hpp"
#include "mime/limits.hpp"
#include "mime/skeleton.hpp"
#include "mime/window_source.hpp"

namespace refmail::imap {

// The message view's failures (category "refmail.imap.view"). A corrupt skeleton is
// mime::errc::skeleton_corrupt; blob reads give the BlobSource's errors.
enum class view_errc {
  no_such_part = 1,  // the section's part does not exist (or n.HEADER/n.TEXT of a part
                     // that is not message/rfc822): the engine answers NO, as RFC 9051
                     // leaves it open (Dovecot answers an empty string; a NO tells the
                     // client its request was wrong)
  not_a_leaf,        // BINARY of a multipart or a parsed message/rfc822 part, or of the whole
                     // message (use BODY[] / BODY[n]: no transfer encoding applies)
  unknown_cte,       // BINARY of a part whose Content-Transfer-Encoding is not 7bit, 8bit,
                     // binary, base64 or quoted-printable: NO [UNKNOWN-CTE] (RFC 3516 4.3)
  needs_blobs,       // the answer needs blob bytes and no BlobSource was given
};

[[nodiscard]] const boost::system::error_category& view_category() noexcept;
[[nodiscard]] inline boost::system::error_code make_error_code(view_errc e) noexcept {
  return {static_cast<int>(e), view_category()};
}

struct ViewOptions {
  // Strings may be quoted UTF-8 (UTF8=ACCEPT / IMAP4rev2); otherwise 8-bit values are
  // literals. Either way the bytes are the header's bytes.
  bool utf8 = false;
  // The MIME parser's bounds: pass the ones the message was split with (delivery uses
  // config limits.mime_max_depth / mime_max_parts), so that the parts IMAP numbers are
  // the parts the splitter and the summary saw; past them the rest is opaque body.
  mime::Limits limits;
};

// The ENVELOPE of the top-level header: "(date subject from sender reply-to to cc bcc
// in-reply-to message-id)". Values as sent, unfolded (RFC 5322 2.2.3) and trimmed:
// encoded words are not decoded; NIL for an absent field; the first field of a name,
// but every From/Sender/Reply-To/To/Cc/Bcc field's addresses; the subject and display
// names with each whitespace run as one space (as Dovecot). Addresses are "(name adl
// mailbox host)" with the quoted-string name unquoted, the route as "@a,@b", a comment
// as the name when there is no phrase (as Dovecot); a group is "(NIL NIL name NIL)",
// its members, "(NIL NIL NIL NIL)" (RFC 3501 7.4.2); a missing local part or domain is
// "MISSING_MAILBOX" / "MISSING_DOMAIN" (as Dovecot: a NIL host would read as a group);
// an empty list is NIL; Sender and Reply-To default to From (RFC 3501 7.4.2). At most
// mime::kMaxAddresses addresses per field.
[[nodiscard]] std::string envelope(const mime::Skeleton& skel, ViewOptions options = {});

// BODYSTRUCTURE (`extensible`: with MD5 NIL, disposition, language, location, RFC 9051
// 7.5.2) or BODY (`extensible` false). Types, subtypes, parameter names and the
// transfer encoding are lower-case (the scanner's tokens; IMAP compares them without
// case), parameter values as sent (RFC 2231 continuations and encoded words passed
// through); a text part without a charset (nor an RFC 2231 charset*) gets "charset"
// "us-ascii" last (RFC 2045 5.2, as Dovecot); Content-Language is always a list.
// A multipart not parsed as one (no boundary) has one empty text/plain part; a
// message/rfc822 part whose content was not parsed (base64, a limit) has an all-NIL
// envelope and an empty text/plain body (RFC 9051 requires both; as Dovecot).
// Sizes are body sizes in the JOINED message (a cut counts its encoded_size); lines
// (text/*, message/rfc822) count LF bytes of the body in the joined message, from the
// skeleton bytes, and for cuts inside the body: base64 by arithmetic (line_length,
// line ending, last-line form), identity and quoted-printable by reading the cut's
// text through a Joiner from `blobs` (error needs_blobs if null). A multipart whose
// delimiters never came has one empty text/plain part (RFC 9051: 1*body).
// Deviations from Dovecot 2.3.19 (checked on the corpus): Dovecot serves and sizes bare-LF
// messages as CRLF, we size the stored bytes; Dovecot joins RFC 2231 continuations into
// one "name*" parameter, we pass each as sent; Dovecot keeps the type's case as sent.
[[nodiscard]] boost::system::result<std::string> body_structure(const mime::Skeleton& skel,
                                                                bool extensible,
                                                                mime::BlobSource* blobs = nullptr,
                                                                ViewOptions options = {});

// Where a FETCH section's bytes are: a range [offset, offset + size) of the joined
// message, or bytes made here (HEADER.FIELDS and HEADER.FIELDS.NOT: the chosen fields as
// sent, in message order, then the header's own empty line, CRLF if it has none).
struct SectionBytes {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;  // == synthesized->size() when synthesized
  std::optional<std::string> synthesized;
  friend bool operator==(const SectionBytes&, const SectionBytes&) = default;
};

// RFC 9051 6.4.5 sections: "" (whole message), HEADER, HEADER.FIELDS (..),
// HEADER.FIELDS.NOT (..), TEXT (everything after the header's empty line), n (a
// part's body: for a non-multipart message "1" is its body, for a multipart "1" is the
// first child's body; a multipart part's body holds its delimiters; a message/rfc822
// part's body is the whole encapsulated message), n.MIME (the part's header block,
// with its empty line; for the body of a non-multipart message, top-level or
// encapsulated, the header of that message), n.HEADER / n.TEXT / n.HEADER.FIELDS[.NOT]
// of a message/rfc822 part (its encapsulated message's header and body). Errors:
// view_errc::no_such_part (also for MIME with no part); skeleton_corrupt.
[[nodiscard]] boost::system::result<SectionBytes> locate_section(const mime::Skeleton& skel,
                                                                 const Section& section,
                                                                 const ViewOptions& options = {});

// The <offset.length> of a FETCH (RFC 9051 6.4.5): the sub-range, empty when offset is
// past the end.
[[nodiscard]] SectionBytes apply_partial(const SectionBytes& bytes, const Partial& partial);

// BINARY[part] (RFC 3516) of a leaf part: for a part whose body is one whole cut (base64
// with only blank text around it, identity, QP), the blob itself (`blob_id`, `size` =
// decoded_size, no decoding); for an uncut part, the decoded bytes (`decoded`, mime/
// codec.hpp's tolerant decoders); a body holding a partial cut is joined from `blobs`
// and decoded (needs_blobs if null). Errors: no_such_part, not_a_leaf, unknown_cte,
// skeleton_corrupt, the source's.
struct BinaryBytes {
  std::string blob_id;
  std::uint64_t size = 0;
  std::optional<std::string> decoded;
  friend bool operator==(const BinaryBytes&, const BinaryBytes&) = default;
};
[[nodiscard]] boost::system::result<BinaryBytes> locate_binary(const mime::Skeleton& skel,
                                                               const std::vector<std::uint32_t>& part,
                                                               mime::BlobSource* blobs = nullptr,
                                                               const ViewOptions& options = {});

// Streams [offset, offset + size) of the joined message (a FETCH literal): a Joiner
// seeked to `offset`, so only the blobs the range covers are read, and within identity
// and base64 cuts only the bytes it covers (mime/joiner.hpp seek()). Ranges of 256 KiB
// and more read blobs through a mime::WindowSource (aligned 1 MiB windows, one store
// chunk fetch each); smaller ones read the exact bytes.
// `blobs` must outlive the RangeSource (and the server's write of the literal); the
// skeleton is shared. A short or failed read means the connection must close
// (LiteralSource's contract).
class RangeSource final : public LiteralSource {
 public:
  static constexpr std::uint64_t kWindowFrom = 256 * 1024;
  // REQUIRES: skel non-null. A range past the end is cut at the end (size() tells).
  RangeSource(std::shared_ptr<const mime::Skeleton> skel, mime::BlobSource& blobs,
              std::uint64_t offset, std::uint64_t size);
  [[nodiscard]] boost::system::result<std::size_t> read(std::span<char> out) override;
  // Bytes this source will produce: the range, cut at the joined message's end.
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

 private:
  std::shared_ptr<const mime::Skeleton> skel_;
  std::unique_ptr<mime::WindowSource> window_;  // null for small ranges
  mime::Joiner joiner_;
  std::uint64_t offset_;
  std::uint64_t size_;
  bool started_ = false;
};

}  // namespace refmail::imap

template <>
struct boost::system::is_error_code_enum<refmail::imap::view_errc> : std::true_type {};
