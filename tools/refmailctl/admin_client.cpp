// tools/refmailctl/admin_client.cpp — see admin_client.hpp.
#include "tools/refmailctl/admin_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace refmail::tools {
namespace {
constexpr std::size_t kMaxResponseBytes = 64u << 20;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool send_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}
}  // namespace

AdminResponse AdminClient::call(const std::string& method, const std::string& path,
                                const std::string& json_body) const {
  AdminResponse out;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof addr.sun_path) {
    out.error = "admin socket path too long: " + socket_path_;
    return out;
  }
  std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  Fd s{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) {
    out.error = std::string("cannot create a socket: ") + std::strerror(errno);
    return out;
  }
  timeval tv{600, 0};  // fsck and backup of a large store take a while
  ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    if (e == ENOENT || e == ECONNREFUSED) {
      out.error = "refmaild is not running (no daemon answers at " + socket_path_ + ")";
    } else if (e == EACCES) {
      out.error = "permission denied on " + socket_path_ + " (run as the daemon's user)";
    } else {
      out.error = "cannot connect to " + socket_path_ + ": " + std::strerror(e);
    }
    return out;
  }
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: refmaild\r\nConnection: close\r\n";
  if (!json_body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(json_body.size()) + "\r\n";
  }
  req += "\r\n" + json_body;
  if (!send_all(s.fd, req)) {
    out.error = "refmaild closed the admin connection";
    return out;
  }
  std::string resp;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.error = std::string("reading the daemon's answer failed: ") + std::strerror(errno);
      return out;
    }
    if (n == 0) break;
    resp.append(buf, static_cast<std::size_t>(n));
    if (resp.size() > kMaxResponseBytes) {
      out.error = "the daemon's answer is too large";
      return out;
    }
  }
  auto head_end = resp.find("\r\n\r\n");
  if (resp.compare(0, 9, "HTTP/1.1 ") != 0 || head_end == std::string::npos || resp.size() < 12) {
    out.error = "the daemon's answer is not HTTP";
    return out;
  }
  out.status = std::atoi(resp.c_str() + 9);
  out.body = resp.substr(head_end + 4);
  return out;
}

std::string url_escape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string o;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '@' || c == '.' || c == '-' || c == '_' || c == '+') {
      o.push_back(static_cast<char>(c));
    } else {
      o.push_back('%');
      o.push_back(hex[c >> 4]);
      o.push_back(hex[c & 15]);
    }
  }
  return o;
}

}  // namespace refmail::tools
