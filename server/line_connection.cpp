// server/line_connection.cpp — see line_connection.hpp.
#include "server/line_connection.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include "metrics/metrics.hpp"

namespace refmail::server {
namespace {

namespace beast = boost::beast;
namespace ssl = asio::ssl;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

// The admission of a socket just accepted: a connection slot (server/connections.hpp)
// with Nagle off, or, when the budgets are full, an empty slot after the refusal:
// l.busy written (when not empty), "<protocol>.refused" logged,
// refmail_connections_refused_total counted. A newcomer that shed an idle connection
// is counted in refmail_connections_shed_total.
ConnectionTracker::Slot admit(tcp::socket& socket, const Services& svc, const LineListener& l) {
  boost::system::error_code rec;
  auto remote = socket.remote_endpoint(rec);
  const std::string ip = rec ? "?" : remote.address().to_string();
  auto admission = svc.rt.connections.acquire(l.budget, ip);
  if (admission.shed_one) svc.metrics->add("refmail_connections_shed_total{listener=\"" + l.name + "\"}");
  if (!admission.slot) {
    if (!l.busy.empty()) {
      boost::system::error_code wec;
      asio::write(socket, asio::buffer(l.busy), wec);
    }
    const char* reason = ConnectionTracker::to_string(admission.refused);
    log::warn(l.protocol + ".refused", {{"listener", l.name}, {"peer", ip}, {"reason", reason}});
    svc.metrics->add("refmail_connections_refused_total{listener=\"" + l.name + "\",reason=\"" + reason + "\"}");
    return {};
  }
  socket.set_option(tcp::no_delay(true), rec);
  return std::move(admission.slot);
}

}  // namespace

LineConnection::LineConnection(tcp::socket socket, ssl::context& tls)
    : stream_(beast::tcp_stream(std::move(socket)), tls), wake_(stream_.get_executor()) {}

asio::awaitable<bool> LineConnection::flush(std::chrono::seconds timeout) {
  if (out_.empty()) co_return true;
  if (filter_) filter_(out_);
  tcp().expires_after(timeout);
  boost::system::error_code ec;
  if (tls_) {
    std::tie(ec, std::ignore) = co_await asio::async_write(stream_, asio::buffer(out_), asio::as_tuple(use_awaitable));
  } else {
    std::tie(ec, std::ignore) = co_await asio::async_write(tcp(), asio::buffer(out_), asio::as_tuple(use_awaitable));
  }
  out_.clear();
  co_return !ec;
}

asio::awaitable<void> LineConnection::goodbye(std::string_view bytes) {
  out_.assign(bytes);
  (void)co_await flush(kGoodbyeTimeout);
}

asio::awaitable<bool> LineConnection::handshake(std::chrono::seconds timeout, const LineListener& l,
                                                const std::string& peer) {
  tcp().expires_after(timeout);
  auto [ec] = co_await stream_.async_handshake(ssl::stream_base::server, asio::as_tuple(use_awaitable));
  if (ec) {
    log::info(l.protocol + ".tls_failed", {{"listener", l.name}, {"peer", peer}, {"error", ec.message()}});
    co_return false;
  }
  tls_ = true;
  co_return true;
}

asio::awaitable<bool> LineConnection::start_tls(std::chrono::seconds write_timeout,
                                                std::chrono::seconds handshake_timeout, const LineListener& l,
                                                const std::string& peer) {
  // Each awaitable named, its result in a variable: GCC 12 miscompiled the shorter
  // `if (!co_await flush(..)) co_return false; co_return co_await handshake(..);` here
  // (SIGILL on STARTTLS, seen in the IMAP e2e tests).
  auto write = flush(write_timeout);
  const bool written = co_await std::move(write);
  if (!written) co_return false;
  auto shake = handshake(handshake_timeout, l, peer);
  const bool secured = co_await std::move(shake);
  co_return secured;
}

asio::awaitable<std::pair<boost::system::error_code, std::size_t>> LineConnection::read_some(
    asio::mutable_buffer buffer) {
  boost::system::error_code ec;
  std::size_t n = 0;
  if (tls_) {
    std::tie(ec, n) = co_await stream_.async_read_some(buffer, asio::as_tuple(use_awaitable));
  } else {
    std::tie(ec, n) = co_await tcp().async_read_some(buffer, asio::as_tuple(use_awaitable));
  }
  co_return std::pair{ec, n};
}

void LineConnection::start_read() {
  reading_ = true;
  read_done_ = false;
  // The stream's own read timer is not used (a flush may have left it set): the read
  // deadline is the wake timer's, which leaves the read pending across IDLE polls.
  tcp().expires_never();
  auto done = [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
    self->reading_ = false;
    self->read_done_ = true;
    self->read_ec_ = ec;
    self->read_n_ = n;
    self->wake_.cancel();
  };
  if (tls_) {
    stream_.async_read_some(asio::buffer(buf_), std::move(done));
  } else {
    tcp().async_read_some(asio::buffer(buf_), std::move(done));
  }
}

asio::awaitable<LineConnection::Woke> LineConnection::await_input(Clock::time_point until) {
  if (!reading_ && !read_done_) start_read();
  if (!read_done_) {
    wake_.expires_at(until);
    (void)co_await wake_.async_wait(asio::as_tuple(use_awaitable));
  }
  if (read_done_) {
    read_done_ = false;
    if (!read_ec_) co_return Woke::input;
    // Peer closed or reset, or the drain cancelled the read: the session says goodbye
    // when interrupted; otherwise there is nobody to answer.
    co_return interrupted() ? Woke::interrupted : Woke::closed;
  }
  co_return interrupted() ? Woke::interrupted : Woke::timer;
}

void LineConnection::watch(ConnectionTracker::Slot& slot, const ConnectionTracker& tracker) {
  tracker_ = &tracker;
  slot.set_on_stop([self = shared_from_this()] {
    self->stop_requested_ = true;
    self->wake();
  });
  slot.set_on_shed([self = shared_from_this()] {
    self->shed_ = true;
    self->wake();
  });
}

void LineConnection::close() {
  boost::system::error_code ignored;
  tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
  tcp().close();
  wake_.cancel();
}

asio::awaitable<std::optional<PeerIdentity>> open_line_session(LineConnection& c, ConnectionTracker::Slot& slot,
                                                               const Services& svc, const LineListener& l) {
  // [proxy] (server/proxy_peer.hpp): behind a trusted proxy, the client its PROXY header
  // names is the peer for limits, throttles and logs, and never loopback.
  auto identify = identify_peer(c.tcp(), *svc.trusted_proxies, l.proxy_protocol);
  PeerIdentity who = co_await std::move(identify);
  if (who.header_error) {
    log::warn("proxy.bad_header", {{"listener", l.name}, {"via", who.socket_ip}, {"error", who.header_error.message()}});
    co_return std::nullopt;
  }
  if (!slot.rekey(who.ip)) {
    if (!l.busy.empty()) co_await c.goodbye(l.busy);
    log::warn(l.protocol + ".refused", {{"listener", l.name}, {"peer", who.ip}, {"via", who.socket_ip},
                                        {"reason", "connection limit"}});
    co_return std::nullopt;
  }
  if (who.via_proxy) {
    log::debug(l.protocol + ".proxied", {{"listener", l.name}, {"peer", who.ip}, {"via", who.socket_ip}});
  }
  co_return who;
}

asio::awaitable<void> serve_line(tcp::acceptor& acceptor, Services svc, LineListener l, LineSession session) {
  while (auto socket = co_await next_connection(acceptor, l.protocol, l.name)) {
    auto slot = admit(*socket, svc, l);
    if (!slot) continue;
    asio::co_spawn(acceptor.get_executor(), session(std::move(*socket), std::move(slot)),
                   log::on_exception(l.protocol + ".session_failed", "listener", l.name));
  }
}

}  // namespace refmail::server
