// trust/spf.cpp — see spf.hpp. RFC 7208: record selection (4.5), syntax (4.6, 12),
// mechanisms (5), modifiers (6), macros (7), limits (4.6.4), results (2.6, 8), the
// Received-SPF field (9.1).
// SECURITY: the whole record is parsed before anything is evaluated (4.6: a syntax
// error anywhere is permerror); every DNS-querying term is counted before its query.
#include "trust/spf.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>
#include <optional>
#include <vector>

#include "net/address.hpp"

namespace refmail::trust {
namespace {

char lower_char(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower_char(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower_char(x) == lower_char(y);
         });
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool all_digits(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_digit); }

// RFC 7208 4.3: a name check_host() can start from: labels of 1..63 octets, at most
// 253 octets in all, and more than one label. A single trailing dot is allowed.
bool valid_domain(std::string_view d) {
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  if (d.empty() || d.size() > 253 || d.find('.') == std::string_view::npos) return false;
  std::size_t start = 0;
  while (start <= d.size()) {
    auto dot = d.find('.', start);
    if (dot == std::string_view::npos) dot = d.size();
    const auto len = dot - start;
    if (len == 0 || len > 63) return false;
    start = dot + 1;
  }
  return true;
}

// RFC 7208 7.1 transformers and delimiters, 7.3 URL escaping of uppercase letters.
constexpr std::string_view kDelimiters = ".-+,/_=";

std::string url_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    // RFC 3986 2.3 unreserved characters stay as they are.
    if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
    }
  }
  return out;
}

// The i macro: dotted decimal for IPv4, dotted nibbles for IPv6 (7.3).
std::string dotted_ip(const net::IpAddress& ip) {
  if (!ip.v6) return ip.to_string();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i) out += '.';
    out += kHex[ip.bytes[i] >> 4];
    out += '.';
    out += kHex[ip.bytes[i] & 0xF];
  }
  return out;
}

struct MacroValues {
  std::string_view sender, local, sender_domain, domain, helo, receiver;
  std::string ip_dotted, ip_text, version;
  std::int64_t now = 0;
  std::function<std::string()> validated_ptr;  // %{p}, computed only when used
};

// Expands a macro-string (or an explain-string when `explanation`); nullopt on a
// syntax error or when the result would pass kMaxExpansion octets. With `v` null it
// only checks the syntax (nothing is expanded, nothing looked up).
std::optional<std::string> expand(std::string_view text, const MacroValues* v, bool explanation,
                                  std::string* why = nullptr) {
  auto fail = [&](const char* reason) -> std::optional<std::string> {
    if (why) *why = reason;
    return std::nullopt;
  };
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '%') {
      // macro-literal = %x21-24 / %x26-7E; an explain-string also allows SP.
      const auto b = static_cast<unsigned char>(c);
      if (!((b >= 0x21 && b <= 0x7E) || (explanation && b == ' '))) return fail("invalid character");
      out += c;
      ++i;
    } else {
      if (i + 1 >= text.size()) return fail("lone % at the end");
      const char d = text[i + 1];
      if (d == '%') {
        out += '%';
        i += 2;
      } else if (d == '_') {
        out += ' ';
        i += 2;
      } else if (d == '-') {
        out += "%20";
        i += 2;
      } else if (d == '{') {
        const auto close = text.find('}', i + 2);
        if (close == std::string_view::npos) return fail("unterminated macro");
        std::string_view body = text.substr(i + 2, close - i - 2);
        i = close + 1;
        if (body.empty()) return fail("empty macro");
        const char letter = body[0];
        const char l = lower_char(letter);
        if (std::string_view("slodiphv").find(l) == std::string_view::npos &&
            !(explanation && std::string_view("crt").find(l) != std::string_view::npos)) {
          return fail("invalid macro letter");
        }
        body.remove_prefix(1);
        // transformers = *DIGIT [ "r" ]; "the value MUST be at least one" (7.1).
        std::size_t digits_end = 0;
        while (digits_end < body.size() && is_digit(body[digits_end])) ++digits_end;
        std::size_t keep = 0;  // 0: every part
        if (digits_end) {
          // Large counts mean "all parts"; cap before overflow.
          for (std::size_t k = 0; k < digits_end; ++k) keep = std::min<std::size_t>(keep * 10 + (body[k] - '0'), 1000);
          if (keep == 0) return fail("macro transformer 0");
        }
        body.remove_prefix(digits_end);
        bool reverse = false;
        if (!body.empty() && (body[0] == 'r' || body[0] == 'R')) {
          reverse = true;
          body.remove_prefix(1);
        }
        for (char x : body) {
          if (kDelimiters.find(x) == std::string_view::npos) return fail("invalid macro delimiter");
        }
        std::string_view delims = body.empty() ? std::string_view(".") : body;
        if (!v) continue;  // syntax check only
        std::string value;
        switch (l) {
          case 's': value = v->sender; break;
          case 'l': value = v->local; break;
          case 'o': value = v->sender_domain; break;
          case 'd': value = v->domain; break;
          case 'i': value = v->ip_dotted; break;
          case 'p': value = v->validated_ptr ? v->validated_ptr() : "unknown"; break;
          case 'v': value = v->version; break;
          case 'h': value = v->helo; break;
          case 'c': value = v->ip_text; break;
          case 'r': value = v->receiver; break;
          case 't': value = std::to_string(v->now); break;
        }
        // RFC 7208 7.3: split on the delimiters, reverse, keep the rightmost parts,
        // join with ".".
        std::vector<std::string_view> parts;
        std::size_t start = 0;
        for (std::size_t k = 0; k <= value.size(); ++k) {
          if (k == value.size() || delims.find(value[k]) != std::string_view::npos) {
            parts.emplace_back(std::string_view(value).substr(start, k - start));
            start = k + 1;
          }
        }
        if (reverse) std::reverse(parts.begin(), parts.end());
        if (keep && keep < parts.size()) parts.erase(parts.begin(), parts.end() - static_cast<std::ptrdiff_t>(keep));
        std::string joined;
        for (std::size_t k = 0; k < parts.size(); ++k) {
          if (k) joined += '.';
          joined += parts[k];
        }
        out += is_alpha(letter) && letter != l ? url_escape(joined) : joined;
      } else {
        return fail("invalid % escape");
      }
    }
    if (out.size() > kMaxExpansion) return fail("macro expansion too long");
  }
  return out;
}

// RFC 7208 7.3: an expanded name longer than 253 octets loses labels on the left.
std::string fit_domain(std::string d) {
  while (!d.empty() && d.back() == '.') d.pop_back();  // "a.example." queries "a.example"
  while (d.size() > 253) {
    auto dot = d.find('.');
    if (dot == std::string::npos) return {};
    d.erase(0, dot + 1);
  }
  return d;
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool is_toplabel(std::string_view s) {
  if (s.empty()) return false;
  if (std::all_of(s.begin(), s.end(), is_alnum)) return std::any_of(s.begin(), s.end(), is_alpha);
  if (!is_alnum(s.front()) || !is_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

// domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand
bool valid_domain_spec(std::string_view s) {
  if (s.empty() || !expand(s, nullptr, false)) return false;
  if (s.back() == '}') {
    // Ends in a macro-expand: find its "%{" and make sure it is not "%%{...}".
    auto open = s.rfind("%{");
    if (open != std::string_view::npos) {
      std::size_t percents = 0;
      for (std::size_t k = open; k > 0 && s[k - 1] == '%'; --k) ++percents;
      if (percents % 2 == 0) return true;
    }
  }
  if (s.back() == '.') s.remove_suffix(1);
  const auto dot = s.rfind('.');
  if (dot == std::string_view::npos) return false;
  return is_toplabel(s.substr(dot + 1));
}

// CIDR lengths: "0" / %x31-39 0*1DIGIT (IPv4), "0" / %x31-39 0*2DIGIT (IPv6).
std::optional<unsigned> cidr(std::string_view digits, unsigned max) {
  if (!all_digits(digits) || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  unsigned v = 0;
  for (char c : digits) v = v * 10 + static_cast<unsigned>(c - '0');
  if (v > max) return std::nullopt;
  return v;
}

// ip4-network = qnum "." qnum "." qnum "." qnum; qnum has no leading zeros (12).
std::optional<net::IpAddress> parse_ip4(std::string_view s) {
  std::uint8_t b[4];
  for (int k = 0; k < 4; ++k) {
    auto dot = k < 3 ? s.find('.') : s.size();
    if (dot == std::string_view::npos) return std::nullopt;
    auto q = s.substr(0, dot);
    if (!all_digits(q) || q.size() > 3 || (q.size() > 1 && q[0] == '0')) return std::nullopt;
    unsigned v = 0;
    for (char c : q) v = v * 10 + static_cast<unsigned>(c - '0');
    if (v > 255) return std::nullopt;
    b[k] = static_cast<std::uint8_t>(v);
    s = k < 3 ? s.substr(dot + 1) : std::string_view{};
  }
  return net::IpAddress::v4_from(b);
}

std::optional<net::IpAddress> parse_ip6(std::string_view s) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  std::uint8_t b[16];
  if (inet_pton(AF_INET6, buf, b) != 1) return std::nullopt;
  net::IpAddress a;  // kept IPv6 even when mapped: ip6 mechanisms match IPv6 clients only
  a.v6 = true;
  std::memcpy(a.bytes.data(), b, 16);
  return a;
}

bool in_prefix(const net::IpAddress& a, const net::IpAddress& net, unsigned bits) {
  if (a.v6 != net.v6) return false;
  const std::size_t full = bits / 8;
  if (std::memcmp(a.bytes.data(), net.bytes.data(), full) != 0) return false;
  const unsigned rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (a.bytes[full] & mask) == (net.bytes[full] & mask);
}

enum class Kind { All, Include, A, Mx, Ptr, Ip4, Ip6, Exists };

struct Directive {
  SpfResult qualifier = SpfResult::Pass;
  Kind kind = Kind::All;
  std::string text;         // as written, for SpfVerdict::mechanism
  std::string domain_spec;  // empty: the current domain
  unsigned cidr4 = 32, cidr6 = 128;
  net::IpAddress network;  // ip4 / ip6
};

struct Record {
  std::vector<Directive> directives;
  std::optional<std::string> redirect, exp;
};

// RFC 7208 4.6 and 12: the whole record, or why it is not one.
std::optional<Record> parse_record(std::string_view text, std::string& why) {
  Record rec;
  text.remove_prefix(6);  // "v=spf1", checked by the caller
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == ' ') {
      ++pos;
      continue;
    }
    auto end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view term = text.substr(pos, end - pos);
    pos = end;
    // modifier: name "=" ...; name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
    const auto eq = term.find('=');
    bool is_modifier = eq != std::string_view::npos && eq > 0 && is_alpha(term[0]);
    for (std::size_t k = 0; is_modifier && k < eq; ++k) {
      const char c = term[k];
      if (!(is_alnum(c) || c == '-' || c == '_' || c == '.')) is_modifier = false;
    }
    if (is_modifier) {
      std::string_view name = term.substr(0, eq), value = term.substr(eq + 1);
      if (iequals(name, "redirect") || iequals(name, "exp")) {
        auto& slot = iequals(name, "redirect") ? rec.redirect : rec.exp;
        if (slot) {
          why = "more than one " + lower(name) + "= modifier";  // 6: at most once each
          return std::nullopt;
        }
        if (!valid_domain_spec(value)) {
          why = "invalid domain in " + std::string(term);
          return std::nullopt;
        }
        slot = std::string(value);
      } else if (!expand(value, nullptr, true) || value.find(' ') != std::string_view::npos) {
        // 6: unknown modifiers are ignored, but their macro-string must be valid.
        why = "invalid macro in " + std::string(term);
        return std::nullopt;
      }
      continue;
    }
    Directive d;
    d.text = std::string(term);
    std::string_view t = term;
    switch (t[0]) {
      case '+': d.qualifier = SpfResult::Pass; t.remove_prefix(1); break;
      case '-': d.qualifier = SpfResult::Fail; t.remove_prefix(1); break;
      case '~': d.qualifier = SpfResult::SoftFail; t.remove_prefix(1); break;
      case '?': d.qualifier = SpfResult::Neutral; t.remove_prefix(1); break;
      default: break;
    }
    const auto name_end = t.find_first_of(":/");
    std::string_view name = t.substr(0, name_end);
    std::string_view arg = name_end == std::string_view::npos ? std::string_view{} : t.substr(name_end);
    auto bad = [&](const char* what) {
      why = std::string(what) + ": " + std::string(term);
      return std::nullopt;
    };
    // ":" domain-spec, required or optional
    auto take_spec = [&](std::string_view& a, bool required) -> bool {
      if (a.empty() || a[0] != ':') return !required;
      auto spec = a.substr(1);
      if (!valid_domain_spec(spec)) return false;
      d.domain_spec = std::string(spec);
      a = {};
      return true;
    };
    if (iequals(name, "all")) {
      d.kind = Kind::All;
      if (!arg.empty()) return bad("arguments to all");
    } else if (iequals(name, "include") || iequals(name, "exists")) {
      d.kind = iequals(name, "include") ? Kind::Include : Kind::Exists;
      if (!take_spec(arg, true)) return bad("invalid domain-spec");
    } else if (iequals(name, "ptr")) {
      d.kind = Kind::Ptr;
      if (!take_spec(arg, false) || !arg.empty()) return bad("invalid ptr");
    } else if (iequals(name, "a") || iequals(name, "mx")) {
      d.kind = iequals(name, "a") ? Kind::A : Kind::Mx;
      // dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ], taken from the
      // end: the domain-spec itself may contain "/".
      auto dd = arg.rfind("//");
      if (dd != std::string_view::npos && all_digits(arg.substr(dd + 2))) {
        auto v = cidr(arg.substr(dd + 2), 128);
        if (!v) return bad("invalid IPv6 CIDR length");
        d.cidr6 = *v;
        arg = arg.substr(0, dd);
      }
      auto s = arg.rfind('/');
      if (s != std::string_view::npos && all_digits(arg.substr(s + 1))) {
        auto v = cidr(arg.substr(s + 1), 32);
        if (!v) return bad("invalid IPv4 CIDR length");
        d.cidr4 = *v;
        arg = arg.substr(0, s);
      }
      if (!take_spec(arg, false) || !arg.empty()) return bad("invalid domain-spec");
    } else if (iequals(name, "ip4") || iequals(name, "ip6")) {
      const bool v6 = iequals(name, "ip6");
      d.kind = v6 ? Kind::Ip6 : Kind::Ip4;
      if (arg.size() < 2 || arg[0] != ':') return bad("missing address");
      arg.remove_prefix(1);
      auto s = arg.find('/');
      std::optional<unsigned> len = v6 ? 128U : 32U;
      if (s != std::string_view::npos) len = cidr(arg.substr(s + 1), v6 ? 128 : 32);
      if (!len) return bad("invalid CIDR length");
      auto addr = v6 ? parse_ip6(arg.substr(0, s)) : parse_ip4(arg.substr(0, s));
      if (!addr) return bad("invalid address");
      d.network = *addr;
      (v6 ? d.cidr6 : d.cidr4) = *len;
    } else {
      return bad("unknown mechanism");
    }
    rec.directives.push_back(std::move(d));
  }
  return rec;
}

// A record is one whose text is "v=spf1" alone or followed by a space (4.5).
bool is_spf_record(std::string_view txt) {
  return txt.size() >= 6 && iequals(txt.substr(0, 6), "v=spf1") && (txt.size() == 6 || txt[6] == ' ');
}

// Printable ASCII only: an explanation goes into an SMTP reply and a header.
std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) break;
    const auto b = static_cast<unsigned char>(c);
    out += (b >= 0x20 && b <= 0x7E) ? c : '?';
  }
  return out;
}

struct Fault {
  SpfResult result;
  std::string problem;
};

class Evaluator {
 public:
  Evaluator(DnsLookup& dns, const SpfOptions& o, net::IpAddress ip, std::string_view sender, std::string_view helo)
      : dns_(dns), opt_(o), ip_(ip), helo_(helo) {
    const auto at = sender.rfind('@');
    std::string_view local = at == std::string_view::npos ? std::string_view{} : sender.substr(0, at);
    sender_domain_ = std::string(at == std::string_view::npos ? sender : sender.substr(at + 1));
    // 4.3: no local-part -> "postmaster".
    local_ = local.empty() ? "postmaster" : std::string(local);
    sender_ = local_ + "@" + sender_domain_;
  }

  SpfVerdict run(std::string_view domain, unsigned depth, bool top) {
    SpfVerdict v;
    std::string d(domain);
    while (!d.empty() && d.back() == '.') d.pop_back();
    v.domain = d;
    if (!valid_domain(d)) {
      v.problem = "not a valid domain name: " + printable(d, 64);
      return v;  // none (4.3)
    }
    // Depth is bounded by the term limit already (each include/redirect is a term);
    // this only guards a configuration with a silly max_dns_terms.
    if (depth > 32) return fault(v, {SpfResult::PermError, "records nested too deeply"});
    DnsAnswer ans = dns_.txt(d);
    if (ans.status == DnsStatus::TempError) return fault(v, {SpfResult::TempError, "DNS failure looking up " + d});
    std::vector<std::string_view> records;
    for (const auto& r : ans.records)
      if (is_spf_record(r)) records.push_back(r);
    if (records.empty()) {
      v.problem = "no SPF record at " + d;
      return v;  // none (4.5)
    }
    if (records.size() > 1) return fault(v, {SpfResult::PermError, "more than one SPF record at " + d});
    std::string why;
    auto rec = parse_record(records[0], why);
    if (!rec) return fault(v, {SpfResult::PermError, printable(why, 200)});

    for (const auto& dir : rec->directives) {
      std::optional<Fault> f;
      bool match = false;
      evaluate(dir, d, depth, match, f);
      if (f) return fault(v, std::move(*f));
      if (!match) continue;
      v.result = dir.qualifier;
      v.mechanism = dir.text;
      if (v.result == SpfResult::Fail && top && rec->exp) v.explanation = explain(*rec->exp, d);
      return v;
    }
    if (rec->redirect) {
      // 6.1: counted like a mechanism; the target's result is ours, except that a
      // target without a record is permerror. Its exp= (not ours) applies.
      if (auto f = count_term()) return fault(v, std::move(*f));
      auto target = expand_domain(*rec->redirect, d);
      if (!target) return fault(v, {SpfResult::PermError, "invalid redirect= expansion"});
      SpfVerdict sub = run(*target, depth + 1, top);
      if (sub.result == SpfResult::None) {
        return fault(v, {SpfResult::PermError, "redirect target " + printable(*target, 253) + " has no SPF record"});
      }
      sub.domain = d;
      return sub;
    }
    v.result = SpfResult::Neutral;  // 4.7: nothing matched, no redirect
    v.mechanism = "default";
    return v;
  }

 private:
  static SpfVerdict fault(SpfVerdict& v, Fault f) {
    v.result = f.result;
    v.problem = std::move(f.problem);
    return v;
  }

  std::optional<Fault> count_term() {
    if (++terms_ > opt_.max_dns_terms) {
      return Fault{SpfResult::PermError, "more than " + std::to_string(opt_.max_dns_terms) +
                                             " DNS lookups (RFC 7208 4.6.4)"};
    }
    return std::nullopt;
  }

  std::optional<Fault> count_void(const DnsAnswer& a) {
    if (a.is_void() && ++voids_ > opt_.max_void_lookups) {
      return Fault{SpfResult::PermError, "more than " + std::to_string(opt_.max_void_lookups) +
                                             " void DNS lookups (RFC 7208 4.6.4)"};
    }
    return std::nullopt;
  }

  MacroValues values(std::string_view domain) {
    MacroValues m;
    m.sender = sender_;
    m.local = local_;
    m.sender_domain = sender_domain_;
    m.domain = domain;
    m.helo = helo_;
    m.receiver = opt_.receiver;
    m.ip_dotted = dotted_ip(ip_);
    m.ip_text = ip_.to_string();
    m.version = ip_.v6 ? "ip6" : "in-addr";
    m.now = opt_.now;
    std::string dom(domain);
    m.validated_ptr = [this, dom] { return validated_ptr_for(dom); };
    return m;
  }

  std::optional<std::string> expand_domain(std::string_view spec, std::string_view domain) {
    MacroValues m = values(domain);
    auto e = expand(spec, &m, false);
    if (!e) return std::nullopt;
    auto d = fit_domain(std::move(*e));
    if (d.empty()) return std::nullopt;
    return d;
  }

  // 6.2: any failure leaves the explanation empty.
  std::string explain(std::string_view spec, std::string_view domain) {
    auto target = expand_domain(spec, domain);
    if (!target) return {};
    DnsAnswer a = dns_.txt(*target);
    if (a.status != DnsStatus::Ok || a.records.size() != 1) return {};
    MacroValues m = values(domain);
    auto text = expand(a.records[0], &m, true);
    if (!text) return {};
    return printable(*text, 512);
  }

  // An address record list matched against the client with the directive's CIDR.
  bool addresses_match(const DnsAnswer& a, const Directive& dir) const {
    for (const auto& r : a.records) {
      auto addr = net::IpAddress::parse(r);
      if (addr && in_prefix(ip_, *addr, ip_.v6 ? dir.cidr6 : dir.cidr4)) return true;
    }
    return false;
  }

  DnsAnswer address_lookup(std::string_view name) { return ip_.v6 ? dns_.aaaa(name) : dns_.a(name); }

  // RFC 7208 5.5: the PTR names of the client whose addresses include it, the first
  // max_ptr_names only; a failed address lookup skips that name. Asked once per check.
  const std::vector<std::string>& validated_names() {
    if (ptr_answer_) return validated_;
    ptr_answer_ = dns_.ptr(ip_.to_string());
    std::size_t n = 0;
    for (const auto& name : ptr_answer_->records) {
      if (n++ >= opt_.max_ptr_names) break;
      std::string host = lower(name);
      while (!host.empty() && host.back() == '.') host.pop_back();
      if (host.empty()) continue;
      DnsAnswer a = address_lookup(host);
      for (const auto& r : a.records) {
        auto addr = net::IpAddress::parse(r);
        if (addr && *addr == ip_) {
          validated_.push_back(host);
          break;
        }
      }
    }
    return validated_;
  }

  static bool is_in(std::string_view host, std::string_view domain) {
    if (iequals(host, domain)) return true;
    return host.size() > domain.size() && host[host.size() - domain.size() - 1] == '.' &&
           iequals(host.substr(host.size() - domain.size()), domain);
  }

  // 7.3 %{p}: the target itself if validated, else a validated subdomain of it, else
  // any validated name, else "unknown".
  std::string validated_ptr_for(const std::string& domain) {
    const auto& names = validated_names();
    for (const auto& n : names)
      if (iequals(n, domain)) return n;
    for (const auto& n : names)
      if (is_in(n, domain)) return n;
    return names.empty() ? "unknown" : names.front();
  }

  void evaluate(const Directive& dir, const std::string& domain, unsigned depth, bool& match,
                std::optional<Fault>& f) {
    auto target_of = [&]() -> std::optional<std::string> {
      if (dir.domain_spec.empty()) return domain;
      auto t = expand_domain(dir.domain_spec, domain);
      if (!t) f = Fault{SpfResult::PermError, "invalid macro expansion in " + printable(dir.text, 200)};
      return t;
    };
    auto temp = [&](const std::string& name) {
      f = Fault{SpfResult::TempError, "DNS failure looking up " + printable(name, 253)};
    };
    switch (dir.kind) {
      case Kind::All: match = true; return;
      case Kind::Ip4:
      case Kind::Ip6:
        match = in_prefix(ip_, dir.network, dir.kind == Kind::Ip6 ? dir.cidr6 : dir.cidr4);
        return;
      default: break;
    }
    if ((f = count_term())) return;
    auto target = target_of();
    if (!target) return;
    switch (dir.kind) {
      case Kind::Include: {
        SpfVerdict sub = run(*target, depth + 1, false);
        switch (sub.result) {
          case SpfResult::Pass: match = true; return;
          case SpfResult::Fail:
          case SpfResult::SoftFail:
          case SpfResult::Neutral: return;
          case SpfResult::TempError: f = Fault{SpfResult::TempError, sub.problem}; return;
          case SpfResult::PermError: f = Fault{SpfResult::PermError, sub.problem}; return;
          case SpfResult::None:  // 5.2: an include of a domain without a record
            f = Fault{SpfResult::PermError, "included domain " + printable(*target, 253) + " has no SPF record"};
            return;
        }
        return;
      }
      case Kind::A: {
        DnsAnswer a = address_lookup(*target);
        if (a.status == DnsStatus::TempError) return temp(*target);
        if ((f = count_void(a))) return;
        match = addresses_match(a, dir);
        return;
      }
      case Kind::Mx: {
        DnsAnswer mx = dns_.mx(*target);
        if (mx.status == DnsStatus::TempError) return temp(*target);
        if ((f = count_void(mx))) return;
        if (mx.records.size() > opt_.max_mx_hosts) {
          f = Fault{SpfResult::PermError, "more than " + std::to_string(opt_.max_mx_hosts) + " MX records for " +
                                              printable(*target, 253) + " (RFC 7208 4.6.4)"};
          return;
        }
        for (const auto& host : mx.records) {
          if (host.empty() || host == ".") continue;  // a null MX names no host
          DnsAnswer a = address_lookup(host);
          if (a.status == DnsStatus::TempError) return temp(host);
          if (addresses_match(a, dir)) {
            match = true;
            return;
          }
        }
        return;
      }
      case Kind::Ptr: {
        const auto& names = validated_names();
        // 5.5: a failed PTR lookup means no match, not temperror.
        if (ptr_answer_->status != DnsStatus::TempError && (f = count_void(*ptr_answer_))) return;
        for (const auto& n : names) {
          if (is_in(n, *target)) {
            match = true;
            return;
          }
        }
        return;
      }
      case Kind::Exists: {
        DnsAnswer a = dns_.a(*target);  // 5.7: always an A query, whatever the client
        if (a.status == DnsStatus::TempError) return temp(*target);
        if ((f = count_void(a))) return;
        match = !a.records.empty();
        return;
      }
      default: return;
    }
  }

  DnsLookup& dns_;
  const SpfOptions& opt_;
  net::IpAddress ip_;
  std::string helo_, local_, sender_domain_, sender_;
  unsigned terms_ = 0, voids_ = 0;
  std::optional<DnsAnswer> ptr_answer_;
  std::vector<std::string> validated_;
};

}  // namespace

std::string_view to_string(SpfResult r) {
  switch (r) {
    case SpfResult::None: return "none";
    case SpfResult::Neutral: return "neutral";
    case SpfResult::Pass: return "pass";
    case SpfResult::Fail: return "fail";
    case SpfResult::SoftFail: return "softfail";
    case SpfResult::TempError: return "temperror";
    case SpfResult::PermError: return "permerror";
  }
  return "none";
}

SpfVerdict check_host(std::string_view ip, std::string_view domain, std::string_view sender, std::string_view helo,
                      DnsLookup& dns, const SpfOptions& options) {
  auto addr = net::IpAddress::parse(ip);
  if (!addr) {
    SpfVerdict v;
    v.result = SpfResult::PermError;
    v.problem = "not an IP address: " + printable(ip, 64);
    v.domain = std::string(domain);
    return v;
  }
  Evaluator e(dns, options, *addr, sender, helo);
  return e.run(domain, 0, true);
}

SpfVerdict check_mail_from(std::string_view ip, std::string_view mail_from, std::string_view helo, DnsLookup& dns,
                           const SpfOptions& options) {
  if (mail_from.empty()) return check_helo(ip, helo, dns, options);
  const auto at = mail_from.rfind('@');
  std::string_view domain = at == std::string_view::npos ? mail_from : mail_from.substr(at + 1);
  return check_host(ip, domain, mail_from, helo, dns, options);
}

SpfVerdict check_helo(std::string_view ip, std::string_view helo, DnsLookup& dns, const SpfOptions& options) {
  // 4.3: an address literal ("[192.0.2.1]") is not a domain: none, nothing asked.
  if (!helo.empty() && helo.front() == '[') {
    SpfVerdict v;
    v.domain = std::string(helo);
    v.problem = "HELO is an address literal";
    return v;
  }
  const std::string sender = "postmaster@" + std::string(helo);
  return check_host(ip, helo, sender, helo, dns, options);
}

std::optional<std::string> expand_macros(std::string_view text, const MacroContext& ctx, bool explanation) {
  MacroValues m;
  const auto at = ctx.sender.rfind('@');
  std::string_view local = at == std::string_view::npos ? std::string_view{} : ctx.sender.substr(0, at);
  std::string local_s = local.empty() ? "postmaster" : std::string(local);
  std::string_view sdom = at == std::string_view::npos ? ctx.sender : ctx.sender.substr(at + 1);
  std::string sender_s = local_s + "@" + std::string(sdom);
  m.sender = sender_s;
  m.local = local_s;
  m.sender_domain = sdom;
  m.domain = ctx.domain;
  m.helo = ctx.helo;
  m.receiver = ctx.receiver;
  auto addr = net::IpAddress::parse(ctx.ip);
  if (addr) {
    m.ip_dotted = dotted_ip(*addr);
    m.ip_text = addr->to_string();
    m.version = addr->v6 ? "ip6" : "in-addr";
  }
  m.now = ctx.now;
  std::string p(ctx.validated_ptr);
  m.validated_ptr = [p] { return p; };
  return expand(text, &m, explanation);
}

namespace {

// RFC 8601 2.2 pvalue: an address or a domain stays bare when it is made of safe
// characters; anything else becomes a quoted-string with its controls dropped.
// RFC 7208 9.1 values are dot-atom or quoted-string: there '@' and ':' need quotes.
std::string pvalue(std::string_view v, bool dot_atom = false) {
  bool bare = !v.empty() && v.front() != '.' && v.back() != '.';
  for (char c : v) {
    if (!(is_alnum(c) || std::string_view(".-_+=!#$%&'*/?^`{|}~").find(c) != std::string_view::npos ||
          (c == '@' && !dot_atom)))
      bare = false;
  }
  if (bare) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) continue;
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// A header comment's text: printable, no parentheses or backslashes to unbalance it.
std::string comment_text(std::string_view s) {
  std::string out = printable(s, 200);
  for (auto& c : out)
    if (c == '(' || c == ')' || c == '\\') c = ' ';
  return out;
}

}  // namespace

std::string spf_auth_result(const SpfVerdict& verdict, std::string_view identity, bool helo_identity) {
  std::string out = "spf=" + std::string(to_string(verdict.result));
  if ((verdict.result == SpfResult::TempError || verdict.result == SpfResult::PermError) && !verdict.problem.empty())
    out += " (" + comment_text(verdict.problem) + ")";
  out += helo_identity ? " smtp.helo=" : " smtp.mailfrom=";
  out += pvalue(identity);
  return out;
}

std::string received_spf(const SpfVerdict& verdict, std::string_view ip, std::string_view mail_from,
                         std::string_view helo, std::string_view receiver, bool helo_identity) {
  const std::string who = comment_text(helo_identity || mail_from.empty() ? "postmaster@" + std::string(helo)
                                                                          : std::string(mail_from));
  const std::string addr = comment_text(ip);
  std::string c;
  switch (verdict.result) {
    case SpfResult::Pass: c = "domain of " + who + " designates " + addr + " as permitted sender"; break;
    case SpfResult::Fail: c = "domain of " + who + " does not designate " + addr + " as permitted sender"; break;
    case SpfResult::SoftFail:
      c = "domain of transitioning " + who + " does not designate " + addr + " as permitted sender";
      break;
    case SpfResult::Neutral: c = addr + " is neither permitted nor denied by domain of " + who; break;
    case SpfResult::None: c = "domain of " + who + " does not provide an SPF record"; break;
    case SpfResult::TempError:
      c = "error in processing during lookup of " + who + ": " + comment_text(verdict.problem);
      break;
    case SpfResult::PermError:
      c = "permanent error in processing domain of " + who + ": " + comment_text(verdict.problem);
      break;
  }
  std::string out = std::string(to_string(verdict.result)) + " (" + comment_text(receiver) + ": " + c + ")";
  out += " client-ip=" + pvalue(ip, true) + ";";
  out += " envelope-from=" + pvalue(mail_from, true) + ";";
  if (!helo.empty()) out += " helo=" + pvalue(helo, true) + ";";
  if (!receiver.empty()) out += " receiver=" + pvalue(receiver, true) + ";";
  out += std::string(" identity=") + (helo_identity || mail_from.empty() ? "helo" : "mailfrom") + ";";
  if (!verdict.mechanism.empty() && verdict.mechanism != "default") out += " mechanism=" + pvalue(verdict.mechanism, true) + ";";
  if (!verdict.problem.empty() &&
      (verdict.result == SpfResult::TempError || verdict.result == SpfResult::PermError))
    out += " problem=" + pvalue(verdict.problem, true) + ";";
  return out;
}

}  // namespace refmail::trust
