// smtp/reply_parser.cpp — RFC 5321 4.2 reply grammar:
//   Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF
#include "smtp/reply_parser.hpp"

#include "smtp/errc.hpp"

namespace refmail::smtp {

std::string ServerReply::enhanced() const {
  if (lines.empty()) return {};
  const std::string& l = lines.front();
  // class "." subject "." detail: [245] "." 1*3digit "." 1*3digit
  std::size_t i = 0;
  if (l.empty() || (l[0] != '2' && l[0] != '4' && l[0] != '5')) return {};
  i = 1;
  for (int part = 0; part < 2; ++part) {
    if (i >= l.size() || l[i] != '.') return {};
    ++i;
    std::size_t n = 0;
    while (i < l.size() && l[i] >= '0' && l[i] <= '9' && n < 4) ++i, ++n;
    if (n == 0 || n > 3) return {};
  }
  if (i < l.size() && l[i] != ' ') return {};
  return l.substr(0, i);
}

std::string ServerReply::text() const {
  std::string t;
  for (const auto& l : lines) {
    if (!t.empty()) t.push_back(' ');
    t += l;
  }
  return t;
}

boost::system::result<std::vector<ServerReply>> ReplyParser::feed(std::string_view bytes) {
  if (failed_) return errc::syntax_error;
  std::vector<ServerReply> out;
  buf_.append(bytes);
  std::size_t pos = 0;
  for (;;) {
    const std::size_t lf = buf_.find('\n', pos);
    if (lf == std::string::npos) {
      if (buf_.size() - pos > kMaxLine) {
        failed_ = true;
        return errc::line_too_long;
      }
      break;
    }
    std::string_view line(buf_.data() + pos, lf - pos);
    pos = lf + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() + 2 > kMaxLine || line.size() < 3) {
      failed_ = true;
      return line.size() < 3 ? errc::syntax_error : errc::line_too_long;
    }
    int code = 0;
    for (int k = 0; k < 3; ++k) {
      if (line[k] < '0' || line[k] > '9') {
        failed_ = true;
        return errc::syntax_error;
      }
      code = code * 10 + (line[k] - '0');
    }
    if (code < 200 || code > 599 || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      failed_ = true;
      return errc::syntax_error;
    }
    if (!cur_.lines.empty() && code != cur_.code) {
      failed_ = true;
      return errc::syntax_error;
    }
    cur_.code = code;
    cur_.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
    const bool more = line.size() > 3 && line[3] == '-';
    if (!more) {
      out.push_back(std::move(cur_));
      cur_ = ServerReply{};
    } else if (cur_.lines.size() >= kMaxLines) {
      failed_ = true;
      return errc::line_too_long;
    }
  }
  buf_.erase(0, pos);
  return out;
}

}  // namespace refmail::smtp
