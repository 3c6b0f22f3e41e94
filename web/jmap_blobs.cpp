// web/jmap_blobs.cpp — RFC 8620 6: downloads (grant-checked, streamed in chunks, RFC
// 9110 14 single Range -> 206 / 416, strong ETag = the content-addressed id,
// Cache-Control: private, immutable, RFC 6266 Content-Disposition with filename*),
// uploads (bytes dedup'ed by the store after the whole body; an upload hold grants
// the blob to the uploader for 24 h), the RFC 9530 Repr-Digest pre-check, and the
// event source (RFC 8620 7.3).
// SECURITY: a blob that exists but is not granted, a malformed id, an id of another
// account's message and a missing blob all get the very same 404 (same body, same
// path through the code: one grant lookup). The {name} segment only feeds the
// Content-Disposition header (sanitized), never a file path. The pre-check answers
// the blobId only when *this* account holds a grant for that SHA-256.
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <charconv>
#include <ctime>

#include "mime/codec.hpp"
#include "mime/joiner.hpp"
#include "mime/scanner.hpp"
#include "mime/skeleton.hpp"
#include "mime/window_source.hpp"
#include "web/concurrency.hpp"
#include "web/jmap_internal.hpp"

namespace refmail::web {
namespace {

constexpr std::size_t kChunk = 1 << 20;

Response not_found() { return error_response(404, "blob not found"); }

class BlobStream final : public BodyStream {
 public:
  BlobStream(storage::Store& store, std::string id, std::uint64_t offset, std::uint64_t length)
      : store_(store), id_(std::move(id)), pos_(offset), left_(length), size_(length) {}
  std::uint64_t size() const override { return size_; }
  boost::system::result<std::size_t> read(std::span<char> out) override {
    if (left_ == 0) return std::size_t{0};
    auto n = std::min<std::uint64_t>(out.size(), left_);
    auto r = store_.read_blob(id_, pos_, out.first(static_cast<std::size_t>(n)));
    if (!r) return r.error();
    if (*r == 0) return boost::system::error_code(storage::errc::corrupt);  // shorter than its meta
    pos_ += *r;
    left_ -= *r;
    return *r;
  }

 private:
  storage::Store& store_;
  std::string id_;
  std::uint64_t pos_, left_, size_;
};

// The joined message (skeleton + blobs), from `offset` for `length` bytes.
class JoinStream final : public BodyStream {
 public:
  JoinStream(storage::Store& store, mime::Skeleton skel, std::uint64_t offset, std::uint64_t length)
      : skel_(std::move(skel)), window_(store.blob_source()), joiner_(skel_, window_), skip_(offset), left_(length),
        size_(length) {}
  std::uint64_t size() const override { return size_; }
  boost::system::result<std::size_t> read(std::span<char> out) override {
    std::string scratch;
    while (skip_ > 0) {  // a Range on a message: regenerate and drop the prefix
      scratch.resize(static_cast<std::size_t>(std::min<std::uint64_t>(skip_, kChunk)));
      auto r = joiner_.read(scratch);
      if (!r) return r.error();
      if (*r == 0) return boost::system::error_code(storage::errc::corrupt);
      skip_ -= *r;
    }
    if (left_ == 0) return std::size_t{0};
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), left_));
    auto r = joiner_.read(out.first(n));
    if (!r) return r.error();
    if (*r == 0) return boost::system::error_code(storage::errc::corrupt);
    left_ -= *r;
    return *r;
  }

 private:
  mime::Skeleton skel_;
  mime::WindowSource window_;  // the joiner's small slices served from whole chunks
  mime::Joiner joiner_;
  std::uint64_t skip_, left_, size_;
};

// Bytes already in memory (a small part kept in the skeleton).
class LiteralStream final : public BodyStream {
 public:
  LiteralStream(std::shared_ptr<const std::string> data, std::uint64_t offset, std::uint64_t length)
      : data_(std::move(data)), pos_(offset), end_(offset + length), size_(length) {}
  std::uint64_t size() const override { return size_; }
  boost::system::result<std::size_t> read(std::span<char> out) override {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), end_ - pos_));
    std::copy_n(data_->data() + pos_, n, out.data());
    pos_ += n;
    return n;
  }

 private:
  std::shared_ptr<const std::string> data_;
  std::uint64_t pos_, end_, size_;
};

bool row_for_message(Ctx& ctx, const std::string& message_id) {
  const auto* rows = ctx.rows_of(message_id);
  return rows && !rows->empty();
}

// The decoded body of a part kept in the skeleton (small: not cut), by part path.
std::optional<std::string> skeleton_part(const mime::Skeleton& sk, const std::string& path) {
  if (sk.cut_for_part(path)) return std::nullopt;  // cut parts are downloaded by their blob id
  for (const auto& p : mime::scan_message(sk.bytes)) {
    if (p.path != path || !p.is_leaf()) continue;
    // A part whose body was (partially) cut out cannot be rebuilt from the skeleton.
    for (const auto& c : sk.cuts) {
      if (c.offset >= p.body.begin && c.offset <= p.body.end) return std::nullopt;
    }
    std::string_view body = std::string_view(sk.bytes).substr(p.body.begin, p.body.size());
    switch (p.encoding) {
      case mime::TransferEncoding::Base64: return mime::base64_decode(body).bytes;
      case mime::TransferEncoding::QuotedPrintable: return mime::qp_decode(body).bytes;
      default: return std::string(body);
    }
  }
  return std::nullopt;
}

bool media_type_ok(std::string_view t) {
  if (t.empty() || t.size() > 200) return false;
  auto slash = t.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == t.size()) return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$&^_.+-/").find(c) != std::string_view::npos;
  });
}

// An upload's type (RFC 8620 6.1: its Content-Type) as it is stored and answered in JSON: a
// valid media type, its parameters only when they are printable ASCII and the whole stays
// within 255 bytes (else the media type alone), application/octet-stream without one.
std::string upload_type(std::string_view header) {
  const auto semi = header.find(';');
  const std::string_view media = header.substr(0, semi);
  if (!media_type_ok(media)) return "application/octet-stream";
  const bool printable = std::all_of(header.begin(), header.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  return std::string(printable && header.size() <= 255 ? header : media);
}

// The file name for Content-Disposition only: no path, no controls, bounded.
std::string safe_name(std::string_view raw) {
  std::string n = unescape_url(raw);
  auto slash = n.find_last_of("/\\");
  if (slash != std::string::npos) n = n.substr(slash + 1);
  std::string out;
  for (unsigned char c : n) {
    if (c < 0x20 || c == 0x7f || c == '"') continue;
    out.push_back(static_cast<char>(c));
  }
  if (out.size() > 255) out.resize(255);
  if (out.empty() || out == "." || out == "..") out = "download";
  return out;
}

// RFC 6266 4.3 / RFC 8187: an ASCII fallback plus filename* in UTF-8.
std::string content_disposition(const std::string& name) {
  std::string ascii, ext;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : name) {
    ascii.push_back(c < 0x80 && (std::isalnum(c) || std::string_view(" ._-()[]+,").find(static_cast<char>(c)) != std::string_view::npos)
                        ? static_cast<char>(c) : '_');
    if (std::isalnum(c) || std::string_view("!#$&+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos) {
      ext.push_back(static_cast<char>(c));
    } else {
      ext.push_back('%');
      ext.push_back(hex[c >> 4]);
      ext.push_back(hex[c & 15]);
    }
  }
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + ext;
}

// RFC 9110 14.2: one "bytes=first-last" / "first-" / "-suffix" range.
// Returns 0 = no (usable) Range: serve the whole; 1 = range set; 2 = unsatisfiable.
int parse_range(std::string_view h, std::uint64_t size, std::uint64_t& first, std::uint64_t& last) {
  if (h.empty()) return 0;
  if (!h.starts_with("bytes=")) return 0;
  h.remove_prefix(6);
  if (h.find(',') != std::string_view::npos) return 0;  // several ranges: we may send all (RFC 9110 14.2)
  auto dash = h.find('-');
  if (dash == std::string_view::npos) return 0;
  auto num = [](std::string_view s, std::uint64_t& v) {
    if (s.empty() || s.size() > 19) return false;
    v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return true;
  };
  std::string_view a = h.substr(0, dash), b = h.substr(dash + 1);
  if (a.empty()) {
    std::uint64_t suffix;
    if (!num(b, suffix)) return 0;
    if (suffix == 0 || size == 0) return 2;
    first = size > suffix ? size - suffix : 0;
    last = size - 1;
    return 1;
  }
  if (!num(a, first)) return 0;
  if (b.empty()) {
    last = size == 0 ? 0 : size - 1;
  } else if (!num(b, last) || last < first) {
    return 0;  // invalid: ignore the header
  }
  if (first >= size) return 2;
  last = std::min(last, size - 1);
  return 1;
}

// Writes the download answer for a body of `size` bytes made by `make(offset, len)`.
template <typename Make>
Response serve(const Request& req, const std::string& etag_id, std::uint64_t size, const std::string& type,
               const std::string& name, Make make) {
  Response r;
  std::string etag = "\"" + etag_id + "\"";
  r.content_type = type;
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Cache-Control", "private, immutable, max-age=31536000");
  r.headers.emplace_back("Content-Disposition", content_disposition(name));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Accept-Ranges", "bytes");
  if (req.header("If-None-Match") == etag) {
    r.status = 304;
    return r;
  }
  std::uint64_t first = 0, last = 0;
  int range = 0;
  std::string_view if_range = req.header("If-Range");
  if (if_range.empty() || if_range == etag) range = parse_range(req.header("Range"), size, first, last);
  if (range == 2) {
    r.status = 416;
    r.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
    r.content_type = "application/json";
    r.body = "{\"error\":\"range not satisfiable\"}";
    return r;
  }
  if (range == 1) {
    r.status = 206;
    r.headers.emplace_back("Content-Range",
                           "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size));
    r.stream = make(first, last - first + 1);
  } else {
    r.stream = make(0, size);
  }
  return r;
}

bool parse_digest(std::string_view header, storage::Sha256& out) {
  // RFC 9530 Repr-Digest: a dictionary; we read the sha-256 member ":<base64>:".
  auto pos = header.find("sha-256=:");
  if (pos == std::string_view::npos) return false;
  std::string_view rest = header.substr(pos + 9);
  auto end = rest.find(':');
  if (end == std::string_view::npos || end != 44) return false;
  unsigned char buf[48];
  int n = EVP_DecodeBlock(buf, reinterpret_cast<const unsigned char*>(rest.data()), 44);
  if (n != 33) return false;  // 32 bytes + 1 from the '=' padding
  std::copy(buf, buf + 32, out.begin());
  return true;
}

class StateEvents final : public EventSource {
 public:
  StateEvents(storage::Store& store, std::string account, std::chrono::seconds ping)
      : store_(store), account_(std::move(account)), id_(account_id_for(account_)), ping_(ping) {}
  std::chrono::milliseconds interval() const override { return std::chrono::milliseconds(1000); }
  std::string poll() override {
    std::string out;
    auto s = store_.account_state(account_);
    if (s && (!sent_ || *s != last_)) {
      last_ = *s;
      sent_ = true;
      std::string st = std::to_string(*s);
      json::object change{{"@type", "StateChange"},
                          {"changed", json::object{{id_, json::object{{"Email", st}, {"Mailbox", st}, {"Thread", st}}}}}};
      out += "event: state\ndata: " + json::serialize(change) + "\n\n";
    }
    if (ping_.count() > 0 && ++ticks_ >= ping_.count()) {
      ticks_ = 0;
      out += "event: ping\ndata: {\"interval\":" + std::to_string(ping_.count()) + "}\n\n";
    }
    return out;
  }

 private:
  storage::Store& store_;
  std::string account_, id_;
  std::chrono::seconds ping_;
  std::uint64_t last_ = 0;
  bool sent_ = false;
  long ticks_ = 0;
};

}  // namespace

std::optional<PartContent> resolve_part_blob(Ctx& ctx, std::string_view blob_id) {
  std::string message_id, part_path;
  if (!parse_part_blob_id(blob_id, message_id, part_path)) return std::nullopt;
  if (!row_for_message(ctx, message_id)) return std::nullopt;  // grant rule: a row of the message
  auto m = ctx.j.store.get_message(message_id);
  if (!m) return std::nullopt;
  auto sk = mime::Skeleton::parse(m->record.skeleton);
  if (!sk) return std::nullopt;
  PartContent out;
  if (const auto* cut = sk->cut_for_part(part_path)) {
    out.blob_id = cut->blob_id;
    out.size = cut->decoded_size;
    return out;
  }
  out.bytes = skeleton_part(*sk, part_path);
  if (!out.bytes) return std::nullopt;
  out.size = out.bytes->size();
  return out;
}

Response Jmap::download(const std::string& account, std::string_view rest, const Request& req) {
  if (req.method != "GET" && req.method != "HEAD") return error_response(405, "use GET");
  // {accountId}/{blobId}/{name}
  auto s1 = rest.find('/');
  if (s1 == std::string_view::npos) return not_found();
  auto s2 = rest.find('/', s1 + 1);
  if (s2 == std::string_view::npos) return not_found();
  std::string_view acct_id = rest.substr(0, s1);
  std::string blob_id(rest.substr(s1 + 1, s2 - s1 - 1));
  std::string name = safe_name(rest.substr(s2 + 1));
  std::string accept = query_value(req.target, "accept");
  std::string type = media_type_ok(accept) ? accept : "application/octet-stream";
  auto& store = impl_->store;
  if (acct_id != account_id_for(account) || !valid_jmap_id(blob_id)) return not_found();
  Ctx ctx{*impl_, account, account_id_for(account), {}, {}, {}};

  if (blob_id.front() == 'M') {  // an email's own blobId: the whole message, joined
    if (!row_for_message(ctx, blob_id)) return not_found();
    auto m = store.get_message(blob_id);
    if (!m) return not_found();
    auto sk = mime::Skeleton::parse(m->record.skeleton);
    if (!sk) return error_response(500, "stored message is corrupt");
    if (accept.empty()) type = "message/rfc822";
    std::uint64_t size = sk->joined_size();
    return serve(req, blob_id, size, type, name, [&](std::uint64_t off, std::uint64_t len) {
      return std::make_shared<JoinStream>(store, *sk, off, len);
    });
  }
  if (blob_id.front() == 'P') {
    auto part = resolve_part_blob(ctx, blob_id);
    if (!part) return not_found();
    if (!part->bytes) {  // cut: same bytes as its blob
      std::string id = part->blob_id;
      return serve(req, blob_id, part->size, type, name, [&](std::uint64_t off, std::uint64_t len) {
        return std::make_shared<BlobStream>(store, id, off, len);
      });
    }
    auto shared = std::make_shared<const std::string>(std::move(*part->bytes));
    return serve(req, blob_id, shared->size(), type, name, [&](std::uint64_t off, std::uint64_t len) {
      return std::make_shared<LiteralStream>(shared, off, len);
    });
  }
  if (blob_id.front() == 'Z') {  // a Sieve script's content (RFC 9661), jmap_sieve.cpp
    auto content = resolve_sieve_blob(ctx, blob_id);
    if (!content) return not_found();
    if (accept.empty()) type = "application/sieve";
    auto shared = std::make_shared<const std::string>(std::move(*content));
    return serve(req, blob_id, shared->size(), type, name, [&](std::uint64_t off, std::uint64_t len) {
      return std::make_shared<LiteralStream>(shared, off, len);
    });
  }
  // A store blob: the account must hold a grant (a row's message or an upload hold).
  if (blob_id.size() > mime::kMaxBlobIdBytes) return not_found();
  auto g = store.grant_count(account, blob_id);
  if (!g || *g <= 0) return not_found();
  auto info = store.blob_info(blob_id);
  if (!info) return not_found();
  return serve(req, blob_id, info->size_bytes, type, name, [&](std::uint64_t off, std::uint64_t len) {
    return std::make_shared<BlobStream>(store, blob_id, off, len);
  });
}

Response Jmap::upload(const std::string& account, std::string_view rest, const Request& req) {
  if (req.method != "POST") return error_response(405, "use POST");
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string id = account_id_for(account);
  if (rest != id) return error_response(404, "no such account");
  std::string type = upload_type(req.header("Content-Type"));
  auto& store = impl_->store;
  std::string_view digest_header = req.header("Repr-Digest");
  storage::Sha256 digest{};
  bool has_digest = !digest_header.empty() && parse_digest(digest_header, digest);
  if (!digest_header.empty() && !has_digest) return error_response(400, "Repr-Digest needs a sha-256 member");
  auto answer = [&](const std::string& blob, std::uint64_t size) {
    Response r;
    r.status = 201;
    r.body = json::serialize(json::object{{"accountId", id}, {"blobId", blob}, {"type", type}, {"size", size}});
    return r;
  };
  if (req.body.empty() && has_digest) {
    // The pre-check: only a blob this account already holds a grant for.
    auto found = store.find_granted_blob_by_sha256(account, digest);
    if (found) {
      auto info = store.blob_info(*found);
      if (info) return answer(*found, info->size_bytes);
    }
    // "Send the bytes": 412 Precondition Failed — the digest alone is not enough.
    Response r = error_response(412, "send the bytes");
    r.headers.emplace_back("Want-Repr-Digest", "sha-256=10");
    return r;
  }
  if (req.body.empty()) return error_response(400, "an empty upload stores nothing");
  if (req.body.size() > limits_.max_size_upload) return error_response(413, "larger than maxSizeUpload");
  auto ticket = uploads_in_flight_->acquire(account);
  if (!ticket) {
    Response r = error_response(429, "more than maxConcurrentUpload uploads in flight for this account");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  if (has_digest) {
    storage::Sha256 actual{};
    SHA256(reinterpret_cast<const unsigned char*>(req.body.data()), req.body.size(), actual.data());
    if (actual != digest) return error_response(400, "Repr-Digest does not match the body");
  }
  auto expires = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()) +
                 limits_.upload_hold;
  auto held = impl_->mail->hold_upload(account, req.body, expires);
  if (held.status == delivery::Status::quota_exceeded) {
    return error_response(413, "overQuota: the upload would exceed the account's quota");
  }
  if (held.status != delivery::Status::ok) return error_response(500, "cannot store the upload");
  const std::string& blob = held.message_id;
  // Same answer whether or not the bytes were already stored.
  return answer(blob, req.body.size());
}

Response Jmap::event_source(const std::string& account, const Request& req) {
  if (req.method != "GET") return error_response(405, "use GET");
  long ping = 0;
  std::string p = query_value(req.target, "ping");
  // Not ::isdigit: a byte >= 0x80 would reach it as a negative int (undefined behaviour).
  if (!p.empty() && p.size() < 6 && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::from_chars(p.data(), p.data() + p.size(), ping);
  }
  if (ping > 0 && ping < 5) ping = 5;  // RFC 8620 7.3: the server may raise it
  Response r;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.events = std::make_shared<StateEvents>(impl_->store, account, std::chrono::seconds(ping));
  return r;
}

}  // namespace refmail::web
