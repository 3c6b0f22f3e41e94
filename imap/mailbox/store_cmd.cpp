// imap/mailbox/store_cmd.cpp — the commands that change the selected mailbox: STORE
// (RFC 9051 6.4.6, UNCHANGEDSINCE RFC 7162 3.1.3), EXPUNGE and UID EXPUNGE (6.4.3,
// RFC 4315 2.1), COPY (6.4.7, COPYUID RFC 4315 3) and MOVE (RFC 6851).
// Flags are JMAP keywords (mailbox/engine.cpp flag_to_keyword), so a change here shows in
// JMAP, the webmail and every other IMAP session.
// Must never: write to a read-only (EXAMINEd) mailbox; leave half a COPY behind (a
// failed COPY removes the copies it made); send EXPUNGE in answer to a non-UID STORE.
#include <algorithm>

#include "imap/mailbox/impl.hpp"
#include "storage/errors.hpp"

namespace refmail::imap {

MailboxReply MailboxEngine::Impl::store_flags(const Store& c) {
  if (sel->read_only) return no("READ-ONLY", "The mailbox is read-only (EXAMINE)");
  std::vector<std::string> change;
  for (const auto& f : c.flags) {
    auto k = mailbox::flag_to_keyword(f);
    if (!k) return bad("Invalid flag " + f);
    if (!k->empty() && !mailbox::has_keyword(change, *k)) change.push_back(*k);
  }
  report_updates(c.uid);
  std::string why;
  auto uids = resolve(c.set, c.uid, why);
  if (!uids) return bad(why);
  std::vector<std::uint32_t> modified;
  std::size_t found = 0;
  auto r = rows(*uids, [&](storage::MailboxRow&& row) {
    ++found;
    std::vector<std::string> kw;
    switch (c.mode) {
      case Store::Mode::Replace: kw = change; break;
      case Store::Mode::Add:
        kw = row.keywords;
        for (const auto& k : change)
          if (!mailbox::has_keyword(kw, k)) kw.push_back(k);
        break;
      case Store::Mode::Remove:
        for (const auto& k : row.keywords)
          if (!mailbox::has_keyword(change, k)) kw.push_back(k);
        break;
    }
    if (kw.size() > storage::kMaxKeywords) return true;  // reported as NO below
    auto sorted = [](std::vector<std::string> v) {
      std::sort(v.begin(), v.end());
      return v;
    };
    std::uint64_t modseq = row.modseq;
    if (sorted(kw) != sorted(row.keywords)) {
      auto w = store.set_keywords(account, sel->name, row.uid, kw, c.unchanged_since);
      if (!w) {
        if (w.error() == storage::errc::modified) {
          modified.push_back(row.uid);
          return true;
        }
        if (w.error() == storage::errc::not_found) return true;  // expunged meanwhile
        why = storage::error_detail(w.error());
        return false;
      }
      wrote_flags(row.uid);
      if (auto own = sel->own.find(row.uid); own != sel->own.end()) modseq = own->second;
      row.keywords = std::move(kw);
    } else if (c.unchanged_since && row.modseq > *c.unchanged_since) {
      modified.push_back(row.uid);
      return true;
    }
    // RFC 9051 6.4.6: the new flags unless .SILENT (RFC 7162 3.1.3: MODSEQ with them
    // under CONDSTORE, also when silent).
    if (!c.silent || modes.condstore || c.unchanged_since) {
      std::string l = std::to_string(sel->msn(row.uid)) + " FETCH (";
      if (c.uid) l += "UID " + std::to_string(row.uid) + " ";
      l += "FLAGS " + mailbox::flag_list(row.keywords);
      if (modes.condstore || c.unchanged_since) l += " MODSEQ (" + std::to_string(modseq) + ")";
      line(l + ")");
    }
    return true;
  });
  if (!r) return store_error(r.error(), "STORE failed");
  if (!why.empty()) return no("SERVERBUG", "STORE failed: " + why);
  if (!modified.empty()) {
    std::vector<std::uint32_t> numbers;
    for (auto u : modified) numbers.push_back(c.uid ? u : sel->msn(u));
    std::sort(numbers.begin(), numbers.end());
    return no("MODIFIED " + mailbox::compact(numbers), "Some messages were modified meanwhile");
  }
  if (found < uids->size()) return no("EXPUNGEISSUED", "Some messages were expunged meanwhile");
  return ok(c.uid ? "UID STORE completed" : "STORE completed");
}

MailboxReply MailboxEngine::Impl::expunge(const Expunge& c) {
  if (sel->read_only) return no("READ-ONLY", "The mailbox is read-only (EXAMINE)");
  report_updates(true);
  std::vector<std::uint32_t> candidates = sel->uids.to_vector();
  if (c.uids) {
    std::string why;
    auto u = resolve(*c.uids, true, why);
    if (!u) return bad(why);
    candidates = std::move(*u);
  }
  std::vector<std::uint32_t> del;
  auto r = rows(candidates, [&](storage::MailboxRow&& row) {
    if (mailbox::has_keyword(row.keywords, "$deleted")) del.push_back(row.uid);
    return true;
  });
  if (!r) return store_error(r.error(), "EXPUNGE failed");
  if (!del.empty()) {
    auto e = store.expunge(account, sel->name, del);
    if (!e) return store_error(e.error(), "EXPUNGE failed");
    expunged(del);
  }
  return ok(c.uids ? "UID EXPUNGE completed" : "EXPUNGE completed");
}

MailboxReply MailboxEngine::Impl::copy(const Copy& c) {
  if (c.move && sel->read_only) return no("READ-ONLY", "The mailbox is read-only (EXAMINE)");
  report_updates(c.uid);
  std::string why;
  auto uids = resolve(c.set, c.uid, why);
  if (!uids) return bad(why);
  auto target = store_name(c.mailbox);
  if (!target) return no("TRYCREATE", "No such mailbox");
  auto info = find_mailbox(*target);
  if (!info) return store_error(info.error(), "COPY failed");
  if (!*info) return no("TRYCREATE", "No such mailbox");
  std::vector<std::uint32_t> src, dst;
  boost::system::error_code failed;
  for (auto u : *uids) {
    auto n = store.copy_row(account, sel->name, u, (*info)->name, c.move);
    if (!n) {
      if (n.error() == storage::errc::not_found) continue;  // expunged meanwhile
      failed = n.error();
      break;
    }
    src.push_back(u);
    dst.push_back(*n);
  }
  if (failed && !c.move) {
    // COPY is all or nothing (RFC 9051 6.4.7): take back what was copied.
    if (!dst.empty()) (void)store.expunge(account, (*info)->name, dst);
    return store_error(failed, "COPY failed");
  }
  std::string code;
  if (!src.empty()) {
    code = "COPYUID " + std::to_string((*info)->uidvalidity) + " " + mailbox::compact(src) + " " +
           mailbox::compact(dst);
  }
  if (c.move) {
    // RFC 6851 4.3: COPYUID in an untagged OK before the EXPUNGEs.
    if (!code.empty()) write(untagged_status(Condition::Ok, code, "Moved UIDs"));
    expunged(src);
    if (failed) return store_error(failed, "MOVE stopped after " + std::to_string(src.size()) + " messages");
    return ok(c.uid ? "UID MOVE completed" : "MOVE completed");
  }
  return finish(Condition::Ok, code, c.uid ? "UID COPY completed" : "COPY completed");
}

}  // namespace refmail::imap
