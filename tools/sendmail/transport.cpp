// tools/sendmail/transport.cpp — blocking sockets + OpenSSL around smtp::ClientSession
// (see transport.hpp). RFC 5321 (dialogue), RFC 3207 (STARTTLS), RFC 8314 (implicit
// TLS), RFC 6125 / RFC 9525 (server identity: OpenSSL's host or IP check).
// SECURITY: SSL_VERIFY_PEER always; no fallback to an unverified connection; every
// socket operation bounded by the account's timeout.
#include "tools/sendmail/transport.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>

namespace refmail::sendmail {

namespace {

bool is_ip_literal(const std::string& host) {
  in_addr a4{};
  in6_addr a6{};
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    // "error:0A000086:SSL routines::certificate verify failed" -> keep the reason part.
    std::string_view s(buf);
    auto last = s.rfind(':');
    out += last == std::string_view::npos ? s : s.substr(last + 1);
  }
  return out;
}

class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (ssl_) {
      if (SSL_is_init_finished(ssl_)) (void)SSL_shutdown(ssl_);  // close_notify; no wait for the peer's
      SSL_free(ssl_);
    }
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }

  Result<void> connect(const std::string& host, std::uint16_t port, std::chrono::seconds timeout) {
    const std::string where = host + ":" + std::to_string(port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    const int g = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
    if (g != 0) {
      const int code = (g == EAI_NONAME || g == EAI_NODATA) ? EX_NOHOST : EX_TEMPFAIL;
      return fail(code, "cannot connect to " + where + ": " + ::gai_strerror(g));
    }
    std::string last_error = "no address";
    for (addrinfo* ai = list; ai; ai = ai->ai_next) {
      const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
      if (fd < 0) {
        last_error = std::strerror(errno);
        continue;
      }
      int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        rc = ::poll(&p, 1, static_cast<int>(timeout.count() * 1000));
        if (rc == 1) {
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
          rc = err == 0 ? 0 : -1;
          errno = err;
        } else {
          if (rc == 0) errno = ETIMEDOUT;
          rc = -1;
        }
      }
      if (rc != 0) {
        last_error = std::strerror(errno);
        ::close(fd);
        continue;
      }
      // Blocking from here on, every read and write bounded by the timeout.
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      timeval tv{static_cast<time_t>(timeout.count()), 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      fd_ = fd;
      break;
    }
    ::freeaddrinfo(list);
    if (fd_ < 0) return fail(EX_TEMPFAIL, "cannot connect to " + where + ": " + last_error);
    return {};
  }

  Result<void> start_tls(const std::string& host, const std::string& ca_file) {
    ERR_clear_error();
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) return fail(EX_SOFTWARE, "TLS failed: " + openssl_errors());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (!ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1) {
        return fail(EX_CONFIG, "cannot load ca_file " + ca_file + ": " + openssl_errors());
      }
    } else if (SSL_CTX_set_default_verify_paths(ctx_) != 1) {
      return fail(EX_CONFIG, "cannot load the system's trusted certificates: " + openssl_errors());
    }
    host_ = host;
    ssl_ = SSL_new(ctx_);
    if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) return fail(EX_SOFTWARE, "TLS failed: " + openssl_errors());
    if (is_ip_literal(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
    } else {
      SSL_set1_host(ssl_, host.c_str());
      SSL_set_tlsext_host_name(ssl_, host.c_str());  // SNI
    }
    if (SSL_connect(ssl_) != 1) {
      const long v = SSL_get_verify_result(ssl_);
      if (v != X509_V_OK) {
        return fail(EX_PROTOCOL, "certificate not trusted: " + host + ": " + X509_verify_cert_error_string(v));
      }
      const int saved = errno;
      std::string why = openssl_errors();
      if (why.empty()) why = saved == EAGAIN ? "timed out" : saved ? std::strerror(saved) : "connection closed";
      return fail(EX_PROTOCOL, "TLS failed: " + why);
    }
    return {};
  }

  // "TLS established: TLSv1.3, TLS_AES_256_GCM_SHA384, certificate verified for HOST".
  [[nodiscard]] std::string tls_summary() const {
    return std::string("TLS established: ") + SSL_get_version(ssl_) + ", " + SSL_get_cipher_name(ssl_) +
           ", certificate verified for " + host_;
  }

  // Some bytes from the server (never empty), or why none came.
  Result<std::string> read_some() {
    char buf[16384];
    if (ssl_) {
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
      const int e = SSL_get_error(ssl_, n);
      if (e == SSL_ERROR_ZERO_RETURN) return fail(EX_TEMPFAIL, "connection closed by the server");
      const int saved = errno;
      std::string why = openssl_errors();
      if (why.empty()) why = (saved == EAGAIN || saved == EWOULDBLOCK) ? "timed out" : "connection closed";
      return fail(EX_TEMPFAIL, why);
    }
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
    if (n == 0) return fail(EX_TEMPFAIL, "connection closed by the server");
    return fail(EX_TEMPFAIL, (errno == EAGAIN || errno == EWOULDBLOCK) ? "timed out" : std::strerror(errno));
  }

  Result<void> write_all(std::string_view data) {
    while (!data.empty()) {
      if (ssl_) {
        const int n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20)));
        if (n <= 0) return fail(EX_TEMPFAIL, "write failed: " + openssl_errors());
        data.remove_prefix(static_cast<std::size_t>(n));
      } else {
        const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EINTR) continue;
          return fail(EX_TEMPFAIL, (errno == EAGAIN || errno == EWOULDBLOCK) ? "timed out" : std::strerror(errno));
        }
        data.remove_prefix(static_cast<std::size_t>(n));
      }
    }
    return {};
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string host_;
};

void log_server(std::ostream* t, std::string_view bytes) {
  if (!t) return;
  while (!bytes.empty()) {
    auto eol = bytes.find('\n');
    std::string_view line = bytes.substr(0, eol);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    *t << "S: " << one_line(line) << "\n";
    if (eol == std::string_view::npos) break;
    bytes.remove_prefix(eol + 1);
  }
}

int exit_for(int code, int permanent) {
  return (code >= 400 && code < 500) ? EX_TEMPFAIL : permanent;
}

std::string reply_of(const smtp::ClientResult& r) {
  return one_line((r.code > 0 ? std::to_string(r.code) + " " : std::string()) + r.reply);
}

}  // namespace

std::vector<smtp::AuthMechanism> mechanisms_for(AuthSetting auth) {
  switch (auth) {
    case AuthSetting::Plain: return {smtp::AuthMechanism::Plain};
    case AuthSetting::Login: return {smtp::AuthMechanism::Login};
    case AuthSetting::XOAuth2: return {smtp::AuthMechanism::XOAuth2};
    case AuthSetting::Auto: break;
  }
  return {smtp::AuthMechanism::Plain, smtp::AuthMechanism::Login};
}

Phase next_phase(std::string_view w, Phase current) {
  if (current == Phase::Data) return Phase::Content;  // the bytes after DATA's 354
  if (w == "QUIT\r\n") return current;               // keep the phase that failed
  if (w.starts_with("EHLO ") || w.starts_with("HELO ")) return Phase::Hello;
  if (w == "STARTTLS\r\n") return Phase::StartTls;
  if (w.starts_with("AUTH ")) return Phase::Auth;
  // Base64 SASL responses never hold ':' or ' ', so these cannot be one.
  if (w.starts_with("MAIL FROM:")) return Phase::Mail;
  if (w.starts_with("RCPT TO:")) return Phase::Rcpt;
  if (current == Phase::Auth) return Phase::Auth;     // SASL responses ("DATA" is base64 too)
  if (w == "DATA\r\n") return Phase::Data;
  return current;
}

std::string transcript_of_write(std::string_view w, Phase phase) {
  if (phase == Phase::Content) return "C: <message: " + std::to_string(w.size()) + " bytes>\n";
  std::string line(w);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (phase == Phase::Auth) {
    if (line.starts_with("AUTH ")) {
      // Keep "AUTH MECH", mask an initial response (RFC 4954 4).
      auto sp = line.find(' ', 5);
      if (sp != std::string::npos) line = line.substr(0, sp) + " <secret masked>";
    } else {
      line = line == "*" ? line : "<secret masked>";
    }
  }
  return "C: " + one_line(line) + "\n";
}

Failure classify_failure(const smtp::ClientResult& r, Phase phase) {
  const std::string text = reply_of(r);
  if (r.code == 0) {
    // Failures decided by the client session itself (smtp/client_session.cpp texts).
    if (r.reply.find("STARTTLS not available") != std::string::npos) {
      return fail(EX_PROTOCOL, "TLS failed: the server does not offer STARTTLS");
    }
    if (r.reply.find("credentials without TLS") != std::string::npos) {
      return fail(EX_PROTOCOL, "TLS failed: refusing to send credentials without TLS");
    }
    if (r.reply.find("AUTH mechanism") != std::string::npos) {
      return fail(EX_NOPERM, "authentication failed: the server offers no AUTH mechanism this account may use");
    }
    if (r.reply.starts_with("4.4.2")) return fail(EX_TEMPFAIL, "connection lost: " + one_line(r.reply.substr(6)));
    if (r.reply.starts_with("4.")) return fail(EX_PROTOCOL, "protocol error: " + one_line(r.reply));
    return fail(EX_UNAVAILABLE, "message refused: " + one_line(r.reply));
  }
  switch (phase) {
    case Phase::Greeting:
    case Phase::Hello:
      return fail(exit_for(r.code, EX_UNAVAILABLE), "server refused the session: " + text);
    case Phase::StartTls:
      return fail(exit_for(r.code, EX_PROTOCOL), "TLS failed: the server refused STARTTLS: " + text);
    case Phase::Auth:
      if (!r.authenticated) return fail(exit_for(r.code, EX_NOPERM), "authentication failed: " + text);
      break;
    case Phase::Mail:
      return fail(exit_for(r.code, EX_UNAVAILABLE), "sender refused: " + text);
    case Phase::Rcpt: {
      std::string all;
      bool temp = false;
      for (const smtp::ClientRcptResult& rr : r.rcpts) {
        if (rr.status == smtp::DeliveryClass::Delivered) continue;
        temp = temp || rr.status == smtp::DeliveryClass::TempFail;
        if (!all.empty()) all += "; ";
        all += rr.address.to_string() + ": " + one_line(std::to_string(rr.code) + " " + rr.reply);
      }
      return fail(temp ? EX_TEMPFAIL : EX_NOUSER, "recipient refused: " + all);
    }
    case Phase::Data:
    case Phase::Content:
      break;
  }
  return fail(exit_for(r.code, EX_UNAVAILABLE), "message refused: " + text);
}

Result<SubmitReport> submit(const SubmitOptions& o, smtp::ClientMessage message) {
  smtp::ClientOptions co;
  co.ehlo_domain = o.ehlo_domain;
  co.auth = o.auth;
  co.use_bdat = false;        // lock-step DATA: every reply belongs to one known command
  co.use_pipelining = false;
  switch (o.tls) {
    case TlsSetting::StartTls: co.tls = smtp::TlsMode::Required; break;
    case TlsSetting::Implicit: co.tls = smtp::TlsMode::Implicit; break;
    case TlsSetting::None:
      if (!o.allow_plaintext) return fail(EX_CONFIG, "tls = \"none\" needs allow_plaintext or --allow-plaintext");
      co.tls = smtp::TlsMode::None;
      co.allow_plaintext_auth = true;
      break;
  }
  Connection conn;
  if (auto c = conn.connect(o.host, o.port, o.timeout); !c) return c.error();
  if (o.transcript) *o.transcript << "connected to " << o.host << ":" << o.port << "\n";
  if (o.tls == TlsSetting::Implicit) {
    if (auto t = conn.start_tls(o.host, o.ca_file); !t) return t.error();
    if (o.transcript) *o.transcript << conn.tls_summary() << "\n";
  }

  smtp::ClientSession session(co, std::move(message));
  Phase phase = Phase::Greeting;
  std::optional<Failure> tls_failure;
  // Performs the session's actions; may recurse once through tls_started().
  auto perform = [&](auto&& self, std::vector<smtp::ClientAction> actions) -> void {
    for (auto& a : actions) {
      if (auto* w = std::get_if<smtp::ClientWrite>(&a)) {
        phase = next_phase(w->bytes, phase);
        if (o.transcript) *o.transcript << transcript_of_write(w->bytes, phase);
        if (auto r = conn.write_all(w->bytes); !r) {
          if (!session.finished()) self(self, session.connection_lost(r.error().message));
          return;
        }
      } else if (std::holds_alternative<smtp::ClientStartTls>(a)) {
        if (auto t = conn.start_tls(o.host, o.ca_file); !t) {
          tls_failure = t.error();
          return;
        }
        if (o.transcript) *o.transcript << conn.tls_summary() << "\n";
        self(self, session.tls_started());
      }
    }
  };
  while (!session.finished() && !tls_failure) {
    auto bytes = conn.read_some();
    if (!bytes) {
      perform(perform, session.connection_lost(bytes.error().message));
      break;
    }
    log_server(o.transcript, *bytes);
    perform(perform, session.feed(*bytes));
  }
  if (tls_failure) return *tls_failure;
  if (!session.finished()) return fail(EX_SOFTWARE, "the SMTP session did not finish");
  const smtp::ClientResult& r = session.result();
  if (r.status != smtp::DeliveryClass::Delivered) return classify_failure(r, phase);
  SubmitReport report;
  for (const smtp::ClientRcptResult& rr : r.rcpts) {
    if (rr.status == smtp::DeliveryClass::Delivered) continue;
    report.refused.push_back(rr.address.to_string() + ": " + one_line(std::to_string(rr.code) + " " + rr.reply));
    if (rr.status == smtp::DeliveryClass::TempFail) report.exit_code = EX_TEMPFAIL;
    else if (report.exit_code == 0) report.exit_code = EX_NOUSER;
  }
  return report;
}

}  // namespace refmail::sendmail
