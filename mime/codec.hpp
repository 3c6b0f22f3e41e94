// mime/codec.hpp — Content-Transfer-Encoding codecs: base64 (RFC 2045 6.8) and
// quoted-printable (RFC 2045 6.7), whole-buffer and streaming (chunk by chunk).
// Encoders are deterministic functions of (bytes, params): the splitter cuts an
// attachment only when this encoder, with the parameters detected in the received
// text, reproduces that text exactly, and the joiner uses the same encoder.
// SECURITY: decoders are total (any input, no exceptions, output <= input size).
#pragma once
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>

namespace refmail::mime {

enum class LineEnding : std::uint8_t { Crlf = 0, Lf = 1 };

[[nodiscard]] constexpr std::string_view line_ending_text(LineEnding e) noexcept {
  return e == LineEnding::Crlf ? std::string_view("\r\n", 2) : std::string_view("\n", 1);
}

// ---------------------------------------------------------------- base64

struct Base64Params {
  // Characters per line; a multiple of 4; 0 = one unwrapped line.
  std::uint32_t line_length = 76;
  LineEnding line_ending = LineEnding::Crlf;
  // Whether the last (possibly short) line is followed by a line ending too.
  bool last_line_ending = true;
  friend bool operator==(const Base64Params&, const Base64Params&) = default;
};

// Exact length of base64_encode(n bytes, p). REQUIRES: p.line_length % 4 == 0.
[[nodiscard]] std::uint64_t base64_encoded_size(std::uint64_t decoded_size,
                                                const Base64Params& p) noexcept;

// Encodes `in` with padding, wrapping lines per `p`. REQUIRES: p.line_length % 4 == 0.
[[nodiscard]] std::string base64_encode(std::string_view in, const Base64Params& p = {});

struct Base64Decoded {
  std::string bytes;
  // True if the input is exactly base64_encode(bytes, params) for the detected params
  // (line length of the first line, its line ending, last-line form).
  bool canonical = false;
  Base64Params params;
};

// Strict decode (RFC 4648 4): padding required, no whitespace, nothing after '=', no
// stray bits under the padding, so one value has one encoding (SASL responses in SMTP and
// IMAP). nullopt for anything else.
[[nodiscard]] std::optional<std::string> base64_decode_strict(std::string_view encoded);

// Tolerant decode: characters outside the alphabet (whitespace, garbage) are skipped,
// decoding stops at the first '=' padding; a dangling partial quantum is decoded as far
// as it carries whole bytes.
[[nodiscard]] Base64Decoded base64_decode(std::string_view encoded);

// Streaming encoder: update() any number of times, then finish() once.
// Output is identical to base64_encode() of the concatenated input.
class Base64Encoder {
 public:
  // REQUIRES: p.line_length % 4 == 0 (defensively rounded down to a multiple of 4).
  explicit Base64Encoder(const Base64Params& p) noexcept : p_(p) {
    p_.line_length -= p_.line_length % 4;
  }
  void update(std::string_view in, std::string& out);
  void finish(std::string& out);
  // Most bytes update()/finish() may append for `n` input bytes (for reserving).
  [[nodiscard]] std::size_t max_output(std::size_t n) const noexcept;

 private:
  Base64Params p_;
  unsigned char carry_[3] = {};
  std::uint32_t carry_len_ = 0;
  std::uint64_t column_ = 0;   // characters on the current line
  bool any_ = false;           // some character was written
};

// Streaming tolerant decoder (same rules as base64_decode, without canonical check).
class Base64Decoder {
 public:
  void update(std::string_view in, std::string& out);
  void finish(std::string& out);
  // Whether any character outside the alphabet/whitespace was seen or data after '='.
  [[nodiscard]] bool saw_garbage() const noexcept { return garbage_; }

 private:
  std::uint32_t acc_ = 0;
  std::uint32_t n_ = 0;
  bool padded_ = false;
  bool garbage_ = false;
};

// ---------------------------------------------------------------- quoted-printable

struct QpParams {
  // Hard line breaks: the decoded text's line ending is this sequence ("\r\n" or "\n")
  // and encoded hard breaks are written with it.
  LineEnding line_ending = LineEnding::Crlf;
  // Soft-break threshold (RFC 2045 6.7 rule 5: 76).
  std::uint32_t max_line_length = 76;
  friend bool operator==(const QpParams&, const QpParams&) = default;
};

// Canonical QP encoding used by refmail; byte-compatible with the most common encoder
// in the wild (CPython's binascii.b2a_qp, text mode, as used by quopri and email):
// the line-ending sequence -> hard break (a SPACE/TAB before it becomes =20/=09);
// '=', bytes > 126, controls other than TAB/CR/LF, a '.' alone on a line and SPACE/TAB
// at the very end -> =XX (upper-case hex); other bytes as-is; a soft break "=" + ending
// is inserted so that lines stay below max_line_length (b2a_qp's exact rule).
// REQUIRES: p.max_line_length >= 4.
[[nodiscard]] std::string qp_encode(std::string_view in, const QpParams& p = {});

struct QpDecoded {
  std::string bytes;
  // True if qp_encode(bytes, params) == input for the detected params.
  bool canonical = false;
  QpParams params;
};

// Tolerant decode (RFC 2045 6.7 note 4 leniency): malformed "=XY" kept literally,
// lower-case hex accepted, trailing SPACE/TAB before a line break dropped, hard line
// breaks copied as received ("\r\n" or "\n").
[[nodiscard]] QpDecoded qp_decode(std::string_view encoded);

// Streaming canonical QP encoder (identical output to qp_encode of the concatenation).
class QpEncoder {
 public:
  // REQUIRES: p.max_line_length >= 4.
  explicit QpEncoder(const QpParams& p) noexcept : p_(p) {}
  void update(std::string_view in, std::string& out);
  void finish(std::string& out);

 private:
  void step(unsigned char c, int next, int next2, std::string& out);
  QpParams p_;
  std::uint32_t column_ = 0;
  int held_[2] = {-1, -1};  // last input bytes: an encoding depends on the next two
  char pending_ws_ = 0;     // a literal SPACE/TAB not yet written: becomes =20/=09
                            // if a hard break follows (b2a_qp's protection)
};

// Streaming tolerant QP decoder (same output as qp_decode().bytes of the concatenation).
class QpDecoder {
 public:
  void update(std::string_view in, std::string& out);
  void finish(std::string& out);

 private:
  void flush_line(bool hard_break, std::string& out);
  std::string line_;  // the current encoded line (bounded by the longest input line)
};

}  // namespace refmail::mime
