// delivery/dkim_signing.cpp — the DKIM keyring on files and the submission signer.
#include "delivery/dkim_signing.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mime/headers.hpp"
#include "trust/dmarc.hpp"

namespace refmail::delivery {

namespace fs = std::filesystem;

namespace {

// A domain or selector that is one safe path component and a DNS name.
bool safe_name(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.front() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
}

// The signing file's identity: inode and mtime (every write renames a new file over
// it, so two writes within one clock tick still differ). {0, -2} when missing.
std::pair<std::uint64_t, std::int64_t> file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {0, -2};
  return {static_cast<std::uint64_t>(st.st_ino),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::optional<std::string> read_small(const std::string& path, std::size_t max = 64 * 1024) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string s(max + 1, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<std::size_t>(in.gcount()));
  if (s.size() > max) return std::nullopt;
  return s;
}

std::vector<std::string> signing_selectors(const std::string& domain_dir) {
  std::vector<std::string> out;
  auto text = read_small(domain_dir + "/signing");
  if (!text) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (safe_name(line)) out.push_back(line);
  }
  return out;
}

// Writes `data` to `path` with `mode`, through a temporary file renamed over it (a
// reader sees the old file or the new one, never half of one).
bool write_file(const std::string& path, std::string_view data, mode_t mode, std::string& why) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    why = tmp + ": " + std::strerror(errno);
    return false;
  }
  std::size_t off = 0;
  while (off < data.size()) {
    auto n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      why = tmp + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    why = tmp + ": " + std::strerror(errno);
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    why = path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

std::optional<DkimKeyInfo> key_info(const std::string& domain_dir, const std::string& domain,
                                    const std::string& selector, bool signing) {
  auto pem = read_small(domain_dir + "/" + selector + ".pem");
  if (!pem) return std::nullopt;
  auto key = trust::dkim::PrivateKey::from_pem(*pem);
  if (!key) return std::nullopt;
  DkimKeyInfo k;
  k.domain = domain;
  k.selector = selector;
  k.algorithm = std::string(trust::dkim::algorithm_name(key->algorithm()));
  k.bits = key->bits();
  k.signing = signing;
  k.dns_name = selector + "._domainkey." + domain;
  k.dns_record = key->dns_record();
  return k;
}

}  // namespace

std::vector<trust::dkim::SignRequest> DkimKeyring::signers(std::string_view domain) {
  if (!safe_name(domain)) return {};
  const std::string domain_dir = dir_ + "/" + std::string(domain);
  const auto stamp = file_stamp(domain_dir + "/signing");
  std::lock_guard lock(mu_);
  if (stamp.second == -2) {
    // No keys: nothing to remember (any From domain may be asked, so the cache holds only
    // domains that have keys).
    cache_.erase(std::string(domain));
    return {};
  }
  auto& c = cache_[std::string(domain)];
  if (c.stamp == stamp) return c.signers;
  c.stamp = stamp;
  c.signers.clear();
  for (const auto& sel : signing_selectors(domain_dir)) {
    auto pem = read_small(domain_dir + "/" + sel + ".pem");
    if (!pem) continue;
    auto key = trust::dkim::PrivateKey::from_pem(*pem);
    if (!key) continue;
    trust::dkim::SignRequest r;
    r.config.domain = std::string(domain);
    r.config.selector = sel;
    r.key = std::make_shared<const trust::dkim::PrivateKey>(std::move(*key));
    c.signers.push_back(std::move(r));
  }
  return c.signers;
}

std::optional<std::vector<DkimKeyInfo>> DkimKeyring::generate(std::string_view domain_in, unsigned rsa_bits,
                                                              std::time_t now, std::string& why) {
  std::string domain(domain_in);
  std::transform(domain.begin(), domain.end(), domain.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!safe_name(domain)) {
    why = "not a domain name: " + domain.substr(0, 100);
    return std::nullopt;
  }
  if (rsa_bits < 1024 || rsa_bits > 8192) {
    why = "RSA key size must be 1024..8192 bits (2048 recommended)";
    return std::nullopt;
  }
  const std::string domain_dir = dir_ + "/" + domain;
  std::error_code ec;
  fs::create_directories(domain_dir, ec);
  if (ec) {
    why = domain_dir + ": " + ec.message();
    return std::nullopt;
  }
  ::chmod(dir_.c_str(), 0700);
  ::chmod(domain_dir.c_str(), 0700);
  char day[16];
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(day, sizeof day, "%Y%m%d", &tm);
  std::string base = std::string("rm") + day;
  for (int n = 2; fs::exists(domain_dir + "/" + base + "r.pem") || fs::exists(domain_dir + "/" + base + "e.pem"); ++n) {
    base = std::string("rm") + day + "n" + std::to_string(n);
  }
  auto rsa = trust::dkim::generate_rsa_key(rsa_bits);
  auto ed = trust::dkim::generate_ed25519_key();
  if (!rsa || !ed) {
    why = "key generation failed";
    return std::nullopt;
  }
  const std::vector<std::pair<std::string, const trust::dkim::PrivateKey*>> keys{{base + "r", &*rsa},
                                                                                 {base + "e", &*ed}};
  for (const auto& [sel, key] : keys) {
    if (!write_file(domain_dir + "/" + sel + ".pem", key->private_pem(), 0600, why)) return std::nullopt;
  }
  if (!write_file(domain_dir + "/signing", keys[0].first + "\n" + keys[1].first + "\n", 0600, why)) {
    return std::nullopt;
  }
  std::vector<DkimKeyInfo> out;
  for (const auto& [sel, key] : keys) {
    auto k = key_info(domain_dir, domain, sel, true);
    if (k) out.push_back(std::move(*k));
  }
  return out;
}

std::vector<DkimKeyInfo> DkimKeyring::list(std::string_view domain, std::string& why) const {
  std::vector<DkimKeyInfo> out;
  std::error_code ec;
  std::vector<std::string> domains;
  if (!domain.empty()) {
    domains.emplace_back(domain);
  } else {
    for (const auto& e : fs::directory_iterator(dir_, ec)) {
      if (e.is_directory()) domains.push_back(e.path().filename().string());
    }
    if (ec && ec != std::errc::no_such_file_or_directory) why = dir_ + ": " + ec.message();
    std::sort(domains.begin(), domains.end());
  }
  for (const auto& d : domains) {
    if (!safe_name(d)) continue;
    const std::string domain_dir = dir_ + "/" + d;
    const auto signing = signing_selectors(domain_dir);
    std::vector<std::string> all;
    std::error_code ec2;
    for (const auto& e : fs::directory_iterator(domain_dir, ec2)) {
      const auto name = e.path().filename().string();
      if (name.size() > 4 && name.ends_with(".pem")) all.push_back(name.substr(0, name.size() - 4));
    }
    std::sort(all.begin(), all.end(), [&](const std::string& a, const std::string& b) {
      const bool sa = std::count(signing.begin(), signing.end(), a) > 0;
      const bool sb = std::count(signing.begin(), signing.end(), b) > 0;
      return sa != sb ? sa : a < b;
    });
    for (const auto& sel : all) {
      if (!safe_name(sel)) continue;
      auto k = key_info(domain_dir, d, sel, std::count(signing.begin(), signing.end(), sel) > 0);
      if (k) out.push_back(std::move(*k));
    }
  }
  return out;
}

bool DkimKeyring::remove(std::string_view domain, std::string_view selector, std::string& why) {
  if (!safe_name(domain) || !safe_name(selector)) {
    why = "no such key";
    return false;
  }
  const std::string domain_dir = dir_ + "/" + std::string(domain);
  const auto signing = signing_selectors(domain_dir);
  if (std::count(signing.begin(), signing.end(), std::string(selector)) > 0) {
    why = std::string(selector) + " still signs mail for " + std::string(domain) +
          "; rotate first (refmailctl dkim rotate " + std::string(domain) + ")";
    return false;
  }
  const std::string path = domain_dir + "/" + std::string(selector) + ".pem";
  if (::unlink(path.c_str()) != 0) {
    why = errno == ENOENT ? "no such key: " + std::string(selector) + "._domainkey." + std::string(domain)
                          : path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

SubmissionSigner::SubmissionSigner(KeysFor keys_for) : keys_for_(std::move(keys_for)) {}
SubmissionSigner::~SubmissionSigner() = default;

void SubmissionSigner::start() {
  const auto bodies = mime::header_field_bodies(head_, {"from"});
  const std::vector<std::string_view> from(bodies.begin(), bodies.end());
  const auto fd = trust::from_domain(from);
  std::vector<trust::dkim::SignRequest> keys;
  if (fd.status == trust::FromStatus::Ok) keys = keys_for_(fd.domain);
  if (keys.empty()) {
    given_up = true;
    std::string().swap(head_);
    return;
  }
  domain_ = fd.domain;
  for (const auto& k : keys) selectors_.push_back(k.config.selector);
  signer_ = std::make_unique<trust::dkim::Signer>(std::move(keys));
  signer_->feed(head_);
  std::string().swap(head_);
}

void SubmissionSigner::feed(std::string_view chunk) {
  if (signer_) return signer_->feed(chunk);
  if (given_up) return;
  head_.append(chunk);
  // The end of the header block: an empty line (CRLF CRLF, or bare LFs).
  const std::size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
  const bool at_start = head_.starts_with("\r\n") || head_.starts_with("\n");
  const bool found = at_start || head_.find("\n\r\n", from) != std::string::npos ||
                     head_.find("\n\n", from) != std::string::npos;
  scanned_ = head_.size();
  if (found) {
    start();
  } else if (head_.size() > trust::dkim::kMaxHeaderBlockBytes) {
    given_up = true;
    std::string().swap(head_);
  }
}

std::vector<std::string> SubmissionSigner::finish(std::int64_t now, std::string& why) {
  if (!signer_ && !given_up && !head_.empty()) start();  // a message of headers only
  if (!signer_) return {};
  auto r = signer_->finish(now);
  if (!r) {
    why = "DKIM signing for " + domain_ + " failed: " + r.error().message();
    return {};
  }
  return std::move(*r);
}

}  // namespace refmail::delivery
