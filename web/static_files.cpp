// web/static_files.cpp — see static_files.hpp.
#include "web/static_files.hpp"

#include <openssl/sha.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fstream>
#include <sstream>

namespace refmail::web {
namespace {

constexpr std::uint64_t kMaxFileBytes = 32ull << 20;  // a built asset is far smaller

// The reader iframe is srcdoc (inherits this policy, and narrows it with its own);
// inline style attributes of sanitised mail need 'unsafe-inline' for styles only.
// 'wasm-unsafe-eval' lets hash-wasm compile its SHA-256 module (no JS eval). img-src
// admits http(s) only so that "Show remote images" can work: until the reader allows
// them, the frame's own CSP (img-src 'self' data:) and the sanitiser keep them out.
constexpr std::string_view kCsp =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https: http:; font-src 'self' data:; connect-src 'self'; frame-src 'self'; "
    "worker-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (std::size_t i = 0; i < suffix.size(); ++i) {
    char a = s[s.size() - suffix.size() + i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != suffix[i]) return false;
  }
  return true;
}

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s.push_back(d[p[i] >> 4]);
    s.push_back(d[p[i] & 15]);
  }
  return s;
}

// RFC 9110 13.1.2: "*" or a list of entity tags (weak comparison).
bool etag_matches(std::string_view header, std::string_view etag) {
  if (header.empty()) return false;
  if (header == "*") return true;
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view t = header.substr(0, comma);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (t.starts_with("W/")) t.remove_prefix(2);
    if (t == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

Response not_built() {
  Response r;
  r.status = 503;
  r.content_type = "text/html; charset=utf-8";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Retry-After", "60");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.body =
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>refmail</title></head><body>"
      "<h1>The webmail is not built</h1><p>Run <code>bash tools/build-ui.sh</code> (or "
      "<code>bash tools/quickstart.sh</code>) and reload. JMAP clients can use <code>/jmap/api</code> "
      "meanwhile.</p></body></html>\n";
  return r;
}

}  // namespace

std::string_view webmail_csp() { return kCsp; }

bool StaticFiles::safe_path(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > 512) return false;
  if (path == "/") return true;
  std::string_view rest = path.substr(1);
  while (true) {
    auto slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    // An empty segment is only allowed as a trailing slash ("/mailbox/").
    if (seg.empty()) return slash == std::string_view::npos;
    if (seg.front() == '.') return false;  // ".", "..", hidden files
    for (char c : seg) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                c == '_' || c == '-';
      if (!ok) return false;  // '%', '\\', NUL, controls, ':' ...
    }
    if (slash == std::string_view::npos) return true;
    rest.remove_prefix(slash + 1);
  }
}

std::string StaticFiles::content_type_for(std::string_view name) {
  struct Type {
    std::string_view ext, type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},  {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},               {".png", "image/png"},
      {".ico", "image/x-icon"},                {".json", "application/json"},
      {".webmanifest", "application/manifest+json"}, {".wasm", "application/wasm"},
      {".txt", "text/plain; charset=utf-8"},   {".map", "application/json"},
      {".woff2", "font/woff2"},
  };
  for (const auto& t : kTypes) {
    if (ends_with_ci(name, t.ext)) return std::string(t.type);
  }
  return "application/octet-stream";
}

namespace {

// Opens dir/rel for reading without following a symbolic link anywhere on the way
// (a linked directory could lead out of the folder); -1 when any step fails.
// REQUIRES: rel is a checked relative path (no empty, "." or ".." segments).
int open_beneath(const std::string& dir, std::string_view rel) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  while (fd >= 0) {
    const auto slash = rel.find('/');
    const bool last = slash == std::string_view::npos;
    const std::string part(rel.substr(0, slash));
    const int next = ::openat(fd, part.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? 0 : O_DIRECTORY));
    ::close(fd);
    fd = next;
    if (last) break;
    rel.remove_prefix(slash + 1);
  }
  return fd;
}

}  // namespace

std::shared_ptr<const StaticFiles::Entry> StaticFiles::load(const std::string& rel) {
  const int fd = open_beneath(dir_, rel);
  if (fd < 0) return nullptr;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) > kMaxFileBytes) {
    return nullptr;
  }
  std::int64_t mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(rel);
    if (it != cache_.end() && it->second->mtime_ns == mtime && it->second->size == static_cast<std::uint64_t>(st.st_size)) {
      return it->second;
    }
  }
  auto e = std::make_shared<Entry>();
  e->body.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < e->body.size()) {
    const ssize_t n = ::read(fd, e->body.data() + got, e->body.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return nullptr;  // shrank or failed while read: serve nothing half-read
    got += static_cast<std::size_t>(n);
  }
  e->mtime_ns = mtime;
  e->size = static_cast<std::uint64_t>(st.st_size);
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(e->body.data()), e->body.size(), md);
  e->etag = "\"" + hex(md, 16) + "\"";
  std::lock_guard lock(mu_);
  cache_[rel] = e;
  return e;
}

Response StaticFiles::answer(const Request& req, const std::string& rel, const Entry& e, bool is_index) const {
  Response r;
  r.content_type = content_type_for(rel);
  r.headers.emplace_back("ETag", e.etag);
  // esbuild names every file under assets/ by its content hash: it never changes.
  r.headers.emplace_back("Cache-Control",
                         rel.starts_with("assets/") ? "public, max-age=31536000, immutable" : "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (is_index) {
    r.headers.emplace_back("Content-Security-Policy", std::string(kCsp));
    r.headers.emplace_back("X-Frame-Options", "DENY");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    r.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  }
  if (etag_matches(req.header("If-None-Match"), e.etag)) {
    r.status = 304;
    return r;
  }
  r.body = e.body;
  return r;
}

Response StaticFiles::serve(const Request& req) {
  if (dir_.empty()) return error_response(404, "not found");
  if (req.method != "GET" && req.method != "HEAD") {
    Response r = error_response(405, "use GET");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  std::string_view path = req.path();
  if (!safe_path(path)) return error_response(400, "bad path");
  std::string rel(path.substr(1));
  if (!rel.empty() && rel.back() != '/' && rel != "index.html") {
    if (auto e = load(rel)) return answer(req, rel, *e, ends_with_ci(rel, ".html"));
    // A missing hashed asset must not turn into HTML (the browser would run it as a script).
    if (rel.starts_with("assets/") || rel.find('.') != std::string::npos) return error_response(404, "not found");
  }
  // "/", "/index.html" and client-side routes ("/mailbox/inbox") -> the app's page.
  auto index = load("index.html");
  if (!index) return not_built();
  return answer(req, "index.html", *index, true);
}

}  // namespace refmail::web
