// server/daemon.cpp — see daemon.hpp.
#include "server/daemon.hpp"

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include <boost/asio.hpp>

#include "server/http_server.hpp"
#include "server/dns_lookup.hpp"
#include "server/import_worker.hpp"
#include "server/public_suffix_file.hpp"
#include "server/search_worker.hpp"
#include "search/index.hpp"
#include "server/listeners.hpp"
#include "delivery/dkim_signing.hpp"
#include "delivery/srs.hpp"
#include "delivery/service.hpp"
#include "server/log.hpp"
#include "server/password_gate.hpp"
#include "server/relay.hpp"
#include "server/rspamd.hpp"
#include "server/managesieve_server.hpp"
#include "delivery/sieve_filter.hpp"
#include "config/import_config.hpp"
#include "server/tls.hpp"
#include "storage/store.hpp"
#include "web/admin.hpp"
#include "web/import_api.hpp"
#include "metrics/metrics.hpp"

namespace refmail::server {
namespace {

namespace fs = std::filesystem;
using asio::ip::tcp;

// Seeds the configured local domains; on a store with no users, creates a first admin
// user and prints its password once.
// The SRS secret: <data_dir>/srs.key, 32 random bytes as hex, made at the first start
// (mode 0600) and kept, so addresses handed out before a restart still verify.
std::optional<std::string> srs_secret(const std::string& data_dir, std::string& why) {
  const std::string path = data_dir + "/srs.key";
  if (std::ifstream in(path); in) {
    std::string s;
    std::getline(in, s);
    if (s.size() >= 32) return s;
    why = path + ": shorter than 32 characters";
    return std::nullopt;
  }
  unsigned char b[32];
  if (RAND_bytes(b, sizeof b) != 1) {
    why = "no random bytes for the SRS secret";
    return std::nullopt;
  }
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) s += {hex[c >> 4], hex[c & 15]};
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << s << "\n";
    if (!out.flush()) {
      why = tmp + ": cannot write";
      return std::nullopt;
    }
  }
  ::chmod(tmp.c_str(), 0600);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    why = path + ": cannot write";
    return std::nullopt;
  }
  return s;
}

bool seed(storage::Store& store, const config::Config& cfg) {
  for (const auto& d : cfg.local_domains) {
    auto r = store.add_domain(d);
    if (!r && r.error() != storage::errc::exists) {
      log::error("store.seed_failed", {{"domain", d}, {"error", storage::error_detail(r.error())}});
      return false;
    }
  }
  auto users = store.list_users();
  if (!users) {
    log::error("store.read_failed", {{"error", storage::error_detail(users.error())}});
    return false;
  }
  if (users->empty()) {
    std::string address = "admin@" + cfg.local_domains.front();
    std::string password = web::generate_password();
    if (auto r = store.add_user(address, password, true); !r) {
      log::error("store.first_user_failed", {{"error", storage::error_detail(r.error())}});
      return false;
    }
    log::info("store.first_user", {{"address", address}});
    std::cout << "refmaild: first user " << address << " created; password: " << password
              << "\nrefmaild: (shown once; change it with refmailctl user passwd " << address << ")\n"
              << std::flush;
  }
  return true;
}

}  // namespace

int run_daemon(const config::Config& cfg) {
  log::set_level(log::parse_level(cfg.log_level));
  ::umask(0077);
  // Buffers of 1 MiB and more (message content, attachments, argon2's 9 MiB) come from
  // mmap and go back to the system when freed. glibc's default threshold grows up to
  // 32 MiB and then keeps such buffers in the pool threads' arenas, so peak RSS ratcheted
  // up under large messages (docs/PERFORMANCE.md, attack replay: 544 -> 341 MiB). A
  // threshold above a blob chunk record (1 MiB + 64 KiB) made IMAP FETCH BODY[] 25-50%
  // faster but let a 41 MB message grow RSS by 22-42 MB instead of 15 (the mail-core
  // goal is 16): kept at 1 MiB (docs/PERFORMANCE.md, issue 16).
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
  std::error_code fec;
  fs::create_directories(cfg.data_dir, fec);
  if (fec) {
    std::cerr << "refmaild: cannot create data_dir " << cfg.data_dir << ": " << fec.message() << "\n";
    return 1;
  }

  storage::StoreOptions sopts;
  sopts.path = fs::path(cfg.data_dir) / "store";
  sopts.on_index_progress = [](std::string_view stage, std::uint64_t rows) {
    log::info("store.index", {{"stage", std::string(stage)}, {"rows", std::to_string(rows)}});
  };
  auto opened = storage::Store::open(sopts);
  if (!opened) {
    std::cerr << "refmaild: " << storage::error_detail(opened.error()) << "\n";
    return 1;
  }
  std::unique_ptr<storage::Store> store = std::move(*opened);
  log::info("store.open", {{"path", sopts.path.string()}});
  if (!seed(*store, cfg)) return 1;

  auto tls_files = ensure_tls_files(cfg.tls.cert_file, cfg.tls.key_file, cfg.data_dir, cfg.hostname);
  if (!tls_files) {
    std::cerr << "refmaild: " << tls_files.error() << "\n";
    return 1;
  }
  if (tls_files->generated) log::info("tls.generated", {{"cert", tls_files->cert_file}});
  auto tls = make_server_tls(*tls_files);
  if (!tls) {
    std::cerr << "refmaild: " << tls.error() << "\n";
    return 1;
  }

  asio::io_context io(1);
  asio::thread_pool pool(8);  // blocking work; several writers let RocksDB group commits
  ConnectionTracker tracker(cfg.limits.connections, cfg.limits.connections_per_ip);
  tracker.set_content_budget(cfg.limits.inflight_bytes);
  ConnectionTracker admin_tracker(64, 64);
  const auto admin_budget = admin_tracker.add_listener("admin", 64);
  Runtime rt{io, pool, tracker};

  // Admin API on the unix socket. A stale socket file is removed: the store lock
  // above proves no other refmaild uses this data_dir.
  std::string sock_path = cfg.admin_socket();
  ::unlink(sock_path.c_str());
  asio::local::stream_protocol::acceptor admin_acc(io);
  boost::system::error_code ec;
  admin_acc.open(asio::local::stream_protocol(), ec);
  if (!ec) admin_acc.bind(asio::local::stream_protocol::endpoint(sock_path), ec);
  if (!ec) ::chmod(sock_path.c_str(), 0600);
  if (!ec) admin_acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::cerr << "refmaild: cannot listen on admin socket " << sock_path << ": " << ec.message() << "\n";
    return 1;
  }
  auto admin_api = std::make_shared<web::AdminApi>(*store);
  // The import worker (server/import_worker.hpp); its admin routes and the notify
  // endpoint are also served on the admin socket (agents on this host, tests).
  // One metrics registry for the listeners (/metrics) and the import worker.
  auto metrics = std::make_shared<metrics::Metrics>();
  auto importer = std::make_unique<ImportWorker>(cfg, *store, io, pool, metrics);
  // Full-text search: one Xapian database per account under <data_dir>/fts (outside the
  // store folder, so a restore replaces the store and the index notices: search/index.hpp),
  // kept current by the worker; Email/query and the admin rebuild route use it.
  search::Options search_opts;
  search_opts.dir = fs::path(cfg.data_dir) / "fts";
  auto search_index = std::make_shared<search::Index>(*store, search_opts);
  admin_api->set_search(search_index);
  admin_api->set_config(cfg);
  auto search_worker = std::make_unique<SearchWorker>(*store, search_index, metrics);
  search_worker->start();
  auto import_ctx = std::make_shared<web::ImportContext>(web::ImportContext{
      *store, cfg, [w = importer.get()](storage::UnixSeconds due) { w->wake(due); }, metrics});
  HttpHandler admin_handler = [admin_api, import_ctx](web::Request&& r) {
    if (r.path().starts_with("/admin/v1/import")) return web::handle_admin_import(r, *import_ctx);
    if (r.path() == "/api/import/notify") return web::handle_import(r, *import_ctx);
    return admin_api->handle(r);
  };
  HttpOptions admin_opts;
  admin_opts.name = "admin";
  admin_opts.read_timeout = cfg.limits.read_timeout;
  admin_opts.admin_token = cfg.admin.token;
  admin_opts.budget = admin_budget;
  Runtime admin_rt{io, pool, admin_tracker};
  std::vector<std::function<void()>> closers;
  closers.push_back([&admin_acc] {
    boost::system::error_code ignored;
    admin_acc.close(ignored);
  });
  spawn_logged(io, serve_http(admin_acc, admin_rt, admin_opts, admin_handler), "admin");

  tcp::acceptor admin_tcp(io);
  if (cfg.admin.listen.enabled()) {
    std::string why;
    if (!bind_tcp(io, cfg.admin.listen, "admin-tcp", admin_tcp, why)) {
      std::cerr << "refmaild: " << why << "\n";
      return 1;
    }
    log::info("listen", {{"listener", "admin-tcp"}, {"address", cfg.admin.listen.to_string()}});
    closers.push_back([&admin_tcp] {
      boost::system::error_code ignored;
      admin_tcp.close(ignored);
    });
    HttpOptions o = admin_opts;
    o.name = "admin-tcp";
    spawn_logged(io, serve_http(admin_tcp, admin_rt, o, admin_handler), "admin-tcp");
  }

  // DKIM keys (refmailctl dkim): submissions from a domain with keys are signed, and the
  // server's own reports (bounces, notices) when the hostname's domain has keys.
  auto dkim_keys = std::make_shared<delivery::DkimKeyring>(cfg.data_dir + "/dkim");
  // The relay worker starts before the listeners, so the first queued row wakes it.
  auto relay = std::make_unique<RelayWorker>(cfg, *store, io, pool);
  relay->set_dkim(dkim_keys);
  {
    std::string why;
    if (!relay->start(why)) {
      std::cerr << "refmaild: " << why << "\n";
      return 1;
    }
  }
  // Every delivery (SMTP, and the bounces of the relay itself) wakes the relay when it
  // queued rows; JMAP's router gets the same waker (listeners.cpp).
  auto mail = std::make_shared<delivery::Service>(*store, cfg, [r = relay.get()] { r->notify(); });
  if (cfg.auth.verify) {
    // [auth]: SPF, DKIM and DMARC of mail from the world, DNS as the relay asks it.
    std::string why;
    auto psl = load_public_suffix_list(cfg.auth.public_suffix_list, &why);
    if (!psl) {
      std::cerr << "refmaild: auth.public_suffix_list: " << why
                << " (install Debian's publicsuffix package, or set auth.verify = false)\n";
      return 1;
    }
    delivery::InboundAuth auth;
    auth.psl = std::make_shared<const trust::PublicSuffixList>(std::move(*psl));
    auth.enforce_reject = cfg.auth.enforce_dmarc_reject;
    auth.dns = [servers = cfg.relay.dns_servers]() -> std::unique_ptr<trust::DnsLookup> {
      DnsOptions o;
      o.servers = servers;
      return std::make_unique<AresDnsLookup>(std::move(o));
    };
    mail->set_inbound_auth(std::move(auth));
  }
  mail->set_dkim(dkim_keys);
  // SRS for what aliases forward to other domains, at the first local domain.
  if (!cfg.local_domains.empty()) {
    std::string why;
    auto secret = srs_secret(cfg.data_dir, why);
    if (!secret) {
      std::cerr << "refmaild: " << why << "\n";
      return 1;
    }
    mail->set_srs(std::make_shared<const delivery::Srs>(*secret, cfg.local_domains.front()));
  }
  // [sieve]: the bounds of every run, and the admin's script run before each user's.
  {
    auto setup = std::make_shared<delivery::SieveSetup>();
    setup->limits = delivery::sieve_limits(cfg);
    if (!cfg.sieve.before.empty()) {
      std::ifstream f(cfg.sieve.before, std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      if (!f.is_open() || f.bad()) {
        std::cerr << "refmaild: sieve.before: cannot read " << cfg.sieve.before << "\n";
        return 1;
      }
      if (auto why = delivery::validate_sieve(text, setup->limits); !why.empty()) {
        std::cerr << "refmaild: sieve.before: " << cfg.sieve.before << ":" << why << "\n";
        return 1;
      }
      setup->before = sieve::compile(text, setup->limits).script;
      log::info("sieve.before", {{"file", cfg.sieve.before}, {"bytes", text.size()}});
    }
    mail->set_sieve(std::move(setup));
  }
  // [spam]: rspamd checks mail before the 250; moves into and out of Junk teach it.
  std::shared_ptr<SpamLearner> spam_learner;
  if (cfg.spam.enabled()) {
    std::string password;
    if (cfg.spam.controller.enabled() && (!cfg.spam.password.empty() || !cfg.spam.password_file.empty())) {
      std::string why;
      auto secret = config::read_secret(cfg.spam.password, cfg.spam.password_file, why);
      if (!secret) {
        std::cerr << "refmaild: spam.password_file: " << why << "\n";
        return 1;
      }
      password = std::move(*secret);
    }
    auto rspamd = std::make_shared<RspamdClient>(cfg.spam, std::move(password), metrics);
    mail->set_spam(rspamd);
    if (cfg.spam.controller.enabled()) {
      spam_learner = std::make_shared<SpamLearner>(rspamd, *store, pool, metrics);
      store->set_row_copied([l = spam_learner](std::string_view a, std::string_view from, std::string_view to,
                                               std::string_view id) { l->row_copied(a, from, to, id); });
    }
    log::info("spam", {{"rspamd", cfg.spam.rspamd.to_string()},
                       {"controller", cfg.spam.controller.to_string()},
                       {"fail_mode", cfg.spam.fail_open ? "open" : "closed"},
                       {"reject", cfg.spam.reject ? "550" : "junk"}});
  }
  // What Sieve and the spam filter did to each message, on every path (SMTP, JMAP).
  mail->set_observer([metrics](const delivery::Outcome& outcome, const delivery::Service::Observed& seen) {
    for (const auto& note : outcome.after_notes) {
      log::info("delivery.after", {{"id", outcome.trace_id}, {"note", note}});
      if (note.starts_with("vacation ") && note.ends_with(": sent")) metrics->add("refmail_sieve_vacation_replies_total");
      if (note.starts_with("error ")) metrics->add("refmail_sieve_errors_total");
    }
    if (outcome.spam_action.empty()) return;
    metrics->add(metrics::with_label("refmail_spam_actions_total", "action", outcome.spam_action));
    if (outcome.status == delivery::Status::spam_rejected && !seen.user.empty()) {
      // A compromised account sending spam: stopped, and the admins were told.
      log::warn("spam.outbound_blocked", {{"user", seen.user}, {"peer", seen.peer},
                                          {"id", outcome.trace_id}, {"score", std::to_string(outcome.spam_score)}});
      metrics->add("refmail_spam_outbound_blocked_total");
    }
  });
  admin_api->set_queue_notifier([r = relay.get()] { r->notify(); });
  {
    std::string why;
    if (!importer->start(why)) {
      std::cerr << "refmaild: " << why << "\n";
      return 1;
    }
  }

  Services services{cfg, *store, rt, *tls, metrics, import_ctx, [r = relay.get()] { r->notify(); }};
  // Password checks: the guessing throttle and argon2id on 2 threads of their own.
  auto passwords = std::make_shared<PasswordGate>(*store, std::make_shared<auth::Throttle>(), metrics);
  services.passwords = passwords;
  services.delivery = mail;
  services.search = search_index;
  std::unique_ptr<Listeners> listeners;
  {
    std::string why;
    listeners = start_listeners(services, why);
    if (!listeners) {
      std::cerr << "refmaild: " << why << "\n";
      return 1;
    }
  }

  // Signals: the first SIGTERM/SIGINT starts the drain; a hard deadline ends it.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer hard_stop(io);
  asio::steady_timer poll(io);
  std::function<void()> drain_poll;
  signals.async_wait([&](const boost::system::error_code& sec, int signo) {
    if (sec) return;
    log::info("shutdown.begin", {{"signal", signo}, {"connections", tracker.total()}});
    for (auto& c : closers) c();
    listeners->close();
    relay->stop();
    importer->stop();
    search_worker->stop();
    passwords->stop();  // throttle waits end (454 / 503) so connections can drain
    tracker.stop();
    admin_tracker.stop();
    hard_stop.expires_after(std::chrono::seconds(15));
    hard_stop.async_wait([&](const boost::system::error_code& tec) {
      if (tec) return;
      log::warn("shutdown.forced", {{"connections", tracker.total()}});
      io.stop();
    });
    // When every connection has finished, nothing else keeps the io_context busy but
    // the hard-stop timer; a poller cancels it as soon as the count reaches zero.
    drain_poll = [&] {
      if (tracker.total() == 0 && admin_tracker.total() == 0) {
        hard_stop.cancel();
        return;
      }
      poll.expires_after(std::chrono::milliseconds(50));
      poll.async_wait([&](const boost::system::error_code& e) {
        if (!e) drain_poll();
      });
    };
    drain_poll();
  });
  ::signal(SIGPIPE, SIG_IGN);
  log::info("ready", {{"hostname", cfg.hostname}, {"data_dir", cfg.data_dir}, {"admin_socket", sock_path}});
  io.run();
  pool.join();  // in-flight commits finish before the store closes
  passwords->join();
  mail->set_wake_relay({});
  relay.reset();
  importer.reset();
  listeners.reset();
  search_worker.reset();
  admin_api.reset();
  search_index.reset();  // the last user of the index: its databases close before the store
  store.reset();
  ::unlink(sock_path.c_str());
  log::info("shutdown.done");
  return 0;
}

}  // namespace refmail::server
