// mime/splitter.hpp — raw message -> Skeleton + decoded attachment blobs, streaming.
// A leaf part is a candidate when its encoded body is >= min_cut_bytes and it is an
// attachment (Content-Disposition: attachment, or a name/filename parameter) or inline
// non-text content (not text/*, multipart/*, message/*). Its body is decoded while it
// streams in and handed to the BlobSink; it is cut out of the skeleton ONLY if the
// canonical encoder (codec.hpp) with the parameters detected from the received text
// reproduces that text exactly (the lossless rule: join(split(m)) == m for every m).
// Trailing blank lines/whitespace after base64 data stay in the skeleton as literal.
// SECURITY: untrusted input; memory is bounded by SplitParams::max_held_body_bytes plus
// the scanner's bounds, never by attachment size; no exceptions escape.
#pragma once
#include <cstdint>
#include <memory>
#include <string_view>

#include <boost/system/result.hpp>

#include "mime/blob_io.hpp"
#include "mime/limits.hpp"
#include "mime/skeleton.hpp"

namespace refmail::mime {

struct SplitParams {
  Limits limits;
  // Smallest encoded body worth cutting.
  std::uint64_t min_cut_bytes = 2048;
  // Encoded bytes of a candidate kept back so that a re-encoding mismatch can leave the
  // part verbatim in the skeleton. Past it, verified lines are released; a mismatch
  // after that yields a partial cut (Cut::partial) for the verified prefix and the
  // rest as literal. Either way the round trip is exact.
  std::size_t max_held_body_bytes = 4 * 1024 * 1024;
};

struct SplitStats {
  std::uint64_t input_bytes = 0;
  std::size_t parts = 0;             // entities seen by the scanner
  std::size_t candidates = 0;        // leaf parts that qualified (type and size)
  std::size_t cut = 0;               // candidates cut (partial ones included)
  std::size_t kept = 0;              // candidates left verbatim (mismatch, sink error)
  std::uint64_t max_held_bytes = 0;  // peak bytes held back (scanner + candidate)
};

class Splitter {
 public:
  // `sink` must outlive the Splitter.
  Splitter(const SplitParams& params, BlobSink& sink);
  ~Splitter();
  Splitter(const Splitter&) = delete;
  Splitter& operator=(const Splitter&) = delete;

  // Any chunk size. REQUIRES: finish() not yet called (else ignored).
  void feed(std::string_view chunk);
  // Ends the input; returns the skeleton (errc::finished if called twice).
  [[nodiscard]] boost::system::result<Skeleton> finish();
  [[nodiscard]] const SplitStats& stats() const noexcept;
  // Bytes held now: the skeleton so far, the candidate text held back, the scanner's
  // peak buffer (an upper bound). Attachment bytes already handed to the sink are not.
  [[nodiscard]] std::uint64_t held_bytes() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whole-message convenience.
[[nodiscard]] boost::system::result<Skeleton> split_message(std::string_view message,
                                                            BlobSink& sink,
                                                            const SplitParams& params = {});

}  // namespace refmail::mime
