// smtp/params.cpp — ESMTP MAIL/RCPT parameter parsing (RFC 5321 4.1.2, RFC 1870,
// RFC 6152, RFC 3030, RFC 6531, RFC 3461, RFC 4954).
// SECURITY: a bounded number of parameters (kMaxParams) and bounded values.
#include "smtp/params.hpp"

#include "smtp/errc.hpp"

#include <charconv>
#include <vector>

namespace refmail::smtp {
namespace {

constexpr std::size_t kMaxParams = 16;
constexpr std::size_t kMaxXtextDecoded = 100;  // RFC 3461 4.2 / 4.4

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

struct Param {
  std::string_view keyword;
  std::optional<std::string_view> value;
};

// RFC 5321 4.1.2: esmtp-param = esmtp-keyword ["=" esmtp-value]
// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"); esmtp-value = 1*(%d33-60 / %d62-126)
// (RFC 6531 3.3 adds UTF-8 to esmtp-value; values we accept are all ASCII anyway.)
boost::system::result<std::vector<Param>> split_params(std::string_view rest) {
  std::vector<Param> out;
  std::size_t i = 0;
  if (!rest.empty() && rest[0] != ' ') return errc::syntax_error;
  while (i < rest.size()) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    if (i == rest.size()) break;
    std::size_t j = i;
    while (j < rest.size() && rest[j] != ' ') ++j;
    const std::string_view tok = rest.substr(i, j - i);
    i = j;
    if (out.size() == kMaxParams) return errc::bad_parameter;
    const std::size_t eq = tok.find('=');
    Param p;
    p.keyword = tok.substr(0, eq);
    if (p.keyword.empty()) return errc::bad_parameter;
    for (char c : p.keyword) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-';
      if (!ok) return errc::bad_parameter;
    }
    if (p.keyword[0] == '-') return errc::bad_parameter;
    if (eq != std::string_view::npos) {
      const std::string_view v = tok.substr(eq + 1);
      if (v.empty()) return errc::bad_parameter;
      for (unsigned char c : v)
        if (c < 33 || c == '=' || c >= 127) return errc::bad_parameter;
      p.value = v;
    }
    for (const Param& q : out)
      if (iequals_ascii(q.keyword, p.keyword)) return errc::bad_parameter;  // duplicate
    out.push_back(p);
  }
  return out;
}

bool is_xchar(unsigned char c) { return c >= 33 && c <= 126 && c != '+' && c != '='; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // RFC 3461 4: hexchar is upper-case only
}

}  // namespace

std::optional<std::string> decode_xtext(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '+') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int h = hex_value(s[i + 1]), l = hex_value(s[i + 2]);
      if (h < 0 || l < 0) return std::nullopt;
      const int v = h * 16 + l;
      if (v < 32 || v > 126) return std::nullopt;  // printable ASCII only (no NUL, no CRLF)
      out.push_back(static_cast<char>(v));
      i += 2;
    } else if (is_xchar(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::string encode_xtext(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (is_xchar(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('+');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

boost::system::result<MailParams> parse_mail_params(std::string_view rest) {
  auto params = split_params(rest);
  if (!params) return params.error();
  MailParams mp;
  for (const Param& p : *params) {
    const std::string_view v = p.value.value_or(std::string_view{});
    if (iequals_ascii(p.keyword, "SIZE")) {
      // RFC 1870 6: size-value ::= 1*20DIGIT
      if (!p.value || v.size() > 20) return errc::bad_parameter;
      std::uint64_t n = 0;
      const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc{} || ptr != v.data() + v.size()) {
        if (ec == std::errc::result_out_of_range) n = UINT64_MAX;  // "too big" is not a syntax error
        else return errc::bad_parameter;
      }
      mp.size = n;
    } else if (iequals_ascii(p.keyword, "BODY")) {
      if (iequals_ascii(v, "7BIT")) mp.body = Body::SevenBit;
      else if (iequals_ascii(v, "8BITMIME")) mp.body = Body::EightBitMime;
      else if (iequals_ascii(v, "BINARYMIME")) mp.body = Body::BinaryMime;
      else return errc::bad_parameter;
    } else if (iequals_ascii(p.keyword, "SMTPUTF8")) {
      if (p.value) return errc::bad_parameter;  // RFC 6531 3.4: no value
      mp.smtputf8 = true;
    } else if (iequals_ascii(p.keyword, "RET")) {
      if (iequals_ascii(v, "FULL")) mp.ret = DsnRet::Full;
      else if (iequals_ascii(v, "HDRS")) mp.ret = DsnRet::Hdrs;
      else return errc::bad_parameter;
    } else if (iequals_ascii(p.keyword, "ENVID")) {
      auto d = p.value ? decode_xtext(v) : std::nullopt;
      if (!d || d->empty() || d->size() > kMaxXtextDecoded) return errc::bad_parameter;
      mp.envid = std::move(*d);
    } else if (iequals_ascii(p.keyword, "AUTH")) {
      // RFC 4954 5: AUTH=<> or AUTH=xtext(mailbox)
      if (!p.value) return errc::bad_parameter;
      if (v == "<>") {
        mp.auth = "<>";
      } else {
        auto d = decode_xtext(v);
        if (!d || d->empty() || d->size() > 256) return errc::bad_parameter;
        mp.auth = std::move(*d);
      }
    } else {
      return errc::unknown_parameter;
    }
  }
  return mp;
}

boost::system::result<RcptParams> parse_rcpt_params(std::string_view rest) {
  auto params = split_params(rest);
  if (!params) return params.error();
  RcptParams rp;
  for (const Param& p : *params) {
    const std::string_view v = p.value.value_or(std::string_view{});
    if (iequals_ascii(p.keyword, "NOTIFY")) {
      // RFC 3461 4.1: "NEVER" / 1#("SUCCESS" / "FAILURE" / "DELAY")
      if (!p.value) return errc::bad_parameter;
      unsigned flags = 0;
      std::size_t i = 0;
      while (i <= v.size()) {
        std::size_t j = v.find(',', i);
        if (j == std::string_view::npos) j = v.size();
        const std::string_view w = v.substr(i, j - i);
        unsigned f;
        if (iequals_ascii(w, "NEVER")) f = kNotifyNever;
        else if (iequals_ascii(w, "SUCCESS")) f = kNotifySuccess;
        else if (iequals_ascii(w, "FAILURE")) f = kNotifyFailure;
        else if (iequals_ascii(w, "DELAY")) f = kNotifyDelay;
        else return errc::bad_parameter;
        if (flags & f) return errc::bad_parameter;
        flags |= f;
        i = j + 1;
      }
      if ((flags & kNotifyNever) && flags != kNotifyNever) return errc::bad_parameter;
      rp.notify = flags;
    } else if (iequals_ascii(p.keyword, "ORCPT")) {
      // RFC 3461 4.2: ORCPT=addr-type ";" xtext
      const std::size_t semi = v.find(';');
      // RFC 3461 4.2: at most 500 characters.
      if (!p.value || semi == std::string_view::npos || semi == 0 || v.size() > 500)
        return errc::bad_parameter;
      const std::string_view type = v.substr(0, semi);
      for (char c : type) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '-';
        if (!ok) return errc::bad_parameter;
      }
      auto d = decode_xtext(v.substr(semi + 1));
      if (!d || d->empty()) return errc::bad_parameter;
      rp.orcpt_type.assign(type);
      rp.orcpt = std::move(*d);
    } else {
      return errc::unknown_parameter;
    }
  }
  return rp;
}

}  // namespace refmail::smtp
