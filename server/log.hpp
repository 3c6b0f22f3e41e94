// server/log.hpp — structured log lines to stderr, one event per line, logfmt style:
//   2026-11-21T09:00:00.123Z info smtp.accept peer=127.0.0.1:4242 listener=mx
// Thread-safe (one write(2) per line). Values are quoted when they hold spaces,
// quotes or '='; control bytes are escaped, so a peer cannot forge log lines.
#pragma once
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace refmail::server::log {

enum class Level { debug = 0, info, warn, error };

void set_level(Level level);
[[nodiscard]] Level parse_level(std::string_view name);  // unknown -> info
[[nodiscard]] bool enabled(Level level);

// One key=value field; numbers are formatted by the caller via std::to_string.
struct Field {
  std::string_view key;
  std::string value;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  template <typename N>
    requires std::is_arithmetic_v<N>
  Field(std::string_view k, N n) : key(k), value(std::to_string(n)) {}
};

void write(Level level, std::string_view event, std::initializer_list<Field> fields);

inline void debug(std::string_view e, std::initializer_list<Field> f = {}) {
  if (enabled(Level::debug)) write(Level::debug, e, f);
}
inline void info(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::info, e, f); }
inline void warn(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::warn, e, f); }
inline void error(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::error, e, f); }

// Logs `event` at error level with `fields` and the exception's text (a bug: every task
// catches what it expects); nothing when `e` is null.
void exception(std::string_view event, std::exception_ptr e, std::initializer_list<Field> fields = {});

// A completion handler for asio::co_spawn instead of asio::detached: a task ended by an
// exception is logged as `event` (with key=value when given) rather than lost silently.
[[nodiscard]] inline auto on_exception(std::string event, std::string key = {}, std::string value = {}) {
  return [event = std::move(event), key = std::move(key), value = std::move(value)](std::exception_ptr e) {
    if (!e) return;
    if (key.empty()) {
      exception(event, e);
    } else {
      exception(event, e, {{key, value}});
    }
  };
}

}  // namespace refmail::server::log
