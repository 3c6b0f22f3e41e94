// tools/refmailctl/offline.cpp — see offline.hpp.
#include "tools/refmailctl/offline.hpp"

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "search/index.hpp"
#include "storage/store.hpp"

namespace refmail::tools {
namespace {

std::filesystem::path store_path(const config::Config& cfg) {
  return std::filesystem::path(cfg.data_dir) / "store";
}

// The stopped daemon's store; nullptr after telling `err` why not (`if_running` is what to
// do instead when the daemon holds it).
std::unique_ptr<storage::Store> open_offline(const config::Config& cfg, std::ostream& err, std::string_view if_running) {
  storage::StoreOptions opts;
  opts.path = store_path(cfg);
  opts.create_if_missing = false;
  auto store = storage::Store::open(opts);
  if (!store) {
    err << "refmailctl: " << storage::error_detail(store.error());
    if (store.error() == storage::errc::locked) err << " — " << if_running;
    err << "\n";
    return nullptr;
  }
  return std::move(*store);
}

}  // namespace

int offline_fsck(const config::Config& cfg, bool repair, bool json, std::ostream& out, std::ostream& err) {
  auto store = open_offline(cfg, err, "stop refmaild before fsck --repair");
  if (!store) return 1;
  auto rep = store->fsck(repair);
  if (!rep) {
    err << "refmailctl: fsck failed: " << storage::error_detail(rep.error()) << "\n";
    return 1;
  }
  if (json) {
    boost::json::array drift;
    for (const auto& i : rep->issues) {
      drift.push_back(boost::json::object{{"what", i.what}, {"key", i.key}, {"stored", i.stored}, {"expected", i.expected}});
    }
    out << boost::json::serialize(boost::json::object{{"drift", drift}, {"repaired", rep->repaired}}) << "\n";
  } else {
    for (const auto& i : rep->issues) {
      out << i.what << " " << i.key << ": stored " << i.stored << ", expected " << i.expected << "\n";
    }
    out << "fsck: " << rep->issues.size() << " issue(s)"
        << (rep->repaired && !rep->issues.empty() ? ", repaired" : "") << "; " << rep->blobs_checked << " blobs, "
        << rep->messages_checked << " messages, " << rep->rows_checked << " rows checked\n";
  }
  return rep->issues.empty() || rep->repaired ? 0 : 1;
}

int offline_restore(const config::Config& cfg, const std::string& checkpoint_dir, std::ostream& out,
                    std::ostream& err) {
  auto r = storage::Store::restore(checkpoint_dir, store_path(cfg));
  if (!r) {
    err << "refmailctl: restore failed: " << storage::error_detail(r.error());
    if (r.error() == storage::errc::locked) err << " — stop refmaild before restoring";
    err << "\n";
    return 1;
  }
  out << "store " << store_path(cfg).string() << " restored from " << checkpoint_dir << "\n";
  return 0;
}

int offline_index_rebuild(const config::Config& cfg, const std::string& account, std::ostream& out,
                          std::ostream& err) {
  auto store = open_offline(cfg, err, "refmaild is running: use refmailctl index rebuild without --offline");
  if (!store) return 1;
  std::vector<std::string> accounts;
  if (!account.empty()) {
    auto u = store->get_user(account);
    if (!u) {
      err << "refmailctl: " << storage::error_detail(u.error()) << "\n";
      return 1;
    }
    accounts.push_back(u->address);
  } else {
    auto users = store->list_users();
    if (!users) {
      err << "refmailctl: " << storage::error_detail(users.error()) << "\n";
      return 1;
    }
    for (const auto& u : *users) accounts.push_back(u.address);
  }
  search::Options so;
  so.dir = std::filesystem::path(cfg.data_dir) / "fts";
  search::Index index(*store, so);
  for (const auto& a : accounts) {
    auto r = index.rebuild(a);
    if (!r) {
      err << "refmailctl: rebuilding the index of " << a << ": " << r.error().message() << "\n";
      return 1;
    }
    out << a << ": " << r->indexed << " email(s) indexed\n";
  }
  return 0;
}

}  // namespace refmail::tools
