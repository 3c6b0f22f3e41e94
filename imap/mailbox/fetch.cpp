// imap/mailbox/fetch.cpp — FETCH and UID FETCH (RFC 9051 6.4.5, 6.4.9; MODSEQ RFC 7162
// 3.1.4; EMAILID / THREADID RFC 8474). Row items (UID, FLAGS, INTERNALDATE,
// RFC822.SIZE, MODSEQ, EMAILID, THREADID) come from the mailbox row; message bytes
// (BODY[], RFC822, partial BODY[]<o.n>) stream through the joiner as a LiteralSource,
// read only when the server writes them (message_source.cpp).
// A non-PEEK body fetch in a read-write mailbox sets \Seen (RFC 9051 6.4.5) and reports
// the new FLAGS in the same response.
// Must never: hold a message's bytes in the reply (they stream), renumber messages.
#include <algorithm>

#include "imap/mailbox/impl.hpp"
#include "imap/mailbox/message_source.hpp"
#include "storage/errors.hpp"

namespace refmail::imap {

namespace {

bool is_body_item(const FetchAtt& a) {
  switch (a.kind) {
    case FetchAtt::Kind::Rfc822:
    case FetchAtt::Kind::Rfc822Header:
    case FetchAtt::Kind::Rfc822Text:
    case FetchAtt::Kind::BodySection:
    case FetchAtt::Kind::Binary: return !a.peek && a.kind != FetchAtt::Kind::Rfc822Header;
    default: return false;
  }
}

// The items this slice can answer from rows and whole-message bytes.
bool supported(const FetchAtt& a) {
  switch (a.kind) {
    case FetchAtt::Kind::Flags:
    case FetchAtt::Kind::InternalDate:
    case FetchAtt::Kind::Rfc822Size:
    case FetchAtt::Kind::Uid:
    case FetchAtt::Kind::ModSeq:
    case FetchAtt::Kind::EmailId:
    case FetchAtt::Kind::ThreadId:
    case FetchAtt::Kind::Rfc822: return true;
    case FetchAtt::Kind::BodySection: return a.section.part.empty() && a.section.text == Section::Text::None;
    default: return false;
  }
}

}  // namespace

MailboxReply MailboxEngine::Impl::fetch(const Fetch& c) {
  for (const auto& a : c.atts)
    if (!supported(a)) return no("CANNOT", "This FETCH item is not available yet");
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
  const bool want_modseq =
      c.changed_since || std::any_of(c.atts.begin(), c.atts.end(), [](const FetchAtt& a) {
        return a.kind == FetchAtt::Kind::ModSeq;
      });
  const bool sets_seen =
      !sel->read_only && std::any_of(c.atts.begin(), c.atts.end(), [](const FetchAtt& a) { return is_body_item(a); });
  const bool asks_flags = std::any_of(c.atts.begin(), c.atts.end(), [](const FetchAtt& a) {
    return a.kind == FetchAtt::Kind::Flags;
  });
  std::size_t found = 0;
  auto r = rows(*uids, [&](storage::MailboxRow&& row) {
    ++found;
    if (c.changed_since && row.modseq <= *c.changed_since) return true;
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
    // RFC 9051 6.4.9: UID FETCH always includes UID.
    if (c.uid) item("UID " + std::to_string(row.uid));
    for (const auto& a : c.atts) {
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
        case FetchAtt::Kind::Rfc822:
        case FetchAtt::Kind::BodySection: {
          std::uint64_t offset = 0, size = row.logical_size;
          std::string name = a.kind == FetchAtt::Kind::Rfc822 ? "RFC822" : "BODY[]";
          if (a.partial) {
            offset = std::min<std::uint64_t>(a.partial->offset, row.logical_size);
            size = std::min<std::uint64_t>(a.partial->length, row.logical_size - offset);
            name += "<" + std::to_string(a.partial->offset) + ">";
          }
          item(name + " {" + std::to_string(size) + "}\r\n");
          write(std::move(head));
          head.clear();
          reply.body.emplace_back(action::WriteLiteral{
              size, std::make_shared<mailbox::MessageSource>(store, row.message_id, offset, size)});
          break;
        }
        default: break;
      }
    }
    // RFC 7162 3.1.4.1: CHANGEDSINCE implies MODSEQ.
    if (want_modseq && !modseq_sent) item("MODSEQ (" + std::to_string(row.modseq) + ")");
    if (seen_now && !asks_flags) item("FLAGS " + mailbox::flag_list(row.keywords));
    head += ")\r\n";
    write(std::move(head));
    return true;
  });
  if (!r) return store_error(r.error(), "FETCH failed");
  if (found < uids->size())
    return no("EXPUNGEISSUED", "Some messages were expunged meanwhile");
  return ok(c.uid ? "UID FETCH completed" : "FETCH completed");
}

}  // namespace refmail::imap
