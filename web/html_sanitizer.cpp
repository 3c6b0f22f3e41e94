// web/html_sanitizer.cpp — see html_sanitizer.hpp.
#include "web/html_sanitizer.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace refmail::web {

std::string html_escape(std::string_view s) {
  std::string o;
  o.reserve(s.size() + 16);
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o.push_back(c);
    }
  }
  return o;
}

bool equal_nocase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k)
    if (std::tolower(static_cast<unsigned char>(a[k])) != std::tolower(static_cast<unsigned char>(b[k]))) return false;
  return true;
}

namespace {

// ---- HTML body sanitiser (allow-list) ----
// Elements kept (without any attribute unless listed): p br div span b i u strong em
// a[href: http, https, mailto] ul ol li table thead tbody tr td th[colspan rowspan]
// img[src: cid: only, rewritten to the authorised download link; alt] blockquote pre
// code h1-h6. Elements whose content is dropped with them: script style head title
// iframe object embed applet frame frameset noscript noembed noframes template
// textarea select option svg math xmp plaintext. Every other tag (form, input,
// button, link, meta, base, font...) is dropped, its text kept. Comments, doctypes
// and processing instructions are dropped. Attribute values are entity-decoded,
// checked, then escaped again, so the browser sees exactly the value checked.
constexpr std::size_t kMaxHtmlDepth = 64;

bool is_one_of(std::string_view name, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), name) != set.end();
}

bool allowed_element(std::string_view n) {
  return is_one_of(n, {"p", "br", "div", "span", "b", "i", "u", "strong", "em", "a", "ul", "ol", "li",
                       "table", "thead", "tbody", "tfoot", "tr", "td", "th", "img", "blockquote", "pre",
                       "code", "h1", "h2", "h3", "h4", "h5", "h6"});
}
bool void_element(std::string_view n) { return n == "br" || n == "img"; }
bool dropped_with_content(std::string_view n) {
  return is_one_of(n, {"script", "style", "head", "title", "iframe", "object", "embed", "applet", "frame",
                       "frameset", "noscript", "noembed", "noframes", "template", "textarea", "select",
                       "option", "svg", "math", "xmp", "plaintext"});
}

void append_utf8(std::string& o, std::uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    o.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    o.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    o.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    o.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    o.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    o.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    o.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    o.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    o.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    o.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes character references in an attribute value (HTML 13.2.5.72): numeric ones
// (with or without ';') and the few named ones mail uses; others stay as written.
std::string decode_entities(std::string_view v) {
  std::string o;
  std::size_t i = 0;
  while (i < v.size()) {
    if (v[i] != '&') {
      o.push_back(v[i++]);
      continue;
    }
    if (i + 2 < v.size() && v[i + 1] == '#') {
      std::size_t j = i + 2;
      bool hex = j < v.size() && (v[j] == 'x' || v[j] == 'X');
      if (hex) ++j;
      std::uint32_t cp = 0;
      std::size_t digits = 0;
      while (j < v.size() && (hex ? std::isxdigit(static_cast<unsigned char>(v[j])) != 0
                                  : std::isdigit(static_cast<unsigned char>(v[j])) != 0)) {
        unsigned char c = static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(v[j])));
        if (cp < 0x110000) cp = cp * (hex ? 16 : 10) + (std::isdigit(c) ? c - '0' : c - 'a' + 10);
        ++j;
        ++digits;
      }
      if (digits > 0) {
        if (j < v.size() && v[j] == ';') ++j;
        append_utf8(o, cp);
        i = j;
        continue;
      }
    }
    static const std::pair<std::string_view, std::string_view> named[] = {
        {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"},
        {"&nbsp;", "\xC2\xA0"}, {"&colon;", ":"}, {"&tab;", "\t"}, {"&newline;", "\n"}};
    bool done = false;
    for (const auto& [name, text] : named) {
      if (v.size() - i >= name.size()) {
        bool eq = true;
        for (std::size_t k = 0; k < name.size() && eq; ++k)
          eq = std::tolower(static_cast<unsigned char>(v[i + k])) == name[k];
        if (eq) {
          o += text;
          i += name.size();
          done = true;
          break;
        }
      }
    }
    if (!done) o.push_back(v[i++]);
  }
  return o;
}

// The value with leading/trailing whitespace and C0 controls removed (URL parsers do
// the same before reading the scheme).
std::string_view trim_url(std::string_view v) {
  while (!v.empty() && static_cast<unsigned char>(v.front()) <= 0x20) v.remove_prefix(1);
  while (!v.empty() && static_cast<unsigned char>(v.back()) <= 0x20) v.remove_suffix(1);
  return v;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t k = 0; k < prefix.size(); ++k)
    if (std::tolower(static_cast<unsigned char>(s[k])) != prefix[k]) return false;
  return true;
}

// RFC 2392: a cid: URL is the Content-ID, %hh-encoded.
std::string percent_decode(std::string_view s) {
  std::string o;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      auto hexval = [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                                                           : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
      };
      o.push_back(static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
      i += 2;
    } else {
      o.push_back(s[i]);
    }
  }
  return o;
}

struct Tag {
  std::string name;  // lower-case
  bool end = false;
  std::vector<std::pair<std::string, std::string>> attrs;  // lower-case name, raw value
};

// Parses the tag starting at h[i] == '<' (HTML 13.2.5.6 onwards, simplified); returns
// the index after its '>' or h.size() when unterminated (the tag is then dropped).
std::size_t parse_tag(std::string_view h, std::size_t i, Tag& t, bool& complete) {
  complete = false;
  std::size_t j = i + 1;
  if (j < h.size() && h[j] == '/') {
    t.end = true;
    ++j;
  }
  while (j < h.size() && (std::isalnum(static_cast<unsigned char>(h[j])) != 0) && t.name.size() < 32)
    t.name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(h[j++]))));
  auto space = [&](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; };
  for (;;) {
    while (j < h.size() && (space(h[j]) || h[j] == '/')) ++j;
    if (j >= h.size()) return h.size();
    if (h[j] == '>') {
      complete = true;
      return j + 1;
    }
    std::string name;
    while (j < h.size() && !space(h[j]) && h[j] != '/' && h[j] != '>' && (h[j] != '=' || name.empty())) {
      if (name.size() < 64) name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(h[j]))));
      ++j;
    }
    while (j < h.size() && space(h[j])) ++j;
    std::string value;
    if (j < h.size() && h[j] == '=') {
      ++j;
      while (j < h.size() && space(h[j])) ++j;
      if (j < h.size() && (h[j] == '"' || h[j] == '\'')) {
        char q = h[j++];
        auto e = h.find(q, j);
        if (e == std::string_view::npos) return h.size();
        value.assign(h.substr(j, e - j));
        j = e + 1;
      } else {
        while (j < h.size() && !space(h[j]) && h[j] != '>') value.push_back(h[j++]);
      }
    }
    if (!t.end && t.attrs.size() < 64) t.attrs.emplace_back(std::move(name), std::move(value));
  }
}

// Text between tags: kept, with '<', '>' and '"' escaped and a bare '&' (not starting
// a character reference) escaped; NUL dropped.
void append_text(std::string& o, std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\0') continue;
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '"') o += "&quot;";
    else if (c == '&') {
      std::size_t j = i + 1;
      while (j < text.size() && j - i <= 32 && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '#')) ++j;
      if (j > i + 1 && j < text.size() && text[j] == ';') o.push_back('&');
      else o += "&amp;";
    } else {
      o.push_back(c);
    }
  }
}

}  // namespace

// The output is balanced: every element it opens is closed.
std::string sanitize_html(std::string_view h, const std::function<std::string(std::string_view)>& cid_link) {
  std::string o;
  o.reserve(h.size());
  std::vector<std::string> open;  // allowed elements opened and not yet closed
  std::size_t i = 0;
  auto lower_find = [&](std::size_t from, std::string_view needle) {
    for (std::size_t k = from; k + needle.size() <= h.size(); ++k)
      if (starts_with_nocase(h.substr(k), needle)) return k;
    return std::string_view::npos;
  };
  while (i < h.size()) {
    auto lt = h.find('<', i);
    if (lt == std::string_view::npos) {
      append_text(o, h.substr(i));
      break;
    }
    append_text(o, h.substr(i, lt - i));
    i = lt;
    if (h.substr(i, 4) == "<!--") {  // comment (HTML 13.2.5.43): dropped
      auto e = h.find("-->", i + 4);
      i = e == std::string_view::npos ? h.size() : e + 3;
      continue;
    }
    if (i + 1 < h.size() && (h[i + 1] == '!' || h[i + 1] == '?')) {  // doctype, <![CDATA[, <?xml: dropped
      auto e = h.find('>', i);
      i = e == std::string_view::npos ? h.size() : e + 1;
      continue;
    }
    bool starts_tag = i + 1 < h.size() && (std::isalpha(static_cast<unsigned char>(h[i + 1])) ||
                                           (h[i + 1] == '/' && i + 2 < h.size() &&
                                            std::isalpha(static_cast<unsigned char>(h[i + 2]))));
    if (!starts_tag) {
      o += "&lt;";
      ++i;
      continue;
    }
    Tag t;
    bool complete = false;
    i = parse_tag(h, i, t, complete);
    if (!complete) break;  // an unterminated tag ends the body
    if (!t.end && dropped_with_content(t.name)) {
      // Raw text up to the matching end tag (or the end of the body) goes with it.
      auto e = lower_find(i, "</" + t.name);
      if (e == std::string_view::npos) break;
      auto gt = h.find('>', e);
      i = gt == std::string_view::npos ? h.size() : gt + 1;
      continue;
    }
    if (!allowed_element(t.name)) continue;
    if (t.end) {
      auto it = std::find(open.rbegin(), open.rend(), t.name);
      if (it == open.rend()) continue;  // stray end tag: dropped
      std::size_t keep = static_cast<std::size_t>(open.rend() - it) - 1;
      while (open.size() > keep) {
        o += "</" + open.back() + ">";
        open.pop_back();
      }
      continue;
    }
    if (!void_element(t.name) && open.size() >= kMaxHtmlDepth) continue;
    std::string attrs;
    if (t.name == "a") {
      for (const auto& [k, v] : t.attrs) {
        if (k != "href") continue;
        std::string url(trim_url(decode_entities(v)));
        if (starts_with_nocase(url, "http://") || starts_with_nocase(url, "https://") ||
            starts_with_nocase(url, "mailto:")) {
          attrs = " href=\"" + html_escape(url) + "\" rel=\"noopener noreferrer nofollow\" target=\"_blank\"";
          break;
        }
      }
    } else if (t.name == "img") {
      std::string src, alt;
      for (const auto& [k, v] : t.attrs) {
        if (k == "src" && src.empty()) {
          std::string url(trim_url(decode_entities(v)));
          if (starts_with_nocase(url, "cid:")) src = cid_link(percent_decode(url.substr(4)));
        } else if (k == "alt" && alt.empty()) {
          alt = decode_entities(v);
        }
      }
      if (src.empty()) continue;  // remote, data: or unknown images are removed
      attrs = " src=\"" + html_escape(src) + "\" alt=\"" + html_escape(alt) + "\"";
    } else if (t.name == "td" || t.name == "th") {
      for (const auto& [k, v] : t.attrs) {
        if (k != "colspan" && k != "rowspan") continue;
        bool digits = !v.empty() && v.size() <= 3 &&
                      std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
        if (digits) attrs += " " + k + "=\"" + v + "\"";
      }
    }
    o += "<" + t.name + attrs + ">";
    if (!void_element(t.name)) open.push_back(t.name);
  }
  while (!open.empty()) {
    o += "</" + open.back() + ">";
    open.pop_back();
  }
  return o;
}


}  // namespace refmail::web
