// imap/session.cpp — the session's core: states, the event loop over the command reader,
// dispatch by state, error counting, outcomes. Commands live in session_connection.cpp
// (CAPABILITY, NOOP, LOGOUT, ID, ENABLE, NAMESPACE, IDLE, STARTTLS) and session_auth.cpp
// (LOGIN, AUTHENTICATE). RFC 9051 3 (states), 7.1 (status responses).
// Must never: call reader_.next() while an outcome is awaited, or write after Close.
// SECURITY: every error is counted; past Limits::max_errors the session says BYE.
#include "imap/session.hpp"

#include <algorithm>
#include <type_traits>
#include <variant>

#include "imap/check.hpp"

namespace refmail::imap {

namespace {

// Where a command may run (RFC 9051 6.1-6.4).
enum class Scope { Any, NotAuthenticated, Authenticated, Selected };

Scope scope_of(const CommandBody& body) {
  return std::visit(
      [](const auto& b) -> Scope {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, Capability> || std::is_same_v<T, Noop> || std::is_same_v<T, Logout> ||
                      std::is_same_v<T, Id>)
          return Scope::Any;
        else if constexpr (std::is_same_v<T, StartTls> || std::is_same_v<T, Login> ||
                           std::is_same_v<T, imap::Authenticate>)
          return Scope::NotAuthenticated;
        else if constexpr (std::is_same_v<T, Check> || std::is_same_v<T, imap::Close> ||
                           std::is_same_v<T, Unselect> || std::is_same_v<T, Expunge> ||
                           std::is_same_v<T, Search> || std::is_same_v<T, Fetch> || std::is_same_v<T, Store> ||
                           std::is_same_v<T, Copy> || std::is_same_v<T, Sort> || std::is_same_v<T, Thread>)
          return Scope::Selected;
        else
          return Scope::Authenticated;
      },
      body);
}

}  // namespace

const char* to_string(SessionState s) noexcept {
  switch (s) {
    case SessionState::Init: return "Init";
    case SessionState::NotAuthenticated: return "NotAuthenticated";
    case SessionState::Authenticated: return "Authenticated";
    case SessionState::Selected: return "Selected";
    case SessionState::Idle: return "Idle";
    case SessionState::AuthContinue: return "AuthContinue";
    case SessionState::WaitAuth: return "WaitAuth";
    case SessionState::WaitTls: return "WaitTls";
    case SessionState::WaitMailbox: return "WaitMailbox";
    case SessionState::Logout: return "Logout";
  }
  return "?";
}

const char* capability_name(Extension e) noexcept {
  switch (e) {
    case Extension::Id: return "ID";
    case Extension::Enable: return "ENABLE";
    case Extension::Idle: return "IDLE";
    case Extension::Namespace: return "NAMESPACE";
    case Extension::SaslIr: return "SASL-IR";
    case Extension::Utf8Accept: return "UTF8=ACCEPT";
    case Extension::Unselect: return "UNSELECT";
    case Extension::UidPlus: return "UIDPLUS";
    case Extension::Move: return "MOVE";
    case Extension::Condstore: return "CONDSTORE";
    case Extension::Qresync: return "QRESYNC";
    case Extension::Esearch: return "ESEARCH";
    case Extension::Searchres: return "SEARCHRES";
    case Extension::ListExtended: return "LIST-EXTENDED";
    case Extension::ListStatus: return "LIST-STATUS";
    case Extension::SpecialUse: return "SPECIAL-USE";
    case Extension::Children: return "CHILDREN";
    case Extension::Binary: return "BINARY";
    case Extension::StatusSize: return "STATUS=SIZE";
    case Extension::AppendLimit: return "APPENDLIMIT";
    case Extension::ObjectId: return "OBJECTID";
    case Extension::Sort: return "SORT";
    case Extension::ThreadReferences: return "THREAD=REFERENCES";
    case Extension::ThreadOrderedSubject: return "THREAD=ORDEREDSUBJECT";
    case Extension::Quota: return "QUOTA";
    case Extension::CompressDeflate: return "COMPRESS=DEFLATE";
  }
  return "";
}

Session::Session(Options options, Limits limits)
    : opt_(std::move(options)), lim_(limits), reader_(limits.command, ReaderOptions{limits.non_sync, false}) {
  REFMAIL_CHECK(lim_.max_errors >= 1 && lim_.max_auth_failures >= 1);
  REFMAIL_CHECK(safe_text(opt_.server_name) == opt_.server_name);
  REFMAIL_CHECK(safe_text(opt_.server_version) == opt_.server_version);
  tls_active_ = opt_.tls_active;
}

ExtensionSet Session::advertised() const noexcept {
  ExtensionSet on = opt_.extensions & kImplementedExtensions;
  if (!opt_.mailbox_requests) on &= ~kMailboxExtensions;
  return on;
}

namespace {
bool has_modseq_key(const SearchKey& k) {
  if (k.kind == SearchKey::Kind::ModSeq) return true;
  for (const auto& c : k.children)
    if (has_modseq_key(c)) return true;
  return false;
}
}  // namespace

// RFC 7162 3.1: the commands that switch CONDSTORE on for the session.
void Session::note_condstore(const Command& c) {
  if (!has(advertised(), Extension::Condstore)) return;
  if (const auto* s = std::get_if<Select>(&c.body)) condstore_ = condstore_ || s->condstore;
  if (const auto* f = std::get_if<Fetch>(&c.body))
    condstore_ = condstore_ || f->changed_since ||
                 std::any_of(f->atts.begin(), f->atts.end(), [](const FetchAtt& a) { return a.kind == FetchAtt::Kind::ModSeq; });
  if (const auto* st = std::get_if<imap::Store>(&c.body)) condstore_ = condstore_ || st->unchanged_since;
  if (const auto* se = std::get_if<Search>(&c.body)) condstore_ = condstore_ || has_modseq_key(se->key);
}

std::string Session::capabilities() const {
  std::string c = "IMAP4rev1 IMAP4rev2";
  if (lim_.non_sync == NonSyncLiterals::LiteralPlus) c += " LITERAL+";
  if (lim_.non_sync == NonSyncLiterals::LiteralMinus) c += " LITERAL-";
  const ExtensionSet on = advertised();
  for (unsigned bit = 0; bit < 64; ++bit) {
    auto e = static_cast<Extension>(1ull << bit);
    if ((on & (1ull << bit)) == 0) continue;
    c += ' ';
    c += capability_name(e);
    if (e == Extension::AppendLimit) c += "=" + std::to_string(lim_.command.max_append_bytes);
    if (e == Extension::Quota) c += " QUOTA=RES-STORAGE";  // RFC 9208 5
  }
  const bool before_login = !user_.has_value();
  if (before_login) {
    // RFC 9051 6.2.1 / 7.2.2: STARTTLS only while not in TLS; RFC 9051 6.2.3
    // LOGINDISABLED (and no AUTH=PLAIN) while plaintext credentials are not allowed.
    if (opt_.tls_available && !tls_active_) c += " STARTTLS";
    c += plaintext_allowed() ? " AUTH=PLAIN" : " LOGINDISABLED";
  }
  return c;
}

bool Session::wants_input() const noexcept {
  switch (state_) {
    case SessionState::NotAuthenticated:
    case SessionState::Authenticated:
    case SessionState::Selected:
    case SessionState::Idle:
    case SessionState::AuthContinue: return true;
    default: return false;
  }
}

Deadline Session::deadline() const noexcept {
  if (!wants_input()) return Deadline::None;
  if (state_ == SessionState::Idle) return Deadline::Idle;
  if (!reader_.at_command_boundary()) return Deadline::InCommand;
  if (state_ == SessionState::NotAuthenticated || state_ == SessionState::AuthContinue)
    return Deadline::Unauthenticated;
  return Deadline::Authenticated;
}

void Session::enter_state(SessionState next) {
  if (next == state_) return;
  SessionState from = state_;
  state_ = next;
  if (on_transition) on_transition(from, next);
}

std::vector<Action> Session::start() {
  REFMAIL_CHECK(state_ == SessionState::Init);
  enter_state(SessionState::NotAuthenticated);
  write(untagged_status(Condition::Ok, "CAPABILITY " + capabilities(), opt_.server_name + " IMAP server ready"));
  return std::exchange(out_, {});
}

std::vector<Action> Session::feed(std::string_view bytes) {
  if (closed() || state_ == SessionState::WaitTls || state_ == SessionState::Init) return {};
  reader_.feed(bytes);
  if (!wants_input()) {
    // An outcome is awaited: keep the bytes, bounded.
    if (reader_.held_bytes() > lim_.max_input_buffer) bye("Too much input while waiting");
    return std::exchange(out_, {});
  }
  run();
  return std::exchange(out_, {});
}

void Session::run() {
  while (wants_input()) {
    ReaderEvent e = reader_.next();
    switch (e.kind) {
      case ReaderEvent::Kind::NeedMore: return;
      case ReaderEvent::Kind::Continuation: write(continuation("Ready for literal data")); break;
      case ReaderEvent::Kind::Command: on_command(std::move(*e.command)); break;
      case ReaderEvent::Kind::Error: on_error(e.error); break;
      case ReaderEvent::Kind::AppendBegin: on_append_begin(e.append); break;
      case ReaderEvent::Kind::AppendData:
        if (!e.data.empty()) out_.emplace_back(action::AppendData{std::string(e.data)});
        break;
      case ReaderEvent::Kind::AppendEnd: break;  // the Append command follows the last one
      case ReaderEvent::Kind::IdleDone: on_idle_done(true); break;
      case ReaderEvent::Kind::SaslLine: on_sasl_line(e.line); break;
    }
  }
}

void Session::answer(std::string_view tag, Condition s, std::string_view code, std::string_view text) {
  write(tagged(tag, s, code, text));
}

void Session::error(std::string_view tag, Condition s, std::string_view code, std::string_view text) {
  if (tag.empty())
    write(untagged_status(s, code, text));
  else
    answer(tag, s, code, text);
  if (++errors_ >= lim_.max_errors) bye("Too many errors");
}

void Session::bye(std::string_view text) {
  write(untagged_status(Condition::Bye, "", text));
  out_.emplace_back(action::Close{});
  enter_state(SessionState::Logout);
}

void Session::apply_reader_options() { reader_.set_options(ReaderOptions{lim_.non_sync, utf8_}); }

void Session::on_error(const ParseError& e) {
  if (state_ == SessionState::AuthContinue) {
    // RFC 9051 6.2.2: a bad SASL response line ends the exchange with BAD.
    enter_state(SessionState::NotAuthenticated);
    error(pending_tag_, Condition::Bad, "", e.text);
    return;
  }
  if (state_ == SessionState::Idle) {
    enter_state(resume_state_);
    error(pending_tag_, Condition::Bad, "", "Expected DONE");
    return;
  }
  if (state_ == SessionState::NotAuthenticated && ++unauth_commands_ > lim_.max_unauthenticated_commands) {
    bye("Too many commands before login");
    return;
  }
  if (e.code == errc::too_big && !e.tag.empty()) {
    // RFC 7889 / RFC 4469: an APPEND over APPENDLIMIT.
    error(e.tag, Condition::No, "TOOBIG", e.text);
    return;
  }
  error(e.tag, Condition::Bad, "", e.text);
}

void Session::on_append_begin(const AppendInfo& a) {
  if (user_ && opt_.mailbox_requests) {
    // The mailbox layer checks the mailbox, size and flags before the "+" (the reader
    // sends it on the next next() unless abort_append()).
    wait_resume_ = state_;
    pending_tag_ = a.tag;
    append_pending_ = true;
    action::MailboxRequest r{Command{a.tag, Append{a.mailbox, {a.message}}}, *user_, modes(), false};
    r.append_begin = true;
    r.append_index = a.index;
    out_.emplace_back(std::move(r));
    enter_state(SessionState::WaitMailbox);
    return;
  }
  // Refused before the message streams (no "+" is sent for a synchronizing literal; a
  // non-synchronizing one is discarded by the reader).
  reader_.abort_append();
  if (state_ == SessionState::NotAuthenticated) {
    if (++unauth_commands_ > lim_.max_unauthenticated_commands) {
      bye("Too many commands before login");
      return;
    }
    error(a.tag, Condition::Bad, "", "APPEND needs authentication first");
    return;
  }
  answer(a.tag, Condition::No, "CANNOT", "APPEND is not available yet");
}

void Session::on_command(Command&& c) {
  if (state_ == SessionState::NotAuthenticated && ++unauth_commands_ > lim_.max_unauthenticated_commands) {
    bye("Too many commands before login");
    return;
  }
  const Scope scope = scope_of(c.body);
  const bool authed = state_ == SessionState::Authenticated || state_ == SessionState::Selected;
  switch (scope) {
    case Scope::Any: break;
    case Scope::NotAuthenticated:
      if (authed) return error(c.tag, Condition::Bad, "", "Already authenticated");
      break;
    case Scope::Authenticated:
      if (!authed) return error(c.tag, Condition::Bad, "", command_name(c) + " needs authentication first");
      break;
    case Scope::Selected:
      if (!authed) return error(c.tag, Condition::Bad, "", command_name(c) + " needs authentication first");
      if (state_ != SessionState::Selected) return error(c.tag, Condition::Bad, "", "No mailbox selected");
      if (opt_.mailbox_requests) return request_mailbox(c);
      break;
  }
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, Capability>) cmd_capability(c);
        else if constexpr (std::is_same_v<T, Noop>) {
          // In the selected state NOOP reports the mailbox's changes (RFC 9051 6.1.2).
          if (state_ == SessionState::Selected && opt_.mailbox_requests) request_mailbox(c);
          else cmd_noop(c);
        }
        else if constexpr (std::is_same_v<T, Logout>) cmd_logout(c);
        else if constexpr (std::is_same_v<T, Id>) cmd_id(c);
        else if constexpr (std::is_same_v<T, Enable>) cmd_enable(c);
        else if constexpr (std::is_same_v<T, Namespace>) cmd_namespace(c);
        else if constexpr (std::is_same_v<T, Idle>) cmd_idle(c);
        else if constexpr (std::is_same_v<T, StartTls>) cmd_starttls(c);
        else if constexpr (std::is_same_v<T, Compress>) cmd_compress(c);
        else if constexpr (std::is_same_v<T, Login>) cmd_login(c);
        else if constexpr (std::is_same_v<T, imap::Authenticate>) cmd_authenticate(c);
        else not_available(c);
      },
      c.body);
}

void Session::not_available(const Command& c) {
  if (opt_.mailbox_requests && user_) {
    request_mailbox(c);
    return;
  }
  // SLICE BOUNDARY (see session.hpp): honest, not a client error, not counted.
  answer(c.tag, Condition::No, "CANNOT", command_name(c) + " is not available yet");
}

action::ClientModes Session::modes() const {
  return action::ClientModes{imap4rev2_, utf8_, condstore_, qresync_};
}

void Session::request_mailbox(const Command& c) {
  REFMAIL_CHECK(user_.has_value());
  note_condstore(c);
  wait_resume_ = state_;
  pending_tag_ = c.tag;
  out_.emplace_back(action::MailboxRequest{c, *user_, modes(), false});
  enter_state(SessionState::WaitMailbox);
}

std::vector<Action> Session::poll_mailbox() {
  if (state_ != SessionState::Idle || resume_state_ != SessionState::Selected || !opt_.mailbox_requests || !user_)
    return {};
  poll_pending_ = true;
  wait_resume_ = SessionState::Idle;
  out_.emplace_back(action::MailboxRequest{Command{"", Noop{}}, *user_, modes(), true});
  enter_state(SessionState::WaitMailbox);
  return std::exchange(out_, {});
}

std::vector<Action> Session::mailbox_result(MailboxReply reply) {
  if (closed()) return {};
  REFMAIL_CHECK(state_ == SessionState::WaitMailbox);
  for (auto& a : reply.body) out_.push_back(std::move(a));
  if (append_pending_) {
    append_pending_ = false;
    enter_state(wait_resume_);
    if (reply.status != Condition::Ok) {
      // Refused before the bytes: "+" is never sent for it, its bytes are discarded.
      reader_.abort_append();
      answer(pending_tag_, reply.status, reply.code, reply.text);
    }
    run();
    return std::exchange(out_, {});
  }
  if (poll_pending_) {
    // Untagged updates while IDLE: no status line; the session idles on (a DONE that
    // arrived meanwhile is in the reader).
    poll_pending_ = false;
    if (reply.selection == MailboxReply::Selection::Deselected) resume_state_ = SessionState::Authenticated;
    enter_state(SessionState::Idle);
    run();
    return std::exchange(out_, {});
  }
  answer(pending_tag_, reply.status, reply.code, reply.text);
  SessionState next = wait_resume_;
  if (reply.selection == MailboxReply::Selection::Selected) next = SessionState::Selected;
  if (reply.selection == MailboxReply::Selection::Deselected) next = SessionState::Authenticated;
  enter_state(next);
  run();
  return std::exchange(out_, {});
}

std::vector<Action> Session::tls_started() {
  if (closed()) return {};
  REFMAIL_CHECK(state_ == SessionState::WaitTls);
  // RFC 9051 6.2.1: the capabilities change (no STARTTLS, AUTH=PLAIN instead of
  // LOGINDISABLED); the client must ask again. Nothing from before the handshake is kept.
  tls_active_ = true;
  reader_.discard_buffered();
  enter_state(SessionState::NotAuthenticated);
  return std::exchange(out_, {});
}

}  // namespace refmail::imap
