// mime/scanner.cpp — the streaming MIME push-parser (see scanner.hpp).
// Works on a window = held-back bytes + new chunk; consumes what it can decide and
// keeps the rest: an unfinished header block (<= max_header_bytes), or a line ending
// plus the start of a line that may still turn out to be a delimiter
// (<= kMaxDelimiterLineBytes). Body lines are found with memchr, never byte by byte.
// RFC 2046 5.1.1: a delimiter is CRLF "--" boundary [ "--" ] transport-padding CRLF;
// the CRLF before it belongs to the delimiter, so body ranges exclude it. Bare LF is
// accepted everywhere CRLF is.
// SECURITY: no recursion (an explicit stack of frames), every buffer bounded by Limits.
#include "mime/scanner.hpp"

#include <algorithm>
#include <cstring>

namespace refmail::mime {
namespace {

char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = ascii_lower(c);
  return r;
}

bool is_wsp(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (is_wsp(s.front()) || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (is_wsp(s.back()) || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// RFC 5322 2.2.3 unfolding: remove CR/LF that precede WSP (and any stray CR/LF).
std::string unfold(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw)
    if (c != '\r' && c != '\n') out.push_back(c);
  return std::string(trim(out));
}

// A header field line: field-name (printable ASCII but ':'), optional WSP (obsolete
// syntax, RFC 5322 4.5.1), ':'. 8-bit names are tolerated.
bool is_field_line(std::string_view line) noexcept {
  std::size_t i = 0;
  while (i < line.size()) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c == ':' || c <= 32 || c == 127) break;
    ++i;
  }
  if (i == 0) return false;
  while (i < line.size() && is_wsp(line[i])) ++i;
  return i < line.size() && line[i] == ':';
}

// Skips comments "(...)" (nested, with quoted-pairs) and whitespace.
void skip_cfws(std::string_view s, std::size_t& i) noexcept {
  while (i < s.size()) {
    const char c = s[i];
    if (is_wsp(c) || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '(') {
      int depth = 0;
      while (i < s.size()) {
        if (s[i] == '\\') {
          // A quoted-pair; a backslash as the last byte ends the value (it used to
          // step past the end, and read_token's substr then threw out_of_range).
          i = std::min(i + 2, s.size());
          continue;
        }
        if (s[i] == '(') ++depth;
        if (s[i] == ')' && --depth == 0) {
          ++i;
          break;
        }
        ++i;
      }
    } else {
      break;
    }
  }
}

std::string read_token(std::string_view s, std::size_t& i, std::string_view stops) {
  const std::size_t b = i;
  while (i < s.size() && !is_wsp(s[i]) && s[i] != '\r' && s[i] != '\n' && s[i] != '(' &&
         stops.find(s[i]) == std::string_view::npos)
    ++i;
  return std::string(s.substr(b, i - b));
}

// Parameters after the first ';' (RFC 2045 5.1 / RFC 2183): lenient, no RFC 2231 decoding.
void parse_params(std::string_view s, std::size_t i, std::vector<Param>& out) {
  while (i < s.size() && out.size() < 256) {
    const std::size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) return;
    i = semi + 1;
    skip_cfws(s, i);
    std::string name = lower(read_token(s, i, ";="));
    skip_cfws(s, i);
    if (i >= s.size() || s[i] != '=') {
      continue;  // a parameter without value: ignored
    }
    ++i;
    skip_cfws(s, i);
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        if (s[i] != '\r' && s[i] != '\n') value.push_back(s[i]);
        ++i;
      }
      if (i < s.size()) ++i;
    } else {
      const std::size_t b = i;
      while (i < s.size() && s[i] != ';') ++i;
      std::string_view raw = trim(s.substr(b, i - b));
      // A trailing comment after a token value (RFC 2045 5.1 allows CFWS there).
      const std::size_t cm = raw.find(" (");
      const std::size_t cm2 = raw.find("\t(");
      const std::size_t c = std::min(cm, cm2);
      if (c != std::string_view::npos && raw.back() == ')') raw = trim(raw.substr(0, c));
      value = std::string(raw);
    }
    if (!name.empty()) out.push_back({std::move(name), std::move(value)});
  }
}

std::string join_path(const std::string& parent, std::size_t i) {
  return parent.empty() ? std::to_string(i) : parent + "." + std::to_string(i);
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 2231 4: charset'language'%XX-encoded value (charset ignored: a boundary is ASCII).
std::string rfc2231_value(std::string_view v, bool initial) {
  if (initial) {
    const std::size_t q1 = v.find('\'');
    const std::size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
    if (q2 != std::string_view::npos) v.remove_prefix(q2 + 1);
  }
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '%' && i + 2 < v.size() &&
        hex_digit(v[i + 1]) >= 0 && hex_digit(v[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_digit(v[i + 1]) * 16 + hex_digit(v[i + 2])));
      i += 2;
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

// The boundary parameter, plain or in RFC 2231 extended / continued form.
std::string boundary_param(const Part& p) {
  if (const std::string* b = p.type_param("boundary")) return *b;
  if (const std::string* b = p.type_param("boundary*")) return rfc2231_value(*b, true);
  std::string out;
  for (int i = 0; i < 64; ++i) {
    const std::string n = "boundary*" + std::to_string(i);
    if (const std::string* b = p.type_param(n)) {
      out += *b;
    } else if (const std::string* e = p.type_param(n + "*")) {
      out += rfc2231_value(*e, i == 0);
    } else {
      break;
    }
  }
  return out;
}

enum class State : std::uint8_t { Header, LeafBody, Preamble, InChild, Epilogue, Message };

struct Frame {
  Part part;
  State state = State::Header;
  std::size_t child_count = 0;
  bool entity_root = false;   // top-level or encapsulated message: path set at header end
  std::string base_path;      // for entity_root: the carrying part's path ("" for top)
  bool digest_children = false;
};

}  // namespace

const HeaderField* Part::field(std::string_view name) const noexcept {
  for (const HeaderField& f : fields)
    if (iequals(f.name, name)) return &f;
  return nullptr;
}

static const std::string* find_param(const std::vector<Param>& ps, std::string_view name) {
  for (const Param& p : ps)
    if (p.name == name) return &p.value;
  return nullptr;
}

const std::string* Part::type_param(std::string_view name) const noexcept {
  return find_param(type_params, name);
}
const std::string* Part::disposition_param(std::string_view name) const noexcept {
  return find_param(disposition_params, name);
}

bool Part::has_file_name() const noexcept {
  auto has = [](const std::vector<Param>& ps, std::string_view stem) {
    for (const Param& p : ps)
      if (p.name == stem || (p.name.size() > stem.size() && p.name.starts_with(stem) &&
                             p.name[stem.size()] == '*'))
        return true;
    return false;
  };
  return has(disposition_params, "filename") || has(type_params, "name");
}

struct Scanner::Impl {
  Impl(const Limits& l, ScanHandler& h) : lim(l), handler(h) {
    Frame root;
    root.entity_root = true;
    root.part.index = 0;
    stack.push_back(std::move(root));
    part_count = 1;
  }

  Limits lim;
  ScanHandler& handler;
  std::string buf;              // held-back input, starts at absolute offset `base`
  std::uint64_t base = 0;
  std::uint64_t fed = 0;
  std::size_t max_held = 0;
  std::size_t part_count = 0;
  std::vector<Frame> stack;
  bool line_start = true;       // window begins at a line start with no line ending held
  bool no_delims = false;       // part limit hit: no delimiter is recognised any more
  std::size_t header_scan = 0;  // bytes of the pending header block searched for '\n'
  std::size_t header_line = 0;  // start of its current (incomplete) line
  bool finished = false;
  std::uint64_t delim_line_abs = ~0ull;  // a "--" line waiting for its end: its start
  std::uint64_t delim_scanned_abs = 0;   // and how far it was searched for '\n'

  void emit(const char* d, std::size_t b, std::size_t e, ByteKind kind) {
    if (e > b) handler.on_bytes(base + b, std::string_view(d + b, e - b), kind);
  }

  bool any_delims() const {
    if (no_delims) return false;
    for (const Frame& f : stack)
      if (f.part.is_multipart && f.state != State::Epilogue) return true;
    return false;
  }

  // ---------------------------------------------------------------- headers

  // Ends the header block of the top frame: [hs, he) header bytes, body starts at he.
  void end_header(const char* d, std::size_t hs, std::size_t he, bool limited) {
    Frame& f = stack.back();
    Part& p = f.part;
    p.header = {base + hs, base + he};
    p.body.begin = base + he;
    p.limited = p.limited || limited;
    parse_fields(std::string_view(d + hs, he - hs), base + hs, p);
    interpret(f);
    // Path: RFC 3501 section numbers (see Part::path).
    if (f.entity_root) p.path = p.is_multipart ? f.base_path : join_path(f.base_path, 1);
    emit(d, hs, he, ByteKind::Structure);
    handler.on_part_begin(p);
    header_scan = 0;
    header_line = 0;
    line_start = true;
    if (p.is_multipart) {
      f.state = State::Preamble;
    } else if (p.is_message) {
      f.state = State::Message;
      Frame inner;
      inner.entity_root = true;
      inner.base_path = p.path;
      inner.part.parent = static_cast<std::ptrdiff_t>(p.index);
      inner.part.depth = p.depth + 1;
      inner.part.index = part_count++;
      inner.part.header.begin = base + he;
      stack.push_back(std::move(inner));
    } else {
      f.state = State::LeafBody;
    }
  }

  void parse_fields(std::string_view block, std::uint64_t at, Part& p) {
    std::size_t i = 0;
    bool first = true;
    while (i < block.size()) {
      std::size_t nl = block.find('\n', i);
      std::size_t le = nl == std::string_view::npos ? block.size() : nl + 1;
      std::string_view line = block.substr(i, le - i);
      std::string_view content = line;
      while (!content.empty() && (content.back() == '\n' || content.back() == '\r'))
        content.remove_suffix(1);
      if (content.empty()) break;  // the blank line
      if (first && p.index == 0 && content.starts_with("From ")) {  // mbox separator
        i = le;
        first = false;
        continue;
      }
      first = false;
      if (is_wsp(content.front()) && !p.fields.empty()) {
        HeaderField& f = p.fields.back();
        f.raw_value.append(block.substr(f.range.end - at, le - (f.range.end - at)));
        f.range.end = at + le;
      } else if (is_field_line(content)) {
        const std::size_t colon = content.find(':');
        HeaderField f;
        std::string_view name = content.substr(0, colon);
        while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
        f.name = std::string(name);
        f.raw_value = std::string(line.substr(colon + 1));
        f.range = {at + i, at + le};
        p.fields.push_back(std::move(f));
      }
      i = le;
    }
    for (HeaderField& f : p.fields) {
      // raw_value excludes the field's final line ending.
      std::string_view rv = f.raw_value;
      if (!rv.empty() && rv.back() == '\n') rv.remove_suffix(1);
      if (!rv.empty() && rv.back() == '\r') rv.remove_suffix(1);
      f.raw_value.resize(rv.size());
      f.value = unfold(f.raw_value);
    }
  }

  void interpret(Frame& f) {
    Part& p = f.part;
    Frame* parent = stack.size() >= 2 ? &stack[stack.size() - 2] : nullptr;
    const bool digest_child = parent && parent->digest_children && !f.entity_root;
    if (digest_child) {  // RFC 2046 5.1.5
      p.type = "message";
      p.subtype = "rfc822";
    }
    if (const HeaderField* ct = p.field("Content-Type")) {
      p.has_content_type = true;
      std::string_view v = ct->value;
      std::size_t i = 0;
      skip_cfws(v, i);
      std::string type = lower(read_token(v, i, "/;"));
      std::string subtype;
      skip_cfws(v, i);
      if (i < v.size() && v[i] == '/') {
        ++i;
        skip_cfws(v, i);
        subtype = lower(read_token(v, i, ";"));
      }
      // RFC 2045 5.2: a Content-Type without a subtype is invalid: text/plain applies.
      if (!type.empty() && !subtype.empty()) {
        p.type = std::move(type);
        p.subtype = std::move(subtype);
      }
      parse_params(v, i, p.type_params);
    }
    if (const HeaderField* cte = p.field("Content-Transfer-Encoding")) {
      std::size_t i = 0;
      skip_cfws(cte->value, i);
      p.transfer_encoding = lower(read_token(cte->value, i, ";"));
      const std::string& t = p.transfer_encoding;
      if (t.empty() || t == "7bit" || t == "8bit" || t == "binary")
        p.encoding = TransferEncoding::Identity;
      else if (t == "base64")
        p.encoding = TransferEncoding::Base64;
      else if (t == "quoted-printable")
        p.encoding = TransferEncoding::QuotedPrintable;
      else
        p.encoding = TransferEncoding::Unknown;
    }
    if (const HeaderField* cd = p.field("Content-Disposition")) {
      std::size_t i = 0;
      skip_cfws(cd->value, i);
      p.disposition = lower(read_token(cd->value, i, ";"));
      parse_params(cd->value, i, p.disposition_params);
    }
    const bool deep = p.depth >= lim.max_depth;
    if (p.type == "multipart") {
      const std::string b = boundary_param(p);
      if (!b.empty() && b.size() <= kMaxDelimiterLineBytes - 8 && !p.limited) {
        if (deep) {
          p.limited = true;
        } else {
          p.is_multipart = true;
          p.boundary = b;
          f.digest_children = p.subtype == "digest";
        }
      }
    } else if (p.type == "message" && (p.subtype == "rfc822" || p.subtype == "global") &&
               p.encoding == TransferEncoding::Identity && !p.limited) {
      if (deep || part_count >= lim.max_parts)
        p.limited = true;
      else
        p.is_message = true;
    }
  }

  // Header state: returns the consumed count (== pos if more input is needed).
  std::size_t header_step(const char* d, std::size_t pos, std::size_t n, bool final,
                          bool& progressed) {
    const std::size_t hs = pos;
    std::size_t i = hs + header_line;             // start of the current line
    std::size_t from = hs + std::max(header_scan, header_line);  // not yet searched
    while (true) {
      const void* q = from < n ? std::memchr(d + from, '\n', n - from) : nullptr;
      if (q == nullptr) {
        const std::size_t partial = n - i;
        if (final) {
          // Input ends inside the header block.
          std::string_view line(d + i, partial);
          const bool is_header =
              partial > 0 && (is_field_line(line) || (is_wsp(line.front()) && i > hs));
          const std::size_t he = is_header ? n : i;
          end_header(d, hs, he, false);
          progressed = true;
          return he;
        }
        if (n - hs > lim.max_header_bytes || partial > lim.max_line_bytes) {
          end_header(d, hs, i, true);
          progressed = true;
          return i;
        }
        header_line = i - hs;
        header_scan = n - hs;  // a partial line is never searched twice
        progressed = false;
        return hs;
      }
      const std::size_t nl = static_cast<const char*>(q) - d;
      const std::size_t le = nl + 1;
      std::string_view content(d + i, nl - i);
      if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
      if (le - hs > lim.max_header_bytes || le - i > lim.max_line_bytes) {
        end_header(d, hs, i, true);
        progressed = true;
        return i;
      }
      if (content.empty()) {  // the blank line ends the header block
        end_header(d, hs, le, false);
        progressed = true;
        return le;
      }
      const bool is_first = i == hs;
      if (content.starts_with("--")) {  // a delimiter right after a delimiter: empty header
        std::size_t frame, line_end;
        bool close;
        if (check_delim(d, i, n, final, frame, close, line_end) == Delim::Yes) {
          end_header(d, hs, i, false);
          progressed = true;
          return i;
        }
      }
      const bool ok = is_field_line(content) || (!is_first && is_wsp(content.front())) ||
                      (is_first && stack.size() == 1 && content.starts_with("From "));
      if (!ok) {  // not a header line: the header block ends, the body starts here
        end_header(d, hs, i, false);
        progressed = true;
        return i;
      }
      i = le;
      from = le;
    }
  }

  // ---------------------------------------------------------------- delimiters

  enum class Delim { NeedMore, No, Yes };

  // Is the line at `s` a delimiter of an active multipart? Sets frame/close/line_end.
  // Whether a partial line (after "--") may still become a delimiter of an active
  // multipart: it is a prefix of boundary ["--"] LWSP*.
  bool could_match(std::string_view partial) const {
    for (std::size_t k = stack.size(); k-- > 0;) {
      const Frame& f = stack[k];
      if (!f.part.is_multipart || f.state == State::Epilogue) continue;
      const std::string& b = f.part.boundary;
      if (partial.size() <= b.size()) {
        if (std::string_view(b).starts_with(partial)) return true;
        continue;
      }
      if (!partial.starts_with(b)) continue;
      std::string_view rest = partial.substr(b.size());
      if (rest == "-") return true;
      if (rest.starts_with("--")) rest.remove_prefix(2);
      while (!rest.empty() && (is_wsp(rest.front()) || rest.front() == '\r')) rest.remove_prefix(1);
      if (rest.empty()) return true;
    }
    return false;
  }

  Delim check_delim(const char* d, std::size_t s, std::size_t n, bool final,
                    std::size_t& frame, bool& close, std::size_t& line_end) {
    if (n - s < 2) return final ? Delim::No : Delim::NeedMore;
    if (d[s] != '-' || d[s + 1] != '-') return Delim::No;
    const std::size_t lim_end = std::min(n, s + kMaxDelimiterLineBytes + 1);
    // A line already searched in an earlier call is not searched again.
    std::size_t from = s;
    if (delim_line_abs == base + s && delim_scanned_abs > base + s)
      from = std::min<std::size_t>(static_cast<std::size_t>(delim_scanned_abs - base), lim_end);
    const void* q = std::memchr(d + from, '\n', lim_end - from);
    std::size_t ce;  // content end
    if (q == nullptr) {
      if (lim_end < n || n - s > kMaxDelimiterLineBytes) return Delim::No;
      if (!final) {
        if (!could_match(std::string_view(d + s + 2, n - s - 2))) return Delim::No;
        delim_line_abs = base + s;
        delim_scanned_abs = base + n;
        return Delim::NeedMore;
      }
      ce = n;
      line_end = n;
    } else {
      const std::size_t nl = static_cast<const char*>(q) - d;
      line_end = nl + 1;
      ce = (nl > s && d[nl - 1] == '\r') ? nl - 1 : nl;
    }
    const std::string_view content(d + s + 2, ce - s - 2);
    for (std::size_t k = stack.size(); k-- > 0;) {
      const Frame& f = stack[k];
      if (!f.part.is_multipart || f.state == State::Epilogue) continue;
      const std::string& b = f.part.boundary;
      if (!content.starts_with(b)) continue;
      std::string_view rest = content.substr(b.size());
      bool c = false;
      if (rest.starts_with("--")) {
        c = true;
        rest.remove_prefix(2);
      }
      // RFC 2046 5.1.1: transport padding (LWSP) may follow the boundary.
      if (std::all_of(rest.begin(), rest.end(), [](char ch) { return is_wsp(ch); })) {
        frame = k;
        close = c;
        return Delim::Yes;
      }
    }
    return Delim::No;
  }

  void end_frame(std::uint64_t at) {
    Frame& f = stack.back();
    f.part.body.end = std::max(at, f.part.body.begin);
    if (f.state == State::Header) {  // header never completed: it ends here too
      f.part.header.end = f.part.header.begin;
    }
    handler.on_part_end(f.part);
    stack.pop_back();
  }

  // A delimiter of stack[k] spans [eol_begin, line_end). Returns false when the part
  // limit turns it into ordinary content.
  bool on_delim(const char* d, std::size_t k, bool close, std::size_t eol_begin,
                std::size_t line_end) {
    if (!close && part_count >= lim.max_parts) {
      no_delims = true;
      stack.back().part.limited = true;
      return false;
    }
    while (stack.size() > k + 1) end_frame(base + eol_begin);
    emit(d, eol_begin, line_end, ByteKind::Structure);
    Frame& m = stack[k];
    if (close) {
      m.state = State::Epilogue;
      m.part.closed = true;
      line_start = true;
      return true;
    }
    m.state = State::InChild;
    Frame child;
    child.part.path = join_path(m.part.path, ++m.child_count);
    child.part.parent = static_cast<std::ptrdiff_t>(m.part.index);
    child.part.depth = m.part.depth + 1;
    child.part.index = part_count++;
    child.part.header.begin = base + line_end;
    stack.push_back(std::move(child));
    header_scan = 0;
    header_line = 0;
    line_start = true;
    return true;
  }

  // ---------------------------------------------------------------- bodies

  std::size_t body_step(const char* d, std::size_t pos, std::size_t n, bool final,
                        bool& progressed) {
    const ByteKind kind =
        stack.back().state == State::LeafBody ? ByteKind::Body : ByteKind::Structure;
    progressed = false;
    if (!any_delims()) {
      emit(d, pos, n, kind);
      line_start = n > pos ? d[n - 1] == '\n' : line_start;
      return n;
    }
    const std::size_t run_begin = pos;
    std::size_t frame = 0, line_end = 0;
    bool close = false;
    if (line_start) {
      switch (check_delim(d, pos, n, final, frame, close, line_end)) {
        case Delim::NeedMore: return pos;
        case Delim::Yes:
          if (on_delim(d, frame, close, pos, line_end)) {
            progressed = true;
            return line_end;
          }
          // Part limit: ordinary content, and so is everything after it (as below;
          // going on to look for delimiters in this window only would make the result
          // depend on where the input was cut).
          emit(d, pos, n, kind);
          line_start = n > pos && d[n - 1] == '\n';
          return n;
        case Delim::No: break;
      }
      line_start = false;
    }
    while (true) {
      const void* q = pos < n ? std::memchr(d + pos, '\n', n - pos) : nullptr;
      if (q == nullptr) {
        std::size_t end = n;
        if (!final && end > run_begin && d[end - 1] == '\r') --end;  // may start "\r\n"
        emit(d, run_begin, end, kind);
        return end;
      }
      const std::size_t nl = static_cast<const char*>(q) - d;
      const std::size_t s = nl + 1;
      const std::size_t eol_begin = (nl > run_begin && d[nl - 1] == '\r') ? nl - 1 : nl;
      switch (check_delim(d, s, n, final, frame, close, line_end)) {
        case Delim::NeedMore:
          emit(d, run_begin, eol_begin, kind);
          return eol_begin;
        case Delim::Yes:
          emit(d, run_begin, eol_begin, kind);
          if (on_delim(d, frame, close, eol_begin, line_end)) {
            progressed = true;
            return line_end;
          }
          // Part limit: ordinary content. Everything left is this part's.
          emit(d, eol_begin, n, kind);
          return n;
        case Delim::No: break;
      }
      pos = s;
    }
  }

  // Processes the window; returns how many bytes were consumed. Each step either
  // changes state (progressed) or consumes all it can decide.
  std::size_t run(const char* d, std::size_t n, bool final) {
    std::size_t pos = 0;
    while (true) {
      bool progressed = false;
      if (stack.back().state == State::Header)
        pos = header_step(d, pos, n, final, progressed);
      else
        pos = body_step(d, pos, n, final, progressed);
      if (!progressed) return pos;
    }
  }

  void feed(std::string_view chunk) {
    if (finished) return;
    fed += chunk.size();
    if (buf.empty()) {
      const std::size_t c = run(chunk.data(), chunk.size(), false);
      base += c;
      buf.assign(chunk.substr(c));
    } else {
      buf.append(chunk);
      const std::size_t c = run(buf.data(), buf.size(), false);
      base += c;
      buf.erase(0, c);
    }
    max_held = std::max(max_held, buf.size());
  }

  void finish() {
    if (finished) return;
    finished = true;
    const std::size_t c = run(buf.data(), buf.size(), true);
    base += c;
    buf.erase(0, c);
    // Everything left (nothing, normally) belongs to the innermost entity.
    if (!buf.empty()) {
      emit(buf.data(), 0, buf.size(), stack.back().state == State::LeafBody
                                          ? ByteKind::Body
                                          : ByteKind::Structure);
      base += buf.size();
      buf.clear();
    }
    while (!stack.empty()) end_frame(base);
  }
};

Scanner::Scanner(const Limits& limits, ScanHandler& handler)
    : impl_(std::make_unique<Impl>(limits, handler)) {}
Scanner::~Scanner() = default;
void Scanner::feed(std::string_view chunk) { impl_->feed(chunk); }
void Scanner::finish() { impl_->finish(); }
std::uint64_t Scanner::bytes_fed() const noexcept { return impl_->fed; }
std::size_t Scanner::max_held_bytes() const noexcept { return impl_->max_held; }
std::size_t Scanner::part_count() const noexcept { return impl_->part_count; }

namespace {
class TreeBuilder final : public ScanHandler {
 public:
  std::vector<Part> parts;
  void on_part_begin(const Part& p) override {
    if (parts.size() <= p.index) parts.resize(p.index + 1);
    parts[p.index] = p;
  }
  void on_bytes(std::uint64_t, std::string_view, ByteKind) override {}
  void on_part_end(const Part& p) override {
    if (parts.size() <= p.index) parts.resize(p.index + 1);
    parts[p.index] = p;
  }
};
}  // namespace

std::vector<Part> scan_message(std::string_view message, const Limits& limits) {
  TreeBuilder tb;
  Scanner s(limits, tb);
  s.feed(message);
  s.finish();
  for (Part& p : tb.parts)
    if (p.parent >= 0 && static_cast<std::size_t>(p.parent) < tb.parts.size())
      tb.parts[static_cast<std::size_t>(p.parent)].children.push_back(p.index);
  return std::move(tb.parts);
}

}  // namespace refmail::mime
