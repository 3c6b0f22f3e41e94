// mime/summary.cpp — builds the reading view of a message from H1's scanner
// (scanner.hpp) and codecs (codec.hpp): header decoding, the RFC 8621 4.1.4 body
// selection (ported faithfully from the RFC's reference algorithm), bounded text
// decoding, preview, attachments; plus the Summary's binary serialization.
// SECURITY: untrusted input; recursion is bounded by the scanner's max_depth; body
// decoding streams (bounded memory) and keeps at most the configured bytes.
#include "mime/summary.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <optional>

#include "mime/charset.hpp"
#include "mime/codec.hpp"
#include "mime/errc.hpp"
#include "mime/headers.hpp"
#include "mime/rfc2047.hpp"
#include "mime/rfc2231.hpp"
#include "mime/scanner.hpp"

namespace refmail::mime {
namespace {

constexpr std::size_t kDecodeChunk = 64 * 1024;

bool is_inline_media_type(std::string_view type) {
  return type.starts_with("image/") || type.starts_with("audio/") ||
         type.starts_with("video/");
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

// Decoded bytes of an encoded body: the first `keep` bytes, and the total size.
struct Decoded {
  std::string bytes;
  std::uint64_t size = 0;
  bool truncated = false;
};

Decoded decode_body(std::string_view encoded, TransferEncoding enc, std::size_t keep) {
  Decoded d;
  auto take = [&](std::string& chunk) {
    d.size += chunk.size();
    if (d.bytes.size() < keep) {
      const std::size_t room = keep - d.bytes.size();
      d.bytes.append(chunk, 0, std::min(room, chunk.size()));
    }
    chunk.clear();
  };
  std::string out;
  if (enc == TransferEncoding::Base64) {
    Base64Decoder dec;
    for (std::size_t i = 0; i < encoded.size(); i += kDecodeChunk) {
      dec.update(encoded.substr(i, kDecodeChunk), out);
      take(out);
    }
    dec.finish(out);
    take(out);
  } else if (enc == TransferEncoding::QuotedPrintable) {
    QpDecoder dec;
    for (std::size_t i = 0; i < encoded.size(); i += kDecodeChunk) {
      dec.update(encoded.substr(i, kDecodeChunk), out);
      take(out);
    }
    dec.finish(out);
    take(out);
  } else {
    d.size = encoded.size();
    d.bytes.assign(encoded.substr(0, std::min(keep, encoded.size())));
  }
  d.truncated = d.size > d.bytes.size();
  return d;
}

// CRLF and lone CR -> LF (the reading view's line ending).
std::string normalize_newlines(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else if (s[i] != '\0') {
      out.push_back(s[i]);
    }
  }
  return out;
}

// HTML without a charset parameter: the <meta charset=...> or <meta http-equiv
// content="...; charset=..."> in the first 2 KiB (the HTML spec's prescan, simplified).
std::string sniff_html_charset(std::string_view html) {
  const std::string head = to_lower(html.substr(0, 2048));
  std::size_t pos = 0;
  while ((pos = head.find("<meta", pos)) != std::string::npos) {
    const std::size_t end = head.find('>', pos);
    const std::string_view tag =
        std::string_view(head).substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos += 5;
    const auto c = tag.find("charset");
    if (c == std::string_view::npos) continue;
    std::size_t k = c + 7;
    while (k < tag.size() && (tag[k] == ' ' || tag[k] == '=' || tag[k] == '"' || tag[k] == '\''))
      ++k;
    std::string cs;
    while (k < tag.size() && cs.size() < 40 &&
           ((tag[k] >= 'a' && tag[k] <= 'z') || (tag[k] >= '0' && tag[k] <= '9') ||
            tag[k] == '-' || tag[k] == '_' || tag[k] == ':' || tag[k] == '.'))
      cs.push_back(tag[k++]);
    if (!cs.empty()) return cs;
  }
  return {};
}

class Builder {
 public:
  Builder(std::string_view message, const Skeleton& skel, const SummaryLimits& limits,
          BlobSource* cut_bytes = nullptr)
      : message_(message), skel_(skel), limits_(limits), cut_bytes_(cut_bytes),
        parts_(scan_message(message, limits.limits)) {
    infos_.resize(parts_.size());
  }

  Summary run() {
    Summary s;
    if (parts_.empty()) return s;
    headers(parts_[0], s);
    // RFC 8621 4.1.4: parseStructure([message], 'mixed', false, htmlBody, textBody, attachments)
    std::vector<std::size_t> text, html, att;
    parse_structure({0}, "mixed", false, &html, &text, att, 0);
    for (std::size_t i : text) push(s.text_body, i, true);
    for (std::size_t i : html) push(s.html_body, i, true);
    for (std::size_t i : att) push(s.attachments, i, false);
    s.preview = preview(s);
    for (const PartSummary& a : s.attachments)
      if (a.disposition == "attachment" || a.cid.empty()) s.has_attachment = true;
    s.size = (skel_.bytes.empty() && skel_.cuts.empty()) ? message_.size() : skel_.joined_size();
    return s;
  }

 private:
  // Per-part facts the structure walk needs, computed lazily once.
  struct Info {
    bool ready = false;
    std::string type;  // effective type/subtype
    std::string name;
    std::string disposition;  // "inline", "attachment" (RFC 2183: unknown -> attachment), ""
    bool undecodable = false;
  };

  const Info& info(std::size_t i) {
    Info& in = infos_[i];
    if (in.ready) return in;
    in.ready = true;
    const Part& p = parts_[i];
    in.type = p.type + "/" + p.subtype;
    in.disposition = p.disposition == "inline" || p.disposition.empty() ? p.disposition
                                                                        : std::string("attachment");
    if (const HeaderField* cd = p.field("content-disposition")) {
      auto f = parse_parameterized_field(cd->raw_value);
      if (auto n = f.param("filename")) in.name = *n;
    }
    if (in.name.empty()) {
      if (const HeaderField* ct = p.field("content-type")) {
        auto f = parse_parameterized_field(ct->raw_value);
        if (auto n = f.param("name")) in.name = *n;
      }
    }
    in.name = std::string(truncate_utf8(in.name, 1024));
    // An entity we cannot decode or did not parse is opaque bytes to the reader.
    if (p.encoding == TransferEncoding::Unknown ||
        (p.type == "multipart" && !p.is_multipart) || (p.limited && !p.is_multipart && !p.is_message)) {
      in.type = "application/octet-stream";
      in.undecodable = true;
    }
    return in;
  }

  bool is_multipart(std::size_t i) const { return parts_[i].is_multipart; }

  // RFC 2387 3.1/3.2: the root of a multipart/related is the part named by "start"
  // (a Content-ID), else the first part. RFC 8621's algorithm only looks at the first
  // part, so we move the root there; and when there is no "start" but the "type"
  // parameter names a type the first part does not have (MHTML writers put images
  // first), the first part of that type is taken as the root.
  std::vector<std::size_t> related_root_first(const Part& rel) {
    std::vector<std::size_t> kids = rel.children;
    if (kids.size() < 2) return kids;
    std::ptrdiff_t root = -1;
    if (const std::string* start = rel.type_param("start")) {
      std::string_view want = trim(*start);
      if (want.size() >= 2 && want.front() == '<' && want.back() == '>')
        want = want.substr(1, want.size() - 2);
      for (std::size_t k = 0; k < kids.size() && root < 0; ++k) {
        const HeaderField* f = parts_[kids[k]].field("content-id");
        if (!f) continue;
        std::string_view v = trim(f->value);
        if (v.size() >= 2 && v.front() == '<' && v.back() == '>') v = v.substr(1, v.size() - 2);
        if (trim(v) == want) root = static_cast<std::ptrdiff_t>(k);
      }
    } else if (const std::string* type = rel.type_param("type")) {
      const std::string want = to_lower(trim(*type));
      auto type_of = [&](std::size_t idx) {
        return parts_[idx].type + "/" + parts_[idx].subtype;
      };
      if (type_of(kids[0]) != want)
        for (std::size_t k = 1; k < kids.size() && root < 0; ++k)
          if (type_of(kids[k]) == want) root = static_cast<std::ptrdiff_t>(k);
    }
    if (root > 0) {
      const std::size_t r = kids[static_cast<std::size_t>(root)];
      kids.erase(kids.begin() + root);
      kids.insert(kids.begin(), r);
    }
    return kids;
  }

  // RFC 8621 4.1.4 parseStructure, ported line by line. text_body/html_body are the
  // RFC's nullable arrays (nullptr = null); nulling them is local to this call.
  void parse_structure(const std::vector<std::size_t>& list, std::string_view multipart_type,
                       bool in_alternative, std::vector<std::size_t>* html_body,
                       std::vector<std::size_t>* text_body, std::vector<std::size_t>& attachments,
                       std::size_t depth) {
    const std::ptrdiff_t text_length = text_body ? static_cast<std::ptrdiff_t>(text_body->size()) : -1;
    const std::ptrdiff_t html_length = html_body ? static_cast<std::ptrdiff_t>(html_body->size()) : -1;
    for (std::size_t k = 0; k < list.size(); ++k) {
      const std::size_t idx = list[k];
      const Part& part = parts_[idx];
      const Info& in = info(idx);
      const bool multipart = is_multipart(idx);
      // Is this a body part rather than an attachment?
      const bool is_inline =
          in.disposition != "attachment" &&
          // Must be one of the allowed body types
          (in.type == "text/plain" || in.type == "text/html" || is_inline_media_type(in.type)) &&
          // If multipart/related, only the first part can be inline. If a text part
          // with a filename, and not the first item in the multipart, assume it is an
          // attachment.
          (k == 0 || (multipart_type != "related" &&
                      (is_inline_media_type(in.type) || in.name.empty())));
      if (multipart) {
        if (depth >= limits_.limits.max_depth + 1) continue;
        const std::string& sub = part.subtype;
        const std::vector<std::size_t> children =
            sub == "related" ? related_root_first(part) : part.children;
        parse_structure(children, sub, in_alternative || sub == "alternative", html_body,
                        text_body, attachments, depth + 1);
      } else if (is_inline) {
        if (multipart_type == "alternative") {
          if (in.type == "text/plain") {
            if (text_body) text_body->push_back(idx);
          } else if (in.type == "text/html") {
            if (html_body) html_body->push_back(idx);
          } else {
            attachments.push_back(idx);
          }
          continue;
        } else if (in_alternative) {
          if (in.type == "text/plain") html_body = nullptr;
          if (in.type == "text/html") text_body = nullptr;
        }
        if (text_body) text_body->push_back(idx);
        if (html_body) html_body->push_back(idx);
        if ((!text_body || !html_body) && is_inline_media_type(in.type))
          attachments.push_back(idx);
      } else {
        attachments.push_back(idx);
      }
    }
    if (multipart_type == "alternative" && text_body && html_body) {
      // Found HTML part only
      if (text_length == static_cast<std::ptrdiff_t>(text_body->size()) &&
          html_length != static_cast<std::ptrdiff_t>(html_body->size())) {
        for (auto i = static_cast<std::size_t>(html_length); i < html_body->size(); ++i)
          text_body->push_back((*html_body)[i]);
      }
      // Found plaintext part only
      if (html_length == static_cast<std::ptrdiff_t>(html_body->size()) &&
          text_length != static_cast<std::ptrdiff_t>(text_body->size())) {
        for (auto i = static_cast<std::size_t>(text_length); i < text_body->size(); ++i)
          html_body->push_back((*text_body)[i]);
      }
    }
  }

  PartSummary describe(std::size_t i, bool with_content) {
    const Part& p = parts_[i];
    const Info& in = info(i);
    PartSummary ps;
    ps.part_path = p.path;
    ps.type = in.type;
    ps.name = in.name;
    ps.disposition = in.disposition;
    if (const std::string* cs = p.type_param("charset"))
      ps.charset = normalize_charset(*cs);
    if (const HeaderField* f = p.field("content-id")) {
      std::string_view v = trim(f->value);
      if (v.size() >= 2 && v.front() == '<' && v.back() == '>') v = v.substr(1, v.size() - 2);
      ps.cid = std::string(truncate_utf8(trim(v), 998));
    }
    if (const HeaderField* f = p.field("content-language"))
      ps.language = std::string(truncate_utf8(trim(f->value), 256));
    if (const HeaderField* f = p.field("content-location"))
      ps.location = std::string(truncate_utf8(trim(f->value), 2048));

    const Cut* cut = p.path.empty() ? nullptr : skel_.cut_for_part(p.path);
    const std::string_view body =
        p.body.end <= message_.size() && p.body.begin <= p.body.end
            ? message_.substr(p.body.begin, p.body.end - p.body.begin)
            : std::string_view();
    const bool text = with_content && p.type == "text" && !in.undecodable;
    std::size_t keep = 0;
    if (text) keep = std::min(limits_.max_body_bytes, body_budget_);
    if (cut) {
      ps.blob_id = cut->blob_id;
      ps.size = cut->decoded_size;
    }
    std::optional<Decoded> d;
    if (cut && from_skeleton()) {
      if (text) d = read_cut(*cut, keep);  // the body's text is in the blob
    } else if (!cut || (text && !body.empty())) {
      d = in.undecodable ? Decoded{std::string(), body.size(), body.size() > 0}
                         : decode_body(body, p.encoding, keep);
      if (!cut && from_skeleton()) add_inner_cuts(p, keep, *d);
      if (!cut) ps.size = d->size;
    } else if (text) {
      ps.truncated = ps.size > 0;  // content only in the blob
    }
    if (d && text) {
      std::string charset = ps.charset;
      if (charset.empty() && in.type == "text/html") charset = sniff_html_charset(d->bytes);
      std::string utf8 = normalize_newlines(to_utf8(d->bytes, charset));
      const std::string_view cut_text = truncate_utf8(utf8, keep);
      ps.truncated = d->truncated || cut_text.size() < utf8.size();
      utf8.resize(cut_text.size());
      ps.content = std::move(utf8);
      body_budget_ -= std::min(body_budget_, ps.content.size());
    }
    return ps;
  }

  void push(std::vector<PartSummary>& out, std::size_t idx, bool with_content) {
    if (out.size() >= limits_.max_parts) return;
    // A part in both text_body and html_body is decoded once.
    auto it = done_.find(idx);
    if (it != done_.end() && (!with_content || it->second.second)) {
      out.push_back(it->second.first);
      return;
    }
    PartSummary ps = describe(idx, with_content);
    done_.insert_or_assign(idx, std::make_pair(ps, with_content));
    out.push_back(std::move(ps));
  }

  std::string preview(const Summary& s) {
    const std::size_t budget = limits_.max_preview_chars * 4 + 64;
    std::string text;
    auto gather = [&](const std::vector<PartSummary>& parts) {
      for (const PartSummary& p : parts) {
        if (text.size() >= budget * 4) break;
        if (p.type == "text/plain") text += p.content.substr(0, budget * 4);
        else if (p.type == "text/html") text += html_to_text(p.content, budget * 4);
        else continue;
        text += "\n";
      }
    };
    gather(s.text_body);
    if (trim(text).empty()) gather(s.html_body);
    return make_preview(text, limits_.max_preview_chars);
  }

  std::string header_text(const Part& top, std::string_view name) {
    const HeaderField* f = top.field(name);
    if (!f) return {};
    const std::string_view raw = std::string_view(f->raw_value).substr(0, limits_.max_header_bytes * 4);
    return std::string(truncate_utf8(decode_rfc2047(raw), limits_.max_header_bytes));
  }

  std::vector<Address> header_addresses(const Part& top, std::string_view name) {
    const HeaderField* f = top.field(name);
    if (!f) return {};
    return parse_address_list(f->raw_value, limits_.max_addresses);
  }

  std::vector<std::string> header_ids(const Part& top, std::string_view name) {
    const HeaderField* f = top.field(name);
    if (!f) return {};
    return parse_message_ids(f->raw_value, limits_.max_addresses);
  }

  void headers(const Part& top, Summary& s) {
    s.from = header_addresses(top, "from");
    s.sender = header_addresses(top, "sender");
    s.reply_to = header_addresses(top, "reply-to");
    s.to = header_addresses(top, "to");
    s.cc = header_addresses(top, "cc");
    s.bcc = header_addresses(top, "bcc");
    s.subject = header_text(top, "subject");
    // Control characters have no place in a one-line subject.
    for (char& c : s.subject)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
    if (const HeaderField* f = top.field("date")) {
      s.date_raw = std::string(truncate_utf8(sanitize_utf8(trim(f->value)), 1024));
      s.date = parse_rfc5322_date(f->value);
    }
    s.message_id = header_ids(top, "message-id");
    s.in_reply_to = header_ids(top, "in-reply-to");
    s.references = header_ids(top, "references");
  }

  // True when message_ is the skeleton's own bytes (cut bodies are not in it).
  bool from_skeleton() const { return message_.size() != skel_.joined_size(); }

  // The first `keep` decoded bytes of a cut's blob (through cut_bytes_), and its size.
  Decoded read_cut(const Cut& c, std::size_t keep) const {
    Decoded d;
    d.size = c.decoded_size;
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(keep, c.decoded_size));
    if (cut_bytes_ != nullptr && want > 0) {
      d.bytes.resize(want);
      std::size_t got = 0;
      while (got < want) {
        auto n = cut_bytes_->read(c.blob_id, got, std::span<char>(d.bytes.data() + got, want - got));
        if (!n || *n == 0) break;
        got += *n;
      }
      d.bytes.resize(got);
    }
    d.truncated = d.size > d.bytes.size();
    return d;
  }

  // From the skeleton's bytes, a part that is not cut whole may still hold cuts: a
  // partial cut at the start of a leaf's body (its decoded prefix comes before the
  // literal rest), or the cuts of the parts inside a message/rfc822 (their encoded
  // text is part of this body's bytes). `d` is what the literal bytes decoded to.
  void add_inner_cuts(const Part& p, std::size_t keep, Decoded& d) const {
    const bool decoded = p.encoding == TransferEncoding::Base64 || p.encoding == TransferEncoding::QuotedPrintable;
    for (const Cut& c : skel_.cuts) {
      if (c.offset < p.body.begin || c.offset > p.body.end) continue;
      d.size += decoded ? c.decoded_size : c.encoded_size;
      if (c.partial && c.offset == p.body.begin && keep > 0) {  // this leaf's own prefix
        Decoded head = read_cut(c, keep);
        head.bytes.append(d.bytes, 0, keep - std::min(keep, head.bytes.size()));
        d.bytes = std::move(head.bytes);
      }
    }
    d.truncated = d.size > d.bytes.size();
  }

  // Raw bytes of the body of `p` in the joined message: cuts inside it count with
  // their encoded size when `message_` is the skeleton's own bytes.
  std::uint64_t raw_body_size(const Part& p) const {
    std::uint64_t n = p.body.size();
    if (message_.size() == skel_.joined_size()) return n;  // the full message
    for (const Cut& c : skel_.cuts)
      if (c.offset >= p.body.begin && c.offset <= p.body.end) n += c.encoded_size;
    return n;
  }

 public:
  StructurePart structure(bool with_headers) {
    StructurePart root;
    if (parts_.empty()) return root;
    std::size_t nodes = 0;
    fill(root, 0, with_headers, nodes);
    return root;
  }

 private:
  void fill(StructurePart& out, std::size_t idx, bool with_headers, std::size_t& nodes) {
    ++nodes;
    const Part& p = parts_[idx];
    out.is_multipart = p.is_multipart;
    if (p.is_multipart) {
      const Info& in = info(idx);
      out.part.type = in.type;
      out.part.disposition = in.disposition;
      out.part.size = raw_body_size(p);
      if (const HeaderField* f = p.field("content-language"))
        out.part.language = std::string(truncate_utf8(trim(f->value), 256));
      if (const HeaderField* f = p.field("content-location"))
        out.part.location = std::string(truncate_utf8(trim(f->value), 2048));
    } else {
      out.part = describe(idx, false);
      if (p.is_message) out.part.size = raw_body_size(p);
    }
    if (with_headers)
      for (const HeaderField& f : p.fields)
        out.headers.emplace_back(sanitize_utf8(f.name), sanitize_utf8(f.raw_value));
    if (!p.is_multipart) return;
    for (std::size_t c : p.children) {
      if (nodes >= limits_.max_parts) break;
      out.sub_parts.emplace_back();
      fill(out.sub_parts.back(), c, with_headers, nodes);
    }
  }

  std::string_view message_;
  const Skeleton& skel_;
  const SummaryLimits& limits_;
  BlobSource* cut_bytes_ = nullptr;
  std::vector<Part> parts_;
  std::vector<Info> infos_;
  std::size_t body_budget_ = 0;
  std::map<std::size_t, std::pair<PartSummary, bool>> done_;

 public:
  void set_budget(std::size_t b) { body_budget_ = b; }
};

// ---------------------------------------------------------------- serialization

constexpr std::string_view kMagic = "RMSU";
constexpr unsigned char kVersion = 1;

class Writer {
 public:
  void u64(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void str(std::string_view s) {
    u64(s.size());
    out_.append(s);
  }
  void strs(const std::vector<std::string>& v) {
    u64(v.size());
    for (const auto& s : v) str(s);
  }
  void addrs(const std::vector<Address>& v) {
    u64(v.size());
    for (const auto& a : v) {
      str(a.name);
      str(a.email);
    }
  }
  void parts(const std::vector<PartSummary>& v) {
    u64(v.size());
    for (const auto& p : v) {
      str(p.part_path);
      str(p.type);
      str(p.charset);
      str(p.disposition);
      str(p.name);
      str(p.cid);
      str(p.language);
      str(p.location);
      u64(p.size);
      str(p.blob_id);
      str(p.content);
      u64(p.truncated ? 1 : 0);
    }
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return fail();
      const auto b = static_cast<unsigned char>(in_[pos_++]);
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    return fail();
  }
  std::string str() {
    const std::uint64_t n = u64();
    if (!ok_ || n > in_.size() - pos_) {
      fail();
      return {};
    }
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  // A count of elements each taking at least `min_bytes`: validated before allocating.
  std::size_t count(std::size_t min_bytes) {
    const std::uint64_t n = u64();
    if (!ok_ || n > (in_.size() - pos_) / min_bytes) {
      fail();
      return 0;
    }
    return static_cast<std::size_t>(n);
  }
  std::vector<std::string> strs() {
    std::vector<std::string> v(count(1));
    for (auto& s : v) s = str();
    return v;
  }
  std::vector<Address> addrs() {
    std::vector<Address> v(count(2));
    for (auto& a : v) {
      a.name = str();
      a.email = str();
    }
    return v;
  }
  std::vector<PartSummary> parts() {
    std::vector<PartSummary> v(count(12));
    for (auto& p : v) {
      p.part_path = str();
      p.type = str();
      p.charset = str();
      p.disposition = str();
      p.name = str();
      p.cid = str();
      p.language = str();
      p.location = str();
      p.size = u64();
      p.blob_id = str();
      p.content = str();
      const std::uint64_t t = u64();
      if (t > 1) fail();
      p.truncated = t == 1;
    }
    return v;
  }
  std::uint64_t fail() {
    ok_ = false;
    pos_ = in_.size();
    return 0;
  }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

bool is_space_cp(std::string_view s, std::size_t i, std::size_t& len) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
    len = 1;
    return true;
  }
  if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xA0) {
    len = 2;  // U+00A0 NO-BREAK SPACE
    return true;
  }
  if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
      (static_cast<unsigned char>(s[i + 2]) == 0x8B || static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
       static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
    len = 3;  // zero width space, line/paragraph separators
    return true;
  }
  return false;
}

void append_cp(std::string& out, std::uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  append_utf8(out, cp);
}

struct Entity {
  std::string_view name;
  std::uint32_t cp;
};
constexpr std::array<Entity, 24> kEntities = {{
    {"amp", '&'},      {"lt", '<'},        {"gt", '>'},        {"quot", '"'},
    {"apos", '\''},    {"nbsp", 0xA0},     {"copy", 0xA9},     {"reg", 0xAE},
    {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013},  {"lsquo", 0x2018},
    {"rsquo", 0x2019}, {"ldquo", 0x201C},  {"rdquo", 0x201D},  {"euro", 0x20AC},
    {"trade", 0x2122}, {"bull", 0x2022},   {"middot", 0xB7},   {"laquo", 0xAB},
    {"raquo", 0xBB},   {"zwnj", 0x200C},   {"shy", 0xAD},      {"times", 0xD7},
}};

// HTML 4 Latin-1 entities, U+00A0..U+00FF in order.
constexpr std::array<std::string_view, 96> kLatin1Entities = {
    "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect",
    "uml", "copy", "ordf", "laquo", "not", "shy", "reg", "macr",
    "deg", "plusmn", "sup2", "sup3", "acute", "micro", "para", "middot",
    "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
    "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil",
    "Egrave", "Eacute", "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml",
    "ETH", "Ntilde", "Ograve", "Oacute", "Ocirc", "Otilde", "Ouml", "times",
    "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute", "THORN", "szlig",
    "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
    "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml",
    "eth", "ntilde", "ograve", "oacute", "ocirc", "otilde", "ouml", "divide",
    "oslash", "ugrave", "uacute", "ucirc", "uuml", "yacute", "thorn", "yuml",
};

bool is_block_tag(std::string_view t) {
  static constexpr std::string_view kBlocks[] = {
      "p", "br", "div", "li", "tr", "td", "th", "table", "h1", "h2", "h3", "h4", "h5", "h6",
      "blockquote", "ul", "ol", "hr", "pre", "section", "article", "header", "footer"};
  for (auto b : kBlocks)
    if (t == b) return true;
  return false;
}

}  // namespace

// ---------------------------------------------------------------- public functions

std::string html_to_text(std::string_view html, std::size_t max_bytes) {
  std::string out;
  std::size_t i = 0;
  while (i < html.size() && out.size() < max_bytes) {
    const char c = html[i];
    if (c == '<') {
      if (html.substr(i, 4) == "<!--") {
        const auto e = html.find("-->", i + 4);
        i = e == std::string_view::npos ? html.size() : e + 3;
        continue;
      }
      std::size_t j = i + 1;
      const bool closing = j < html.size() && html[j] == '/';
      if (closing) ++j;
      std::string tag;
      while (j < html.size() && tag.size() < 16 &&
             ((html[j] >= 'a' && html[j] <= 'z') || (html[j] >= 'A' && html[j] <= 'Z') ||
              (html[j] >= '0' && html[j] <= '9')))
        tag.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(html[j++]))));
      if (tag.empty() && !closing && html.substr(i + 1, 1) != "!" && html.substr(i + 1, 1) != "?") {
        out.push_back('<');  // a lone '<' in text
        ++i;
        continue;
      }
      // Skip to the end of the tag, honouring quoted attribute values.
      char quote = 0;
      while (j < html.size()) {
        if (quote) {
          if (html[j] == quote) quote = 0;
        } else if (html[j] == '"' || html[j] == '\'') {
          quote = html[j];
        } else if (html[j] == '>') {
          break;
        }
        ++j;
      }
      i = j < html.size() ? j + 1 : html.size();
      if (!closing && (tag == "script" || tag == "style" || tag == "head" || tag == "title")) {
        const std::string close = "</" + tag;
        std::size_t k = i;
        while (k < html.size()) {
          const auto e = html.find("</", k);
          if (e == std::string_view::npos) {
            k = html.size();
            break;
          }
          if (to_lower(html.substr(e, close.size())) == close) {
            k = e;
            break;
          }
          k = e + 2;
        }
        i = k;
        continue;
      }
      if (is_block_tag(tag)) out.push_back('\n');
      else out.push_back(' ');
      continue;
    }
    if (c == '&') {
      std::size_t j = i + 1;
      const auto semi = html.substr(j, 12).find(';');
      if (semi != std::string_view::npos && semi > 0) {
        std::string_view ent = html.substr(j, semi);
        std::uint32_t cp = 0;
        bool found = false;
        if (ent[0] == '#') {
          const bool hex = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X');
          std::string_view digits = ent.substr(hex ? 2 : 1);
          found = !digits.empty();
          for (char d : digits) {
            int v = -1;
            if (d >= '0' && d <= '9') v = d - '0';
            else if (hex && d >= 'a' && d <= 'f') v = d - 'a' + 10;
            else if (hex && d >= 'A' && d <= 'F') v = d - 'A' + 10;
            if (v < 0 || cp > 0x10FFFF) {
              found = false;
              break;
            }
            cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(v);
          }
        } else {
          for (const Entity& e : kEntities)
            if (ent == e.name) {
              cp = e.cp;
              found = true;
            }
          for (std::size_t k = 0; k < kLatin1Entities.size() && !found; ++k)
            if (ent == kLatin1Entities[k]) {
              cp = 0xA0 + static_cast<std::uint32_t>(k);
              found = true;
            }
        }
        if (found) {
          append_cp(out, cp);
          i = j + semi + 1;
          continue;
        }
      }
    }
    out.push_back(c);
    ++i;
  }
  return sanitize_utf8(truncate_utf8(out, max_bytes));
}

std::string make_preview(std::string_view text, std::size_t max_chars) {
  std::string out;
  std::size_t chars = 0;
  bool pending_space = false;
  std::size_t i = 0;
  while (i < text.size() && chars < max_chars) {
    std::size_t len = 0;
    if (is_space_cp(text, i, len)) {
      pending_space = !out.empty();
      i += len;
      continue;
    }
    if (pending_space) {
      out.push_back(' ');
      ++chars;
      pending_space = false;
      if (chars >= max_chars) break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    n = std::min(n, text.size() - i);
    if (c < 0x20 || c == 0x7F) {  // other controls: drop
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    ++chars;
    i += n;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return is_valid_utf8(out) ? out : sanitize_utf8(out);
}

namespace {

// Every string of a summary is emitted as JSON (JMAP Email/get): each one passes through
// repair_utf8, whichever decoder produced it, so no path can leave raw bytes behind.
void repair_strings(Summary& s) {
  for (auto* list : {&s.from, &s.sender, &s.reply_to, &s.to, &s.cc, &s.bcc})
    for (Address& a : *list) {
      repair_utf8(a.name);
      repair_utf8(a.email);
    }
  repair_utf8(s.subject);
  repair_utf8(s.date_raw);
  for (auto* ids : {&s.message_id, &s.in_reply_to, &s.references})
    for (std::string& id : *ids) repair_utf8(id);
  for (auto* parts : {&s.text_body, &s.html_body, &s.attachments})
    for (PartSummary& p : *parts)
      for (std::string* x : {&p.part_path, &p.type, &p.charset, &p.disposition, &p.name, &p.cid,
                             &p.language, &p.location, &p.blob_id, &p.content})
        repair_utf8(*x);
  repair_utf8(s.preview);
}

}  // namespace

Summary summarize(std::string_view message, const Skeleton& skeleton, const SummaryLimits& limits,
                  BlobSource* cut_bytes) {
  Builder b(message, skeleton, limits, cut_bytes);
  b.set_budget(limits.max_total_body_bytes);
  Summary s = b.run();
  repair_strings(s);
  return s;
}

StructurePart body_structure(std::string_view message, const Skeleton& skeleton, bool with_headers,
                             const SummaryLimits& limits) {
  Builder b(message, skeleton, limits);
  return b.structure(with_headers);
}

std::string Summary::serialize() const {
  Writer w;
  w.out().append(kMagic);
  w.out().push_back(static_cast<char>(kVersion));
  w.addrs(from);
  w.addrs(sender);
  w.addrs(reply_to);
  w.addrs(to);
  w.addrs(cc);
  w.addrs(bcc);
  w.str(subject);
  w.str(date_raw);
  if (date) {
    w.u64(1);
    // zigzag for negative epochs
    w.u64((static_cast<std::uint64_t>(*date) << 1) ^ static_cast<std::uint64_t>(*date >> 63));
  } else {
    w.u64(0);
  }
  w.strs(message_id);
  w.strs(in_reply_to);
  w.strs(references);
  w.parts(text_body);
  w.parts(html_body);
  w.parts(attachments);
  w.str(preview);
  w.u64(has_attachment ? 1 : 0);
  w.u64(size);
  return std::move(w.out());
}

boost::system::result<Summary> Summary::parse(std::string_view data) {
  if (data.size() < kMagic.size() + 1) return errc::skeleton_truncated;
  if (data.substr(0, kMagic.size()) != kMagic) return errc::skeleton_bad_magic;
  if (static_cast<unsigned char>(data[kMagic.size()]) != kVersion) return errc::skeleton_bad_version;
  Reader r(data.substr(kMagic.size() + 1));
  Summary s;
  s.from = r.addrs();
  s.sender = r.addrs();
  s.reply_to = r.addrs();
  s.to = r.addrs();
  s.cc = r.addrs();
  s.bcc = r.addrs();
  s.subject = r.str();
  s.date_raw = r.str();
  const std::uint64_t has_date = r.u64();
  if (has_date > 1) r.fail();
  if (has_date == 1) {
    const std::uint64_t z = r.u64();
    s.date = static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  s.message_id = r.strs();
  s.in_reply_to = r.strs();
  s.references = r.strs();
  s.text_body = r.parts();
  s.html_body = r.parts();
  s.attachments = r.parts();
  s.preview = r.str();
  const std::uint64_t ha = r.u64();
  if (ha > 1) r.fail();
  s.has_attachment = ha == 1;
  s.size = r.u64();
  if (!r.ok()) return errc::skeleton_truncated;
  if (!r.at_end()) return errc::skeleton_corrupt;
  // Summaries stored before every string was repaired at summarize() time may hold raw
  // 8-bit bytes; they are repaired on the way out too.
  repair_strings(s);
  return s;
}

}  // namespace refmail::mime
