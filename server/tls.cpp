// server/tls.cpp — see tls.hpp. Key generation uses OpenSSL 3's EVP API (P-256).
#include "server/tls.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace refmail::server {
namespace {

// An error text that converts to any result<T, std::string>.
struct Err {
  std::string text;
  template <typename T>
  operator boost::system::result<T, std::string>() && {  // NOLINT(google-explicit-constructor)
    return {boost::system::in_place_error, std::move(text)};
  }
};

std::string ossl_error() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// Writes `data` to `path` via a temp file + fsync + rename, with `mode`.
bool write_atomic(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  return ::rename(tmp.c_str(), path.c_str()) == 0;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

boost::system::result<void, std::string> generate(const std::string& cert_path,
                                                  const std::string& key_path,
                                                  const std::string& hostname) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return Err{"cannot generate a TLS key: " + ossl_error()};
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!cert) return Err{"cannot create a certificate: " + ossl_error()};
  X509_set_version(cert.get(), 2);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_new(), BN_free);
  if (!bn || !BN_rand(bn.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
      !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()))) {
    return Err{"cannot make a certificate serial: " + ossl_error()};
  }
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("refmail self-signed"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  std::string san = "DNS:" + hostname + ",IP:127.0.0.1";
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
  if (!ext) return Err{"cannot add subjectAltName for '" + hostname + "': " + ossl_error()};
  X509_add_ext(cert.get(), ext, -1);
  X509_EXTENSION_free(ext);
  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) return Err{"cannot sign certificate: " + ossl_error()};

  std::unique_ptr<BIO, decltype(&BIO_free)> kb(BIO_new(BIO_s_mem()), BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> cb(BIO_new(BIO_s_mem()), BIO_free);
  if (!PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) ||
      !PEM_write_bio_X509(cb.get(), cert.get())) {
    return Err{"cannot encode the TLS pair: " + ossl_error()};
  }
  // Key first: a cert without its key is useless, a key without a cert is regenerated.
  if (!write_atomic(key_path, bio_string(kb.get()), 0600)) return Err{"cannot write " + key_path};
  if (!write_atomic(cert_path, bio_string(cb.get()), 0644)) return Err{"cannot write " + cert_path};
  return {};
}

}  // namespace

boost::system::result<TlsFiles, std::string> ensure_tls_files(const std::string& cert_file,
                                                              const std::string& key_file,
                                                              const std::string& data_dir,
                                                              const std::string& hostname) {
  if (!cert_file.empty()) return TlsFiles{cert_file, key_file, false};
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::path(data_dir) / "tls";
  fs::create_directories(dir, ec);
  if (ec) return Err{"cannot create " + dir.string() + ": " + ec.message()};
  ::chmod(dir.c_str(), 0700);
  TlsFiles files{(dir / "cert.pem").string(), (dir / "key.pem").string(), false};
  if (fs::exists(files.cert_file, ec) && fs::exists(files.key_file, ec)) return files;
  auto r = generate(files.cert_file, files.key_file, hostname);
  if (!r) return Err{r.error()};
  files.generated = true;
  return files;
}

boost::system::result<std::shared_ptr<boost::asio::ssl::context>, std::string> make_server_tls(
    const TlsFiles& files) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::no_compression | ssl::context::single_dh_use,
                   ec);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->use_certificate_chain_file(files.cert_file, ec);
  if (ec) return Err{"cannot load TLS certificate " + files.cert_file + ": " + ec.message()};
  ctx->use_private_key_file(files.key_file, ssl::context::pem, ec);
  if (ec) return Err{"cannot load TLS key " + files.key_file + ": " + ec.message()};
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return Err{"TLS key " + files.key_file + " does not match certificate " + files.cert_file};
  }
  return ctx;
}

}  // namespace refmail::server
