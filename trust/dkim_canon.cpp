// trust/dkim_canon.cpp — DKIM canonicalization (RFC 6376 3.4), the header block as DKIM
// sees it, header selection (5.4.2) and the header hash input (3.7).
// Decision on line endings (matching dkimpy, which splits the message on "\r?\n" and
// joins with CRLF): a bare LF is a line end and counts as CRLF, in header and body; a
// bare CR is an ordinary byte. Mail received over SMTP is CRLF anyway; this only makes
// LF files (Maildir, tests) verify as dkimpy and OpenDKIM's tools see them.
// SECURITY: untrusted input; constant memory per body hasher, bounded header block.
#include <algorithm>
#include <cstring>

#include <openssl/evp.h>

#include "mime/codec.hpp"
#include "trust/dkim.hpp"
#include "trust/dkim_internal.hpp"

namespace refmail::trust::dkim {

namespace detail {

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::string strip_fws(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (!is_fws(c)) out += c;
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::array<std::uint8_t, 32> sha256(std::string_view data) {
  std::array<std::uint8_t, 32> out{};
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr);
  return out;
}

std::string base64(std::string_view bytes) {
  return mime::base64_encode(bytes, mime::Base64Params{0, mime::LineEnding::Crlf, false});
}

}  // namespace detail

using namespace detail;

namespace {
bool is_wsp(char c) { return c == ' ' || c == '\t'; }
}  // namespace

std::string_view canon_name(Canon c) noexcept { return c == Canon::Simple ? "simple" : "relaxed"; }

std::string_view algorithm_name(Algorithm a) noexcept {
  return a == Algorithm::RsaSha256 ? "rsa-sha256" : "ed25519-sha256";
}

// ---------------------------------------------------------------- headers

std::string canonicalize_header(Canon c, std::string_view field) {
  if (c == Canon::Simple) {  // RFC 6376 3.4.1: unchanged
    std::string out(field);
    out += "\r\n";
    return out;
  }
  // RFC 6376 3.4.2: lower-case name, no WSP around the colon, unfold, WSP runs -> one SP,
  // no WSP at the ends of the value.
  std::string out;
  out.reserve(field.size() + 2);
  const std::size_t colon = field.find(':');
  std::string_view name = field.substr(0, colon);
  while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
  out = to_lower(name);
  out += ':';
  if (colon != std::string_view::npos) {
    bool wsp = false;
    bool started = false;
    for (char ch : field.substr(colon + 1)) {
      if (ch == '\r' || ch == '\n') continue;  // unfold (only CRLFs before WSP are in a field)
      if (is_wsp(ch)) {
        wsp = true;
        continue;
      }
      if (wsp && started) out += ' ';
      wsp = false;
      started = true;
      out += ch;
    }
  }
  out += "\r\n";
  return out;
}

// ---------------------------------------------------------------- body

struct BodyHasher::Sha {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  char buf[4096];
  std::size_t n = 0;
  ~Sha() { EVP_MD_CTX_free(ctx); }
};

BodyHasher::BodyHasher(Canon c, std::optional<std::uint64_t> limit)
    : canon_(c), limit_(limit), sha_(std::make_unique<Sha>()) {
  EVP_DigestInit_ex(sha_->ctx, EVP_sha256(), nullptr);
}
BodyHasher::~BodyHasher() = default;
BodyHasher::BodyHasher(BodyHasher&&) noexcept = default;
BodyHasher& BodyHasher::operator=(BodyHasher&&) noexcept = default;

void BodyHasher::emit(const char* p, std::size_t n) {
  total_ += n;
  if (limit_) {  // RFC 6376 3.4.5: hash only the first l= canonical bytes
    const std::uint64_t room = *limit_ > hashed_ ? *limit_ - hashed_ : 0;
    if (n > room) n = static_cast<std::size_t>(room);
  }
  hashed_ += n;
  while (n > 0) {
    const std::size_t k = std::min(n, sizeof sha_->buf - sha_->n);
    std::memcpy(sha_->buf + sha_->n, p, k);
    sha_->n += k;
    p += k;
    n -= k;
    if (sha_->n == sizeof sha_->buf) {
      EVP_DigestUpdate(sha_->ctx, sha_->buf, sha_->n);
      sha_->n = 0;
    }
  }
}

// A byte of line content (not a line end; for relaxed not WSP).
void BodyHasher::content(char c) {
  // Empty lines held back are not trailing after all.
  for (; held_crlf_ > 0; --held_crlf_) emit("\r\n", 2);
  if (pending_wsp_) {  // RFC 6376 3.4.4 b: a WSP run inside a line becomes one SP
    emit_char(' ');
    pending_wsp_ = false;
  }
  emit_char(c);
  any_ = true;
  line_open_ = true;
}

void BodyHasher::line_end() {
  // RFC 6376 3.4.4 a: WSP at the end of a line is dropped (relaxed).
  pending_wsp_ = false;
  if (line_open_) {
    emit("\r\n", 2);
    line_open_ = false;
  } else {
    ++held_crlf_;  // an empty line: written only if content follows (3.4.3, 3.4.4)
  }
}

void BodyHasher::update(std::string_view chunk) {
  const bool relaxed = canon_ == Canon::Relaxed;
  for (std::size_t i = 0; i < chunk.size(); ++i) {
    const char c = chunk[i];
    // Fast path: a run of ordinary bytes (no CR, LF, or WSP when relaxed) is written at
    // once; attachments are mostly such runs.
    if (!pending_cr_ && c != '\r' && c != '\n' && !(relaxed && is_wsp(c))) {
      std::size_t j = i + 1;
      while (j < chunk.size() && chunk[j] != '\r' && chunk[j] != '\n' && !(relaxed && is_wsp(chunk[j]))) ++j;
      content(c);
      if (j > i + 1) emit(chunk.data() + i + 1, j - i - 1);
      i = j - 1;
      continue;
    }
    if (pending_cr_) {
      pending_cr_ = false;
      if (c == '\n') {
        line_end();
        continue;
      }
      content('\r');  // a bare CR is content
    }
    if (c == '\r') {
      pending_cr_ = true;
    } else if (c == '\n') {
      line_end();  // bare LF counts as CRLF (see the file comment)
    } else if (canon_ == Canon::Relaxed && is_wsp(c)) {
      pending_wsp_ = true;
    } else {
      content(c);
    }
  }
}

const std::array<std::uint8_t, 32>& BodyHasher::finish() {
  if (finished_) return digest_;
  if (pending_cr_) {
    pending_cr_ = false;
    content('\r');
  }
  if (canon_ == Canon::Simple) {
    // RFC 6376 3.4.3: trailing empty lines dropped; an empty body or one without a final
    // CRLF gets one CRLF. Held empty lines are dropped; exactly one CRLF ends the body.
    if (line_open_ || !any_) emit("\r\n", 2);
  } else {
    // Relaxed: WSP at the end of an unterminated last line stays as one SP (dkimpy
    // strips WSP only before a CRLF, then adds the CRLF); an empty body stays empty.
    if (pending_wsp_) {
      for (; held_crlf_ > 0; --held_crlf_) emit("\r\n", 2);
      emit_char(' ');
      any_ = true;
      line_open_ = true;
      pending_wsp_ = false;
    }
    if (line_open_) emit("\r\n", 2);
  }
  if (sha_->n > 0) EVP_DigestUpdate(sha_->ctx, sha_->buf, sha_->n);
  sha_->n = 0;
  unsigned int n = 0;
  EVP_DigestFinal_ex(sha_->ctx, digest_.data(), &n);
  finished_ = true;
  return digest_;
}

// ---------------------------------------------------------------- header block

namespace detail {

void HeaderCollector::take_line(std::string_view content) {
  if (content.empty()) {  // the empty line ends the header block
    in_body_ = true;
    return;
  }
  if (is_wsp(content.front())) {  // RFC 5322 2.2.3: a continuation line
    if (!fields_.empty()) {
      fields_.back().text += "\r\n";
      fields_.back().text += content;
    }
    return;
  }
  if (fields_.size() >= kMaxHeaderFields) return;  // SECURITY: bounded; ignored
  RawField f;
  const std::size_t colon = content.find(':');
  if (colon != std::string_view::npos) {
    std::string_view name = content.substr(0, colon);
    while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
    f.name = to_lower(name);
  }
  f.text = std::string(content);
  fields_.push_back(std::move(f));
}

void HeaderCollector::feed(std::string_view chunk, const std::function<void(std::string_view)>& body) {
  while (!chunk.empty()) {
    if (in_body_) {
      body(chunk);
      return;
    }
    const std::size_t nl = chunk.find('\n');
    const std::size_t take = nl == std::string_view::npos ? chunk.size() : nl + 1;
    if (held_ + take > kMaxHeaderBlockBytes) {
      // SECURITY: the header block is cut at the last whole line; the rest is body.
      in_body_ = true;
      cut_ = true;
      if (!line_.empty()) body(line_);
      line_.clear();
      continue;
    }
    held_ += take;
    if (nl == std::string_view::npos) {
      line_.append(chunk);
      return;
    }
    line_.append(chunk.substr(0, nl));
    chunk.remove_prefix(take);
    std::string_view content = line_;
    if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
    take_line(content);
    line_.clear();
  }
}

void HeaderCollector::finish() {
  if (!in_body_ && !line_.empty()) {
    std::string_view content = line_;
    if (content.back() == '\r') content.remove_suffix(1);
    take_line(content);
  }
  line_.clear();
  in_body_ = true;
}

std::vector<std::size_t> select_fields(const std::vector<RawField>& fields,
                                       const std::vector<std::string>& h) {
  std::vector<std::size_t> out;
  std::vector<bool> used(fields.size(), false);
  for (const std::string& name : h) {
    for (std::size_t i = fields.size(); i-- > 0;) {
      if (!used[i] && fields[i].name == name) {
        used[i] = true;
        out.push_back(i);
        break;
      }
    }
  }
  return out;
}

std::string without_b_value(std::string_view field) {
  // Walk the tag-list after the colon; find the tag named "b" (not "bh") and delete
  // everything between its '=' and the next ';' (or the end).
  const std::size_t colon = field.find(':');
  if (colon == std::string_view::npos) return std::string(field);
  std::size_t pos = colon + 1;
  while (pos < field.size()) {
    std::size_t semi = field.find(';', pos);
    if (semi == std::string_view::npos) semi = field.size();
    const std::size_t eq = field.find('=', pos);
    if (eq != std::string_view::npos && eq < semi) {
      std::string_view name = field.substr(pos, eq - pos);
      while (!name.empty() && (is_wsp(name.front()) || name.front() == '\r' || name.front() == '\n'))
        name.remove_prefix(1);
      while (!name.empty() && (is_wsp(name.back()) || name.back() == '\r' || name.back() == '\n'))
        name.remove_suffix(1);
      if (name == "b") {
        std::string out(field.substr(0, eq + 1));
        out += field.substr(semi);
        return out;
      }
    }
    pos = semi + 1;
  }
  return std::string(field);
}

std::string header_hash_input(const std::vector<RawField>& fields, const std::vector<std::string>& h,
                              Canon c, std::string_view signature_field_without_b) {
  std::string data;
  for (std::size_t i : select_fields(fields, h)) data += canonicalize_header(c, fields[i].text);
  std::string sig = canonicalize_header(c, signature_field_without_b);
  sig.resize(sig.size() - 2);  // RFC 6376 3.7: without its final CRLF
  data += sig;
  return data;
}

}  // namespace detail
}  // namespace refmail::trust::dkim
