// imap/client.cpp — see client.hpp. The parser first finds where a whole
// response ends (CRLF not preceded by a literal announcement, RFC 3501 4.3 / 7), then
// tokenizes it; literals over the limit are dropped as they stream and remembered.
#include "imap/client.hpp"
#include "imap/datetime.hpp"
#include "imap/mutf7.hpp"
#include "imap/strings.hpp"

#include <algorithm>
#include <charconv>

#include <boost/beast/core/detail/base64.hpp>

namespace refmail::imap {
namespace {

std::string upper(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return o;
}

template <class Int>
std::optional<Int> to_number(std::string_view s) {
  Int v{};
  if (s.empty() || s.size() > 20) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// A parsed value of a response (RFC 3501 9: atom, number, string, literal, NIL, list).
struct Value {
  enum class Type { Atom, String, List, Nil, SkippedLiteral };
  Type type = Type::Atom;
  std::string text;
  std::vector<Value> list;
  std::uint64_t size = 0;  // SkippedLiteral
};

// Tokenizer over one complete response. `skipped` lists oversized literals by the
// offset of their '{' relative to `in`.
class Lexer {
 public:
  Lexer(std::string_view in, std::vector<std::pair<std::size_t, std::uint64_t>> skipped, std::size_t max_items)
      : in_(in), skipped_(std::move(skipped)), max_items_(max_items) {}

  bool at_end() const { return pos_ + 2 >= in_.size() && rest_is_crlf(); }
  bool rest_is_crlf() const { return in_.substr(pos_) == "\r\n"; }
  std::size_t pos() const { return pos_; }
  std::string_view rest_of_line() const {
    auto e = in_.find("\r\n", pos_);
    return in_.substr(pos_, e == std::string_view::npos ? std::string_view::npos : e - pos_);
  }
  bool eat(char c) {
    if (pos_ < in_.size() && in_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  char peek() const { return pos_ < in_.size() ? in_[pos_] : '\0'; }
  void skip_spaces() {
    while (pos_ < in_.size() && in_[pos_] == ' ') ++pos_;
  }
  // An atom up to SP/paren/CRLF; brackets may hold spaces and parens (BODY[HEADER.FIELDS (X)]).
  std::string_view atom() {
    std::size_t b = pos_;
    int depth = 0;
    while (pos_ < in_.size()) {
      char c = in_[pos_];
      if (c == '\r' || c == '\n') break;
      if (c == '[') ++depth;
      else if (c == ']' && depth > 0) --depth;
      else if (depth == 0 && (c == ' ' || c == '(' || c == ')' || c == '"' || c == '{')) break;
      ++pos_;
    }
    return in_.substr(b, pos_ - b);
  }

  bool value(Value& v, int depth = 0) {
    if (++items_ > max_items_ || depth > 32) return false;
    skip_spaces();
    if (pos_ >= in_.size()) return false;
    char c = in_[pos_];
    if (c == '(') {
      ++pos_;
      v.type = Value::Type::List;
      for (;;) {
        skip_spaces();
        if (eat(')')) return true;
        if (pos_ >= in_.size() || in_[pos_] == '\r') return false;
        Value e;
        if (!value(e, depth + 1)) return false;
        v.list.push_back(std::move(e));
      }
    }
    if (c == '"') {
      ++pos_;
      v.type = Value::Type::String;
      while (pos_ < in_.size()) {
        char d = in_[pos_++];
        if (d == '"') return true;
        if (d == '\r' || d == '\n') return false;
        if (d == '\\') {
          if (pos_ >= in_.size()) return false;
          d = in_[pos_++];
        }
        v.text.push_back(d);
      }
      return false;
    }
    if (c == '{') {
      std::size_t open = pos_;
      auto close = in_.find('}', pos_);
      if (close == std::string_view::npos) return false;
      auto digits = in_.substr(pos_ + 1, close - pos_ - 1);
      if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
      auto n = to_number<std::uint64_t>(digits);
      if (!n || in_.substr(close + 1, 2) != "\r\n") return false;
      pos_ = close + 3;
      for (const auto& [at, size] : skipped_) {
        if (at == open) {
          v.type = Value::Type::SkippedLiteral;
          v.size = size;
          return true;
        }
      }
      if (in_.size() - pos_ < *n) return false;
      v.type = Value::Type::String;
      v.text.assign(in_.substr(pos_, *n));
      pos_ += *n;
      return true;
    }
    auto a = atom();
    if (a.empty()) return false;
    if (upper(a) == "NIL") {
      v.type = Value::Type::Nil;
    } else {
      v.type = Value::Type::Atom;
      v.text.assign(a);
    }
    return true;
  }

 private:
  std::string_view in_;
  std::vector<std::pair<std::size_t, std::uint64_t>> skipped_;
  std::size_t max_items_;
  std::size_t items_ = 0;
  std::size_t pos_ = 0;
};

// resp-text (RFC 3501 9): optional "[code]" then text.
void parse_resp_text(std::string_view s, Response& r) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  if (!s.empty() && s.front() == '[') {
    auto e = s.find(']');
    if (e != std::string_view::npos) {
      r.code.assign(s.substr(1, e - 1));
      s.remove_prefix(e + 1);
      while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    }
  }
  r.text.assign(s);
}

bool is_status(std::string_view u) {
  return u == "OK" || u == "NO" || u == "BAD" || u == "BYE" || u == "PREAUTH";
}

bool parse_fetch(Lexer& lx, Response& r) {
  Value list;
  if (!lx.value(list) || list.type != Value::Type::List || list.list.size() % 2 != 0) return false;
  FetchData f;
  f.seq = r.number.value_or(0);
  for (std::size_t i = 0; i < list.list.size(); i += 2) {
    const auto& name = list.list[i];
    const auto& val = list.list[i + 1];
    if (name.type != Value::Type::Atom) return false;
    std::string n = upper(name.text);
    if (n == "UID") {
      auto u = to_number<std::uint32_t>(val.text);
      if (val.type != Value::Type::Atom || !u) return false;
      f.uid = *u;
    } else if (n == "FLAGS") {
      if (val.type != Value::Type::List) return false;
      std::vector<std::string> flags;
      for (const auto& e : val.list) {
        if (e.type != Value::Type::Atom) return false;
        flags.push_back(e.text);
      }
      f.flags = std::move(flags);
    } else if (n == "INTERNALDATE") {
      if (val.type != Value::Type::String) return false;
      f.internal_date = val.text;
    } else if (n == "RFC822.SIZE") {
      auto s = to_number<std::uint64_t>(val.text);
      if (val.type != Value::Type::Atom || !s) return false;
      f.rfc822_size = *s;
    } else if (n == "BODY[]" || n == "RFC822") {
      if (val.type == Value::Type::SkippedLiteral) {
        f.body_too_large = true;
        f.body_size = val.size;
      } else if (val.type == Value::Type::String) {
        f.body_size = val.text.size();
        f.body = std::move(const_cast<Value&>(val).text);
      } else if (val.type == Value::Type::Nil) {
        f.body = std::string();
      } else {
        return false;
      }
    }
    // Other items (MODSEQ, X-GM-*, ...) are ignored.
  }
  r.fetch = std::move(f);
  return true;
}

boost::system::result<Response> parse_response(std::string_view in,
                                               std::vector<std::pair<std::size_t, std::uint64_t>> skipped,
                                               std::size_t max_items) {
  Response r;
  Lexer lx(in, std::move(skipped), max_items);
  if (lx.eat('+')) {
    r.kind = Response::Kind::Continuation;
    auto t = lx.rest_of_line();
    if (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    r.text.assign(t);
    return r;
  }
  bool untagged = lx.eat('*');
  std::string tag;
  if (!untagged) {
    tag.assign(lx.atom());
    if (tag.empty()) return errc::syntax;
  }
  if (!lx.eat(' ')) return errc::syntax;
  auto first = lx.atom();
  if (first.empty()) return errc::syntax;
  std::string ufirst = upper(first);
  if (!untagged) {
    r.kind = Response::Kind::Tagged;
    r.tag = std::move(tag);
    if (!is_status(ufirst)) return errc::syntax;
    r.status = ufirst;
    parse_resp_text(lx.rest_of_line(), r);
    return r;
  }
  r.kind = Response::Kind::Untagged;
  if (is_status(ufirst)) {
    r.status = ufirst;
    parse_resp_text(lx.rest_of_line(), r);
    return r;
  }
  if (auto n = to_number<std::uint32_t>(first)) {
    // message-data / mailbox-data with a number (RFC 3501 7.3.1, 7.4).
    r.number = *n;
    if (!lx.eat(' ')) return errc::syntax;
    r.keyword = upper(lx.atom());
    if (r.keyword == "FETCH") {
      if (!lx.eat(' ') || !parse_fetch(lx, r)) return errc::syntax;
      lx.skip_spaces();
      if (!lx.rest_is_crlf()) return errc::syntax;
    }
    return r;
  }
  r.keyword = ufirst;
  if (r.keyword == "SEARCH") {
    for (;;) {
      lx.skip_spaces();
      if (lx.rest_is_crlf()) break;
      auto a = lx.atom();
      auto n = to_number<std::uint32_t>(a);
      if (!n) {
        if (lx.peek() == '(') break;  // (MODSEQ n) from CONDSTORE
        return errc::syntax;
      }
      r.numbers.push_back(*n);
    }
    return r;
  }
  if (r.keyword == "CAPABILITY" || r.keyword == "ENABLED") {
    for (;;) {
      lx.skip_spaces();
      if (lx.rest_is_crlf()) break;
      auto a = lx.atom();
      if (a.empty()) return errc::syntax;
      r.atoms.push_back(upper(a));
    }
    return r;
  }
  if (r.keyword == "FLAGS") {
    Value v;
    if (!lx.value(v) || v.type != Value::Type::List) return errc::syntax;
    for (auto& e : v.list) r.atoms.push_back(e.text);
    return r;
  }
  // LIST, LSUB, STATUS, NAMESPACE, ID ...: kept as text (unused by the importer).
  r.text.assign(lx.rest_of_line());
  return r;
}



}  // namespace


std::optional<std::uint32_t> Response::code_number(std::string_view name) const {
  if (code.size() <= name.size() + 1) return std::nullopt;
  if (upper(code.substr(0, name.size())) != name || code[name.size()] != ' ') return std::nullopt;
  auto rest = std::string_view(code).substr(name.size() + 1);
  auto sp = rest.find(' ');
  return to_number<std::uint32_t>(rest.substr(0, sp));
}

void Parser::feed(std::string_view bytes) {
  if (error_) return;
  // Drop the bytes of an oversized literal as they stream by.
  if (skip_ > 0) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, bytes.size()));
    skip_ -= n;
    bytes.remove_prefix(n);
  }
  buf_.append(bytes);
}

boost::system::result<std::optional<Response>> Parser::next() {
  if (error_) return *error_;
  auto r = scan();
  if (!r) error_ = r.error();
  return r;
}

boost::system::result<std::optional<Response>> Parser::scan() {
  for (;;) {
    if (skip_ > 0) return std::optional<Response>();
    // The text segment being scanned starts after the last literal (or at start_).
    std::size_t seg_start = line_start_ ? *line_start_ : start_;
    auto crlf = buf_.find("\r\n", scan_);
    if (crlf == std::string::npos) {
      if (buf_.size() - seg_start > limits_.max_line_bytes) return errc::line_too_long;
      // Resume one byte back next time: a CR may get its LF in the next feed.
      scan_ = std::max(seg_start, buf_.empty() ? std::size_t{0} : buf_.size() - 1);
      return std::optional<Response>();
    }
    if (crlf - seg_start > limits_.max_line_bytes) return errc::line_too_long;
    // The whole response (text segments and kept literals) is bounded as well: a server
    // chaining small literals ("{9}\r\n...{9}\r\n...") would otherwise grow one
    // response without end (found by tests/fuzz/fuzz_imap_client).
    if (crlf - start_ > max_response_bytes()) return errc::line_too_long;
    std::string_view seg(buf_.data() + seg_start, crlf - seg_start);
    // RFC 3501 4.3: a line ending in {n} (or {n+}, RFC 7888) announces n bytes.
    if (!seg.empty() && seg.back() == '}') {
      auto open = seg.rfind('{');
      if (open == std::string_view::npos) return errc::bad_literal;
      auto digits = seg.substr(open + 1, seg.size() - open - 2);
      if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
      auto n = to_number<std::uint64_t>(digits);
      if (!n) return errc::bad_literal;
      std::size_t body = crlf + 2;
      // A literal that fits alone but would push the response over its bound is
      // skipped like an oversized one (reported as too large, never buffered).
      if (*n > limits_.max_literal_bytes || body - start_ + *n > max_response_bytes()) {
        // Too large: remember it, drop its bytes, continue after it.
        skipped_.push_back({seg_start + open, *n});
        std::size_t have = buf_.size() - body;
        std::uint64_t drop = std::min<std::uint64_t>(have, *n);
        buf_.erase(body, static_cast<std::size_t>(drop));
        skip_ = *n - drop;
        scan_ = body;
        line_start_ = body;
        continue;
      }
      if (buf_.size() - body < *n) {
        scan_ = crlf;  // rescan from the CRLF when more arrives (cheap: finds it at once)
        line_start_ = seg_start;
        return std::optional<Response>();
      }
      scan_ = body + static_cast<std::size_t>(*n);
      line_start_ = scan_;
      continue;
    }
    // A whole response: [start_, crlf + 2).
    std::size_t end = crlf + 2;
    std::string_view whole(buf_.data() + start_, end - start_);
    std::vector<std::pair<std::size_t, std::uint64_t>> sk;
    for (const auto& s : skipped_) sk.emplace_back(s.pos - start_, s.size);
    auto r = parse_response(whole, std::move(sk), limits_.max_response_items);
    if (!r) return r.error();
    skipped_.clear();
    line_start_.reset();
    start_ = end;
    scan_ = end;
    // Compact once the consumed prefix is large.
    if (start_ > 64 * 1024 || start_ == buf_.size()) {
      buf_.erase(0, start_);
      scan_ -= start_;
      start_ = 0;
    }
    return std::optional<Response>(std::move(*r));
  }
}


boost::system::result<std::string> mailbox_arg(std::string_view utf8) {
  auto m = mutf7_encode(utf8);
  if (!m) return m.error();
  return quote(*m);
}

std::string uid_set(std::vector<std::uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  std::string s;
  for (std::size_t i = 0; i < uids.size();) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!s.empty()) s.push_back(',');
    s += std::to_string(uids[i]);
    if (j > i) s += ":" + std::to_string(uids[j]);
    i = j + 1;
  }
  return s;
}

std::optional<std::int64_t> parse_internal_date(std::string_view s) {
  // RFC 3501 9 date-time without its quotes; servers may pad the day with spaces.
  while (s.size() > 1 && s[0] == ' ' && s[1] == ' ') s.remove_prefix(1);
  auto t = parse_date_time(s);
  if (!t) return std::nullopt;
  return t->to_unix();
}

std::vector<std::string> flags_to_keywords(const std::vector<std::string>& flags) {
  std::vector<std::string> out;
  for (const auto& f : flags) {
    std::string l;
    for (char c : f) l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    std::string k;
    if (l == "\\seen") k = "$seen";
    else if (l == "\\answered") k = "$answered";
    else if (l == "\\flagged") k = "$flagged";
    else if (l == "\\draft") k = "$draft";
    else if (l.empty() || l[0] == '\\' || l.size() > 255) continue;  // \Recent, \Deleted, \*
    else k = l;
    bool ok = true;
    for (char c : k) {
      auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u >= 0x7f || std::string_view("(){]%*\"\\").find(c) != std::string_view::npos) ok = false;
    }
    if (ok && std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
  }
  return out;
}

std::string Commands::line(std::string_view rest) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "A%04u", ++n_);
  tag_ = buf;
  return tag_ + " " + std::string(rest) + "\r\n";
}

boost::system::result<std::string> Commands::login(std::string_view user, std::string_view password) {
  auto u = quote(user);
  if (!u) return u.error();
  auto p = quote(password);
  if (!p) return p.error();
  return line("LOGIN " + *u + " " + *p);
}

boost::system::result<std::string> Commands::authenticate_plain(std::string_view authzid, std::string_view user,
                                                                std::string_view password) {
  std::string msg;
  msg.append(authzid).push_back('\0');
  msg.append(user).push_back('\0');
  msg.append(password);
  for (char c : msg.substr(0, msg.size()))
    if (c == '\r' || c == '\n') return errc::unsafe_argument;
  std::string enc(boost::beast::detail::base64::encoded_size(msg.size()), '\0');
  enc.resize(boost::beast::detail::base64::encode(enc.data(), msg.data(), msg.size()));
  return line("AUTHENTICATE PLAIN " + (enc.empty() ? std::string("=") : enc));
}

boost::system::result<std::string> Commands::select(std::string_view mailbox) {
  auto m = mailbox_arg(mailbox);
  if (!m) return m.error();
  return line("SELECT " + *m);
}

boost::system::result<std::string> Commands::examine(std::string_view mailbox) {
  auto m = mailbox_arg(mailbox);
  if (!m) return m.error();
  return line("EXAMINE " + *m);
}

std::string Commands::uid_fetch_messages(const std::vector<std::uint32_t>& uids) {
  return line("UID FETCH " + uid_set(uids) + " (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])");
}

}  // namespace refmail::imap
