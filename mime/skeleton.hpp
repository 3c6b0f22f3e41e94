// mime/skeleton.hpp — a message with its attachment bodies cut out: the remaining
// bytes plus, per cut, where the encoded text goes, which blob holds its decoded bytes
// and the encoding parameters that regenerate the exact text (joiner.hpp).
// Serialized form (versioned, length-checked) is what the store keeps.
// SECURITY: parse() is total on untrusted/corrupt bytes: errors, never UB or throws;
// sizes are validated before any allocation.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "mime/codec.hpp"

namespace refmail::mime {

enum class CutEncoding : std::uint8_t {
  Identity = 0,         // 7bit/8bit/binary: the encoded text is the decoded bytes
  Base64 = 1,           // base64_encode(decoded, {line_length, line_ending, last_line_ending})
  QuotedPrintable = 2,  // qp_encode(decoded, {line_ending, line_length})
};

struct Cut {
  std::uint64_t offset = 0;   // position in Skeleton::bytes where the encoded text goes
  std::string blob_id;        // BlobSink/BlobSource id (blob_io.hpp), non-empty
  CutEncoding encoding = CutEncoding::Identity;
  std::uint32_t line_length = 76;   // base64: chars/line (multiple of 4, 0 = unwrapped);
                                    // qp: max encoded line length
  LineEnding line_ending = LineEnding::Crlf;
  bool last_line_ending = true;     // base64 only: last line also ends with line_ending
  std::uint64_t decoded_size = 0;   // bytes in the blob
  std::uint64_t encoded_size = 0;   // bytes this cut contributes to the joined message
  std::string part_path;            // Part::path of the leaf whose body this is
  // True when the cut holds only a prefix of the part's body (a late re-encoding
  // mismatch on a body too large to hold back, see splitter.hpp); its blob is then NOT
  // the attachment's content and part_path is "". Summaries must ignore such cuts.
  bool partial = false;

  friend bool operator==(const Cut&, const Cut&) = default;
};

struct Skeleton {
  std::string bytes;        // the message with every cut's encoded text removed
  std::vector<Cut> cuts;    // ordered by offset (equal offsets keep their order)

  // Size of the joined message: bytes.size() + sum of encoded_size. No blob access.
  [[nodiscard]] std::uint64_t joined_size() const noexcept;
  // Distinct blob ids, in first-use order.
  [[nodiscard]] std::vector<std::string> blob_ids() const;
  // The cut whose part_path is `path` (non-partial), or nullptr.
  [[nodiscard]] const Cut* cut_for_part(std::string_view path) const noexcept;

  // Compact binary form: magic "RMSK", version, lengths, fields (little endian varints).
  [[nodiscard]] std::string serialize() const;
  // Inverse of serialize(); errc::skeleton_* on anything not produced by serialize().
  [[nodiscard]] static boost::system::result<Skeleton> parse(std::string_view data);

  friend bool operator==(const Skeleton&, const Skeleton&) = default;
};

// Builds a skeleton piece by piece (used by the splitter and by the composer to write
// a message whose attachments are placeholders).
class SkeletonBuilder {
 public:
  // Literal message bytes, in order.
  void append_literal(std::string_view bytes);
  // A placeholder for an encoded body at the current position. The builder sets
  // cut.offset; if cut.encoded_size == 0 and cut.decoded_size > 0 it computes it for
  // Identity/Base64 (QuotedPrintable callers must give encoded_size).
  // REQUIRES: non-empty blob_id; base64 line_length % 4 == 0.
  void append_cut(Cut cut);
  // Current length of the skeleton bytes / joined output so far.
  [[nodiscard]] std::uint64_t skeleton_size() const noexcept { return skel_.bytes.size(); }
  [[nodiscard]] std::uint64_t joined_size() const noexcept {
    return skel_.bytes.size() + cut_bytes_;
  }
  // Returns the skeleton; the builder is empty afterwards.
  [[nodiscard]] Skeleton finish();

 private:
  Skeleton skel_;
  std::uint64_t cut_bytes_ = 0;
};

}  // namespace refmail::mime
