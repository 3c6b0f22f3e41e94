// mime/codec_qp.cpp — quoted-printable (RFC 2045 6.7). The encoder reproduces CPython's
// binascii.b2a_qp (text mode, quotetabs off) byte for byte, so the very common mail
// written by Python and by encoders with the same rules round-trips and can be cut;
// the decoder is tolerant (RFC 2045 6.7 note 4). See codec.hpp for the contracts.
// SECURITY: decoders never read past input; no exceptions.
#include <cstring>

#include "mime/codec.hpp"

namespace refmail::mime {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

int hex_value(unsigned char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

// One input byte `c`, knowing the next two bytes (-1 past the end of input).
void QpEncoder::step(unsigned char c, int next, int next2, std::string& out) {
  const std::string_view eol = line_ending_text(p_.line_ending);
  const std::uint32_t max = p_.max_line_length;
  auto flush_ws = [&] {
    if (pending_ws_ != 0) out.push_back(pending_ws_);
    pending_ws_ = 0;
  };
  auto soft_break = [&] {
    flush_ws();
    out.push_back('=');
    out.append(eol);
    column_ = 0;
  };
  const bool at_end = next < 0;
  const bool encode =
      c > 126 || c == '=' ||
      (c == '.' && column_ == 0 && (at_end || next == '\n' || next == '\r' || next == 0)) ||
      ((c == ' ' || c == '\t') && at_end) ||
      (c < 33 && c != '\r' && c != '\n' && c != ' ' && c != '\t') ||
      (c == '\r' && next != '\n');  // refmail: a lone CR is always encoded
  if (encode) {
    if (column_ + 3 >= max) soft_break();
    flush_ws();
    out.push_back('=');
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
    column_ += 3;
    return;
  }
  if (c == '\n' || c == '\r') {  // a hard line break ("\r" only when "\n" follows)
    column_ = 0;
    if (pending_ws_ != 0) {
      // b2a_qp: protect whitespace at the end of a line.
      out.push_back('=');
      out.push_back(kHex[static_cast<unsigned char>(pending_ws_) >> 4]);
      out.push_back(kHex[pending_ws_ & 15]);
      pending_ws_ = 0;
    }
    out.append(eol);
    return;
  }
  // b2a_qp does not break before a hard line break; with CRLF text that break is
  // "\r\n", so it takes two bytes of look-ahead to see it.
  const bool break_next = next == '\n' || (next == '\r' && next2 == '\n');
  if (!at_end && !break_next && column_ + 1 >= max) soft_break();
  ++column_;
  flush_ws();
  if (c == ' ' || c == '\t')
    pending_ws_ = static_cast<char>(c);
  else
    out.push_back(static_cast<char>(c));
}

void QpEncoder::update(std::string_view in, std::string& out) {
  out.reserve(out.size() + in.size() + in.size() / 8 + 8);
  for (const char ch : in) {
    const int c = static_cast<unsigned char>(ch);
    if (held_[1] < 0) {  // fewer than two bytes held: just hold this one
      (held_[0] < 0 ? held_[0] : held_[1]) = c;
      continue;
    }
    const auto h = static_cast<unsigned char>(held_[0]);
    step(h, held_[1], c, out);
    if (h == '\r' && held_[1] == '\n') {  // "\r\n" consumed as one hard break
      held_[0] = c;
      held_[1] = -1;
    } else {
      held_[0] = held_[1];
      held_[1] = c;
    }
  }
}

void QpEncoder::finish(std::string& out) {
  if (held_[0] >= 0) {
    const auto h = static_cast<unsigned char>(held_[0]);
    step(h, held_[1], -1, out);
    const bool crlf = h == '\r' && held_[1] == '\n';
    if (held_[1] >= 0 && !crlf) step(static_cast<unsigned char>(held_[1]), -1, -1, out);
  }
  held_[0] = held_[1] = -1;
  if (pending_ws_ != 0) out.push_back(pending_ws_);
  pending_ws_ = 0;
  column_ = 0;
}

std::string qp_encode(std::string_view in, const QpParams& p) {
  std::string out;
  QpEncoder enc(p);
  enc.update(in, out);
  enc.finish(out);
  return out;
}

// ---------------------------------------------------------------- decode

namespace {

// Decodes one encoded line (without its ending); returns true if it ends with a soft
// break. Trailing SPACE/TAB is dropped (RFC 2045 6.7 rule 3: added by transports).
bool decode_line(std::string_view line, std::string& out) {
  std::size_t n = line.size();
  while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t')) --n;
  bool soft = false;
  if (n > 0 && line[n - 1] == '=') {
    soft = true;
    --n;
  }
  const char* p = line.data();
  const char* end = p + n;
  while (p < end) {
    const char* eq = static_cast<const char*>(std::memchr(p, '=', static_cast<std::size_t>(end - p)));
    if (eq == nullptr) {
      out.append(p, end);
      break;
    }
    out.append(p, eq);
    if (end - eq >= 3) {
      const int hi = hex_value(static_cast<unsigned char>(eq[1]));
      const int lo = hex_value(static_cast<unsigned char>(eq[2]));
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        p = eq + 3;
        continue;
      }
    }
    out.push_back('=');  // malformed: keep literally
    p = eq + 1;
  }
  return soft;
}

}  // namespace

void QpDecoder::update(std::string_view in, std::string& out) {
  while (!in.empty()) {
    const std::size_t nl = in.find('\n');
    if (nl == std::string_view::npos) {
      line_.append(in);
      return;
    }
    line_.append(in.substr(0, nl + 1));
    in.remove_prefix(nl + 1);
    flush_line(true, out);
  }
}

void QpDecoder::flush_line(bool hard_break, std::string& out) {
  std::string_view line = line_;
  std::string_view eol;
  if (hard_break) {
    const bool crlf = line.size() >= 2 && line[line.size() - 2] == '\r';
    eol = line.substr(line.size() - (crlf ? 2 : 1));
    line.remove_suffix(eol.size());
  }
  const bool soft = decode_line(line, out);
  if (!soft) out.append(eol);
  line_.clear();
}

void QpDecoder::finish(std::string& out) {
  if (!line_.empty()) flush_line(false, out);
}

QpDecoded qp_decode(std::string_view encoded) {
  QpDecoded r;
  QpDecoder dec;
  dec.update(encoded, r.bytes);
  dec.finish(r.bytes);
  const std::size_t nl = encoded.find('\n');
  if (nl != std::string_view::npos && !(nl > 0 && encoded[nl - 1] == '\r'))
    r.params.line_ending = LineEnding::Lf;
  r.canonical = qp_encode(r.bytes, r.params) == encoded;
  return r;
}

}  // namespace refmail::mime
