// server/tls.hpp — TLS material for the listeners: load the configured certificate
// and key, or generate a self-signed pair into data_dir/tls on first start.
// SECURITY: TLS 1.2 minimum; the private key is written 0600, atomically (temp file +
// rename), so a crash never leaves half a key; no SSLv3/TLS1.0/1.1, no compression.
#pragma once
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/result.hpp>

namespace refmail::server {

struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  bool generated = false;
};

// Returns the configured pair if both paths are set; otherwise the pair in
// `data_dir`/tls, generating a self-signed one for `hostname` if absent.
// On failure the error string is one line fit for the log.
[[nodiscard]] boost::system::result<TlsFiles, std::string> ensure_tls_files(
    const std::string& cert_file, const std::string& key_file, const std::string& data_dir,
    const std::string& hostname);

// A server context with the pair loaded; the error string names the file at fault.
[[nodiscard]] boost::system::result<std::shared_ptr<boost::asio::ssl::context>, std::string>
make_server_tls(const TlsFiles& files);

}  // namespace refmail::server
