// imap/mailbox/fetch.cpp — FETCH and UID FETCH (RFC 9051 6.4.5, 6.4.9; BINARY RFC 3516;
// MODSEQ RFC 7162 3.1.4; EMAILID / THREADID RFC 8474). Row items (UID, FLAGS,
// INTERNALDATE, RFC822.SIZE, MODSEQ, EMAILID, THREADID) come from the mailbox row; the
// rest from the message view (imap/message_view.hpp) over the stored skeleton, read
// once per message and only when an item needs it: ENVELOPE, BODY, BODYSTRUCTURE from
// the skeleton alone; a section is a range of the joined message streamed later by a
// MessageSource (message_source.cpp: it reloads the skeleton and seeks the joiner, so
// the reply holds no message bytes and no skeletons), HEADER.FIELDS bytes are made
// here; BINARY of a cut part is its blob as stored (no decoding), of an uncut part the
// decoded bytes. No FETCH reparses a whole message.
// A non-PEEK body fetch in a read-write mailbox sets \Seen (RFC 9051 6.4.5) and reports
// the new FLAGS in the same response.
// Must never: hold a message's bytes in the reply (they stream), renumber messages.
#include <algorithm>
#include <memory>

#include "imap/mailbox/impl.hpp"
#include "imap/mailbox/message_source.hpp"
#include "imap/message_view.hpp"
#include "mime/skeleton.hpp"
#include "storage/errors.hpp"

namespace refmail::imap {

namespace {

bool is_body_item(const FetchAtt& a) {
  switch (a.kind) {
    case FetchAtt::Kind::Rfc822:
    case FetchAtt::Kind::Rfc822Text:
    case FetchAtt::Kind::BodySection:
    case FetchAtt::Kind::Binary: return !a.peek;
    default: return false;
  }
}

bool needs_skeleton(const FetchAtt& a) {
  switch (a.kind) {
    case FetchAtt::Kind::Envelope:
    case FetchAtt::Kind::Body:
    case FetchAtt::Kind::BodyStructure:
    case FetchAtt::Kind::Rfc822Header:
    case FetchAtt::Kind::Rfc822Text:
    case FetchAtt::Kind::Binary:
    case FetchAtt::Kind::BinarySize: return true;
    case FetchAtt::Kind::BodySection: return !(a.section.part.empty() && a.section.text == Section::Text::None);
    default: return false;
  }
}

std::string part_text(const std::vector<std::uint32_t>& part) {
  std::string s;
  for (auto p : part) {
    if (!s.empty()) s += '.';
    s += std::to_string(p);
  }
  return s;
}

// The section as the response names it: "1.2.HEADER.FIELDS (DATE FROM)".
std::string section_text(const Section& s) {
  std::string t = part_text(s.part);
  auto add = [&](std::string_view x) {
    if (!t.empty()) t += '.';
    t += x;
  };
  switch (s.text) {
    case Section::Text::None: break;
    case Section::Text::Header: add("HEADER"); break;
    case Section::Text::Text: add("TEXT"); break;
    case Section::Text::Mime: add("MIME"); break;
    case Section::Text::HeaderFields:
    case Section::Text::HeaderFieldsNot: {
      add(s.text == Section::Text::HeaderFields ? "HEADER.FIELDS (" : "HEADER.FIELDS.NOT (");
      for (std::size_t i = 0; i < s.fields.size(); ++i) {
        if (i) t += ' ';
        ResponseBuilder b;
        b.string(s.fields[i], false);  // astring as sent: quoted when it is not an atom
        bool atom = !s.fields[i].empty() &&
                    s.fields[i].find_first_of(" ()\"\\{}%*]") == std::string::npos;
        t += atom ? s.fields[i] : b.str();
      }
      t += ')';
      break;
    }
  }
  return t;
}

// A cut attachment's blob as a literal (BINARY of a cut part: the stored bytes).
class BlobLiteral final : public LiteralSource {
 public:
  BlobLiteral(storage::Store& store, std::string blob_id, std::uint64_t offset, std::uint64_t size)
      : store_(store), id_(std::move(blob_id)), at_(offset), left_(size) {}
  boost::system::result<std::size_t> read(std::span<char> out) override {
    if (left_ == 0 || out.empty()) return std::size_t{0};
    auto n = store_.read_blob(id_, at_, out.first(std::min<std::uint64_t>(out.size(), left_)));
    if (!n) return n.error();
    at_ += *n;
    left_ -= *n;
    return *n;
  }

 private:
  storage::Store& store_;
  std::string id_;
  std::uint64_t at_, left_;
};

}  // namespace

MailboxReply MailboxEngine::Impl::fetch(const Fetch& c) {
  // RFC 9051 7.5.1: no EXPUNGE in answer to FETCH; UID FETCH may carry them.
  report_updates(c.uid);
  std::string why;
  auto uids = resolve(c.set, c.uid, why);
  if (!uids) return bad(why);
  if (c.vanished) {
    // RFC 7162 3.2.6: UID FETCH (CHANGEDSINCE m VANISHED), with QRESYNC enabled.
    if (!modes.qresync || !c.uid || !c.changed_since) return bad("VANISHED needs QRESYNC, UID FETCH and CHANGEDSINCE");
    auto horizon = store.uid_horizon(account, sel->mailbox_id);
    if (!horizon) return store_error(horizon.error(), "FETCH failed");
    bool ok = true;
    auto gone = vanished_uids(*c.changed_since, &c.set, *horizon, ok);
    if (!ok) return no("UNAVAILABLE", "FETCH failed: cannot read the expunged UIDs");
    if (!gone.empty()) line("VANISHED (EARLIER) " + mailbox::compact(gone));
  }
  const bool want_modseq = c.changed_since.has_value();
  const bool sets_seen =
      !sel->read_only && std::any_of(c.atts.begin(), c.atts.end(), [](const FetchAtt& a) { return is_body_item(a); });
  const bool asks_flags = std::any_of(c.atts.begin(), c.atts.end(), [](const FetchAtt& a) {
    return a.kind == FetchAtt::Kind::Flags;
  });
  const bool with_skeleton = std::any_of(c.atts.begin(), c.atts.end(), needs_skeleton);
  ViewOptions view;
  view.utf8 = utf8();
  view.limits = options.mime_limits;
  std::size_t found = 0;
  MailboxReply failure;  // set when one message's item cannot be answered
  bool failed = false;
  auto r = rows(*uids, [&](storage::MailboxRow&& row) {
    ++found;
    if (c.changed_since && row.modseq <= *c.changed_since) return true;
    std::shared_ptr<const mime::Skeleton> skel;
    if (with_skeleton) {
      auto msg = store.get_message(row.message_id);
      if (!msg) {
        if (msg.error() == storage::errc::not_found) return true;  // expunged meanwhile
        failure = store_error(msg.error(), "FETCH failed");
        failed = true;
        return false;
      }
      auto parsed = mime::Skeleton::parse(msg->record.skeleton);
      if (!parsed) {
        failure = no("SERVERBUG", "FETCH failed: the stored message " + row.message_id + " is corrupt");
        failed = true;
        return false;
      }
      skel = std::make_shared<const mime::Skeleton>(std::move(*parsed));
    }
    // Every item is checked before anything of this message is written: a NO must not
    // follow half a response.
    struct Planned {
      std::string name;  // "BODY[1]<0>"
      SectionBytes bytes;
      std::optional<BinaryBytes> binary;
      std::string structure;  // BODY / BODYSTRUCTURE
    };
    std::vector<std::optional<Planned>> plan(c.atts.size());
    for (std::size_t i = 0; i < c.atts.size(); ++i) {
      const FetchAtt& a = c.atts[i];
      auto fail = [&](const boost::system::error_code& ec) {
        if (ec == view_errc::no_such_part || ec == view_errc::not_a_leaf)
          failure = no("", "FETCH: no such part in message " + std::to_string(sel->msn(row.uid)));
        else if (ec == view_errc::unknown_cte)
          failure = no("UNKNOWN-CTE", "The part's transfer encoding is unknown");
        else
          failure = no("SERVERBUG", "FETCH failed: " + ec.message());
        failed = true;
      };
      Section section = a.section;
      if (a.kind == FetchAtt::Kind::Rfc822Header) section = Section{{}, Section::Text::Header, {}};
      if (a.kind == FetchAtt::Kind::Rfc822Text) section = Section{{}, Section::Text::Text, {}};
      if (a.kind == FetchAtt::Kind::Body || a.kind == FetchAtt::Kind::BodyStructure) {
        // A text part's line count may read its blob (a cut identity or QP text part).
        auto bs = body_structure(*skel, a.kind == FetchAtt::Kind::BodyStructure, &store.blob_source(), view);
        if (!bs) {
          fail(bs.error());
          return false;
        }
        Planned p;
        p.structure = std::move(*bs);
        plan[i] = std::move(p);
        continue;
      }
      if (a.kind == FetchAtt::Kind::BodySection || a.kind == FetchAtt::Kind::Rfc822Header ||
          a.kind == FetchAtt::Kind::Rfc822Text || a.kind == FetchAtt::Kind::Rfc822) {
        Planned p;
        if (skel && a.kind != FetchAtt::Kind::Rfc822) {
          auto loc = locate_section(*skel, section, view);
          if (!loc) {
            fail(loc.error());
            return false;
          }
          p.bytes = *loc;
        } else {
          p.bytes = SectionBytes{0, row.logical_size, std::nullopt};
        }
        if (a.kind == FetchAtt::Kind::BodySection) {
          p.name = "BODY[" + section_text(a.section) + "]";
          if (a.partial) {
            p.bytes = apply_partial(p.bytes, *a.partial);
            p.name += "<" + std::to_string(a.partial->offset) + ">";
          }
        } else {
          p.name = a.kind == FetchAtt::Kind::Rfc822 ? "RFC822" : a.kind == FetchAtt::Kind::Rfc822Header ? "RFC822.HEADER"
                                                                                                        : "RFC822.TEXT";
        }
        plan[i] = std::move(p);
      } else if (a.kind == FetchAtt::Kind::Binary || a.kind == FetchAtt::Kind::BinarySize) {
        Planned p;
        if (a.section.part.empty()) {
          // BINARY[] of the whole message: no transfer encoding applies (RFC 3516 4.2).
          p.bytes = SectionBytes{0, row.logical_size, std::nullopt};
        } else {
          auto b = locate_binary(*skel, a.section.part, &store.blob_source(), view);
          if (!b) {
            fail(b.error());
            return false;
          }
          p.binary = std::move(*b);
          p.bytes = SectionBytes{0, p.binary->size, std::nullopt};
        }
        const std::string part = part_text(a.section.part);
        if (a.kind == FetchAtt::Kind::BinarySize) {
          p.name = "BINARY.SIZE[" + part + "]";
        } else {
          p.name = "BINARY[" + part + "]";
          if (a.partial) {
            p.bytes = apply_partial(p.bytes, *a.partial);
            p.name += "<" + std::to_string(a.partial->offset) + ">";
          }
        }
        plan[i] = std::move(p);
      }
    }
    bool seen_now = false;
    if (sets_seen && !mailbox::has_keyword(row.keywords, "$seen")) {
      auto kw = row.keywords;
      kw.push_back("$seen");
      if (store.set_keywords(account, sel->name, row.uid, kw)) {
        row.keywords = std::move(kw);
        seen_now = true;
        wrote_flags(row.uid);
      }
    }
    bool modseq_sent = false;
    std::string head = "* " + std::to_string(sel->msn(row.uid)) + " FETCH (";
    bool first = true;
    auto item = [&](std::string_view s) {
      if (!first) head += ' ';
      first = false;
      head += s;
    };
    // A literal: "{n}\r\n" then the bytes, inline when they are at hand (made here or
    // decoded), else streamed by the server from `source`.
    auto literal = [&](const std::string& name, std::uint64_t size, bool binary, const std::string* inline_bytes,
                       std::shared_ptr<LiteralSource> source) {
      ResponseBuilder b;
      b.atom(name).sp().literal_prefix(size, binary);
      item(b.str());
      if (inline_bytes) {
        head += *inline_bytes;
        return;
      }
      write(std::move(head));
      head.clear();
      if (size > 0) reply.body.emplace_back(action::WriteLiteral{size, std::move(source)});
    };
    // RFC 9051 6.4.9: UID FETCH always includes UID.
    if (c.uid) item("UID " + std::to_string(row.uid));
    for (std::size_t i = 0; i < c.atts.size(); ++i) {
      const FetchAtt& a = c.atts[i];
      switch (a.kind) {
        case FetchAtt::Kind::Uid:
          if (!c.uid) item("UID " + std::to_string(row.uid));
          break;
        case FetchAtt::Kind::Flags: item("FLAGS " + mailbox::flag_list(row.keywords)); break;
        case FetchAtt::Kind::InternalDate: item("INTERNALDATE \"" + mailbox::internal_date(row.internal_date) + "\""); break;
        case FetchAtt::Kind::Rfc822Size: item("RFC822.SIZE " + std::to_string(row.logical_size)); break;
        case FetchAtt::Kind::ModSeq:
          if (!modseq_sent) item("MODSEQ (" + std::to_string(row.modseq) + ")");
          modseq_sent = true;
          break;
        case FetchAtt::Kind::EmailId: item("EMAILID (" + row.message_id + ")"); break;
        case FetchAtt::Kind::ThreadId: item("THREADID (T" + row.thread_id + ")"); break;
        case FetchAtt::Kind::SaveDate: item("SAVEDATE NIL"); break;
        case FetchAtt::Kind::Envelope: item("ENVELOPE " + envelope(*skel, view)); break;
        case FetchAtt::Kind::Body:
        case FetchAtt::Kind::BodyStructure:
          item(std::string(a.kind == FetchAtt::Kind::Body ? "BODY " : "BODYSTRUCTURE ") + plan[i]->structure);
          break;
        case FetchAtt::Kind::Rfc822:
        case FetchAtt::Kind::Rfc822Header:
        case FetchAtt::Kind::Rfc822Text:
        case FetchAtt::Kind::BodySection: {
          const Planned& p = *plan[i];
          if (p.bytes.synthesized) {
            literal(p.name, p.bytes.size, false, &*p.bytes.synthesized, nullptr);
          } else {
            literal(p.name, p.bytes.size, false, nullptr,
                    std::make_shared<mailbox::MessageSource>(store, row.message_id, p.bytes.offset, p.bytes.size));
          }
          break;
        }
        case FetchAtt::Kind::BinarySize: item(plan[i]->name + " " + std::to_string(plan[i]->bytes.size)); break;
        case FetchAtt::Kind::Binary: {
          const Planned& p = *plan[i];
          if (!p.binary) {
            literal(p.name, p.bytes.size, true, nullptr,
                    std::make_shared<mailbox::MessageSource>(store, row.message_id, p.bytes.offset, p.bytes.size));
          } else if (p.binary->decoded) {
            const std::string bytes = p.binary->decoded->substr(
                std::min<std::uint64_t>(p.bytes.offset, p.binary->decoded->size()), p.bytes.size);
            literal(p.name, bytes.size(), true, &bytes, nullptr);
          } else {
            literal(p.name, p.bytes.size, true, nullptr,
                    std::make_shared<BlobLiteral>(store, p.binary->blob_id, p.bytes.offset, p.bytes.size));
          }
          break;
        }
      }
    }
    // RFC 7162 3.1.4.1: CHANGEDSINCE implies MODSEQ.
    if (want_modseq && !modseq_sent) item("MODSEQ (" + std::to_string(row.modseq) + ")");
    if (seen_now && !asks_flags) item("FLAGS " + mailbox::flag_list(row.keywords));
    head += ")\r\n";
    write(std::move(head));
    return true;
  });
  if (failed) return failure;
  if (!r) return store_error(r.error(), "FETCH failed");
  if (found < uids->size()) return no("EXPUNGEISSUED", "Some messages were expunged meanwhile");
  return ok(c.uid ? "UID FETCH completed" : "FETCH completed");
}

}  // namespace refmail::imap
