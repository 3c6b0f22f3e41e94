// tests/unit/relay/dns_responder.hpp — a DNS responder on 127.0.0.1 for the resolver
// tests (server/dns.cpp's MX routing, server/dns_lookup.cpp's trust::DnsLookup): UDP and
// TCP on one port, records by (name, type) as raw RDATA, per-name TTLs.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace refmail::server::dnstest {

// Records by (name, type) as raw RDATA; "servfail.test" answers SERVFAIL and
// "silent.test" nothing; a name without records of any type is NXDOMAIN.
class Responder {
 public:
  std::map<std::pair<std::string, unsigned>, std::vector<std::string>> records;
  std::map<std::string, std::uint32_t> ttl;  // per owner name; 60 s when absent

  Responder() {
    udp_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    tcp_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // One port for both: bind UDP to an ephemeral port, then TCP to the same one.
    ::bind(udp_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    socklen_t len = sizeof sa;
    ::getsockname(udp_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    int one = 1;
    ::setsockopt(tcp_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    tcp_ok_ = ::bind(tcp_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 && ::listen(tcp_, 8) == 0;
  }
  ~Responder() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(udp_);
    ::close(tcp_);
  }
  void start() { thread_ = std::thread([this] { serve(); }); }
  [[nodiscard]] std::string server() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] bool tcp_ok() const { return tcp_ok_; }
  std::atomic<int> tcp_queries{0};

  static std::string name(const std::string& n) {
    std::string out;
    std::size_t pos = 0;
    while (pos < n.size()) {
      auto dot = n.find('.', pos);
      if (dot == std::string::npos) dot = n.size();
      out.push_back(static_cast<char>(dot - pos));
      out.append(n, pos, dot - pos);
      pos = dot + 1;
    }
    out.push_back('\0');
    return out;
  }
  static std::string txt(const std::vector<std::string>& strings) {
    std::string rd;
    for (const auto& s : strings) {
      rd.push_back(static_cast<char>(s.size()));
      rd += s;
    }
    return rd;
  }
  static std::string ip4(const char* ip) {
    in_addr a{};
    inet_pton(AF_INET, ip, &a);
    return std::string(reinterpret_cast<char*>(&a), 4);
  }
  static std::string ip6(const char* ip) {
    in6_addr a{};
    inet_pton(AF_INET6, ip, &a);
    return std::string(reinterpret_cast<char*>(&a), 16);
  }
  static std::string mx(unsigned pref, const std::string& host) {
    std::string rd;
    u16(rd, pref);
    return rd + (host == "." ? std::string(1, '\0') : name(host));
  }

 private:
  static void u16(std::string& s, unsigned v) {
    s.push_back(static_cast<char>(v >> 8));
    s.push_back(static_cast<char>(v & 0xff));
  }

  // The response to one query, or empty for no answer at all.
  std::string respond(const std::string& q, bool over_udp) {
    if (q.size() < 17) return {};
    std::size_t pos = 12;
    std::string qname;
    while (pos < q.size() && q[pos] != 0) {
      auto len = static_cast<unsigned char>(q[pos]);
      if (!qname.empty()) qname += ".";
      qname += q.substr(pos + 1, len);
      pos += 1 + len;
    }
    if (pos + 5 > q.size()) return {};
    unsigned qtype = (static_cast<unsigned char>(q[pos + 1]) << 8) | static_cast<unsigned char>(q[pos + 2]);
    std::string question = q.substr(12, pos + 5 - 12);
    if (qname == "silent.test") return {};
    std::vector<std::pair<unsigned, std::string>> answers;  // type, rdata; owner = qname
    unsigned rcode = 0;
    bool exists = false;
    for (const auto& [key, v] : records)
      if (key.first == qname) exists = true;
    if (qname == "servfail.test") {
      rcode = 2;
    } else if (!exists) {
      rcode = 3;
    } else {
      auto cname = records.find({qname, 5});
      if (cname != records.end() && qtype != 5) {
        answers.emplace_back(5, cname->second[0]);  // the target, already in wire form
      } else if (auto it = records.find({qname, qtype}); it != records.end()) {
        for (const auto& rd : it->second) answers.emplace_back(qtype, rd);
      }
    }
    std::string r;
    r.append(q, 0, 2);
    u16(r, 0x8180 | rcode);
    u16(r, 1);
    u16(r, static_cast<unsigned>(answers.size()));
    u16(r, 0);
    u16(r, 0);
    r += question;
    for (auto& [type, rd] : answers) {
      r += "\xc0\x0c";
      u16(r, type);
      u16(r, 1);
      const std::uint32_t t = ttl.count(qname) ? ttl[qname] : 60;
      u16(r, t >> 16);
      u16(r, t & 0xffff);
      u16(r, static_cast<unsigned>(rd.size()));
      r += rd;
    }
    if (!answers.empty() && answers[0].first == 5) {
      // A CNAME: add the target's records under the target's name (not compressed).
      std::string target;
      std::size_t p = 0;
      const std::string& wire = answers[0].second;
      while (p < wire.size() && wire[p] != 0) {
        if (!target.empty()) target += ".";
        target += wire.substr(p + 1, static_cast<unsigned char>(wire[p]));
        p += 1 + static_cast<unsigned char>(wire[p]);
      }
      auto it = records.find({target, qtype});
      if (it != records.end()) {
        for (const auto& rd : it->second) {
          r += name(target);
          u16(r, qtype);
          u16(r, 1);
          const std::uint32_t t = ttl.count(target) ? ttl[target] : 60;
          u16(r, t >> 16);
          u16(r, t & 0xffff);
          u16(r, static_cast<unsigned>(rd.size()));
          r += rd;
        }
        const unsigned an = 1 + static_cast<unsigned>(it->second.size());
        r[6] = static_cast<char>(an >> 8);
        r[7] = static_cast<char>(an & 0xff);
      }
    }
    if (over_udp && r.size() > 512) {  // RFC 1035 4.2.1: truncate, set TC
      std::string t;
      t.append(q, 0, 2);
      u16(t, 0x8380 | rcode);
      u16(t, 1);
      u16(t, 0);
      u16(t, 0);
      u16(t, 0);
      return t + question;
    }
    return r;
  }

  void serve() {
    while (!stop_) {
      pollfd p[2] = {{udp_, POLLIN, 0}, {tcp_, POLLIN, 0}};
      if (::poll(p, tcp_ok_ ? 2 : 1, 50) <= 0) continue;
      if (p[0].revents & POLLIN) {
        char buf[1500];
        sockaddr_in from{};
        socklen_t fl = sizeof from;
        auto n = ::recvfrom(udp_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
        if (n > 0) {
          std::string r = respond(std::string(buf, static_cast<std::size_t>(n)), true);
          if (!r.empty()) ::sendto(udp_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
        }
      }
      if (tcp_ok_ && (p[1].revents & POLLIN)) {
        int c = ::accept(tcp_, nullptr, nullptr);
        if (c < 0) continue;
        ++tcp_queries;
        // One length-prefixed query per connection is all c-ares needs here.
        std::string in;
        char buf[4096];
        while (true) {
          pollfd cp{c, POLLIN, 0};
          if (::poll(&cp, 1, 1000) <= 0) break;
          auto n = ::recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          in.append(buf, static_cast<std::size_t>(n));
          if (in.size() >= 2) {
            const std::size_t len = (static_cast<unsigned char>(in[0]) << 8) | static_cast<unsigned char>(in[1]);
            if (in.size() >= 2 + len) {
              std::string r = respond(in.substr(2, len), false);
              std::string framed;
              framed.push_back(static_cast<char>(r.size() >> 8));
              framed.push_back(static_cast<char>(r.size() & 0xff));
              framed += r;
              (void)::send(c, framed.data(), framed.size(), MSG_NOSIGNAL);
              in.erase(0, 2 + len);
            }
          }
        }
        ::close(c);
      }
    }
  }

  int udp_ = -1, tcp_ = -1;
  bool tcp_ok_ = false;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace refmail::server::dnstest
