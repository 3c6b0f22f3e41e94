// server/dns_channel.cpp — see dns_internal.hpp. c-ares 1.18 API: ares_query, driven
// with ares_getsock / poll / ares_process_fd on the calling thread.
#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <poll.h>

#include <mutex>

#include "server/dns_internal.hpp"

namespace refmail::server::dns_detail {
namespace {

void on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto* q = static_cast<Query*>(arg);
  q->status = status;
  if (abuf && alen > 0) q->answer.assign(reinterpret_cast<const char*>(abuf), static_cast<std::size_t>(alen));
  q->done = true;
}

}  // namespace

Channel::Channel(const DnsOptions& o) {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
  ares_options opts{};
  opts.timeout = static_cast<int>(o.timeout.count());
  opts.tries = o.tries;
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  ok_ = ares_init_options(&ch_, &opts, mask) == ARES_SUCCESS;
  if (ok_ && !o.servers.empty()) {
    std::string csv;
    for (const auto& s : o.servers) {
      if (!csv.empty()) csv += ",";
      csv += s;
    }
    ok_ = ares_set_servers_ports_csv(ch_, csv.c_str()) == ARES_SUCCESS;
  }
}

Channel::~Channel() {
  if (ch_) ares_destroy(ch_);
}

Query Channel::run(const std::string& name, int type) {
  Query q;
  q.status = ARES_ETIMEOUT;
  ares_query(ch_, name.c_str(), ns_c_in, type, on_answer, &q);
  while (!q.done) {
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    int bits = ares_getsock(ch_, socks, ARES_GETSOCK_MAXNUM);
    pollfd fds[ARES_GETSOCK_MAXNUM];
    int n = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      short ev = 0;
      if (ARES_GETSOCK_READABLE(bits, i)) ev |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, i)) ev |= POLLOUT;
      if (ev) fds[n++] = pollfd{socks[i], ev, 0};
    }
    timeval tv{};
    timeval* tvp = ares_timeout(ch_, nullptr, &tv);
    int ms = tvp ? static_cast<int>(tvp->tv_sec * 1000 + tvp->tv_usec / 1000) : 1000;
    if (n == 0 && !tvp) break;  // nothing pending and no timer: c-ares gave up
    int r = ::poll(fds, static_cast<nfds_t>(n), ms);
    if (r <= 0) {
      ares_process_fd(ch_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
      continue;
    }
    for (int i = 0; i < n; ++i) {
      ares_process_fd(ch_, (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD,
                      (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD);
    }
  }
  if (!q.done) ares_cancel(ch_);
  return q;
}

Answer classify(int status) {
  switch (status) {
    case ARES_SUCCESS: return Answer::Ok;
    case ARES_ENODATA: return Answer::NoData;
    case ARES_ENOTFOUND: return Answer::NxDomain;
    default: return Answer::TempFail;  // SERVFAIL, refused, timeout, bad reply
  }
}

std::string why(int status) { return ares_strerror(status); }

std::optional<std::vector<std::string>> answer_records(const std::string& message, int type,
                                                       std::size_t max_records) {
  const auto* m = reinterpret_cast<const unsigned char*>(message.data());
  const std::size_t size = message.size();
  auto u16 = [&](std::size_t at) { return static_cast<unsigned>((m[at] << 8) | m[at + 1]); };
  // Skips a (possibly compressed) name; 0 when malformed.
  auto skip_name = [&](std::size_t p) -> std::size_t {
    while (p < size) {
      const unsigned len = m[p];
      if (len == 0) return p + 1;
      if ((len & 0xC0) == 0xC0) return p + 2 <= size ? p + 2 : 0;
      if ((len & 0xC0) != 0) return 0;
      p += 1 + len;
    }
    return 0;
  };
  auto expand = [&](std::size_t at) -> std::optional<std::string> {
    char* name = nullptr;
    long enclen = 0;
    if (ares_expand_name(m + at, m, static_cast<int>(size), &name, &enclen) != ARES_SUCCESS) return std::nullopt;
    std::string out(name);
    ares_free_string(name);
    return out;
  };
  if (size < 12) return std::nullopt;
  const unsigned qd = u16(4), an = u16(6);
  std::size_t p = 12;
  for (unsigned i = 0; i < qd; ++i) {
    p = skip_name(p);
    if (p == 0 || p + 4 > size) return std::nullopt;
    p += 4;
  }
  std::vector<std::string> out;
  for (unsigned i = 0; i < an; ++i) {
    p = skip_name(p);
    if (p == 0 || p + 10 > size) return std::nullopt;
    const unsigned rtype = u16(p), rclass = u16(p + 2), rdlen = u16(p + 8);
    p += 10;
    if (p + rdlen > size) return std::nullopt;
    const std::size_t rd = p;
    p += rdlen;
    // Other types (the CNAMEs a resolver puts before the target) are skipped.
    if (static_cast<int>(rtype) != type || rclass != ns_c_in || out.size() >= max_records) continue;
    char text[INET6_ADDRSTRLEN];
    if (type == ns_t_a || type == ns_t_aaaa) {
      const bool v6 = type == ns_t_aaaa;
      if (rdlen != (v6 ? 16U : 4U) || !inet_ntop(v6 ? AF_INET6 : AF_INET, m + rd, text, sizeof text))
        return std::nullopt;
      out.emplace_back(text);
    } else if (type == ns_t_mx) {
      if (rdlen < 3) return std::nullopt;
      auto host = expand(rd + 2);
      if (!host) return std::nullopt;
      out.push_back(std::to_string(u16(rd)) + " " + *host);
    } else if (type == ns_t_txt) {
      std::string joined;  // RFC 7208 3.3: the strings of one record, concatenated
      for (std::size_t k = rd; k < rd + rdlen;) {
        const std::size_t len = m[k];
        if (k + 1 + len > rd + rdlen) return std::nullopt;
        joined.append(reinterpret_cast<const char*>(m + k + 1), len);
        k += 1 + len;
      }
      out.push_back(std::move(joined));
    } else {
      auto host = expand(rd);
      if (!host) return std::nullopt;
      out.push_back(std::move(*host));
    }
  }
  return out;
}

}  // namespace refmail::server::dns_detail
