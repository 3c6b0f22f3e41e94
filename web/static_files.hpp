// web/static_files.hpp — the webmail's built files (web/ui/dist) served at "/": GET and
// HEAD only, strong ETags with If-None-Match -> 304 (RFC 9110 8.8.3, 13.1.2), content
// types by extension, Cache-Control (hashed files under /assets/ are immutable,
// everything else no-cache), and a single-page-app fallback: a path that names no file
// (and is not under /assets/) answers index.html so the client routes it.
// SECURITY: a request path is served only if every segment is [A-Za-z0-9._-], does not
// start with '.', and nothing is percent-encoded (no "..", NUL, backslash or encoded
// dot can reach the file system: such paths answer 400 before any file is opened);
// only regular files (never a symbolic link) inside the configured folder are read.
// index.html carries a strict Content-Security-Policy (scripts only from 'self', no
// inline script; frames only for the sandboxed srcdoc reader), frame-ancestors 'none'
// + X-Frame-Options DENY, nosniff and Referrer-Policy: no-referrer. Files are cached in
// memory and re-read when their size or mtime changes. Thread-safe.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "web/http.hpp"

namespace refmail::web {

// The Content-Security-Policy sent with index.html (exposed for tests and docs).
[[nodiscard]] std::string_view webmail_csp();

class StaticFiles {
 public:
  // `dir` holds index.html and assets/; "" turns the webmail off (every path 404).
  explicit StaticFiles(std::string dir) : dir_(std::move(dir)) {}

  // Answers a non-API request. 405 for methods other than GET/HEAD, 400 for an unsafe
  // path, 404 when off or for a missing /assets/ file, 503 (a plain HTML page) when the
  // folder has no index.html (the webmail was not built).
  [[nodiscard]] Response serve(const Request& req);

  // True when `path` (no query) passes the safety rules above. "/" is safe.
  [[nodiscard]] static bool safe_path(std::string_view path);
  // The media type for a file name, by extension (application/octet-stream if unknown).
  [[nodiscard]] static std::string content_type_for(std::string_view name);

  [[nodiscard]] const std::string& dir() const { return dir_; }

 private:
  struct Entry {
    std::string body;
    std::string etag;  // "\"<hex of SHA-256 prefix>\""
    std::int64_t mtime_ns = 0;
    std::uint64_t size = 0;
  };
  // The file at `rel` (relative, already checked), read or from the cache; nullptr if absent.
  std::shared_ptr<const Entry> load(const std::string& rel);
  Response answer(const Request& req, const std::string& rel, const Entry& e, bool is_index) const;

  std::string dir_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const Entry>> cache_;
};

}  // namespace refmail::web
