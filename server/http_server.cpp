// server/http_server.cpp — see http_server.hpp.
#include "server/http_server.hpp"

#include <openssl/crypto.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "net/forwarded.hpp"
#include "server/line_connection.hpp"
#include "server/log.hpp"
#include "server/proxy_peer.hpp"

namespace refmail::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;

bool token_matches(std::string_view presented, const std::string& token) {
  if (token.empty() || presented.size() != token.size()) return false;
  return CRYPTO_memcmp(presented.data(), token.data(), token.size()) == 0;
}

// RFC 9112 6.1, 6.3: a request whose Transfer-Encoding is anything but a final, single
// "chunked", or that has both Transfer-Encoding and Content-Length, is refused: a proxy
// in front may frame it differently (request smuggling).
bool ambiguous_framing(const http::request_parser<http::string_body>::value_type& h) {
  auto te = h.find(http::field::transfer_encoding);
  if (te == h.end()) return false;
  if (h.find(http::field::content_length) != h.end()) return true;
  if (std::distance(h.equal_range(http::field::transfer_encoding).first,
                    h.equal_range(http::field::transfer_encoding).second) != 1)
    return true;
  std::string v(te->value());
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t");
  return b == std::string::npos || v.substr(b, e - b + 1) != "chunked";
}

// "ip:port" as web::Request::peer and the logs write it; "unix" for the admin socket.
std::string peer_text(const PeerIdentity& who) {
  return who.ip == "unix" ? who.ip : who.ip + ":" + std::to_string(who.port);
}

// [proxy]: a request whose immediate peer (the socket's, or the client a PROXY header
// named) is a trusted proxy carries the client in X-Forwarded-For and the client's
// scheme in X-Forwarded-Proto; from anyone else those headers are the client's own
// words and ignored. Through a proxy, TLS is what the proxy says (no header: not TLS).
void apply_forwarded(web::Request& r, const PeerIdentity& who, const net::NetworkSet* trusted) {
  r.via_proxy = who.via_proxy;
  if (!trusted || !trusted->contains(who.ip)) return;
  r.via_proxy = true;
  if (auto client = net::forwarded_client(r.header_values("X-Forwarded-For"), *trusted)) {
    r.peer = client->to_string() + ":0";
  }
  r.tls = net::forwarded_https(r.header_values("X-Forwarded-Proto"));
}

web::Request to_request(const http::request_parser<http::string_body>::value_type& req, std::string body,
                        const PeerIdentity& who, bool trusted, const HttpOptions& opts, bool tls) {
  web::Request r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  for (const auto& f : req) r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  r.body = std::move(body);
  r.peer = peer_text(who);
  r.peer_trusted = trusted;
  r.tls = tls || who.client_tls;
  apply_forwarded(r, who, opts.trusted_proxies.get());
  const std::string& token = opts.admin_token;
  if (!trusted) {
    std::string_view auth = r.header("Authorization");
    if (auth.starts_with("Bearer ") && token_matches(auth.substr(7), token)) r.peer_trusted = true;
  }
  return r;
}

http::response<http::string_body> to_response(web::Response&& w, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(w.status), version};
  res.set(http::field::server, "refmail");
  if (!w.content_type.empty()) res.set(http::field::content_type, w.content_type);
  for (auto& [k, v] : w.headers) res.insert(k, v);
  res.body() = std::move(w.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

template <typename Fields>
void set_fields(Fields& res, const web::Response& w) {
  res.set(http::field::server, "refmail");
  if (!w.content_type.empty()) res.set(http::field::content_type, w.content_type);
  for (const auto& [k, v] : w.headers) res.insert(k, v);
}

// A BodyStream: the header with Content-Length, then chunks read on the blocking
// pool (1 MiB at a time) and written as they come. HEAD sends the header only.
template <typename Stream>
asio::awaitable<bool> write_streamed(Stream& stream, Runtime& rt, const HttpOptions& opts, web::Response w,
                                     unsigned version, bool keep_alive, bool head) {
  std::shared_ptr<web::BodyStream> body = w.stream;
  std::uint64_t remaining = body->size();
  if (head) {
    http::response<http::empty_body> res{static_cast<http::status>(w.status), version};
    set_fields(res, w);
    res.content_length(remaining);
    res.keep_alive(keep_alive);
    beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
    http::response_serializer<http::empty_body> sr{res};
    auto [ec, n] = co_await http::async_write_header(stream, sr, asio::as_tuple(use_awaitable));
    co_return !ec;
  }
  http::response<http::buffer_body> res{static_cast<http::status>(w.status), version};
  set_fields(res, w);
  res.content_length(remaining);
  res.keep_alive(keep_alive);
  res.body().data = nullptr;
  res.body().more = true;
  http::response_serializer<http::buffer_body> sr{res};
  beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
  auto [hec, hn] = co_await http::async_write_header(stream, sr, asio::as_tuple(use_awaitable));
  if (hec) co_return false;
  std::vector<char> buf(std::min<std::uint64_t>(remaining, 1u << 20));
  while (remaining > 0) {
    std::span<char> out(buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), remaining)));
    auto read = [body, out]() { return body->read(out); };
    boost::system::result<std::size_t> n = co_await offload(rt.pool, std::move(read));
    if (!n || *n == 0) {
      log::warn("http.stream_failed", {{"listener", opts.name}, {"left", remaining}});
      co_return false;  // the length was promised: closing tells the client it is short
    }
    remaining -= *n;
    res.body().data = buf.data();
    res.body().size = *n;
    res.body().more = remaining > 0;
    beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
    auto [ec, wn] = co_await http::async_write(stream, sr, asio::as_tuple(use_awaitable));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return false;
  }
  if (!sr.is_done()) {
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = false;
    auto [ec, wn] = co_await http::async_write(stream, sr, asio::as_tuple(use_awaitable));
    if (ec && ec != http::error::need_buffer) co_return false;
  }
  co_return true;
}

// text/event-stream: the header, then whatever poll() returns every interval, until
// the peer goes away or the daemon drains. The connection closes afterwards.
template <typename Stream>
asio::awaitable<bool> write_events(Stream& stream, Runtime& rt, const HttpOptions& opts, web::Response w,
                                   unsigned version, bool& stop_requested) {
  std::shared_ptr<web::EventSource> events = w.events;
  http::response<http::empty_body> res{static_cast<http::status>(w.status), version};
  set_fields(res, w);
  res.keep_alive(false);
  http::response_serializer<http::empty_body> sr{res};
  beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
  auto [hec, hn] = co_await http::async_write_header(stream, sr, asio::as_tuple(use_awaitable));
  if (hec) co_return false;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    if (rt.connections.stopping() || stop_requested) break;
    auto poll = [events]() { return events->poll(); };
    std::string text = co_await offload(rt.pool, std::move(poll));
    if (!text.empty()) {
      beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
      auto [ec, n] = co_await asio::async_write(stream, asio::buffer(text), asio::as_tuple(use_awaitable));
      if (ec) break;
    }
    timer.expires_after(events->interval());
    auto [tec] = co_await timer.async_wait(asio::as_tuple(use_awaitable));
    if (tec) break;
  }
  co_return true;
}

// A request body may take read_timeout plus one second per this many bytes (32 KB/s,
// a slow mobile uplink) before the connection is closed.
constexpr std::uint64_t kMinBodyRate = 32 * 1024;

template <typename Stream>
asio::awaitable<void> session(Stream stream, Runtime rt, HttpOptions opts, HttpHandler handler,
                              PeerIdentity who, bool trusted, ConnectionTracker::Slot slot,
                              beast::flat_buffer buffer, bool tls) {
  const std::string peer = peer_text(who);
  bool stop_requested = false;
  slot.set_on_stop([&stream, &stop_requested] {
    stop_requested = true;
    beast::get_lowest_layer(stream).cancel();
  });
  // Shed for a newcomer while waiting for a request (server/connections.hpp): closed
  // without a response, as an idle keep-alive may be (RFC 9112 9.6).
  bool shed = false;
  slot.set_on_shed([&stream, &shed] {
    shed = true;
    beast::get_lowest_layer(stream).cancel();
  });
  std::uint64_t served = 0;
  for (;;) {
    if (rt.connections.stopping() || stop_requested || shed) break;
    http::request_parser<http::string_body> parser;
    // The header first: the body limit depends on who is asking (HttpOptions).
    parser.body_limit(opts.body_limit_bytes);
    parser.header_limit(64 * 1024);
    // The whole header within read_timeout (Beast's expiry covers every read of it).
    beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
    slot.set_standing(served == 0 ? ConnectionTracker::Standing::idle : ConnectionTracker::Standing::keep_alive);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, asio::as_tuple(use_awaitable));
    slot.set_standing(ConnectionTracker::Standing::busy);
    if (shed) {
      log::debug("http.shed", {{"listener", opts.name}, {"peer", peer}});
      break;
    }
    const bool closed = ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
                        ec == beast::error::timeout;
    if (closed) {
      log::debug("http.closed", {{"listener", opts.name}, {"peer", peer}, {"error", ec.message()}});
      break;
    }
    int refuse = ec ? (ec == http::error::body_limit ? 413 : 400) : 0;
    std::string why = ec ? ec.message() : std::string();
    if (!ec && ambiguous_framing(parser.get())) {
      refuse = 400;
      why = "Transfer-Encoding must be a single final chunked, without Content-Length";
    }
    const auto declared = parser.content_length();  // boost::optional
    const bool large = parser.chunked() || (declared && *declared > opts.preauth_body_limit_bytes);
    if (!refuse && large && opts.may_send_large_body && !trusted) {
      // SECURITY: the body is read only once the header's credentials are checked.
      auto head = std::make_shared<web::Request>(
          to_request(parser.get(), std::string(), who, trusted, opts, tls));
      if (opts.before_handler) {  // the password gate: throttle wait, argon2 on its own pool
        auto before = opts.before_handler(*head);  // named: see the GCC 12 note below
        co_await std::move(before);
      }
      auto gate = [check = opts.may_send_large_body, head] { return head->peer_trusted || check(*head); };
      bool allowed = co_await offload(rt.pool, std::move(gate));
      if (!allowed) {
        if (declared) {
          refuse = 413;
          why = "request body too large before authentication (credentials missing, wrong or throttled)";
        } else {
          parser.body_limit(opts.preauth_body_limit_bytes);
        }
      }
    }
    if (!refuse && parser.get()[http::field::expect] == "100-continue" && !parser.is_done()) {
      // RFC 9110 10.1.1: the client waits for this before it sends a large body.
      http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
      beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
      auto [cec, cn] = co_await http::async_write(stream, cont, asio::as_tuple(use_awaitable));
      if (cec) break;
    }
    if (!refuse && !parser.is_done()) {
      // The body: read_timeout for each read, and a whole-body deadline that grows with
      // the declared size (chunked: the limit; kMinBodyRate), so a slow uplink can upload a large file but a
      // client pacing its bytes cannot hold the connection for ever.
      const auto body_deadline = std::chrono::steady_clock::now() + opts.read_timeout +
                                 std::chrono::seconds((declared ? *declared : opts.body_limit_bytes) / kMinBodyRate);
      boost::system::error_code bec;
      while (!parser.is_done()) {
        auto left = body_deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero()) {
          bec = beast::error::timeout;
          break;
        }
        beast::get_lowest_layer(stream).expires_after(
            std::min<std::chrono::steady_clock::duration>(opts.read_timeout, left));
        auto [rec, rn] = co_await http::async_read_some(stream, buffer, parser, asio::as_tuple(use_awaitable));
        if (rec) {
          bec = rec;
          break;
        }
      }
      if (bec == http::error::end_of_stream || bec == asio::error::operation_aborted ||
          bec == beast::error::timeout) {
        log::info("http.body_incomplete", {{"listener", opts.name}, {"peer", peer}, {"error", bec.message()}});
        break;
      }
      if (bec) {
        refuse = bec == http::error::body_limit ? 413 : 400;
        why = bec.message();
      }
    }
    if (refuse) {
      // A request we cannot or will not read gets a status, then the connection closes
      // (its unread body is not drained).
      auto res = to_response(web::error_response(refuse, why), 11, false);
      beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
      co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
      log::info("http.refused", {{"listener", opts.name}, {"peer", peer}, {"status", refuse}, {"reason", why}});
      break;
    }
    auto req = parser.release();
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    web::Request wreq = to_request(req, std::move(req.body()), who, trusted, opts, tls);
    std::string method = wreq.method, target = wreq.target;
    auto started = std::chrono::steady_clock::now();
    if (opts.before_handler) {
      auto before = opts.before_handler(wreq);  // named: see the GCC 12 note below
      co_await std::move(before);
    }
    // Named, not a temporary inside co_await: GCC 12 destroys such temporaries twice.
    auto run = [&handler, r = std::move(wreq)]() mutable { return handler(std::move(r)); };
    web::Response wres;
    try {
      wres = co_await offload(rt.pool, std::move(run));
    } catch (const std::exception& e) {  // the router catches its own; this is the pool hop
      wres = web::error_response(500, "internal error");
      wres.log_detail = e.what();
    }
    if (!wres.log_detail.empty()) {
      log::error("http.internal_error", {{"listener", opts.name}, {"peer", peer}, {"method", method},
                                         {"target", target}, {"error", wres.log_detail}});
    }
    int status = wres.status;
    bool ok = true;
    bool keep = keep_alive && !rt.connections.stopping();
    if (wres.events) {
      ok = co_await write_events(stream, rt, opts, std::move(wres), version, stop_requested);
      keep = false;
    } else if (wres.stream) {
      ok = co_await write_streamed(stream, rt, opts, std::move(wres), version, keep, method == "HEAD");
    } else {
      auto res = to_response(std::move(wres), version, keep);
      if (method == "HEAD") {  // RFC 9110 9.3.2: the GET's header fields, no content
        auto length = res.body().size();
        res.body().clear();
        res.content_length(length);
      }
      beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
      auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
      ok = !wec;
      keep = res.keep_alive();
    }
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                    started).count();
    log::debug("http.request", {{"listener", opts.name}, {"peer", peer}, {"method", method},
                                {"target", target}, {"status", status}, {"us", us}});
    ++served;
    if (!ok || !keep) break;
  }
  beast::error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(asio::socket_base::shutdown_both, ignored);
}

// Plain HTTP, or (TCP with opts.tls) TLS when the first bytes are a ClientHello.
template <typename Proto>
asio::awaitable<void> detect_session(beast::basic_stream<Proto> stream, Runtime rt, HttpOptions opts,
                                     HttpHandler handler, std::string peer, bool trusted,
                                     ConnectionTracker::Slot slot) {
  beast::flat_buffer buffer;
  PeerIdentity who;
  who.socket_ip = who.ip = peer;  // the admin socket: "unix"
  if constexpr (std::is_same_v<Proto, asio::ip::tcp>) {
    // [proxy] (server/proxy_peer.hpp): a trusted proxy's PROXY header comes before TLS.
    static const net::NetworkSet kNobody;
    auto identify = identify_peer(stream, opts.trusted_proxies ? *opts.trusted_proxies : kNobody, opts.proxy_protocol);
    who = co_await std::move(identify);
    if (who.header_error) {
      log::warn("proxy.bad_header", {{"listener", opts.name}, {"via", who.socket_ip}, {"error", who.header_error.message()}});
      co_return;
    }
    if (!slot.rekey(who.ip)) {
      log::warn("http.refused", {{"listener", opts.name}, {"peer", who.ip}, {"via", who.socket_ip},
                                 {"reason", "connection limit"}});
      co_return;
    }
    if (opts.tls) {
      // Silent so far: may be shed for a newcomer until its first bytes arrive.
      slot.set_on_shed([&stream] { stream.cancel(); });
      stream.expires_after(opts.read_timeout);
      auto [ec, is_tls] = co_await beast::async_detect_ssl(stream, buffer, asio::as_tuple(use_awaitable));
      slot.set_on_shed(nullptr);  // `stream` moves below; session() sets its own
      if (ec) co_return;
      if (is_tls) {
        beast::ssl_stream<beast::basic_stream<Proto>> tls_stream(std::move(stream), *opts.tls);
        beast::get_lowest_layer(tls_stream).expires_after(opts.read_timeout);
        auto [hec, used] = co_await tls_stream.async_handshake(asio::ssl::stream_base::server, buffer.data(),
                                                                asio::as_tuple(use_awaitable));
        if (hec) {
          log::debug("http.tls_failed", {{"listener", opts.name}, {"peer", who.ip}, {"error", hec.message()}});
          co_return;
        }
        buffer.consume(used);
        co_await session(std::move(tls_stream), rt, std::move(opts), std::move(handler), std::move(who), trusted,
                         std::move(slot), std::move(buffer), true);
        co_return;
      }
    }
  }
  co_await session(std::move(stream), rt, std::move(opts), std::move(handler), std::move(who), trusted,
                   std::move(slot), std::move(buffer), false);
}

template <typename Acceptor, typename Peer>
asio::awaitable<void> accept_loop(Acceptor& acceptor, Runtime rt, HttpOptions opts, HttpHandler handler,
                                  bool trusted, Peer peer_of) {
  while (auto accepted = co_await next_connection(acceptor, "http", opts.name)) {
    auto& socket = *accepted;
    auto [peer, ip] = peer_of(socket);
    auto admission = rt.connections.acquire(opts.budget, ip);
    if (!admission.slot) {
      log::warn("http.refused",
                {{"listener", opts.name}, {"peer", peer}, {"reason", ConnectionTracker::to_string(admission.refused)}});
      continue;  // the socket closes as it goes out of scope
    }
    if (admission.shed_one) log::info("http.shed_for_newcomer", {{"listener", opts.name}, {"peer", peer}});
    auto slot = std::move(admission.slot);
    using Proto = typename Acceptor::protocol_type;
    if constexpr (std::is_same_v<Proto, asio::ip::tcp>) {
      // Small responses go out at once, not after the peer's delayed ACK (~40 ms).
      boost::system::error_code nec;
      socket.set_option(asio::ip::tcp::no_delay(true), nec);
    }
    beast::basic_stream<Proto> stream(std::move(socket));
    asio::co_spawn(acceptor.get_executor(),
                   detect_session(std::move(stream), rt, opts, handler, peer, trusted, std::move(slot)),
                   log::on_exception("http.session_failed", "listener", opts.name));
  }
}

}  // namespace

asio::awaitable<void> serve_http(asio::ip::tcp::acceptor& acceptor, Runtime rt, HttpOptions opts,
                                 HttpHandler handler) {
  co_await accept_loop(acceptor, rt, std::move(opts), std::move(handler), false,
                       [](asio::ip::tcp::socket& s) {
                         boost::system::error_code ec;
                         auto ep = s.remote_endpoint(ec);
                         std::string ip = ec ? "?" : ep.address().to_string();
                         return std::pair{ip + ":" + std::to_string(ec ? 0 : ep.port()), ip};
                       });
}

asio::awaitable<void> serve_http(asio::local::stream_protocol::acceptor& acceptor, Runtime rt,
                                 HttpOptions opts, HttpHandler handler) {
  co_await accept_loop(acceptor, rt, std::move(opts), std::move(handler), true,
                       [](asio::local::stream_protocol::socket&) {
                         return std::pair{std::string("unix"), std::string("unix")};
                       });
}

}  // namespace refmail::server
