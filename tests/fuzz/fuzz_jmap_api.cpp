// tests/fuzz/fuzz_jmap_api.cpp — libFuzzer target: arbitrary bytes as an HTTP request ->
// the real web::Router over a real storage::Store (RocksDB, opened once per process in
// $TMPDIR/refmail-fuzz-jmap-<pid>, removed at exit; leftovers of crashed runs are removed
// at start). The store holds example.test with alice (three messages, one upload), bob
// (an admin) and carol, whom no input can log in as (one private message); it is
// restored from a checkpoint every kInputsPerRestore inputs, so what inputs create
// stays bounded.
//
// Input: byte 0 picks the credentials (Basic alice/bob, alice's cookie session with or
// without the CSRF token, none, a failed or throttled password check), the peer
// (loopback, remote over TLS, remote plain) and whether the peer is trusted. The rest is
// an HTTP request as text: "METHOD TARGET\n", "Name: value\n" header lines, an empty
// line, the body. "`x" placeholders in the target, headers and body are replaced by the
// store's real ids (setup_store), so seeds can name real messages and blobs.
// Passwords are never hashed per input: as server/ does, the harness asks
// Router::password_attempt and fills Request::checked_password (a table, not argon2).
//
// Invariants (abort on violation): no crash or UB (ASan, UBSan); no handler throws (the
// router would answer 500 "internal error"); the status is an HTTP status; no CR, LF or
// NUL in a response header; JSON answers of the API routes parse, and a 200 from
// /jmap/api has "methodResponses" of [name, arguments, callId]; a body stream gives
// exactly size() bytes; no answer shows carol's private mail or the file beside the
// webmail folder (markers searched for without memcmp, so libFuzzer cannot learn them
// and bring them back in inputs).
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "config/config.hpp"
#include "storage/store.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/fuzz_dir.hpp"
#include "tests/unit/web/store_setup.hpp"
#include "web/router.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace refmail;

namespace {

constexpr int kInputsPerRestore = 256;
constexpr std::string_view kDirPrefix = "refmail-fuzz-jmap-";
// In carol's private message and in the file beside the webmail folder: no answer may
// ever contain them. Only contains_unlearned() may look for them.
constexpr std::string_view kPrivateMarker = "CarolPrivateMarker7f3a9c";
constexpr std::string_view kOutsideMarker = "OutsideWebrootMarker51d2";

struct Harness {
  fs::path dir;  // $TMPDIR/refmail-fuzz-jmap-<pid>
  fs::path data, checkpoint;
  config::Config cfg;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<web::Router> router;
  std::string session_cookie, csrf;
  std::vector<std::pair<std::string, std::string>> placeholders;  // "`x" -> value
  int inputs_since_restore = 0;
  bool verbose = false;  // FUZZ_JMAP_VERBOSE=1: each request and its answer on stderr
};

Harness* h = nullptr;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "fuzz_jmap_api setup: %s\n", what.c_str());
  std::abort();
}

std::string account(std::string_view user) { return std::string(user) + "@example.test"; }

void open_router() {
  auto s = web::testing::open_test_store(h->data);
  if (!s) die("cannot open the store: " + storage::error_detail(s.error()));
  h->store = std::move(*s);
  h->router = std::make_unique<web::Router>(*h->store, h->cfg);
}

void close_router() {
  h->router.reset();
  h->store.reset();
}

// A previous run that crashed (libFuzzer exits with _Exit) left its folder behind.
void write_file(const fs::path& p, std::string_view text) {
  FILE* f = std::fopen(p.c_str(), "wb");
  if (!f || std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fclose(f) != 0) die("write " + p.string());
}

// The webmail folder (index.html, assets/) and, beside it, a file it must never serve
// (also reachable through a symbolic link inside the folder).
void make_webroot() {
  fs::path root = h->dir / "webroot";
  fs::create_directories(root / "assets");
  write_file(root / "index.html", "<!doctype html><title>refmail</title><script src=\"/assets/app-1.js\"></script>");
  write_file(root / "assets" / "app-1.js", "console.log('webmail');");
  write_file(h->dir / "outside.txt", kOutsideMarker);
  std::error_code ec;
  fs::create_symlink("../outside.txt", root / "link.txt", ec);
  fs::create_symlink("../outside.txt", root / "assets" / "link.js", ec);
  h->cfg.webmail.dir = root.string();
}

web::Request base_request(std::string method, std::string target) {
  web::Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.peer = "127.0.0.1:40000";
  return r;
}

web::Request::CheckedPassword ok_verdict(const std::string& user) {
  return {user, auth::Verdict{auth::Outcome::Ok, user, {}}};
}

void setup_store() {
  auto s = web::testing::open_test_store(h->data);
  if (!s) die("cannot create the store: " + storage::error_detail(s.error()));
  auto& store = **s;
  if (!store.add_domain("example.test")) die("add_domain");
  // Quotas bound what inputs can create between two restores.
  if (!store.add_user(account("alice"), "alice-pw", false, 8u << 20)) die("add_user alice");
  if (!store.add_user(account("bob"), "bob-pw", true, 8u << 20)) die("add_user bob");
  if (!store.add_user(account("carol"), "carol-pw", false, 8u << 20)) die("add_user carol");
  std::string pdf = std::string(3000, 'x') + "%PDF-1.4 report";
  std::vector<std::string> ids;
  ids.push_back(web::testing::deliver_message(store, web::testing::mime_with_attachment("quarterly report", pdf),
                                              {account("alice")}));
  ids.push_back(web::testing::deliver_message(
      store,
      "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: lunch\r\nMessage-ID: <lunch@x>\r\n"
      "Date: Tue, 2 Jan 2024 12:00:00 +0100\r\n\r\nPizza today?\r\n",
      {account("alice")}));
  ids.push_back(web::testing::deliver_message(
      store,
      "From: Carol <carol@outside.test>\r\nTo: alice@example.test\r\nSubject: Re: lunch\r\nMessage-ID: <r@x>\r\n"
      "In-Reply-To: <lunch@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
      "--a\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
      "Oui, =E0 midi.\r\n--a\r\nContent-Type: text/html\r\n\r\n<p>Oui, <b>midi</b></p>\r\n--a--\r\n",
      {account("alice")}));
  std::string private_id = web::testing::deliver_message(
      store,
      web::testing::mime_with_attachment(std::string(kPrivateMarker), std::string(kPrivateMarker) + std::string(5000, 'c'),
                                         account("carol")),
      {account("carol")});
  for (const auto& id : ids) {
    if (id.empty()) die("delivery to alice failed");
  }
  if (private_id.empty()) die("delivery to carol failed");
  h->store = std::move(*s);
  h->router = std::make_unique<web::Router>(*h->store, h->cfg);

  // alice's cookie session, her ids for the placeholders, one upload of hers.
  auto login = base_request("POST", "/api/login");
  login.headers = {{"Content-Type", "application/json"}};
  login.body = R"({"username":"alice@example.test","password":"alice-pw"})";
  login.checked_password = ok_verdict(account("alice"));
  auto lr = h->router->handle(login);
  if (lr.status != 200) die("login: " + lr.body);
  for (const auto& [k, v] : lr.headers) {
    if (k == "Set-Cookie") h->session_cookie = v.substr(0, v.find(';'));
  }
  h->csrf = std::string(json::parse(lr.body).at("csrfToken").as_string());

  auto up = base_request("POST", "/jmap/upload/" + web::account_id_for(account("alice")) + "/");
  up.headers = {{"Authorization", "Basic " + web::testing::b64("alice@example.test:alice-pw")},
                {"Content-Type", "text/plain"}};
  up.body = "uploaded attachment text\r\n";
  up.checked_password = ok_verdict(account("alice"));
  auto ur = h->router->handle(up);
  if (ur.status != 201) die("upload: " + ur.body);
  std::string upload_id(json::parse(ur.body).at("blobId").as_string());

  // The attachments' blob ids as a client learns them: a part kept in the skeleton
  // ("P" id) and the cut PDF.
  auto get = base_request("POST", "/jmap/api");
  get.headers = up.headers;
  get.headers.back() = {"Content-Type", "application/json"};
  get.body = R"({"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"],"methodCalls":[["Email/get",)"
             R"({"ids":[")" + ids[0] + R"("],"properties":["attachments"]},"g"]]})";
  auto gr = h->router->handle(get);
  if (gr.status != 200) die("Email/get: " + gr.body);
  json::value got = json::parse(gr.body);
  const auto& atts = got.at("methodResponses").at(0).at(1).at("list").at(0).at("attachments").as_array();
  if (atts.size() != 2) die("the first message should have two attachments: " + gr.body);
  std::string part_id(atts[0].at("blobId").as_string()), cut_id(atts[1].at("blobId").as_string());

  auto& p = h->placeholders;
  p = {{"`A", web::account_id_for(account("alice"))}, {"`B", web::account_id_for(account("bob"))},
       {"`0", ids[0]}, {"`1", ids[1]}, {"`2", ids[2]}, {"`G", cut_id}, {"`P", part_id}, {"`U", upload_id}};
  auto boxes = h->store->list_mailboxes(account("alice"));
  if (!boxes) die("list_mailboxes");
  for (const auto& b : *boxes) {
    const char* key = b.name == "INBOX" ? "`I" : b.name == "Drafts" ? "`D" : b.name == "Sent" ? "`S"
                    : b.name == "Trash" ? "`T" : b.name == "Archive" ? "`X" : nullptr;
    if (key) p.emplace_back(key, "m" + std::to_string(b.mailbox_id));
  }
  if (p.size() != 13) die("expected INBOX, Drafts, Sent, Trash and Archive");
  if (!h->store->checkpoint(h->checkpoint)) die("checkpoint");
  close_router();
}

void restore() {
  close_router();
  if (auto r = storage::Store::restore(h->checkpoint, h->data); !r) die("restore: " + storage::error_detail(r.error()));
  open_router();
  h->inputs_since_restore = 0;
}

void cleanup() {
  if (!h) return;
  close_router();
  std::error_code ec;
  fs::remove_all(h->dir, ec);
}

std::string substitute(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '`' && i + 1 < in.size()) {
      bool done = false;
      for (const auto& [k, v] : h->placeholders) {
        if (in[i + 1] == k[1]) {
          out += v;
          ++i;
          done = true;
          break;
        }
      }
      if (done) continue;
    }
    out.push_back(in[i]);
  }
  return out;
}

std::string_view next_line(std::string_view& rest) {
  auto nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool is_authorization(std::string_view name) {
  constexpr std::string_view kName = "authorization";
  if (name.size() != kName.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(name[i])) != kName[i]) return false;
  }
  return true;
}

web::Request parse_input(std::uint8_t flags, std::string_view text) {
  std::string_view first = next_line(text);
  auto sp = first.find(' ');
  web::Request req = base_request(std::string(first.substr(0, sp)),
                                  sp == std::string_view::npos ? std::string("/") : substitute(first.substr(sp + 1)));
  const int auth_mode = flags & 7;
  switch (auth_mode) {
    case 0:
    case 1:
    case 5:
    case 6:
      req.headers.emplace_back("Authorization", "Basic " + web::testing::b64("alice@example.test:alice-pw"));
      break;
    case 2:
      req.headers.emplace_back("Authorization", "Basic " + web::testing::b64("bob@example.test:bob-pw"));
      break;
    case 3:
      req.headers.emplace_back("X-CSRF-Token", h->csrf);
      [[fallthrough]];
    case 4:
      req.headers.emplace_back("Cookie", "theme=dark; " + h->session_cookie);
      break;
    default:  // 7: only what the input says
      break;
  }
  switch ((flags >> 3) & 3) {
    case 2:
      req.peer = "203.0.113.9:50000";
      req.tls = true;
      break;
    case 3:
      req.peer = "[2001:db8::1]:50000";
      break;
    default:
      break;
  }
  req.peer_trusted = (flags & 0x20) != 0;
  while (!text.empty()) {
    std::string_view line = next_line(text);
    if (line.empty()) break;
    auto colon = line.find(':');
    std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    std::string name(line.substr(0, colon));
    // With alice's cookie, an Authorization of the input's would decide who asks.
    if ((auth_mode == 3 || auth_mode == 4) && is_authorization(name)) continue;
    req.headers.emplace_back(std::move(name), substitute(value));
  }
  req.body = substitute(text);
  // What server/ does before the handler (HttpOptions::before_handler): the password
  // the router would check, verified (here by table) into checked_password.
  if (auto attempt = h->router->password_attempt(req)) {
    bool known = (attempt->user == account("alice") && attempt->password == "alice-pw") ||
                 (attempt->user == account("bob") && attempt->password == "bob-pw");
    auth::Verdict v{known ? auth::Outcome::Ok : auth::Outcome::Bad, known ? attempt->user : "", {}};
    if (auth_mode == 5) v = {auth::Outcome::Bad, "", {}};
    if (auth_mode == 6) v = {(flags & 0x40) ? auth::Outcome::Busy : auth::Outcome::Throttled, "", std::chrono::seconds(3)};
    req.checked_password = web::Request::CheckedPassword{attempt->user, v};
  }
  return req;
}

// Whether `needle` occurs in `hay`, by a rolling hash: no memcmp/strstr and no compare
// of the needle's bytes, whose operands libFuzzer would learn and put into inputs (an
// input naming a marker gets it echoed back legitimately, e.g. in an error message).
bool contains_unlearned(std::string_view hay, std::string_view needle) {
  constexpr std::uint64_t kBase = 1099511628211ull;
  const std::size_t n = needle.size();
  if (n == 0 || hay.size() < n) return false;
  std::uint64_t want = 0, have = 0, top = 1;
  for (std::size_t i = 0; i < n; ++i) {
    want = want * kBase + static_cast<unsigned char>(needle[i]);
    have = have * kBase + static_cast<unsigned char>(hay[i]);
    if (i) top *= kBase;
  }
  for (std::size_t i = n;; ++i) {
    if (have == want) return true;  // a 64-bit collision would only be a false alarm
    if (i == hay.size()) return false;
    have = (have - static_cast<unsigned char>(hay[i - n]) * top) * kBase + static_cast<unsigned char>(hay[i]);
  }
}

bool clean_header_text(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos; }

bool api_route(std::string_view path) {
  return path == "/jmap/api" || path.starts_with("/jmap/upload/") || path == "/.well-known/jmap" ||
         path.starts_with("/api/");
}

void check_response(const web::Request& req, web::Response& r) {
  if (r.status == 500 && !r.log_detail.empty()) {
    std::fprintf(stderr, "handler threw: %s\n", r.log_detail.c_str());
    FUZZ_CHECK(!"a handler threw past its module (router answered 500)");
  }
  FUZZ_CHECK(r.status >= 100 && r.status <= 599);
  FUZZ_CHECK(clean_header_text(r.content_type));
  for (const auto& [k, v] : r.headers) {
    FUZZ_CHECK(!k.empty() && clean_header_text(k));
    FUZZ_CHECK(clean_header_text(v));
  }
  std::string body;
  if (r.events) {
    FUZZ_CHECK(r.events->interval().count() > 0);
    body = r.events->poll();
  } else if (r.stream) {
    std::vector<char> buf(64 * 1024);
    for (;;) {
      auto n = r.stream->read(buf);
      FUZZ_CHECK(n.has_value());
      if (*n == 0) break;
      FUZZ_CHECK(*n <= buf.size());
      body.append(buf.data(), *n);
      FUZZ_CHECK(body.size() <= r.stream->size());
    }
    FUZZ_CHECK(body.size() == r.stream->size());
  } else {
    body = r.body;
  }
  FUZZ_CHECK(!contains_unlearned(body, kOutsideMarker));
  FUZZ_CHECK(!contains_unlearned(body, kPrivateMarker));

  std::string_view path = req.path();
  bool json_type = r.content_type.starts_with("application/json") || r.content_type.starts_with("application/problem+json");
  if (!r.stream && !r.events && json_type && api_route(path)) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    FUZZ_CHECK(!ec);
    if (path == "/jmap/api" && r.status == 200) {
      const auto* o = v.if_object();
      FUZZ_CHECK(o && o->contains("methodResponses") && o->at("methodResponses").is_array());
      for (const auto& m : o->at("methodResponses").as_array()) {
        const auto* a = m.if_array();
        FUZZ_CHECK(a && a->size() == 3 && (*a)[0].is_string() && (*a)[1].is_object() && (*a)[2].is_string());
      }
    }
  }
}

}  // namespace

// Reopening the store (restore) starts RocksDB background threads inside an input; glibc
// allocates the node of each one's thread_local destructor list, which LeakSanitizer
// reports as a leak although the live thread holds it.
extern "C" const char* __lsan_default_suppressions() { return "leak:__cxa_thread_atexit_impl\n"; }

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  h = new Harness;
  h->verbose = std::getenv("FUZZ_JMAP_VERBOSE") != nullptr;
  auto dir = fuzz::make_process_dir(kDirPrefix);
  if (!dir) die("cannot create a folder in the temporary directory");
  h->dir = *dir;
  h->data = h->dir / "store";
  h->checkpoint = h->dir / "checkpoint";
  make_webroot();
  setup_store();
  open_router();
  // Registered after RocksDB's own statics exist, so it runs before they are destroyed.
  std::atexit(cleanup);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  if (++h->inputs_since_restore > kInputsPerRestore) restore();
  std::uint8_t flags = data[0];
  web::Request req = parse_input(flags, std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  web::Response r = h->router->handle(req);
  if (h->verbose) {
    std::fprintf(stderr, "%s %s -> %d %.300s\n", req.method.c_str(), req.target.c_str(), r.status, r.body.c_str());
  }
  check_response(req, r);
  return 0;
}
