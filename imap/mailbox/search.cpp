// imap/mailbox/search.cpp — SEARCH and UID SEARCH (RFC 9051 6.4.4, RFC 3501 6.4.4),
// with ESEARCH results (RFC 4731, and always under IMAP4rev2) and SEARCHRES (RFC 5182:
// RETURN (SAVE) keeps the result as "$").
// Keys on the row (flags, UID, sequence numbers, sizes, internal date, MODSEQ, EMAILID,
// THREADID) cost nothing extra; keys on the message (FROM, TO, CC, BCC, SUBJECT, the
// SENT* dates, BODY, TEXT) read its stored summary (decoded addresses and subject, the
// text bodies); HEADER reads the stored skeleton's header fields. Matching is a
// case-insensitive substring match on UTF-8 (ASCII case folding).
// Must never: send EXPUNGE in answer to SEARCH (RFC 9051 7.5.1).
#include <algorithm>
#include <chrono>
#include <cctype>
#include <optional>

#include "imap/mailbox/impl.hpp"
#include "mime/headers.hpp"
#include "mime/skeleton.hpp"
#include "mime/summary.hpp"
#include "storage/errors.hpp"

namespace refmail::imap {

namespace {

std::string fold(std::string_view s) {
  std::string r(s);
  for (auto& ch : r) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return r;
}

bool contains(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  return fold(hay).find(fold(needle)) != std::string::npos;
}

bool addresses_contain(const std::vector<mime::Address>& list, std::string_view needle) {
  for (const auto& a : list)
    if (contains(a.name, needle) || contains(a.email, needle)) return true;
  return false;
}

std::int64_t day_of(std::int64_t unix_seconds) {
  return unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
}

std::int64_t day_of(const Date& d) {
  return mime::days_from_civil(d.year, static_cast<unsigned>(d.month), static_cast<unsigned>(d.day));
}

bool has_modseq(const SearchKey& k) {
  if (k.kind == SearchKey::Kind::ModSeq) return true;
  for (const auto& c : k.children)
    if (has_modseq(c)) return true;
  return false;
}

// One message as the search sees it; the stored parts are read on first use.
struct Candidate {
  storage::Store& store;
  const storage::MailboxRow& row;
  std::uint32_t msn;
  std::uint32_t largest_msn;
  std::uint32_t largest_uid;
  const std::vector<std::uint32_t>* saved;
  std::int64_t now;
  std::optional<storage::StoredMessage> message;
  std::optional<mime::Summary> summary;
  bool load_failed = false;

  const mime::Summary* sum() {
    if (!summary && !load_failed) {
      if (!load()) return nullptr;
      auto s = mime::Summary::parse(message->record.summary);
      if (!s) {
        load_failed = true;
        return nullptr;
      }
      summary = std::move(*s);
    }
    return summary ? &*summary : nullptr;
  }
  bool load() {
    if (message) return true;
    if (load_failed) return false;
    auto m = store.get_message(row.message_id);
    if (!m) {
      load_failed = true;
      return false;
    }
    message = std::move(*m);
    return true;
  }
  std::vector<std::string> header(std::string_view name) {
    if (!load()) return {};
    auto skel = mime::Skeleton::parse(message->record.skeleton);
    if (!skel) return {};
    std::string lname = fold(name);
    return mime::header_field_bodies(skel->bytes, {std::string_view(lname)});
  }
};

bool match(const SearchKey& k, Candidate& m) {
  using K = SearchKey::Kind;
  const auto& kw = m.row.keywords;
  auto flag = [&](std::string_view f) { return mailbox::has_keyword(kw, f); };
  switch (k.kind) {
    case K::And:
      for (const auto& c : k.children)
        if (!match(c, m)) return false;
      return true;
    case K::Or: return match(k.children[0], m) || match(k.children[1], m);
    case K::Not: return !match(k.children[0], m);
    case K::All: return true;
    case K::Answered: return flag("$answered");
    case K::Deleted: return flag("$deleted");
    case K::Draft: return flag("$draft");
    case K::Flagged: return flag("$flagged");
    case K::Seen: return flag("$seen");
    case K::Unanswered: return !flag("$answered");
    case K::Undeleted: return !flag("$deleted");
    case K::Undraft: return !flag("$draft");
    case K::Unflagged: return !flag("$flagged");
    case K::Unseen: return !flag("$seen");
    // \Recent is not kept (RFC 9051 removed it): nothing is recent or new.
    case K::New:
    case K::Recent: return false;
    case K::Old: return true;
    case K::Keyword: {
      auto k2 = mailbox::flag_to_keyword(k.text);
      return k2 && !k2->empty() && flag(*k2);
    }
    case K::Unkeyword: {
      auto k2 = mailbox::flag_to_keyword(k.text);
      return !(k2 && !k2->empty() && flag(*k2));
    }
    case K::Larger: return m.row.logical_size > k.number;
    case K::Smaller: return m.row.logical_size < k.number;
    case K::Before: return day_of(m.row.internal_date.time_since_epoch().count()) < day_of(k.date);
    case K::On: return day_of(m.row.internal_date.time_since_epoch().count()) == day_of(k.date);
    case K::Since: return day_of(m.row.internal_date.time_since_epoch().count()) >= day_of(k.date);
    case K::Older: return m.now - m.row.internal_date.time_since_epoch().count() >= static_cast<std::int64_t>(k.number);
    case K::Younger: return m.now - m.row.internal_date.time_since_epoch().count() <= static_cast<std::int64_t>(k.number);
    case K::Uid:
      if (k.set.saved) return m.saved && std::binary_search(m.saved->begin(), m.saved->end(), m.row.uid);
      return k.set.contains(m.row.uid, m.largest_uid);
    case K::SequenceSet:
      if (k.set.saved) return m.saved && std::binary_search(m.saved->begin(), m.saved->end(), m.row.uid);
      return k.set.contains(m.msn, m.largest_msn);
    case K::ModSeq: return m.row.modseq >= k.number;
    case K::EmailId: return m.row.message_id == k.text;
    case K::ThreadId: return "T" + m.row.thread_id == k.text;
    case K::SentBefore:
    case K::SentOn:
    case K::SentSince: {
      // RFC 9051 6.4.4: the Date header's date, disregarding time and timezone.
      const auto* s = m.sum();
      if (!s || !s->date) return false;
      const auto d = day_of(*s->date), want = day_of(k.date);
      return k.kind == K::SentBefore ? d < want : k.kind == K::SentOn ? d == want : d >= want;
    }
    case K::From: {
      const auto* s = m.sum();
      return s && addresses_contain(s->from, k.text);
    }
    case K::To: {
      const auto* s = m.sum();
      return s && addresses_contain(s->to, k.text);
    }
    case K::Cc: {
      const auto* s = m.sum();
      return s && addresses_contain(s->cc, k.text);
    }
    case K::Bcc: {
      const auto* s = m.sum();
      return s && addresses_contain(s->bcc, k.text);
    }
    case K::Subject: {
      const auto* s = m.sum();
      return s && contains(s->subject, k.text);
    }
    case K::Header: {
      for (const auto& v : m.header(k.field))
        if (contains(v, k.text)) return true;
      return false;
    }
    case K::Body:
    case K::Text: {
      const auto* s = m.sum();
      if (!s) return false;
      for (const auto* list : {&s->text_body, &s->html_body})
        for (const auto& p : *list)
          if (contains(p.content, k.text)) return true;
      if (k.kind == K::Text) {
        if (contains(s->subject, k.text) || addresses_contain(s->from, k.text) || addresses_contain(s->to, k.text) ||
            addresses_contain(s->cc, k.text))
          return true;
        for (const auto& a : s->attachments)
          if (contains(a.name, k.text)) return true;
      }
      return false;
    }
  }
  return false;
}

}  // namespace

storage::result<std::vector<std::uint32_t>> MailboxEngine::Impl::matching(const SearchKey& key,
                                                                         std::uint64_t* hit_modseq) {
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::vector<std::uint32_t> hits;  // UIDs, ascending
  auto r = rows(sel->uids.to_vector(), [&](storage::MailboxRow&& row) {
    Candidate m{store, row, sel->msn(row.uid), sel->exists(), sel->uids.empty() ? 0 : sel->uids.back(),
                &sel->saved, now, std::nullopt, std::nullopt, false};
    if (match(key, m)) {
      hits.push_back(row.uid);
      if (hit_modseq) *hit_modseq = std::max(*hit_modseq, row.modseq);
    }
    return true;
  });
  if (!r) return r.error();
  return hits;
}

MailboxReply MailboxEngine::Impl::search(const Search& c) {
  if (c.charset && *c.charset != "US-ASCII" && *c.charset != "UTF-8")
    return no("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset");
  report_updates(c.uid);
  std::uint64_t hit_modseq = 0;  // RFC 7162 3.1.5: the highest MODSEQ of the hits
  auto found = matching(c.key, &hit_modseq);
  if (!found) return store_error(found.error(), "SEARCH failed");
  const std::vector<std::uint32_t>& hits = *found;
  std::vector<std::uint32_t> numbers;
  for (auto u : hits) numbers.push_back(c.uid ? u : sel->msn(u));
  if (c.ret_save) sel->saved = hits;
  const bool esearch = c.esearch || modes.imap4rev2;
  const bool with_modseq = has_modseq(c.key);
  if (!esearch) {
    std::string l = "SEARCH";
    for (auto n : numbers) l += " " + std::to_string(n);
    if (with_modseq && !numbers.empty()) l += " (MODSEQ " + std::to_string(hit_modseq) + ")";
    line(l);
  } else {
    // RFC 4731: RETURN () means ALL; SAVE alone returns nothing but the tag.
    const bool only_save = c.ret_save && !c.ret_min && !c.ret_max && !c.ret_all && !c.ret_count;
    if (!only_save) {
      const bool all = c.ret_all || (!c.ret_min && !c.ret_max && !c.ret_count);
      std::string l = "ESEARCH";
      if (cmd && !cmd->tag.empty()) {
        ResponseBuilder b;
        b.string(cmd->tag, false);
        l += " (TAG " + b.str() + ")";
      }
      if (c.uid) l += " UID";
      if (!numbers.empty()) {
        if (c.ret_min) l += " MIN " + std::to_string(numbers.front());
        if (c.ret_max) l += " MAX " + std::to_string(numbers.back());
        if (all) l += " ALL " + mailbox::compact(numbers);
      }
      if (c.ret_count) l += " COUNT " + std::to_string(numbers.size());
      if (with_modseq && !numbers.empty()) l += " MODSEQ " + std::to_string(hit_modseq);
      line(l);
    }
  }
  return ok(c.uid ? "UID SEARCH completed" : "SEARCH completed");
}

}  // namespace refmail::imap
