// trust/dkim_parse.cpp — RFC 6376 3.2 tag-lists, 3.5 DKIM-Signature values, 3.6.1 key
// records. Strict where the RFC is (required tags, duplicates, x >= t, i= within d=),
// lenient where dkimpy and OpenDKIM are (empty list elements, unknown tags).
// SECURITY: untrusted input (the signature from the message, the key from DNS); total,
// bounded by kMaxSignatureFieldBytes, kMaxTags, kMaxSignedHeaders, kMaxKeyRecordBytes.
#include <charconv>

#include "mime/codec.hpp"
#include "trust/dkim.hpp"
#include "trust/dkim_internal.hpp"

namespace refmail::trust::dkim {

using namespace detail;

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim_fws(std::string_view s) {
  while (!s.empty() && is_fws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_fws(s.back())) s.remove_suffix(1);
  return s;
}


SignatureError err(errc code, std::string reason) { return SignatureError{code, std::move(reason)}; }

// Base64 as DKIM writes it (FWS already removed): RFC 2045 alphabet, padded.
std::optional<std::string> decode_b64(std::string_view text) {
  for (char c : text)
    if (!(is_alpha(c) || is_digit(c) || c == '+' || c == '/' || c == '=')) return std::nullopt;
  return mime::base64_decode_strict(text);
}

std::optional<std::uint64_t> parse_uint(std::string_view s, std::size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  for (char c : s)
    if (!is_digit(c)) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Domain names and selectors become a DNS query name: letters, digits, '-', '_', '.'
// only (A-labels), no empty label. SECURITY: nothing else reaches the resolver.
bool valid_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (char c : s) {
    if (!(is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c == '.')) return false;
    if (c == '.' && prev == '.') return false;
    prev = c;
  }
  return true;
}

const Tag* find(const std::vector<Tag>& tags, std::string_view name) {
  for (const Tag& t : tags)
    if (t.name == name) return &t;
  return nullptr;
}

// Colon-separated list (h=, q=, key h=, s=, t=), FWS removed, empty elements dropped.
std::vector<std::string> split_colon(std::string_view value) {
  std::vector<std::string> out;
  const std::string v = strip_fws(value);
  std::size_t pos = 0;
  while (pos <= v.size()) {
    std::size_t c = v.find(':', pos);
    if (c == std::string::npos) c = v.size();
    if (c > pos) out.push_back(v.substr(pos, c - pos));
    pos = c + 1;
  }
  return out;
}

}  // namespace

boost::system::result<std::vector<Tag>> parse_tag_list(std::string_view text) {
  std::vector<Tag> tags;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t semi = text.find(';', pos);
    if (semi == std::string_view::npos) semi = text.size();
    const std::string_view spec = text.substr(pos, semi - pos);
    pos = semi + 1;
    if (trim_fws(spec).empty()) continue;  // trailing ';' (and, leniently, ";;")
    const std::size_t eq = spec.find('=');
    if (eq == std::string_view::npos) return errc::syntax;
    const std::string_view name = trim_fws(spec.substr(0, eq));
    // tag-name = ALPHA *ALNUMPUNC
    if (name.empty() || !is_alpha(name.front())) return errc::syntax;
    for (char c : name)
      if (!(is_alpha(c) || is_digit(c) || c == '_')) return errc::syntax;
    const std::string_view value = trim_fws(spec.substr(eq + 1));
    for (char c : value)  // VALCHAR and FWS; no other controls
      if (static_cast<unsigned char>(c) < 0x20 && !is_fws(c)) return errc::syntax;
    for (const Tag& t : tags)
      if (t.name == name) return errc::duplicate_tag;  // RFC 6376 3.2: permerror
    if (tags.size() >= kMaxTags) return errc::too_large;
    tags.push_back(Tag{std::string(name), std::string(value)});
  }
  return tags;
}

boost::system::result<Signature, SignatureError> parse_signature(std::string_view value) {
  if (value.size() > kMaxSignatureFieldBytes) return err(errc::too_large, "signature too long");
  auto parsed = parse_tag_list(value);
  if (!parsed) {
    const auto e = static_cast<errc>(parsed.error().value());
    if (e == errc::duplicate_tag) return err(e, "duplicate tag in signature");
    if (e == errc::too_large) return err(e, "too many tags in signature");
    return err(errc::syntax, "signature tag-list syntax error");
  }
  const std::vector<Tag>& tags = *parsed;
  Signature s;
  for (std::string_view req : {"v", "a", "b", "bh", "d", "h", "s"})
    if (!find(tags, req)) return err(errc::missing_tag, "missing required tag " + std::string(req) + "=");

  if (find(tags, "v")->value != "1") return err(errc::bad_value, "unsupported version v=" + find(tags, "v")->value);

  s.algorithm_text = to_lower(strip_fws(find(tags, "a")->value));
  if (s.algorithm_text == "rsa-sha256") {
    s.algorithm = Algorithm::RsaSha256;
  } else if (s.algorithm_text == "ed25519-sha256") {
    s.algorithm = Algorithm::Ed25519Sha256;
  } else if (s.algorithm_text == "rsa-sha1") {
    return err(errc::unsupported, "rsa-sha1 is not accepted (RFC 8301: SHA-1 is insecure)");
  } else {
    return err(errc::unsupported, "unknown algorithm a=" + s.algorithm_text.substr(0, 32));
  }

  if (const Tag* c = find(tags, "c")) {
    const std::string v = to_lower(strip_fws(c->value));
    const std::size_t slash = v.find('/');
    const std::string head = v.substr(0, slash);
    const std::string body = slash == std::string::npos ? "simple" : v.substr(slash + 1);
    auto one = [](const std::string& x) -> std::optional<Canon> {
      if (x == "simple") return Canon::Simple;
      if (x == "relaxed") return Canon::Relaxed;
      return std::nullopt;
    };
    const auto hc = one(head), bc = one(body);
    if (!hc || !bc) return err(errc::unsupported, "unknown canonicalization c=" + v.substr(0, 32));
    s.header_canon = *hc;
    s.body_canon = *bc;
  }

  s.domain = to_lower(find(tags, "d")->value);  // trimmed; inner FWS is invalid
  if (!valid_dns_name(s.domain)) return err(errc::bad_value, "invalid d= domain");
  s.selector = find(tags, "s")->value;
  if (!valid_dns_name(s.selector)) return err(errc::bad_value, "invalid s= selector");

  if (const Tag* q = find(tags, "q")) {
    bool dns = false;
    for (const std::string& m : split_colon(q->value))
      if (iequals(m, "dns/txt")) dns = true;
    if (!dns) return err(errc::unsupported, "no supported query method in q=");
  }

  if (const Tag* i = find(tags, "i")) {
    s.identity = strip_fws(i->value);
    const std::size_t at = s.identity.rfind('@');
    if (at == std::string::npos) return err(errc::bad_value, "i= has no @domain");
    const std::string idom = to_lower(s.identity.substr(at + 1));
    // RFC 6376 3.5 i=: the domain must be d= or a subdomain of it.
    if (!(idom == s.domain ||
          (idom.size() > s.domain.size() && idom.ends_with(s.domain) &&
           idom[idom.size() - s.domain.size() - 1] == '.')))
      return err(errc::bad_value, "i= domain is not within d=");
  } else {
    s.identity = "@" + s.domain;
  }

  const std::vector<std::string> h = split_colon(find(tags, "h")->value);
  if (h.size() > kMaxSignedHeaders) return err(errc::too_large, "too many header names in h=");
  if (h.empty()) return err(errc::bad_value, "empty h=");
  bool from = false;
  for (const std::string& name : h) {
    for (char c : name)  // RFC 5322 field-name: printable except ':'
      if (c < 0x21 || c > 0x7e) return err(errc::bad_value, "invalid header name in h=");
    s.headers.push_back(to_lower(name));
    if (s.headers.back() == "from") from = true;
  }
  if (!from) return err(errc::bad_value, "From is not signed (RFC 6376 5.4)");

  s.b_text = strip_fws(find(tags, "b")->value);
  auto b = decode_b64(s.b_text);
  if (!b || b->empty()) return err(errc::bad_value, "invalid b= (signature) base64");
  s.b = std::move(*b);
  auto bh = decode_b64(strip_fws(find(tags, "bh")->value));
  if (!bh || bh->size() != 32) return err(errc::bad_value, "invalid bh= (body hash)");
  s.bh = std::move(*bh);

  if (const Tag* l = find(tags, "l")) {
    s.body_length = parse_uint(strip_fws(l->value), 76);
    if (!s.body_length) return err(errc::bad_value, "invalid l=");
  }
  if (const Tag* t = find(tags, "t")) {
    auto v = parse_uint(strip_fws(t->value), 12);  // RFC 6376 3.5: at most 12 digits
    if (!v) return err(errc::bad_value, "invalid t=");
    s.timestamp = static_cast<std::int64_t>(*v);
  }
  if (const Tag* x = find(tags, "x")) {
    auto v = parse_uint(strip_fws(x->value), 12);
    if (!v) return err(errc::bad_value, "invalid x=");
    s.expiration = static_cast<std::int64_t>(*v);
  }
  if (s.timestamp && s.expiration && *s.expiration < *s.timestamp)
    return err(errc::bad_value, "x= is before t=");
  return s;
}

boost::system::result<KeyRecord, SignatureError> parse_key_record(std::string_view txt) {
  if (txt.size() > kMaxKeyRecordBytes) return err(errc::too_large, "key record too long");
  auto parsed = parse_tag_list(txt);
  if (!parsed) return err(errc::syntax, "key record syntax error");
  const std::vector<Tag>& tags = *parsed;
  KeyRecord k;
  if (const Tag* v = find(tags, "v")) {  // RFC 6376 3.6.1: if present, first and DKIM1
    if (&tags.front() != v || v->value != "DKIM1") return err(errc::bad_value, "key record v= is not DKIM1");
  }
  if (const Tag* kt = find(tags, "k")) {
    const std::string t = to_lower(strip_fws(kt->value));
    if (t == "rsa") k.type = KeyType::Rsa;
    else if (t == "ed25519") k.type = KeyType::Ed25519;
    else return err(errc::unsupported, "unknown key type k=" + t.substr(0, 32));
  }
  if (const Tag* h = find(tags, "h")) {
    k.sha256_allowed = false;
    for (const std::string& a : split_colon(h->value))
      if (iequals(a, "sha256")) k.sha256_allowed = true;
  }
  if (const Tag* s = find(tags, "s")) {
    k.email_service = false;
    for (const std::string& a : split_colon(s->value))
      if (a == "*" || iequals(a, "email")) k.email_service = true;
  }
  if (const Tag* t = find(tags, "t")) {
    for (const std::string& f : split_colon(t->value)) {
      if (iequals(f, "y")) k.testing = true;
      if (iequals(f, "s")) k.strict_identity = true;
    }
  }
  const Tag* p = find(tags, "p");
  if (!p) return err(errc::missing_tag, "key record has no p=");
  const std::string p_text = strip_fws(p->value);
  if (p_text.empty()) {
    k.revoked = true;  // RFC 6376 3.6.1: an empty p= means the key was revoked
    return k;
  }
  auto der = decode_b64(p_text);
  if (!der || der->empty()) return err(errc::bad_key, "key record p= is not base64");
  k.public_key = std::move(*der);
  return k;
}

}  // namespace refmail::trust::dkim
