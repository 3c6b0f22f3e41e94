// tools/refmailctl/main.cpp — refmail's admin command line. Online commands talk to
// the running refmaild over its admin unix socket; offline ones (fsck --repair,
// restore, mime check) open files directly and refuse while the daemon holds the store.
// Exit codes follow sysexits.h: 0 ok, 1 the operation was refused or failed,
// 64 usage, 69 daemon unavailable, 74 I/O error.
#include <sysexits.h>
#include <unistd.h>

#include <iomanip>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "config/config.hpp"
#include "tools/refmailctl/admin_client.hpp"
#include "tools/refmailctl/commands.hpp"
#include "tools/refmailctl/dkim.hpp"
#include "tools/refmailctl/import.hpp"
#include "tools/refmailctl/offline.hpp"
#include "tools/refmailctl/queue.hpp"
#include "tools/refmailctl/sieve.hpp"

namespace json = boost::json;
using refmail::tools::AdminClient;
using refmail::tools::AdminResponse;
using refmail::tools::url_escape;

namespace {

struct Globals {
  std::string config_file;
  std::string socket;
  std::string data_dir;
  bool json = false;
};

refmail::config::Config load_config(const Globals& g) {
  refmail::config::Config cfg;
  if (!g.config_file.empty()) {
    auto r = refmail::config::load_file(g.config_file);
    if (!r) {
      std::cerr << "refmailctl: " << r.error().message << "\n";
      std::exit(EX_CONFIG);
    }
    cfg = *r;
  } else {
    cfg = *refmail::config::parse("", "(defaults)");
  }
  if (!g.data_dir.empty()) cfg.data_dir = g.data_dir;
  if (!g.socket.empty()) cfg.admin.socket_path = g.socket;
  return cfg;
}

// Sends one admin request; prints the daemon's error and exits on failure.
json::value call(const Globals& g, const std::string& method, const std::string& path,
                 const json::value& body = nullptr) {
  AdminClient client(load_config(g).admin_socket());
  AdminResponse r = client.call(method, path, body.is_null() ? std::string() : json::serialize(body));
  if (r.status == 0) {
    std::cerr << "refmailctl: " << r.error << "\n";
    std::exit(EX_UNAVAILABLE);
  }
  json::value v;
  boost::system::error_code ec;
  v = json::parse(r.body, ec);
  if (r.status >= 300) {
    std::string msg = (!ec && v.is_object() && v.as_object().contains("error"))
                          ? std::string(v.at("error").as_string())
                          : r.body;
    std::cerr << "refmailctl: " << msg << "\n";
    std::exit(1);
  }
  if (ec) {
    std::cerr << "refmailctl: the daemon answered something that is not JSON\n";
    std::exit(1);
  }
  return v;
}

std::string read_password_stdin() {
  std::string pw;
  std::getline(std::cin, pw);
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  if (pw.empty()) {
    std::cerr << "refmailctl: no password on standard input\n";
    std::exit(EX_USAGE);
  }
  return pw;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  std::ostringstream o;
  o << std::fixed << std::setprecision(u == 0 ? 0 : 1) << b << " " << units[u];
  return o.str();
}

double num(const json::value& v, std::string_view key) {
  if (!v.is_object()) return 0;
  const auto* p = v.as_object().if_contains(key);
  if (!p) return 0;
  if (p->is_int64()) return static_cast<double>(p->as_int64());
  if (p->is_uint64()) return static_cast<double>(p->as_uint64());
  if (p->is_double()) return p->as_double();
  return 0;
}

void print_stats(const json::value& s) {
  std::cout << "logical bytes   " << std::setw(16) << std::fixed << std::setprecision(0)
            << num(s, "logical_bytes") << "  (" << human_bytes(num(s, "logical_bytes")) << ")\n"
            << "physical bytes  " << std::setw(16) << num(s, "physical_bytes") << "  ("
            << human_bytes(num(s, "physical_bytes")) << ")\n"
            << "saving ratio    " << std::setw(16) << std::setprecision(3) << num(s, "saving_ratio")
            << "\n"
            << "messages        " << std::setw(16) << std::setprecision(0) << num(s, "messages") << "\n"
            << "blobs           " << std::setw(16) << num(s, "blobs") << "\n";
  if (s.as_object().contains("queue_size")) {
    std::cout << "relay queue     " << std::setw(16) << num(s, "queue_size") << "  (oldest "
              << num(s, "queue_oldest_seconds") << " s)\n";
  }
  auto table = [](const json::value& s, std::string_view key, std::string_view title) {
    const auto* rows = s.as_object().if_contains(key);
    if (!rows || !rows->is_array() || rows->as_array().empty()) return;
    std::cout << "\n" << std::left << std::setw(40) << title << std::right << std::setw(16)
              << "logical bytes" << std::setw(10) << "messages" << "\n";
    for (const auto& r : rows->as_array()) {
      std::cout << std::left << std::setw(40) << json::value_to<std::string>(r.at("name"))
                << std::right << std::setw(16) << num(r, "logical_bytes") << std::setw(10)
                << num(r, "messages") << "\n";
    }
  };
  table(s, "domains", "domain");
  table(s, "accounts", "account");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"refmailctl — administer a refmail server"};
  app.require_subcommand(1);
  Globals g;
  app.add_option("-c,--config", g.config_file, "refmail.toml of the daemon (for data_dir / socket)");
  app.add_option("--socket", g.socket, "admin socket (default: <data_dir>/refmaild.sock)");
  app.add_option("--data-dir", g.data_dir, "data folder (default ./data)");

  // domain
  auto* domain = app.add_subcommand("domain", "local domains")->require_subcommand(1);
  std::string name;
  domain->add_subcommand("add", "add a local domain")->add_option("name", name)->required();
  domain->add_subcommand("remove", "remove a domain without users")->add_option("name", name)->required();
  domain->add_subcommand("list", "list local domains");

  // user
  auto* user = app.add_subcommand("user", "user accounts")->require_subcommand(1);
  std::string address;
  bool pw_stdin = false, admin = false;
  std::uint64_t quota = 0;
  auto* user_add = user->add_subcommand("add", "add a user; prints a generated password once");
  user_add->add_option("address", address)->required();
  user_add->add_flag("--password-stdin", pw_stdin, "read the password from standard input");
  user_add->add_flag("--admin", admin, "the user may see the admin pages and API");
  user_add->add_option("--quota", quota, "quota in bytes (logical size; 0 = none)");
  user->add_subcommand("remove", "remove a user and their mailboxes")->add_option("address", address)->required();
  auto* user_pw = user->add_subcommand("passwd", "set a user's password");
  user_pw->add_option("address", address)->required();
  user_pw->add_flag("--password-stdin", pw_stdin, "read the password from standard input");
  auto* user_list = user->add_subcommand("list", "list users");
  std::string only_domain;
  user_list->add_option("--domain", only_domain, "only this domain");

  // alias
  auto* alias = app.add_subcommand("alias", "aliases (address -> one or more targets)")->require_subcommand(1);
  std::vector<std::string> targets;
  auto* alias_add = alias->add_subcommand("add", "add an alias");
  alias_add->add_option("address", address)->required();
  alias_add->add_option("targets", targets, "target addresses")->required();
  alias->add_subcommand("remove", "remove an alias")->add_option("address", address)->required();
  alias->add_subcommand("list", "list aliases");

  // stats, fsck, backup, restore
  auto* stats = app.add_subcommand("stats", "storage report: logical vs physical bytes");
  stats->add_flag("--json", g.json, "print JSON");
  auto* fsck = app.add_subcommand("fsck", "recompute every count and report drift");
  bool repair = false;
  fsck->add_flag("--repair", repair, "write the corrections (offline: stop refmaild first)");
  fsck->add_flag("--json", g.json, "print JSON");
  auto* gc = app.add_subcommand("gc", "delete unreferenced blobs and compact the store (online)");
  std::string dir;
  app.add_subcommand("backup", "online checkpoint of the store into DIR")->add_option("dir", dir)->required();
  app.add_subcommand("restore", "replace the store with a checkpoint (offline)")->add_option("dir", dir)->required();
  auto* index = app.add_subcommand("index", "the full-text search index (<data_dir>/fts)")->require_subcommand(1);
  auto* index_rebuild = index->add_subcommand("rebuild", "rebuild ACCOUNT's index, or every account's");
  std::string index_account;
  bool index_offline = false;
  index_rebuild->add_option("account", index_account, "one account (default: all)");
  index_rebuild->add_flag("--offline", index_offline, "open the data folder directly (refmaild stopped)");

  // queue (the relay queue, via /admin/v1/queue)
  auto* queue = app.add_subcommand("queue", "the outbound relay queue")->require_subcommand(1);
  std::string queue_id;
  queue->add_subcommand("list", "list queued rows")->add_flag("--json", g.json, "print JSON");
  queue->add_subcommand("show", "show one row")->add_option("id", queue_id)->required();
  queue->add_subcommand("retry", "make a row due now")->add_option("id", queue_id)->required();
  queue->add_subcommand("retry-all", "make every row (not held) due now");
  queue->add_subcommand("delete", "remove a row without a bounce")->add_option("id", queue_id)->required();
  queue->add_subcommand("hold", "keep a row from being tried")->add_option("id", queue_id)->required();
  queue->add_subcommand("release", "release a held row (due now)")->add_option("id", queue_id)->required();
  // import (the legacy-import worker, via /admin/v1/import)
  auto* import_cmd = app.add_subcommand("import", "import from legacy IMAP sources")->require_subcommand(1);
  std::string import_source, import_user, import_mailbox;
  import_cmd->add_subcommand("status", "per source: queued jobs, last success/error, messages, bytes")
      ->add_flag("--json", g.json, "print JSON");
  auto* import_run = import_cmd->add_subcommand("run", "one full copy of a mapped user's mailboxes (batched)");
  import_run->add_option("source", import_source)->required();
  import_run->add_option("user", import_user, "the user name on the source")->required();
  import_run->add_option("--mailbox", import_mailbox, "only this mailbox (default: the mapping's list)");

  // sieve and vacation (a user's scripts and vacation reply, via /admin/v1/sieve)
  auto* sieve = app.add_subcommand("sieve", "a user's Sieve scripts")->require_subcommand(1);
  refmail::tools::SieveArgs sieve_args;
  auto* sieve_list = sieve->add_subcommand("list", "the user's scripts (* = active)");
  sieve_list->add_option("user", sieve_args.user)->required();
  sieve_list->add_flag("--json", g.json, "print JSON");
  auto* sieve_show = sieve->add_subcommand("show", "print a script");
  sieve_show->add_option("user", sieve_args.user)->required();
  sieve_show->add_option("name", sieve_args.name)->required();
  auto* sieve_put = sieve->add_subcommand("put", "store FILE as the user's script NAME (checked first)");
  sieve_put->add_option("user", sieve_args.user)->required();
  sieve_put->add_option("name", sieve_args.name)->required();
  sieve_put->add_option("file", sieve_args.file)->required();
  sieve_put->add_flag("--activate", sieve_args.activate, "make it the active script");
  auto* sieve_activate = sieve->add_subcommand("activate", "make NAME the active script");
  sieve_activate->add_option("user", sieve_args.user)->required();
  sieve_activate->add_option("name", sieve_args.name)->required();
  sieve->add_subcommand("deactivate", "no active script (mail goes to INBOX)")
      ->add_option("user", sieve_args.user)
      ->required();
  auto* sieve_delete = sieve->add_subcommand("delete", "delete a script that is not active");
  sieve_delete->add_option("user", sieve_args.user)->required();
  sieve_delete->add_option("name", sieve_args.name)->required();
  auto* vacation = app.add_subcommand("vacation", "a user's vacation reply (set in the webmail or JMAP)")
                       ->require_subcommand(1);
  auto* vacation_show = vacation->add_subcommand("show", "on or off, dates, subject");
  vacation_show->add_option("user", sieve_args.user)->required();
  vacation_show->add_flag("--json", g.json, "print JSON");
  vacation->add_subcommand("off", "turn the user's vacation reply off")->add_option("user", sieve_args.user)->required();

  // mime check
  auto* mime = app.add_subcommand("mime", "offline MIME tools")->require_subcommand(1);
  auto* mime_check = mime->add_subcommand("check", "split and join messages; report savings");
  std::vector<std::string> files;
  mime_check->add_option("files", files, "Maildir files, .eml files or mbox files")->required();
  mime_check->add_flag("--json", g.json, "print JSON");

  // dkim (tools/refmailctl/dkim.hpp): on the key files under <data_dir>/dkim.
  auto* dkim = app.add_subcommand("dkim", "DKIM signing keys per domain")->require_subcommand(1);
  refmail::tools::DkimArgs dkim_args;
  auto* dkim_keygen = dkim->add_subcommand("keygen", "make DOMAIN's signing keys (RSA + Ed25519); prints the DNS records");
  dkim_keygen->add_option("domain", dkim_args.domain)->required();
  dkim_keygen->add_option("--bits", dkim_args.bits, "RSA key size (default 2048)");
  auto* dkim_rotate = dkim->add_subcommand("rotate", "new signing keys for DOMAIN; the old ones are retired");
  dkim_rotate->add_option("domain", dkim_args.domain)->required();
  dkim_rotate->add_option("--bits", dkim_args.bits, "RSA key size (default 2048)");
  auto* dkim_list = dkim->add_subcommand("list", "every key: domain, selector, algorithm, bits, signing or retired");
  dkim_list->add_option("domain", dkim_args.domain);
  dkim_list->add_flag("--json", g.json, "print JSON");
  auto* dkim_show = dkim->add_subcommand("show", "DOMAIN's DNS TXT records, zone-file form");
  dkim_show->add_option("domain", dkim_args.domain)->required();
  dkim_show->add_flag("--json", g.json, "print JSON");
  auto* dkim_remove = dkim->add_subcommand("remove", "delete a retired key");
  dkim_remove->add_option("domain", dkim_args.domain)->required();
  dkim_remove->add_option("selector", dkim_args.selector)->required();

  std::string dns_domain;
  app.add_subcommand("dns", "every DNS record DOMAIN needs (MX, SPF, DKIM, DMARC, TLS-RPT, SRV), zone-file form")
      ->add_option("domain", dns_domain)
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : EX_USAGE;
  }

  if (domain->parsed()) {
    if (domain->got_subcommand("add")) {
      call(g, "POST", "/admin/v1/domains", json::object{{"name", name}});
      std::cout << "domain " << name << " added\n";
    } else if (domain->got_subcommand("remove")) {
      call(g, "DELETE", "/admin/v1/domains/" + url_escape(name));
      std::cout << "domain " << name << " removed\n";
    } else {
      auto v = call(g, "GET", "/admin/v1/domains");
      for (const auto& d : v.at("domains").as_array()) {
        std::cout << json::value_to<std::string>(d.at("name")) << "\n";
      }
    }
    return 0;
  }
  if (user->parsed()) {
    if (user->got_subcommand("add")) {
      json::object body{{"address", address}, {"admin", admin}, {"quota_bytes", quota}};
      if (pw_stdin) body["password"] = read_password_stdin();
      auto v = call(g, "POST", "/admin/v1/users", body);
      std::cout << "user " << address << " added\n";
      if (const auto* pw = v.as_object().if_contains("password")) {
        std::cout << "password: " << json::value_to<std::string>(*pw)
                  << "\n(shown once; set another with refmailctl user passwd)\n";
      }
    } else if (user->got_subcommand("remove")) {
      call(g, "DELETE", "/admin/v1/users/" + url_escape(address));
      std::cout << "user " << address << " removed\n";
    } else if (user->got_subcommand("passwd")) {
      json::object body;
      if (pw_stdin) body["password"] = read_password_stdin();
      auto v = call(g, "POST", "/admin/v1/users/" + url_escape(address) + "/password", body);
      std::cout << "password of " << address << " changed\n";
      if (const auto* pw = v.as_object().if_contains("password")) {
        std::cout << "password: " << json::value_to<std::string>(*pw) << "\n(shown once)\n";
      }
    } else {
      auto v = call(g, "GET", "/admin/v1/users" + (only_domain.empty() ? "" : "?domain=" + url_escape(only_domain)));
      for (const auto& u : v.at("users").as_array()) {
        std::cout << json::value_to<std::string>(u.at("address"));
        if (u.as_object().contains("admin") && u.at("admin").as_bool()) std::cout << " (admin)";
        std::cout << "\n";
      }
    }
    return 0;
  }
  if (alias->parsed()) {
    if (alias->got_subcommand("add")) {
      json::array t;
      for (auto& x : targets) t.emplace_back(x);
      call(g, "POST", "/admin/v1/aliases", json::object{{"address", address}, {"targets", t}});
      std::cout << "alias " << address << " added\n";
    } else if (alias->got_subcommand("remove")) {
      call(g, "DELETE", "/admin/v1/aliases/" + url_escape(address));
      std::cout << "alias " << address << " removed\n";
    } else {
      auto v = call(g, "GET", "/admin/v1/aliases");
      for (const auto& a : v.at("aliases").as_array()) {
        std::cout << json::value_to<std::string>(a.at("address")) << " ->";
        for (const auto& t : a.at("targets").as_array()) std::cout << " " << json::value_to<std::string>(t);
        std::cout << "\n";
      }
    }
    return 0;
  }
  if (stats->parsed()) {
    auto v = call(g, "GET", "/admin/v1/stats");
    if (g.json) {
      std::cout << json::serialize(v) << "\n";
    } else {
      print_stats(v);
    }
    return 0;
  }
  if (fsck->parsed()) {
    if (repair) return refmail::tools::offline_fsck(load_config(g), true, g.json, std::cout, std::cerr);
    auto v = call(g, "POST", "/admin/v1/fsck", json::object{});
    if (g.json) {
      std::cout << json::serialize(v) << "\n";
    } else {
      const auto& drift = v.at("drift").as_array();
      for (const auto& d : drift) {
        std::cout << json::value_to<std::string>(d.at("what")) << " " << json::value_to<std::string>(d.at("key"))
                  << ": stored " << d.at("stored") << ", expected " << d.at("expected") << "\n";
      }
      std::cout << (drift.empty() ? "fsck: no drift\n" : "fsck: drift found; stop refmaild and run refmailctl fsck --repair\n");
    }
    return v.at("drift").as_array().empty() ? 0 : 1;
  }
  if (gc->parsed()) {
    auto v = call(g, "POST", "/admin/v1/gc", json::object{});
    std::cout << "gc: " << v.at("blobs_deleted") << " blob(s) deleted, " << v.at("bytes_freed")
              << " bytes freed; store compacted\n";
    return 0;
  }
  if (app.got_subcommand("backup")) {
    auto v = call(g, "POST", "/admin/v1/backup", json::object{{"dir", dir}});
    std::cout << "checkpoint written to " << json::value_to<std::string>(v.at("dir")) << "\n";
    return 0;
  }
  if (index->parsed()) {
    if (index_offline) return refmail::tools::offline_index_rebuild(load_config(g), index_account, std::cout, std::cerr);
    json::object body;
    if (!index_account.empty()) body["account"] = index_account;
    auto v = call(g, "POST", "/admin/v1/index/rebuild", body);
    for (const auto& a : v.at("accounts").as_array()) {
      std::cout << json::value_to<std::string>(a.at("account")) << ": " << a.at("indexed") << " email(s) indexed\n";
    }
    return 0;
  }
  if (app.got_subcommand("restore")) {
    return refmail::tools::offline_restore(load_config(g), dir, std::cout, std::cerr);
  }
  if (queue->parsed()) {
    auto admin_call = [&g](const std::string& method, const std::string& path, const json::value& body) {
      return call(g, method, path, body);
    };
    return refmail::tools::queue_command(queue->get_subcommands().front()->get_name(), queue_id, g.json,
                                         admin_call, std::cout);
  }
  if (import_cmd->parsed()) {
    auto admin_call = [&g](const std::string& method, const std::string& path, const json::value& body) {
      return call(g, method, path, body);
    };
    return refmail::tools::import_command(import_cmd->get_subcommands().front()->get_name(), import_source,
                                          import_user, import_mailbox, g.json, admin_call, std::cout);
  }
  if (sieve->parsed() || vacation->parsed()) {
    auto admin_call = [&g](const std::string& method, const std::string& path, const json::value& body) {
      return call(g, method, path, body);
    };
    if (vacation->parsed()) {
      return refmail::tools::vacation_command(vacation->get_subcommands().front()->get_name(), sieve_args.user,
                                              g.json, admin_call, std::cout);
    }
    return refmail::tools::sieve_command(sieve->get_subcommands().front()->get_name(), sieve_args, g.json,
                                         admin_call, std::cout, std::cerr);
  }
  if (app.got_subcommand("dns")) return refmail::tools::dns_command(load_config(g), dns_domain, std::cout, std::cerr);
  if (dkim->parsed()) {
    dkim_args.sub = dkim->get_subcommands().front()->get_name();
    dkim_args.json = g.json;
    return refmail::tools::dkim_command(load_config(g).data_dir, dkim_args, std::cout, std::cerr);
  }
  if (mime->parsed()) {
    return refmail::tools::mime_check(files, g.json, std::cout, std::cerr);
  }
  return EX_USAGE;
}
