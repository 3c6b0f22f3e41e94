// imap/parse_fetch.cpp — the message commands over a sequence set: FETCH / UID FETCH
// (RFC 9051 6.4.5: every fetch-att and the ALL/FAST/FULL macros; BINARY RFC 3516;
// CHANGEDSINCE and VANISHED RFC 7162 3.1.4 / 3.2.6; MODSEQ; EMAILID/THREADID RFC 8474;
// SAVEDATE RFC 8514), STORE (RFC 9051 6.4.6, UNCHANGEDSINCE RFC 7162 3.1.3) and
// COPY / MOVE (RFC 9051 6.4.7, RFC 6851).
// Must never: accept a partial with length 0, a section part 0, or VANISHED without
// UID FETCH and CHANGEDSINCE (RFC 7162 3.2.6: that is a BAD).
#include <cctype>

#include "imap/parse_internal.hpp"

namespace refmail::imap::detail {

std::optional<Section> Parser::section(bool binary) {
  // section = "[" [section-spec] "]"; section-binary = "[" [section-part] "]"
  Section s;
  if (!eat('[')) return fail("Expected ["), std::nullopt;
  if (eat(']')) return s;
  bool need_text = true;
  if (peek() >= '0' && peek() <= '9') {
    need_text = false;
    for (;;) {
      auto n = nz_number();
      if (!n) return std::nullopt;
      if (s.part.size() >= 64) return fail("Section part too deep", errc::too_deep), std::nullopt;
      s.part.push_back(*n);
      if (!eat('.')) break;
      if (!(peek() >= '0' && peek() <= '9')) {
        need_text = true;
        break;
      }
    }
  }
  if (need_text) {
    if (binary) return fail("Bad BINARY section"), std::nullopt;
    bool fields_not = word("HEADER.FIELDS.NOT");
    if (fields_not || word("HEADER.FIELDS")) {
      s.text = fields_not ? Section::Text::HeaderFieldsNot : Section::Text::HeaderFields;
      if (!sp() || !eat('(')) return fail("Expected a header list"), std::nullopt;
      do {
        if (!count_item()) return std::nullopt;
        auto f = astring();
        if (!f) return std::nullopt;
        s.fields.push_back(std::move(*f));
      } while (eat(' '));
      if (!eat(')')) return fail("Expected )"), std::nullopt;
    } else if (word("HEADER")) {
      s.text = Section::Text::Header;
    } else if (word("TEXT")) {
      s.text = Section::Text::Text;
    } else if (!s.part.empty() && word("MIME")) {
      s.text = Section::Text::Mime;
    } else {
      return fail("Bad section"), std::nullopt;
    }
  }
  if (!eat(']')) return fail("Expected ]"), std::nullopt;
  return s;
}

bool Parser::fetch_att(std::vector<FetchAtt>& out) {
  if (!count_item()) return false;
  auto l = line();
  std::size_t b = pos_;
  while (pos_ < l.size() && (std::isalnum(static_cast<unsigned char>(l[pos_])) || l[pos_] == '.')) ++pos_;
  std::string n = upper(l.substr(b, pos_ - b));
  FetchAtt a;
  using K = FetchAtt::Kind;
  auto simple = [&](K k) {
    a.kind = k;
    out.push_back(a);
    return true;
  };
  if (peek() != '[') {
    if (n == "ENVELOPE") return simple(K::Envelope);
    if (n == "FLAGS") return simple(K::Flags);
    if (n == "INTERNALDATE") return simple(K::InternalDate);
    if (n == "RFC822") return simple(K::Rfc822);
    if (n == "RFC822.HEADER") return simple(K::Rfc822Header);
    if (n == "RFC822.SIZE") return simple(K::Rfc822Size);
    if (n == "RFC822.TEXT") return simple(K::Rfc822Text);
    if (n == "BODY") return simple(K::Body);
    if (n == "BODYSTRUCTURE") return simple(K::BodyStructure);
    if (n == "UID") return simple(K::Uid);
    if (n == "MODSEQ") return simple(K::ModSeq);
    if (n == "EMAILID") return simple(K::EmailId);
    if (n == "THREADID") return simple(K::ThreadId);
    if (n == "SAVEDATE") return simple(K::SaveDate);
    return fail("Unknown fetch attribute " + n.substr(0, 32));
  }
  bool binary = false;
  if (n == "BODY" || n == "BODY.PEEK") {
    a.kind = K::BodySection;
  } else if (n == "BINARY" || n == "BINARY.PEEK") {
    a.kind = K::Binary;
    binary = true;
  } else if (n == "BINARY.SIZE") {
    a.kind = K::BinarySize;
    binary = true;
  } else {
    return fail("Unknown fetch attribute " + n.substr(0, 32));
  }
  a.peek = n.size() > 5 && n.substr(n.size() - 5) == ".PEEK";
  auto s = section(binary);
  if (!s) return false;
  a.section = std::move(*s);
  if (a.kind != K::BinarySize && eat('<')) {
    // partial = "<" number "." nz-number ">"
    auto off = number();
    auto len = off && eat('.') ? nz_number() : std::nullopt;
    if (!len || !eat('>')) return fail("Bad partial");
    a.partial = Partial{*off, *len};
  }
  out.push_back(std::move(a));
  return true;
}

std::optional<CommandBody> Parser::fetch(bool uid) {
  Fetch c;
  c.uid = uid;
  auto s = sp() ? sequence_set() : std::nullopt;
  if (!s || !sp()) return std::nullopt;
  c.set = std::move(*s);
  using K = FetchAtt::Kind;
  auto macro = [&](std::initializer_list<K> kinds) {
    for (K k : kinds) c.atts.push_back(FetchAtt{k, false, {}, std::nullopt});
  };
  // RFC 9051 6.4.5: the macros and their expansions.
  if (word("ALL")) {
    macro({K::Flags, K::InternalDate, K::Rfc822Size, K::Envelope});
  } else if (word("FAST")) {
    macro({K::Flags, K::InternalDate, K::Rfc822Size});
  } else if (word("FULL")) {
    macro({K::Flags, K::InternalDate, K::Rfc822Size, K::Envelope, K::Body});
  } else if (eat('(')) {
    do {
      if (!fetch_att(c.atts)) return std::nullopt;
    } while (eat(' '));
    if (!eat(')')) return fail("Expected )"), std::nullopt;
  } else if (!fetch_att(c.atts)) {
    return std::nullopt;
  }
  if (at_end()) return c;
  // fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"
  if (!sp() || !eat('(')) return fail("Expected fetch modifiers"), std::nullopt;
  do {
    if (!count_item()) return std::nullopt;
    if (word("CHANGEDSINCE")) {
      auto m = sp() ? number64() : std::nullopt;
      if (!m) return std::nullopt;
      c.changed_since = *m;
    } else if (word("VANISHED")) {
      c.vanished = true;
    } else {
      return fail("Unknown fetch modifier"), std::nullopt;
    }
  } while (eat(' '));
  if (!eat(')')) return fail("Expected )"), std::nullopt;
  if (c.vanished && (!uid || !c.changed_since))
    return fail("VANISHED requires UID FETCH and CHANGEDSINCE"), std::nullopt;
  return c;
}

std::optional<CommandBody> Parser::store(bool uid) {
  Store c;
  c.uid = uid;
  auto s = sp() ? sequence_set() : std::nullopt;
  if (!s || !sp()) return std::nullopt;
  c.set = std::move(*s);
  if (eat('(')) {
    // store-modifiers (RFC 7162 3.1.3): "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"
    if (!word("UNCHANGEDSINCE") || !sp()) return fail("Unknown store modifier"), std::nullopt;
    auto m = number64();
    if (!m || !eat(')') || !sp()) return fail("Bad UNCHANGEDSINCE"), std::nullopt;
    c.unchanged_since = *m;
  }
  if (eat('+')) c.mode = Store::Mode::Add;
  else if (eat('-')) c.mode = Store::Mode::Remove;
  if (word("FLAGS.SILENT")) c.silent = true;
  else if (!word("FLAGS")) return fail("Expected FLAGS"), std::nullopt;
  if (!sp()) return std::nullopt;
  if (peek() == '(') {
    auto f = flag_list();
    if (!f) return std::nullopt;
    c.flags = std::move(*f);
    return c;
  }
  do {
    if (!count_item()) return std::nullopt;
    auto f = flag();
    if (!f) return std::nullopt;
    c.flags.push_back(std::move(*f));
  } while (eat(' '));
  return c;
}

std::optional<CommandBody> Parser::copy(bool uid, bool move) {
  Copy c;
  c.uid = uid;
  c.move = move;
  auto s = sp() ? sequence_set() : std::nullopt;
  auto m = s && sp() ? mailbox() : std::nullopt;
  if (!m) return std::nullopt;
  c.set = std::move(*s);
  c.mailbox = std::move(*m);
  return c;
}

}  // namespace refmail::imap::detail
