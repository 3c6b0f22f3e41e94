// imap/message_body.cpp — BODY and BODYSTRUCTURE (RFC 9051 7.5.2 / RFC 3501 7.4.2) from a
// skeleton: sizes and lines of the JOINED message without joining it.
// Must never: read a blob except to count the lines of a cut identity or QP text.
// SECURITY: recursion follows the scanner's entity tree, whose depth the scanner bounds
// (mime::Limits::max_depth); output is a bounded function of the skeleton's header bytes.
#include <algorithm>

#include "imap/message_view.hpp"
#include "imap/message_view_internal.hpp"
#include "mime/codec.hpp"
#include "mime/errc.hpp"

namespace refmail::imap {
namespace {

using view_detail::Layout;

struct Writer {
  const Layout& l;
  bool extensible;
  mime::BlobSource* blobs;
  ViewOptions o;
  ResponseBuilder b;
  boost::system::error_code error;

  void str(std::string_view s) { view_detail::write_string(b, s, o.utf8); }

  void params(const std::vector<mime::Param>& ps) {
    if (ps.empty()) {
      b.atom("NIL");
      return;
    }
    b.open();
    for (std::size_t i = 0; i < ps.size(); ++i) {
      if (i) b.sp();
      str(ps[i].name);
      b.sp();
      str(ps[i].value);
    }
    b.close();
  }

  void field(const mime::Part& p, std::string_view name) {
    const mime::HeaderField* f = p.field(name);
    view_detail::write_nstring(b, f ? &f->value : nullptr, o.utf8);
  }

  // body-fld-dsp SP body-fld-lang SP body-fld-loc
  void extension_tail(const mime::Part& p) {
    b.sp();
    if (p.disposition.empty()) {
      b.atom("NIL");
    } else {
      b.open();
      str(p.disposition);
      b.sp();
      params(p.disposition_params);
      b.close();
    }
    b.sp();
    // Content-Language (RFC 3282): a list of tags.
    std::vector<std::string> tags;
    if (const mime::HeaderField* f = p.field("content-language")) {
      std::string cur;
      for (char c : f->value) {
        if (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
          if (!cur.empty()) tags.push_back(std::move(cur));
          cur.clear();
        } else {
          cur += c;
        }
      }
      if (!cur.empty()) tags.push_back(std::move(cur));
    }
    if (tags.empty()) {
      b.atom("NIL");
    } else {  // a list even for one tag (as Dovecot; RFC 9051 allows both)
      b.open();
      for (std::size_t i = 0; i < tags.size(); ++i) {
        if (i) b.sp();
        str(tags[i]);
      }
      b.close();
    }
    b.sp();
    field(p, "content-location");
  }

  // LF bytes in the joined body of part i.
  std::uint64_t lines(std::size_t i) {
    const mime::Part& p = l.parts[i];
    const std::string& bytes = l.scanned;  // placeholders are not LF
    std::uint64_t n = static_cast<std::uint64_t>(
        std::count(bytes.begin() + static_cast<std::ptrdiff_t>(p.body.begin),
                   bytes.begin() + static_cast<std::ptrdiff_t>(p.body.end), '\n'));
    const auto [lo, hi] = l.cuts_in_body(i);
    for (std::size_t k = lo; k < hi && !error; ++k) n += cut_lines(k);
    return n;
  }

  std::uint64_t cut_lines(std::size_t k) {
    const mime::Cut& c = l.skel->cuts[k];
    if (c.encoding == mime::CutEncoding::Base64) {
      // Every line ending holds one LF: lines - 1, plus the last line's if it has one.
      const mime::Base64Params bp{c.line_length - c.line_length % 4, c.line_ending, c.last_line_ending};
      if (mime::base64_encoded_size(c.decoded_size, bp) != c.encoded_size) {
        error = mime::errc::skeleton_corrupt;
        return 0;
      }
      const std::uint64_t chars = (c.decoded_size + 2) / 3 * 4;
      if (chars == 0) return 0;
      const std::uint64_t count = bp.line_length == 0 ? 1 : (chars + bp.line_length - 1) / bp.line_length;
      return count - 1 + (bp.last_line_ending ? 1 : 0);
    }
    // Identity and QP: the text's line breaks depend on the bytes; read the cut's text.
    if (blobs == nullptr) {
      error = view_errc::needs_blobs;
      return 0;
    }
    mime::Joiner j(*l.skel, *blobs);
    const std::uint64_t at = c.offset + l.cut_before[k];
    if (auto s = j.seek(at, c.encoded_size); !s) {
      error = s.error();
      return 0;
    }
    std::string buf(64 * 1024, '\0');
    std::uint64_t n = 0, got = 0;
    while (true) {
      auto r = j.read(std::span<char>(buf.data(), buf.size()));
      if (!r) {
        error = r.error();
        return 0;
      }
      if (*r == 0) break;
      got += *r;
      n += static_cast<std::uint64_t>(std::count(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*r), '\n'));
    }
    if (got != c.encoded_size) error = mime::errc::skeleton_corrupt;
    return n;
  }

  // ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 [NIL NIL NIL NIL])
  void empty_text() {
    b.atom("(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0");
    b.atom(extensible ? " NIL NIL NIL NIL)" : ")");
  }

  void part(std::size_t i) {
    if (error) return;
    const mime::Part& p = l.parts[i];
    b.open();
    // A multipart that was not parsed as one (no boundary, limits) is a multipart with
    // one empty text/plain part, as one whose delimiters never came (as Dovecot).
    if (p.is_multipart || p.type == "multipart") {
      if (p.children.empty() || !p.is_multipart) empty_text();  // RFC 9051: 1*body
      if (p.is_multipart)
        for (std::size_t c : p.children) part(c);
      b.sp();
      str(p.subtype);
      if (extensible) {
        b.sp();
        params(p.type_params);
        extension_tail(p);
      }
      b.close();
      return;
    }
    str(p.type);
    b.sp();
    str(p.subtype);
    b.sp();
    const bool has_charset = std::any_of(p.type_params.begin(), p.type_params.end(), [](const mime::Param& x) {
      return x.name == "charset" || x.name.starts_with("charset*");  // RFC 2231 forms too
    });
    if (p.type == "text" && !has_charset) {
      // RFC 2045 5.2: text without a charset is us-ascii (added last, as Dovecot does).
      std::vector<mime::Param> with = p.type_params;
      with.push_back({"charset", "us-ascii"});
      params(with);
    } else {
      params(p.type_params);
    }
    b.sp();
    field(p, "content-id");
    b.sp();
    field(p, "content-description");
    b.sp();
    str(p.transfer_encoding.empty() ? std::string_view("7bit") : std::string_view(p.transfer_encoding));
    b.sp();
    b.number(l.body(i).size());
    if (p.is_message && !p.children.empty()) {
      const std::size_t m = p.children.front();
      b.sp();
      view_detail::write_envelope(l.parts[m], o, b);
      b.sp();
      part(m);
      b.sp();
      b.number(lines(i));
    } else if (p.type == "message" && (p.subtype == "rfc822" || p.subtype == "global")) {
      // Not parsed (encoded, or past a limit): RFC 9051 still requires envelope, body and
      // lines after "message" "rfc822"; an empty envelope and body (as Dovecot).
      b.atom(" (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ");
      empty_text();
      b.sp();
      b.number(lines(i));
    } else if (p.type == "text") {
      b.sp();
      b.number(lines(i));
    }
    if (extensible) {
      b.atom(" NIL");  // body-fld-md5: not computed
      extension_tail(p);
    }
    b.close();
  }
};

}  // namespace

boost::system::result<std::string> body_structure(const mime::Skeleton& skel, bool extensible,
                                                  mime::BlobSource* blobs, ViewOptions options) {
  auto layout = view_detail::make_layout(skel, options.limits);
  if (!layout) return layout.error();
  Writer w{*layout, extensible, blobs, options, {}, {}};
  w.part(0);
  if (w.error) return w.error;
  return w.b.take();
}

}  // namespace refmail::imap
