// trust/dkim_verify.cpp — DKIM verification (RFC 6376 6, RFC 8463) and its RFC 8601
// result text. Every DKIM-Signature field gets a verdict (at most kMaxSignaturesVerified
// are evaluated); one body pass per (body canonicalization, l=) serves all signatures.
// SECURITY: the message, its signatures and the key records are untrusted. Work is
// bounded: signatures per message, names per h=, RSA sizes (both ways), header bytes.
#include <algorithm>
#include <map>

#include "trust/dkim.hpp"
#include "trust/dkim_internal.hpp"

namespace refmail::trust::dkim {

using namespace detail;

std::string_view status_name(Status s) noexcept {
  switch (s) {
    case Status::Pass: return "pass";
    case Status::Fail: return "fail";
    case Status::Neutral: return "neutral";
    case Status::Policy: return "policy";
    case Status::TempError: return "temperror";
    case Status::PermError: return "permerror";
    case Status::None: return "none";
  }
  return "none";
}

std::string SignatureResult::body_length_note() const {
  if (!body_length) return {};
  const std::uint64_t covered = std::min(*body_length, body_bytes);
  return "l= covers " + std::to_string(covered) + " of " + std::to_string(body_bytes) + " body bytes";
}

struct Verifier::Impl {
  KeyLookup& keys;
  std::int64_t now;
  HeaderCollector headers;
  bool finished = false;
  using HasherKey = std::pair<Canon, std::optional<std::uint64_t>>;
  std::map<HasherKey, BodyHasher> hashers;
  struct Pending {
    std::size_t field = 0;  // index into headers.fields()
    std::optional<Signature> sig;
    SignatureResult result;  // final when !sig
  };
  std::vector<Pending> pending;
  bool prepared = false;

  Impl(KeyLookup& k, std::int64_t n) : keys(k), now(n) {}

  // The header block is complete: parse the signatures, set up the body hashers.
  void prepare() {
    prepared = true;
    const auto& fields = headers.fields();
    std::size_t seen = 0;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].name != "dkim-signature") continue;
      Pending p;
      p.field = i;
      const bool over = ++seen > kMaxSignaturesVerified;
      const std::string& text = fields[i].text;
      // Parsing is cheap and bounded (the header block is); an unchecked signature is
      // still parsed so that its d=/s= can be reported.
      auto parsed = parse_signature(std::string_view(text).substr(text.find(':') + 1));
      if (!parsed) {
        p.result.status = Status::PermError;
        p.result.reason = parsed.error().reason;
      } else {
        Signature& s = *parsed;
        p.result.domain = s.domain;
        p.result.selector = s.selector;
        p.result.identity = s.identity;
        p.result.algorithm = s.algorithm_text;
        p.result.b_prefix = s.b_text.substr(0, 8);
        p.result.body_length = s.body_length;
        if (!over) {
          hashers.try_emplace(HasherKey{s.body_canon, s.body_length}, s.body_canon, s.body_length);
          p.sig = std::move(s);
        }
      }
      if (over) {  // SECURITY: no DNS query, no hashing, no key operation
        p.result.status = Status::None;
        p.result.reason = "not checked: too many signatures";
      }
      pending.push_back(std::move(p));
    }
  }

  void body(std::string_view bytes) {
    if (!prepared) prepare();
    for (auto& [key, h] : hashers) h.update(bytes);
  }

  void check(Pending& p) {
    const Signature& s = *p.sig;
    SignatureResult& r = p.result;
    r.status = Status::PermError;
    BodyHasher& hasher = hashers.at(HasherKey{s.body_canon, s.body_length});
    r.body_bytes = hasher.canonical_bytes();

    // RFC 6376 6.1.1: time checks (the caller's clock).
    if (s.expiration && *s.expiration < now) {
      r.status = Status::Fail;
      r.reason = "signature expired";
      return;
    }
    if (s.timestamp && *s.timestamp > now + kMaxClockSkewSeconds) {
      r.reason = "signature timestamp in the future";
      return;
    }
    // RFC 6376 3.4.5: l= beyond the body cannot have been signed as written.
    if (s.body_length && *s.body_length > r.body_bytes) {
      r.reason = "l= is larger than the body";
      return;
    }

    // RFC 6376 6.1.2: the key.
    const std::string qname = s.selector + "._domainkey." + s.domain;
    const KeyAnswer answer = keys.txt(qname);
    if (answer.status == KeyAnswer::Status::TempError) {
      r.status = Status::TempError;
      r.reason = "key lookup failed (temporary)";
      return;
    }
    if (answer.status == KeyAnswer::Status::NxDomain || answer.records.empty()) {
      r.reason = "no key for signature";
      return;
    }
    std::optional<KeyRecord> key;
    std::string key_error;
    for (std::size_t i = 0; i < answer.records.size() && i < kMaxKeyRecords; ++i) {
      auto k = parse_key_record(answer.records[i]);
      if (k) {
        key = std::move(*k);
        break;
      }
      if (key_error.empty()) key_error = k.error().reason;
    }
    if (!key) {
      r.reason = key_error;
      return;
    }
    r.testing = key->testing;
    if (key->revoked) {
      r.reason = "key revoked";
      return;
    }
    const KeyType want = s.algorithm == Algorithm::RsaSha256 ? KeyType::Rsa : KeyType::Ed25519;
    if (key->type != want) {
      r.reason = "key type does not match a=";
      return;
    }
    if (!key->sha256_allowed) {
      r.reason = "key h= does not allow sha256";
      return;
    }
    if (!key->email_service) {
      r.reason = "key s= does not allow email";
      return;
    }
    if (key->strict_identity) {  // t=s: i= domain exactly d=
      const std::string idom = to_lower(s.identity.substr(s.identity.rfind('@') + 1));
      if (idom != s.domain) {
        r.reason = "key t=s requires i= domain equal to d=";
        return;
      }
    }
    auto pub = load_public_key(*key);
    if (!pub) {
      r.reason = pub.error().reason;
      return;
    }
    r.key_bits = (*pub)->bits;
    if (want == KeyType::Rsa && r.key_bits < kMinRsaBits) {
      // RFC 8301 3.2: keys under 1024 bits MUST NOT be accepted.
      r.status = Status::Fail;
      r.reason = "key too small (" + std::to_string(r.key_bits) + " bits)";
      return;
    }

    // RFC 6376 6.1.3: body hash, then header hash.
    const auto& digest = hasher.finish();
    if (std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()) != s.bh) {
      r.status = Status::Fail;
      r.reason = "body hash mismatch";
      return;
    }
    const auto& fields = headers.fields();
    const std::string data =
        header_hash_input(fields, s.headers, s.header_canon, without_b_value(fields[p.field].text));
    if (!verify_signature(s.algorithm, (*pub)->pkey, data, s.b)) {
      r.status = Status::Fail;
      r.reason = "signature did not verify";
      return;
    }
    r.status = Status::Pass;
    r.reason = r.body_length_note();
  }

  std::vector<SignatureResult> finish() {
    finished = true;
    headers.finish();
    if (!prepared) prepare();
    for (auto& [key, h] : hashers) h.finish();
    std::vector<SignatureResult> out;
    out.reserve(pending.size());
    for (Pending& p : pending) {
      if (p.sig) check(p);
      out.push_back(std::move(p.result));
    }
    return out;
  }
};

Verifier::Verifier(KeyLookup& keys, std::int64_t now) : impl_(std::make_unique<Impl>(keys, now)) {}
Verifier::~Verifier() = default;

void Verifier::feed(std::string_view chunk) {
  if (impl_->finished) return;
  impl_->headers.feed(chunk, [this](std::string_view b) { impl_->body(b); });
}

bool Verifier::header_complete() const noexcept { return impl_->headers.in_body(); }

std::vector<std::string> Verifier::key_queries() {
  std::vector<std::string> out;
  if (!impl_->headers.in_body()) return out;
  if (!impl_->prepared) impl_->prepare();
  for (const Impl::Pending& p : impl_->pending) {
    if (!p.sig) continue;
    std::string q = p.sig->selector + "._domainkey." + p.sig->domain;
    if (std::find(out.begin(), out.end(), q) == out.end()) out.push_back(std::move(q));
  }
  return out;
}

std::vector<SignatureResult> Verifier::finish() {
  if (impl_->finished) return {};
  return impl_->finish();
}

std::vector<SignatureResult> verify(std::string_view message, KeyLookup& keys, std::int64_t now) {
  Verifier v(keys, now);
  v.feed(message);
  return v.finish();
}

namespace {

// RFC 8601 2.2 / RFC 2045 token, else a quoted-string.
std::string value_text(std::string_view v) {
  bool token = !v.empty();
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos)
      token = false;
  }
  if (token) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) continue;  // SECURITY: no controls into a header
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::string authentication_result(const SignatureResult& r) {
  std::string out = "dkim=";
  out += status_name(r.status);
  if (r.status != Status::Pass && !r.reason.empty()) out += " reason=" + value_text(r.reason);
  if (!r.domain.empty()) out += " header.d=" + value_text(r.domain);
  if (!r.selector.empty()) out += " header.s=" + value_text(r.selector);
  if (!r.identity.empty() && r.identity != "@" + r.domain) out += " header.i=" + value_text(r.identity);
  if (!r.algorithm.empty()) out += " header.a=" + value_text(r.algorithm);
  if (!r.b_prefix.empty()) out += " header.b=" + value_text(r.b_prefix);
  return out;
}

}  // namespace refmail::trust::dkim
