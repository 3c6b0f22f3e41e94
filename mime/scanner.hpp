// mime/scanner.hpp — streaming MIME push-parser (RFC 5322 header blocks, RFC 2045
// Content-* fields, RFC 2046 5.1 multipart delimiters, RFC 2046 5.2.1 message/rfc822).
// Fed chunks of any size, it reports every entity (headers, content type, exact byte
// ranges) and passes every input byte on exactly once, in order, classified as part
// body or structure. It never drops, never rejects and never throws on malformed input:
// past a Limits bound the rest is opaque body of the current part.
// SECURITY: untrusted input; memory is bounded by Limits (header block) and
// kMaxDelimiterLineBytes (held-back delimiter candidate), never by body size.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mime/limits.hpp"

namespace refmail::mime {

// [begin, end) byte offsets into the message as fed.
struct ByteRange {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  [[nodiscard]] std::uint64_t size() const noexcept { return end - begin; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

struct HeaderField {
  std::string name;       // as written (case kept)
  std::string raw_value;  // bytes after ':' up to the field's final line ending, folds kept
  std::string value;      // unfolded (RFC 5322 2.2.3: CRLF/LF before WSP removed), trimmed
  ByteRange range;        // the whole field including its final line ending
};

// A Content-Type / Content-Disposition parameter as written: name lower-cased (RFC 2231
// forms such as "filename*0*" kept verbatim), value with quotes and backslash-escapes
// removed, no RFC 2231/2047 decoding (see mime/rfc2231.hpp for that).
struct Param {
  std::string name;
  std::string value;
};

enum class TransferEncoding : std::uint8_t {
  Identity = 0,         // absent, 7bit, 8bit, binary
  Base64 = 1,
  QuotedPrintable = 2,
  Unknown = 3,          // any other token (e.g. x-uuencode): treat bytes as opaque
};

// One entity: the top-level message, a body part of a multipart, or the message
// encapsulated by a message/rfc822 part.
struct Part {
  // IMAP section number (RFC 3501 6.4.5) of this entity's content:
  //  - the top-level message: "" if multipart, else "1" (IMAP's part 1 = its body);
  //  - the i-th body part of a multipart with path P: P.i (or "i" when P is "");
  //  - the message inside a message/rfc822 part with path R: R if that message is
  //    multipart (its parts are R.1, R.2, ...), else R.1.
  // Leaf paths are unique within a message; a multipart encapsulated message shares
  // its path with the message/rfc822 part that carries it.
  std::string path;
  std::size_t index = 0;                  // position in pre-order (0 = top-level)
  std::ptrdiff_t parent = -1;             // index of the enclosing entity, -1 for top
  std::size_t depth = 0;                  // top-level = 0
  std::vector<std::size_t> children;      // filled by scan_message() only

  ByteRange header;  // header block including the empty line that ends it (if any)
  ByteRange body;    // encoded body; excludes the line ending that precedes the next
                     // delimiter (RFC 2046 5.1.1: it belongs to the delimiter)

  std::vector<HeaderField> fields;
  bool has_content_type = false;
  std::string type = "text";      // lower-cased; defaults per RFC 2045 5.2 / RFC 2046 5.1.5
  std::string subtype = "plain";  // lower-cased
  std::vector<Param> type_params;
  std::string transfer_encoding;  // lower-cased token, "" if absent
  TransferEncoding encoding = TransferEncoding::Identity;
  std::string disposition;        // lower-cased token, "" if absent
  std::vector<Param> disposition_params;

  bool is_multipart = false;      // multipart with a usable boundary, parsed as such
  bool is_message = false;        // message/rfc822 (or global) whose content was parsed
  std::string boundary;           // for multiparts
  bool limited = false;           // a Limits bound made (part of) this entity opaque
  bool closed = false;            // multipart: its close delimiter was seen

  // First field with this name (ASCII case-insensitive), or nullptr.
  [[nodiscard]] const HeaderField* field(std::string_view name) const noexcept;
  // Content-Type parameter (name lower-case, exact), or nullptr.
  [[nodiscard]] const std::string* type_param(std::string_view name) const noexcept;
  [[nodiscard]] const std::string* disposition_param(std::string_view name) const noexcept;
  // Has a filename/name parameter in any form (plain, RFC 2231 extended/continued).
  [[nodiscard]] bool has_file_name() const noexcept;
  [[nodiscard]] bool is_leaf() const noexcept { return !is_multipart && !is_message; }
};

// How a run of input bytes relates to the entity structure.
enum class ByteKind : std::uint8_t {
  Structure = 0,  // header blocks, delimiters, preambles, epilogues
  Body = 1,       // body of the current leaf part (between on_part_begin/on_part_end)
};

class ScanHandler {
 public:
  virtual ~ScanHandler() = default;
  // The header block of `part` is complete. part.body.begin is known, body.end is not.
  // The reference is valid only during the call.
  virtual void on_part_begin(const Part& part) = 0;
  // Consecutive input bytes. Over a whole scan, the concatenation of all calls equals
  // the input. Body runs arrive between on_part_begin and on_part_end of a leaf part.
  // `offset` is the position of bytes[0] in the input. The view is valid only during
  // the call.
  virtual void on_bytes(std::uint64_t offset, std::string_view bytes, ByteKind kind) = 0;
  // part.body.end is final. Called deepest first.
  virtual void on_part_end(const Part& part) = 0;
};

// The push-parser. Not copyable; cheap to construct.
class Scanner {
 public:
  // `handler` must outlive the Scanner.
  Scanner(const Limits& limits, ScanHandler& handler);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Any chunk size, including 0. REQUIRES: finish() not yet called.
  void feed(std::string_view chunk);
  // End of input: flushes held-back bytes and ends every open entity.
  void finish();

  [[nodiscard]] std::uint64_t bytes_fed() const noexcept;
  // Largest number of input bytes the scanner held back at once (bounded by
  // max_header_bytes + kMaxDelimiterLineBytes + a chunk).
  [[nodiscard]] std::size_t max_held_bytes() const noexcept;
  [[nodiscard]] std::size_t part_count() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whole-message convenience: every entity in pre-order with parent/children links
// (index 0 = the top-level message).
[[nodiscard]] std::vector<Part> scan_message(std::string_view message,
                                             const Limits& limits = {});

}  // namespace refmail::mime
