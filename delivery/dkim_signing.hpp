// delivery/dkim_signing.hpp — DKIM signing of the mail refmail's users send (RFC 6376,
// RFC 8463): the keys per domain (files under <data_dir>/dkim, managed by `refmailctl
// dkim`) and the streaming signer the delivery service feeds a submitted message with.
// A message is signed once, when it is submitted, and the signature is stored with it:
// the relayed copy and every local recipient's copy carry the same bytes.
// Layout: <dir>/<domain>/<selector>.pem (PKCS#8, mode 0600) per key, and
// <dir>/<domain>/signing: the selectors that sign, one per line (dual signing: an RSA
// and an Ed25519 selector). A key not listed there is retired: it no longer signs but
// stays (and its record stays in `refmailctl dkim show`) until removed, so mail signed
// with it still verifies while in transit.
#pragma once
#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trust/dkim.hpp"

namespace refmail::delivery {

struct DkimKeyInfo {
  std::string domain;
  std::string selector;
  std::string algorithm;  // "rsa-sha256", "ed25519-sha256"
  unsigned bits = 0;
  bool signing = false;
  std::string dns_name;    // <selector>._domainkey.<domain>
  std::string dns_record;  // the TXT record to publish there
};

class DkimKeyring {
 public:
  explicit DkimKeyring(std::string dir) : dir_(std::move(dir)) {}

  // The keys that sign mail whose From domain is `domain` (lower case): its signing
  // selectors. Re-read when the domain's signing file changed (refmailctl writes it
  // while refmaild runs). Empty: the domain has no key. Thread-safe.
  [[nodiscard]] std::vector<trust::dkim::SignRequest> signers(std::string_view domain);

  // --- administration (refmailctl dkim), on the files
  // New RSA (`rsa_bits`) and Ed25519 keys for `domain`, named "rm<YYYYMMDD>r"/"...e"
  // (a suffix when taken); they become the signing pair, and a previous pair is retired
  // (rotation). nullopt and `why` on an I/O or key error.
  [[nodiscard]] std::optional<std::vector<DkimKeyInfo>> generate(std::string_view domain, unsigned rsa_bits,
                                                                 std::time_t now, std::string& why);
  // Every key of `domain` ("" = every domain), signing ones first.
  [[nodiscard]] std::vector<DkimKeyInfo> list(std::string_view domain, std::string& why) const;
  // Deletes a retired key. Refuses a signing one (`why`).
  [[nodiscard]] bool remove(std::string_view domain, std::string_view selector, std::string& why);

 private:
  struct Cached {
    std::pair<std::uint64_t, std::int64_t> stamp{0, -1};  // the signing file's inode, mtime; -1: never read
    std::vector<trust::dkim::SignRequest> signers;
  };
  std::string dir_;
  std::mutex mu_;
  std::map<std::string, Cached, std::less<>> cache_;
};

// Feeds a message to trust::dkim::Signer once its From domain is known: the header
// block is held (bounded by trust::dkim::kMaxHeaderBlockBytes) until its end, the From
// domain picks the keys, then everything streams. No key, no single From address with a
// domain, or a header block past the bound: no signature (finish() gives none).
class SubmissionSigner {
 public:
  using KeysFor = std::function<std::vector<trust::dkim::SignRequest>(std::string_view domain)>;
  explicit SubmissionSigner(KeysFor keys_for);
  ~SubmissionSigner();
  SubmissionSigner(const SubmissionSigner&) = delete;
  SubmissionSigner& operator=(const SubmissionSigner&) = delete;

  void feed(std::string_view chunk);
  // The DKIM-Signature fields to prepend (each CRLF-ended), or none. `why` says why not
  // when a key existed but signing failed.
  [[nodiscard]] std::vector<std::string> finish(std::int64_t now, std::string& why);
  [[nodiscard]] const std::string& domain() const noexcept { return domain_; }
  [[nodiscard]] const std::vector<std::string>& selectors() const noexcept { return selectors_; }

 private:
  void start();

  KeysFor keys_for_;
  std::string head_;      // the header block so far, until the signer starts
  std::size_t scanned_ = 0;
  bool given_up = false;
  std::string domain_;
  std::vector<std::string> selectors_;
  std::unique_ptr<trust::dkim::Signer> signer_;
};

}  // namespace refmail::delivery
