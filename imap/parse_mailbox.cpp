// imap/parse_mailbox.cpp — the mailbox commands: SELECT/EXAMINE (RFC 9051 6.3.2 with
// CONDSTORE and QRESYNC parameters, RFC 7162 3.1.8 / 3.2.5), CREATE (USE, RFC 6154),
// LIST (LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819, SPECIAL-USE RFC 6154), LSUB,
// STATUS (RFC 9051 6.3.11, RFC 7162, RFC 7889, RFC 8474, RFC 9208) and APPEND
// (MULTIAPPEND RFC 3502, literal8 RFC 3516).
// Must never: read an APPEND message's bytes (they were streamed by the reader) or
// accept a literal8 outside APPEND data.
#include "imap/parse_internal.hpp"

namespace refmail::imap::detail {

std::optional<CommandBody> Parser::select(bool examine) {
  Select c;
  c.examine = examine;
  auto m = sp() ? mailbox() : std::nullopt;
  if (!m) return std::nullopt;
  c.mailbox = std::move(*m);
  if (at_end()) return c;
  if (!sp() || !eat('(')) return fail("Expected select parameters"), std::nullopt;
  while (!eat(')')) {
    if (!count_item()) return std::nullopt;
    if (word("CONDSTORE")) {
      c.condstore = true;
    } else if (word("QRESYNC")) {
      // QRESYNC SP "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
      QresyncParams q;
      if (!sp() || !eat('(')) return fail("Expected ( after QRESYNC"), std::nullopt;
      auto v = nz_number();
      auto ms = v && sp() ? number64() : std::nullopt;
      if (!ms) return std::nullopt;
      q.uidvalidity = *v;
      q.modseq = *ms;
      if (eat(' ') && peek() != '(') {
        auto k = sequence_set();
        if (!k) return std::nullopt;
        q.known_uids = std::move(*k);
        if (!eat(' ') && peek() != ')') return fail("Expected a space"), std::nullopt;
      }
      if (eat('(')) {
        auto seqs = sequence_set();
        auto uids = seqs && sp() ? sequence_set() : std::nullopt;
        if (!uids || !eat(')')) return fail("Bad QRESYNC sequence match data"), std::nullopt;
        q.seq_match.emplace(std::move(*seqs), std::move(*uids));
      }
      if (!eat(')')) return fail("Expected ) after QRESYNC parameters"), std::nullopt;
      c.qresync = std::move(q);
    } else {
      return fail("Unknown select parameter"), std::nullopt;
    }
    if (peek() != ')' && !sp()) return std::nullopt;
  }
  return c;
}

std::optional<CommandBody> Parser::create() {
  Create c;
  auto m = sp() ? mailbox() : std::nullopt;
  if (!m) return std::nullopt;
  c.mailbox = std::move(*m);
  if (at_end()) return c;
  // RFC 6154 3: create-param =/ "USE" SP "(" [use-attr *(SP use-attr)] ")"
  if (!sp() || !eat('(') || !word("USE") || !sp() || !eat('('))
    return fail("Expected (USE (...))"), std::nullopt;
  while (!eat(')')) {
    if (!count_item()) return std::nullopt;
    auto f = eat('\\') ? atom() : std::nullopt;
    if (!f) return fail("Expected a special-use attribute"), std::nullopt;
    c.special_use.push_back("\\" + *f);
    if (peek() != ')' && !sp()) return std::nullopt;
  }
  if (!eat(')')) return fail("Expected )"), std::nullopt;
  return c;
}

std::optional<std::vector<StatusItem>> Parser::status_items() {
  if (!eat('(')) return fail("Expected ("), std::nullopt;
  std::vector<StatusItem> items;
  do {
    if (!count_item()) return std::nullopt;
    auto a = atom();
    if (!a) return std::nullopt;
    std::string n = upper(*a);
    if (n == "MESSAGES") items.push_back(StatusItem::Messages);
    else if (n == "RECENT") items.push_back(StatusItem::Recent);
    else if (n == "UIDNEXT") items.push_back(StatusItem::UidNext);
    else if (n == "UIDVALIDITY") items.push_back(StatusItem::UidValidity);
    else if (n == "UNSEEN") items.push_back(StatusItem::Unseen);
    else if (n == "DELETED") items.push_back(StatusItem::Deleted);
    else if (n == "SIZE") items.push_back(StatusItem::Size);
    else if (n == "HIGHESTMODSEQ") items.push_back(StatusItem::HighestModSeq);
    else if (n == "APPENDLIMIT") items.push_back(StatusItem::AppendLimit);
    else if (n == "MAILBOXID") items.push_back(StatusItem::MailboxId);
    else if (n == "DELETED-STORAGE") items.push_back(StatusItem::DeletedStorage);
    else return fail("Unknown status item " + n.substr(0, 32)), std::nullopt;
  } while (eat(' '));
  if (!eat(')')) return fail("Expected )"), std::nullopt;
  return items;
}

std::optional<CommandBody> Parser::list() {
  // RFC 5258 3: LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
  List c;
  if (!sp()) return std::nullopt;
  if (eat('(')) {
    c.extended = true;
    while (!eat(')')) {
      if (!count_item()) return std::nullopt;
      if (word("SUBSCRIBED")) c.subscribed = true;
      else if (word("REMOTE")) c.remote = true;
      else if (word("RECURSIVEMATCH")) c.recursive_match = true;
      else if (word("SPECIAL-USE")) c.special_use = true;
      else return fail("Unknown LIST selection option"), std::nullopt;
      if (peek() != ')' && !sp()) return std::nullopt;
    }
    // RFC 5258 3: RECURSIVEMATCH alone is an error.
    if (c.recursive_match && !c.subscribed && !c.special_use)
      return fail("RECURSIVEMATCH needs another selection option"), std::nullopt;
    if (!sp()) return std::nullopt;
  }
  auto ref = mailbox();
  if (!ref || !sp()) return std::nullopt;
  c.reference = std::move(*ref);
  bool several = eat('(');
  if (several) c.extended = true;
  do {
    if (!count_item()) return std::nullopt;
    auto p = list_mailbox();
    auto d = p ? decode_mailbox(std::move(*p)) : std::nullopt;
    if (!d) return std::nullopt;
    c.patterns.push_back(std::move(*d));
  } while (several && eat(' '));
  if (several && !eat(')')) return fail("Expected )"), std::nullopt;
  if (at_end()) return c;
  if (!sp() || !word("RETURN") || !sp() || !eat('(')) return fail("Expected RETURN (...)"), std::nullopt;
  c.extended = true;
  while (!eat(')')) {
    if (!count_item()) return std::nullopt;
    if (word("SUBSCRIBED")) {
      c.return_subscribed = true;
    } else if (word("CHILDREN")) {
      c.return_children = true;
    } else if (word("SPECIAL-USE")) {
      c.return_special_use = true;
    } else if (word("STATUS")) {
      auto items = sp() ? status_items() : std::nullopt;
      if (!items) return std::nullopt;
      c.return_status = std::move(*items);
    } else {
      return fail("Unknown LIST return option"), std::nullopt;
    }
    if (peek() != ')' && !sp()) return std::nullopt;
  }
  return c;
}

std::optional<CommandBody> Parser::lsub() {
  Lsub c;
  auto ref = sp() ? mailbox() : std::nullopt;
  auto p = ref && sp() ? list_mailbox() : std::nullopt;
  auto d = p ? decode_mailbox(std::move(*p)) : std::nullopt;
  if (!d) return std::nullopt;
  c.reference = std::move(*ref);
  c.pattern = std::move(*d);
  return c;
}

std::optional<CommandBody> Parser::status() {
  Status c;
  auto m = sp() ? mailbox() : std::nullopt;
  auto items = m && sp() ? status_items() : std::nullopt;
  if (!items) return std::nullopt;
  c.mailbox = std::move(*m);
  c.items = std::move(*items);
  return c;
}

std::optional<CommandBody> Parser::append() {
  // RFC 3502 6: append = "APPEND" SP mailbox 1*append-message
  //   append-message = SP [flag-list SP] [date-time SP] append-data
  //   append-data = literal / literal8 (RFC 3516 4.4)
  Append c;
  auto m = sp() ? mailbox() : std::nullopt;
  if (!m) return std::nullopt;
  c.mailbox = std::move(*m);
  do {
    if (!sp() || !count_item()) return std::nullopt;
    AppendMessage msg;
    if (peek() == '(') {
      auto f = flag_list();
      if (!f || !sp()) return std::nullopt;
      msg.flags = std::move(*f);
    }
    if (peek() == '"') {
      auto s = string();
      if (!s) return std::nullopt;
      auto d = parse_date_time(*s);
      if (!d) return fail("Invalid date-time"), std::nullopt;
      msg.date = *d;
      if (!sp()) return std::nullopt;
    }
    if (!at_literal()) return fail("Expected the message literal"), std::nullopt;
    const RawLiteral* lit = literal(true);
    if (!lit) return std::nullopt;
    if (!lit->streamed) return fail("Malformed APPEND"), std::nullopt;
    msg.size = lit->size;
    msg.binary = lit->binary;
    c.messages.push_back(std::move(msg));
  } while (!at_end());
  return c;
}

}  // namespace refmail::imap::detail
