// net/address.hpp — IP addresses and networks (CIDR) as values, and a set of networks
// to test membership in: the vocabulary of `[proxy] trusted`. Pure: parses text it is
// given, never resolves a name.
// SECURITY: an IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket
// reports) is the IPv4 address, so a rule for 10.0.0.0/8 cannot be bypassed by the
// form of the peer's address; text forms are canonical (inet_ntop), so per-address
// limits and throttles keyed on the text see one key per address.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace refmail::net {

struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4: the first 4 bytes

  // "192.0.2.1" or "2001:db8::1" (no brackets, no port, no zone); an IPv4-mapped IPv6
  // address becomes IPv4. nullopt for anything else.
  [[nodiscard]] static std::optional<IpAddress> parse(std::string_view text);
  [[nodiscard]] static IpAddress v4_from(const std::uint8_t (&b)[4]);
  [[nodiscard]] static IpAddress v6_from(const std::uint8_t (&b)[16]);  // mapped -> IPv4
  [[nodiscard]] std::string to_string() const;  // canonical text
  [[nodiscard]] bool is_loopback() const;       // 127.0.0.0/8 or ::1
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// An address block: "10.0.0.0/8", "fd00::/8", or one address ("192.0.2.7" = /32).
struct Network {
  IpAddress base;
  unsigned prefix = 0;  // bits; <= 32 for IPv4, <= 128 for IPv6

  // nullopt with `why` set when the text is not an address or a network, or has bits
  // set beyond its prefix ("10.1.0.0/8": probably a typo, so refused rather than masked).
  [[nodiscard]] static std::optional<Network> parse(std::string_view text, std::string* why = nullptr);
  [[nodiscard]] bool contains(const IpAddress& a) const;
};

class NetworkSet {
 public:
  NetworkSet() = default;
  explicit NetworkSet(std::vector<Network> networks) : networks_(std::move(networks)) {}
  // REQUIRES: every entry parses (config/ validated it); entries that do not are skipped.
  [[nodiscard]] static NetworkSet from_strings(const std::vector<std::string>& entries);
  [[nodiscard]] bool contains(const IpAddress& a) const;
  // false for text that is not an IP address.
  [[nodiscard]] bool contains(std::string_view ip_text) const;
  [[nodiscard]] bool empty() const { return networks_.empty(); }

 private:
  std::vector<Network> networks_;
};

}  // namespace refmail::net
