// imap/mailbox/engine.cpp — MailboxEngine: dispatch by command, the reply builder, the
// selected mailbox's view and its updates (RFC 9051 7.5: EXISTS, EXPUNGE, FETCH FLAGS),
// SELECT / EXAMINE (6.3.2, 6.3.3), CLOSE (6.4.1), UNSELECT (RFC 3691), NOOP/CHECK/IDLE polls.
// Flags <-> keywords. Folders are in folders.cpp, FETCH in fetch.cpp, STORE / EXPUNGE /
// COPY / MOVE in store_cmd.cpp, SEARCH in search.cpp.
// Must never: show a UID at or above the mailbox's UID horizon; send EXPUNGE in answer
// to FETCH, STORE or SEARCH (RFC 9051 7.5.1); throw.
#include "imap/mailbox/engine.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <type_traits>

#include "imap/datetime.hpp"
#include "imap/mailbox/impl.hpp"
#include "imap/mutf7.hpp"
#include "mime/headers.hpp"
#include "storage/errors.hpp"

namespace refmail::imap {

namespace mailbox {

std::uint32_t Selected::msn(std::uint32_t uid) const noexcept {
  auto it = std::lower_bound(uids.begin(), uids.end(), uid);
  if (it == uids.end() || *it != uid) return 0;
  return static_cast<std::uint32_t>(it - uids.begin()) + 1;
}

// The IMAP flag <-> keyword mapping is the store's (storage/keywords.cpp): Sieve's
// imap4flags at delivery uses the same one.
std::optional<std::string> flag_to_keyword(std::string_view flag) { return storage::flag_to_keyword(flag); }

std::string keyword_to_flag(std::string_view keyword) { return storage::keyword_to_flag(keyword); }

std::string flag_list(const std::vector<std::string>& keywords) {
  std::string s = "(";
  for (const auto& k : keywords) {
    if (s.size() > 1) s += ' ';
    s += keyword_to_flag(k);
  }
  s += ')';
  return s;
}

bool has_keyword(const std::vector<std::string>& keywords, std::string_view k) {
  return std::find(keywords.begin(), keywords.end(), k) != keywords.end();
}

std::string compact(const std::vector<std::uint32_t>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(v[i]);
    if (j > i) out += ":" + std::to_string(v[j]);
    i = j + 1;
  }
  return out;
}

std::string internal_date(storage::UnixSeconds t) {
  const std::int64_t secs = t.time_since_epoch().count();
  std::int64_t days = secs / 86400, rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  std::int64_t y;
  unsigned m, d;
  mime::civil_from_days(days, y, m, d);
  DateTime dt;
  dt.date = Date{static_cast<int>(y), static_cast<int>(m), static_cast<int>(d)};
  dt.hour = static_cast<int>(rem / 3600);
  dt.minute = static_cast<int>(rem / 60 % 60);
  dt.second = static_cast<int>(rem % 60);
  return format_date_time(dt);
}

}  // namespace mailbox

using mailbox::Selected;

MailboxEngine::MailboxEngine(storage::Store& store, std::string account, EngineOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(account), options)) {}
MailboxEngine::~MailboxEngine() = default;

bool MailboxEngine::selected() const noexcept { return impl_->sel.has_value(); }

MailboxReply MailboxEngine::execute(const action::MailboxRequest& request) {
  Impl& m = *impl_;
  m.modes = request.modes;
  m.cmd = &request.command;
  m.reply = MailboxReply{};
  try {
    if (request.append_begin) {
      if (const auto* a = std::get_if<Append>(&request.command.body)) return m.append_begin(*a, request.append_index);
      return m.bad("APPEND announced without its message");
    }
    if (request.poll) {
      if (m.sel) m.report_updates(true);
      return m.finish(Condition::Ok, "", "");
    }
    return std::visit(
        [&](const auto& b) -> MailboxReply {
          using T = std::decay_t<decltype(b)>;
          if constexpr (std::is_same_v<T, Select>) return m.select(b);
          else if constexpr (std::is_same_v<T, imap::Close>) return m.close_mailbox(true);
          else if constexpr (std::is_same_v<T, Unselect>) return m.close_mailbox(false);
          else if constexpr (std::is_same_v<T, Noop> || std::is_same_v<T, Check>) return m.noop();
          else if constexpr (std::is_same_v<T, List>) return m.list(b);
          else if constexpr (std::is_same_v<T, Lsub>) return m.lsub(b);
          else if constexpr (std::is_same_v<T, Status>) return m.status(b);
          else if constexpr (std::is_same_v<T, Create>) return m.create(b);
          else if constexpr (std::is_same_v<T, Delete>) return m.remove(b);
          else if constexpr (std::is_same_v<T, Rename>) return m.rename(b);
          else if constexpr (std::is_same_v<T, Subscribe>) return m.subscribe(b.mailbox, true);
          else if constexpr (std::is_same_v<T, Unsubscribe>) return m.subscribe(b.mailbox, false);
          else if constexpr (std::is_same_v<T, Fetch>) return m.fetch(b);
          else if constexpr (std::is_same_v<T, imap::Store>) return m.store_flags(b);
          else if constexpr (std::is_same_v<T, Expunge>) return m.expunge(b);
          else if constexpr (std::is_same_v<T, Copy>) return m.copy(b);
          else if constexpr (std::is_same_v<T, Search>) return m.search(b);
          else if constexpr (std::is_same_v<T, Sort>) return m.sort_or_thread(b.key, b.charset, b.uid, &b.criteria, nullptr);
          else if constexpr (std::is_same_v<T, Thread>)
            return m.sort_or_thread(b.key, b.charset, b.uid, nullptr, &b.algorithm);
          else if constexpr (std::is_same_v<T, Append>) return m.append(b);
          else if constexpr (std::is_same_v<T, GetQuota>) return m.get_quota(b);
          else if constexpr (std::is_same_v<T, GetQuotaRoot>) return m.get_quota_root(b);
          else if constexpr (std::is_same_v<T, SetQuota>)
            return m.no("NOPERM", "Quotas are set by the administrator");
          else return m.no("CANNOT", command_name(*m.cmd) + " is not available yet");
        },
        request.command.body);
  } catch (const std::exception& e) {
    // Never expected (the store returns errors, not exceptions); a bug must not end the
    // connection's process.
    m.reply.body.clear();
    return m.no("SERVERBUG", std::string("Internal error: ") + e.what());
  }
}

// ---- reply building

void MailboxEngine::Impl::line(std::string data) { write(untagged(data)); }

void MailboxEngine::Impl::write(std::string bytes) {
  if (!reply.body.empty())
    if (auto* w = std::get_if<action::Write>(&reply.body.back())) {
      w->bytes += bytes;
      return;
    }
  reply.body.emplace_back(action::Write{std::move(bytes)});
}

MailboxReply MailboxEngine::Impl::finish(Condition status, std::string code, std::string text) {
  reply.status = status;
  reply.code = std::move(code);
  reply.text = std::move(text);
  return std::exchange(reply, MailboxReply{});
}

MailboxReply MailboxEngine::Impl::store_error(const boost::system::error_code& ec, std::string_view what) {
  using storage::errc;
  std::string text = std::string(what) + ": " + storage::error_detail(ec);
  if (ec == errc::not_found) return no("NONEXISTENT", std::move(text));
  if (ec == errc::exists) return no("ALREADYEXISTS", std::move(text));
  if (ec == errc::quota_exceeded) return no("OVERQUOTA", std::move(text));
  if (ec == errc::no_space) return no("LIMIT", std::move(text));
  if (ec == errc::invalid_argument) return no("CANNOT", std::move(text));
  if (ec == errc::not_empty || ec == errc::permission_denied) return no("CANNOT", std::move(text));
  if (ec == errc::busy || ec == errc::io_error || ec == errc::locked) return no("UNAVAILABLE", std::move(text));
  return no("SERVERBUG", std::move(text));
}

// ---- names

std::optional<std::string> MailboxEngine::Impl::store_name(std::string_view name) {
  while (!name.empty() && name.back() == '/') name.remove_suffix(1);
  if (name.empty() || name.size() > 255) return std::nullopt;
  if (name.find_first_of("*%") != std::string_view::npos) return std::nullopt;
  if (name.front() == '/' || name.find("//") != std::string_view::npos) return std::nullopt;
  if (name.size() == 5) {
    std::string up(name);
    for (auto& ch : up) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (up == "INBOX") return up;
  }
  return std::string(name);
}

std::string MailboxEngine::Impl::wire_name(std::string_view name) const {
  ResponseBuilder b;
  if (utf8()) {
    b.string(name, true);
  } else {
    auto enc = mutf7_encode(name);
    b.string(enc ? std::string_view(*enc) : name, false);
  }
  return b.take();
}

storage::result<std::optional<storage::MailboxInfo>> MailboxEngine::Impl::find_mailbox(std::string_view name) {
  auto all = store.list_mailboxes(account);
  if (!all) return all.error();
  for (auto& m : *all)
    if (m.name == name) return std::optional<storage::MailboxInfo>(std::move(m));
  return std::optional<storage::MailboxInfo>();
}

// ---- the selected mailbox

void MailboxEngine::Impl::expunged(std::vector<std::uint32_t> uids) {
  // Highest sequence number first: each EXPUNGE then names a number the client still
  // has (RFC 9051 7.5.1 renumbers the later ones).
  std::vector<std::uint32_t> msns;
  for (auto u : uids)
    if (auto n = sel->msn(u)) msns.push_back(n);
  std::sort(msns.begin(), msns.end());
  msns.erase(std::unique(msns.begin(), msns.end()), msns.end());
  if (modes.qresync && !msns.empty()) {
    // RFC 7162 3.2.10: with QRESYNC enabled, one VANISHED replaces the EXPUNGEs.
    std::vector<std::uint32_t> gone;
    for (auto n : msns) gone.push_back(sel->uids[n - 1]);
    line("VANISHED " + mailbox::compact(gone));
  }
  if (!modes.qresync) {
    std::string lines;
    for (auto it = msns.rbegin(); it != msns.rend(); ++it) lines += "* " + std::to_string(*it) + " EXPUNGE\r\n";
    write(std::move(lines));
  }
  // One pass over the runs, whatever the count (erasing one by one would be quadratic).
  std::vector<std::uint32_t> known;
  known.reserve(msns.size());
  for (auto n : msns) known.push_back(sel->uids[n - 1]);
  sel->uids.remove(known);
  if (!sel->saved.empty()) {
    std::erase_if(sel->saved, [&](std::uint32_t u) { return std::binary_search(uids.begin(), uids.end(), u); });
  }
}

void MailboxEngine::Impl::report_updates(bool expunges) {
  Selected& s = *sel;
  // The modseq first: a change racing the reads below is reported again, never lost.
  auto high = store.highest_modseq(account, s.mailbox_id);
  auto horizon = store.uid_horizon(account, s.mailbox_id);
  if (!high || !horizon) return;
  if (expunges && *high > s.expunge_modseq) {
    std::vector<std::uint32_t> gone;
    bool ok = true;
    auto v = store.vanished_since(account, s.mailbox_id, s.expunge_modseq, std::size_t(-1));
    if (v) {
      for (const auto& e : *v) gone.push_back(e.uid);
    } else if (v.error() == storage::errc::expired) {
      // Tombstones that old are trimmed: compare the UIDs instead.
      std::vector<std::uint32_t> present;
      auto r = store.scan_rows(account, s.name, 0, [&](storage::MailboxRow&& row) {
        if (row.uid >= *horizon) return false;
        present.push_back(row.uid);
        return true;
      });
      ok = r.has_value();
      for (auto u : s.uids)
        if (ok && !std::binary_search(present.begin(), present.end(), u)) gone.push_back(u);
    } else {
      ok = false;
    }
    if (ok) {
      std::sort(gone.begin(), gone.end());
      expunged(std::move(gone));
      s.expunge_modseq = *high;
    }
  }
  if (*high > s.modseq) {
    // Flag changes of messages the client knows (new ones come as EXISTS below).
    auto changed = store.changed_since(account, s.mailbox_id, s.modseq, std::size_t(-1));
    if (changed) {
      std::vector<std::uint32_t> known;
      for (const auto& e : *changed) {
        auto own = s.own.find(e.uid);
        if (own != s.own.end() && own->second >= e.modseq) continue;  // ours, already told
        if (s.msn(e.uid)) known.push_back(e.uid);
      }
      std::sort(known.begin(), known.end());
      known.erase(std::unique(known.begin(), known.end()), known.end());
      auto r = rows(known, [&](storage::MailboxRow&& row) {
        std::string l = std::to_string(s.msn(row.uid)) + " FETCH (UID " + std::to_string(row.uid) + " FLAGS " +
                        mailbox::flag_list(row.keywords);
        if (modes.condstore) l += " MODSEQ (" + std::to_string(row.modseq) + ")";
        line(l + ")");
        return true;
      });
      if (r) {
        s.modseq = *high;
        s.own.clear();  // every change up to here was considered
      }
    }
  }
  // New messages: every row below the horizon past the last known UID.
  const std::uint32_t from = s.uids.empty() ? 0 : s.uids.back() + 1;
  const std::size_t before = s.uids.size();
  if (from < *horizon) {
    (void)store.scan_rows(account, s.name, from, [&](storage::MailboxRow&& row) {
      if (row.uid >= *horizon) return false;
      s.uids.push_back(row.uid);
      return true;
    });
  }
  if (s.uids.size() != before) line(std::to_string(s.exists()) + " EXISTS");
}

void MailboxEngine::Impl::wrote_flags(std::uint32_t uid) {
  auto row = store.get_row(account, sel->name, uid);
  if (row) sel->own[uid] = row->modseq;
}

std::optional<std::vector<std::uint32_t>> MailboxEngine::Impl::resolve(const SequenceSet& set, bool uid,
                                                                       std::string& why) const {
  const Selected& s = *sel;
  std::vector<std::uint32_t> out;
  if (set.saved) {
    // RFC 5182 2: "$" is the saved result (UIDs that were expunged since drop out).
    for (auto u : s.saved)
      if (s.msn(u)) out.push_back(u);
    return out;
  }
  if (uid) {
    const std::uint32_t largest = s.uids.empty() ? 0 : s.uids.back();
    for (const auto& r : set.ranges) {
      std::uint32_t a = r.first == SeqRange::kStar ? largest : r.first;
      std::uint32_t b = r.last == SeqRange::kStar ? largest : r.last;
      if (a > b) std::swap(a, b);
      // RFC 9051 6.4.9: "*" is the largest UID in use; n:* with n above it is that one.
      if (s.uids.empty()) continue;
      auto lo = std::lower_bound(s.uids.begin(), s.uids.end(), a);
      auto hi = std::upper_bound(s.uids.begin(), s.uids.end(), b);
      out.insert(out.end(), lo, hi);
    }
  } else {
    const std::uint32_t n = s.exists();
    for (const auto& r : set.ranges) {
      const bool star = r.first == SeqRange::kStar || r.last == SeqRange::kStar;
      std::uint32_t a = r.first == SeqRange::kStar ? n : r.first;
      std::uint32_t b = r.last == SeqRange::kStar ? n : r.last;
      if (a > b) std::swap(a, b);
      if (n == 0 && star) continue;  // "1:*" on an empty mailbox names nothing
      if (b > n || a == 0) {
        why = "Invalid message sequence number: " + std::to_string(b) + " (" + std::to_string(n) + " messages)";
        return std::nullopt;
      }
      for (std::uint32_t i = a; i <= b; ++i) out.push_back(s.uids[i - 1]);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

storage::result<void> MailboxEngine::Impl::rows(const std::vector<std::uint32_t>& uids,
                                                const std::function<bool(storage::MailboxRow&&)>& visit) {
  if (uids.empty()) return {};
  const std::uint32_t first = sel->msn(uids.front()), last = sel->msn(uids.back());
  const std::size_t span = first && last ? last - first + 1 : sel->uids.size();
  if (uids.size() * 8 >= span) {
    // Dense: one walk from the first UID.
    std::size_t i = 0;
    auto r = store.scan_rows(account, sel->name, uids.front(), [&](storage::MailboxRow&& row) {
      while (i < uids.size() && uids[i] < row.uid) ++i;  // expunged meanwhile
      if (i == uids.size()) return false;
      if (uids[i] != row.uid) return true;
      ++i;
      return visit(std::move(row)) && i < uids.size();
    });
    return r;
  }
  for (auto u : uids) {
    auto row = store.get_row(account, sel->name, u);
    if (!row) {
      if (row.error() == storage::errc::not_found) continue;
      return row.error();
    }
    if (!visit(std::move(*row))) break;
  }
  return {};
}

MailboxReply MailboxEngine::Impl::select(const Select& c) {
  const bool had = sel.has_value();
  if (c.qresync && !modes.qresync) return bad("SELECT (QRESYNC) needs ENABLE QRESYNC first");
  sel.reset();
  auto fail = [&](MailboxReply r) {
    if (had) r.selection = MailboxReply::Selection::Deselected;
    return r;
  };
  // RFC 9051 6.3.2 / RFC 7162 3.2.11: the previous mailbox is closed (no expunge).
  if (had) write(untagged_status(Condition::Ok, "CLOSED", "Previous mailbox is now closed"));
  auto name = store_name(c.mailbox);
  if (!name) return fail(no("NONEXISTENT", "No such mailbox"));
  auto info = find_mailbox(*name);
  if (!info) return fail(store_error(info.error(), "Cannot open the mailbox"));
  if (!*info) return fail(no("NONEXISTENT", "No such mailbox"));
  Selected s;
  s.name = (*info)->name;
  s.mailbox_id = (*info)->mailbox_id;
  s.uidvalidity = (*info)->uidvalidity;
  s.read_only = c.examine;
  // The modseq first: a change racing the scan is then reported again, never lost.
  auto high = store.highest_modseq(account, s.mailbox_id);
  auto horizon = store.uid_horizon(account, s.mailbox_id);
  if (!high) return fail(store_error(high.error(), "Cannot open the mailbox"));
  if (!horizon) return fail(store_error(horizon.error(), "Cannot open the mailbox"));
  s.modseq = s.expunge_modseq = *high;
  std::uint32_t first_unseen = 0;
  auto r = store.scan_rows(account, s.name, 0, [&](storage::MailboxRow&& row) {
    if (row.uid >= *horizon) return false;
    s.uids.push_back(row.uid);
    if (!first_unseen && !mailbox::has_keyword(row.keywords, "$seen")) first_unseen = s.exists();
    return true;
  });
  if (!r) return fail(store_error(r.error(), "Cannot open the mailbox"));
  line("FLAGS (" + std::string(mailbox::kSystemFlags) + ")");
  if (c.examine)
    write(untagged_status(Condition::Ok, "PERMANENTFLAGS ()", "Read-only mailbox"));
  else
    write(untagged_status(Condition::Ok, "PERMANENTFLAGS (" + std::string(mailbox::kSystemFlags) + " \\*)",
                          "Flags permitted"));
  line(std::to_string(s.exists()) + " EXISTS");
  if (modes.imap4rev2) {
    // RFC 9051 6.3.2: the mailbox's LIST response (its name as the server spells it).
    const std::string special = mailbox::special_use(s.name);
    line("LIST (" + special + ") \"/\" " + wire_name(s.name));
  }
  if (!modes.imap4rev2) {
    // RFC 3501 only: \Recent is not kept (RFC 9051 removed it), so nothing is recent.
    line("0 RECENT");
    if (first_unseen)
      write(untagged_status(Condition::Ok, "UNSEEN " + std::to_string(first_unseen), "First unseen"));
  }
  write(untagged_status(Condition::Ok, "UIDVALIDITY " + std::to_string(s.uidvalidity), "UIDs valid"));
  write(untagged_status(Condition::Ok, "UIDNEXT " + std::to_string(*horizon), "Predicted next UID"));
  // RFC 8474 4.1: the mailbox's object id (the JMAP Mailbox id).
  write(untagged_status(Condition::Ok, "MAILBOXID (m" + std::to_string(s.mailbox_id) + ")", "Mailbox id"));
  if (modes.condstore || c.condstore)
    write(untagged_status(Condition::Ok, "HIGHESTMODSEQ " + std::to_string(s.modseq), "Highest"));
  sel = std::move(s);
  if (c.qresync && c.qresync->uidvalidity == sel->uidvalidity && c.qresync->modseq < sel->modseq) {
    if (auto r = resync(*c.qresync, *horizon); !r) {
      sel.reset();
      reply.body.clear();
      return fail(store_error(r.error(), "Cannot resynchronize the mailbox"));
    }
  }
  MailboxReply rep = finish(Condition::Ok, c.examine ? "READ-ONLY" : "READ-WRITE",
                            std::string(c.examine ? "EXAMINE" : "SELECT") + " completed");
  rep.selection = MailboxReply::Selection::Selected;
  return rep;
}

std::vector<std::uint32_t> MailboxEngine::Impl::vanished_uids(std::uint64_t since, const SequenceSet* within,
                                                              std::uint32_t horizon, bool& ok) {
  ok = true;
  std::vector<std::uint32_t> gone;
  const std::uint32_t largest = sel->uids.empty() ? 0 : sel->uids.back();
  auto v = store.vanished_since(account, sel->mailbox_id, since, std::size_t(-1));
  if (v) {
    for (const auto& e : *v)
      if (!within || within->contains(e.uid, largest)) gone.push_back(e.uid);
  } else if (v.error() == storage::errc::expired) {
    // RFC 7162 3.2.5.2: tombstones that old are gone; every UID the client may know
    // (its known-uids, else all below the horizon) that is not here now has vanished.
    // Ranges are walked against the present UIDs, never expanded number by number
    // beyond the mailbox's own UIDs.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;
    if (within) {
      for (const auto& r : within->ranges) {
        std::uint32_t a = r.first == SeqRange::kStar ? largest : r.first;
        std::uint32_t b = r.last == SeqRange::kStar ? largest : r.last;
        if (a > b) std::swap(a, b);
        if (a == 0) continue;
        ranges.emplace_back(a, std::min<std::uint32_t>(b, horizon - 1));
      }
    } else if (horizon > 1) {
      ranges.emplace_back(1, horizon - 1);
    }
    std::vector<std::uint32_t> raw;
    std::size_t budget = 1'000'000;  // bound the answer; a client asking for more resyncs by UIDs
    for (auto [a, b] : ranges) {
      if (a > b) continue;
      auto it = std::lower_bound(sel->uids.begin(), sel->uids.end(), a);
      for (std::uint64_t u = a; u <= b && budget; ++u) {
        while (it != sel->uids.end() && *it < u) ++it;
        if (it != sel->uids.end() && *it == u) continue;
        raw.push_back(static_cast<std::uint32_t>(u));
        --budget;
      }
    }
    std::sort(raw.begin(), raw.end());
    raw.erase(std::unique(raw.begin(), raw.end()), raw.end());
    gone = std::move(raw);
  } else {
    ok = false;
  }
  std::sort(gone.begin(), gone.end());
  gone.erase(std::unique(gone.begin(), gone.end()), gone.end());
  return gone;
}

storage::result<void> MailboxEngine::Impl::resync(const QresyncParams& q, std::uint32_t horizon) {
  // RFC 7162 3.2.5.1: VANISHED (EARLIER) for what was expunged since the client's
  // modseq, then FETCH (UID FLAGS MODSEQ) for what changed.
  bool ok = true;
  auto gone = vanished_uids(q.modseq, q.known_uids ? &*q.known_uids : nullptr, horizon, ok);
  if (!ok) return storage::errc::io_error;
  if (!gone.empty()) line("VANISHED (EARLIER) " + mailbox::compact(gone));
  auto changed = store.changed_since(account, sel->mailbox_id, q.modseq, std::size_t(-1));
  if (!changed) return changed.error();
  std::vector<std::uint32_t> uids;
  for (const auto& e : *changed)
    if (sel->msn(e.uid)) uids.push_back(e.uid);
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  return rows(uids, [&](storage::MailboxRow&& row) {
    line(std::to_string(sel->msn(row.uid)) + " FETCH (UID " + std::to_string(row.uid) + " FLAGS " +
         mailbox::flag_list(row.keywords) + " MODSEQ (" + std::to_string(row.modseq) + "))");
    return true;
  });
}

MailboxReply MailboxEngine::Impl::close_mailbox(bool do_expunge) {
  if (!sel) return bad("No mailbox selected");
  if (do_expunge && !sel->read_only) {
    // RFC 9051 6.4.1: CLOSE expunges \Deleted messages silently.
    std::vector<std::uint32_t> del;
    auto r = rows(sel->uids.to_vector(), [&](storage::MailboxRow&& row) {
      if (mailbox::has_keyword(row.keywords, "$deleted")) del.push_back(row.uid);
      return true;
    });
    if (r && !del.empty()) {
      auto e = store.expunge(account, sel->name, del);
      if (!e) return store_error(e.error(), "CLOSE could not expunge");
    } else if (!r) {
      return store_error(r.error(), "CLOSE could not expunge");
    }
  }
  sel.reset();
  MailboxReply rep = ok(do_expunge ? "CLOSE completed" : "UNSELECT completed");
  rep.selection = MailboxReply::Selection::Deselected;
  return rep;
}

MailboxReply MailboxEngine::Impl::noop() {
  if (sel) report_updates(true);
  return ok(std::holds_alternative<Check>(cmd->body) ? "CHECK completed" : "NOOP completed");
}

}  // namespace refmail::imap
