// net/proxy_protocol.cpp — see proxy_protocol.hpp. Section numbers are those of
// HAProxy's doc/proxy-protocol.txt.
#include "net/proxy_protocol.hpp"

#include <cstring>
#include <string>

namespace refmail::net::proxy {
namespace {

// 2.2: "\r\n\r\n\0\r\nQUIT\n".
constexpr std::uint8_t kSignature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

constexpr std::uint8_t kTypeSsl = 0x20;        // PP2_TYPE_SSL
constexpr std::uint8_t kClientSsl = 0x01;      // PP2_CLIENT_SSL
constexpr std::size_t kIpv4Block = 12;         // 2 x 4 address bytes, 2 x 2 port bytes
constexpr std::size_t kIpv6Block = 36;         // 2 x 16 + 2 x 2

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "refmail.proxy"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::bad_signature: return "not a PROXY protocol v2 header";
      case errc::bad_version: return "PROXY protocol version is not 2";
      case errc::bad_command: return "PROXY command is neither LOCAL nor PROXY";
      case errc::too_long: return "PROXY header address block too long";
      case errc::unsupported_family: return "PROXY header family/protocol is not TCP over IPv4 or IPv6";
      case errc::short_address_block: return "PROXY header address block too short for its family";
      case errc::bad_tlv: return "PROXY header TLV runs past the address block";
    }
    return "unknown PROXY header error";
  }
};

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

// 2.2: source address, destination address (N bytes each), source port, destination port.
template <std::size_t N>
void read_addresses(const std::uint8_t* p, Header& h) {
  std::uint8_t src[N], dst[N];
  std::memcpy(src, p, N);
  std::memcpy(dst, p + N, N);
  if constexpr (N == 4) {
    h.source = IpAddress::v4_from(src);
    h.destination = IpAddress::v4_from(dst);
  } else {
    h.source = IpAddress::v6_from(src);
    h.destination = IpAddress::v6_from(dst);
  }
  h.source_port = be16(p + 2 * N);
  h.destination_port = be16(p + 2 * N + 2);
}

}  // namespace

const boost::system::error_category& category() noexcept {
  static const Category cat;
  return cat;
}

boost::system::result<std::size_t> header_size(std::span<const std::uint8_t> prefix) {
  if (prefix.size() < kPrefixBytes || std::memcmp(prefix.data(), kSignature, sizeof kSignature) != 0) {
    return errc::bad_signature;
  }
  // 2.2: the 13th byte is version (high nibble, must be 2) and command (low nibble).
  if ((prefix[12] >> 4) != 2) return errc::bad_version;
  if ((prefix[12] & 0x0F) > 1) return errc::bad_command;
  std::size_t len = be16(prefix.data() + 14);
  if (len > kMaxBlockBytes) return errc::too_long;
  return kPrefixBytes + len;
}

boost::system::result<Header> parse(std::span<const std::uint8_t> bytes) {
  auto size = header_size(bytes);
  if (!size) return size.error();
  if (bytes.size() != *size) return errc::short_address_block;  // caller broke the contract
  Header h;
  h.command = (bytes[12] & 0x0F) == 1 ? Command::Proxy : Command::Local;
  const std::uint8_t family = bytes[13] >> 4, protocol = bytes[13] & 0x0F;
  std::span<const std::uint8_t> block = bytes.subspan(kPrefixBytes);
  // 2.2: LOCAL carries no address to use: "the receiver must ... use the real connection
  // endpoints and discard the protocol block including the family".
  if (h.command == Command::Local) return h;
  if (family == 0 && protocol == 0) {
    // AF_UNSPEC: "the receiver ... must use the real connection endpoints". No TLVs follow
    // an unknown block, so the rest is skipped.
    return h;
  }
  if (protocol != 1) return errc::unsupported_family;  // only STREAM: we are TCP listeners
  // AF_UNIX has no address we could key limits on.
  const std::size_t used = family == 1 ? kIpv4Block : family == 2 ? kIpv6Block : 0;
  if (used == 0) return errc::unsupported_family;
  if (block.size() < used) return errc::short_address_block;
  if (family == 1) {
    read_addresses<4>(block.data(), h);
  } else {
    read_addresses<16>(block.data(), h);
  }
  // 2.2.7: type (1 byte), length (2 bytes), value; they fill the rest of the block.
  std::span<const std::uint8_t> tlvs = block.subspan(used);
  while (!tlvs.empty()) {
    if (tlvs.size() < 3) return errc::bad_tlv;
    std::size_t len = be16(tlvs.data() + 1);
    if (tlvs.size() - 3 < len) return errc::bad_tlv;
    // 2.2.5: PP2_TYPE_SSL starts with the client bit field (1 byte) and verify (4 bytes).
    if (tlvs[0] == kTypeSsl) {
      if (len < 5) return errc::bad_tlv;
      h.client_tls = (tlvs[3] & kClientSsl) != 0;
    }
    tlvs = tlvs.subspan(3 + len);
  }
  return h;
}

}  // namespace refmail::net::proxy
