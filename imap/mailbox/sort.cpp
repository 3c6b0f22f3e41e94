// imap/mailbox/sort.cpp — SORT and THREAD=ORDEREDSUBJECT (RFC 5256), with the
// DISPLAYFROM / DISPLAYTO keys (RFC 5957). The search keys are SEARCH's (search.cpp
// matches, this file orders); the sort keys come from each message's stored summary:
// base subject as mime/sort_keys.hpp defines it for JMAP too, addresses' mailbox parts,
// the Date field (the internal date when it is missing, RFC 5256 2.2).
// Ties are broken by sequence number (RFC 5256 3).
// Must never: send EXPUNGE in answer to SORT or THREAD.
#include <algorithm>
#include <cctype>
#include <map>

#include "imap/mailbox/impl.hpp"
#include "mime/sort_keys.hpp"
#include "mime/summary.hpp"
#include "storage/errors.hpp"

namespace refmail::imap {

namespace {

struct Keyed {
  std::uint32_t uid = 0;
  std::uint32_t msn = 0;
  std::int64_t arrival = 0;
  std::int64_t date = 0;
  std::uint64_t size = 0;
  std::string subject, from, to, cc, display_from, display_to;
};

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// RFC 5256 3: the addr-mailbox (local part) of the first address.
std::string mailbox_key(const std::vector<mime::Address>& list) {
  if (list.empty()) return "";
  const std::string& e = list.front().email;
  return lower(e.substr(0, e.rfind('@')));
}

int compare(const Keyed& a, const Keyed& b, SortCriterion::Key k) {
  auto cmp = [](const auto& x, const auto& y) { return x < y ? -1 : y < x ? 1 : 0; };
  switch (k) {
    case SortCriterion::Key::Arrival: return cmp(a.arrival, b.arrival);
    case SortCriterion::Key::Date: return cmp(a.date, b.date);
    case SortCriterion::Key::Size: return cmp(a.size, b.size);
    case SortCriterion::Key::Subject: return cmp(a.subject, b.subject);
    case SortCriterion::Key::From: return cmp(a.from, b.from);
    case SortCriterion::Key::To: return cmp(a.to, b.to);
    case SortCriterion::Key::Cc: return cmp(a.cc, b.cc);
    case SortCriterion::Key::DisplayFrom: return cmp(a.display_from, b.display_from);
    case SortCriterion::Key::DisplayTo: return cmp(a.display_to, b.display_to);
  }
  return 0;
}

}  // namespace

MailboxReply MailboxEngine::Impl::sort_or_thread(const SearchKey& key, const std::string& charset, bool uid,
                                                 const std::vector<SortCriterion>* criteria,
                                                 const std::string* algorithm) {
  if (!charset.empty() && charset != "US-ASCII" && charset != "UTF-8")
    return no("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset");
  if (algorithm && *algorithm != "ORDEREDSUBJECT") return no("CANNOT", "Unsupported threading algorithm " + *algorithm);
  report_updates(uid);
  auto hits = matching(key);
  if (!hits) return store_error(hits.error(), "SORT failed");
  std::vector<Keyed> items;
  items.reserve(hits->size());
  auto r = rows(*hits, [&](storage::MailboxRow&& row) {
    Keyed k;
    k.uid = row.uid;
    k.msn = sel->msn(row.uid);
    k.arrival = row.internal_date.time_since_epoch().count();
    k.size = row.logical_size;
    k.date = k.arrival;
    if (auto msg = store.get_message(row.message_id)) {
      if (auto s = mime::Summary::parse(msg->record.summary)) {
        if (s->date) k.date = *s->date;
        k.subject = mime::base_subject(s->subject);
        k.from = mailbox_key(s->from);
        k.to = mailbox_key(s->to);
        k.cc = mailbox_key(s->cc);
        k.display_from = mime::address_sort_key(s->from);
        k.display_to = mime::address_sort_key(s->to);
      }
    }
    items.push_back(std::move(k));
    return true;
  });
  if (!r) return store_error(r.error(), algorithm ? "THREAD failed" : "SORT failed");
  auto number = [&](const Keyed& k) { return std::to_string(uid ? k.uid : k.msn); };
  if (criteria) {
    std::stable_sort(items.begin(), items.end(), [&](const Keyed& a, const Keyed& b) {
      for (const auto& c : *criteria) {
        int v = compare(a, b, c.key);
        if (v != 0) return c.reverse ? v > 0 : v < 0;
      }
      return a.msn < b.msn;
    });
    std::string l = "SORT";
    for (const auto& k : items) l += " " + number(k);
    line(l);
    return ok(uid ? "UID SORT completed" : "SORT completed");
  }
  // ORDEREDSUBJECT (RFC 5256 3): group by base subject, each group by date; the first
  // message is the parent of the others; threads ordered by their first message's date.
  std::map<std::string, std::vector<Keyed>> groups;
  for (auto& k : items) groups[k.subject].push_back(std::move(k));
  std::vector<std::vector<Keyed>> threads;
  for (auto& [subject, g] : groups) {
    std::stable_sort(g.begin(), g.end(), [](const Keyed& a, const Keyed& b) {
      return a.date != b.date ? a.date < b.date : a.msn < b.msn;
    });
    threads.push_back(std::move(g));
  }
  std::stable_sort(threads.begin(), threads.end(), [](const auto& a, const auto& b) {
    return a.front().date != b.front().date ? a.front().date < b.front().date : a.front().msn < b.front().msn;
  });
  std::string l = "THREAD ";
  for (const auto& t : threads) {
    l += "(" + number(t.front());
    if (t.size() == 2) {
      l += " " + number(t[1]);
    } else if (t.size() > 2) {
      l += " ";
      for (std::size_t i = 1; i < t.size(); ++i) l += "(" + number(t[i]) + ")";
    }
    l += ")";
  }
  if (threads.empty()) l = "THREAD";
  line(l);
  return ok(uid ? "UID THREAD completed" : "THREAD completed");
}

}  // namespace refmail::imap
