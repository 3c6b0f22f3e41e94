// trust/arc.cpp — ARC chain validation (see arc.hpp).
#include "trust/arc.hpp"

#include <map>
#include <optional>
#include <vector>

#include "mime/codec.hpp"
#include "trust/dkim_internal.hpp"

namespace refmail::trust::arc {

namespace {

using dkim::Algorithm;
using dkim::Canon;
using namespace dkim::detail;

std::optional<unsigned> instance_of(std::string_view v) {
  const std::string s = strip_fws(v);
  if (s.empty() || s.size() > 3) return std::nullopt;
  unsigned n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  return n;
}

const dkim::Tag* find(const std::vector<dkim::Tag>& tags, std::string_view name) {
  for (const auto& t : tags)
    if (t.name == name) return &t;
  return nullptr;
}

// The tags of an ARC-Seal or ARC-Message-Signature the check needs.
struct Sig {
  unsigned instance = 0;
  Algorithm algorithm = Algorithm::RsaSha256;
  std::string domain, selector, b, bh, cv;
  Canon header_canon = Canon::Relaxed, body_canon = Canon::Relaxed;
  std::vector<std::string> headers;  // h= (AMS)
};

std::optional<Sig> parse_sig(std::string_view value, bool seal, std::string& why) {
  auto tags = dkim::parse_tag_list(value);
  if (!tags) {
    why = "malformed tag list";
    return std::nullopt;
  }
  Sig s;
  const auto* i = find(*tags, "i");
  const auto* a = find(*tags, "a");
  const auto* b = find(*tags, "b");
  const auto* d = find(*tags, "d");
  const auto* sel = find(*tags, "s");
  if (!i || !a || !b || !d || !sel) {
    why = "a required tag is missing";
    return std::nullopt;
  }
  auto inst = instance_of(i->value);
  if (!inst || *inst == 0) {
    why = "bad i=";
    return std::nullopt;
  }
  s.instance = *inst;
  const std::string alg = to_lower(strip_fws(a->value));
  if (alg == "rsa-sha256") {
    s.algorithm = Algorithm::RsaSha256;
  } else if (alg == "ed25519-sha256") {
    s.algorithm = Algorithm::Ed25519Sha256;
  } else {
    why = "unsupported a=";
    return std::nullopt;
  }
  s.domain = to_lower(strip_fws(d->value));
  s.selector = strip_fws(sel->value);
  auto bb = mime::base64_decode_strict(strip_fws(b->value));
  if (!bb || bb->empty() || s.domain.empty() || s.selector.empty()) {
    why = "bad b=, d= or s=";
    return std::nullopt;
  }
  s.b = std::move(*bb);
  if (seal) {
    const auto* cv = find(*tags, "cv");
    if (!cv) {
      why = "ARC-Seal without cv=";
      return std::nullopt;
    }
    s.cv = to_lower(strip_fws(cv->value));
    if (find(*tags, "h")) {
      why = "ARC-Seal with h=";
      return std::nullopt;
    }
    return s;
  }
  const auto* bh = find(*tags, "bh");
  const auto* h = find(*tags, "h");
  if (!bh || !h) {
    why = "ARC-Message-Signature without bh= or h=";
    return std::nullopt;
  }
  auto bhb = mime::base64_decode_strict(strip_fws(bh->value));
  if (!bhb || bhb->size() != 32) {
    why = "bad bh=";
    return std::nullopt;
  }
  s.bh = std::move(*bhb);
  const std::string hv = to_lower(strip_fws(h->value));
  for (std::size_t pos = 0; pos <= hv.size();) {
    auto c = hv.find(':', pos);
    if (c == std::string::npos) c = hv.size();
    if (c > pos) s.headers.push_back(hv.substr(pos, c - pos));
    pos = c + 1;
  }
  if (s.headers.empty() || s.headers.size() > dkim::kMaxSignedHeaders) {
    why = "bad h=";
    return std::nullopt;
  }
  for (const auto& n : s.headers) {
    if (n.rfind("arc-", 0) == 0) {  // RFC 8617 4.1.2: ARC fields are never signed by an AMS
      why = "AMS h= names an ARC header field";
      return std::nullopt;
    }
  }
  if (const auto* c = find(*tags, "c")) {
    const std::string v = to_lower(strip_fws(c->value));
    const auto slash = v.find('/');
    auto canon = [](std::string_view x, Canon& out) {
      if (x == "simple") out = Canon::Simple;
      else if (x == "relaxed") out = Canon::Relaxed;
      else return false;
      return true;
    };
    s.header_canon = s.body_canon = Canon::Simple;
    if (!canon(v.substr(0, slash), s.header_canon) ||
        (slash != std::string::npos && !canon(v.substr(slash + 1), s.body_canon))) {
      why = "bad c=";
      return std::nullopt;
    }
  } else {
    s.header_canon = s.body_canon = Canon::Simple;  // RFC 6376 3.5 default
  }
  return s;
}

}  // namespace

std::string_view to_string(ArcResult r) noexcept {
  switch (r) {
    case ArcResult::None: return "none";
    case ArcResult::Pass: return "pass";
    case ArcResult::Fail: return "fail";
  }
  return "none";
}

struct Verifier::Impl {
  dkim::KeyLookup& keys;
  std::int64_t now;
  HeaderCollector headers;
  bool prepared = false, finished = false;
  ArcVerdict early;  // decided from the header block alone (fail or none)
  bool decided = false;
  // Per instance: the field indices of its AAR, AMS and AS.
  struct Set {
    int aar = -1, ams = -1, as = -1;
  };
  std::map<unsigned, Set> sets;
  std::optional<Sig> newest_ams;
  std::vector<Sig> seals;  // index i-1
  std::optional<dkim::BodyHasher> hasher;

  Impl(dkim::KeyLookup& k, std::int64_t n) : keys(k), now(n) {}

  void fail(std::string why) {
    early.result = ArcResult::Fail;
    early.reason = std::move(why);
    decided = true;
  }

  void prepare() {
    prepared = true;
    const auto& fields = headers.fields();
    unsigned total = 0;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const auto& name = fields[i].name;
      const bool aar = name == "arc-authentication-results", ams = name == "arc-message-signature",
                 as = name == "arc-seal";
      if (!aar && !ams && !as) continue;
      if (++total > 3 * kMaxArcSets) return fail("more than " + std::to_string(kMaxArcSets) + " ARC sets");
      const std::string_view value = std::string_view(fields[i].text).substr(fields[i].text.find(':') + 1);
      std::optional<unsigned> inst;
      if (aar) {
        const auto semi = value.find(';');
        const std::string first = strip_fws(value.substr(0, semi));
        if (first.rfind("i=", 0) == 0) inst = instance_of(std::string_view(first).substr(2));
      } else {
        auto tags = dkim::parse_tag_list(value);
        if (tags) {
          if (const auto* t = find(*tags, "i")) inst = instance_of(t->value);
        }
      }
      if (!inst || *inst == 0 || *inst > kMaxArcSets) return fail("bad or too large ARC instance");
      int& slot = aar ? sets[*inst].aar : ams ? sets[*inst].ams : sets[*inst].as;
      if (slot != -1) return fail("two ARC header fields of one kind in instance " + std::to_string(*inst));
      slot = static_cast<int>(i);
    }
    if (sets.empty()) {
      decided = true;  // none
      return;
    }
    const unsigned n = sets.rbegin()->first;
    early.instances = n;
    if (sets.size() != n) return fail("an ARC instance is missing");
    for (const auto& [inst, s] : sets) {
      if (s.aar < 0 || s.ams < 0 || s.as < 0) return fail("ARC set " + std::to_string(inst) + " is incomplete");
    }
    for (unsigned inst = 1; inst <= n; ++inst) {
      std::string why;
      const auto& f = fields[static_cast<std::size_t>(sets[inst].as)].text;
      auto seal = parse_sig(std::string_view(f).substr(f.find(':') + 1), true, why);
      if (!seal || seal->instance != inst) return fail("ARC-Seal " + std::to_string(inst) + ": " + why);
      if (inst == 1 ? seal->cv != "none" : seal->cv != "pass") {
        return fail("ARC-Seal " + std::to_string(inst) + " has cv=" + seal->cv.substr(0, 16));
      }
      seals.push_back(std::move(*seal));
    }
    std::string why;
    const auto& mf = fields[static_cast<std::size_t>(sets[n].ams)].text;
    newest_ams = parse_sig(std::string_view(mf).substr(mf.find(':') + 1), false, why);
    if (!newest_ams || newest_ams->instance != n) return fail("ARC-Message-Signature " + std::to_string(n) + ": " + why);
    hasher.emplace(newest_ams->body_canon);
  }

  void body(std::string_view bytes) {
    if (!prepared) prepare();
    if (hasher) hasher->update(bytes);
  }

  // One signature (AMS or AS) against its key; "" when it verifies.
  std::string check(const Sig& s, std::string_view data, bool& temporary) {
    const auto answer = keys.txt(s.selector + "._domainkey." + s.domain);
    if (answer.status == dkim::KeyAnswer::Status::TempError) {
      temporary = true;
      return "key lookup failed (temporary)";
    }
    if (answer.status != dkim::KeyAnswer::Status::Found || answer.records.empty()) return "no key";
    auto key = dkim::parse_key_record(answer.records.front());
    if (!key) return key.error().reason;
    if (key->revoked) return "key revoked";
    if ((key->type == dkim::KeyType::Rsa) != (s.algorithm == Algorithm::RsaSha256)) return "key type does not match a=";
    auto pub = load_public_key(*key);
    if (!pub) return pub.error().reason;
    if (key->type == dkim::KeyType::Rsa && (*pub)->bits < dkim::kMinRsaBits) return "key too small";
    if (!verify_signature(s.algorithm, (*pub)->pkey, data, s.b)) return "signature did not verify";
    return {};
  }

  ArcVerdict finish() {
    finished = true;
    headers.finish();
    if (!prepared) prepare();
    if (decided) return early;
    ArcVerdict v = early;
    const auto& fields = headers.fields();
    const unsigned n = v.instances;
    v.sealer = seals.back().domain;
    // The newest ARC-Message-Signature, like a DKIM signature.
    const auto& digest = hasher->finish();
    if (std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()) != newest_ams->bh) {
      v.result = ArcResult::Fail;
      v.reason = "ARC-Message-Signature " + std::to_string(n) + ": body hash mismatch";
      return v;
    }
    const auto& ams_field = fields[static_cast<std::size_t>(sets[n].ams)].text;
    const std::string ams_data = header_hash_input(fields, newest_ams->headers, newest_ams->header_canon,
                                                   without_b_value(ams_field));
    if (auto why = check(*newest_ams, ams_data, v.temporary); !why.empty()) {
      v.result = ArcResult::Fail;
      v.reason = "ARC-Message-Signature " + std::to_string(n) + ": " + why;
      return v;
    }
    // Every ARC-Seal, newest first: the sets 1..i in order, AAR, AMS, AS, relaxed; the
    // seal itself without its b= value and final CRLF.
    for (unsigned i = n; i >= 1; --i) {
      std::string data;
      for (unsigned j = 1; j <= i; ++j) {
        const Set& s = sets[j];
        data += dkim::canonicalize_header(Canon::Relaxed, fields[static_cast<std::size_t>(s.aar)].text);
        data += dkim::canonicalize_header(Canon::Relaxed, fields[static_cast<std::size_t>(s.ams)].text);
        const auto& as = fields[static_cast<std::size_t>(s.as)].text;
        if (j < i) {
          data += dkim::canonicalize_header(Canon::Relaxed, as);
        } else {
          std::string last = dkim::canonicalize_header(Canon::Relaxed, without_b_value(as));
          if (last.size() >= 2) last.resize(last.size() - 2);
          data += last;
        }
      }
      if (auto why = check(seals[i - 1], data, v.temporary); !why.empty()) {
        v.result = ArcResult::Fail;
        v.reason = "ARC-Seal " + std::to_string(i) + ": " + why;
        return v;
      }
    }
    v.result = ArcResult::Pass;
    return v;
  }
};

Verifier::Verifier(dkim::KeyLookup& keys, std::int64_t now) : impl_(std::make_unique<Impl>(keys, now)) {}
Verifier::~Verifier() = default;

void Verifier::feed(std::string_view chunk) {
  if (impl_->finished) return;
  impl_->headers.feed(chunk, [this](std::string_view b) { impl_->body(b); });
}

ArcVerdict Verifier::finish() {
  if (impl_->finished) return {};
  return impl_->finish();
}

ArcVerdict verify(std::string_view message, dkim::KeyLookup& keys, std::int64_t now) {
  Verifier v(keys, now);
  v.feed(message);
  return v.finish();
}

std::string arc_auth_result(const ArcVerdict& v) {
  std::string out = "arc=" + std::string(to_string(v.result));
  auto comment = [](std::string_view s) {
    std::string c;
    for (char ch : s.substr(0, 200)) {
      if (ch == '(' || ch == ')' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) continue;
      c += ch;
    }
    return c;
  };
  if (v.result == ArcResult::Pass) out += " (i=" + std::to_string(v.instances) + " d=" + comment(v.sealer) + ")";
  if (v.result == ArcResult::Fail && !v.reason.empty()) out += " (" + comment(v.reason) + ")";
  return out;
}

}  // namespace refmail::trust::arc
