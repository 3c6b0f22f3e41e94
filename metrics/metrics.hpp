// metrics/metrics.hpp — a small Prometheus registry (text exposition format 0.0.4):
// counters and gauges named by their full series ("name{label=\"v\"}"), plus the HTTP
// request counter by status and a latency histogram. server/ increments it (SMTP
// sessions, messages, deliveries); GET /metrics renders it with the store's figures.
// SECURITY: series names come from code, never from peers (no label injection);
// thread-safe (one mutex; increments are cheap).
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace refmail::storage {
class Store;
}

namespace refmail::metrics {

// `name{key="value"}` with `value` escaped per exposition 0.0.4 (backslash, quote,
// newline). REQUIRES: name and key written by code; value may come from the config.
[[nodiscard]] std::string with_label(std::string_view name, std::string_view key, std::string_view value);

class Metrics {
 public:
  // REQUIRES: `series` is a valid metric name, optionally with a {label="value"} set
  // written by code (e.g. refmail_smtp_sessions_total{listener="mx"}).
  void add(std::string_view series, std::uint64_t by = 1);
  void set_gauge(std::string_view series, double value);
  // A counter's value (0 when never added to), for pages that show a few of them.
  [[nodiscard]] std::uint64_t counter(std::string_view series) const;
  // One HTTP request answered with `status` after `latency`.
  void observe_http(int status, std::chrono::microseconds latency);
  // Every series, then logical/physical bytes, messages, blobs and the queue from the
  // store (skipped when `store` is null or fails).
  [[nodiscard]] std::string render(storage::Store* store) const;

  // Histogram bucket bounds in seconds (le), ascending.
  static constexpr std::array<double, 11> kLatencyBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                             0.05,   0.1,   0.25,   1.0,   5.0};

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t, std::less<>> counters_;
  std::map<std::string, double, std::less<>> gauges_;
  std::map<int, std::uint64_t> http_status_;
  std::array<std::uint64_t, kLatencyBuckets.size()> http_buckets_{};
  std::uint64_t http_count_ = 0;
  double http_sum_seconds_ = 0;
};

}  // namespace refmail::metrics
