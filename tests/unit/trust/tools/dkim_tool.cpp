// tests/unit/trust/tools/dkim_tool.cpp — refmail_dkim_tool, the command-line driver of
// refmail_trust's DKIM code for the cross-implementation test with dkimpy
// (test_dkim_dkimpy.py). Built with the tests only; not an operator tool.
//   sign   --domain D --selector S --key FILE [--canon H/B] [--time T] [--expire SECS]
//          < message > DKIM-Signature field + message
//          (FILE: a PEM private key, or an Ed25519 seed in base64 as dkimpy writes it;
//           several --selector/--key pairs sign in one pass, in order)
//   verify --keys FILE [--time T] < message
//          (FILE: lines "qname TXT-value"; prints one RFC 8601 result per signature,
//           exit 0 iff there is at least one signature and all pass)
//   arc-verify --keys FILE [--time T] < message
//          (ARC chain validation, trust/arc.hpp: prints the arc= result, exit 0 iff pass)
//   keygen --algo rsa|ed25519 --out FILE   (writes the PEM, prints the DNS TXT value)
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "mime/codec.hpp"
#include "trust/arc.hpp"
#include "trust/dkim.hpp"

using namespace refmail::trust::dkim;

namespace {

std::string read_all(std::istream& in) {
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "cannot read " << path << "\n";
    std::exit(2);
  }
  return read_all(in);
}

std::shared_ptr<const PrivateKey> load_key(const std::string& path) {
  const std::string text = read_file(path);
  if (text.find("-----BEGIN") != std::string::npos) {
    auto k = PrivateKey::from_pem(text);
    if (!k) {
      std::cerr << "bad key " << path << ": " << k.error().message() << "\n";
      std::exit(2);
    }
    return std::make_shared<const PrivateKey>(std::move(*k));
  }
  std::string b64;
  for (char c : text)
    if (c != '\n' && c != '\r' && c != ' ') b64 += c;
  auto seed = refmail::mime::base64_decode_strict(b64);
  if (!seed) {
    std::cerr << "bad key " << path << "\n";
    std::exit(2);
  }
  auto k = PrivateKey::from_ed25519_seed(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(seed->data()), seed->size()));
  if (!k) {
    std::cerr << "bad ed25519 seed " << path << "\n";
    std::exit(2);
  }
  return std::make_shared<const PrivateKey>(std::move(*k));
}

class FileLookup final : public KeyLookup {
 public:
  std::map<std::string, std::vector<std::string>> records;
  KeyAnswer txt(std::string_view qname) override {
    KeyAnswer a;
    auto it = records.find(std::string(qname));
    if (it == records.end()) return a;
    a.status = KeyAnswer::Status::Found;
    a.records = it->second;
    return a;
  }
};

int usage() {
  std::cerr << "usage: refmail_dkim_tool sign|verify|keygen ...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string cmd = argv[1];
  std::map<std::string, std::vector<std::string>> opt;
  for (int i = 2; i + 1 < argc; i += 2) opt[argv[i]].push_back(argv[i + 1]);
  auto one = [&](const std::string& k, const std::string& def = "") {
    auto it = opt.find(k);
    return it == opt.end() ? def : it->second.back();
  };
  const std::int64_t now = std::stoll(one("--time", std::to_string(std::time(nullptr))));

  if (cmd == "sign") {
    const auto& selectors = opt["--selector"];
    const auto& keyfiles = opt["--key"];
    if (selectors.empty() || selectors.size() != keyfiles.size()) return usage();
    SignerConfig base;
    base.domain = one("--domain");
    const std::string canon = one("--canon", "relaxed/relaxed");
    base.header_canon = canon.starts_with("simple") ? Canon::Simple : Canon::Relaxed;
    base.body_canon = canon.ends_with("/simple") ? Canon::Simple : Canon::Relaxed;
    if (!one("--expire").empty()) base.expire_after_seconds = std::stoll(one("--expire"));
    std::vector<SignRequest> reqs;
    for (std::size_t i = 0; i < selectors.size(); ++i) {
      SignerConfig c = base;
      c.selector = selectors[i];
      reqs.push_back(SignRequest{c, load_key(keyfiles[i])});
    }
    Signer signer(std::move(reqs));
    // Stream stdin in small chunks: the signer never sees the message whole.
    std::string message;
    char buf[1000];
    while (std::cin.read(buf, sizeof buf) || std::cin.gcount() > 0) {
      const std::string_view chunk(buf, static_cast<std::size_t>(std::cin.gcount()));
      signer.feed(chunk);
      message.append(chunk);
    }
    auto fields = signer.finish(now);
    if (!fields) {
      std::cerr << "sign failed: " << fields.error().message() << "\n";
      return 1;
    }
    for (const std::string& f : *fields) std::cout << f;
    std::cout << message;
    return 0;
  }
  if (cmd == "verify" || cmd == "arc-verify") {
    FileLookup keys;
    std::istringstream lines(read_file(one("--keys")));
    std::string line;
    while (std::getline(lines, line)) {
      const std::size_t sp = line.find(' ');
      if (sp == std::string::npos) continue;
      std::string name = line.substr(0, sp);
      if (name.ends_with(".")) name.pop_back();
      keys.records[name].push_back(line.substr(sp + 1));
    }
    if (cmd == "arc-verify") {
      // ARC (trust/arc.hpp): one RFC 8601 result; exit 0 iff the chain passes.
      refmail::trust::arc::Verifier av(keys, now);
      char abuf[777];
      while (std::cin.read(abuf, sizeof abuf) || std::cin.gcount() > 0)
        av.feed(std::string_view(abuf, static_cast<std::size_t>(std::cin.gcount())));
      const auto verdict = av.finish();
      std::cout << refmail::trust::arc::arc_auth_result(verdict) << "\n";
      return verdict.result == refmail::trust::arc::ArcResult::Pass ? 0 : 1;
    }
    Verifier v(keys, now);
    char buf[777];
    while (std::cin.read(buf, sizeof buf) || std::cin.gcount() > 0)
      v.feed(std::string_view(buf, static_cast<std::size_t>(std::cin.gcount())));
    auto results = v.finish();
    bool ok = !results.empty();
    for (const SignatureResult& r : results) {
      std::cout << authentication_result(r);
      if (r.body_length) std::cout << " (" << r.body_length_note() << ")";
      std::cout << "\n";
      if (r.status != Status::Pass) ok = false;
    }
    return ok ? 0 : 1;
  }
  if (cmd == "keygen") {
    auto k = one("--algo", "rsa") == "ed25519" ? generate_ed25519_key() : generate_rsa_key(2048);
    if (!k) return 1;
    std::ofstream(one("--out"), std::ios::binary) << k->private_pem();
    std::cout << k->dns_record() << "\n";
    return 0;
  }
  return usage();
}
