// web/jmap_body_structure.cpp — RFC 8621 EmailBodyPart both ways: the JSON of a part and
// of the bodyStructure tree for Email/get (4.1.4, from the summary and the skeleton's own
// bytes, never attachment bytes), and the reading of an Email/set bodyStructure (4.6)
// into a mime::DraftPart the composer turns into a skeleton.
// Never accept and drop: every property given is either written into the message or
// refused with invalidProperties; unknown blobIds answer blobNotFound with notFound.
// SECURITY: a part may only reference blobs the caller holds a grant for, or parts of
// messages the caller holds a row of (resolve_draft_blob); header fields are checked by
// mime::check_draft_part (no CR/LF injection); the tree is bounded in depth and parts.
#include <set>

#include "mime/composer.hpp"
#include "mime/rfc2047.hpp"
#include "web/jmap_internal.hpp"

namespace refmail::web {

json::object body_part(const std::string& message_id, const mime::PartSummary& p,
                       const std::optional<std::set<std::string>>& props) {
  json::object o;
  auto want = [&](const char* k) { return !props || props->count(k); };
  auto str_or_null = [](const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); };
  if (want("partId")) o["partId"] = p.part_path;
  if (want("blobId")) o["blobId"] = p.blob_id.empty() ? part_blob_id(message_id, p.part_path) : p.blob_id;
  if (want("size")) o["size"] = p.size;
  if (want("name")) o["name"] = str_or_null(p.name);
  if (want("type")) o["type"] = p.type;
  if (want("charset")) {
    // RFC 8621 4.1.4: a text/* part without a charset parameter is us-ascii.
    o["charset"] = !p.charset.empty() ? json::value(p.charset)
                   : p.type.starts_with("text/") ? json::value("us-ascii") : json::value(nullptr);
  }
  if (want("disposition")) o["disposition"] = str_or_null(p.disposition);
  if (want("cid")) o["cid"] = str_or_null(p.cid);
  if (want("language")) o["language"] = p.language.empty() ? json::value(nullptr) : json::value(json::array{p.language});
  if (want("location")) o["location"] = str_or_null(p.location);
  return o;
}

// headers and header:{name}[:asRaw][:all] (RFC 8621 4.1.3) of `props`, raw form only,
// from `headers` (an Email's or a body part's). Other forms are not offered: left out.
void add_header_properties(json::object& o, const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::set<std::string>& props) {
  if (props.count("headers")) {
    json::array hs;
    for (const auto& [name, value] : headers) hs.push_back(json::object{{"name", name}, {"value", value}});
    o["headers"] = std::move(hs);
  }
  for (const std::string& k : props) {
    if (!k.starts_with("header:")) continue;
    std::string_view rest = std::string_view(k).substr(7);
    bool all = false;
    if (rest.ends_with(":all")) {
      all = true;
      rest.remove_suffix(4);
    }
    if (rest.ends_with(":asRaw")) rest.remove_suffix(6);
    if (rest.empty() || rest.find(':') != std::string_view::npos) continue;  // other forms: not offered
    const std::string want = ascii_lower(rest);
    json::array values;
    for (const auto& [name, value] : headers)
      if (ascii_lower(name) == want) values.emplace_back(value);
    if (all) o[k] = std::move(values);
    else o[k] = values.empty() ? json::value(nullptr) : values.back();
  }
}

json::object structure_part(const std::string& message_id, const mime::StructurePart& n,
                            const std::optional<std::set<std::string>>& props) {
  json::object o = body_part(message_id, n.part, props);
  if (n.is_multipart) {
    // RFC 8621 4.1.4: a multipart has no partId, blobId or charset of its own.
    for (const char* k : {"partId", "blobId", "charset"})
      if (o.contains(k)) o[k] = nullptr;
  }
  if (props) add_header_properties(o, n.headers, *props);
  if (n.is_multipart) {
    json::array subs;
    for (const auto& c : n.sub_parts) subs.push_back(structure_part(message_id, c, props));
    o["subParts"] = std::move(subs);
  }
  return o;
}

std::optional<DraftBlob> resolve_draft_blob(Ctx& ctx, const std::string& blob_id) {
  DraftBlob out;
  if (blob_id.starts_with("P")) {
    // A part of a message this account holds (forwarding): a cut part is its store
    // blob; a small part kept in the skeleton goes into the new skeleton as bytes.
    auto part = resolve_part_blob(ctx, blob_id);
    if (!part) return std::nullopt;
    out.blob_id = std::move(part->blob_id);
    out.literal = std::move(part->bytes);
    out.size = part->size;
    return out;
  }
  auto g = ctx.j.store.grant_count(ctx.account, blob_id);
  if (!g || *g <= 0) return std::nullopt;
  auto info = ctx.j.store.blob_info(blob_id);
  if (!info) return std::nullopt;
  out.blob_id = blob_id;
  out.size = info->size_bytes;
  return out;
}

std::string check_body_values(const json::object& email, std::string& desc) {
  const auto* bv = email.if_contains("bodyValues");
  if (!bv || bv->is_null()) return {};
  if (!bv->is_object()) return desc = "bodyValues must be an object", "invalidProperties";
  for (const auto& kv : bv->as_object()) {
    const std::string where = "bodyValues/" + std::string(kv.key()).substr(0, 80);
    const auto* o = kv.value().if_object();
    if (!o) return desc = where + " must be an object", "invalidProperties";
    const auto* v = o->if_contains("value");
    if (!v || !v->is_string()) return desc = where + "/value must be a string", "invalidProperties";
    // RFC 8621 4.6: isEncodingProblem and isTruncated must be false or omitted.
    for (const char* flag : {"isEncodingProblem", "isTruncated"}) {
      const auto* f = o->if_contains(flag);
      if (f && !f->is_null() && *f != false) return desc = where + "/" + flag + " must be false", "invalidProperties";
    }
  }
  return {};
}

namespace {

// Reads one EmailBodyPart of a creation (RFC 8621 4.6) and its subParts. JSON-level and
// bodyValues/blob checks here; the tree's shape and header fields are checked as a whole
// by mime::check_draft_part afterwards.
class PartReader {
 public:
  PartReader(Ctx& ctx, const json::object* values) : ctx_(ctx), values_(values) {}

  // False with desc set on an invalid part. Unknown blobIds are collected, not fatal.
  bool read(const json::value& v, const std::string& where, std::size_t depth, mime::DraftPart& out) {
    if (++count_ > mime::kMaxDraftParts) return fail("more than " + std::to_string(mime::kMaxDraftParts) + " body parts");
    if (depth > mime::kMaxDraftPartDepth)
      return fail(where + ": nested deeper than " + std::to_string(mime::kMaxDraftPartDepth) + " levels");
    const auto* o = v.if_object();
    if (!o) return fail(where + " must be an object");
    const json::value* part_id = nullptr;
    const json::value* blob_id = nullptr;
    const json::value* sub_parts = nullptr;
    bool has_size = false;
    std::set<std::string> header_names;
    auto add_header = [&](std::string name, std::string raw) {
      if (!header_names.insert(ascii_lower(name)).second) return fail(where + ": header " + name.substr(0, 80) + " given twice");
      out.headers.emplace_back(std::move(name), std::move(raw));
      return true;
    };
    for (const auto& kv : *o) {
      const std::string key(kv.key());
      const json::value& val = kv.value();
      if (val.is_null()) continue;  // null = not given
      auto str = [&](std::string& dst) {
        if (!val.is_string()) return fail(where + "/" + key.substr(0, 80) + " must be a string");
        dst = std::string(val.as_string());
        return true;
      };
      if (key == "partId") {
        if (!val.is_string()) return fail(where + "/partId must be a string");
        part_id = &val;
      } else if (key == "blobId") {
        if (!val.is_string()) return fail(where + "/blobId must be a string");
        blob_id = &val;
      } else if (key == "subParts") {
        if (!val.is_array()) return fail(where + "/subParts must be an array");
        sub_parts = &val;
      } else if (key == "size") {
        if (!val.is_number()) return fail(where + "/size must be a number");
        has_size = true;
      } else if (key == "type") {
        if (!str(out.type)) return false;
        out.type = ascii_lower(out.type);
      } else if (key == "disposition") {
        if (!str(out.disposition)) return false;
        out.disposition = ascii_lower(out.disposition);
      } else if (key == "charset") {
        if (!str(out.charset)) return false;
        out.charset = ascii_lower(out.charset);
      } else if (key == "name") {
        if (!str(out.name)) return false;
      } else if (key == "cid") {
        if (!str(out.cid)) return false;
      } else if (key == "location") {
        if (!str(out.location)) return false;
      } else if (key == "language") {
        if (!val.is_array()) return fail(where + "/language must be an array of strings");
        for (const auto& l : val.as_array()) {
          if (!l.is_string()) return fail(where + "/language must be an array of strings");
          out.language.emplace_back(l.as_string());
        }
      } else if (key == "headers") {
        if (!val.is_array()) return fail(where + "/headers must be an array");
        for (const auto& h : val.as_array()) {
          const auto* ho = h.if_object();
          const json::value* n = ho ? ho->if_contains("name") : nullptr;
          const json::value* hv = ho ? ho->if_contains("value") : nullptr;
          if (!n || !n->is_string() || !hv || !hv->is_string())
            return fail(where + "/headers: each entry needs a name and a value");
          if (!add_header(std::string(n->as_string()), std::string(hv->as_string()))) return false;
        }
      } else if (key.starts_with("header:")) {
        // header:{name}[:asRaw|:asText] (RFC 8621 4.1.3); other forms and :all are refused.
        std::string_view rest = std::string_view(key).substr(7);
        bool text = false;
        if (rest.ends_with(":asText")) {
          text = true;
          rest.remove_suffix(7);
        } else if (rest.ends_with(":asRaw")) {
          rest.remove_suffix(6);
        }
        if (rest.empty() || rest.find(':') != std::string_view::npos)
          return fail(where + ": " + key.substr(0, 80) + ": only the raw and asText forms of one field can be set");
        if (!val.is_string()) return fail(where + "/" + key.substr(0, 80) + " must be a string");
        std::string name(rest);
        std::string raw(val.as_string());
        if (text) raw = " " + mime::encode_rfc2047(raw, mime::EncodeContext::Text, name.size() + 2);
        if (!add_header(std::move(name), std::move(raw))) return false;
      } else {
        return fail(where + ": unknown property " + key.substr(0, 80));
      }
    }
    if (part_id && blob_id) return fail(where + ": a part has either partId or blobId, not both");
    if (out.type.empty()) out.type = sub_parts ? "multipart/mixed" : part_id ? "text/plain" : "application/octet-stream";
    if (part_id) {
      const std::string pid(part_id->as_string());
      const json::value* entry = values_ ? values_->if_contains(pid) : nullptr;
      if (!entry) return fail(where + ": partId " + pid.substr(0, 80) + " is not a key of bodyValues");
      if (!used_.insert(pid).second) return fail(where + ": partId " + pid.substr(0, 80) + " is used twice");
      // RFC 8621 4.6: size is given by the server for a part from bodyValues.
      if (has_size) return fail(where + ": size must be omitted with partId");
      out.text = std::string(entry->as_object().at("value").as_string());  // check_body_values ran
    }
    if (blob_id) {
      const std::string id(blob_id->as_string());
      auto blob = resolve_draft_blob(ctx_, id);
      if (!blob) {
        not_found.push_back(id);
        out.blob_id = "missing";  // keeps the shape checkable; never composed
      } else {
        out.blob_id = std::move(blob->blob_id);
        out.literal = std::move(blob->literal);
        out.size = blob->size;  // RFC 8621 4.6: a given size is ignored
      }
    }
    if (sub_parts) {
      const auto& arr = sub_parts->as_array();
      for (std::size_t i = 0; i < arr.size(); ++i) {
        out.sub_parts.emplace_back();
        if (!read(arr[i], where + "/subParts/" + std::to_string(i), depth + 1, out.sub_parts.back())) return false;
      }
    }
    return true;
  }

  std::string desc;
  std::vector<std::string> not_found;

 private:
  bool fail(std::string d) {
    desc = std::move(d);
    return false;
  }

  Ctx& ctx_;
  const json::object* values_;
  std::set<std::string> used_;
  std::size_t count_ = 0;
};

}  // namespace

std::string read_body_structure(Ctx& ctx, const json::object& email, mime::DraftPart& out, std::string& desc,
                                std::vector<std::string>& not_found) {
  for (const char* k : {"textBody", "htmlBody", "attachments"}) {
    const auto* v = email.if_contains(k);
    if (v && !v->is_null()) return desc = std::string("bodyStructure cannot be given with ") + k, "invalidProperties";
  }
  const json::object* values = nullptr;
  if (const auto* bv = email.if_contains("bodyValues"); bv && bv->is_object()) values = &bv->as_object();
  PartReader r(ctx, values);
  if (!r.read(email.at("bodyStructure"), "bodyStructure", 0, out)) return desc = std::move(r.desc), "invalidProperties";
  std::string problem = mime::check_draft_part(out);
  if (!problem.empty()) return desc = std::move(problem), "invalidProperties";
  if (!r.not_found.empty()) {
    not_found = std::move(r.not_found);
    return desc = "blob " + not_found.front().substr(0, 80) + " not found", "blobNotFound";
  }
  return {};
}

}  // namespace refmail::web
