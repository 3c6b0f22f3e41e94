// trust/dmarc.cpp — see dmarc.hpp. RFC 7489 3.1 (alignment), 3.2 (organizational
// domain), 6.3 (record), 6.6.1 (the From domain), 6.6.3 (discovery), 6.6.4 (pct);
// RFC 9091 (np=).
#include "trust/dmarc.hpp"

#include <algorithm>
#include <cctype>

#include "mime/address.hpp"

namespace refmail::trust {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::string normalize_domain(std::string_view d) {
  std::string out = lower(trim(d));
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

std::optional<DmarcPolicy> policy_of(std::string_view v) {
  const std::string l = lower(v);
  if (l == "none") return DmarcPolicy::None;
  if (l == "quarantine") return DmarcPolicy::Quarantine;
  if (l == "reject") return DmarcPolicy::Reject;
  return std::nullopt;
}

std::optional<std::uint64_t> number(std::string_view v, std::uint64_t max) {
  if (v.empty() || v.size() > 10) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (n > max) return std::nullopt;
  return n;
}

// dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ] (6.4): a scheme, ":", and
// something after it; the size limit, when present, must be well formed.
bool valid_uri(std::string_view u) {
  const auto colon = u.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= u.size()) return false;
  if (!std::isalpha(static_cast<unsigned char>(u[0]))) return false;
  for (std::size_t i = 1; i < colon; ++i) {
    const char c = u[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.')) return false;
  }
  for (char c : u)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F) return false;
  const auto bang = u.find('!', colon);
  if (bang != std::string_view::npos) {
    std::string_view size = u.substr(bang + 1);
    if (!size.empty() && std::string_view("kmgtKMGT").find(size.back()) != std::string_view::npos) size.remove_suffix(1);
    if (!number(size, UINT32_MAX)) return false;
  }
  return true;
}

std::vector<std::string> uris(std::string_view v) {
  std::vector<std::string> out;
  while (!v.empty() && out.size() < kMaxReportUris) {
    const auto comma = v.find(',');
    std::string_view u = trim(v.substr(0, comma));
    if (valid_uri(u)) out.emplace_back(u);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return out;
}

bool valid_fo(std::string_view v) {
  if (v.empty()) return false;
  std::size_t start = 0;
  while (start <= v.size()) {
    auto colon = v.find(':', start);
    if (colon == std::string_view::npos) colon = v.size();
    std::string_view opt = trim(v.substr(start, colon - start));
    if (opt != "0" && opt != "1" && opt != "d" && opt != "s") return false;
    start = colon + 1;
  }
  return true;
}

bool is_dmarc_record(std::string_view txt) {
  // "v" *WSP "=" *WSP "DMARC1" as the first tag, followed by ";" or the end.
  std::string_view s = trim(txt);
  if (s.empty() || s[0] != 'v') return false;
  s = trim(s.substr(1));
  if (s.empty() || s[0] != '=') return false;
  s = trim(s.substr(1));
  if (s.substr(0, 6) != "DMARC1") return false;
  s = trim(s.substr(6));
  return s.empty() || s[0] == ';';
}

}  // namespace

std::string_view to_string(DmarcPolicy p) {
  switch (p) {
    case DmarcPolicy::None: return "none";
    case DmarcPolicy::Quarantine: return "quarantine";
    case DmarcPolicy::Reject: return "reject";
  }
  return "none";
}

std::string_view to_string(FromStatus s) {
  switch (s) {
    case FromStatus::Ok: return "ok";
    case FromStatus::NoFrom: return "no From field";
    case FromStatus::MultipleFromFields: return "multiple From fields";
    case FromStatus::MultipleAddresses: return "multiple From addresses";
    case FromStatus::NoDomain: return "From address has no domain";
  }
  return "no From field";
}

std::string_view to_string(DmarcResult r) {
  switch (r) {
    case DmarcResult::None: return "none";
    case DmarcResult::Pass: return "pass";
    case DmarcResult::Fail: return "fail";
    case DmarcResult::TempError: return "temperror";
    case DmarcResult::PermError: return "permerror";
  }
  return "none";
}

DmarcParsed parse_dmarc_record(std::string_view txt) {
  DmarcParsed out;
  if (!is_dmarc_record(txt)) {
    out.problem = "not a DMARC record (v=DMARC1 must come first)";
    return out;
  }
  DmarcRecord& r = out.record;
  bool have_p = false, bad_p = false, bad_sp = false;
  std::vector<std::string> seen;
  std::string_view rest = txt;
  bool first = true;
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    std::string_view pair = trim(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    if (first) {  // the v=DMARC1 tag, checked above
      first = false;
      continue;
    }
    if (pair.empty()) continue;  // "p=none;;" and a trailing ";"
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) {
      r.ignored.emplace_back(pair.substr(0, 32));
      continue;
    }
    const std::string tag = lower(trim(pair.substr(0, eq)));
    const std::string_view value = trim(pair.substr(eq + 1));
    if (std::find(seen.begin(), seen.end(), tag) != seen.end()) {  // the first one counts
      r.ignored.push_back(tag);
      continue;
    }
    if (seen.size() < 64) seen.push_back(tag);
    if (tag == "p") {
      auto p = policy_of(value);
      if (p) {
        r.p = *p;
        have_p = true;
      } else {
        bad_p = true;
      }
    } else if (tag == "sp") {
      auto p = policy_of(value);
      if (p) {
        r.sp = *p;
      } else {
        bad_sp = true;
      }
    } else if (tag == "np") {
      auto p = policy_of(value);
      if (p) {
        r.np = *p;
      } else {
        r.ignored.push_back(tag);
      }
    } else if (tag == "pct") {
      auto n = number(value, 100);
      if (n) {
        r.pct = static_cast<unsigned>(*n);
      } else {
        r.ignored.push_back(tag);
      }
    } else if (tag == "adkim" || tag == "aspf") {
      auto& slot = tag == "adkim" ? r.adkim : r.aspf;
      const std::string v = lower(value);
      if (v == "r") {
        slot = DmarcAlignment::Relaxed;
      } else if (v == "s") {
        slot = DmarcAlignment::Strict;
      } else {
        r.ignored.push_back(tag);
      }
    } else if (tag == "rua" || tag == "ruf") {
      (tag == "rua" ? r.rua : r.ruf) = uris(value);
    } else if (tag == "fo") {
      if (valid_fo(value)) {
        r.fo = std::string(value);
      } else {
        r.ignored.push_back(tag);
      }
    } else if (tag == "ri") {
      auto n = number(value, UINT32_MAX);
      if (n) {
        r.ri = static_cast<std::uint32_t>(*n);
      } else {
        r.ignored.push_back(tag);
      }
    }
    // 6.3: unknown tags MUST be ignored (rf= among them: only afrf exists).
  }
  // 6.6.3 step 6: no valid p, or an invalid sp: with a valid rua, act as p=none;
  // otherwise no DMARC processing.
  if (!have_p || bad_p || bad_sp) {
    if (!r.rua.empty()) {
      r.p = DmarcPolicy::None;
      r.sp.reset();
      r.policy_assumed = true;
    } else {
      out.status = DmarcParseStatus::Invalid;
      out.problem = bad_sp ? "invalid sp= and no rua=" : "no valid p= and no rua=";
      return out;
    }
  }
  out.status = DmarcParseStatus::Ok;
  return out;
}

FromDomain from_domain(const std::vector<std::string_view>& from_fields) {
  FromDomain f;
  if (from_fields.empty()) return f;  // NoFrom
  if (from_fields.size() > 1) {
    f.status = FromStatus::MultipleFromFields;
    return f;
  }
  // Two are enough to know there is more than one.
  auto list = mime::parse_address_list(from_fields[0], 2);
  if (list.empty()) return f;  // NoFrom: a field with no address in it
  if (list.size() > 1) {
    f.status = FromStatus::MultipleAddresses;
    return f;
  }
  const std::string& email = list[0].email;
  const auto at = email.rfind('@');
  std::string d = at == std::string::npos ? std::string{} : normalize_domain(std::string_view(email).substr(at + 1));
  // A domain literal ("[192.0.2.1]") has no DNS domain to look a policy up for.
  const bool control = std::any_of(d.begin(), d.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) == 0x7F;
  });
  if (d.empty() || d.front() == '[' || d.size() > 253 || control ||
      d.find_first_of("\"\\()<>,;:@") != std::string::npos) {
    f.status = FromStatus::NoDomain;
    return f;
  }
  f.status = FromStatus::Ok;
  f.domain = std::move(d);
  return f;
}

namespace {

enum class AtName { Found, NoRecord, Several, TempError };

AtName lookup_at(const std::string& domain, DnsLookup& dns, DmarcDiscovery& out) {
  DnsAnswer a = dns.txt("_dmarc." + domain);
  if (a.status == DnsStatus::TempError) return AtName::TempError;
  std::vector<std::string_view> found;
  for (const auto& r : a.records)
    if (is_dmarc_record(r)) found.push_back(r);
  if (found.empty()) return AtName::NoRecord;
  if (found.size() > 1) return AtName::Several;
  DmarcParsed p = parse_dmarc_record(found[0]);
  if (p.status != DmarcParseStatus::Ok) {
    out.problem = "_dmarc." + domain + ": " + p.problem;
    return AtName::Several;  // a record that stops discovery without a policy
  }
  out.record = std::move(p.record);
  out.policy_domain = domain;
  return AtName::Found;
}

}  // namespace

DmarcDiscovery discover_policy(std::string_view from, DnsLookup& dns, const PublicSuffixList& psl) {
  DmarcDiscovery out;
  const std::string domain = normalize_domain(from);
  if (domain.empty()) {
    out.problem = "no domain";
    return out;
  }
  auto step = [&](const std::string& d) -> bool {  // true: discovery is over
    switch (lookup_at(d, dns, out)) {
      case AtName::Found: out.status = DiscoveryStatus::Found; return true;
      case AtName::TempError:
        out.status = DiscoveryStatus::TempError;
        out.problem = "DNS failure looking up _dmarc." + d;
        return true;
      case AtName::Several:
        if (out.problem.empty()) out.problem = "more than one DMARC record at _dmarc." + d;
        return true;
      case AtName::NoRecord: return false;
    }
    return true;
  };
  if (step(domain)) return out;
  const std::string org = psl.organizational_domain(domain);
  if (org != domain && step(org)) return out;
  out.problem = "no DMARC record for " + domain;
  return out;
}

bool aligned(std::string_view auth_domain, std::string_view from, DmarcAlignment mode, const PublicSuffixList& psl) {
  const std::string a = normalize_domain(auth_domain), f = normalize_domain(from);
  if (a.empty() || f.empty()) return false;
  if (a == f) return true;
  if (mode == DmarcAlignment::Strict) return false;
  return psl.organizational_domain(a) == psl.organizational_domain(f);
}

DmarcVerdict check_dmarc(const DmarcInput& input, DnsLookup& dns, const PublicSuffixList& psl) {
  DmarcVerdict v;
  FromDomain from = from_domain(input.from_fields);
  v.from_status = from.status;
  if (from.status != FromStatus::Ok) {
    // 6.6.1: such messages "are typically rejected"; the caller decides.
    v.result = DmarcResult::PermError;
    v.problem = std::string(to_string(from.status));
    return v;
  }
  v.from_domain = from.domain;
  DmarcDiscovery d = discover_policy(from.domain, dns, psl);
  if (d.status != DiscoveryStatus::Found) {
    v.result = d.status == DiscoveryStatus::TempError ? DmarcResult::TempError : DmarcResult::None;
    v.problem = d.problem;
    return v;
  }
  v.policy_domain = d.policy_domain;
  const DmarcRecord& r = d.record;
  // The policy that applies: p for the domain that published the record; for a
  // subdomain found through its organizational domain, sp, or np when the From domain
  // does not exist (RFC 9091 2.1: NXDOMAIN).
  v.policy = r.p;
  if (d.policy_domain != from.domain) {
    v.policy = r.sp.value_or(r.p);
    if (r.np && dns.a(from.domain).status == DnsStatus::NxDomain) v.policy = *r.np;
  }
  if (input.spf && input.spf->result == SpfResult::Pass)
    v.spf_aligned = aligned(input.spf->domain, from.domain, r.aspf, psl);
  for (const auto& k : input.dkim) {
    if (k.result == DmarcAuthResult::Pass && aligned(k.domain, from.domain, r.adkim, psl)) {
      v.dkim_aligned = true;
      break;
    }
  }
  v.record = r;
  if (v.spf_aligned || v.dkim_aligned) {
    v.result = DmarcResult::Pass;
    v.disposition = DmarcPolicy::None;
    return v;
  }
  v.result = DmarcResult::Fail;
  // 6.6.4: a message outside pct gets the next policy down.
  v.disposition = v.policy;
  if (input.random_percent >= r.pct) {
    v.disposition = v.policy == DmarcPolicy::Reject ? DmarcPolicy::Quarantine : DmarcPolicy::None;
  }
  return v;
}

std::string dmarc_auth_result(const DmarcVerdict& v) {
  std::string out = "dmarc=" + std::string(to_string(v.result));
  if (v.result == DmarcResult::Pass || v.result == DmarcResult::Fail) {
    out += " (p=" + std::string(to_string(v.policy)) + " dis=" + std::string(to_string(v.disposition)) + ")";
  } else if (v.result == DmarcResult::PermError && v.from_status != FromStatus::Ok) {
    out += " (" + std::string(to_string(v.from_status)) + ")";
  }
  // from_domain passed from_domain()'s checks: no spaces, quotes, parentheses or ';'.
  if (!v.from_domain.empty()) out += " header.from=" + v.from_domain;
  return out;
}

}  // namespace refmail::trust
