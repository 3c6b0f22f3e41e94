// tools/sendmail/message.cpp — sendmail input handling and notification composition
// (see message.hpp). RFC 5322 2.2 (header fields, folding), 3.6.3 (Bcc), RFC 6409 8.
// SECURITY: bounded input (kMaxMessageBytes); recipients validated before any
// connection is made, so bad input never half-sends.
#include "tools/sendmail/message.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "mime/address.hpp"
#include "mime/blob_io.hpp"
#include "mime/composer.hpp"
#include "mime/errc.hpp"
#include "mime/headers.hpp"
#include "mime/joiner.hpp"
#include "smtp/address.hpp"

namespace refmail::sendmail {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 5322 2.2: field-name = 1*ftext (printable US-ASCII except ':'), then ':'.
std::size_t field_name_length(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] > 32 && line[i] < 127 && line[i] != ':') ++i;
  if (i == 0 || i >= line.size() || line[i] != ':') return 0;
  return i;
}

struct Field {
  std::string name;
  std::string raw;  // the whole field, folded lines included, with CRLFs
};

// The field body unfolded (RFC 5322 2.2.3), without the name and colon.
std::string unfolded_body(const Field& f) {
  std::string out;
  std::string_view v(f.raw);
  v.remove_prefix(f.name.size() + 1);
  for (char c : v)
    if (c != '\r' && c != '\n') out += c;
  return out;
}

class MemorySource final : public mime::BlobSource {
 public:
  std::map<std::string, std::string, std::less<>> blobs;
  boost::system::result<std::size_t> read(std::string_view blob_id, std::uint64_t offset,
                                          std::span<char> out) override {
    auto it = blobs.find(blob_id);
    if (it == blobs.end()) return mime::make_error_code(mime::errc::blob_missing);
    if (offset >= it->second.size()) return std::size_t{0};
    const std::size_t n = std::min<std::size_t>(out.size(), it->second.size() - offset);
    std::memcpy(out.data(), it->second.data() + offset, n);
    return n;
  }
};

std::string domain_of(std::string_view addr) {
  auto at = addr.rfind('@');
  return at == std::string_view::npos ? std::string("localhost") : std::string(addr.substr(at + 1));
}

}  // namespace

Result<std::string> read_sendmail_input(std::istream& in, bool ignore_dots) {
  std::string out, line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!ignore_dots && line == ".") break;  // sendmail(8): a lone dot ends the message
    out += line;
    out += "\r\n";
    if (out.size() > kMaxMessageBytes) {
      return fail(EX_DATAERR, "message larger than " + std::to_string(kMaxMessageBytes >> 20) + " MiB");
    }
  }
  if (in.bad()) return fail(EX_IOERR, "cannot read the message from stdin");
  return out;
}

Result<void> check_address(std::string_view addr, std::string_view what) {
  if (addr.find('@') == std::string_view::npos) {
    return fail(EX_DATAERR, std::string(what) + " without '@': " + one_line(addr));
  }
  const std::string path = "<" + std::string(addr) + ">";
  auto p = smtp::parse_path(path, smtp::PathKind::Forward);
  if (!p || !p->rest.empty() || p->address.domain.empty()) {
    return fail(EX_DATAERR, "bad " + std::string(what) + " address: " + one_line(addr));
  }
  return {};
}

Result<std::vector<mime::Address>> parse_mailboxes(const std::vector<std::string>& lists) {
  std::vector<mime::Address> out;
  for (const std::string& list : lists) {
    auto parsed = mime::parse_address_list(list);
    if (parsed.empty() && list.find_first_not_of(" \t,") != std::string::npos) {
      return fail(EX_DATAERR, "bad recipient: " + one_line(list));
    }
    for (mime::Address& a : parsed) {
      if (auto ok = check_address(a.email, "recipient"); !ok) return ok.error();
      const bool dup =
          std::any_of(out.begin(), out.end(), [&](const mime::Address& o) { return iequals(o.email, a.email); });
      if (!dup) out.push_back(std::move(a));
    }
  }
  return out;
}

Result<std::vector<std::string>> parse_recipients(const std::vector<std::string>& lists) {
  auto boxes = parse_mailboxes(lists);
  if (!boxes) return boxes.error();
  std::vector<std::string> out;
  for (mime::Address& a : *boxes) out.push_back(std::move(a.email));
  return out;
}

Result<Prepared> prepare_sendmail_message(std::string msg, bool extract, const std::vector<std::string>& operands,
                                          const HeaderDefaults& defaults) {
  // An mbox "From " separator line is not a header field: sendmail drops it.
  if (msg.starts_with("From ")) {
    auto eol = msg.find("\r\n");
    msg.erase(0, eol == std::string::npos ? msg.size() : eol + 2);
  }
  std::vector<Field> fields;
  std::size_t pos = 0;
  bool blank_line_follows = false;
  while (pos < msg.size()) {
    auto eol = msg.find("\r\n", pos);
    const std::size_t end = eol == std::string::npos ? msg.size() : eol + 2;
    std::string_view line(msg.data() + pos, (eol == std::string::npos ? msg.size() : eol) - pos);
    if (line.empty()) {
      blank_line_follows = true;
      break;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !fields.empty()) {
      fields.back().raw.append(msg, pos, end - pos);
    } else if (std::size_t n = field_name_length(line); n > 0) {
      fields.push_back(Field{std::string(line.substr(0, n)), msg.substr(pos, end - pos)});
    } else {
      break;  // not a header line: the body starts here
    }
    pos = end;
  }
  if (fields.empty() && extract) {
    return fail(EX_DATAERR, "-t: the message has no header (no To/Cc/Bcc to read recipients from)");
  }
  std::string body = msg.substr(pos);
  if (!blank_line_follows) body.insert(0, "\r\n");  // keep header and body apart

  std::vector<std::string> lists = operands;
  std::string head;
  bool has_from = false, has_date = false, has_message_id = false;
  for (const Field& f : fields) {
    const bool bcc = iequals(f.name, "Bcc");
    if (extract && (bcc || iequals(f.name, "To") || iequals(f.name, "Cc"))) lists.push_back(unfolded_body(f));
    if (bcc) continue;  // RFC 5322 3.6.3: Bcc recipients stay invisible to the others
    has_from = has_from || iequals(f.name, "From");
    has_date = has_date || iequals(f.name, "Date");
    has_message_id = has_message_id || iequals(f.name, "Message-ID");
    head += f.raw;
  }
  if (!has_from) {
    if (defaults.envelope_from.empty()) return fail(EX_DATAERR, "no From: header and no sender address (-f)");
    head += "From: " + mime::format_address(mime::Address{defaults.full_name, defaults.envelope_from}, 6) + "\r\n";
  }
  if (!has_date) head += "Date: " + mime::format_rfc5322_date(defaults.now) + "\r\n";
  if (!has_message_id && !defaults.message_id.empty()) head += "Message-ID: <" + defaults.message_id + ">\r\n";

  auto rcpts = parse_recipients(lists);
  if (!rcpts) return rcpts.error();
  if (rcpts->empty()) return fail(EX_DATAERR, "no recipients");
  return Prepared{head + body, std::move(*rcpts)};
}

Result<std::string> build_notification(const Notification& n) {
  mime::Draft d;
  d.from.push_back(mime::Address{n.from_name, n.from});
  d.to = n.to;
  d.cc = n.cc;
  d.bcc = n.bcc;
  d.subject = n.subject;
  d.text_body = n.text_body;
  d.html_body = n.html_body;
  d.date = n.now;
  d.random_seed = n.random;
  d.host = domain_of(n.from);
  MemorySource blobs;
  for (std::size_t i = 0; i < n.attachments.size(); ++i) {
    const std::string id = "attachment" + std::to_string(i);
    d.attachments.push_back(mime::DraftAttachment{id, n.attachments[i].name, n.attachments[i].type,
                                                  n.attachments[i].bytes.size(), std::nullopt});
    blobs.blobs.emplace(id, n.attachments[i].bytes);
  }
  auto composed = mime::compose(d);
  if (!composed) return fail(EX_DATAERR, "cannot build the message: " + composed.error().message());
  auto joined = mime::join_all(composed->skeleton, blobs);
  if (!joined) return fail(EX_SOFTWARE, "cannot build the message: " + joined.error().message());
  return std::move(*joined);
}

std::string guess_media_type(std::string_view file_name) {
  static const std::map<std::string, std::string, std::less<>> types{
      {"txt", "text/plain"}, {"log", "text/plain"}, {"csv", "text/csv"}, {"html", "text/html"},
      {"htm", "text/html"}, {"pdf", "application/pdf"}, {"png", "image/png"}, {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"}, {"gif", "image/gif"}, {"svg", "image/svg+xml"}, {"json", "application/json"},
      {"xml", "application/xml"}, {"zip", "application/zip"}, {"gz", "application/gzip"},
      {"tar", "application/x-tar"}, {"eml", "message/rfc822"}};
  auto dot = file_name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  std::string ext(file_name.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = types.find(ext);
  return it == types.end() ? "application/octet-stream" : it->second;
}

Result<std::string> read_file(const std::string& path, std::string_view what) {
  std::ostringstream ss;
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(EX_NOINPUT, "cannot read " + std::string(what) + " " + path + ": " + std::strerror(errno));
  ss << in.rdbuf();
  if (in.bad()) return fail(EX_NOINPUT, "cannot read " + std::string(what) + " " + path);
  if (ss.str().size() > kMaxMessageBytes) return fail(EX_DATAERR, std::string(what) + " " + path + " is too large");
  return ss.str();
}

std::uint64_t random_u64() {
  std::uint64_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) {
    std::fprintf(stderr, "refmail-sendmail: no randomness available\n");
    std::abort();
  }
  return v;
}

std::string make_message_id(std::string_view domain) {
  static const char* hex = "0123456789abcdef";
  std::string left;
  for (int i = 0; i < 2; ++i) {
    std::uint64_t r = random_u64();
    for (int k = 0; k < 16; ++k, r >>= 4) left += hex[r & 15];
  }
  return left + "@" + std::string(domain.empty() ? "localhost" : domain);
}

}  // namespace refmail::sendmail
