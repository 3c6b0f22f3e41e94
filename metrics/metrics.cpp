// metrics/metrics.cpp — see metrics.hpp.
#include "metrics/metrics.hpp"

#include <cstdio>
#include <set>

#include "storage/store.hpp"

namespace refmail::metrics {

std::string with_label(std::string_view name, std::string_view key, std::string_view value) {
  std::string s(name);
  s += "{";
  s += key;
  s += "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') s.push_back('\\');
    if (c == '\n') s += "\\n";
    else s.push_back(c);
  }
  s += "\"}";
  return s;
}

namespace {

std::string base_name(std::string_view series) { return std::string(series.substr(0, series.find('{'))); }

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

void Metrics::add(std::string_view series, std::uint64_t by) {
  std::lock_guard lock(mu_);
  auto it = counters_.find(series);
  if (it == counters_.end()) counters_.emplace(std::string(series), by);
  else it->second += by;
}

std::uint64_t Metrics::counter(std::string_view series) const {
  std::lock_guard lock(mu_);
  auto it = counters_.find(series);
  return it == counters_.end() ? 0 : it->second;
}

void Metrics::set_gauge(std::string_view series, double value) {
  std::lock_guard lock(mu_);
  gauges_[std::string(series)] = value;
}

void Metrics::observe_http(int status, std::chrono::microseconds latency) {
  double s = static_cast<double>(latency.count()) / 1e6;
  std::lock_guard lock(mu_);
  ++http_status_[status];
  ++http_count_;
  http_sum_seconds_ += s;
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (s <= kLatencyBuckets[i]) ++http_buckets_[i];
  }
}

std::string Metrics::render(storage::Store* store) const {
  std::string out;
  {
    std::lock_guard lock(mu_);
    std::set<std::string> typed;
    for (const auto& [series, v] : counters_) {
      auto b = base_name(series);
      if (typed.insert(b).second) out += "# TYPE " + b + " counter\n";
      out += series + " " + std::to_string(v) + "\n";
    }
    for (const auto& [series, v] : gauges_) {
      auto b = base_name(series);
      if (typed.insert(b).second) out += "# TYPE " + b + " gauge\n";
      out += series + " " + num(v) + "\n";
    }
    out += "# HELP refmail_http_requests_total HTTP requests answered, by status.\n";
    out += "# TYPE refmail_http_requests_total counter\n";
    for (const auto& [status, n] : http_status_) {
      out += "refmail_http_requests_total{status=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
    }
    out += "# HELP refmail_http_request_duration_seconds Time to produce an HTTP response.\n";
    out += "# TYPE refmail_http_request_duration_seconds histogram\n";
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      out += "refmail_http_request_duration_seconds_bucket{le=\"" + num(kLatencyBuckets[i]) + "\"} " +
             std::to_string(http_buckets_[i]) + "\n";
    }
    out += "refmail_http_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(http_count_) + "\n";
    out += "refmail_http_request_duration_seconds_sum " + num(http_sum_seconds_) + "\n";
    out += "refmail_http_request_duration_seconds_count " + std::to_string(http_count_) + "\n";
  }
  if (store) {
    if (auto s = store->stats()) {
      auto gauge = [&](const char* name, const char* help, double v) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " + num(v) + "\n";
      };
      gauge("refmail_logical_bytes", "Bytes every mailbox would hold with its own copy.", static_cast<double>(s->logical_bytes));
      gauge("refmail_physical_bytes", "Blob, skeleton and summary bytes actually stored.", static_cast<double>(s->physical_bytes));
      gauge("refmail_saving_ratio", "1 - physical/logical.", s->saving_ratio);
      gauge("refmail_blobs", "Distinct stored blobs.", static_cast<double>(s->blobs));
      gauge("refmail_messages", "Distinct message records.", static_cast<double>(s->messages));
      gauge("refmail_mailbox_rows", "Mailbox rows (message copies as users see them).", static_cast<double>(s->mailbox_rows));
    }
    auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    if (auto q = store->due_queue(now + std::chrono::hours(24 * 365 * 10), 100000)) {
      double oldest = 0;
      for (const auto& e : *q) oldest = std::max(oldest, static_cast<double>((now - e.due).count()));
      out += "# HELP refmail_queue_size Relay queue rows.\n# TYPE refmail_queue_size gauge\nrefmail_queue_size " +
             std::to_string(q->size()) + "\n";
      out += "# HELP refmail_queue_oldest_overdue_seconds Longest time a queue row is past due.\n"
             "# TYPE refmail_queue_oldest_overdue_seconds gauge\nrefmail_queue_oldest_overdue_seconds " + num(oldest) + "\n";
    }
  }
  return out;
}

}  // namespace refmail::metrics
