// web/jmap_query.cpp — RFC 8621 4.4 Email/query and RFC 8620 5.6 Email/queryChanges.
// A query whose first sort is receivedAt, size, sentAt, from or subject walks the store's
// view of its mailbox (or the account's views merged) and costs the page: the filter is
// tested on each email walked, later comparators order each run of ties in memory. Text
// conditions come from the search index (search/index.hpp) and read only the rows they
// name; anything else (a first sort on keywords or "to") filters and sorts the rows of its
// mailbox, else of the account, in memory, with every filter and sort of the RFC. Email/queryChanges reports every email logged since the old
// state (and, collapsed, every email of a touched thread) as removed and re-adds those the
// results hold now.
// SECURITY: filters are bounded (depth 16, 256 nodes, 64 text conditions of at most 1 KB)
// before any row is read; every id answered is one of the caller's rows.
#include <algorithm>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <set>

#include "mime/headers.hpp"
#include "mime/sort_keys.hpp"
#include "web/jmap_internal.hpp"

namespace refmail::web {

namespace {

using storage::MailboxRow;


struct Candidate {
  std::string id;
  EmailView view;
  std::optional<mime::Summary> summary;  // loaded on demand
};

const mime::Summary& summary_of(Ctx& ctx, Candidate& c) {
  if (!c.summary) {
    auto s = load_summary(ctx, c.id);
    c.summary = s ? std::move(*s) : mime::Summary{};
  }
  return *c.summary;
}

bool has_keyword(const MailboxRow& r, const std::string& k) {
  return std::find(r.keywords.begin(), r.keywords.end(), k) != r.keywords.end();
}

// (every email of the thread has `keyword`, some email has it): from the account's rows
// when the request holds them already (one pass per keyword), else from the thread's
// members. nullopt: a store error.
std::optional<std::pair<bool, bool>> thread_keyword(Ctx& ctx, const std::string& thread, const std::string& keyword) {
  auto& known = ctx.thread_keywords[keyword];
  if (ctx.emails && known.empty()) {
    for (const auto& [id, rows] : *ctx.emails) {
      auto [it, fresh] = known.try_emplace(rows.front().thread_id, true, false);
      const bool has = has_keyword(rows.front(), keyword);
      it->second.first = it->second.first && has;
      it->second.second = it->second.second || has;
    }
  }
  if (auto it = known.find(thread); it != known.end()) return it->second;
  if (ctx.emails) return std::make_pair(false, false);  // no email of the account is in it
  auto members = ctx.j.store.thread_emails(ctx.account, thread);
  if (!members) return std::nullopt;
  std::vector<std::string> ids;
  for (const auto& m : *members) ids.push_back(m.message_id);
  if (!ctx.prefetch_rows(ids)) return std::nullopt;
  bool all = true, some = false, any = false;
  for (const auto& id : ids) {
    const auto* rows = ctx.rows_of(id);
    if (!rows) return std::nullopt;
    if (rows->empty()) continue;
    const bool has = has_keyword(rows->front(), keyword);
    all = all && has;
    some = some || has;
    any = true;
  }
  return known.emplace(thread, any ? std::make_pair(all, some) : std::make_pair(false, false)).first->second;
}

// RFC 5322 field name: printable ASCII except ':'.
bool valid_field_name(std::string_view n) {
  return !n.empty() && n.size() <= 255 &&
         std::all_of(n.begin(), n.end(), [](char c) { return c > ' ' && c < 127 && c != ':'; });
}

// [name] (present) or [name, text] (a field of that name contains the text).
bool valid_header_condition(const json::value& v) {
  const auto* h = v.if_array();
  return h && !h->empty() && h->size() <= 2 && (*h)[0].is_string() && valid_field_name((*h)[0].as_string()) &&
         (h->size() == 1 || (*h)[1].is_string());
}

bool addresses_match(const std::vector<mime::Address>& list, std::string_view needle) {
  return std::any_of(list.begin(), list.end(),
                     [&](const mime::Address& a) { return contains_ci(a.email, needle) || contains_ci(a.name, needle); });
}

// The text conditions (text, body, subject, from, to, cc, bcc: RFC 8621 4.4.1) as the
// search index answers them: the matching ids of each, by the address of its value in
// the filter.
using TextHits = std::map<const json::value*, std::set<std::string>>;

std::optional<search::Field> text_field(std::string_view k) {
  if (k == "text") return search::Field::text;
  if (k == "body") return search::Field::body;
  if (k == "subject") return search::Field::subject;
  if (k == "from") return search::Field::from;
  if (k == "to") return search::Field::to;
  if (k == "cc") return search::Field::cc;
  if (k == "bcc") return search::Field::bcc;
  return std::nullopt;
}

// -1 unsupported filter, 0 no match, 1 match. With `hits`, text conditions are answered
// from the index (words, stems: search/index.hpp), else by substring over the summary.
int matches(Ctx& ctx, Candidate& c, const json::object& f, std::string& bad, const TextHits* hits = nullptr) {
  if (const auto* op = f.if_contains("operator")) {
    const auto* conds = f.if_contains("conditions");
    if (!op->is_string() || !conds || !conds->is_array()) {
      bad = "operator";
      return -1;
    }
    std::string_view o = op->as_string();
    bool any = false, all = true;
    for (const auto& sub : conds->as_array()) {
      if (!sub.is_object()) {
        bad = "conditions";
        return -1;
      }
      int m = matches(ctx, c, sub.as_object(), bad, hits);
      if (m < 0) return -1;
      any = any || m == 1;
      all = all && m == 1;
    }
    if (o == "AND") return all;
    if (o == "OR") return any;
    if (o == "NOT") return !any;
    bad = "operator " + std::string(o);
    return -1;
  }
  for (const auto& kv : f) {
    std::string_view k = kv.key();
    const auto& v = kv.value();
    auto str = [&]() -> std::string_view { return v.is_string() ? std::string_view(v.as_string()) : std::string_view{}; };
    if (hits && text_field(k)) {
      auto it = hits->find(&v);
      if (it == hits->end() || !it->second.count(c.id)) return 0;
    } else if (k == "inMailbox") {
      auto name = ctx.mailbox_name(str());
      if (!name) return 0;
      if (std::none_of(c.view.rows->begin(), c.view.rows->end(), [&](const MailboxRow& r) { return r.mailbox == *name; })) return 0;
    } else if (k == "inMailboxOtherThan") {
      if (!v.is_array()) return bad = "inMailboxOtherThan", -1;
      std::set<std::string> names;
      for (const auto& x : v.as_array()) {
        if (auto n = x.is_string() ? ctx.mailbox_name(x.as_string()) : std::nullopt) names.insert(*n);
      }
      if (std::all_of(c.view.rows->begin(), c.view.rows->end(), [&](const MailboxRow& r) { return names.count(r.mailbox); })) return 0;
    } else if (k == "before" || k == "after") {
      auto t = parse_utc_date(str());
      if (!t) return bad = std::string(k), -1;
      if (k == "before" ? !(c.view.received < *t) : !(c.view.received >= *t)) return 0;
    } else if (k == "minSize" || k == "maxSize") {
      if (!v.is_number()) return bad = std::string(k), -1;
      auto n = v.to_number<double>();
      if (k == "minSize" ? !(c.view.size >= n) : !(c.view.size < n)) return 0;
    } else if (k == "hasKeyword" || k == "notKeyword") {
      const auto& kws = c.view.rows->front().keywords;
      bool has = std::find(kws.begin(), kws.end(), str()) != kws.end();
      if (k == "hasKeyword" ? !has : has) return 0;
    } else if (k == "allInThreadHaveKeyword" || k == "someInThreadHaveKeyword" || k == "noneInThreadHaveKeyword") {
      if (str().empty()) return bad = std::string(k), -1;
      auto tk = thread_keyword(ctx, c.view.rows->front().thread_id, std::string(str()));
      if (!tk) return bad = "store", -1;
      const bool hit = k == "allInThreadHaveKeyword" ? tk->first : k == "someInThreadHaveKeyword" ? tk->second : !tk->second;
      if (!hit) return 0;
    } else if (k == "header") {
      if (!valid_header_condition(v)) return bad = "header", -1;
      const auto* h = v.if_array();
      auto m = ctx.j.store.get_message(c.id);
      if (!m) return 0;
      const auto name = ascii_lower((*h)[0].as_string());
      auto bodies = mime::header_field_bodies(m->record.skeleton, {std::string_view(name)});
      if (bodies.empty()) return 0;
      if (h->size() == 2 && std::none_of(bodies.begin(), bodies.end(), [&](const std::string& b) {
            return contains_ci(b, (*h)[1].as_string());
          }))
        return 0;
    } else if (k == "hasAttachment") {
      if (!v.is_bool()) return bad = "hasAttachment", -1;
      if (summary_of(ctx, c).has_attachment != v.as_bool()) return 0;
    } else if (k == "from" || k == "to" || k == "cc" || k == "bcc") {
      const auto& s = summary_of(ctx, c);
      const auto& list = k == "from" ? s.from : k == "to" ? s.to : k == "cc" ? s.cc : s.bcc;
      if (!addresses_match(list, str())) return 0;
    } else if (k == "subject") {
      if (!contains_ci(summary_of(ctx, c).subject, str())) return 0;
    } else if (k == "body" || k == "text") {
      const auto& s = summary_of(ctx, c);
      bool hit = false;
      for (const auto* ps : {&s.text_body, &s.html_body}) {
        for (const auto& p : *ps) hit = hit || contains_ci(p.content, str());
      }
      if (k == "text") {
        hit = hit || contains_ci(s.subject, str()) || addresses_match(s.from, str()) || addresses_match(s.to, str()) ||
              addresses_match(s.cc, str()) || addresses_match(s.bcc, str());
        for (const auto& a : s.attachments) hit = hit || contains_ci(a.name, str());
      }
      if (!hit) return 0;
    } else {
      bad = std::string(k);
      return -1;
    }
  }
  return 1;
}

// The filter's shape, checked up front so an empty mailbox answers the same error.
// Bounded: at most 16 levels and kMaxFilterNodes operators and conditions in all, so
// a filter costs at most that many tests per candidate.
inline constexpr int kMaxFilterNodes = 256;

bool filter_supported(const json::object& f, std::string& bad, int depth = 0, int* nodes = nullptr) {
  static const std::set<std::string_view> kKnown = {
      "inMailbox", "inMailboxOtherThan", "before", "after", "minSize", "maxSize", "hasKeyword", "notKeyword",
      "hasAttachment", "from", "to", "cc", "bcc", "subject", "body", "text", "allInThreadHaveKeyword",
      "someInThreadHaveKeyword", "noneInThreadHaveKeyword", "header"};
  int count = 0;
  if (!nodes) nodes = &count;
  if (depth > 16) return bad = "filter too deep", false;
  if (++*nodes > kMaxFilterNodes) return bad = "too many filter conditions", false;
  if (const auto* op = f.if_contains("operator")) {
    if (!op->is_string() || (op->as_string() != "AND" && op->as_string() != "OR" && op->as_string() != "NOT"))
      return bad = "operator", false;
    const auto* conds = f.if_contains("conditions");
    if (!conds || !conds->is_array()) return bad = "conditions", false;
    for (const auto& c : conds->as_array()) {
      if (!c.is_object() || !filter_supported(c.as_object(), bad, depth + 1, nodes))
        return bad = bad.empty() ? "conditions" : bad, false;
    }
    return true;
  }
  for (const auto& kv : f) {
    const std::string_view k = kv.key();
    const auto& v = kv.value();
    if (!kKnown.count(k)) return bad = std::string(k), false;
    // The values matches() cannot test (so every walk can test every candidate).
    bool ok = true;
    if (k == "inMailboxOtherThan") ok = v.is_array();
    else if (k == "before" || k == "after") ok = v.is_string() && parse_utc_date(v.as_string()).has_value();
    else if (k == "minSize" || k == "maxSize") ok = v.is_number();
    else if (k == "hasAttachment") ok = v.is_bool();
    else if (k.find("InThreadHaveKeyword") != std::string_view::npos) ok = v.is_string() && !v.as_string().empty();
    else if (k == "header") ok = valid_header_condition(v);
    if (!ok) return bad = std::string(k), false;
  }
  return true;
}

// ---- sorting (RFC 8621 4.4.2)

struct Comparator {
  std::string property;
  bool ascending = true;
  std::string keyword;  // hasKeyword, allInThreadHaveKeyword, someInThreadHaveKeyword
};

// false: `bad` is "sort" (not a list of comparators) or the unsupported property/collation.
bool parse_sort(const json::value& v, std::vector<Comparator>& out, std::string& bad) {
  static const std::set<std::string_view> kProperties = {
      "receivedAt", "size", "from", "to", "subject", "sentAt", "hasKeyword", "allInThreadHaveKeyword",
      "someInThreadHaveKeyword"};
  if (!v.is_array() || v.as_array().size() > 16) return bad = "sort", false;
  for (const auto& e : v.as_array()) {
    const auto* c = e.if_object();
    const json::value* p = c ? c->if_contains("property") : nullptr;
    if (!p || !p->is_string()) return bad = "sort", false;
    Comparator cmp;
    cmp.property = std::string(p->as_string());
    if (!kProperties.count(cmp.property)) return bad = cmp.property, false;
    if (const auto* a = c->if_contains("isAscending"); a && !a->is_null()) {
      if (!a->is_bool()) return bad = "sort", false;
      cmp.ascending = a->as_bool();  // RFC 8620 5.5: default true
    }
    if (const auto* col = c->if_contains("collation"); col && !col->is_null()) {
      // Text compares fold ASCII case: i;ascii-casemap (RFC 4790), the one collation
      // the session lists.
      if (!col->is_string() || col->as_string() != "i;ascii-casemap") return bad = "collation", false;
    }
    if (cmp.property.find("Keyword") != std::string::npos) {
      const auto* k = c->if_contains("keyword");
      if (!k || !k->is_string() || k->as_string().empty() || k->as_string().size() > 255) return bad = "sort", false;
      cmp.keyword = std::string(k->as_string());
    }
    out.push_back(std::move(cmp));
  }
  return true;
}

// Sorts `cands` by the comparators (ties by id, the last comparator's direction). Keys are
// computed once per candidate; the thread keyword keys from the account's rows.
bool sort_candidates(Ctx& ctx, const std::vector<Comparator>& comparators, std::vector<Candidate>& cands) {
  struct Keyed {
    std::vector<std::int64_t> nums;
    std::vector<std::string> texts;
    std::size_t index = 0;
  };
  std::vector<Keyed> keys(cands.size());
  for (std::size_t i = 0; i < cands.size(); ++i) {
    auto& c = cands[i];
    keys[i].index = i;
    const auto& row = c.view.rows->front();
    for (const auto& cmp : comparators) {
      std::int64_t n = 0;
      std::string t;
      if (cmp.property == "receivedAt") n = c.view.received;
      else if (cmp.property == "size") n = static_cast<std::int64_t>(c.view.size);
      else if (cmp.property == "hasKeyword") n = has_keyword(row, cmp.keyword);
      else if (cmp.property == "allInThreadHaveKeyword" || cmp.property == "someInThreadHaveKeyword") {
        auto tk = thread_keyword(ctx, row.thread_id, cmp.keyword);
        if (!tk) return false;
        n = cmp.property == "allInThreadHaveKeyword" ? tk->first : tk->second;
      } else {
        const auto& s = summary_of(ctx, c);
        // The same keys as the store's sorted views (mime/sort_keys.hpp).
        if (cmp.property == "from") t = mime::address_sort_key(s.from);
        else if (cmp.property == "to") t = mime::address_sort_key(s.to);
        else if (cmp.property == "subject") t = mime::base_subject(s.subject);
        else if (cmp.property == "sentAt") n = s.date.value_or(0);
      }
      keys[i].nums.push_back(n);
      keys[i].texts.push_back(std::move(t));
    }
  }
  const bool last_asc = comparators.back().ascending;
  std::stable_sort(keys.begin(), keys.end(), [&](const Keyed& a, const Keyed& b) {
    for (std::size_t k = 0; k < comparators.size(); ++k) {
      const bool asc = comparators[k].ascending;
      if (a.nums[k] != b.nums[k]) return asc ? a.nums[k] < b.nums[k] : a.nums[k] > b.nums[k];
      if (a.texts[k] != b.texts[k]) return asc ? a.texts[k] < b.texts[k] : a.texts[k] > b.texts[k];
    }
    const auto& ia = cands[a.index].id;
    const auto& ib = cands[b.index].id;
    return last_asc ? ia < ib : ia > ib;
  });
  std::vector<Candidate> sorted;
  sorted.reserve(cands.size());
  for (const auto& k : keys) sorted.push_back(std::move(cands[k.index]));
  cands = std::move(sorted);
  return true;
}

// The results of one Email/query (RFC 8620 5.5), in order, shared by Email/query and
// Email/queryChanges: its total and a walk over it. Only the walk costs (what it visits).
struct Results {
  // The number of results (nullopt: a store error). May walk them all: asked only for
  // calculateTotal or a negative position.
  std::function<std::optional<std::int64_t>()> count;
  // Visits the results in order (index, email id, thread id) until `visit` returns false.
  // false: a store error.
  std::function<bool(const std::function<bool(std::int64_t, const std::string&, const std::string&)>&)> walk;
  // Whether `id` may be among the results (false: surely not), without a walk.
  // nullopt: a store error.
  std::function<std::optional<bool>(const std::string&)> may_hold;
};

// The store's sorted view of a mailbox for a sort property (receivedAt: the date view).
std::optional<storage::SortView> sort_view(std::string_view property) {
  if (property == "size") return storage::SortView::size;
  if (property == "sentAt") return storage::SortView::sent_at;
  if (property == "from") return storage::SortView::from;
  if (property == "subject") return storage::SortView::subject;
  return std::nullopt;
}

Results no_results() {
  Results r;
  r.count = [] { return std::optional<std::int64_t>(0); };
  r.walk = [](const auto&) { return true; };
  r.may_hold = [](const std::string&) { return std::optional<bool>(false); };
  return r;
}

// One mailbox sorted by receivedAt (what the webmail and most clients ask for), size,
// sentAt, from or subject, optionally only its unread (or read) mail: the store's date
// view or sorted view of that mailbox, so a walk costs what it visits, not the mailbox;
// the total is the mailbox's count. nullopt: not that query (email_results filters the
// account's rows).
std::optional<Results> mailbox_results(Ctx& ctx, const json::object& args, bool& failed) {
  const auto* f = args.if_contains("filter");
  if (!f || !f->is_object() || f->as_object().size() > 2) return std::nullopt;
  const auto* in = f->as_object().if_contains("inMailbox");
  if (!in || !in->is_string()) return std::nullopt;
  // With it, "notKeyword" or "hasKeyword" "$seen" (unread or read mail): the mailbox's
  // unread counts give the total, and the walk skips the rows that do not match.
  std::optional<bool> want_seen;
  if (f->as_object().size() == 2) {
    const auto* no = f->as_object().if_contains("notKeyword");
    const auto* has = f->as_object().if_contains("hasKeyword");
    const auto* kw = no ? no : has;
    if (!kw || !kw->is_string() || kw->as_string() != "$seen") return std::nullopt;
    want_seen = has != nullptr;
  }
  if (want_seen == true && bool_arg(args, "collapseThreads")) return std::nullopt;  // no count of read threads
  bool newest_first = true;  // no sort: newest first (as the filtered path)
  std::optional<storage::SortView> sorted;  // none: the date view (receivedAt)
  if (const auto* sort = args.if_contains("sort"); sort && !sort->is_null()) {
    std::vector<Comparator> cmps;
    std::string bad;
    if (!parse_sort(*sort, cmps, bad) || cmps.size() != 1) return std::nullopt;
    if (auto v = sort_view(cmps[0].property)) sorted = *v;
    else if (cmps[0].property != "receivedAt") return std::nullopt;
    newest_first = !cmps[0].ascending;  // for the sorted views: descending
  }
  const auto* boxes = ctx.mailbox_list();
  if (!boxes) return failed = true, std::nullopt;
  auto name = ctx.mailbox_name(in->as_string());
  std::optional<std::uint32_t> mailbox_id;
  for (const auto& b : *boxes)
    if (name && b.name == *name) mailbox_id = b.mailbox_id;
  const bool collapse = bool_arg(args, "collapseThreads");
  Results r;
  if (!mailbox_id) return no_results();
  auto counts = ctx.j.store.mailbox_counts(ctx.account);
  if (!counts) return failed = true, std::nullopt;
  const auto c = (*counts)[*mailbox_id];
  std::int64_t total = 0;
  if (!want_seen) total = static_cast<std::int64_t>(collapse ? c.threads : c.total);
  else if (!*want_seen) total = static_cast<std::int64_t>(collapse ? c.unread_threads : c.unread);
  else total = static_cast<std::int64_t>(c.total - std::min(c.total, c.unread));
  r.count = [total] { return std::optional<std::int64_t>(total); };
  Ctx* cx = &ctx;
  const std::uint32_t box = *mailbox_id;
  // Collapsed: each thread's first email in the walk's order. With a $seen condition,
  // only rows of this mailbox whose $seen is as asked (each read as it is passed).
  r.walk = [cx, box, newest_first, collapse, sorted, want_seen, mailbox = *name](const auto& visit) {
    std::set<std::string> threads;
    std::int64_t index = 0;
    bool failed_read = false;
    auto each = [&](const storage::ViewEntry& e) {
      if (want_seen) {
        const auto* rows = cx->rows_of(e.message_id);
        if (!rows) return !(failed_read = true);
        auto row = std::find_if(rows->begin(), rows->end(),
                                [&](const MailboxRow& x) { return x.mailbox == mailbox && x.uid == e.uid; });
        if (row == rows->end()) return true;  // expunged since the view was read
        if (has_keyword(*row, "$seen") != *want_seen) return true;
      }
      if (collapse && !threads.insert(e.thread_id).second) return true;
      return visit(index++, e.message_id, e.thread_id);
    };
    auto w = sorted ? cx->j.store.scan_sorted_view(cx->account, box, *sorted, newest_first, each)
                    : cx->j.store.scan_mailbox_view(cx->account, box, newest_first, each);
    return bool(w) && !failed_read;
  };
  // In the results only with a row in this mailbox: known from the message index.
  r.may_hold = [cx, mailbox = *name](const std::string& id) -> std::optional<bool> {
    const auto* rows = cx->rows_of(id);
    if (!rows) return std::nullopt;
    return std::any_of(rows->begin(), rows->end(), [&](const MailboxRow& row) { return row.mailbox == mailbox; });
  };
  return r;
}

// Text conditions one query may hold: each is one index search.
constexpr std::size_t kMaxTextConditions = 64;

// Asks the index for every text condition of `f` (hits keyed by the condition's value).
// errc::query_too_long for a value the index refuses or more than kMaxTextConditions;
// other errors: use the scan.
search::result<void> search_text(Ctx& ctx, const json::object& f, TextHits& hits) {
  if (const auto* conds = f.if_contains("conditions"); conds && f.contains("operator")) {
    for (const auto& sub : conds->as_array()) {
      if (auto r = search_text(ctx, sub.as_object(), hits); !r) return r;
    }
    return {};
  }
  for (const auto& kv : f) {
    auto field = text_field(kv.key());
    if (!field) continue;
    // A value that is not a string searches nothing (as an empty one).
    std::string_view text = kv.value().is_string() ? std::string_view(kv.value().as_string()) : std::string_view{};
    if (hits.size() >= kMaxTextConditions) return search::errc::query_too_long;
    auto ids = ctx.j.search->search(ctx.account, *field, text);
    if (!ids) return ids.error();
    hits[&kv.value()] = std::set<std::string>(ids->begin(), ids->end());
  }
  return {};
}

bool has_text(const json::object& f) {
  if (const auto* conds = f.if_contains("conditions"); conds && f.contains("operator")) {
    return std::any_of(conds->as_array().begin(), conds->as_array().end(),
                       [](const json::value& sub) { return has_text(sub.as_object()); });
  }
  return std::any_of(f.begin(), f.end(), [](const json::key_value_pair& kv) { return text_field(kv.key()).has_value(); });
}

// The emails `f` can match at most, known from its text conditions alone (an AND
// narrows to the intersection, an OR of bounded branches to the union); nullopt when
// they do not bound it (no text condition on some branch, or a NOT).
std::optional<std::set<std::string>> text_bound(const json::object& f, const TextHits& hits) {
  std::optional<std::set<std::string>> out;
  auto narrow = [&out](const std::set<std::string>& s) {
    if (!out) {
      out = s;
      return;
    }
    std::set<std::string> both;
    std::set_intersection(out->begin(), out->end(), s.begin(), s.end(), std::inserter(both, both.end()));
    out = std::move(both);
  };
  if (const auto* conds = f.if_contains("conditions"); conds && f.contains("operator")) {
    std::string_view op = f.at("operator").is_string() ? std::string_view(f.at("operator").as_string()) : "";
    if (op == "AND") {
      for (const auto& sub : conds->as_array()) {
        if (auto b = text_bound(sub.as_object(), hits)) narrow(*b);
      }
      return out;
    }
    if (op == "OR") {
      std::set<std::string> any;
      for (const auto& sub : conds->as_array()) {
        auto b = text_bound(sub.as_object(), hits);
        if (!b) return std::nullopt;
        any.insert(b->begin(), b->end());
      }
      return any;
    }
    return std::nullopt;  // NOT: everything but its matches
  }
  for (const auto& kv : f) {
    if (auto it = hits.find(&kv.value()); it != hits.end()) narrow(it->second);
  }
  return out;
}

// At most this many change-log entries are indexed by a query before it answers; past
// that the index is behind (the background worker catches up) and the scan answers.
constexpr std::size_t kQueryCatchUpChanges = 2000;
// A query rebuilds a missing or unusable index only for an account of at most this many
// emails (the cost of about that many change entries).
constexpr std::size_t kQueryRebuildMessages = 1000;

// The filter's top-level inMailbox (its own, or that of a condition of a top-level AND):
// every result is in that mailbox. nullptr: none.
const json::value* top_mailbox(const json::object& f) {
  if (const auto* op = f.if_contains("operator")) {
    if (!op->is_string() || op->as_string() != "AND") return nullptr;
    for (const auto& c : f.at("conditions").as_array())
      if (const auto* in = top_mailbox(c.as_object())) return in;
    return nullptr;
  }
  const auto* in = f.if_contains("inMailbox");
  return in && in->is_string() ? in : nullptr;
}

constexpr std::size_t kMaxMergedMailboxes = 512;

// A query walked in a view's order, the filter tested on each email as it is passed: the
// date or sorted view of the filter's top-level inMailbox, or without one the account's
// order (its mailboxes' date or sorted views merged; by date an email is taken at its
// earliest row, where the receivedAt sort places it; by a sorted view its rows share
// the key and the first is taken). A page costs the emails walked to fill it; the
// count walks them all. nullopt: a sort no view gives (`failed` on a store error).
std::optional<Results> streamed_results(Ctx& ctx, const json::object& args, const json::object* filter,
                                        const std::vector<Comparator>& comparators,
                                        std::shared_ptr<const TextHits> hits, bool& failed) {
  // Further comparators order each run of emails that tie on the first one (the view's
  // key), sorted in memory when the run ends: a page costs the runs it reaches.
  const std::vector<Comparator> rest(comparators.size() > 1 ? comparators.begin() + 1 : comparators.end(),
                                     comparators.end());
  std::optional<storage::SortView> sorted;
  bool descending = true;  // no sort: newest first
  if (!comparators.empty()) {
    descending = !comparators[0].ascending;
    if (comparators[0].property != "receivedAt" && !(sorted = sort_view(comparators[0].property))) return std::nullopt;
  }
  const json::value* in = filter ? top_mailbox(*filter) : nullptr;
  const auto* boxes = ctx.mailbox_list();
  if (!boxes) return failed = true, std::nullopt;
  // The account's order holds a cursor per mailbox at once: past this many mailboxes the
  // in-memory path answers (its cost is the account's rows, not its mailboxes).
  if (!in && boxes->size() > kMaxMergedMailboxes) return std::nullopt;
  std::optional<std::uint32_t> box;
  if (in) {
    auto name = ctx.mailbox_name(in->as_string());
    for (const auto& b : *boxes)
      if (name && b.name == *name) box = b.mailbox_id;
    if (!box) return no_results();
  }
  const bool collapse = bool_arg(args, "collapseThreads");
  Ctx* cx = &ctx;
  Results r;
  r.walk = [cx, filter, hits, box, sorted, descending, collapse, rest](const auto& visit) {
    std::set<std::string> taken, threads;
    std::int64_t index = 0;
    bool failed_read = false;
    bool stopped = false;
    // With `rest`: the current run of emails tied on the view's key, and their rows.
    std::string run_key;
    std::deque<std::vector<MailboxRow>> run_rows;
    std::vector<Candidate> run;
    auto flush = [&]() -> bool {
      if (run.empty()) return true;
      if (!sort_candidates(*cx, rest, run)) return !(failed_read = true);
      for (auto& c : run) {
        const auto& thread = c.view.rows->front().thread_id;
        if (collapse && !threads.insert(thread).second) continue;
        if (!visit(index++, c.id, thread)) return !(stopped = true);
      }
      run.clear();
      run_rows.clear();
      return true;
    };
    // Each email's rows are read here and dropped after its test (not kept in the
    // request's cache): a count holds no more than the ids of emails with several rows.
    auto each = [&](const storage::ViewEntry& e, bool account_order) {
      if (taken.count(e.message_id)) return true;
      auto rows = cx->j.store.message_rows(cx->account, e.message_id);
      if (!rows) return !(failed_read = true);
      if (rows->empty()) return true;  // expunged since the view was read
      Candidate c{e.message_id, view_of(*rows), std::nullopt};
      if (account_order && e.internal_date.time_since_epoch().count() != c.view.received) return true;
      if (rows->size() > 1) taken.insert(e.message_id);  // another view entry is the same email
      std::string bad;  // filter_supported checked every value
      if (filter && matches(*cx, c, *filter, bad, hits.get()) != 1) return true;
      if (!rest.empty()) {
        if (e.sort_key != run_key && !flush()) return false;
        run_key = e.sort_key;
        run_rows.push_back(std::move(*rows));
        run.push_back(Candidate{e.message_id, view_of(run_rows.back()), std::move(c.summary)});
        return true;
      }
      const auto& thread = rows->front().thread_id;
      if (collapse && !threads.insert(thread).second) return true;
      if (!visit(index++, e.message_id, thread)) return !(stopped = true);
      return true;
    };
    storage::result<void> w;
    if (!box && sorted) {
      // The email's rows come one after the other (same sort key): `taken` keeps the first.
      w = cx->j.store.scan_account_sorted_view(
          cx->account, *sorted, descending, [&](std::uint32_t, const storage::ViewEntry& e) { return each(e, false); });
    } else if (!box) {
      w = cx->j.store.scan_account_view(cx->account, descending,
                                        [&](std::uint32_t, const storage::ViewEntry& e) { return each(e, true); });
    } else if (sorted) {
      w = cx->j.store.scan_sorted_view(cx->account, *box, *sorted, descending,
                                       [&](const storage::ViewEntry& e) { return each(e, false); });
    } else {
      w = cx->j.store.scan_mailbox_view(cx->account, *box, descending,
                                        [&](const storage::ViewEntry& e) { return each(e, false); });
    }
    if (w && !failed_read && !stopped) flush();  // the last run
    return bool(w) && !failed_read;
  };
  r.count = [walk = r.walk]() -> std::optional<std::int64_t> {
    std::int64_t n = 0;
    if (!walk([&](std::int64_t, const std::string&, const std::string&) { return ++n, true; })) return std::nullopt;
    return n;
  };
  // Exactly: the filter tested on the email (the walk then stops at the last one sought).
  r.may_hold = [cx, filter, hits](const std::string& id) -> std::optional<bool> {
    const auto* rows = cx->rows_of(id);
    if (!rows) return std::nullopt;
    if (rows->empty()) return false;
    Candidate c{id, view_of(*rows), std::nullopt};
    std::string bad;
    return !filter || matches(*cx, c, *filter, bad, hits.get()) == 1;
  };
  return r;
}

// Every Email/query: one mailbox's view (mailbox_results); text conditions that bound
// the filter: only the rows the search index names, filtered and sorted in memory; a
// sort a view gives: the view walked and filtered (streamed_results); any other sort:
// the rows of the filter's top-level mailbox, else of the account, filtered and sorted
// in memory. nullopt: a method error was written to `out`.
std::optional<Results> email_results(Ctx& ctx, const json::object& args, const std::string& call_id, json::array& out) {
  bool failed = false;
  const bool indexed_paths = !ctx.j.limits.query_in_memory;
  if (indexed_paths) {
    if (auto r = mailbox_results(ctx, args, failed)) return r;
    if (failed) return out.push_back(method_error("serverFail", call_id)), std::nullopt;
  }
  const json::object* filter = nullptr;
  if (const auto* f = args.if_contains("filter"); f && !f->is_null()) {
    if (!f->is_object()) return out.push_back(method_error("invalidArguments", call_id, "filter")), std::nullopt;
    if (std::string bad; !filter_supported(f->as_object(), bad)) {
      return out.push_back(method_error("unsupportedFilter", call_id, bad)), std::nullopt;
    }
    filter = &f->as_object();
  }
  // Sort (RFC 8621 4.4.2): every comparator in turn, then the id for a stable order;
  // without one, newest first.
  std::vector<Comparator> comparators;
  if (const auto* s = args.if_contains("sort"); s && !s->is_null()) {
    std::string bad;
    if (!parse_sort(*s, comparators, bad)) {
      const bool shape = bad == "sort";
      return out.push_back(method_error(shape ? "invalidArguments" : "unsupportedSort", call_id, bad)), std::nullopt;
    }
  }
  // Text conditions from the index when it is current for this account (caught up
  // here, boundedly): then only the emails the text can match are read.
  auto hits = std::make_shared<TextHits>();
  bool indexed = false;
  std::map<std::string, std::vector<MailboxRow>> bounded;
  const std::map<std::string, std::vector<MailboxRow>>* emails = nullptr;
  if (filter && ctx.j.search && has_text(*filter)) {
    // A rebuild only of a small account here; a larger one is the worker's (the scan
    // answers meanwhile).
    auto caught_up = ctx.j.search->catch_up(ctx.account, kQueryCatchUpChanges, kQueryRebuildMessages);
    if (caught_up) {
      auto found = search_text(ctx, *filter, *hits);
      if (!found && found.error() == search::errc::query_too_long) {
        return out.push_back(method_error("unsupportedFilter", call_id, "text too long or too many text conditions")),
               std::nullopt;
      }
      indexed = found.has_value();
    }
    if (indexed) {
      if (auto bound = text_bound(*filter, *hits)) {
        std::vector<std::string> ids(bound->begin(), bound->end());
        auto rows = ctx.j.store.message_rows(ctx.account, ids);
        if (!rows) return out.push_back(method_error("serverFail", call_id)), std::nullopt;
        for (auto& [id, r] : *rows) {
          if (!r.empty()) bounded.emplace(id, std::move(r));
        }
        emails = &bounded;
      }
    }
  }
  if (!indexed) hits.reset();
  if (!emails && indexed_paths) {
    if (auto r = streamed_results(ctx, args, filter, comparators, hits, failed)) return r;
    if (failed) return out.push_back(method_error("serverFail", call_id)), std::nullopt;
  }
  // A sort no view gives, within one mailbox: only that mailbox's emails, read through its
  // date view, are filtered and sorted.
  if (!emails && indexed_paths && filter) {
    if (const auto* in = top_mailbox(*filter)) {
      const auto* boxes = ctx.mailbox_list();
      if (!boxes) return out.push_back(method_error("serverFail", call_id)), std::nullopt;
      auto name = ctx.mailbox_name(in->as_string());
      std::vector<std::string> ids;
      for (const auto& b : *boxes) {
        if (!name || b.name != *name) continue;
        auto w = ctx.j.store.scan_mailbox_view(ctx.account, b.mailbox_id, true, [&](const storage::ViewEntry& e) {
          ids.push_back(e.message_id);
          return true;
        });
        if (!w) return out.push_back(method_error("serverFail", call_id)), std::nullopt;
      }
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      auto rows = ctx.j.store.message_rows(ctx.account, ids);
      if (!rows) return out.push_back(method_error("serverFail", call_id)), std::nullopt;
      for (auto& [id, r] : *rows) {
        if (!r.empty()) bounded.emplace(id, std::move(r));
      }
      emails = &bounded;
    }
  }
  if (!emails) emails = ctx.email_rows();
  if (!emails) return out.push_back(method_error("serverFail", call_id)), std::nullopt;
  std::vector<Candidate> cands;
  for (const auto& [id, rows] : *emails) cands.push_back(Candidate{id, view_of(rows), std::nullopt});
  if (filter) {
    std::vector<Candidate> kept;
    for (auto& c : cands) {
      std::string bad;
      int m = matches(ctx, c, *filter, bad, hits.get());
      if (m < 0) return out.push_back(method_error("unsupportedFilter", call_id, bad)), std::nullopt;
      if (m) kept.push_back(std::move(c));
    }
    cands = std::move(kept);
  }
  if (comparators.empty()) comparators.push_back(Comparator{"receivedAt", false, {}});
  if (!sort_candidates(ctx, comparators, cands))
    return out.push_back(method_error("serverFail", call_id)), std::nullopt;
  // (email id, thread id) in order; collapsed: only the first email of each thread
  // (RFC 8621 4.4.3).
  auto list = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
  std::set<std::string> threads;
  const bool collapse = bool_arg(args, "collapseThreads");
  for (auto& c : cands) {
    const auto& thread = c.view.rows->front().thread_id;
    if (collapse && !threads.insert(thread).second) continue;
    list->emplace_back(std::move(c.id), thread);
  }
  Results r;
  r.count = [n = static_cast<std::int64_t>(list->size())] { return std::optional<std::int64_t>(n); };
  r.walk = [list](const auto& visit) {
    for (std::size_t i = 0; i < list->size(); ++i)
      if (!visit(static_cast<std::int64_t>(i), (*list)[i].first, (*list)[i].second)) break;
    return true;
  };
  r.may_hold = [](const std::string&) { return std::optional<bool>(true); };
  return r;
}

}  // namespace

void email_query(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  auto results = email_results(ctx, args, call_id, out);
  if (!results) return;
  // The total only when asked (RFC 8620 5.5) or a negative position needs it: it may
  // walk every result.
  std::optional<std::int64_t> total;
  auto count = [&] {
    if (!total) total = results->count();
    return total.has_value();
  };
  std::int64_t position = 0;
  if (const auto* p = args.if_contains("position"); p && p->is_int64()) position = p->as_int64();
  if (const auto* anchor = args.if_contains("anchor"); anchor && anchor->is_string()) {
    const std::string want(anchor->as_string());
    auto held = results->may_hold(want);
    if (!held) return out.push_back(method_error("serverFail", call_id));
    std::optional<std::int64_t> at;
    if (*held && !results->walk([&](std::int64_t i, const std::string& id, const std::string&) {
          if (id == want) at = i;
          return !at;
        }))
      return out.push_back(method_error("serverFail", call_id));
    if (!at) return out.push_back(method_error("anchorNotFound", call_id));
    std::int64_t off = 0;
    if (const auto* o = args.if_contains("anchorOffset"); o && o->is_int64()) off = o->as_int64();
    position = std::max<std::int64_t>(0, *at + off);
  }
  if (position < 0) {
    if (!count()) return out.push_back(method_error("serverFail", call_id));
    position = std::max<std::int64_t>(0, *total + position);
  }
  std::int64_t limit = ctx.j.limits.max_objects_in_get;
  if (const auto* l = args.if_contains("limit"); l && l->is_int64()) {
    if (l->as_int64() < 0) return out.push_back(method_error("invalidArguments", call_id, "limit"));
    limit = std::min<std::int64_t>(limit, l->as_int64());
  }
  json::array ids;
  if (limit > 0 && (!total || position < *total)) {
    std::int64_t walked = 0;
    bool ended = true;  // the walk ran out of results (then `walked` is their number)
    if (!results->walk([&](std::int64_t i, const std::string& id, const std::string&) {
          walked = i + 1;
          if (i >= position) ids.emplace_back(id);
          return (ended = i + 1 < position + limit);
        }))
      return out.push_back(method_error("serverFail", call_id));
    if (ended && !total) total = walked;
  }
  if (bool_arg(args, "calculateTotal") && !count()) return out.push_back(method_error("serverFail", call_id));
  json::object res{{"accountId", ctx.account_id}, {"queryState", ctx.state()}, {"canCalculateChanges", true},
                   {"position", total ? std::min(position, *total) : position}, {"ids", ids}};
  if (bool_arg(args, "calculateTotal")) res["total"] = *total;
  if (limit < ctx.j.limits.max_objects_in_get || args.contains("limit")) res["limit"] = limit;
  out.push_back(method_response("Email/query", std::move(res), call_id));
}

// RFC 8620 5.6 from the change log: every email logged since the old state (and, with
// collapseThreads, every email of a thread logged or touched since) is reported removed,
// and added again at its index when the current results hold it. Extra removed ids are
// allowed (5.6: "MAY"); none that left the results is missed, because everything that
// moves an email in or out of a result (keywords, mailboxes, expunge, a thread gaining
// an email) is logged. Costs the changes plus a walk of the results up to the last one
// found (new mail is at the top of the usual newest-first query).
void email_query_changes(Ctx& ctx, json::object& args, const std::string& call_id, json::array& out) {
  const auto* since = args.if_contains("sinceQueryState");
  if (!since || !since->is_string()) return out.push_back(method_error("invalidArguments", call_id, "sinceQueryState"));
  std::size_t max_changes = 0;
  if (const auto* m = args.if_contains("maxChanges"); m && !m->is_null()) {
    if (!m->is_int64() || m->as_int64() <= 0) return out.push_back(method_error("invalidArguments", call_id, "maxChanges"));
    max_changes = static_cast<std::size_t>(m->as_int64());
  }
  std::optional<std::string> up_to;
  if (const auto* u = args.if_contains("upToId"); u && !u->is_null()) {
    if (!u->is_string()) return out.push_back(method_error("invalidArguments", call_id, "upToId"));
    up_to = std::string(u->as_string());
  }
  std::string_view st = since->as_string();
  const auto since_state = parse_state(st);
  if (!since_state) return out.push_back(method_error("cannotCalculateChanges", call_id, "not a query state of this server"));
  // The state is read before the results are, so a change made in between is reported
  // again next time rather than missed.
  const auto new_state = ctx.state();
  auto log = ctx.j.store.changes_since(ctx.account, *since_state);
  if (!log) {
    if (log.error() == storage::errc::expired || log.error() == storage::errc::invalid_argument)
      return out.push_back(method_error("cannotCalculateChanges", call_id,
                                        "the change log does not reach back to this state; rerun Email/query"));
    return out.push_back(method_error("serverFail", call_id));
  }
  const bool collapse = bool_arg(args, "collapseThreads");
  std::set<std::string> removed, threads;
  for (const auto& set : log->sets) {
    for (const auto& c : set.changes) {
      if (c.type == storage::ChangeType::email) removed.insert(c.id);
      else if (c.type == storage::ChangeType::thread && collapse) threads.insert(c.id);
    }
  }
  // Bounded before any thread or result is read.
  const std::size_t bound = max_changes > 0 ? max_changes : ctx.j.limits.max_objects_in_get;
  auto too_many = [&]() { return removed.size() > bound; };
  if (too_many()) return out.push_back(method_error("tooManyChanges", call_id));
  if (collapse) {
    // A thread's first email can change when any email of it changes.
    std::vector<std::string> ids(removed.begin(), removed.end());
    if (!ctx.prefetch_rows(ids)) return out.push_back(method_error("serverFail", call_id));
    for (const auto& id : ids) {
      const auto* rows = ctx.rows_of(id);
      if (!rows) return out.push_back(method_error("serverFail", call_id));
      if (!rows->empty()) threads.insert(rows->front().thread_id);
    }
    for (const auto& t : threads) {
      auto members = ctx.j.store.thread_emails(ctx.account, t);
      if (!members) return out.push_back(method_error("serverFail", call_id));
      for (const auto& m : *members) removed.insert(m.message_id);
      if (too_many()) return out.push_back(method_error("tooManyChanges", call_id));
    }
  }
  auto results = email_results(ctx, args, call_id, out);
  if (!results) return;
  // Which of them the results may hold (collapsed: their threads, each shown once), so
  // the walk stops once it has seen them all.
  std::set<std::string> pending_ids, pending_threads;
  {
    std::vector<std::string> ids(removed.begin(), removed.end());
    if (!ctx.prefetch_rows(ids)) return out.push_back(method_error("serverFail", call_id));
    for (const auto& id : ids) {
      const auto* rows = ctx.rows_of(id);
      if (!rows) return out.push_back(method_error("serverFail", call_id));
      if (rows->empty()) continue;  // destroyed
      auto held = results->may_hold(id);
      if (!held) return out.push_back(method_error("serverFail", call_id));
      if (!*held) continue;
      pending_ids.insert(id);
      pending_threads.insert(rows->front().thread_id);
    }
  }
  auto& pending = collapse ? pending_threads : pending_ids;
  json::array added;
  if (!pending.empty() && !results->walk([&](std::int64_t i, const std::string& id, const std::string& thread) {
        if (pending.erase(collapse ? thread : id) && removed.count(id)) added.push_back(json::object{{"id", id}, {"index", i}});
        // upToId: nothing after the client's last cached id needs reporting.
        return !pending.empty() && !(up_to && id == *up_to);
      }))
    return out.push_back(method_error("serverFail", call_id));
  json::array removed_ids;
  for (const auto& id : removed) removed_ids.emplace_back(id);
  json::object res{{"accountId", ctx.account_id}, {"oldQueryState", std::string(st)}, {"newQueryState", new_state},
                   {"removed", std::move(removed_ids)}, {"added", std::move(added)}};
  if (bool_arg(args, "calculateTotal")) {
    auto total = results->count();
    if (!total) return out.push_back(method_error("serverFail", call_id));
    res["total"] = *total;
  }
  out.push_back(method_response("Email/queryChanges", std::move(res), call_id));
}

}  // namespace refmail::web
