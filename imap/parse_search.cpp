// imap/parse_search.cpp — SEARCH / UID SEARCH (RFC 9051 6.4.4, RFC 3501 6.4.4: every
// search key; ESEARCH RETURN options RFC 4731 / 9051; SAVE and "$" RFC 5182; MODSEQ
// RFC 7162 3.1.5; EMAILID/THREADID RFC 8474 5; OLDER/YOUNGER RFC 5032) and the
// SORT / THREAD commands (RFC 5256, DISPLAYFROM/DISPLAYTO RFC 5957).
// Must never: recurse without Depth (NOT NOT NOT ... and nested parentheses are both
// bounded by max_depth), or build more than max_items keys.
#include <cctype>

#include "imap/parse_internal.hpp"

namespace refmail::imap::detail {
namespace {

struct Simple {
  std::string_view name;
  SearchKey::Kind kind;
};
constexpr Simple kFlagKeys[] = {
    {"ALL", SearchKey::Kind::All},           {"ANSWERED", SearchKey::Kind::Answered},
    {"DELETED", SearchKey::Kind::Deleted},   {"DRAFT", SearchKey::Kind::Draft},
    {"FLAGGED", SearchKey::Kind::Flagged},   {"NEW", SearchKey::Kind::New},
    {"OLD", SearchKey::Kind::Old},           {"RECENT", SearchKey::Kind::Recent},
    {"SEEN", SearchKey::Kind::Seen},         {"UNANSWERED", SearchKey::Kind::Unanswered},
    {"UNDELETED", SearchKey::Kind::Undeleted}, {"UNDRAFT", SearchKey::Kind::Undraft},
    {"UNFLAGGED", SearchKey::Kind::Unflagged}, {"UNSEEN", SearchKey::Kind::Unseen},
};
constexpr Simple kStringKeys[] = {
    {"BCC", SearchKey::Kind::Bcc},   {"BODY", SearchKey::Kind::Body},       {"CC", SearchKey::Kind::Cc},
    {"FROM", SearchKey::Kind::From}, {"SUBJECT", SearchKey::Kind::Subject}, {"TEXT", SearchKey::Kind::Text},
    {"TO", SearchKey::Kind::To},
};
constexpr Simple kDateKeys[] = {
    {"BEFORE", SearchKey::Kind::Before},         {"ON", SearchKey::Kind::On},
    {"SINCE", SearchKey::Kind::Since},           {"SENTBEFORE", SearchKey::Kind::SentBefore},
    {"SENTON", SearchKey::Kind::SentOn},         {"SENTSINCE", SearchKey::Kind::SentSince},
};

// RFC 8474 4: objectid = 1*255(ALPHA / DIGIT / "_" / "-")
bool valid_objectid(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  return true;
}

}  // namespace

bool Parser::search_key(SearchKey& k) {
  Depth depth(*this);
  if (!depth.ok || !count_item()) return false;
  int c = peek();
  if (c == '(') {
    ++pos_;
    k.kind = SearchKey::Kind::And;
    for (;;) {
      k.children.emplace_back();
      if (!search_key(k.children.back())) return false;
      if (eat(')')) return true;
      if (!sp()) return false;
    }
  }
  if ((c >= '0' && c <= '9') || c == '*' || c == '$') {
    auto s = sequence_set();
    if (!s) return false;
    k.kind = SearchKey::Kind::SequenceSet;
    k.set = std::move(*s);
    return true;
  }
  for (const auto& s : kFlagKeys)
    if (word(s.name)) {
      k.kind = s.kind;
      return true;
    }
  for (const auto& s : kStringKeys)
    if (word(s.name)) {
      k.kind = s.kind;
      auto v = sp() ? astring() : std::nullopt;
      if (!v) return false;
      k.text = std::move(*v);
      return true;
    }
  for (const auto& s : kDateKeys)
    if (word(s.name)) {
      k.kind = s.kind;
      auto d = sp() ? date() : std::nullopt;
      if (!d) return false;
      k.date = *d;
      return true;
    }
  bool kw = word("KEYWORD");
  if (kw || word("UNKEYWORD")) {
    k.kind = kw ? SearchKey::Kind::Keyword : SearchKey::Kind::Unkeyword;
    auto a = sp() ? atom() : std::nullopt;
    if (!a) return false;
    k.text = std::move(*a);
    return true;
  }
  if (word("HEADER")) {
    k.kind = SearchKey::Kind::Header;
    auto f = sp() ? astring() : std::nullopt;
    auto v = f && sp() ? astring() : std::nullopt;
    if (!v) return false;
    k.field = std::move(*f);
    k.text = std::move(*v);
    return true;
  }
  bool larger = word("LARGER");
  if (larger || word("SMALLER")) {
    k.kind = larger ? SearchKey::Kind::Larger : SearchKey::Kind::Smaller;
    auto n = sp() ? number64() : std::nullopt;
    if (!n) return false;
    k.number = *n;
    return true;
  }
  bool older = word("OLDER");
  if (older || word("YOUNGER")) {
    k.kind = older ? SearchKey::Kind::Older : SearchKey::Kind::Younger;
    auto n = sp() ? nz_number() : std::nullopt;
    if (!n) return false;
    k.number = *n;
    return true;
  }
  if (word("UID")) {
    k.kind = SearchKey::Kind::Uid;
    auto s = sp() ? sequence_set() : std::nullopt;
    if (!s) return false;
    k.set = std::move(*s);
    return true;
  }
  if (word("NOT")) {
    k.kind = SearchKey::Kind::Not;
    k.children.emplace_back();
    return sp() && search_key(k.children.back());
  }
  if (word("OR")) {
    k.kind = SearchKey::Kind::Or;
    k.children.resize(2);
    return sp() && search_key(k.children[0]) && sp() && search_key(k.children[1]);
  }
  if (word("MODSEQ")) {
    // RFC 7162 3.1.5: MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer
    k.kind = SearchKey::Kind::ModSeq;
    if (!sp()) return false;
    if (peek() == '"') {
      auto name = string();
      if (!name || !sp()) return false;
      if (name->rfind("/flags/", 0) != 0) return fail("Bad MODSEQ entry name");
      auto type = atom();
      if (!type) return false;
      std::string t = upper(*type);
      if (t != "PRIV" && t != "SHARED" && t != "ALL") return fail("Bad MODSEQ entry type");
      k.field = std::move(*name);
      k.text = t;
      if (!sp()) return false;
    }
    auto n = number64();
    if (!n) return false;
    k.number = *n;
    return true;
  }
  bool email_id = word("EMAILID");
  if (email_id || word("THREADID")) {
    k.kind = email_id ? SearchKey::Kind::EmailId : SearchKey::Kind::ThreadId;
    auto id = sp() ? atom() : std::nullopt;
    if (!id) return false;
    if (!valid_objectid(*id)) return fail("Invalid object id");
    k.text = std::move(*id);
    return true;
  }
  return fail("Unknown search key");
}

std::optional<SearchKey> Parser::search_program(bool allow_charset, std::optional<std::string>* charset) {
  if (allow_charset && word("CHARSET")) {
    auto cs = sp() ? astring() : std::nullopt;
    if (!cs || !sp()) return std::nullopt;
    *charset = upper(*cs);
  }
  SearchKey top;
  top.kind = SearchKey::Kind::And;
  do {
    top.children.emplace_back();
    if (!search_key(top.children.back())) return std::nullopt;
  } while (eat(' '));
  return top;
}

std::optional<CommandBody> Parser::search(bool uid) {
  Search c;
  c.uid = uid;
  if (!sp()) return std::nullopt;
  if (word("RETURN")) {
    // RFC 4731 3.1 / RFC 9051: search-return-opts = SP "RETURN" SP "(" [opt *(SP opt)] ")"
    c.esearch = true;
    if (!sp() || !eat('(')) return fail("Expected ("), std::nullopt;
    while (!eat(')')) {
      if (!count_item()) return std::nullopt;
      if (word("MIN")) c.ret_min = true;
      else if (word("MAX")) c.ret_max = true;
      else if (word("ALL")) c.ret_all = true;
      else if (word("COUNT")) c.ret_count = true;
      else if (word("SAVE")) c.ret_save = true;
      else return fail("Unknown search return option"), std::nullopt;
      if (peek() != ')' && !sp()) return std::nullopt;
    }
    if (!sp()) return std::nullopt;
  }
  auto key = search_program(true, &c.charset);
  if (!key) return std::nullopt;
  c.key = std::move(*key);
  return c;
}

std::optional<CommandBody> Parser::sort(bool uid) {
  // RFC 5256 5: sort = ["UID" SP] "SORT" SP sort-criteria SP search-criteria
  Sort c;
  c.uid = uid;
  if (!sp() || !eat('(')) return fail("Expected sort criteria"), std::nullopt;
  do {
    if (!count_item()) return std::nullopt;
    SortCriterion s;
    if (word("REVERSE")) {
      s.reverse = true;
      if (!sp()) return std::nullopt;
    }
    if (word("ARRIVAL")) s.key = SortCriterion::Key::Arrival;
    else if (word("CC")) s.key = SortCriterion::Key::Cc;
    else if (word("DATE")) s.key = SortCriterion::Key::Date;
    else if (word("FROM")) s.key = SortCriterion::Key::From;
    else if (word("SIZE")) s.key = SortCriterion::Key::Size;
    else if (word("SUBJECT")) s.key = SortCriterion::Key::Subject;
    else if (word("TO")) s.key = SortCriterion::Key::To;
    else if (word("DISPLAYFROM")) s.key = SortCriterion::Key::DisplayFrom;
    else if (word("DISPLAYTO")) s.key = SortCriterion::Key::DisplayTo;
    else return fail("Unknown sort key"), std::nullopt;
    c.criteria.push_back(s);
  } while (eat(' '));
  if (!eat(')')) return fail("Expected )"), std::nullopt;
  auto cs = sp() ? astring() : std::nullopt;
  if (!cs || !sp()) return std::nullopt;
  c.charset = upper(*cs);
  auto key = search_program(false, nullptr);
  if (!key) return std::nullopt;
  c.key = std::move(*key);
  return c;
}

std::optional<CommandBody> Parser::thread(bool uid) {
  // RFC 5256 5: thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria
  Thread c;
  c.uid = uid;
  auto alg = sp() ? atom() : std::nullopt;
  auto cs = alg && sp() ? astring() : std::nullopt;
  if (!cs || !sp()) return std::nullopt;
  c.algorithm = upper(*alg);
  c.charset = upper(*cs);
  auto key = search_program(false, nullptr);
  if (!key) return std::nullopt;
  c.key = std::move(*key);
  return c;
}

}  // namespace refmail::imap::detail
