// server/runtime.hpp — what every listener shares: the one io_context (run on one
// thread, so connection bookkeeping needs no locks), a thread pool for blocking work
// (RocksDB commits, splitting, password hashing), and the connection tracker
// (server/connections.hpp) that admits connections, sheds idle ones when a budget is
// full, and drives the graceful drain.
// SECURITY: limits are checked before any byte of a connection is read.
#pragma once
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "server/connections.hpp"

namespace refmail::server {

namespace asio = boost::asio;

struct Runtime {
  asio::io_context& io;
  asio::thread_pool& pool;
  ConnectionTracker& connections;
};

// Runs `f` on the blocking pool and resumes the caller on its own executor with the
// result. An exception thrown by `f` never leaves the pool thread (it would end the
// process): it is caught there and rethrown in the awaiting coroutine, whose own
// handler answers its connection (451, 500), logs and counts it.
// REQUIRES: `f` owns (or outlives) everything it touches and returns a value (not
// void). Built from plain handlers rather than a coroutine lambda: GCC 12
// mis-relocates the captures of coroutine lambdas (seen under ASan as a bad free).
template <typename F>
asio::awaitable<std::invoke_result_t<F&>> offload(asio::thread_pool& pool, F f) {
  using R = std::invoke_result_t<F&>;
  auto ex = co_await asio::this_coro::executor;
  std::optional<R> r = co_await asio::async_initiate<decltype(asio::use_awaitable),
                                                     void(std::exception_ptr, std::optional<R>)>(
      [&pool, ex](auto handler, F fn) {
        asio::post(pool, [handler = std::move(handler), fn = std::move(fn), ex]() mutable {
          std::optional<R> out;
          std::exception_ptr failure;
          try {
            out.emplace(fn());
          } catch (...) {
            failure = std::current_exception();
          }
          asio::post(ex, [handler = std::move(handler), failure, out = std::move(out)]() mutable {
            std::move(handler)(failure, std::move(out));
          });
        });
      },
      asio::use_awaitable, std::move(f));
  co_return std::move(*r);
}

}  // namespace refmail::server
