// trust/dkim_crypto.cpp — the OpenSSL 3 side of DKIM: private keys (PEM, Ed25519 seeds),
// key generation, the DNS record of a key, public keys from key records, and the two
// signature algorithms (RFC 6376 3.3.1 rsa-sha256: PKCS#1 v1.5 over SHA-256; RFC 8463
// ed25519-sha256: PureEdDSA over the SHA-256 digest of the header hash input).
// SECURITY: public keys come from DNS (untrusted): DER is parsed by OpenSSL with the
// input length bounded (kMaxKeyRecordBytes), RSA sizes bounded both ways.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "trust/dkim.hpp"
#include "trust/dkim_internal.hpp"

namespace refmail::trust::dkim {

using namespace detail;

PrivateKey::PrivateKey(std::unique_ptr<Impl> impl, Algorithm a, unsigned bits)
    : impl_(std::move(impl)), algorithm_(a), bits_(bits) {}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;

namespace {

boost::system::result<PrivateKey> wrap(EVP_PKEY* pkey) {
  auto impl = std::make_unique<PrivateKey::Impl>();
  impl->pkey = pkey;
  const int id = EVP_PKEY_get_base_id(pkey);
  if (id == EVP_PKEY_ED25519) return PrivateKey::Impl::make(std::move(impl), Algorithm::Ed25519Sha256, 256);
  if (id != EVP_PKEY_RSA) return errc::unsupported;
  const int bits = EVP_PKEY_get_bits(pkey);
  if (bits < static_cast<int>(kMinRsaBits)) return errc::key_too_small;
  if (bits > static_cast<int>(kMaxRsaBits)) return errc::too_large;
  return PrivateKey::Impl::make(std::move(impl), Algorithm::RsaSha256, static_cast<unsigned>(bits));
}

}  // namespace

PrivateKey PrivateKey::Impl::make(std::unique_ptr<Impl> impl, Algorithm a, unsigned bits) {
  return PrivateKey(std::move(impl), a, bits);
}

boost::system::result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  if (pem.size() > 64 * 1024) return errc::too_large;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) return errc::crypto;
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ERR_clear_error();
  if (!pkey) return errc::bad_key;
  return wrap(pkey);
}

boost::system::result<PrivateKey> PrivateKey::from_ed25519_seed(std::span<const std::uint8_t> seed) {
  if (seed.size() != 32) return errc::bad_key;
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size());
  if (!pkey) return errc::crypto;
  return wrap(pkey);
}

std::string PrivateKey::private_pem() const {
  std::string out;
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return out;
  if (PEM_write_bio_PrivateKey(bio, impl_->pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1) {
    char* p = nullptr;
    const long n = BIO_get_mem_data(bio, &p);
    out.assign(p, static_cast<std::size_t>(n));
  }
  BIO_free(bio);
  return out;
}

std::string PrivateKey::dns_record() const {
  std::string key;
  if (algorithm_ == Algorithm::Ed25519Sha256) {
    // RFC 8463 4: p= is the raw 32-byte public key, base64.
    unsigned char raw[32];
    std::size_t n = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(impl_->pkey, raw, &n) == 1)
      key.assign(reinterpret_cast<const char*>(raw), n);
    return "v=DKIM1; k=ed25519; p=" + base64(key);
  }
  // RFC 6376 3.6.1: p= is the DER SubjectPublicKeyInfo, base64.
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(impl_->pkey, &der);
  if (n > 0) key.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return "v=DKIM1; k=rsa; p=" + base64(key);
}

boost::system::result<PrivateKey> generate_rsa_key(unsigned bits) {
  if (bits < kMinRsaBits || bits > kMaxRsaBits) return errc::bad_argument;
  EVP_PKEY* pkey = EVP_RSA_gen(bits);
  if (!pkey) return errc::crypto;
  return wrap(pkey);
}

boost::system::result<PrivateKey> generate_ed25519_key() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!pkey) return errc::crypto;
  return wrap(pkey);
}

namespace detail {

PublicKey::~PublicKey() { EVP_PKEY_free(pkey); }

boost::system::result<std::unique_ptr<PublicKey>, SignatureError> load_public_key(const KeyRecord& k) {
  auto out = std::make_unique<PublicKey>();
  const auto* p = reinterpret_cast<const unsigned char*>(k.public_key.data());
  const long n = static_cast<long>(k.public_key.size());
  if (k.type == KeyType::Ed25519) {
    if (k.public_key.size() != 32)
      return SignatureError{errc::bad_key, "ed25519 key is not 32 bytes"};
    out->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, p, 32);
    if (!out->pkey) return SignatureError{errc::bad_key, "not an ed25519 key"};
    out->bits = 256;
    return out;
  }
  // RFC 6376 3.6.1 says SubjectPublicKeyInfo; a bare RSAPublicKey (PKCS#1) is also seen
  // in the wild and accepted by dkimpy and OpenDKIM.
  const unsigned char* q = p;
  out->pkey = d2i_PUBKEY(nullptr, &q, n);
  if (!out->pkey || q != p + n) {
    EVP_PKEY_free(out->pkey);
    q = p;
    out->pkey = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &q, n);
    if (out->pkey && q != p + n) {
      EVP_PKEY_free(out->pkey);
      out->pkey = nullptr;
    }
  }
  ERR_clear_error();
  if (!out->pkey) return SignatureError{errc::bad_key, "p= is not an RSA public key"};
  if (EVP_PKEY_get_base_id(out->pkey) != EVP_PKEY_RSA)
    return SignatureError{errc::bad_key, "p= is not an RSA key (k=rsa)"};
  const int bits = EVP_PKEY_get_bits(out->pkey);
  out->bits = bits > 0 ? static_cast<unsigned>(bits) : 0;
  if (out->bits > kMaxRsaBits) return SignatureError{errc::too_large, "key too large"};
  return out;
}

bool verify_signature(Algorithm a, EVP_PKEY* pkey, std::string_view data, std::string_view sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return false;
  int ok = 0;
  if (a == Algorithm::RsaSha256) {
    if (EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1)
      ok = EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char*>(data.data()), data.size());
  } else {
    // RFC 8463 3: Ed25519 signs the SHA-256 hash of the header hash input.
    const auto digest = sha256(data);
    if (EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey) == 1)
      ok = EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            digest.data(), digest.size());
  }
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok == 1;
}

boost::system::result<std::string> sign_data(const PrivateKey& key, std::string_view data) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return errc::crypto;
  std::string input(data);
  const EVP_MD* md = EVP_sha256();
  if (key.algorithm() == Algorithm::Ed25519Sha256) {
    const auto digest = sha256(data);
    input.assign(reinterpret_cast<const char*>(digest.data()), digest.size());
    md = nullptr;
  }
  std::string sig;
  std::size_t n = 0;
  bool ok = EVP_DigestSignInit(ctx, nullptr, md, nullptr, key.impl().pkey) == 1 &&
            EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()) == 1;
  if (ok) {
    sig.resize(n);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n,
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    sig.resize(n);
  }
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  if (!ok) return errc::crypto;
  return sig;
}

}  // namespace detail
}  // namespace refmail::trust::dkim
