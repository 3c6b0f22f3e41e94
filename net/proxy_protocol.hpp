// net/proxy_protocol.hpp — the PROXY protocol version 2 header (HAProxy's
// proxy-protocol.txt, section 2.2): the binary block a reverse proxy sends before the
// client's first byte to say who the client is. Sans-I/O and incremental: the caller
// reads exactly the number of bytes asked for, so nothing that follows the header is
// consumed (an SMTP greeting wait or a TLS ClientHello comes next).
// SECURITY: only version 2 (binary) is accepted, never the text v1; the address block
// is capped at kMaxBlockBytes; TLV framing is checked to the byte; a PROXY command must
// carry a TCP source over IPv4 or IPv6 (UNIX and DGRAM are refused). Whether a header
// is believed at all is the caller's decision (the socket peer in [proxy] trusted).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include "net/address.hpp"

namespace refmail::net::proxy {

// The fixed part: 12 signature bytes, version/command, family/protocol, 2 length bytes.
inline constexpr std::size_t kPrefixBytes = 16;
// The longest address + TLV block accepted. A proxy's addresses take <= 216 bytes; the
// rest leaves room for HAProxy's usual TLVs (ALPN, authority, SSL with version/cipher).
inline constexpr std::size_t kMaxBlockBytes = 1024;

enum class errc {
  bad_signature = 1,     // not a PROXY v2 header (a v1 text header included)
  bad_version,           // version nibble other than 2
  bad_command,           // command other than LOCAL (0) or PROXY (1)
  too_long,              // address block over kMaxBlockBytes
  unsupported_family,    // PROXY over AF_UNIX, DGRAM or an unknown family/protocol
  short_address_block,   // the length cannot hold the family's addresses
  bad_tlv,               // a TLV runs past the block
};
[[nodiscard]] const boost::system::error_category& category() noexcept;
[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), category()};
}

enum class Command { Local, Proxy };

struct Header {
  Command command = Command::Local;
  // PROXY over TCP/IPv4 or TCP/IPv6: the client's address and port, and the address it
  // connected to. LOCAL (the proxy's own health check) or UNSPEC: none; use the socket.
  std::optional<IpAddress> source;
  std::uint16_t source_port = 0;
  std::optional<IpAddress> destination;
  std::uint16_t destination_port = 0;
  // PP2_TYPE_SSL with PP2_CLIENT_SSL: the client spoke TLS to the proxy.
  bool client_tls = false;
};

// The total header size once the first kPrefixBytes bytes are known: 16 + the block
// length; an error when those bytes are not the start of a v2 header we accept.
// REQUIRES: prefix.size() >= kPrefixBytes.
[[nodiscard]] boost::system::result<std::size_t> header_size(std::span<const std::uint8_t> prefix);

// Parses one complete header: `bytes` holds exactly header_size() bytes.
[[nodiscard]] boost::system::result<Header> parse(std::span<const std::uint8_t> bytes);

}  // namespace refmail::net::proxy

template <>
struct boost::system::is_error_code_enum<refmail::net::proxy::errc> : std::true_type {};
