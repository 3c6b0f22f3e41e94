// imap/mailbox/sort.cpp — SORT, THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256,
// REFERENCES: the Zawinski algorithm over Message-ID / References / In-Reply-To from
// the summaries, loops refused, dummies pruned, roots grouped by base subject), with the
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
  // THREAD=REFERENCES
  std::string message_id;
  std::vector<std::string> references;  // References, else In-Reply-To
  bool reply = false;                   // the subject had a reply/forward prefix
};

// RFC 5256 4 REFERENCES (the Zawinski algorithm). A container per message id; the
// messages are indexes into `items`.
struct Container {
  int message = -1;  // index into items, -1 for a dummy
  int parent = -1;
  std::vector<int> children;
};

class Threader {
 public:
  explicit Threader(const std::vector<Keyed>& items) : items_(items) {}

  std::string run(bool uid) {
    uid_ = uid;
    for (std::size_t i = 0; i < items_.size(); ++i) link(static_cast<int>(i));
    std::vector<int> roots;
    for (std::size_t c = 0; c < nodes_.size(); ++c)
      if (nodes_[c].parent < 0) roots.push_back(static_cast<int>(c));
    roots = prune(roots, true);
    sort_by_date(roots);
    roots = group_by_subject(roots);
    sort_by_date(roots);
    std::string out;
    for (int r : roots) out += "(" + members(r) + ")";
    return out;
  }

 private:
  int node_for(const std::string& id) {
    auto it = ids_.find(id);
    if (it != ids_.end()) return it->second;
    nodes_.push_back({});
    const int n = static_cast<int>(nodes_.size()) - 1;
    if (!id.empty()) ids_[id] = n;
    return n;
  }
  bool is_ancestor(int maybe, int of) const {  // is `maybe` `of` or above it?
    for (int c = of, steps = 0; c >= 0 && steps <= static_cast<int>(nodes_.size()); c = nodes_[c].parent, ++steps)
      if (c == maybe) return true;
    return false;
  }
  void unlink(int c) {
    int p = nodes_[c].parent;
    if (p < 0) return;
    auto& ch = nodes_[p].children;
    ch.erase(std::remove(ch.begin(), ch.end(), c), ch.end());
    nodes_[c].parent = -1;
  }
  void set_parent(int c, int p) {
    if (c == p || is_ancestor(c, p)) return;  // never a loop
    unlink(c);
    nodes_[c].parent = p;
    nodes_[p].children.push_back(c);
  }
  void link(int i) {
    const Keyed& k = items_[i];
    // 1A: the message's own container (a repeated or missing id gets a new one).
    int self;
    auto it = k.message_id.empty() ? ids_.end() : ids_.find(k.message_id);
    if (it != ids_.end() && nodes_[it->second].message < 0) {
      self = it->second;
    } else {
      nodes_.push_back({});
      self = static_cast<int>(nodes_.size()) - 1;
      if (!k.message_id.empty() && it == ids_.end()) ids_[k.message_id] = self;
    }
    nodes_[self].message = i;
    // 1B: the references as a chain, each linked to the previous unless it has a parent.
    int prev = -1;
    for (const auto& ref : k.references) {
      if (ref == k.message_id) continue;
      int c = node_for(ref);
      if (prev >= 0 && nodes_[c].parent < 0 && !is_ancestor(c, prev)) set_parent(c, prev);
      prev = c;
    }
    // 1C: the last reference is the message's parent (replacing any earlier one).
    if (prev >= 0 && !is_ancestor(self, prev)) {
      set_parent(self, prev);
    } else if (prev < 0) {
      unlink(self);
    }
  }
  // 4: dummies without children go; a dummy's children move up, except a root dummy
  // with several children (it joins them).
  std::vector<int> prune(const std::vector<int>& level, bool root) {
    std::vector<int> out;
    for (int c : level) {
      auto kids = prune(nodes_[c].children, false);
      nodes_[c].children = kids;
      for (int k : kids) nodes_[k].parent = c;
      if (nodes_[c].message >= 0) {
        out.push_back(c);
      } else if (kids.empty()) {
        continue;
      } else if (root && kids.size() > 1) {
        out.push_back(c);
      } else {
        for (int k : kids) {
          nodes_[k].parent = nodes_[c].parent;
          out.push_back(k);
        }
      }
    }
    return out;
  }
  const Keyed* first(int c) const {  // the message that stands for a container
    if (nodes_[c].message >= 0) return &items_[nodes_[c].message];
    const Keyed* best = nullptr;
    for (int k : nodes_[c].children) {
      const Keyed* f = first(k);
      if (f && (!best || f->date < best->date || (f->date == best->date && f->msn < best->msn))) best = f;
    }
    return best;
  }
  void sort_by_date(std::vector<int>& v) const {
    std::stable_sort(v.begin(), v.end(), [&](int a, int b) {
      const Keyed* x = first(a);
      const Keyed* y = first(b);
      if (!x || !y) return x != nullptr && y == nullptr;
      return x->date != y->date ? x->date < y->date : x->msn < y->msn;
    });
  }
  // 5: roots whose base subjects match join one thread.
  std::vector<int> group_by_subject(const std::vector<int>& roots) {
    std::map<std::string, int> table;
    auto subject_of = [&](int c) -> const Keyed* { return nodes_[c].message >= 0 ? &items_[nodes_[c].message] : first(c); };
    for (int r : roots) {
      const Keyed* k = subject_of(r);
      if (!k || k->subject.empty()) continue;
      auto it = table.find(k->subject);
      if (it == table.end()) {
        table[k->subject] = r;
        continue;
      }
      const int old = it->second;
      const bool old_dummy = nodes_[old].message < 0, cur_dummy = nodes_[r].message < 0;
      const Keyed* ok = subject_of(old);
      if ((cur_dummy && !old_dummy) || (!cur_dummy && !old_dummy && ok && ok->reply && !k->reply)) it->second = r;
    }
    std::vector<int> out;
    for (int r : roots) {
      const Keyed* k = subject_of(r);
      auto it = (k && !k->subject.empty()) ? table.find(k->subject) : table.end();
      if (it == table.end() || it->second == r) {
        out.push_back(r);
        continue;
      }
      const int t = it->second;
      const bool t_dummy = nodes_[t].message < 0, r_dummy = nodes_[r].message < 0;
      if (t_dummy && r_dummy) {
        for (int c : nodes_[r].children) {
          nodes_[c].parent = t;
          nodes_[t].children.push_back(c);
        }
        nodes_[r].children.clear();
      } else if (t_dummy) {
        nodes_[r].parent = t;
        nodes_[t].children.push_back(r);
      } else if (!r_dummy && k->reply && !subject_of(t)->reply) {
        nodes_[r].parent = t;
        nodes_[t].children.push_back(r);
      } else {
        // Both stand alone: a new dummy holds them, in the table's place.
        nodes_.push_back({});
        const int d = static_cast<int>(nodes_.size()) - 1;
        auto pos = std::find(out.begin(), out.end(), t);
        nodes_[t].parent = d;
        nodes_[r].parent = d;
        nodes_[d].children = {t, r};
        if (pos != out.end()) *pos = d;
        it->second = d;
      }
    }
    return out;
  }
  std::string number(int c) const {
    const Keyed& k = items_[nodes_[c].message];
    return std::to_string(uid_ ? k.uid : k.msn);
  }
  // RFC 5256 4 (the response): a chain of only children in one list, branches in
  // parentheses of their own. Children by date.
  std::string members(int c) {
    auto& kids = nodes_[c].children;
    sort_by_date(kids);
    std::string s;
    if (nodes_[c].message >= 0) {
      s = number(c);
      if (kids.size() == 1) return s + " " + members(kids[0]);
      if (!kids.empty()) s += " ";
    }
    for (int k : kids) s += "(" + members(k) + ")";
    return s;
  }

  const std::vector<Keyed>& items_;
  std::vector<Container> nodes_;
  std::map<std::string, int> ids_;
  bool uid_ = false;
};

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string trim(std::string_view s) {
  const auto a = s.find_first_not_of(" \t");
  if (a == std::string_view::npos) return "";
  const auto b = s.find_last_not_of(" \t");
  return std::string(s.substr(a, b - a + 1));
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
  if (algorithm && *algorithm != "ORDEREDSUBJECT" && *algorithm != "REFERENCES")
    return no("CANNOT", "Unsupported threading algorithm " + *algorithm);
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
        if (!s->message_id.empty()) k.message_id = s->message_id.front();
        k.references = !s->references.empty() ? s->references : s->in_reply_to;
        const std::string l = lower(trim(s->subject));
        for (std::string_view p : {"re:", "re[", "fw:", "fw[", "fwd:", "fwd["})
          k.reply = k.reply || l.starts_with(p);
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
  if (*algorithm == "REFERENCES") {
    std::string threads = Threader(items).run(uid);
    line(threads.empty() ? "THREAD" : "THREAD " + threads);
    return ok(uid ? "UID THREAD completed" : "THREAD completed");
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
