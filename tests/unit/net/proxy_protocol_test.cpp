// Tests for net/proxy_protocol.hpp: PROXY protocol v2 headers as HAProxy writes them
// (doc/proxy-protocol.txt 2.2), and every kind of malformed header.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "net/proxy_protocol.hpp"

namespace refmail::net::proxy {
namespace {

using Bytes = std::vector<std::uint8_t>;

const Bytes kSig = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

Bytes header(std::uint8_t ver_cmd, std::uint8_t fam, const Bytes& block) {
  Bytes h = kSig;
  h.push_back(ver_cmd);
  h.push_back(fam);
  h.push_back(static_cast<std::uint8_t>(block.size() >> 8));
  h.push_back(static_cast<std::uint8_t>(block.size() & 0xff));
  h.insert(h.end(), block.begin(), block.end());
  return h;
}

Bytes ipv4_block(Bytes tlvs = {}) {
  Bytes b = {203, 0, 113, 9, 192, 0, 2, 1, 0x12, 0x34, 0x00, 0x19};  // 203.0.113.9:4660 -> 192.0.2.1:25
  b.insert(b.end(), tlvs.begin(), tlvs.end());
  return b;
}

// Both steps, as the server does them: the size from the prefix, then the whole header.
boost::system::result<Header> parse_all(const Bytes& h) {
  if (h.size() < kPrefixBytes) return errc::bad_signature;
  auto size = header_size(std::span(h.data(), kPrefixBytes));
  if (!size) return size.error();
  EXPECT_LE(*size, h.size());
  if (*size > h.size()) return errc::short_address_block;
  return parse(std::span(h.data(), *size));
}

TEST(ProxyV2, ProxyOverIpv4) {
  Bytes h = header(0x21, 0x11, ipv4_block());
  auto r = parse_all(h);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->command, Command::Proxy);
  ASSERT_TRUE(r->source);
  EXPECT_EQ(r->source->to_string(), "203.0.113.9");
  EXPECT_EQ(r->source_port, 0x1234);
  EXPECT_EQ(r->destination->to_string(), "192.0.2.1");
  EXPECT_EQ(r->destination_port, 25);
  EXPECT_FALSE(r->client_tls);
}

TEST(ProxyV2, ProxyOverIpv6AndMapped) {
  Bytes b(36, 0);
  b[0] = 0x20, b[1] = 0x01, b[2] = 0x0d, b[3] = 0xb8, b[15] = 0x07;  // 2001:db8::7
  b[26] = 0xff, b[27] = 0xff, b[28] = 192, b[29] = 0, b[30] = 2, b[31] = 1;  // ::ffff:192.0.2.1
  b[32] = 0x01, b[33] = 0x00, b[34] = 0x02, b[35] = 0x4b;
  auto r = parse_all(header(0x21, 0x21, b));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->source->to_string(), "2001:db8::7");
  EXPECT_EQ(r->source_port, 256);
  EXPECT_EQ(r->destination->to_string(), "192.0.2.1");  // mapped -> IPv4
  EXPECT_EQ(r->destination_port, 587);
}

TEST(ProxyV2, LocalUsesTheSocket) {
  auto r = parse_all(header(0x20, 0x00, {}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->command, Command::Local);
  EXPECT_FALSE(r->source);
  // 2.2: LOCAL discards whatever block it carries, family included.
  r = parse_all(header(0x20, 0x31, Bytes(20, 0xAA)));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->source);
}

TEST(ProxyV2, UnspecUsesTheSocket) {
  auto r = parse_all(header(0x21, 0x00, Bytes(7, 1)));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->command, Command::Proxy);
  EXPECT_FALSE(r->source);
}

TEST(ProxyV2, Tlvs) {
  // PP2_TYPE_ALPN "smtp", PP2_TYPE_SSL with PP2_CLIENT_SSL and a PP2_SUBTYPE_SSL_VERSION.
  Bytes tlvs = {0x01, 0x00, 0x04, 's', 'm', 't', 'p', 0x20, 0x00, 0x0c, 0x01, 0, 0, 0, 0,
                0x21, 0x00, 0x04, 'T', 'L', 'S', '3'};
  auto r = parse_all(header(0x21, 0x11, ipv4_block(tlvs)));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->client_tls);
  // SSL TLV without the client bit; an empty NOOP TLV (0x04).
  r = parse_all(header(0x21, 0x11, ipv4_block({0x20, 0x00, 0x05, 0x00, 0, 0, 0, 0, 0x04, 0x00, 0x00})));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->client_tls);
}

TEST(ProxyV2, Refusals) {
  struct Case {
    Bytes h;
    errc want;
  } cases[] = {
      // The text v1 header is not accepted.
      {Bytes{'P', 'R', 'O', 'X', 'Y', ' ', 'T', 'C', 'P', '4', ' ', '1', '.', '2', '.', '3', '.', '4'},
       errc::bad_signature},
      {Bytes{'E', 'H', 'L', 'O', ' ', 'x', '\r', '\n', 0, 0, 0, 0, 0, 0, 0, 0}, errc::bad_signature},
      {header(0x11, 0x11, ipv4_block()), errc::bad_version},
      {header(0x31, 0x11, ipv4_block()), errc::bad_version},
      {header(0x22, 0x11, ipv4_block()), errc::bad_command},
      {header(0x2F, 0x11, ipv4_block()), errc::bad_command},
      {header(0x21, 0x11, Bytes(kMaxBlockBytes + 1, 0)), errc::too_long},
      {header(0x21, 0x12, ipv4_block()), errc::unsupported_family},   // DGRAM
      {header(0x21, 0x31, Bytes(216, 0)), errc::unsupported_family},  // AF_UNIX
      {header(0x21, 0x41, ipv4_block()), errc::unsupported_family},
      {header(0x21, 0x10, ipv4_block()), errc::unsupported_family},   // INET, UNSPEC protocol
      {header(0x21, 0x11, Bytes(11, 0)), errc::short_address_block},
      {header(0x21, 0x21, Bytes(35, 0)), errc::short_address_block},
      {header(0x21, 0x11, ipv4_block({0x01, 0x00})), errc::bad_tlv},
      {header(0x21, 0x11, ipv4_block({0x01, 0x00, 0x05, 'a'})), errc::bad_tlv},
      {header(0x21, 0x11, ipv4_block({0x20, 0x00, 0x01, 0x01})), errc::bad_tlv},  // SSL TLV too short
  };
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    auto r = parse_all(cases[i].h);
    ASSERT_FALSE(r) << "case " << i;
    EXPECT_EQ(r.error(), make_error_code(cases[i].want)) << "case " << i << ": " << r.error().message();
  }
}

TEST(ProxyV2, SizeComesFromThePrefixOnly) {
  // What follows the header (a client's first bytes) is never part of it.
  Bytes h = header(0x21, 0x11, ipv4_block());
  Bytes with_more = h;
  for (char c : std::string_view("EHLO client\r\n")) with_more.push_back(static_cast<std::uint8_t>(c));
  auto size = header_size(std::span(with_more.data(), kPrefixBytes));
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, h.size());
  // parse() wants exactly the header.
  EXPECT_FALSE(parse(with_more));
  EXPECT_FALSE(parse(std::span(h.data(), h.size() - 1)));
}

TEST(ProxyV2, EveryTruncationIsRefusedOrIncomplete) {
  Bytes h = header(0x21, 0x11, ipv4_block({0x20, 0x00, 0x05, 0x01, 0, 0, 0, 0}));
  for (std::size_t n = 0; n < h.size(); ++n) {
    if (n < kPrefixBytes) {
      EXPECT_FALSE(header_size(std::span(h.data(), n))) << n;
    } else {
      EXPECT_FALSE(parse(std::span(h.data(), n))) << n;
    }
  }
  EXPECT_TRUE(parse(h));
}

}  // namespace
}  // namespace refmail::net::proxy
