// tests/fuzz/fuzz_imap_mailbox.cpp — libFuzzer target: arbitrary bytes as IMAP commands of
// a logged-in client -> imap::Session over imap::MailboxEngine on a real storage::Store
// (RocksDB, opened once per process in $TMPDIR/refmail-fuzz-imapmb-<pid>, removed at
// exit; leftovers of crashed runs are removed at start), driven the way
// server/imap_server.cpp drives them, APPEND through the real delivery service. The
// store holds example.test with alice (three messages: an attachment, a plain one, a
// multipart/alternative; a folder "Lists/rust") and carol (one private message); it is
// restored from a checkpoint every kInputsPerRestore inputs.
//
// Input: byte 0 picks the client modes (ENABLE IMAP4rev2 / QRESYNC / UTF8=ACCEPT,
// SELECT INBOX first or not), byte 1 seeds the chunking, the rest is fed as client bytes
// after "L LOGIN alice@example.test pw".
//
// Invariants (abort on violation): no crash or UB; no engine exception (it would answer
// "NO [SERVERBUG] Internal error"); every literal source gives exactly its announced
// size and no more; nothing of carol's mail is ever
// written (a marker searched without memcmp, so libFuzzer cannot learn it); the
// session's buffers stay within its limits.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "delivery/service.hpp"
#include "imap/mailbox/engine.hpp"
#include "imap/session.hpp"
#include "storage/errors.hpp"
#include "storage/store.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/fuzz_dir.hpp"
#include "tests/unit/web/store_setup.hpp"

namespace fs = std::filesystem;
using namespace refmail;
using namespace refmail::imap;

namespace {

constexpr int kInputsPerRestore = 256;
constexpr std::string_view kDirPrefix = "refmail-fuzz-imapmb-";
constexpr std::string_view kPrivateMarker = "CarolImapPrivate9e41b7";

struct Harness {
  fs::path dir, data, checkpoint;
  config::Config cfg;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<delivery::Service> service;
  int inputs_since_restore = 0;
  bool verbose = false;  // FUZZ_IMAP_VERBOSE=1: the transcript on stderr
};

Harness* h = nullptr;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "fuzz_imap_mailbox setup: %s\n", what.c_str());
  std::abort();
}

void open_store() {
  auto s = web::testing::open_test_store(h->data);
  if (!s) die("cannot open the store: " + storage::error_detail(s.error()));
  h->store = std::move(*s);
  h->service = std::make_unique<delivery::Service>(*h->store, h->cfg);
}

void close_store() {
  h->service.reset();
  h->store.reset();
}

void setup_store() {
  open_store();
  auto& store = *h->store;
  if (!store.add_domain("example.test")) die("add_domain");
  // Quotas bound what inputs can create between two restores.
  if (!store.add_user("alice@example.test", "pw", false, 8u << 20)) die("add_user alice");
  if (!store.add_user("carol@example.test", "pw", false, 8u << 20)) die("add_user carol");
  const std::vector<std::string> alice{"alice@example.test"};
  std::vector<std::string> ids;
  ids.push_back(web::testing::deliver_message(
      store, web::testing::mime_with_attachment("quarterly report", std::string(3000, 'x') + "%PDF-1.4"), alice));
  ids.push_back(web::testing::deliver_message(
      store,
      "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: lunch\r\nMessage-ID: <lunch@x>\r\n"
      "Date: Tue, 2 Jan 2024 12:00:00 +0100\r\n\r\nPizza today?\r\n",
      alice));
  ids.push_back(web::testing::deliver_message(
      store,
      "From: Carol <carol@outside.test>\r\nTo: alice@example.test\r\nSubject: Re: lunch\r\nMessage-ID: <r@x>\r\n"
      "In-Reply-To: <lunch@x>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
      "--a\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
      "Oui, =E0 midi.\r\n--a\r\nContent-Type: text/html\r\n\r\n<p>Oui, <b>midi</b></p>\r\n--a--\r\n",
      alice));
  ids.push_back(web::testing::deliver_message(
      store,
      web::testing::mime_with_attachment(std::string(kPrivateMarker), std::string(kPrivateMarker) + "c",
                                         "carol@example.test"),
      {"carol@example.test"}));
  for (const auto& id : ids)
    if (id.empty()) die("delivery failed");
  if (!store.create_mailbox("alice@example.test", "Lists/rust")) die("create_mailbox");
  if (!store.checkpoint(h->checkpoint)) die("checkpoint");
}

void restore() {
  close_store();
  if (auto r = storage::Store::restore(h->checkpoint, h->data); !r) die("restore: " + storage::error_detail(r.error()));
  open_store();
  h->inputs_since_restore = 0;
}

void cleanup() {
  if (!h) return;
  close_store();
  std::error_code ec;
  fs::remove_all(h->dir, ec);
}

// The marker without memcmp/strstr (libFuzzer's comparison hooks would learn it).
bool contains_unlearned(std::string_view hay, std::string_view needle) {
  if (needle.empty() || hay.size() < needle.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    std::size_t j = 0;
    while (j < needle.size() && static_cast<unsigned char>(hay[i + j]) == static_cast<unsigned char>(needle[j])) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

struct Client {
  Session s;
  MailboxEngine engine;
  std::string out;
  bool closed = false;

  Client(Options o, Limits l) : s(std::move(o), l), engine(*h->store, "alice@example.test", engine_options(l)) {}

  static EngineOptions engine_options(const Limits& l) {
    EngineOptions eo;
    eo.append_limit = l.command.max_append_bytes;
    eo.delivery = h->service.get();
    return eo;
  }

  void perform(std::vector<Action> actions) {
    while (!actions.empty()) {
      std::vector<Action> next;
      for (std::size_t i = 0; i < actions.size(); ++i) {
        FUZZ_CHECK(!closed);
        const bool last = i + 1 == actions.size();
        Action& a = actions[i];
        if (auto* w = std::get_if<action::Write>(&a)) {
          out += w->bytes;
        } else if (auto* l = std::get_if<action::WriteLiteral>(&a)) {
          std::string lit;
          std::vector<char> buf(4096);
          while (lit.size() < l->size) {
            auto n = l->source->read(buf);
            FUZZ_CHECK(n.has_value());
            FUZZ_CHECK(*n > 0);
            lit.append(buf.data(), *n);
          }
          FUZZ_CHECK(lit.size() == l->size);
          auto extra = l->source->read(buf);
          FUZZ_CHECK(extra && *extra == 0);
          out += lit;
        } else if (std::holds_alternative<action::StartTls>(a)) {
          FUZZ_CHECK(last);
          next = s.tls_started();
        } else if (std::holds_alternative<action::Authenticate>(a)) {
          FUZZ_CHECK(last);
          next = s.auth_result(AuthOutcome::Failed);  // only the harness's login succeeds
        } else if (auto* m = std::get_if<action::MailboxRequest>(&a)) {
          FUZZ_CHECK(last);
          FUZZ_CHECK(m->user == "alice@example.test");
          MailboxReply r = engine.execute(*m);
          FUZZ_CHECK(!(r.status == Condition::No && r.code == "SERVERBUG" && r.text.starts_with("Internal error")));
          next = s.mailbox_result(std::move(r));
        } else if (auto* d = std::get_if<action::AppendData>(&a)) {
          engine.append_data(d->bytes);
        } else if (std::holds_alternative<action::Close>(a)) {
          FUZZ_CHECK(last);
          closed = true;
        }
      }
      actions = std::move(next);
    }
  }
};

}  // namespace

extern "C" const char* __lsan_default_suppressions() { return "leak:__cxa_thread_atexit_impl\n"; }

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  h = new Harness;
  h->verbose = std::getenv("FUZZ_IMAP_VERBOSE") != nullptr;
  auto dir = fuzz::make_process_dir(kDirPrefix);
  if (!dir) die("cannot create a folder in the temporary directory");
  h->dir = *dir;
  h->data = h->dir / "store";
  h->checkpoint = h->dir / "checkpoint";
  setup_store();
  std::atexit(cleanup);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  if (++h->inputs_since_restore > kInputsPerRestore) restore();
  const std::uint8_t flags = data[0];
  std::uint64_t rng = data[1] + 1ull;
  const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

  Options o;
  o.tls_active = true;
  o.mailbox_requests = true;
  Limits l;
  if (flags & 64) {
    l.command.max_append_bytes = 2000;
    l.command.max_literal_bytes = 64;
  }
  Client c(o, l);
  c.perform(c.s.start());
  // The harness logs in (the Authenticate action is answered Ok here only).
  auto login = c.s.feed("L LOGIN alice@example.test pw\r\n");
  FUZZ_CHECK(login.size() == 1 && std::holds_alternative<action::Authenticate>(login[0]));
  c.perform(c.s.auth_result(AuthOutcome::Ok));
  std::string prologue;
  if (flags & 1) prologue += "E1 ENABLE IMAP4rev2\r\n";
  if (flags & 2) prologue += "E2 ENABLE QRESYNC\r\n";
  if (flags & 4) prologue += "E3 ENABLE UTF8=ACCEPT\r\n";
  if (flags & 8) prologue += "S1 SELECT INBOX\r\n";
  if (flags & 16) prologue += "S2 EXAMINE \"Lists/rust\"\r\n";
  if (!prologue.empty()) c.perform(c.s.feed(prologue));
  std::size_t at = 0;
  while (at < in.size() && !c.closed) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    std::size_t n = (flags & 32) ? 1 + (rng >> 33) % 64 : in.size() - at;
    n = std::min(n, in.size() - at);
    c.perform(c.s.feed(in.substr(at, n)));
    at += n;
    if (!c.closed && (rng >> 40) % 7 == 0) c.perform(c.s.poll_mailbox());
    FUZZ_CHECK(c.s.held_bytes() <= l.command.max_command_bytes + l.command.max_line_bytes + l.max_input_buffer +
                                       n + 64 * 1024);
  }
  if (h->verbose) std::fprintf(stderr, "%.*s\n----\n%s\n", static_cast<int>(in.size()), in.data(), c.out.c_str());
  FUZZ_CHECK(!contains_unlearned(c.out, kPrivateMarker));
  return 0;
}
