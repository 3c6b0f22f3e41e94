// trust/inbound.cpp — SPF, DKIM and DMARC of one received message, one
// Authentication-Results field (RFC 8601).
#include "trust/inbound.hpp"

#include <algorithm>
#include <cctype>

#include "mime/headers.hpp"
#include "net/address.hpp"

namespace refmail::trust {

namespace {

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

DmarcAuthResult dmarc_input(dkim::Status s) {
  switch (s) {
    case dkim::Status::Pass: return DmarcAuthResult::Pass;
    case dkim::Status::Fail: return DmarcAuthResult::Fail;
    case dkim::Status::Neutral: return DmarcAuthResult::Neutral;
    case dkim::Status::TempError: return DmarcAuthResult::TempError;
    case dkim::Status::PermError: return DmarcAuthResult::PermError;
    case dkim::Status::Policy: return DmarcAuthResult::Fail;
    case dkim::Status::None: return DmarcAuthResult::None;
  }
  return DmarcAuthResult::None;
}

// The authserv-id of an Authentication-Results field body: CFWS skipped (comments may
// nest), then the value up to ';', whitespace or a comment. A quoted-string id keeps
// its content.
std::string_view authserv_id_of(std::string_view v) {
  std::size_t i = 0;
  for (;;) {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')) ++i;
    if (i < v.size() && v[i] == '(') {
      int depth = 0;
      for (; i < v.size(); ++i) {
        if (v[i] == '\\') {
          ++i;
        } else if (v[i] == '(') {
          ++depth;
        } else if (v[i] == ')' && --depth == 0) {
          ++i;
          break;
        }
      }
      continue;
    }
    break;
  }
  if (i < v.size() && v[i] == '"') {
    const auto end = v.find('"', i + 1);
    return end == std::string_view::npos ? v.substr(i + 1) : v.substr(i + 1, end - i - 1);
  }
  std::size_t j = i;
  while (j < v.size() && v[j] != ';' && v[j] != '(' && v[j] != ' ' && v[j] != '\t' && v[j] != '\r' && v[j] != '\n')
    ++j;
  return v.substr(i, j - i);
}

}  // namespace

std::string_view to_string(IprevResult r) {
  switch (r) {
    case IprevResult::Pass: return "pass";
    case IprevResult::Fail: return "fail";
    case IprevResult::TempError: return "temperror";
    case IprevResult::PermError: return "permerror";
  }
  return "permerror";
}

IprevVerdict check_iprev(std::string_view ip, DnsLookup& dns) {
  IprevVerdict v;
  const auto addr = net::IpAddress::parse(ip);
  if (!addr) return v;  // permerror: nothing to look up
  const auto ptr = dns.ptr(addr->to_string());
  if (ptr.status == DnsStatus::TempError) {
    v.result = IprevResult::TempError;
    return v;
  }
  if (ptr.records.empty()) return v;  // permerror: no PTR data
  std::size_t temp = 0, asked = 0;
  for (const auto& name : ptr.records) {
    if (asked == kMaxIprevNames) break;
    ++asked;
    if (name.empty()) continue;
    const auto fwd = addr->v6 ? dns.aaaa(name) : dns.a(name);
    if (fwd.status == DnsStatus::TempError) {
      ++temp;
      continue;
    }
    for (const auto& a : fwd.records) {
      const auto got = net::IpAddress::parse(a);
      if (got && *got == *addr) {
        v.result = IprevResult::Pass;
        v.name = name;
        return v;
      }
    }
  }
  v.result = temp == asked ? IprevResult::TempError : IprevResult::Fail;
  return v;
}

std::string iprev_auth_result(const IprevVerdict& v, std::string_view ip) {
  std::string out = "iprev=" + std::string(to_string(v.result)) + " policy.iprev=" + std::string(ip);
  if (v.result == IprevResult::Pass) {
    // A comment: only characters that cannot end it or the field.
    std::string name;
    for (char c : v.name.substr(0, 253)) {
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') name += c;
    }
    if (!name.empty()) out += " (" + name + ")";
  }
  return out;
}

dkim::KeyAnswer DnsKeyLookup::txt(std::string_view qname) {
  auto a = dns_.txt(qname);
  dkim::KeyAnswer k;
  switch (a.status) {
    case DnsStatus::Ok:
      k.status = a.records.empty() ? dkim::KeyAnswer::Status::NxDomain : dkim::KeyAnswer::Status::Found;
      break;
    case DnsStatus::NxDomain: k.status = dkim::KeyAnswer::Status::NxDomain; break;
    case DnsStatus::TempError: k.status = dkim::KeyAnswer::Status::TempError; break;
  }
  k.records = std::move(a.records);
  return k;
}

struct InboundCheck::Impl {
  DnsLookup& dns;
  const PublicSuffixList& psl;
  InboundFacts facts;
  DnsKeyLookup keys;
  dkim::Verifier verifier;
  arc::Verifier arc_verifier;
  bool finished = false;

  Impl(DnsLookup& d, const PublicSuffixList& p, InboundFacts f)
      : dns(d), psl(p), facts(std::move(f)), keys(d), verifier(keys, facts.now), arc_verifier(keys, facts.now) {}
};

InboundCheck::InboundCheck(DnsLookup& dns, const PublicSuffixList& psl, InboundFacts facts)
    : impl_(std::make_unique<Impl>(dns, psl, std::move(facts))) {}
InboundCheck::~InboundCheck() = default;

void InboundCheck::feed(std::string_view chunk) {
  if (impl_->finished) return;
  impl_->verifier.feed(chunk);
  impl_->arc_verifier.feed(chunk);
}

InboundVerdict InboundCheck::finish(const std::vector<std::string_view>& from_fields) {
  Impl& m = *impl_;
  InboundVerdict v;
  if (m.finished) return v;
  m.finished = true;
  const auto& f = m.facts;

  v.iprev = check_iprev(f.client_ip, m.dns);

  SpfOptions opt;
  opt.receiver = f.authserv_id;
  opt.now = f.now;
  v.spf_helo = f.mail_from.empty();
  v.spf = check_mail_from(f.client_ip, f.mail_from, f.helo, m.dns, opt);

  v.dkim = m.verifier.finish();
  v.arc = m.arc_verifier.finish();

  DmarcInput in;
  in.from_fields = from_fields;
  in.spf = DmarcSpfInput{v.spf.domain, v.spf.result};
  for (const auto& r : v.dkim) {
    if (!r.domain.empty()) in.dkim.push_back(DmarcDkimInput{r.domain, dmarc_input(r.status)});
  }
  in.random_percent = f.random_percent;
  v.dmarc = check_dmarc(in, m.dns, m.psl);

  std::string h = "Authentication-Results: " + f.authserv_id + ";\r\n\t";
  const auto ip = net::IpAddress::parse(f.client_ip);
  h += iprev_auth_result(v.iprev, ip ? ip->to_string() : std::string("unknown")) + ";\r\n\t";
  h += spf_auth_result(v.spf, v.spf_helo ? f.helo : f.mail_from, v.spf_helo);
  if (v.dkim.empty()) {
    h += ";\r\n\tdkim=none";
  } else {
    for (const auto& r : v.dkim) {
      h += ";\r\n\t" + dkim::authentication_result(r);
      if (const auto note = r.body_length_note(); !note.empty()) h += " (" + note + ")";
    }
  }
  if (v.arc.result != arc::ArcResult::None) h += ";\r\n\t" + arc::arc_auth_result(v.arc);
  h += ";\r\n\t" + dmarc_auth_result(v.dmarc) + "\r\n";
  v.header = std::move(h);
  return v;
}

std::vector<std::pair<std::size_t, std::size_t>> claimed_results(std::string_view section, std::string_view id,
                                                                 std::size_t max_scan_bytes) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  if (id.empty()) return out;
  // A field cut by the scan bound is never removed (header_fields leaves it out).
  for (const auto& f : mime::header_fields(section, max_scan_bytes)) {
    if (iequal(f.name, "authentication-results") && iequal(authserv_id_of(f.value), id)) {
      out.emplace_back(f.start, f.end);
    }
  }
  return out;
}

}  // namespace refmail::trust
