// tools/refmailctl/offline.cpp — see offline.hpp.
#include "tools/refmailctl/offline.hpp"

#include <filesystem>
#include <ostream>

#include <boost/json.hpp>

#include "storage/store.hpp"

namespace refmail::tools {
namespace {

std::filesystem::path store_path(const config::Config& cfg) {
  return std::filesystem::path(cfg.data_dir) / "store";
}

}  // namespace

int offline_fsck(const config::Config& cfg, bool repair, bool json, std::ostream& out, std::ostream& err) {
  storage::StoreOptions opts;
  opts.path = store_path(cfg);
  opts.create_if_missing = false;
  auto store = storage::Store::open(opts);
  if (!store) {
    err << "refmailctl: " << storage::error_detail(store.error());
    if (store.error() == storage::errc::locked) err << " — stop refmaild before fsck --repair";
    err << "\n";
    return 1;
  }
  auto rep = (*store)->fsck(repair);
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

}  // namespace refmail::tools
