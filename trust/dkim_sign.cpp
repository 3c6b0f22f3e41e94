// trust/dkim_sign.cpp — DKIM signing (RFC 6376 5, RFC 8463): one pass over the message
// for any number of keys (RSA + Ed25519 dual signing), the body hashed as it streams,
// the DKIM-Signature field folded at <= 78 columns (RFC 5322 2.1.1).
// SECURITY: the message may come from a local user (untrusted bytes); the header block
// is bounded (kMaxHeaderBlockBytes); signer configuration is checked before use.
#include <algorithm>
#include <map>

#include "trust/dkim.hpp"
#include "trust/dkim_internal.hpp"

namespace refmail::trust::dkim {

using namespace detail;

const std::vector<std::string>& default_signed_headers() {
  static const std::vector<std::string> v = {
      "from",        "to",         "cc",          "subject",      "date",
      "message-id",  "reply-to",   "in-reply-to", "references",   "mime-version",
      "content-type", "content-transfer-encoding"};
  return v;
}

const std::vector<std::string>& default_oversigned_headers() {
  static const std::vector<std::string> v = {"from", "to", "subject", "date", "message-id"};
  return v;
}

namespace {

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      return false;
  return true;
}

// Builds a header field folded at 78 columns: pieces are appended on the current line
// when they fit, else after CRLF SP (a fold is FWS, allowed between tags and around
// ':' in h=).
class Folder {
 public:
  explicit Folder(std::string_view start) : out_(start), col_(start.size()) {}
  void put(std::string_view piece, bool space) {
    const std::size_t need = piece.size() + (space ? 1 : 0);
    if (col_ + need > kWidth && col_ > 1) {
      out_ += "\r\n ";
      col_ = 1;
    } else if (space) {
      out_ += ' ';
      ++col_;
    }
    out_ += piece;
    col_ += piece.size();
  }
  // Base64 may be broken anywhere (FWS is allowed inside b=).
  void put_breakable(std::string_view text) {
    while (!text.empty()) {
      if (col_ >= kWidth) {
        out_ += "\r\n ";
        col_ = 1;
      }
      const std::size_t n = std::min(text.size(), kWidth - col_);
      out_ += text.substr(0, n);
      col_ += n;
      text.remove_prefix(n);
    }
  }
  [[nodiscard]] const std::string& text() const noexcept { return out_; }

 private:
  static constexpr std::size_t kWidth = 78;
  std::string out_;
  std::size_t col_;
};

}  // namespace

struct Signer::Impl {
  std::vector<SignRequest> requests;
  HeaderCollector headers;
  std::map<Canon, BodyHasher> hashers;
  bool finished = false;

  void body(std::string_view bytes) {
    for (auto& [c, h] : hashers) h.update(bytes);
  }

  boost::system::result<std::string> sign_one(const SignRequest& req, std::int64_t now) {
    const SignerConfig& c = req.config;
    if (!req.key || !valid_name(c.domain) || !valid_name(c.selector)) return errc::bad_argument;
    const std::string domain = to_lower(c.domain);
    if (c.identity) {
      const std::size_t at = c.identity->rfind('@');
      if (at == std::string::npos) return errc::bad_argument;
      const std::string idom = to_lower(c.identity->substr(at + 1));
      if (!(idom == domain || idom.ends_with("." + domain))) return errc::bad_argument;
      for (char ch : *c.identity)  // no FWS, ';' or controls in the tag value
        if (static_cast<unsigned char>(ch) <= 0x20 || ch == ';' || ch == 0x7f) return errc::bad_argument;
    }

    // h=: every configured name once per field present; oversigned names once more, so
    // a field of that name added later breaks the signature (RFC 6376 8.15).
    std::vector<std::string> names;
    auto add_name = [&](const std::string& n) {
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    };
    add_name("from");  // RFC 6376 5.4: From MUST be signed
    for (const std::string& n : c.headers) add_name(to_lower(n));
    for (const std::string& n : c.oversign) add_name(to_lower(n));
    std::vector<std::string> h;
    for (const std::string& n : names) {
      if (n.empty()) return errc::bad_argument;
      for (char ch : n)  // RFC 5322 field-name: printable ASCII but ':'; no ';' in a tag
        if (ch < 0x21 || ch > 0x7e || ch == ':' || ch == ';') return errc::bad_argument;
      std::size_t count = 0;
      for (const RawField& f : headers.fields())
        if (f.name == n) ++count;
      if (std::find(c.oversign.begin(), c.oversign.end(), n) != c.oversign.end() ||
          (n == "from" && count == 0))
        ++count;
      for (std::size_t i = 0; i < count; ++i) h.push_back(n);
    }
    if (h.size() > kMaxSignedHeaders) return errc::too_large;

    BodyHasher& hasher = hashers.at(c.body_canon);
    const auto& bh = hasher.finish();

    Folder f("DKIM-Signature:");
    f.put("v=1;", true);
    f.put("a=" + std::string(algorithm_name(req.key->algorithm())) + ";", true);
    f.put("c=" + std::string(canon_name(c.header_canon)) + "/" + std::string(canon_name(c.body_canon)) + ";",
          true);
    f.put("d=" + domain + ";", true);
    f.put("s=" + c.selector + ";", true);
    if (c.identity) f.put("i=" + *c.identity + ";", true);
    f.put("t=" + std::to_string(now) + ";", true);
    if (c.expire_after_seconds) f.put("x=" + std::to_string(now + *c.expire_after_seconds) + ";", true);
    for (std::size_t i = 0; i < h.size(); ++i)
      f.put((i == 0 ? "h=" : "") + h[i] + (i + 1 == h.size() ? ";" : ":"), i == 0);
    f.put("bh=" + base64(std::string_view(reinterpret_cast<const char*>(bh.data()), bh.size())) + ";", true);
    f.put("b=", true);

    // RFC 6376 3.7: the signature covers the field itself with an empty b=; the value
    // is appended after "b=", so the verifier's deletion of it gives back these bytes.
    const std::string data = header_hash_input(headers.fields(), h, c.header_canon, f.text());
    auto sig = sign_data(*req.key, data);
    if (!sig) return sig.error();
    f.put_breakable(base64(*sig));
    return f.text() + "\r\n";
  }
};

Signer::Signer(std::vector<SignRequest> requests) : impl_(std::make_unique<Impl>()) {
  impl_->requests = std::move(requests);
  for (const SignRequest& r : impl_->requests)
    impl_->hashers.try_emplace(r.config.body_canon, r.config.body_canon);
}
Signer::~Signer() = default;

void Signer::feed(std::string_view chunk) {
  if (impl_->finished) return;
  impl_->headers.feed(chunk, [this](std::string_view b) { impl_->body(b); });
}

boost::system::result<std::vector<std::string>> Signer::finish(std::int64_t now) {
  if (impl_->finished) return errc::bad_argument;
  impl_->finished = true;
  impl_->headers.finish();
  // Past the bound the signer would hash header lines as body: other verifiers would
  // disagree, so refuse rather than emit a signature that cannot verify.
  if (impl_->headers.cut()) return errc::too_large;
  std::vector<std::string> out;
  for (const SignRequest& r : impl_->requests) {
    auto one = impl_->sign_one(r, now);
    if (!one) return one.error();
    out.push_back(std::move(*one));
  }
  return out;
}

boost::system::result<std::string> sign(std::string_view message, const SignerConfig& config,
                                        std::shared_ptr<const PrivateKey> key, std::int64_t now) {
  std::vector<SignRequest> reqs;
  reqs.push_back(SignRequest{config, std::move(key)});
  Signer s(std::move(reqs));
  s.feed(message);
  auto r = s.finish(now);
  if (!r) return r.error();
  return std::move(r->front());
}

}  // namespace refmail::trust::dkim
