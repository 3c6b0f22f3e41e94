// server/proxy_peer.cpp — see proxy_peer.hpp.
#include "server/proxy_peer.hpp"

#include <array>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>

#include "net/proxy_protocol.hpp"

namespace refmail::server {

namespace asio = boost::asio;

bool PeerIdentity::loopback() const {
  auto a = net::IpAddress::parse(ip);
  return !via_proxy && a && a->is_loopback();
}

asio::awaitable<PeerIdentity> identify_peer(boost::beast::tcp_stream& stream, const net::NetworkSet& trusted,
                                            bool expect_header, std::chrono::seconds timeout) {
  PeerIdentity who;
  boost::system::error_code ec;
  auto remote = stream.socket().remote_endpoint(ec);
  auto addr = ec ? std::nullopt : net::IpAddress::parse(remote.address().to_string());
  who.socket_ip = addr ? addr->to_string() : "?";
  who.ip = who.socket_ip;
  who.port = ec ? 0 : remote.port();
  who.via_proxy = addr && trusted.contains(*addr);
  if (!who.via_proxy || !expect_header) co_return who;

  // Exactly the header's bytes: the prefix tells the length of the rest, so the
  // client's first bytes (a ClientHello, say) stay in the socket for the protocol.
  std::array<std::uint8_t, net::proxy::kPrefixBytes + net::proxy::kMaxBlockBytes> buf;
  stream.expires_after(timeout);
  auto [pec, pn] = co_await asio::async_read(stream, asio::buffer(buf.data(), net::proxy::kPrefixBytes),
                                             asio::as_tuple(asio::use_awaitable));
  if (pec) {
    who.header_error = pec;
    co_return who;
  }
  auto size = net::proxy::header_size(std::span<const std::uint8_t>(buf.data(), net::proxy::kPrefixBytes));
  if (!size) {
    who.header_error = size.error();
    co_return who;
  }
  auto [bec, bn] = co_await asio::async_read(
      stream, asio::buffer(buf.data() + net::proxy::kPrefixBytes, *size - net::proxy::kPrefixBytes),
      asio::as_tuple(asio::use_awaitable));
  if (bec) {
    who.header_error = bec;
    co_return who;
  }
  stream.expires_never();
  auto header = net::proxy::parse(std::span<const std::uint8_t>(buf.data(), *size));
  if (!header) {
    who.header_error = header.error();
    co_return who;
  }
  if (header->source) {
    who.ip = header->source->to_string();
    who.port = header->source_port;
  }
  who.client_tls = header->client_tls;
  co_return who;
}

}  // namespace refmail::server
