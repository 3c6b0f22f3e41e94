// search/index.cpp — the Xapian side of search/index.hpp: documents, terms, the
// per-account cursor into the store's change log, catch-up, rebuild and queries.
// Never throws: each entry point catches Xapian::Error (and std::exception from the
// filesystem) at its boundary and answers an errc. A database that cannot be opened
// or is corrupt is removed and rebuilt from the store.
// Terms (TermGenerator, English stems, CJK n-grams): subject "S", from "A", to "XTO",
// cc "XCC", bcc "XBCC", body "XBODY", attachment names "XATT"; the unique id term
// "Q" + message id; the document data is the message id.
// Metadata, committed with the documents: refmail.version (term scheme), refmail.account,
// refmail.state (the change-log state indexed), refmail.mark ("modseq:time" of the
// newest change set seen: a restored store of another history differs there).
#include "search/index.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <limits>
#include <set>

#include <openssl/sha.h>
#include <xapian.h>

#include "mime/summary.hpp"
#include "storage/errors.hpp"
#include "storage/store.hpp"

namespace refmail::search {

namespace {

namespace fs = std::filesystem;

class SearchCategory : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "refmail.search"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::unavailable: return "the search index is unavailable";
      case errc::store: return "the store failed while indexing";
      case errc::query_too_long: return "the search text is too long";
      case errc::behind: return "the search index is still catching up";
    }
    return "unknown search error";
  }
};

constexpr std::size_t kUnbounded = Index::kUnbounded;
constexpr std::string_view kVersion = "1";
constexpr std::string_view kKeyVersion = "refmail.version";
constexpr std::string_view kKeyAccount = "refmail.account";
constexpr std::string_view kKeyState = "refmail.state";
constexpr std::string_view kKeyMark = "refmail.mark";

constexpr const char* kSubject = "S";
constexpr const char* kFrom = "A";
constexpr const char* kTo = "XTO";
constexpr const char* kCc = "XCC";
constexpr const char* kBcc = "XBCC";
constexpr const char* kBody = "XBODY";
constexpr const char* kAttachment = "XATT";

// Xapian limits a term to 245 bytes; an id term longer than that cannot exist (message
// ids are "M" + 24 hex), but a corrupt store must not make add_term throw.
constexpr std::size_t kMaxIdBytes = 200;

std::string id_term(std::string_view message_id) { return "Q" + std::string(message_id.substr(0, kMaxIdBytes)); }

std::uint64_t to_u64(const std::string& s) {
  std::uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() ? v : 0;
}

std::string mark_of(const storage::ChangeSet& set) {
  return std::to_string(set.modseq) + ":" + std::to_string(set.at.time_since_epoch().count());
}

// The query text as valid UTF-8 without control characters: an invalid sequence or a
// C0/DEL byte becomes a space. Xapian's QueryParser reads invalid UTF-8 as Latin-1, and
// some mixes of that with CJK n-grams made it throw a parse error (fuzz_search_query).
std::string clean_query(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
      ++i;
      continue;
    }
    std::size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    bool ok = n > 0 && i + n <= in.size();
    for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(in[i + k]) & 0xc0) == 0x80;
    if (ok && n >= 3) {
      const auto c1 = static_cast<unsigned char>(in[i + 1]);
      if (c == 0xe0 && c1 < 0xa0) ok = false;   // overlong
      if (c == 0xed && c1 >= 0xa0) ok = false;  // surrogates
      if (c == 0xf0 && c1 < 0x90) ok = false;   // overlong
      if (c == 0xf4 && c1 >= 0x90) ok = false;  // over U+10FFFF
    }
    if (!ok) {
      out += ' ';
      ++i;
      continue;
    }
    out.append(in.substr(i, n));
    i += n;
  }
  return out;
}

std::string address_text(const mime::Address& a) { return a.name.empty() ? a.email : a.name + " " + a.email; }

}  // namespace

const boost::system::error_category& search_category() noexcept {
  static const SearchCategory c;
  return c;
}

DocumentText document_text(const mime::Summary& s) {
  DocumentText d;
  d.subject = s.subject;
  auto list = [](const std::vector<mime::Address>& in, std::vector<std::string>& out) {
    for (const auto& a : in) out.push_back(address_text(a));
  };
  list(s.from, d.from);
  list(s.to, d.to);
  list(s.cc, d.cc);
  list(s.bcc, d.bcc);
  // RFC 8621 4.1.4: text_body holds an HTML part where there is no text/plain one;
  // html_body's parts that are not also in text_body are the HTML alternatives.
  auto body = [&](const mime::PartSummary& p) {
    d.body.push_back(p.type == "text/html" ? mime::html_to_text(p.content, p.content.size()) : p.content);
  };
  for (const auto& p : s.text_body) body(p);
  for (const auto& p : s.html_body) {
    const bool in_text = std::any_of(s.text_body.begin(), s.text_body.end(),
                                     [&](const mime::PartSummary& t) { return t.part_path == p.part_path; });
    if (!in_text) body(p);
  }
  for (const auto& a : s.attachments) {
    if (!a.name.empty()) d.attachments.push_back(a.name);
  }
  return d;
}

struct Index::Slot {
  std::mutex mu;
  std::string account;
  fs::path path;
  std::unique_ptr<Xapian::WritableDatabase> db;
  std::atomic<bool> rebuilding{false};  // read without mu: queries do not wait for it
  bool verified = false;        // history checked against the store in this process
  std::uint64_t state = 0;      // the indexed state (refmail.state)
  std::uint64_t last_used = 0;  // Index::tick_ when last taken
};

namespace {

using Slot = Index::Slot;

Xapian::TermGenerator make_generator() {
  Xapian::TermGenerator tg;
  tg.set_stemmer(Xapian::Stem("en"));
  tg.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
  tg.set_flags(Xapian::TermGenerator::FLAG_CJK_NGRAM);
  return tg;
}

Xapian::Document make_document(std::string_view message_id, const DocumentText& t) {
  Xapian::Document doc;
  auto tg = make_generator();
  tg.set_document(doc);
  auto field = [&](const std::string& text, const char* prefix) {
    tg.index_text(text, 1, prefix);
    tg.increase_termpos();  // no phrase across two values
  };
  field(t.subject, kSubject);
  for (const auto& s : t.from) field(s, kFrom);
  for (const auto& s : t.to) field(s, kTo);
  for (const auto& s : t.cc) field(s, kCc);
  for (const auto& s : t.bcc) field(s, kBcc);
  for (const auto& s : t.body) field(s, kBody);
  for (const auto& s : t.attachments) field(s, kAttachment);
  doc.add_boolean_term(id_term(message_id));
  doc.set_data(std::string(message_id));
  return doc;
}

// Opens (creating) the slot's database; a database that cannot be opened is removed
// and created empty (its metadata then asks for a rebuild).
void open_db(Slot& s, std::string& reset_reason) {
  if (s.db) return;
  std::error_code ec;
  fs::create_directories(s.path.parent_path(), ec);
  try {
    s.db = std::make_unique<Xapian::WritableDatabase>(s.path.string(), Xapian::DB_CREATE_OR_OPEN);
    return;
  } catch (const Xapian::DatabaseLockError&) {
    throw;  // another process holds it: not ours to delete
  } catch (const Xapian::Error& e) {
    reset_reason = std::string("unreadable: ") + e.get_type();
  }
  fs::remove_all(s.path, ec);
  s.db = std::make_unique<Xapian::WritableDatabase>(s.path.string(), Xapian::DB_CREATE_OR_OPEN);
}

// Adds or replaces the document of `message_id` from the store; false when the message
// is gone (nothing to index).
result<bool> index_message(storage::Store& store, Xapian::WritableDatabase& db, const std::string& message_id) {
  auto m = store.get_message(message_id);
  if (!m) {
    if (m.error() == storage::errc::not_found) return false;
    return errc::store;
  }
  auto summary = mime::Summary::parse(m->record.summary);
  DocumentText text = summary ? document_text(*summary) : DocumentText{};
  db.replace_document(id_term(message_id), make_document(message_id, text));
  return true;
}

// The "modseq:time" mark of the change set (any type) at exactly `modseq`, "" when
// there is none; errors as changes_since gives them.
storage::result<std::string> mark_at(storage::Store& store, std::string_view account, std::uint64_t modseq) {
  if (modseq == 0) return std::string();
  auto log = store.changes_since(account, modseq - 1, std::nullopt, 1);
  if (!log) return log.error();
  if (log->sets.empty() || log->sets.front().modseq != modseq) return std::string();
  return mark_of(log->sets.front());
}

void commit_cursor(Slot& s, std::uint64_t state, const std::string& mark) {
  s.db->set_metadata(std::string(kKeyState), std::to_string(state));
  s.db->set_metadata(std::string(kKeyMark), mark);
  s.db->commit();
  s.state = state;
}

// REQUIRES: s.mu held. Deletes the database and indexes every message of the account.
result<CatchUp> rebuild_locked(storage::Store& store, Slot& s, std::string reason) {
  struct Flag {
    std::atomic<bool>& f;
    explicit Flag(std::atomic<bool>& x) : f(x) { f = true; }
    ~Flag() { f = false; }
  } flag(s.rebuilding);
  CatchUp out;
  out.rebuilt = true;
  out.rebuild_reason = std::move(reason);
  s.db.reset();
  std::error_code ec;
  fs::remove_all(s.path, ec);
  if (ec) return errc::unavailable;
  std::string ignored;
  open_db(s, ignored);
  // The state first: changes after it are replayed by the next catch-up (idempotent).
  auto state = store.account_state(s.account);
  if (!state) return errc::store;
  auto mark = mark_at(store, s.account, *state);
  if (!mark) {
    // The newest set's mark is gone (trimmed): no history check possible; keep none.
    mark = std::string();
  }
  auto ids = store.list_message_ids(s.account, std::numeric_limits<std::size_t>::max());
  if (!ids) return errc::store;
  constexpr std::size_t kChunk = 256;
  for (std::size_t i = 0; i < ids->size(); i += kChunk) {
    std::span<const std::string> chunk(ids->data() + i, std::min(kChunk, ids->size() - i));
    auto rows = store.message_rows(s.account, chunk);
    if (!rows) return errc::store;
    for (const auto& id : chunk) {
      if ((*rows)[id].empty()) continue;
      auto done = index_message(store, *s.db, id);
      if (!done) return done.error();
      if (*done) ++out.indexed;
    }
    if (i % (kChunk * 8) == 0) s.db->commit();  // bounded memory on large accounts
  }
  s.db->set_metadata(std::string(kKeyVersion), std::string(kVersion));
  s.db->set_metadata(std::string(kKeyAccount), s.account);
  commit_cursor(s, *state, *mark);
  s.verified = true;
  out.indexed_state = *state;
  out.account_state = *state;
  return out;
}

// REQUIRES: s.mu held.
result<CatchUp> catch_up_locked(storage::Store& store, Slot& s, std::size_t max_changes, std::size_t batch,
                                std::size_t max_rebuild_messages) {
  // A rebuild costs the whole account: only up to what the caller allows.
  auto rebuild = [&](std::string reason) -> result<CatchUp> {
    if (max_rebuild_messages != kUnbounded) {
      auto ids = store.list_message_ids(s.account, max_rebuild_messages + 1);
      if (!ids) return errc::store;
      if (ids->size() > max_rebuild_messages) return errc::behind;
    }
    return rebuild_locked(store, s, std::move(reason));
  };
  std::string reset;
  open_db(s, reset);
  if (!reset.empty()) return rebuild(reset);
  auto& db = *s.db;
  if (db.get_metadata(std::string(kKeyVersion)) != kVersion) return rebuild("no index");
  if (db.get_metadata(std::string(kKeyAccount)) != s.account) return rebuild("other account");
  std::uint64_t since = to_u64(db.get_metadata(std::string(kKeyState)));
  std::string mark = db.get_metadata(std::string(kKeyMark));
  s.state = since;
  auto current = store.account_state(s.account);
  if (!current) return errc::store;
  if (since > *current) return rebuild("index newer than the store (restored)");
  if (!s.verified) {
    // Once per process: the newest email change set the index saw must still be in the
    // log with the same time, else this store is another history (a restored backup).
    if (!mark.empty()) {
      auto colon = mark.find(':');
      auto at = mark_at(store, s.account, to_u64(mark.substr(0, colon)));
      if (!at && at.error() == storage::errc::expired) return rebuild("expired");
      if (!at) return errc::store;
      if (*at != mark) return rebuild("another history (restored)");
    }  // no mark (the log held no set at the rebuild's state): nothing to compare
    s.verified = true;
  }
  CatchUp out;
  std::size_t seen = 0, committed_at = 0;
  // One Xapian commit (with its fsyncs) per call, or per kCommitChanges of a long one:
  // committing every batch cost deliveries a third of their rate on two cores.
  constexpr std::size_t kCommitChanges = 20000;
  std::uint64_t committed = since;
  auto commit = [&] {
    if (since == committed) return;
    commit_cursor(s, since, mark);
    committed = since;
    committed_at = seen;
  };
  while (since < *current) {
    // Every type (not only emails), so the mark is the newest set of any kind.
    auto log = store.changes_since(s.account, since, std::nullopt, batch);
    if (!log && (log.error() == storage::errc::expired || log.error() == storage::errc::invalid_argument)) {
      return rebuild(log.error() == storage::errc::expired ? "expired" : "index newer than the store");
    }
    if (!log) return errc::store;
    std::set<std::string> created, touched;
    for (const auto& set : log->sets) {
      seen += set.changes.size();
      for (const auto& c : set.changes) {
        if (c.type != storage::ChangeType::email) continue;
        touched.insert(c.id);
        if (c.kind == storage::ChangeKind::created) created.insert(c.id);
      }
    }
    std::vector<std::string> ids(touched.begin(), touched.end());
    auto rows = store.message_rows(s.account, ids);
    if (!rows) return errc::store;
    for (const auto& id : ids) {
      const std::string term = id_term(id);
      if ((*rows)[id].empty()) {
        if (db.term_exists(term)) {
          db.delete_document(term);
          ++out.deleted;
        }
        continue;
      }
      // Updated (keywords, a copy, a move): indexed already unless this index missed it.
      if (!created.count(id) && db.term_exists(term)) continue;
      auto done = index_message(store, db, id);
      if (!done) return done.error();
      if (*done) ++out.indexed;
    }
    std::uint64_t next = log->has_more && !log->sets.empty() ? log->sets.back().modseq : log->state;
    if (!log->sets.empty()) mark = mark_of(log->sets.back());
    since = next;
    if (!log->has_more) break;
    if (max_changes > 0 && seen >= max_changes) {
      commit();
      out.indexed_state = since;
      out.account_state = *current;
      return out;  // the caller sees indexed_state < account_state
    }
    if (seen - committed_at >= kCommitChanges) commit();
  }
  commit();
  out.indexed_state = since;
  out.account_state = std::max(since, *current);
  return out;
}

}  // namespace

Index::Index(storage::Store& store, Options options) : store_(store), options_(std::move(options)) {}
Index::~Index() = default;

fs::path Index::path_of(std::string_view account) const {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(account.data()), account.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name;
  for (int i = 0; i < 16; ++i) {
    name += kHex[digest[i] >> 4];
    name += kHex[digest[i] & 15];
  }
  return options_.dir / name;
}

std::shared_ptr<Index::Slot> Index::slot(std::string_view account) {
  std::lock_guard lock(mu_);
  auto it = slots_.find(account);
  if (it == slots_.end()) {
    auto s = std::make_shared<Slot>();
    s->account = std::string(account);
    s->path = path_of(account);
    it = slots_.emplace(std::string(account), std::move(s)).first;
  }
  it->second->last_used = ++tick_;
  return it->second;
}

void Index::close_idle(const Slot* keep) {
  std::vector<std::shared_ptr<Slot>> open;
  {
    std::lock_guard lock(mu_);
    if (slots_.size() <= options_.max_open) return;  // cannot be over the bound
    for (auto& [name, s] : slots_) {
      if (s.get() != keep) open.push_back(s);
    }
  }
  std::size_t count = 1;
  std::sort(open.begin(), open.end(), [](const auto& a, const auto& b) { return a->last_used > b->last_used; });
  for (auto& s : open) {
    std::unique_lock l(s->mu, std::try_to_lock);
    if (!l.owns_lock() || !s->db) continue;
    if (++count <= options_.max_open) continue;
    try {
      s->db->close();
    } catch (const Xapian::Error&) {
      // Closing only releases files: nothing is pending (every write path commits).
    }
    s->db.reset();
  }
}

result<CatchUp> Index::catch_up(std::string_view account, std::size_t max_changes,
                                std::size_t max_rebuild_messages) {
  auto s = slot(account);
  if (max_rebuild_messages != kUnbounded && s->rebuilding) return errc::behind;  // do not wait for it
  result<CatchUp> r = errc::unavailable;
  {
    std::lock_guard lock(s->mu);
    try {
      r = catch_up_locked(store_, *s, max_changes, std::max<std::size_t>(1, options_.batch_changes),
                          max_rebuild_messages);
    } catch (const Xapian::DatabaseCorruptError& e) {
      try {
        r = max_rebuild_messages == kUnbounded ? rebuild_locked(store_, *s, "corrupt: " + e.get_msg())
                                               : result<CatchUp>(errc::unavailable);
      } catch (const Xapian::Error&) {
        r = errc::unavailable;
      } catch (const fs::filesystem_error&) {
        r = errc::unavailable;
      }
    } catch (const Xapian::Error&) {
      r = errc::unavailable;
    } catch (const fs::filesystem_error&) {
      r = errc::unavailable;
    }
    if (!r) s->db.reset();  // reopened (or rebuilt) on the next call
  }
  close_idle(s.get());
  if (r && r->indexed_state < r->account_state) return errc::behind;
  return r;
}

result<CatchUp> Index::rebuild(std::string_view account) {
  auto s = slot(account);
  result<CatchUp> r = errc::unavailable;
  {
    std::lock_guard lock(s->mu);
    try {
      r = rebuild_locked(store_, *s, "asked");
    } catch (const Xapian::Error&) {
      r = errc::unavailable;
    } catch (const fs::filesystem_error&) {
      r = errc::unavailable;
    }
    if (!r) s->db.reset();
  }
  close_idle(s.get());
  return r;
}

result<void> Index::drop(std::string_view account) {
  auto s = slot(account);
  std::lock_guard lock(s->mu);
  try {
    if (s->db) s->db->close();
  } catch (const Xapian::Error&) {
    // Only files are released; they are deleted next.
  }
  s->db.reset();
  s->state = 0;
  s->verified = false;
  std::error_code ec;
  fs::remove_all(s->path, ec);
  if (ec) return errc::unavailable;
  return {};
}

std::uint64_t Index::known_state(std::string_view account) {
  auto s = slot(account);
  std::lock_guard lock(s->mu);
  return s->state;
}

result<std::vector<std::string>> Index::search(std::string_view account, Field field, std::string_view text) {
  if (text.size() > options_.max_query_bytes) return errc::query_too_long;
  auto s = slot(account);
  if (s->rebuilding) return errc::unavailable;  // do not wait for it
  std::vector<std::string> ids;
  {
    std::lock_guard lock(s->mu);
    try {
      std::string reset;
      open_db(*s, reset);
      if (!reset.empty()) return errc::unavailable;  // emptied: catch_up rebuilds it
      Xapian::QueryParser qp;
      qp.set_stemmer(Xapian::Stem("en"));
      qp.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
      qp.set_default_op(Xapian::Query::OP_AND);
      std::vector<const char*> prefixes;
      switch (field) {
        case Field::subject: prefixes = {kSubject}; break;
        case Field::from: prefixes = {kFrom}; break;
        case Field::to: prefixes = {kTo}; break;
        case Field::cc: prefixes = {kCc}; break;
        case Field::bcc: prefixes = {kBcc}; break;
        case Field::body: prefixes = {kBody}; break;
        case Field::text: prefixes = {kSubject, kFrom, kTo, kCc, kBcc, kBody, kAttachment}; break;
      }
      for (const char* p : prefixes) qp.add_prefix("", p);
      // Phrases and CJK only: no wildcard (unbounded expansion), no boolean operators
      // or field names (the JMAP filter has its own).
      const unsigned flags = Xapian::QueryParser::FLAG_PHRASE | Xapian::QueryParser::FLAG_CJK_NGRAM;
      const std::string cleaned = clean_query(text);
      Xapian::Query q;
      try {
        q = qp.parse_query(cleaned, flags);
      } catch (const Xapian::QueryParserError&) {
        try {
          q = qp.parse_query(cleaned, Xapian::QueryParser::FLAG_CJK_NGRAM);
        } catch (const Xapian::QueryParserError&) {
          return ids;  // no query Xapian can read: no searchable word, nothing matches
        }
      }
      if (q.empty()) return ids;
      Xapian::Enquire enquire(*s->db);
      enquire.set_query(q);
      // The default weighting, not BoolWeight: Xapian 1.4's boolean matcher (BoolWeight,
      // or a weight scaled to 0) throws "Unexpected end of posting list" on a valid
      // posting list spread over chunks by many small commits with deletions (an index
      // kept current beside deliveries and expunges; tests/unit/search/crash_test.cpp).
      enquire.set_docid_order(Xapian::Enquire::ASCENDING);
      auto mset = enquire.get_mset(0, s->db->get_doccount());
      ids.reserve(mset.size());
      for (auto it = mset.begin(); it != mset.end(); ++it) ids.push_back(it.get_document().get_data());
    } catch (const Xapian::Error&) {
      s->db.reset();
      return errc::unavailable;
    } catch (const fs::filesystem_error&) {
      return errc::unavailable;
    }
  }
  return ids;
}

}  // namespace refmail::search
