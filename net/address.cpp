// net/address.cpp — see address.hpp.
#include "net/address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace refmail::net {

IpAddress IpAddress::v4_from(const std::uint8_t (&b)[4]) {
  IpAddress a;
  std::memcpy(a.bytes.data(), b, 4);
  return a;
}

IpAddress IpAddress::v6_from(const std::uint8_t (&b)[16]) {
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  IpAddress a;
  if (std::memcmp(b, kMapped, 12) == 0) {
    std::memcpy(a.bytes.data(), b + 12, 4);
    return a;
  }
  a.v6 = true;
  std::memcpy(a.bytes.data(), b, 16);
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN + 1];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::uint8_t b4[4];
  if (inet_pton(AF_INET, buf, b4) == 1) return v4_from(b4);
  std::uint8_t b6[16];
  if (inet_pton(AF_INET6, buf, b6) == 1) return v6_from(b6);
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf)) return {};
  return buf;
}

bool IpAddress::is_loopback() const {
  if (!v6) return bytes[0] == 127;
  static constexpr std::uint8_t kOne[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(bytes.data(), kOne, 16) == 0;
}

namespace {

// Compares the first `bits` bits of two addresses of the same family.
bool same_prefix(const IpAddress& a, const IpAddress& b, unsigned bits) {
  unsigned whole = bits / 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), whole) != 0) return false;
  if (bits % 8 == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - bits % 8));
  return (a.bytes[whole] & mask) == (b.bytes[whole] & mask);
}

}  // namespace

std::optional<Network> Network::parse(std::string_view text, std::string* why) {
  auto fail = [why](const char* reason) -> std::optional<Network> {
    if (why) *why = reason;
    return std::nullopt;
  };
  auto slash = text.find('/');
  auto base = IpAddress::parse(text.substr(0, slash));
  if (!base) return fail("expected an IP address or a network such as \"10.0.0.0/8\" or \"fd00::/8\"");
  const unsigned max = base->v6 ? 128 : 32;
  Network n{*base, max};
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    unsigned bits = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), bits);
    if (p.empty() || ec != std::errc{} || end != p.data() + p.size() || bits > max) {
      return fail(max == 32 ? "the prefix length of an IPv4 network must be 0-32"
                            : "the prefix length of an IPv6 network must be 0-128");
    }
    n.prefix = bits;
  }
  for (unsigned bit = n.prefix; bit < max; ++bit) {
    if (base->bytes[bit / 8] & (0x80 >> (bit % 8))) return fail("the address has bits set beyond its prefix length");
  }
  return n;
}

bool Network::contains(const IpAddress& a) const { return a.v6 == base.v6 && same_prefix(a, base, prefix); }

NetworkSet NetworkSet::from_strings(const std::vector<std::string>& entries) {
  std::vector<Network> out;
  for (const auto& e : entries) {
    if (auto n = Network::parse(e)) out.push_back(*n);
  }
  return NetworkSet(std::move(out));
}

bool NetworkSet::contains(const IpAddress& a) const {
  for (const auto& n : networks_) {
    if (n.contains(a)) return true;
  }
  return false;
}

bool NetworkSet::contains(std::string_view ip_text) const {
  auto a = IpAddress::parse(ip_text);
  return a && contains(*a);
}

}  // namespace refmail::net
