// imap/mailbox/folders.cpp — the mailbox-level commands: LIST (RFC 9051 6.3.9, with
// LIST-EXTENDED selection/return options RFC 5258 (SUBSCRIBED, SPECIAL-USE,
// RECURSIVEMATCH with CHILDINFO; REMOTE selects nothing more: there are no remote
// mailboxes; CHILDREN is always returned), LIST-STATUS RFC 5819, SPECIAL-USE
// RFC 6154), LSUB (RFC 3501 6.3.9), STATUS (6.3.11), CREATE, DELETE, RENAME (6.3.4-6.3.6),
// SUBSCRIBE / UNSUBSCRIBE (6.3.7, 6.3.8).
// Hierarchy: "/" separates levels in the store's flat names ("Lists/rust"); a level with
// children but no mailbox of its own is listed \NonExistent (\Noselect for IMAP4rev1).
// Subscriptions are a flag of each mailbox in the store (JMAP's isSubscribed is the same
// flag): a new mailbox is subscribed, a rename keeps it, DELETE drops it with the mailbox.
// Only existing mailboxes can be subscribed (SUBSCRIBE of another name is NO
// [NONEXISTENT], as Gmail and Stalwart answer); UNSUBSCRIBE of a name that is not a
// mailbox is OK, there being nothing to forget.
// Must never: list another account's mailbox; delete or rename INBOX or a system mailbox.
#include <algorithm>
#include <map>
#include <set>

#include "imap/mailbox/impl.hpp"
#include "imap/mutf7.hpp"
#include "storage/errors.hpp"

namespace refmail::imap {

namespace {

// RFC 9051 6.3.9: "*" matches anything, "%" anything but the hierarchy separator. Runs
// of wildcards collapse ("*%" is "*", "%%" is "%"); a collapsed pattern longer than
// 2 * 255 + 1 cannot match a name (names are at most 255 bytes), so the NFA walk below
// costs at most 511 x 256 steps per name, whatever the client sent.
bool wildcard_match(std::string_view pattern, std::string_view name) {
  std::string pat;
  for (char ch : pattern) {
    if ((ch == '*' || ch == '%') && !pat.empty() && (pat.back() == '*' || pat.back() == '%')) {
      if (ch == '*') pat.back() = '*';
      continue;
    }
    pat.push_back(ch);
  }
  if (pat.size() > 2 * 255 + 1) return false;
  // live[i]: the pattern's first i characters can match the name's prefix read so far.
  std::vector<char> live(pat.size() + 1, 0), next(pat.size() + 1, 0);
  auto close = [&](std::vector<char>& v) {  // a wildcard may match nothing
    for (std::size_t i = 0; i < pat.size(); ++i)
      if (v[i] && (pat[i] == '*' || pat[i] == '%')) v[i + 1] = 1;
  };
  live[0] = 1;
  close(live);
  for (char ch : name) {
    std::fill(next.begin(), next.end(), 0);
    for (std::size_t i = 0; i < pat.size(); ++i) {
      if (!live[i]) continue;
      if (pat[i] == '*' || (pat[i] == '%' && ch != '/')) next[i] = 1;  // the wildcard eats ch
      else if (pat[i] == ch) next[i + 1] = 1;
    }
    close(next);
    live.swap(next);
  }
  return live[pat.size()] != 0;
}

}  // namespace

namespace mailbox {
std::string special_use(std::string_view name) {
  if (name == "Sent") return "\\Sent";
  if (name == "Drafts") return "\\Drafts";
  if (name == "Trash") return "\\Trash";
  if (name == "Archive") return "\\Archive";
  if (name == "Junk" || name == "Spam") return "\\Junk";
  return "";
}
}  // namespace mailbox

namespace {

// INBOX matches case-insensitively (RFC 9051 5.1): a pattern that starts with "inbox"
// in any case is compared with "INBOX" spelled upper-case.
std::string canonical_pattern(std::string_view p) {
  std::string s(p);
  if (s.size() >= 5) {
    std::string head = s.substr(0, 5);
    for (auto& ch : head) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (head == "INBOX" && (s.size() == 5 || s[5] == '/' || s[5] == '*' || s[5] == '%'))
      s.replace(0, 5, "INBOX");
  }
  return s;
}

// RFC 9051 6.3.9: the reference names a level and the pattern is interpreted below it
// (the separator between them implied).
std::string full_pattern(std::string_view reference, std::string_view pattern) {
  std::string full(reference);
  if (!reference.empty() && reference.back() != '/' && !pattern.empty() && pattern.front() != '/') full += '/';
  full += pattern;
  return canonical_pattern(full);
}

}  // namespace

storage::result<std::string> MailboxEngine::Impl::status_items(const storage::MailboxInfo& m,
                                                               const std::vector<StatusItem>& items) {
  std::optional<storage::MailboxCounts> counts;
  auto get_counts = [&]() -> storage::result<storage::MailboxCounts> {
    if (!counts) {
      auto all = store.mailbox_counts(account);
      if (!all) return all.error();
      auto it = all->find(m.mailbox_id);
      counts = it == all->end() ? storage::MailboxCounts{} : it->second;
    }
    return *counts;
  };
  std::optional<std::pair<std::uint64_t, std::uint64_t>> scanned;  // size, deleted
  auto get_scan = [&]() -> storage::result<std::pair<std::uint64_t, std::uint64_t>> {
    if (!scanned) {
      std::uint64_t size = 0, deleted = 0;
      auto r = store.scan_rows(account, m.name, 0, [&](storage::MailboxRow&& row) {
        size += row.logical_size;
        if (mailbox::has_keyword(row.keywords, "$deleted")) ++deleted;
        return true;
      });
      if (!r) return r.error();
      scanned.emplace(size, deleted);
    }
    return *scanned;
  };
  std::string out;
  for (auto item : items) {
    if (!out.empty()) out += ' ';
    switch (item) {
      case StatusItem::Messages: {
        auto c = get_counts();
        if (!c) return c.error();
        out += "MESSAGES " + std::to_string(c->total);
        break;
      }
      case StatusItem::Unseen: {
        auto c = get_counts();
        if (!c) return c.error();
        out += "UNSEEN " + std::to_string(c->unread);
        break;
      }
      case StatusItem::Recent: out += "RECENT 0"; break;
      case StatusItem::UidNext: {
        auto h = store.uid_horizon(account, m.mailbox_id);
        if (!h) return h.error();
        out += "UIDNEXT " + std::to_string(*h);
        break;
      }
      case StatusItem::UidValidity: out += "UIDVALIDITY " + std::to_string(m.uidvalidity); break;
      case StatusItem::HighestModSeq: {
        auto h = store.highest_modseq(account, m.mailbox_id);
        if (!h) return h.error();
        out += "HIGHESTMODSEQ " + std::to_string(*h);
        break;
      }
      case StatusItem::Size: {
        auto s = get_scan();
        if (!s) return s.error();
        out += "SIZE " + std::to_string(s->first);
        break;
      }
      case StatusItem::Deleted: {
        auto s = get_scan();
        if (!s) return s.error();
        out += "DELETED " + std::to_string(s->second);
        break;
      }
      case StatusItem::AppendLimit: out += "APPENDLIMIT " + std::to_string(options.append_limit); break;
      case StatusItem::MailboxId: out += "MAILBOXID (m" + std::to_string(m.mailbox_id) + ")"; break;
      case StatusItem::DeletedStorage: {
        auto s = get_scan();
        if (!s) return s.error();
        out += "DELETED-STORAGE 0";  // expunged bytes are freed at once
        break;
      }
    }
  }
  return out;
}

MailboxReply MailboxEngine::Impl::list(const List& c) {
  if (c.patterns.size() == 1 && c.patterns[0].empty() && !c.extended) {
    // RFC 9051 6.3.9.1: the hierarchy delimiter and root.
    line("LIST (\\Noselect) \"/\" \"\"");
    return ok("LIST completed");
  }
  auto all = store.list_mailboxes(account);
  if (!all) return store_error(all.error(), "LIST failed");
  std::map<std::string, const storage::MailboxInfo*> by_name;
  for (const auto& m : *all) by_name[m.name] = &m;
  // Every level: the mailboxes and the parents they imply.
  std::set<std::string> names, parents;
  for (const auto& [n, m] : by_name) {
    names.insert(n);
    for (auto p = n.find('/'); p != std::string::npos; p = n.find('/', p + 1)) parents.insert(n.substr(0, p));
  }
  std::set<std::string> levels = names;
  levels.insert(parents.begin(), parents.end());
  std::vector<std::string> pats;
  for (const auto& p : c.patterns) {
    pats.push_back(full_pattern(c.reference, p));
  }
  for (const auto& level : levels) {
    bool match = false;
    for (const auto& p : pats) match = match || wildcard_match(p, level);
    if (!match) continue;
    const bool exists = names.count(level) != 0;
    const bool has_children = parents.count(level) != 0;
    std::string special = exists ? mailbox::special_use(level) : "";
    const bool subscribed = exists && by_name[level]->subscribed;
    // RFC 5258 3.5: with RECURSIVEMATCH, a level that does not match the selection
    // itself is listed when a descendant does, with CHILDINFO naming the criterion.
    std::string childinfo;
    if (c.subscribed && !subscribed) {
      if (!c.recursive_match || !has_children) continue;
      bool subscribed_below = false;
      for (auto it = by_name.lower_bound(level + "/"); it != by_name.end() && !subscribed_below; ++it) {
        if (it->first.compare(0, level.size() + 1, level + "/") != 0) break;
        subscribed_below = it->second->subscribed;
      }
      if (!subscribed_below) continue;
      childinfo = "SUBSCRIBED";
    }
    if (c.special_use && special.empty()) {
      bool special_below = false;
      if (c.recursive_match)
        for (const auto& n : names)
          special_below = special_below || (n.size() > level.size() && n.compare(0, level.size(), level) == 0 &&
                                            n[level.size()] == '/' && !mailbox::special_use(n).empty());
      if (!special_below) continue;  // LIST (SPECIAL-USE) selection
      childinfo = childinfo.empty() ? "SPECIAL-USE" : childinfo + "\" \"SPECIAL-USE";
    }
    std::string attrs;
    auto add = [&](std::string_view a) {
      if (!attrs.empty()) attrs += ' ';
      attrs += a;
    };
    if (!exists) add(modes.imap4rev2 || c.extended ? "\\NonExistent" : "\\Noselect");
    add(has_children ? "\\HasChildren" : "\\HasNoChildren");
    if (!special.empty()) add(special);
    if (subscribed && (c.subscribed || c.return_subscribed)) add("\\Subscribed");
    std::string l = "LIST (" + attrs + ") \"/\" " + wire_name(level);
    if (!childinfo.empty()) l += " (\"CHILDINFO\" (\"" + childinfo + "\"))";
    line(l);
    if (c.return_status && exists) {
      auto items = status_items(*by_name[level], *c.return_status);
      if (!items) return store_error(items.error(), "LIST-STATUS failed");
      line("STATUS " + wire_name(level) + " (" + *items + ")");
    }
  }
  return ok("LIST completed");
}

MailboxReply MailboxEngine::Impl::lsub(const Lsub& c) {
  auto all = store.list_mailboxes(account);
  if (!all) return store_error(all.error(), "LSUB failed");
  const std::string pat = full_pattern(c.reference, c.pattern);
  for (const auto& m : *all)
    if (m.subscribed && wildcard_match(pat, m.name)) line("LSUB () \"/\" " + wire_name(m.name));
  return ok("LSUB completed");
}

MailboxReply MailboxEngine::Impl::status(const Status& c) {
  auto name = store_name(c.mailbox);
  if (!name) return no("NONEXISTENT", "No such mailbox");
  auto info = find_mailbox(*name);
  if (!info) return store_error(info.error(), "STATUS failed");
  if (!*info) return no("NONEXISTENT", "No such mailbox");
  auto items = status_items(**info, c.items);
  if (!items) return store_error(items.error(), "STATUS failed");
  line("STATUS " + wire_name((*info)->name) + " (" + *items + ")");
  return ok("STATUS completed");
}

MailboxReply MailboxEngine::Impl::create(const Create& c) {
  auto name = store_name(c.mailbox);
  if (!name) return no("CANNOT", "Invalid mailbox name");
  if (*name == "INBOX") return no("ALREADYEXISTS", "INBOX exists");
  // RFC 6154 3: special-use attributes on CREATE (CREATE-SPECIAL-USE is not offered:
  // the special mailboxes are the system ones).
  if (!c.special_use.empty()) return no("USEATTR", "Special-use attributes cannot be set");
  // RFC 9051 6.3.4: the superior names the new one needs are created too.
  for (auto p = name->find('/'); p != std::string::npos; p = name->find('/', p + 1)) {
    auto parent = store.create_mailbox(account, name->substr(0, p));
    if (!parent && parent.error() != storage::errc::exists) return store_error(parent.error(), "CREATE failed");
  }
  auto r = store.create_mailbox(account, *name);
  if (!r) return store_error(r.error(), "CREATE failed");
  // RFC 8474 4.1: the new mailbox's id.
  return finish(Condition::Ok, "MAILBOXID (m" + std::to_string(r->mailbox_id) + ")", "CREATE completed");
}

MailboxReply MailboxEngine::Impl::remove(const Delete& c) {
  auto name = store_name(c.mailbox);
  if (!name) return no("NONEXISTENT", "No such mailbox");
  auto info = find_mailbox(*name);
  if (!info) return store_error(info.error(), "DELETE failed");
  if (!*info) return no("NONEXISTENT", "No such mailbox");
  if ((*info)->is_system) return no("CANNOT", "System mailboxes cannot be deleted");
  auto r = store.delete_mailbox(account, *name);
  if (!r) return store_error(r.error(), "DELETE failed");
  MailboxReply rep = ok("DELETE completed");
  if (sel && sel->name == *name) {
    sel.reset();
    rep.selection = MailboxReply::Selection::Deselected;
  }
  return rep;
}

MailboxReply MailboxEngine::Impl::rename(const Rename& c) {
  auto from = store_name(c.from);
  auto to = store_name(c.to);
  if (!from) return no("NONEXISTENT", "No such mailbox");
  if (!to || *to == "INBOX") return no("CANNOT", "Invalid new mailbox name");
  if (*from == "INBOX") return no("CANNOT", "Renaming INBOX is not supported");
  auto all = store.list_mailboxes(account);
  if (!all) return store_error(all.error(), "RENAME failed");
  bool found = false;
  std::vector<std::string> children;
  for (const auto& m : *all) {
    if (m.name == *from) {
      found = true;
      if (m.is_system) return no("CANNOT", "System mailboxes cannot be renamed");
    }
    if (m.name.size() > from->size() && m.name.compare(0, from->size(), *from) == 0 && m.name[from->size()] == '/')
      children.push_back(m.name);
  }
  if (!found) return no("NONEXISTENT", "No such mailbox");
  auto r = store.rename_mailbox(account, *from, *to);
  if (!r) return store_error(r.error(), "RENAME failed");
  // RFC 9051 6.3.6: the inferior names move with it.
  for (const auto& child : children) {
    auto rc = store.rename_mailbox(account, child, *to + child.substr(from->size()));
    if (!rc) return store_error(rc.error(), "RENAME moved " + *from + " but not all of its children");
  }
  if (sel && sel->name == *from) sel->name = *to;
  return ok("RENAME completed");
}

MailboxReply MailboxEngine::Impl::subscribe(std::string_view mailbox, bool on) {
  auto name = store_name(mailbox);
  std::optional<storage::MailboxInfo> info;
  if (name) {
    auto f = find_mailbox(*name);
    if (!f) return store_error(f.error(), on ? "SUBSCRIBE failed" : "UNSUBSCRIBE failed");
    info = std::move(*f);
  }
  if (!info) {
    if (on) return no("NONEXISTENT", "No such mailbox");
    return ok("UNSUBSCRIBE completed");  // nothing to forget for a name that is not a mailbox
  }
  auto r = store.set_subscribed(account, info->name, on);
  if (!r) return store_error(r.error(), on ? "SUBSCRIBE failed" : "UNSUBSCRIBE failed");
  return ok(on ? "SUBSCRIBE completed" : "UNSUBSCRIBE completed");
}

}  // namespace refmail::imap
