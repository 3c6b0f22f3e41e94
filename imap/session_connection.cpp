// imap/session_connection.cpp — the connection-level commands of imap::Session:
// CAPABILITY, NOOP, LOGOUT (RFC 9051 6.1), ID (RFC 2971), ENABLE (RFC 5161, RFC 9051
// 6.3.1), NAMESPACE (RFC 2342), IDLE (RFC 2177) and STARTTLS (RFC 9051 6.2.1).
// Must never: echo a client value (ID answers with the server's own fields, ENABLE
// echoes only names it knows), or act on plaintext pipelined after STARTTLS.
// SECURITY: STARTTLS drops every byte buffered after the command (CVE-2011-0411).
#include "imap/session.hpp"

#include <algorithm>

namespace refmail::imap {


void Session::cmd_capability(const Command& c) {
  write(untagged("CAPABILITY " + capabilities()));
  answer(c.tag, Condition::Ok, "", "CAPABILITY completed");
}

void Session::cmd_noop(const Command& c) { answer(c.tag, Condition::Ok, "", "NOOP completed"); }

void Session::cmd_logout(const Command& c) {
  // RFC 9051 6.1.3: BYE, then the tagged OK, then close.
  write(untagged_status(Condition::Bye, "", "Logging out"));
  answer(c.tag, Condition::Ok, "", "LOGOUT completed");
  out_.emplace_back(action::Close{});
  enter_state(SessionState::Logout);
}

void Session::cmd_id(const Command& c) {
  // The parser bounds the client's ID list (RFC 2971 3.3: 30 pairs, short strings);
  // nothing of it is echoed or kept.
  ResponseBuilder b;
  b.atom("ID ").open().string("name", false).sp().string(opt_.server_name, false);
  if (!opt_.server_version.empty()) b.sp().string("version", false).sp().string(opt_.server_version, false);
  b.close();
  write(untagged(b.str()));
  answer(c.tag, Condition::Ok, "", "ID completed");
}

void Session::cmd_enable(const Command& c) {
  // RFC 5161 3.1: only in the authenticated state, before a mailbox is selected.
  if (state_ != SessionState::Authenticated) return error(c.tag, Condition::Bad, "", "ENABLE only before SELECT");
  const ExtensionSet on = advertised();
  std::string line = "ENABLED";
  for (const auto& name : std::get<Enable>(c.body).capabilities) {
    std::string canonical;
    if (name == "IMAP4REV2" && !imap4rev2_) {
      imap4rev2_ = true;
      utf8_ = true;  // RFC 9051 accepts UTF-8 in quoted strings and mailbox names
      canonical = "IMAP4rev2";
    } else if (name == "UTF8=ACCEPT" && has(on, Extension::Utf8Accept) &&
               std::find(enabled_.begin(), enabled_.end(), "UTF8=ACCEPT") == enabled_.end()) {
      utf8_ = true;  // RFC 6855 3
      canonical = "UTF8=ACCEPT";
    } else if (name == "CONDSTORE" && has(on, Extension::Condstore) && !condstore_) {
      condstore_ = true;  // RFC 7162 3.1
      canonical = "CONDSTORE";
    } else if (name == "QRESYNC" && has(on, Extension::Qresync) && !qresync_) {
      qresync_ = condstore_ = true;  // RFC 7162 3.2.3: QRESYNC implies CONDSTORE
      canonical = "QRESYNC";
    }
    // Anything else (unknown, not advertised, already enabled) is ignored (RFC 5161 3.1).
    if (canonical.empty()) continue;
    enabled_.push_back(name);
    line += ' ';
    line += canonical;
  }
  apply_reader_options();
  write(untagged(line));
  answer(c.tag, Condition::Ok, "", "ENABLE completed");
}

void Session::cmd_namespace(const Command& c) {
  // One personal namespace with "/" as the hierarchy separator (issue 16), none other.
  write(untagged("NAMESPACE ((\"\" \"/\")) NIL NIL"));
  answer(c.tag, Condition::Ok, "", "NAMESPACE completed");
}

void Session::cmd_idle(const Command& c) {
  // RFC 2177 / RFC 9051 6.3.13. In the selected state the server asks for updates with
  // poll_mailbox() (at once, then whenever the account changes) until DONE.
  pending_tag_ = c.tag;
  resume_state_ = state_;
  write(continuation("idling"));
  reader_.expect_idle_done();
  enter_state(SessionState::Idle);
}

void Session::on_idle_done(bool ok) {
  enter_state(resume_state_);
  if (ok)
    answer(pending_tag_, Condition::Ok, "", "IDLE terminated");
  else
    error(pending_tag_, Condition::Bad, "", "Expected DONE");
}

void Session::cmd_starttls(const Command& c) {
  if (tls_active_) return error(c.tag, Condition::Bad, "", "TLS is already active");
  if (!opt_.tls_available) return error(c.tag, Condition::Bad, "", "STARTTLS is not available");
  answer(c.tag, Condition::Ok, "", "Begin TLS negotiation now");
  out_.emplace_back(action::StartTls{});
  enter_state(SessionState::WaitTls);
  // CVE-2011-0411: whatever the client pipelined after STARTTLS arrived in plaintext and
  // must not be executed inside TLS.
  reader_.discard_buffered();
}

}  // namespace refmail::imap

namespace refmail::imap {

void Session::cmd_compress(const Command& c) {
  // RFC 4978 3: in the authenticated and selected states, once.
  if (!has(advertised(), Extension::CompressDeflate)) return not_available(c);
  if (std::get<Compress>(c.body).mechanism != "DEFLATE")
    return error(c.tag, Condition::Bad, "", "Unknown compression mechanism");
  if (compressing_) return answer(c.tag, Condition::No, "COMPRESSIONACTIVE", "DEFLATE is already active");
  compressing_ = true;
  answer(c.tag, Condition::Ok, "", "DEFLATE active");
  // What the client sent after the command is already compressed.
  out_.emplace_back(action::StartCompression{reader_.take_buffered()});
}

}  // namespace refmail::imap
