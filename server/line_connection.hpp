// server/line_connection.hpp — the connection plumbing of the line-protocol listeners
// (SMTP, IMAP, ManageSieve), written once: the accept loop with its admission, the
// opening of a session (PROXY header, the per-address re-key and its refusal), a TCP
// stream that may turn TLS (implicit or STARTTLS), queued output written with a deadline,
// and one read in flight that wakes the session through a timer. The protocols keep
// their sessions, their deadlines and their goodbyes; this file knows none of them.
// Server-private (REFMAIL_PRIVATE_HEADERS): it carries Asio, Beast and OpenSSL headers.
// SECURITY: nothing is read before the PROXY header when one is expected, and no byte
// of the protocol is written before the connection limits; every write and handshake
// has a deadline; one read of kLineReadBytes at most is in flight.
#pragma once
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/system/error_code.hpp>

#include "server/connections.hpp"
#include "server/listeners.hpp"
#include "server/log.hpp"
#include "server/proxy_peer.hpp"

namespace refmail::server {

// One read at most; the sessions bound what they keep of it.
inline constexpr std::size_t kLineReadBytes = 64 * 1024;
// A goodbye (a refusal, BYE, 421) is written within this, then the connection closes.
inline constexpr std::chrono::seconds kGoodbyeTimeout{5};

// What the shared plumbing needs to know of a listener.
struct LineListener {
  std::string protocol;  // "smtp", "imap", "managesieve": the prefix of the log events
  std::string name;      // the listener: logs, metric labels
  std::size_t budget = 0;       // ConnectionTracker::add_listener id
  bool proxy_protocol = false;  // a trusted peer opens with a PROXY v2 header ([proxy])
  // The protocol's "busy" greeting, written when a budget is full; empty: the
  // connection is closed without a word (implicit TLS: the client expects a handshake).
  std::string busy;
};

// One accepted connection: its stream (plain until a handshake, then TLS), the output
// queued for the next flush, and the one read in flight. Shared with the handler of
// that read, which may complete after the session ended (a read abandoned at a deadline
// ends when close() shuts the socket). Used on the io_context thread only.
class LineConnection : public std::enable_shared_from_this<LineConnection> {
 public:
  using Clock = std::chrono::steady_clock;
  using Stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

  LineConnection(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& tls);

  [[nodiscard]] boost::beast::tcp_stream& tcp() { return stream_.next_layer(); }
  [[nodiscard]] bool tls() const { return tls_; }
  // The output queued for flush(); the sessions append their replies here.
  [[nodiscard]] std::string& out() { return out_; }

  // Writes the queued output (through the output filter, then TLS once started) within
  // `timeout` and empties the queue; false when the write failed. A read may be in
  // flight meanwhile (a TLS stream allows one read and one write at a time).
  [[nodiscard]] boost::asio::awaitable<bool> flush(std::chrono::seconds timeout);
  // From now on every flush passes the queued bytes through `filter` first (IMAP
  // COMPRESS=DEFLATE, RFC 4978: one sync-flushed deflate per write).
  void filter_output(std::function<void(std::string&)> filter) { filter_ = std::move(filter); }
  // Replaces the queue with `bytes` and writes it within kGoodbyeTimeout; whether it
  // arrived does not matter, the caller closes next. REQUIRES: `bytes` outlives the
  // co_await (a literal, or a named string: no temporary with a destructor inside the
  // co_await expression, which GCC 12 may destroy twice).
  boost::asio::awaitable<void> goodbye(std::string_view bytes);
  // The server side of a TLS handshake within `timeout`; true, and tls() from then on,
  // when it succeeded, else false with "<l.protocol>.tls_failed" logged (info).
  // REQUIRES: no read in flight and nothing queued.
  [[nodiscard]] boost::asio::awaitable<bool> handshake(std::chrono::seconds timeout, const LineListener& l,
                                                       const std::string& peer);
  // STARTTLS: the queued answer goes out in plaintext within `write_timeout`, then the
  // handshake as above; false when either failed. REQUIRES: no read in flight (the
  // sessions drop what the client pipelined behind the command).
  [[nodiscard]] boost::asio::awaitable<bool> start_tls(std::chrono::seconds write_timeout,
                                                       std::chrono::seconds handshake_timeout, const LineListener& l,
                                                       const std::string& peer);
  // One read into `buffer`, awaited (SMTP, whose own timer cancels it at the deadline).
  [[nodiscard]] boost::asio::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buffer);

  // The woken read (IMAP, ManageSieve). Registers the connection with its tracker:
  // the drain and shedding for a newcomer wake a waiting session and make it
  // interrupted(). REQUIRES: `slot` was admitted by `tracker`; it holds a reference to
  // this connection until released; `tracker` outlives the connection.
  void watch(ConnectionTracker::Slot& slot, const ConnectionTracker& tracker);
  // The daemon drains (stop_requested(): say goodbye), or this connection was shed.
  [[nodiscard]] bool stop_requested() const { return stop_requested_ || (tracker_ && tracker_->stopping()); }
  [[nodiscard]] bool shed() const { return shed_; }
  [[nodiscard]] bool interrupted() const { return stop_requested() || shed(); }

  enum class Woke : std::uint8_t {
    input,        // bytes arrived: input()
    closed,       // the peer closed or reset: nobody to answer
    interrupted,  // the drain or shedding (interrupted()): say goodbye
    timer,        // `until` passed (or an early wake-up): check the deadline, poll
  };
  // Issues a read into the connection's buffer when none is in flight and no result
  // waits, then sleeps until that read completes, `until` passes or the connection is
  // interrupted. The read stays pending across timer wake-ups (IDLE polls), so a TLS
  // read is never cancelled and issued again.
  [[nodiscard]] boost::asio::awaitable<Woke> await_input(Clock::time_point until);
  // What the last await_input that said `input` read; valid until the next await_input.
  [[nodiscard]] std::string_view input() const { return {buf_.data(), read_n_}; }

  // Shuts the socket down and closes it, and wakes the session: a read still in flight
  // completes and releases its share of the connection.
  void close();
  // close() when the guard goes, however the session's coroutine ends.
  struct CloseOnExit {
    std::shared_ptr<LineConnection> c;
    explicit CloseOnExit(std::shared_ptr<LineConnection> conn) : c(std::move(conn)) {}
    CloseOnExit(const CloseOnExit&) = delete;
    CloseOnExit& operator=(const CloseOnExit&) = delete;
    ~CloseOnExit() { c->close(); }
  };

 private:
  void start_read();
  void wake() { wake_.cancel(); }

  Stream stream_;
  bool tls_ = false;
  std::string out_;
  std::function<void(std::string&)> filter_;
  std::array<char, kLineReadBytes> buf_{};
  bool reading_ = false;
  bool read_done_ = false;
  boost::system::error_code read_ec_;
  std::size_t read_n_ = 0;
  boost::asio::steady_timer wake_;
  const ConnectionTracker* tracker_ = nullptr;
  bool stop_requested_ = false;
  bool shed_ = false;
};

// The client of an admitted connection, before anything of the protocol is written:
// after its PROXY header when it comes from a trusted proxy on a listener that expects
// one, and with `slot` counted under that client from then on. nullopt when the
// connection must close: a malformed header ("proxy.bad_header", warn), or the client's
// address over its budget (l.busy written, "<l.protocol>.refused", warn). Logs
// "<l.protocol>.proxied" (debug) for a client named by a proxy.
// REQUIRES: nothing was read from `c`; svc.trusted_proxies is set.
[[nodiscard]] boost::asio::awaitable<std::optional<PeerIdentity>> open_line_session(LineConnection& c,
                                                                                     ConnectionTracker::Slot& slot,
                                                                                     const Services& svc,
                                                                                     const LineListener& l);

// Awaits the next connection on `acceptor`; nullopt once the acceptor is closed. A
// failed accept is logged ("<protocol>.accept_failed", warn) and waited past.
// REQUIRES: `acceptor` outlives the call.
template <typename Acceptor>
boost::asio::awaitable<std::optional<typename Acceptor::protocol_type::socket>> next_connection(
    Acceptor& acceptor, std::string_view protocol, const std::string& listener) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec == boost::asio::error::operation_aborted || !acceptor.is_open()) co_return std::nullopt;
    if (ec) {
      log::warn(std::string(protocol) + ".accept_failed", {{"listener", listener}, {"error", ec.message()}});
      continue;
    }
    co_return std::move(socket);
  }
}

// One session's coroutine, given its socket and its admitted slot.
using LineSession =
    std::function<boost::asio::awaitable<void>(boost::asio::ip::tcp::socket, ConnectionTracker::Slot)>;

// Accepts until `acceptor` is closed. Each connection is admitted before any byte
// (server/connections.hpp: a slot, Nagle off; or, when a budget is full, l.busy
// written, "<l.protocol>.refused" logged and refmail_connections_refused_total counted;
// a newcomer that shed an idle connection counts in refmail_connections_shed_total),
// then runs `session` as its own coroutine; an exception escaping it is logged as
// "<l.protocol>.session_failed". REQUIRES: `acceptor` outlives the coroutine.
boost::asio::awaitable<void> serve_line(boost::asio::ip::tcp::acceptor& acceptor, Services svc, LineListener l,
                                        LineSession session);

}  // namespace refmail::server
