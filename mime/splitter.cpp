// mime/splitter.cpp — raw message -> Skeleton + blobs (see splitter.hpp).
// The scanner hands every byte over once; structure and non-candidate bodies go to
// the skeleton as they come; a candidate body goes through a verifier that decodes it
// into the BlobSink and checks, as it streams, that the canonical encoder with the
// detected parameters gives back the received text:
//  - base64: checked structurally per line (all lines but the last exactly L chars of
//    the alphabet + the same ending, canonical padding and zero pad bits). That is
//    precisely the set of texts base64_encode(decoded, {L, ending, last}) produces;
//  - quoted-printable: decoded, re-encoded (QpEncoder) and compared byte for byte;
//  - identity: the text is the blob.
// SECURITY: held-back candidate text is bounded by max_held_body_bytes; no exceptions.
#include "mime/splitter.hpp"

#include <algorithm>
#include <cstring>

#include "mime/codec_internal.hpp"
#include "mime/errc.hpp"
#include "mime/scanner.hpp"

namespace refmail::mime {
namespace {

bool is_candidate(const Part& p) {
  if (!p.is_leaf() || p.limited) return false;
  if (p.encoding == TransferEncoding::Unknown) return false;
  if (p.disposition == "attachment" || p.has_file_name()) return true;
  return p.type != "text" && p.type != "multipart" && p.type != "message";
}

// Streaming structural check + decode of a base64 body (see file comment).
class Base64Verifier {
 public:
  // Feeds body bytes; decoded bytes of complete valid groups are appended to `out`.
  // Returns false on the first mismatch (then no further calls are made).
  bool feed(const char* d, std::size_t n, std::string& out) {
    const std::uint8_t* val = detail::base64_value_table();
    const std::size_t old = out.size();
    out.resize(old + n / 4 * 3 + 6);
    char* o = out.data() + old;
    std::size_t i = 0;
    bool ok = true;
    while (i < n) {
      // Fast path: a whole full line and its ending in view. The ending is read here,
      // not once per feed: the first line, maybe in this very feed, decides it.
      const std::size_t eol_len = line_ending_text(e_).size();
      const char* eol = line_ending_text(e_).data();
      if (phase_ == Phase::Lines && l_ > 0 && col_ == 0 && gn_ == 0 && !cr_ && !done_ &&
          n - i >= l_ + eol_len && std::memcmp(d + i + l_, eol, eol_len) == 0) {
        const auto* p = reinterpret_cast<const unsigned char*>(d + i);
        std::size_t g = 0;
        const std::size_t groups = l_ / 4;
        char* oo = o;
        for (; g < groups; ++g, p += 4, oo += 3) {
          const std::uint8_t a = val[p[0]], b = val[p[1]], c = val[p[2]], e = val[p[3]];
          if ((a | b | c | e) & 0xC0) break;
          const std::uint32_t v = (std::uint32_t{a} << 18) | (std::uint32_t{b} << 12) |
                                  (std::uint32_t{c} << 6) | e;
          oo[0] = static_cast<char>(v >> 16);
          oo[1] = static_cast<char>(v >> 8);
          oo[2] = static_cast<char>(v);
        }
        if (g == groups) {
          o = oo;
          pos_ += l_ + eol_len;
          i += l_ + eol_len;
          valid_end_ = pos_;
          at_line_start_ = true;
          decoded_ += groups * 3;
          continue;
        }
      }
      if (!step(static_cast<unsigned char>(d[i]), val, o)) {
        ok = false;
        break;
      }
      ++i;
      ++pos_;
    }
    out.resize(static_cast<std::size_t>(o - out.data()));
    return ok;
  }

  // Body ended. Returns false if the text is not canonical.
  bool finish() {
    if (phase_ == Phase::Trailing) return true;
    if (phase_ == Phase::Leading) return false;  // nothing but whitespace
    if (gn_ != 0 || pad_wait_) return false;
    if (l_ == 0) {  // a single line without ending
      if (col_ == 0) return false;
      l_ = col_;
      last_line_ending_ = false;
      return true;
    }
    if (col_ > 0) last_line_ending_ = false;  // last line without ending (or "\r" only)
    else last_line_ending_ = true;
    return true;
  }

  [[nodiscard]] std::uint64_t valid_end() const { return valid_end_; }
  [[nodiscard]] std::uint64_t prefix() const { return prefix_; }
  [[nodiscard]] std::uint64_t decoded() const { return decoded_; }
  [[nodiscard]] Base64Params params() const {
    return {l_ ? l_ : static_cast<std::uint32_t>(valid_end_ - prefix_), e_, last_line_ending_};
  }
  // Params for a partial cut covering [0, valid_end()).
  [[nodiscard]] Base64Params partial_params() const {
    Base64Params p{l_, e_, at_line_start_};
    if (l_ == 0) p = {static_cast<std::uint32_t>(valid_end_ - prefix_), e_, false};
    return p;
  }

 private:
  enum class Phase { Leading, Lines, Trailing };

  bool end_line(LineEnding ending) {
    // A line ended (its ending is the byte at pos_, already counted).
    if (gn_ != 0 || pad_wait_) return false;
    if (l_ == 0) {  // first line fixes the parameters
      if (col_ == 0) return false;
      l_ = col_;
      e_ = ending;
      valid_end_ = pos_ + 1;
      at_line_start_ = true;
      col_ = 0;
      if (done_) {
        last_line_ending_ = true;
        phase_ = Phase::Trailing;
      }
      return true;
    }
    if (col_ == 0) {  // empty line: the data ended with the previous line
      last_line_ending_ = true;
      phase_ = Phase::Trailing;
      return true;
    }
    if (ending != e_) {  // other ending: last data line; the ending is trailing text
      last_line_ending_ = false;
      phase_ = Phase::Trailing;
      return true;
    }
    valid_end_ = pos_ + 1;
    at_line_start_ = true;
    if (col_ < l_ || done_) {
      last_line_ending_ = true;
      phase_ = Phase::Trailing;
    }
    col_ = 0;
    return true;
  }

  bool step(unsigned char c, const std::uint8_t* val, char*& o) {
    if (phase_ == Phase::Trailing) return c == ' ' || c == '\t' || c == '\r' || c == '\n';
    if (phase_ == Phase::Leading) {
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        prefix_ = pos_ + 1;
        valid_end_ = prefix_;
        return true;
      }
      phase_ = Phase::Lines;
    }
    if (cr_) {
      cr_ = false;
      if (c == '\n') return end_line(LineEnding::Crlf);
      return false;  // bare CR inside base64
    }
    const std::uint8_t v = val[c];
    if (v < 64) {
      if (done_ || pad_wait_ || (l_ > 0 && col_ == l_)) return false;
      g_[gn_++] = v;
      ++col_;
      if (gn_ == 4) {
        const std::uint32_t x = (std::uint32_t{g_[0]} << 18) | (std::uint32_t{g_[1]} << 12) |
                                (std::uint32_t{g_[2]} << 6) | g_[3];
        *o++ = static_cast<char>(x >> 16);
        *o++ = static_cast<char>(x >> 8);
        *o++ = static_cast<char>(x);
        decoded_ += 3;
        gn_ = 0;
        valid_end_ = pos_ + 1;
        at_line_start_ = false;
      }
      return true;
    }
    if (c == '=') {
      if (done_ || (l_ > 0 && col_ == l_)) return false;
      if (pad_wait_) {  // second '=' of "xx=="
        pad_wait_ = false;
        ++col_;
        *o++ = static_cast<char>((g_[0] << 2) | (g_[1] >> 4));
        decoded_ += 1;
        gn_ = 0;
        done_ = true;
        valid_end_ = pos_ + 1;
        at_line_start_ = false;
        return true;
      }
      if (gn_ == 2) {
        if (g_[1] & 0x0f) return false;  // non-zero pad bits: not canonical
        pad_wait_ = true;
        ++col_;
        return true;
      }
      if (gn_ == 3) {
        if (g_[2] & 0x03) return false;
        ++col_;
        const std::uint32_t x = (std::uint32_t{g_[0]} << 18) | (std::uint32_t{g_[1]} << 12) |
                                (std::uint32_t{g_[2]} << 6);
        *o++ = static_cast<char>(x >> 16);
        *o++ = static_cast<char>(x >> 8);
        decoded_ += 2;
        gn_ = 0;
        done_ = true;
        valid_end_ = pos_ + 1;
        at_line_start_ = false;
        return true;
      }
      return false;
    }
    if (c == '\r') {
      cr_ = true;
      return true;
    }
    if (c == '\n') return end_line(LineEnding::Lf);
    if (c == ' ' || c == '\t') {  // whitespace after data: data ends on this line
      if (gn_ != 0 || pad_wait_ || (col_ == 0 && l_ == 0)) return false;
      if (l_ == 0) l_ = col_;
      last_line_ending_ = col_ == 0;
      phase_ = Phase::Trailing;
      return true;
    }
    return false;
  }

  Phase phase_ = Phase::Leading;
  std::uint64_t prefix_ = 0;      // leading whitespace kept as literal before the cut
  std::uint32_t l_ = 0;           // line length (0 until the first line ends)
  LineEnding e_ = LineEnding::Crlf;
  std::uint32_t col_ = 0;         // characters on the current line
  std::uint8_t g_[4] = {};
  std::uint32_t gn_ = 0;
  bool cr_ = false;
  bool pad_wait_ = false;
  bool done_ = false;             // padding seen: no more data characters
  bool last_line_ending_ = true;
  bool at_line_start_ = true;     // valid_end_ is just after a line ending
  std::uint64_t pos_ = 0;         // body bytes consumed
  std::uint64_t valid_end_ = 0;   // end of the canonical prefix the cut may cover
  std::uint64_t decoded_ = 0;
};

}  // namespace

struct Splitter::Impl final : ScanHandler {
  Impl(const SplitParams& p, BlobSink& s) : params(p), sink(s), scanner(p.limits, *this) {}

  SplitParams params;
  BlobSink& sink;
  Scanner scanner;
  SkeletonBuilder builder;
  SplitStats stats;
  boost::system::error_code error;
  bool finished = false;

  // The current candidate.
  std::ptrdiff_t cand_index = -1;  // scanner index of the candidate part, -1 if none
  bool cand_cut = false;
  bool active = false;
  std::size_t part_index = 0;
  std::string part_path;
  TransferEncoding encoding = TransferEncoding::Identity;
  std::string held;             // body text from body offset held_from on
  std::uint64_t held_from = 0;
  std::uint64_t body_bytes = 0;
  bool released = false;
  Base64Verifier b64;
  // Quoted-printable
  QpDecoder qp_dec;
  std::unique_ptr<QpEncoder> qp_enc;
  std::uint64_t qp_cmp = 0;     // held bytes matched by the re-encoding
  std::uint64_t qp_decoded = 0;
  std::size_t qp_scan = 0;      // held bytes already searched for the first line end
  std::string scratch;
  std::string scratch2;

  void note_held() {
    stats.max_held_bytes =
        std::max<std::uint64_t>(stats.max_held_bytes, held.size() + scanner.max_held_bytes());
  }

  void on_part_begin(const Part& p) override {
    ++stats.parts;
    if (!is_candidate(p) || error.failed()) return;
    active = true;
    cand_index = static_cast<std::ptrdiff_t>(p.index);
    cand_cut = false;
    part_index = p.index;
    part_path = p.path;
    encoding = p.encoding;
    held.clear();
    held_from = 0;
    body_bytes = 0;
    released = false;
    b64 = Base64Verifier{};
    qp_dec = QpDecoder{};
    qp_enc.reset();
    qp_cmp = 0;
    qp_decoded = 0;
    qp_scan = 0;
    sink.begin();
  }

  // Gives up on the candidate: the part stays verbatim (or partially cut if released).
  void abandon() {
    active = false;
    if (!released) {
      sink.discard();
      builder.append_literal(held);
      held.clear();
      return;
    }
    // Verified prefix already released: cut it (partial), keep the rest as text.
    const std::uint64_t ve = b64.valid_end();
    if (encoding == TransferEncoding::Base64 && ve >= held_from) {
      auto id = sink.commit();
      if (!id) {
        error = errc::sink_failed;
        return;
      }
      Cut c;
      c.blob_id = std::move(*id);
      c.encoding = CutEncoding::Base64;
      const Base64Params bp = b64.partial_params();
      c.line_length = bp.line_length;
      c.line_ending = bp.line_ending;
      c.last_line_ending = bp.last_line_ending;
      c.decoded_size = b64.decoded();
      c.encoded_size = ve - b64.prefix();
      c.partial = true;
      if (base64_encoded_size(c.decoded_size, bp) != c.encoded_size) {
        error = errc::sink_failed;  // cannot happen: the verifier's invariant
        return;
      }
      builder.append_cut(std::move(c));
      cand_cut = true;
      builder.append_literal(std::string_view(held).substr(ve - held_from));
      held.clear();
      return;
    }
    sink.discard();  // cannot happen (only base64 and identity are released)
    error = errc::sink_failed;
  }

  void release_if_needed() {
    // Held text buys the option to leave the part verbatim; once some is released that
    // option is gone (a mismatch can only end in a partial cut), so from then on
    // verified text is released as soon as it is fed.
    if (!released && held.size() <= params.max_held_body_bytes) return;
    if (encoding == TransferEncoding::QuotedPrintable) {
      abandon();  // QP is never released: keep it verbatim
      return;
    }
    std::uint64_t begin = 0;  // where the cut will start, relative to the body
    std::uint64_t ve = held_from + held.size();
    if (encoding == TransferEncoding::Base64) {
      begin = b64.prefix();
      ve = b64.valid_end();
      if (ve <= begin) {  // nothing but leading whitespace so far: not worth it
        abandon();
        return;
      }
    }
    if (ve <= held_from) return;
    if (!released) {  // the literal text before the cut goes out first
      builder.append_literal(std::string_view(held).substr(0, static_cast<std::size_t>(begin)));
    }
    held.erase(0, static_cast<std::size_t>(ve - held_from));
    held_from = ve;
    if (!released) held.shrink_to_fit();  // the unverified tail: a line or so
    released = true;
  }

  void candidate_bytes(std::string_view bytes) {
    held.append(bytes);
    body_bytes += bytes.size();
    switch (encoding) {
      case TransferEncoding::Identity:
        sink.append(bytes);
        break;
      case TransferEncoding::Base64: {
        scratch.clear();
        const bool ok = b64.feed(bytes.data(), bytes.size(), scratch);
        if (!scratch.empty()) sink.append(scratch);
        if (!ok) {
          note_held();
          abandon();
          return;
        }
        break;
      }
      case TransferEncoding::QuotedPrintable:
        if (!qp_feed(bytes, false)) {
          note_held();
          abandon();
          return;
        }
        break;
      case TransferEncoding::Unknown:
        break;
    }
    note_held();
    release_if_needed();
  }

  bool qp_compare(const std::string& enc) {
    if (qp_cmp + enc.size() > held.size()) return false;
    if (std::memcmp(held.data() + qp_cmp, enc.data(), enc.size()) != 0) return false;
    qp_cmp += enc.size();
    return true;
  }

  bool qp_feed(std::string_view bytes, bool final) {
    if (!qp_enc) {
      const std::size_t nl = held.find('\n', qp_scan);
      qp_scan = held.size();  // never search the same bytes twice
      if (nl == std::string::npos && !final) return true;  // ending not known yet
      QpParams qp;
      if (nl != std::string::npos && !(nl > 0 && held[nl - 1] == '\r'))
        qp.line_ending = LineEnding::Lf;
      if (nl != std::string::npos) {
        // Soft-break width: a first line broken after a literal character shows the
        // encoder's limit (b2a_qp-style encoders with another width than 76).
        std::string_view first(held.data(), nl);
        if (first.ends_with('\r')) first.remove_suffix(1);
        if (first.size() >= 8 && first.size() <= 998 && first.back() == '=' &&
            first[first.size() - 3] != '=' && first[first.size() - 2] != '=')
          qp.max_line_length = static_cast<std::uint32_t>(first.size());
      }
      qp_enc = std::make_unique<QpEncoder>(qp);
      qp_line_ending = qp.line_ending;
      qp_width = qp.max_line_length;
      bytes = held;  // everything so far
    }
    scratch.clear();
    qp_dec.update(bytes, scratch);
    if (final) qp_dec.finish(scratch);
    if (!scratch.empty()) sink.append(scratch);
    qp_decoded += scratch.size();
    scratch2.clear();
    qp_enc->update(scratch, scratch2);
    if (final) qp_enc->finish(scratch2);
    return qp_compare(scratch2);
  }

  void on_bytes(std::uint64_t, std::string_view bytes, ByteKind kind) override {
    if (kind == ByteKind::Body && active) {
      candidate_bytes(bytes);
    } else {
      builder.append_literal(bytes);
    }
  }

  void on_part_end(const Part& p) override {
    if (cand_index < 0 || p.index != static_cast<std::size_t>(cand_index)) return;
    if (active) finish_candidate();
    cand_index = -1;
    // Counted here, when the body size is known: small parts were never worth cutting.
    if (p.body.size() >= params.min_cut_bytes || cand_cut) {
      ++stats.candidates;
      ++(cand_cut ? stats.cut : stats.kept);
    }
  }

  void finish_candidate() {
    Cut c;
    c.part_path = part_path;
    std::uint64_t cut_begin = 0;  // encoded text covered: [cut_begin, cut_len) of the body
    std::uint64_t cut_len = 0;
    switch (encoding) {
      case TransferEncoding::Identity:
        c.encoding = CutEncoding::Identity;
        c.line_length = 0;
        c.last_line_ending = false;
        c.decoded_size = body_bytes;
        cut_len = body_bytes;
        break;
      case TransferEncoding::Base64: {
        if (!b64.finish()) {
          abandon();
          return;
        }
        const Base64Params bp = b64.params();
        c.encoding = CutEncoding::Base64;
        c.line_length = bp.line_length;
        c.line_ending = bp.line_ending;
        c.last_line_ending = bp.last_line_ending;
        c.decoded_size = b64.decoded();
        cut_begin = b64.prefix();
        cut_len = b64.valid_end();
        if (base64_encoded_size(c.decoded_size, bp) != cut_len - cut_begin) {  // invariant
          abandon();
          return;
        }
        break;
      }
      case TransferEncoding::QuotedPrintable: {
        if (!qp_feed({}, true) || qp_cmp != held.size()) {
          abandon();
          return;
        }
        c.encoding = CutEncoding::QuotedPrintable;
        c.line_length = qp_width;
        c.line_ending = qp_line_ending;
        c.decoded_size = qp_decoded;
        c.last_line_ending = false;
        cut_len = body_bytes;
        break;
      }
      case TransferEncoding::Unknown:
        abandon();
        return;
    }
    c.encoded_size = cut_len - cut_begin;
    if (body_bytes < params.min_cut_bytes || c.decoded_size == 0) {
      if (!released) {
        active = false;
        sink.discard();
        builder.append_literal(held);
        held.clear();
        return;
      }
    }
    auto id = sink.commit();
    active = false;
    if (!id) {
      if (released) {
        error = errc::sink_failed;
        return;
      }
      builder.append_literal(held);
      held.clear();
      return;
    }
    c.blob_id = std::move(*id);
    if (!released)
      builder.append_literal(std::string_view(held).substr(0, static_cast<std::size_t>(cut_begin)));
    builder.append_cut(std::move(c));
    cand_cut = true;
    if (cut_len < held_from + held.size())
      builder.append_literal(std::string_view(held).substr(cut_len - held_from));
    held.clear();
  }

  LineEnding qp_line_ending = LineEnding::Crlf;
  std::uint32_t qp_width = 76;
};

Splitter::Splitter(const SplitParams& params, BlobSink& sink)
    : impl_(std::make_unique<Impl>(params, sink)) {}
Splitter::~Splitter() = default;

void Splitter::feed(std::string_view chunk) {
  if (impl_->finished) return;
  impl_->stats.input_bytes += chunk.size();
  impl_->scanner.feed(chunk);
}

boost::system::result<Skeleton> Splitter::finish() {
  if (impl_->finished) return errc::finished;
  impl_->finished = true;
  impl_->scanner.finish();
  if (impl_->error) return impl_->error;
  return impl_->builder.finish();
}

const SplitStats& Splitter::stats() const noexcept { return impl_->stats; }

std::uint64_t Splitter::held_bytes() const noexcept {
  return impl_->builder.skeleton_size() + impl_->held.capacity() + impl_->scanner.max_held_bytes();
}

boost::system::result<Skeleton> split_message(std::string_view message, BlobSink& sink,
                                              const SplitParams& params) {
  Splitter s(params, sink);
  s.feed(message);
  return s.finish();
}

}  // namespace refmail::mime
