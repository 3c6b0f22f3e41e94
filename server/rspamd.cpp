// server/rspamd.cpp — rspamd's HTTP protocol over one short connection per request,
// on a private io_context so the pool thread that delivers can wait with a deadline.
#include "server/rspamd.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "metrics/metrics.hpp"
#include "mime/joiner.hpp"
#include "server/log.hpp"
#include "storage/store.hpp"

namespace refmail::server {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kReplyLimit = 4u << 20;
constexpr std::size_t kChunk = 64u << 10;

struct Reply {
  int status = 0;
  std::string body;
  std::string error;  // transport failure: no status
};

// "Trash", any case (the system mailbox deleted mail goes to).
bool is_trash(std::string_view name) {
  constexpr std::string_view kTrash = "trash";
  return name.size() == kTrash.size() && std::equal(name.begin(), name.end(), kTrash.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// A header value without control characters, bounded.
std::string header_value(std::string_view v) {
  std::string out;
  for (char c : v.substr(0, 1000)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) out += c;
  }
  return out;
}

asio::awaitable<void> exchange(const config::Endpoint& ep, std::string head, std::uint64_t size,
                               const delivery::MessageReader& read, Clock::time_point deadline, Reply& r) {
  auto ex = co_await asio::this_coro::executor;
  beast::tcp_stream stream(ex);
  stream.expires_at(deadline);
  tcp::resolver resolver(ex);
  auto endpoints = co_await resolver.async_resolve(ep.host, std::to_string(ep.port), asio::use_awaitable);
  co_await stream.async_connect(endpoints, asio::use_awaitable);
  co_await asio::async_write(stream, asio::buffer(head), asio::use_awaitable);
  std::vector<char> buf(kChunk);
  std::uint64_t sent = 0;
  for (;;) {
    auto n = read(std::span<char>(buf.data(), buf.size()));
    if (!n) {
      r.error = "reading the message: " + n.error().message();
      co_return;
    }
    if (*n == 0) break;
    sent += *n;
    if (sent > size) break;
    co_await asio::async_write(stream, asio::buffer(buf.data(), *n), asio::use_awaitable);
  }
  if (sent != size) {
    r.error = "the message is not the size announced";
    co_return;
  }
  beast::flat_buffer fb;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kReplyLimit);
  parser.header_limit(64u << 10);
  co_await http::async_read(stream, fb, parser, asio::use_awaitable);
  r.status = parser.get().result_int();
  r.body = std::move(parser.get().body());
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

// One POST with a deadline over everything; never throws.
Reply post(const config::Endpoint& ep, std::string_view target, const std::vector<std::pair<std::string, std::string>>& headers,
           std::uint64_t size, const delivery::MessageReader& read, std::chrono::seconds timeout) {
  Reply r;
  std::string head = "POST " + std::string(target) + " HTTP/1.1\r\nHost: " + ep.to_string() +
                     "\r\nConnection: close\r\nContent-Length: " + std::to_string(size) + "\r\n";
  for (const auto& [k, v] : headers) head += k + ": " + header_value(v) + "\r\n";
  head += "\r\n";
  const auto deadline = Clock::now() + timeout;
  asio::io_context ioc;
  bool done = false;
  asio::co_spawn(ioc, exchange(ep, std::move(head), size, read, deadline, r), [&](std::exception_ptr e) {
    done = true;
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const boost::system::system_error& se) {
      r.error = se.code() == beast::error::timeout ? "timed out" : se.code().message();
    } catch (const std::exception& ex) {
      r.error = ex.what();
    }
  });
  // The stream's own expiry ends every operation at the deadline; this bound is for the
  // resolver, which has none.
  ioc.run_until(deadline + std::chrono::milliseconds(200));
  if (!done) {
    r.error = "timed out";
    r.status = 0;
  }
  return r;
}

}  // namespace

RspamdClient::RspamdClient(const config::Spam& cfg, std::string password, std::shared_ptr<metrics::Metrics> metrics)
    : cfg_(cfg), password_(std::move(password)), metrics_(std::move(metrics)) {}

delivery::SpamVerdict RspamdClient::check(const delivery::SpamQuery& q, std::uint64_t size,
                                          const delivery::MessageReader& read) {
  std::vector<std::pair<std::string, std::string>> h;
  if (!q.ip.empty()) h.emplace_back("IP", q.ip);
  if (!q.helo.empty()) h.emplace_back("Helo", q.helo);
  if (!q.peer_name.empty()) h.emplace_back("Hostname", q.peer_name);
  h.emplace_back("From", q.mail_from.empty() ? "<>" : q.mail_from);
  for (const auto& r : q.rcpt_to) h.emplace_back("Rcpt", r);
  if (!q.user.empty()) h.emplace_back("User", q.user);
  if (!q.queue_id.empty()) h.emplace_back("Queue-Id", q.queue_id);
  if (!q.hostname.empty()) h.emplace_back("MTA-Name", q.hostname);
  const auto started = Clock::now();
  auto r = post(cfg_.rspamd, "/checkv2", h, size, read, cfg_.timeout);
  delivery::SpamVerdict v;
  if (!r.error.empty()) {
    v.error = "rspamd " + cfg_.rspamd.to_string() + ": " + r.error;
  } else if (r.status != 200) {
    v.error = "rspamd " + cfg_.rspamd.to_string() + " answered HTTP " + std::to_string(r.status);
  } else {
    v = delivery::parse_rspamd_reply(r.body);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  if (v.action == delivery::SpamAction::unchecked) {
    log::warn("spam.unchecked", {{"id", q.queue_id}, {"error", v.error}, {"ms", ms}});
  } else {
    log::debug("spam.check", {{"id", q.queue_id}, {"action", std::string(delivery::to_string(v.action))},
                              {"score", v.score}, {"ms", ms}});
  }
  return v;
}

bool RspamdClient::learn(bool spam, std::uint64_t size, const delivery::MessageReader& read, std::string& why) {
  if (!cfg_.controller.enabled()) {
    why = "no [spam] controller";
    return false;
  }
  std::vector<std::pair<std::string, std::string>> h;
  if (!password_.empty()) h.emplace_back("Password", password_);
  auto r = post(cfg_.controller, spam ? "/learnspam" : "/learnham", h, size, read, cfg_.timeout);
  if (!r.error.empty()) {
    why = r.error;
    return false;
  }
  // 208: already learned (rspamd's "already learned" answer); not a failure.
  if (r.status != 200 && r.status != 208) {
    why = "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 200);
    return false;
  }
  return true;
}

SpamLearner::SpamLearner(std::shared_ptr<RspamdClient> client, storage::Store& store, asio::thread_pool& pool,
                         std::shared_ptr<metrics::Metrics> metrics)
    : client_(std::move(client)), store_(store), pool_(pool), metrics_(std::move(metrics)) {}

void SpamLearner::row_copied(std::string_view account, std::string_view from_mailbox, std::string_view to_mailbox,
                             std::string_view message_id) {
  const bool into = delivery::is_junk_mailbox(to_mailbox);
  if (into == delivery::is_junk_mailbox(from_mailbox)) return;
  // Out of Junk into Trash is how clients delete spam, not a verdict that it is ham
  // (Dovecot's IMAPSieve antispam recipe leaves Trash out the same way).
  if (!into && is_trash(to_mailbox)) return;
  if (pending_.fetch_add(1) >= kMaxPending) {
    pending_.fetch_sub(1);
    metrics_->add("refmail_spam_learn_total{result=\"dropped\"}");
    log::warn("spam.learn_dropped", {{"account", std::string(account)}, {"message_id", std::string(message_id)}});
    return;
  }
  asio::post(pool_, [self = shared_from_this(), into, a = std::string(account), m = std::string(message_id)] {
    self->learn(into, a, m);
    self->pending_.fetch_sub(1);
  });
}

void SpamLearner::learn(bool spam, const std::string& account, const std::string& message_id) {
  std::string why;
  bool ok = false;
  try {
    auto msg = store_.get_message(message_id);
    if (!msg) {
      why = msg.error().message();
    } else {
      auto skel = mime::Skeleton::parse(msg->record.skeleton);
      if (!skel) {
        why = "skeleton: " + skel.error().message();
      } else {
        mime::Joiner joiner(*skel, store_.blob_source());
        ok = client_->learn(spam, skel->joined_size(), [&](std::span<char> b) { return joiner.read(b); }, why);
      }
    }
  } catch (const std::exception& e) {
    why = std::string("internal error: ") + e.what();
  }
  const char* kind = spam ? "spam" : "ham";
  metrics_->add(std::string("refmail_spam_learn_total{result=\"") + (ok ? kind : "failed") + "\"}");
  if (ok) {
    log::info("spam.learn", {{"account", account}, {"message_id", message_id}, {"as", kind}});
  } else {
    log::warn("spam.learn_failed", {{"account", account}, {"message_id", message_id}, {"as", kind}, {"error", why}});
  }
}

}  // namespace refmail::server
