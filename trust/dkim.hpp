// trust/dkim.hpp — DKIM (RFC 6376, RFC 8463 Ed25519): canonicalization, signature and
// key-record parsing, verification and signing, over OpenSSL 3. Sans-I/O: no sockets,
// no clock (the caller passes `now`), no store; DNS is injected through KeyLookup.
// The message is fed in chunks of any size; the body is canonicalized and hashed as it
// streams, so neither signing nor verifying needs the whole message in one buffer.
// SECURITY: messages, signatures and key records are untrusted input. Every parser is
// total (errors are values, nothing throws) and bounded by the constants below.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "trust/dkim_errc.hpp"

namespace refmail::trust::dkim {

// ---------------------------------------------------------------- limits
// SECURITY: bounds on the work and memory one message may cost a verifier.

// Longest DKIM-Signature field (name, value and folds) that is parsed; longer -> permerror.
inline constexpr std::size_t kMaxSignatureFieldBytes = 64 * 1024;
// Most names in h=; more -> permerror (each name costs a header lookup and hashing).
inline constexpr std::size_t kMaxSignedHeaders = 64;
// Most tags in one tag-list (signature or key record); more -> permerror.
inline constexpr std::size_t kMaxTags = 64;
// Most DKIM-Signature fields verified per message (each costs a DNS query and a public
// key operation); the rest are reported as Status::None "not checked: too many signatures".
inline constexpr std::size_t kMaxSignaturesVerified = 10;
// Header bytes collected from the message; past this the header block is cut at the last
// whole line and the rest is body (as mime::Limits does): signatures over headers beyond
// the cut fail, nothing is rejected.
inline constexpr std::size_t kMaxHeaderBlockBytes = 256 * 1024;
// Most header fields kept from the header block (the rest are ignored, see above).
inline constexpr std::size_t kMaxHeaderFields = 2000;
// Longest key record (TXT strings concatenated) that is parsed.
inline constexpr std::size_t kMaxKeyRecordBytes = 8 * 1024;
// Most TXT records looked at per key query.
inline constexpr std::size_t kMaxKeyRecords = 4;
// RSA key sizes accepted by the verifier (RFC 8301 3.2: at least 1024 bits; the upper
// bound caps the cost of one verification) and by the signer.
inline constexpr unsigned kMinRsaBits = 1024;
inline constexpr unsigned kMaxRsaBits = 8192;
// How far in the future t= may be (clock skew) before the signature is refused.
inline constexpr std::int64_t kMaxClockSkewSeconds = 300;

// ---------------------------------------------------------------- canonicalization

enum class Canon : std::uint8_t { Simple = 0, Relaxed = 1 };
[[nodiscard]] std::string_view canon_name(Canon c) noexcept;

enum class Algorithm : std::uint8_t { RsaSha256 = 0, Ed25519Sha256 = 1 };
[[nodiscard]] std::string_view algorithm_name(Algorithm a) noexcept;  // "rsa-sha256", ...

// One header field as it appears in the message: `name:value` with its folds, line
// endings already CRLF, without the field's final CRLF.
// Returns its RFC 6376 3.4.1 (simple) or 3.4.2 (relaxed) form, ending in CRLF.
[[nodiscard]] std::string canonicalize_header(Canon c, std::string_view field);

// Streaming body canonicalizer (RFC 6376 3.4.3 simple, 3.4.4 relaxed) feeding SHA-256.
// Fed chunks of any size (a CRLF may be split between chunks); trailing empty lines are
// held back as a count, never as bytes, so memory is constant. With `limit` (l=), only
// the first `limit` canonical bytes are hashed, but all are counted.
// Line endings: a bare LF counts as CRLF (as dkimpy does: it splits on "\r?\n"); a bare
// CR is an ordinary byte. Relaxed, a last line without line ending keeps its trailing
// whitespace as one SP before the added CRLF (dkimpy's order of operations).
class BodyHasher {
 public:
  explicit BodyHasher(Canon c, std::optional<std::uint64_t> limit = std::nullopt);
  ~BodyHasher();
  BodyHasher(BodyHasher&&) noexcept;
  BodyHasher& operator=(BodyHasher&&) noexcept;

  // REQUIRES: finish() not yet called.
  void update(std::string_view chunk);
  // Ends the body; returns SHA-256 of the hashed canonical bytes. Idempotent.
  const std::array<std::uint8_t, 32>& finish();
  // Canonical body bytes seen (after finish(): all of them, including beyond l=).
  [[nodiscard]] std::uint64_t canonical_bytes() const noexcept { return total_; }
  [[nodiscard]] std::uint64_t hashed_bytes() const noexcept { return hashed_; }

 private:
  void emit(const char* p, std::size_t n);
  void emit_char(char c) { emit(&c, 1); }
  void content(char c);
  void line_end();

  Canon canon_;
  std::optional<std::uint64_t> limit_;
  struct Sha;
  std::unique_ptr<Sha> sha_;
  std::uint64_t total_ = 0;
  std::uint64_t hashed_ = 0;
  std::uint64_t held_crlf_ = 0;   // empty-line ends not yet written (maybe trailing)
  bool pending_cr_ = false;       // a CR whose meaning depends on the next byte
  bool pending_wsp_ = false;      // relaxed: a run of WSP not yet written
  bool any_ = false;              // some canonical content written
  bool line_open_ = false;        // content written since the last line end
  bool finished_ = false;
  std::array<std::uint8_t, 32> digest_{};
};

// ---------------------------------------------------------------- tag lists

struct Tag {
  std::string name;
  std::string value;  // FWS around the value removed; inner FWS kept (callers strip it)
};
// RFC 6376 3.2 tag-list. Errors (syntax, duplicate tag, more than kMaxTags) are values.
[[nodiscard]] boost::system::result<std::vector<Tag>> parse_tag_list(std::string_view text);

// ---------------------------------------------------------------- signature

struct Signature {
  Algorithm algorithm = Algorithm::RsaSha256;
  std::string algorithm_text;   // a= as written (lower-cased)
  Canon header_canon = Canon::Simple;
  Canon body_canon = Canon::Simple;
  std::string domain;           // d=, lower-cased
  std::string selector;         // s=
  std::string identity;         // i= (default "@" + d=)
  std::vector<std::string> headers;  // h=, lower-cased, in order
  std::string b;                // b= decoded
  std::string b_text;           // b= base64 without FWS (for header.b)
  std::string bh;               // bh= decoded (32 bytes for SHA-256)
  std::optional<std::uint64_t> body_length;  // l=
  std::optional<std::int64_t> timestamp;     // t=
  std::optional<std::int64_t> expiration;    // x=
};

struct SignatureError {
  errc code = errc::ok;
  std::string reason;  // human text: what was wrong with which tag
};

// Parses the value of a DKIM-Signature field (after the colon) per RFC 6376 3.5. Checks
// v=1, required tags (a b bh d h s), a=, c=, q=dns/txt, i= within d=, l= and t=/x= syntax,
// x >= t, h= contains From, base64 of b=/bh=; unknown tags are ignored. rsa-sha1 is
// refused (RFC 8301: insecure). Errors are values with a human reason.
[[nodiscard]] boost::system::result<Signature, SignatureError> parse_signature(std::string_view value);

// ---------------------------------------------------------------- key records

enum class KeyType : std::uint8_t { Rsa = 0, Ed25519 = 1 };

struct KeyRecord {
  KeyType type = KeyType::Rsa;
  std::string public_key;      // p= decoded: DER SubjectPublicKeyInfo / RSAPublicKey, or 32 raw bytes
  bool revoked = false;        // p= empty
  bool testing = false;        // t=y
  bool strict_identity = false;  // t=s: i= domain must equal d=
  bool sha256_allowed = true;  // h= absent or lists sha256
  bool email_service = true;   // s= absent, "*" or lists "email"
};

// RFC 6376 3.6.1 key record (TXT strings already concatenated). v=DKIM1 if present must
// be first; k= rsa (default) or ed25519; unknown tags ignored. Errors are values.
[[nodiscard]] boost::system::result<KeyRecord, SignatureError> parse_key_record(std::string_view txt);

// ---------------------------------------------------------------- verification

struct KeyAnswer {
  enum class Status : std::uint8_t { Found = 0, NxDomain = 1, TempError = 2 };
  Status status = Status::NxDomain;
  std::vector<std::string> records;  // TXT records, each with its strings concatenated
};

// The DNS, injected. Called synchronously from Verifier::finish().
class KeyLookup {
 public:
  virtual ~KeyLookup() = default;
  // `qname` is "<selector>._domainkey.<domain>" (no trailing dot).
  [[nodiscard]] virtual KeyAnswer txt(std::string_view qname) = 0;
};

// RFC 8601 2.7.1 result names; None = the signature was not evaluated.
enum class Status : std::uint8_t { Pass, Fail, Neutral, Policy, TempError, PermError, None };
[[nodiscard]] std::string_view status_name(Status s) noexcept;

struct SignatureResult {
  Status status = Status::PermError;
  std::string reason;             // human text ("body hash mismatch", "key too small", ...)
  std::string domain;             // d= (empty if unparsable)
  std::string selector;           // s=
  std::string identity;           // i=
  std::string algorithm;          // a= as written
  std::string b_prefix;           // first 8 characters of b= (RFC 6008 header.b)
  bool testing = false;           // key has t=y
  unsigned key_bits = 0;          // RSA modulus bits, 256 for Ed25519; 0 if no key
  std::optional<std::uint64_t> body_length;  // l=, when the signature used it
  std::uint64_t body_bytes = 0;   // canonical body bytes of the message (for l= reporting)
  // "l= covers N of M body bytes" when l= was used, else empty: content past N is unsigned.
  [[nodiscard]] std::string body_length_note() const;
};

// Streaming verifier: feed() the message (chunks of any size, header and body), then
// finish() once. Every DKIM-Signature field (at most kMaxSignaturesVerified) yields one
// result, in header order. One body pass is shared by signatures with the same (body
// canonicalization, l=).
class Verifier {
 public:
  // `keys` must outlive the Verifier. `now` is Unix seconds, for t= and x=.
  Verifier(KeyLookup& keys, std::int64_t now);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // REQUIRES: finish() not yet called.
  void feed(std::string_view chunk);
  // Once the header block is complete (header_complete()): the key names finish() will
  // ask KeyLookup for, in order, without duplicates, so a caller with an asynchronous
  // resolver can fetch them while the body streams and answer from its cache.
  [[nodiscard]] bool header_complete() const noexcept;
  [[nodiscard]] std::vector<std::string> key_queries();
  [[nodiscard]] std::vector<SignatureResult> finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whole-message convenience over Verifier.
[[nodiscard]] std::vector<SignatureResult> verify(std::string_view message, KeyLookup& keys,
                                                  std::int64_t now);

// RFC 8601 method result, e.g. "dkim=pass header.d=example.com header.s=sel
// header.a=rsa-sha256 header.b=abcdefgh" (with " reason=..." unless pass). Values that
// are not RFC 2045 tokens are quoted.
[[nodiscard]] std::string authentication_result(const SignatureResult& r);

// ---------------------------------------------------------------- signing

// A private key for signing. Owns an OpenSSL EVP_PKEY (kept out of this header).
class PrivateKey {
 public:
  // A PEM private key (PKCS#8 or traditional RSA "BEGIN RSA PRIVATE KEY"): RSA of
  // kMinRsaBits..kMaxRsaBits bits, or Ed25519.
  [[nodiscard]] static boost::system::result<PrivateKey> from_pem(std::string_view pem);
  // A raw 32-byte Ed25519 seed (RFC 8032 private key), as dkimpy stores it (base64).
  [[nodiscard]] static boost::system::result<PrivateKey> from_ed25519_seed(std::span<const std::uint8_t> seed);

  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  ~PrivateKey();

  [[nodiscard]] Algorithm algorithm() const noexcept { return algorithm_; }
  [[nodiscard]] unsigned bits() const noexcept { return bits_; }
  // PKCS#8 PEM of the private key.
  [[nodiscard]] std::string private_pem() const;
  // The key record to publish at <selector>._domainkey.<domain>:
  // "v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>" or "v=DKIM1; k=ed25519; p=<base64 32 bytes>".
  [[nodiscard]] std::string dns_record() const;

  struct Impl;  // the EVP_PKEY; internal
  [[nodiscard]] const Impl& impl() const noexcept { return *impl_; }

 private:
  PrivateKey(std::unique_ptr<Impl> impl, Algorithm a, unsigned bits);
  std::unique_ptr<Impl> impl_;
  Algorithm algorithm_;
  unsigned bits_;
};

// Key generation (for `refmailctl dkim keygen`): RSA of `bits` (>= 2048 recommended,
// REQUIRES kMinRsaBits <= bits <= kMaxRsaBits) or Ed25519. Uses OpenSSL's RNG.
[[nodiscard]] boost::system::result<PrivateKey> generate_rsa_key(unsigned bits = 2048);
[[nodiscard]] boost::system::result<PrivateKey> generate_ed25519_key();

// The default signed header names (lower-case) and those signed one extra time
// (oversigning: a copy added later in transit then breaks the signature).
[[nodiscard]] const std::vector<std::string>& default_signed_headers();
[[nodiscard]] const std::vector<std::string>& default_oversigned_headers();

struct SignerConfig {
  std::string domain;     // d=
  std::string selector;   // s=
  std::optional<std::string> identity;  // i= (must be within d=)
  Canon header_canon = Canon::Relaxed;
  Canon body_canon = Canon::Relaxed;
  std::vector<std::string> headers = default_signed_headers();      // signed when present
  std::vector<std::string> oversign = default_oversigned_headers();  // listed once more
  std::optional<std::int64_t> expire_after_seconds;  // x = t + this
};

struct SignRequest {
  SignerConfig config;
  std::shared_ptr<const PrivateKey> key;
};

// Signs one message for several keys in one pass (e.g. RSA + Ed25519 dual signing):
// feed() the message in chunks of any size, then finish(now). The header block is held
// (bounded by kMaxHeaderBlockBytes); the body streams into one hasher per body
// canonicalization. finish() returns one complete "DKIM-Signature: ...\r\n" field per
// request, in request order, folded at <= 78 columns, to be prepended to the message.
class Signer {
 public:
  explicit Signer(std::vector<SignRequest> requests);
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  void feed(std::string_view chunk);
  // `now` is Unix seconds (t=). Errors: a config error (empty domain, bad identity), a
  // header block over the limit, an OpenSSL failure.
  [[nodiscard]] boost::system::result<std::vector<std::string>> finish(std::int64_t now);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whole-message convenience: one signature field.
[[nodiscard]] boost::system::result<std::string> sign(std::string_view message, const SignerConfig& config,
                                                      std::shared_ptr<const PrivateKey> key,
                                                      std::int64_t now);

}  // namespace refmail::trust::dkim
