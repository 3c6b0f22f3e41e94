// mime/composer.cpp — draft -> Skeleton (RFC 5322 3.6 header fields, RFC 2045 / 2046
// structure, RFC 2047 / 2231 encodings). Attachment bodies are SkeletonBuilder cuts
// (base64, 76 columns, CRLF): the composer never touches attachment bytes.
// Boundaries start with "=_", which neither base64 nor quoted-printable output can
// contain, are all the same length (so none is a prefix of another, RFC 2046 5.1.1),
// and are checked against every literal body. A caller-given tree (DraftPart, JMAP's
// bodyStructure) is checked whole (check_draft_part: shape, bounds, field names and raw
// values) before anything is built; Content-Transfer-Encoding is always ours.
// SECURITY: every user-supplied header value goes through an encoder or a validator
// that rejects CR, LF and other controls; nothing is pasted raw.
#include "mime/composer.hpp"

#include <algorithm>
#include <cstdio>
#include <initializer_list>

#include "mime/blob_io.hpp"
#include "mime/charset.hpp"
#include "mime/codec.hpp"
#include "mime/errc.hpp"
#include "mime/headers.hpp"
#include "mime/rfc2047.hpp"
#include "mime/rfc2231.hpp"

namespace refmail::mime {
namespace {

constexpr std::size_t kMaxIdBytes = 900;

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

bool valid_blob_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxBlobIdBytes) return false;
  for (char c : id)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '-'))
      return false;
  return true;
}

// An addr-spec or msg-id we are willing to write: printable, no specials that would
// break the field, bounded. UTF-8 allowed (RFC 6532).
bool valid_token_text(std::string_view s, bool allow_quote_space) {
  if (s.empty() || s.size() > kMaxIdBytes) return false;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) return false;
    if (c == '<' || c == '>') return false;
    if (!allow_quote_space && (c == ' ' || c == ',' || c == ';')) return false;
  }
  return is_valid_utf8(s);
}

bool valid_addresses(const std::vector<Address>& v) {
  for (const Address& a : v) {
    // A quoted local part may hold spaces: "john doe"@example.com.
    if (!valid_token_text(a.email, a.email.find('"') != std::string::npos)) return false;
    if (a.email.size() > 254) return false;  // RFC 5321 4.5.3.1.3: path <= 256 with <>
    if (a.name.size() > kMaxIdBytes) return false;
  }
  return true;
}

bool valid_media_type(std::string_view t) {
  const auto slash = t.find('/');
  if (slash == std::string_view::npos) return false;
  return is_mime_token(t.substr(0, slash)) && is_mime_token(t.substr(slash + 1)) &&
         t.size() <= 200;
}

std::string media_type(std::string_view t) {
  std::string out(t);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return valid_media_type(out) ? out : std::string("application/octet-stream");
}

// "Name: value\r\n" for a value that may need folding between addresses.
std::string address_field(std::string_view name, const std::vector<Address>& list) {
  return std::string(name) + ": " + format_address_list(list, name.size() + 2) + "\r\n";
}

std::string id_list_field(std::string_view name, const std::vector<std::string>& ids) {
  std::string v;
  for (const auto& id : ids) {
    if (!v.empty()) v += ' ';
    v += "<" + id + ">";
  }
  return std::string(name) + ": " + fold_header(v, name.size() + 2) + "\r\n";
}

// A field with parameters: value, then each parameter on its own folded line.
std::string param_field(std::string_view name, std::string_view value,
                        const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out = std::string(name) + ": " + std::string(value);
  for (const auto& [pn, pv] : params)
    for (const std::string& seg : encode_parameter(pn, pv)) out += ";\r\n " + seg;
  return out + "\r\n";
}

// Normalises line endings to CRLF (a lone CR or LF becomes CRLF).
std::string to_crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 32);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out += "\r\n";
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else if (s[i] == '\n') {
      out += "\r\n";
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct Node {
  std::string headers;            // complete fields, each ending in CRLF (a multipart's
                                  // Content-Type stays open until its boundary is added)
  std::string extra;              // fields written after `headers` (caller's fields)
  std::string body;               // literal body (leaf without cut)
  std::optional<Cut> cut;         // leaf whose body is a blob
  std::string boundary;           // multipart
  std::vector<Node> children;
  bool is_multipart = false;
  std::string cte;                // text leaves: 7bit, quoted-printable or base64
  std::string source;             // text leaves: the CRLF text that was encoded
  std::string content_type;       // text leaves: the complete Content-Type field
};

// A text leaf: UTF-8, CRLF; 7bit when ASCII with short lines, else quoted-printable
// when mostly ASCII, else base64 (RFC 2045 6). `content_type` is the complete field.
Node text_leaf_with(std::string content_type, std::string_view text_in) {
  const std::string text = to_crlf(is_valid_utf8(text_in) ? std::string(text_in)
                                                          : sanitize_utf8(text_in));
  std::size_t non_ascii = 0, longest = 0, line = 0;
  bool controls = false;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) ++non_ascii;
    if (c == 0 || (c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7F) controls = true;
    if (ch == '\n') {
      line = 0;
    } else {
      longest = std::max(longest, ++line);
    }
  }
  Node n;
  std::string cte;
  if (non_ascii == 0 && !controls && longest <= 78) {
    cte = "7bit";
    n.body = text;
  } else if (non_ascii * 3 <= text.size()) {
    cte = "quoted-printable";
    n.body = qp_encode(text, QpParams{LineEnding::Crlf, 76});
  } else {
    cte = "base64";
    n.body = base64_encode(text, Base64Params{76, LineEnding::Crlf, false});
  }
  n.headers = content_type + "Content-Transfer-Encoding: " + cte + "\r\n";
  n.cte = std::move(cte);
  n.source = text;
  n.content_type = std::move(content_type);
  return n;
}

Node text_leaf(std::string_view subtype, std::string_view text) {
  return text_leaf_with("Content-Type: text/" + std::string(subtype) + "; charset=utf-8\r\n", text);
}

// A single-part message ends with the message's final CRLF, which would become part of
// the text. Make it transparent: base64 ignores it; quoted-printable ends with a soft
// line break ("=" CRLF, RFC 2045 6.7 rule 5); 7bit text becomes quoted-printable.
void end_top_level_leaf(Node& n) {
  if (n.cut || n.body.ends_with("\r\n")) return;
  if (n.cte == "7bit") {
    const std::string source = n.source;
    n.body = qp_encode(source, QpParams{LineEnding::Crlf, 76});
    n.cte = "quoted-printable";
    n.headers = n.content_type + "Content-Transfer-Encoding: quoted-printable\r\n";
    if (n.body.ends_with("\r\n")) return;
  }
  n.body += n.cte == "quoted-printable" ? "=\r\n" : "\r\n";
}

Node blob_leaf(std::string_view type, std::string_view disposition, std::string_view name,
               std::string_view cid, std::string_view blob_id, std::uint64_t size) {
  Node n;
  std::vector<std::pair<std::string, std::string>> ct_params, cd_params;
  if (!name.empty()) {
    ct_params.emplace_back("name", std::string(name));  // for old readers
    cd_params.emplace_back("filename", std::string(name));
  }
  n.headers = param_field("Content-Type", media_type(type), ct_params);
  n.headers += param_field("Content-Disposition", disposition, cd_params);
  if (!cid.empty()) n.headers += "Content-ID: <" + std::string(cid) + ">\r\n";
  n.headers += "Content-Transfer-Encoding: base64\r\n";
  Cut c;
  c.blob_id = std::string(blob_id);
  c.encoding = CutEncoding::Base64;
  c.line_length = 76;
  c.line_ending = LineEnding::Crlf;
  c.last_line_ending = false;  // the CRLF before the delimiter belongs to the delimiter
  c.decoded_size = size;
  n.cut = std::move(c);
  return n;
}

Node multipart(std::string_view subtype, std::vector<Node> children) {
  Node n;
  n.is_multipart = true;
  n.headers = "Content-Type: multipart/" + std::string(subtype);  // boundary added later
  n.children = std::move(children);
  return n;
}

// ---- caller-given body trees (RFC 8621 4.6 bodyStructure)

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool listed(std::string_view name, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names)
    if (ascii_iequals(name, n)) return true;
  return false;
}

// RFC 5322 2.2: field-name = 1*ftext (printable US-ASCII except ':').
bool valid_field_name(std::string_view n) {
  if (n.empty() || n.size() > 76) return false;
  for (char ch : n) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 33 || c > 126 || c == ':') return false;
  }
  return true;
}

// A raw field body as the caller gives it (what follows the colon): UTF-8 (RFC 6532), no
// controls but TAB, CR/LF only as a fold (CRLF + WSP), no whitespace-only line (it would
// end the header block for some readers), lines <= 998 octets with the name.
bool valid_raw_value(std::string_view name, std::string_view v) {
  if (v.size() > 16 * 1024 || !is_valid_utf8(v)) return false;
  std::size_t line = name.size() + 1;
  bool line_has_text = true;  // the first line holds the name
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c == '\r') {
      if (i + 2 >= v.size() || v[i + 1] != '\n' || (v[i + 2] != ' ' && v[i + 2] != '\t'))
        return false;
      if (!line_has_text) return false;
      ++i;
      line = 0;
      line_has_text = false;
      continue;
    }
    if (c == '\n' || c == 0x7F || (c < 0x20 && c != '\t')) return false;
    if (c != ' ' && c != '\t') line_has_text = true;
    if (++line > 998) return false;
  }
  return line_has_text;
}

bool valid_location(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdBytes) return false;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 33 || c > 126) return false;
  }
  return true;
}

bool valid_language_tag(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return false;
  return true;
}

std::string check_node(const DraftPart& p, const std::string& where, std::size_t depth,
                       std::size_t& count) {
  if (++count > kMaxDraftParts)
    return "more than " + std::to_string(kMaxDraftParts) + " body parts";
  if (depth > kMaxDraftPartDepth)
    return where + ": nested deeper than " + std::to_string(kMaxDraftPartDepth) + " levels";
  if (!valid_media_type(p.type) || p.type != media_type(p.type))
    return where + ": type must be a lower-case media type";
  const bool multi = p.type.starts_with("multipart/");
  if (multi) {
    if (p.sub_parts.empty()) return where + ": a multipart/* part needs subParts";
    if (p.text || p.literal || !p.blob_id.empty())
      return where + ": a multipart/* part has no partId or blobId";
    if (!p.charset.empty() || !p.name.empty())
      return where + ": a multipart/* part has no charset or name";
  } else {
    if (!p.sub_parts.empty()) return where + ": only multipart/* parts have subParts";
    const int sources = (p.text ? 1 : 0) + (p.literal ? 1 : 0) + (p.blob_id.empty() ? 0 : 1);
    if (sources != 1) return where + ": a leaf needs exactly one of partId and blobId";
    if (p.text && !p.type.starts_with("text/"))
      return where + ": a part given by partId must be text/*";
    if (p.text && !p.charset.empty())
      return where + ": charset must be omitted for a part given by partId (utf-8 is written)";
    if (!p.literal && !p.blob_id.empty() && !valid_blob_id(p.blob_id))
      return where + ": invalid blobId";
    if (!p.charset.empty() && (!is_mime_token(p.charset) || p.charset.size() > 64))
      return where + ": invalid charset";
  }
  if (!p.disposition.empty() && (!is_mime_token(p.disposition) || p.disposition.size() > 64))
    return where + ": invalid disposition";
  if (p.name.size() > 1024 || !is_valid_utf8(p.name) ||
      std::any_of(p.name.begin(), p.name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    return where + ": invalid name";
  if (!p.cid.empty() && !valid_token_text(p.cid, false)) return where + ": invalid cid";
  if (p.language.size() > 16) return where + ": too many languages";
  for (const auto& l : p.language)
    if (!valid_language_tag(l)) return where + ": invalid language";
  if (!p.location.empty() && !valid_location(p.location)) return where + ": invalid location";
  if (p.headers.size() > 100) return where + ": too many header fields";
  for (std::size_t i = 0; i < p.headers.size(); ++i) {
    const auto& [name, value] = p.headers[i];
    if (!valid_field_name(name)) return where + ": invalid header field name";
    if (listed(name, {"content-type", "content-disposition", "content-id", "content-language",
                      "content-location"}))
      return where + ": " + name + " is given by the part's properties, not as a header";
    if (listed(name, {"content-transfer-encoding"}))
      return where + ": Content-Transfer-Encoding is chosen by the server";
    // RFC 8621 4.6: not a field the Email itself defines (the root's fields are the
    // message's).
    if (depth == 0 && listed(name, {"date", "from", "sender", "reply-to", "to", "cc", "bcc",
                                     "subject", "message-id", "in-reply-to", "references",
                                     "mime-version"}))
      return where + ": " + name + " is a property of the Email, not of its bodyStructure";
    if (!valid_raw_value(name, value)) return where + ": invalid value for header " + name;
    for (std::size_t k = 0; k < i; ++k)
      if (ascii_iequals(p.headers[k].first, name))
        return where + ": header " + name + " given twice";
  }
  for (std::size_t i = 0; i < p.sub_parts.size(); ++i) {
    std::string e = check_node(p.sub_parts[i], where + "/subParts/" + std::to_string(i),
                               depth + 1, count);
    if (!e.empty()) return e;
  }
  return {};
}

// REQUIRES: check_draft_part(p) == "".
Node part_node(const DraftPart& p) {
  std::string extra;
  if (!p.disposition.empty()) {
    std::vector<std::pair<std::string, std::string>> cd;
    if (!p.name.empty()) cd.emplace_back("filename", p.name);
    extra += param_field("Content-Disposition", p.disposition, cd);
  }
  if (!p.cid.empty()) extra += "Content-ID: <" + p.cid + ">\r\n";
  if (!p.language.empty()) {
    std::string v;
    for (const auto& l : p.language) v += (v.empty() ? "" : ", ") + l;
    extra += "Content-Language: " + v + "\r\n";
  }
  if (!p.location.empty()) extra += "Content-Location: " + p.location + "\r\n";
  for (const auto& [name, value] : p.headers) extra += name + ":" + value + "\r\n";

  Node n;
  if (p.type.starts_with("multipart/")) {
    std::vector<Node> children;
    for (const DraftPart& c : p.sub_parts) children.push_back(part_node(c));
    const std::string subtype = p.type.substr(10);
    n = multipart(subtype, std::move(children));
    // RFC 2387 3.1: the type parameter of multipart/related is the root's type.
    if (subtype == "related") n.headers += ";\r\n type=\"" + p.sub_parts.front().type + "\"";
  } else {
    std::vector<std::pair<std::string, std::string>> ct;
    if (p.text) ct.emplace_back("charset", "utf-8");
    else if (!p.charset.empty()) ct.emplace_back("charset", p.charset);
    if (!p.name.empty()) ct.emplace_back("name", p.name);  // for old readers
    const std::string content_type = param_field("Content-Type", p.type, ct);
    if (p.text) {
      n = text_leaf_with(content_type, *p.text);
    } else {
      n.headers = content_type + "Content-Transfer-Encoding: base64\r\n";
      if (p.literal) {
        n.body = base64_encode(*p.literal, Base64Params{76, LineEnding::Crlf, false});
      } else {
        Cut c;
        c.blob_id = p.blob_id;
        c.encoding = CutEncoding::Base64;
        c.line_length = 76;
        c.line_ending = LineEnding::Crlf;
        c.last_line_ending = false;  // the CRLF before the delimiter belongs to the delimiter
        c.decoded_size = p.size;
        n.cut = std::move(c);
      }
    }
  }
  n.extra = std::move(extra);
  return n;
}

class Emitter {
 public:
  explicit Emitter(std::uint64_t seed) : state_(seed ^ 0xA5A5A5A55A5A5A5AULL) {}

  // Assigns boundaries (unique, absent from every literal body) depth first.
  void assign_boundaries(Node& n, const std::vector<const std::string*>& bodies) {
    if (!n.is_multipart) return;
    for (;;) {
      std::string b = "=_rm_" + hex64(splitmix64(state_)) + hex64(splitmix64(state_));
      bool clash = false;
      const std::string delim = "--" + b;
      for (const std::string* body : bodies)
        if (body->find(delim) != std::string::npos) clash = true;
      if (!clash) {
        n.boundary = std::move(b);
        break;
      }
    }
    n.headers += ";\r\n boundary=\"" + n.boundary + "\"\r\n";
    for (Node& c : n.children) assign_boundaries(c, bodies);
  }

  static void collect_bodies(const Node& n, std::vector<const std::string*>& out) {
    out.push_back(&n.body);
    for (const Node& c : n.children) collect_bodies(c, out);
  }

  // Writes `n` (headers, blank line, body) at `path` (scanner.hpp's part paths).
  void emit(Node& n, const std::string& path, SkeletonBuilder& b) {
    b.append_literal(n.headers);
    b.append_literal(n.extra);
    b.append_literal("\r\n");
    if (!n.boundary.empty()) {
      for (std::size_t i = 0; i < n.children.size(); ++i) {
        b.append_literal(std::string(i == 0 ? "" : "\r\n") + "--" + n.boundary + "\r\n");
        const std::string child = path.empty() ? std::to_string(i + 1)
                                               : path + "." + std::to_string(i + 1);
        emit(n.children[i], child, b);
      }
      b.append_literal("\r\n--" + n.boundary + "--");
    } else if (n.cut) {
      n.cut->part_path = path;
      b.append_cut(std::move(*n.cut));
    } else {
      b.append_literal(n.body);
    }
  }

 private:
  std::uint64_t state_;
};

// The classic shape: text and/or HTML (alternative), cid images with the HTML (related),
// attachments after them (mixed).
Node default_body(const Draft& d) {
  // ---- body structure (RFC 2046 5.1.3 mixed, 5.1.4 alternative, RFC 2387 related)
  std::optional<Node> text, html;
  if (d.text_body) text = text_leaf("plain", *d.text_body);
  if (d.html_body) html = text_leaf("html", *d.html_body);
  std::vector<Node> inline_parts;
  for (const auto& img : d.inline_images) {
    std::string cid = img.cid;
    inline_parts.push_back(blob_leaf(img.type, "inline", img.name, cid, img.blob_id, img.size));
  }
  std::optional<Node> html_block;
  if (html) {
    if (!inline_parts.empty()) {
      std::vector<Node> rel;
      rel.push_back(std::move(*html));
      for (Node& p : inline_parts) rel.push_back(std::move(p));
      inline_parts.clear();
      Node r = multipart("related", std::move(rel));
      // RFC 2387 3.1: type parameter = the root's type.
      r.headers += ";\r\n type=\"text/html\"";
      html_block = std::move(r);
    } else {
      html_block = std::move(html);
    }
  }
  Node body;
  if (text && html_block) {
    std::vector<Node> alt;
    alt.push_back(std::move(*text));
    alt.push_back(std::move(*html_block));
    body = multipart("alternative", std::move(alt));
  } else if (html_block) {
    body = std::move(*html_block);
  } else if (text) {
    body = std::move(*text);
  } else {
    body = text_leaf("plain", "");
  }
  std::vector<Node> mixed_tail = std::move(inline_parts);  // cid images without HTML
  for (const auto& a : d.attachments) {
    Node n = blob_leaf(a.type, "attachment", a.name, {}, a.blob_id, a.size);
    if (a.literal) {  // same headers; the body is in the skeleton instead of a cut
      n.cut.reset();
      n.body = base64_encode(*a.literal, Base64Params{76, LineEnding::Crlf, false});
    }
    mixed_tail.push_back(std::move(n));
  }
  Node root;
  if (!mixed_tail.empty()) {
    std::vector<Node> mixed;
    mixed.push_back(std::move(body));
    for (Node& n : mixed_tail) mixed.push_back(std::move(n));
    root = multipart("mixed", std::move(mixed));
  } else {
    root = std::move(body);
  }
  return root;
}

}  // namespace

std::string check_draft_part(const DraftPart& root) {
  std::size_t count = 0;
  return check_node(root, "bodyStructure", 0, count);
}

boost::system::result<Composed> compose(const Draft& d) {
  if (d.from.empty() || d.sender.size() > 1) return errc::bad_argument;
  for (const auto* list : {&d.from, &d.sender, &d.reply_to, &d.to, &d.cc, &d.bcc})
    if (!valid_addresses(*list)) return errc::bad_argument;
  for (const auto* ids : {&d.in_reply_to, &d.references})
    for (const std::string& id : *ids)
      if (!valid_token_text(id, false)) return errc::bad_argument;
  for (const auto& img : d.inline_images)
    if (!valid_blob_id(img.blob_id) || (!img.cid.empty() && !valid_token_text(img.cid, false)))
      return errc::bad_argument;
  for (const auto& a : d.attachments)
    if (!a.literal && !valid_blob_id(a.blob_id)) return errc::bad_argument;
  if (d.body && (d.text_body || d.html_body || !d.inline_images.empty() || !d.attachments.empty() ||
                 !check_draft_part(*d.body).empty()))
    return errc::bad_argument;

  std::uint64_t seed = d.random_seed;
  Composed out;
  if (!d.message_id.empty()) {
    if (!valid_token_text(d.message_id, false)) return errc::bad_argument;
    out.message_id = d.message_id;
  } else {
    // RFC 5322 3.6.4: unique left side from the caller's randomness and the date.
    std::string host = d.host.empty() ? std::string("localhost") : d.host;
    if (!valid_token_text(host, false) || host.find('@') != std::string::npos)
      host = "localhost";
    std::uint64_t s = seed;
    out.message_id = hex64(splitmix64(s)) + hex64(splitmix64(s)) + "." +
                     std::to_string(d.date) + "@" + host;
  }

  Node root;
  if (d.body) {
    root = part_node(*d.body);
  } else {
    root = default_body(d);
  }

  // ---- top-level header fields (RFC 5322 3.6), Bcc deliberately absent (3.6.3: the
  // envelope carries it).
  std::string h;
  h += "Date: " + format_rfc5322_date(d.date) + "\r\n";
  h += address_field("From", d.from);
  if (!d.sender.empty()) h += address_field("Sender", d.sender);
  if (!d.reply_to.empty()) h += address_field("Reply-To", d.reply_to);
  if (!d.to.empty()) h += address_field("To", d.to);
  if (!d.cc.empty()) h += address_field("Cc", d.cc);
  h += "Subject: " + encode_rfc2047(d.subject, EncodeContext::Text, 9) + "\r\n";
  h += "Message-ID: <" + out.message_id + ">\r\n";
  if (!d.in_reply_to.empty()) h += id_list_field("In-Reply-To", d.in_reply_to);
  if (!d.references.empty()) h += id_list_field("References", d.references);
  h += "MIME-Version: 1.0\r\n";

  if (!root.is_multipart && !root.cut) end_top_level_leaf(root);
  // A single blob leaf is the whole body: its cut ends with the message's final CRLF.
  if (root.cut) root.cut->last_line_ending = true;

  Emitter em(seed);
  std::vector<const std::string*> bodies;
  Emitter::collect_bodies(root, bodies);
  em.assign_boundaries(root, bodies);
  root.headers = h + root.headers;

  SkeletonBuilder b;
  const bool top_multipart = !root.boundary.empty();
  em.emit(root, top_multipart ? std::string() : std::string("1"), b);
  // A message ends with a line ending (RFC 5322 2.1: lines are CRLF-terminated); a
  // single text part already does (end_top_level_leaf).
  if (top_multipart) b.append_literal("\r\n");
  out.skeleton = b.finish();
  return out;
}

}  // namespace refmail::mime
