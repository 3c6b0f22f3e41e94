// smtp/client_session.cpp — the client side of RFC 5321 (see header), with RFC 2920
// pipelining, RFC 3207 STARTTLS, RFC 4954 AUTH, RFC 3030 BDAT, RFC 3461 DSN parameters.
// SECURITY: see header. Every server reply is matched against the queue of replies we
// expect; an unexpected reply is a protocol error, not something to guess about.
#include "smtp/client_session.hpp"

#include "smtp/check.hpp"
#include "smtp/command.hpp"
#include "smtp/sasl.hpp"

#include <cstring>

namespace refmail::smtp {
namespace {

DeliveryClass class_of(int code) {
  if (code >= 200 && code < 400) return DeliveryClass::Delivered;
  if (code >= 400 && code < 500) return DeliveryClass::TempFail;
  return DeliveryClass::PermFail;
}

std::string upper(std::string_view s) {
  std::string u(s);
  for (char& c : u)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return u;
}

}  // namespace

std::string dot_stuff(std::string_view m) {
  // Line by line (memchr finds the ends): the text between line ends is copied in bulk.
  std::string out;
  out.reserve(m.size() + m.size() / 64 + 8);
  std::size_t pos = 0;
  bool line_start = true;
  while (pos < m.size()) {
    if (line_start && m[pos] == '.') out.push_back('.');  // RFC 5321 4.5.2
    const void* hit = std::memchr(m.data() + pos, '\n', m.size() - pos);
    if (hit == nullptr) {
      out.append(m.substr(pos));
      line_start = false;
      break;
    }
    const auto nl = static_cast<std::size_t>(static_cast<const char*>(hit) - m.data());
    out.append(m.substr(pos, nl - pos));
    // bare LF -> CRLF: one view of where the line ends (an empty line's LF is bare too)
    if (nl == pos || m[nl - 1] != '\r') out.push_back('\r');
    out.push_back('\n');
    line_start = true;
    pos = nl + 1;
  }
  if (!line_start) out.append("\r\n");
  out.append(".\r\n");
  return out;
}

void DotStuffer::feed(std::string_view m, std::string& out) {
  std::size_t pos = 0;
  while (pos < m.size()) {
    if (line_start_ && m[pos] == '.') out.push_back('.');  // RFC 5321 4.5.2
    const void* hit = std::memchr(m.data() + pos, '\n', m.size() - pos);
    if (hit == nullptr) {
      out.append(m.substr(pos));
      line_start_ = false;
      break;
    }
    const auto nl = static_cast<std::size_t>(static_cast<const char*>(hit) - m.data());
    out.append(m.substr(pos, nl - pos));
    const char before = nl > 0 ? m[nl - 1] : prev_;  // the chunk's first byte: the last one's
    if (before != '\r') out.push_back('\r');
    out.push_back('\n');
    line_start_ = true;
    pos = nl + 1;
  }
  if (!m.empty()) prev_ = m.back();
}

void DotStuffer::finish(std::string& out) {
  if (!line_start_) out.append("\r\n");
}

bool needs_no_stuffing(std::string_view m) noexcept {
  if (m.empty()) return true;
  if (m.size() < 2 || m[m.size() - 2] != '\r' || m.back() != '\n' || m.front() == '.') return false;
  std::size_t pos = 0;
  while (pos < m.size()) {
    const void* hit = std::memchr(m.data() + pos, '\n', m.size() - pos);
    if (hit == nullptr) return false;  // cannot happen: m ends with LF
    const auto nl = static_cast<std::size_t>(static_cast<const char*>(hit) - m.data());
    if (nl == 0 || m[nl - 1] != '\r') return false;
    if (nl + 1 < m.size() && m[nl + 1] == '.') return false;
    pos = nl + 1;
  }
  return true;
}

ClientSession::ClientSession(ClientOptions options, ClientMessage message)
    : opt_(std::move(options)), msg_(std::move(message)) {
  REFMAIL_CHECK(opt_.ehlo_domain.find_first_of("\r\n ") == std::string::npos);
  tls_ = opt_.tls == TlsMode::Implicit;
  result_.tls = tls_;
  for (const Recipient& r : msg_.rcpt_to)
    result_.rcpts.push_back(ClientRcptResult{r.address, DeliveryClass::TempFail, 0, "not attempted"});
}

void ClientSession::write(std::string bytes, bool content) {
  out_.push_back(ClientWrite{std::move(bytes), content, {}, {}});
}

void ClientSession::write_content(std::string head, bool data) {
  if (msg_.streamed) {
    REFMAIL_CHECK(opt_.content_by_reference);
    ClientWrite w{std::move(head), true, {}, data ? std::string(".\r\n") : std::string()};
    w.stream = data ? ClientWrite::Stream::DotStuffed : ClientWrite::Stream::Raw;
    out_.push_back(std::move(w));
    return;
  }
  const std::string_view m = msg_.content();
  if (!opt_.content_by_reference) {
    write(head + (data ? dot_stuff(m) : std::string(m)), true);
    return;
  }
  ClientWrite w{std::move(head), true, {}, {}};
  if (!data) {
    w.body = m;  // BDAT: the bytes as they are (RFC 3030 2)
  } else if (needs_no_stuffing(m)) {
    w.body = m;
    w.trailer = ".\r\n";
  } else {
    w.bytes += dot_stuff(m);
  }
  out_.push_back(std::move(w));
}

std::vector<ClientAction> ClientSession::feed(std::span<const char> bytes) {
  out_.clear();
  if (state_ == State::Finished) return {};
  if (state_ == State::Idle) {
    state_ = State::Finished;  // unsolicited bytes between messages: not reusable
    return {};
  }
  if (state_ == State::WaitTls) {
    // Nothing may follow the STARTTLS reply in plaintext.
    fail(DeliveryClass::TempFail, 0, "4.7.0 plaintext data after STARTTLS reply", false);
    return std::exchange(out_, {});
  }
  auto replies = parser_.feed(std::string_view(bytes.data(), bytes.size()));
  if (!replies) {
    fail(DeliveryClass::TempFail, 0, "4.5.0 malformed reply from server: " + replies.error().message(), false);
    return std::exchange(out_, {});
  }
  for (std::size_t i = 0; i < replies->size(); ++i) {
    if (state_ == State::Finished) break;
    if (state_ == State::Idle) {
      state_ = State::Finished;  // more replies than commands: out of sync, not reusable
      break;
    }
    if (state_ == State::WaitTls) {
      fail(DeliveryClass::TempFail, 0, "4.7.0 plaintext data after STARTTLS reply", false);
      break;
    }
    on_reply((*replies)[i]);
  }
  if (state_ == State::WaitTls && parser_.buffered_bytes() != 0)
    fail(DeliveryClass::TempFail, 0, "4.7.0 plaintext data after STARTTLS reply", false);
  return std::exchange(out_, {});
}

std::vector<ClientAction> ClientSession::next_message(ClientMessage message) {
  REFMAIL_CHECK(state_ == State::Idle);
  out_.clear();
  msg_ = std::move(message);
  const bool tls = result_.tls, authed = result_.authenticated;
  result_ = ClientResult{};
  result_.tls = tls;
  result_.authenticated = authed;
  for (const Recipient& r : msg_.rcpt_to)
    result_.rcpts.push_back(ClientRcptResult{r.address, DeliveryClass::TempFail, 0, "not attempted"});
  expect_.clear();
  next_rcpt_ = 0;
  rcpt_replies_ = 0;
  accepted_ = 0;
  mail_ok_ = false;
  aborted_ = false;
  state_ = State::Transaction;
  // RFC 5321 4.1.1.5: RSET clears any state the last transaction may have left.
  write("RSET\r\n");
  expect_.push_back(Expect::Rset);
  if (opt_.use_pipelining && caps_.pipelining) start_transaction();  // RFC 2920 3.1: RSET may lead a group
  return std::exchange(out_, {});
}

std::vector<ClientAction> ClientSession::quit() {
  REFMAIL_CHECK(state_ == State::Idle);
  out_.clear();
  write("QUIT\r\n");
  out_.emplace_back(std::in_place_type<ClientFinished>);
  state_ = State::Finished;
  return std::exchange(out_, {});
}

std::vector<ClientAction> ClientSession::tls_started() {
  REFMAIL_CHECK(state_ == State::WaitTls);
  out_.clear();
  tls_ = true;
  result_.tls = true;
  caps_ = Caps{};  // RFC 3207 4.2: forget what was learned before TLS
  parser_ = ReplyParser{};
  write("EHLO " + opt_.ehlo_domain + "\r\n");
  state_ = State::Ehlo;
  return std::exchange(out_, {});
}

std::vector<ClientAction> ClientSession::connection_lost(std::string_view why) {
  out_.clear();
  if (state_ == State::Finished) return {};
  if (state_ == State::Idle) {
    state_ = State::Finished;  // the last message's outcome stands; the connection is gone
    return {};
  }
  fail(DeliveryClass::TempFail, 0, "4.4.2 " + std::string(why), false);
  return std::exchange(out_, {});
}

void ClientSession::fail(DeliveryClass c, int code, std::string text, bool quit) {
  // A failure decided in the same batch as the STARTTLS reply: no handshake then.
  if (!out_.empty() && std::holds_alternative<ClientStartTls>(out_.back())) out_.pop_back();
  // A session-level failure: every recipient not already decided shares it.
  for (std::size_t i = 0; i < result_.rcpts.size(); ++i) {
    ClientRcptResult& r = result_.rcpts[i];
    if (r.code == 0 || r.status == DeliveryClass::Delivered) {
      r.status = c;
      r.code = code;
      r.reply = text;
    }
  }
  result_.status = c;
  result_.code = code;
  result_.reply = std::move(text);
  if (quit) write("QUIT\r\n");
  out_.emplace_back(std::in_place_type<ClientFinished>);
  state_ = State::Finished;
}

void ClientSession::fail_reply(const ServerReply& r, bool quit) {
  fail(r.transient() || r.positive() ? DeliveryClass::TempFail : DeliveryClass::PermFail, r.code, r.text(),
       quit);
}

void ClientSession::on_reply(const ServerReply& r) {
  switch (state_) {
    case State::Greeting:
      if (r.code == 220) {
        write("EHLO " + opt_.ehlo_domain + "\r\n");
        state_ = State::Ehlo;
      } else {
        fail_reply(r, true);
      }
      return;
    case State::Ehlo:
      if (r.code == 250) {
        on_ehlo(r);
      } else if (r.code >= 500 && r.code <= 504 && !tls_ && opt_.tls != TlsMode::Required && !opt_.auth) {
        // RFC 5321 3.2: fall back to HELO for a non-ESMTP server.
        write("HELO " + opt_.ehlo_domain + "\r\n");
        state_ = State::Helo;
      } else {
        fail_reply(r, true);
      }
      return;
    case State::Helo:
      if (r.code == 250) {
        esmtp_ = false;
        caps_ = Caps{};
        after_hello();
      } else {
        fail_reply(r, true);
      }
      return;
    case State::StartTls:
      if (r.code == 220) {
        out_.emplace_back(std::in_place_type<ClientStartTls>);
        state_ = State::WaitTls;
      } else if (opt_.tls == TlsMode::Required) {
        fail_reply(r, true);
      } else {
        caps_.starttls = false;  // opportunistic: continue in plaintext
        after_hello();
      }
      return;
    case State::Auth:
      on_auth(r);
      return;
    case State::Transaction:
      on_transaction_reply(r);
      return;
    case State::Quit:
    case State::WaitTls:
    case State::Finished:
    case State::Idle:
      return;
  }
}

void ClientSession::on_ehlo(const ServerReply& r) {
  esmtp_ = true;
  caps_ = Caps{};
  for (std::size_t i = 1; i < r.lines.size(); ++i) {
    const std::string line = upper(r.lines[i]);
    const std::size_t sp = line.find_first_of(" =");
    const std::string kw = line.substr(0, sp);
    const std::string arg = sp == std::string::npos ? std::string() : line.substr(sp + 1);
    if (kw == "PIPELINING") caps_.pipelining = true;
    else if (kw == "8BITMIME") caps_.eight_bit = true;
    else if (kw == "SMTPUTF8") caps_.smtputf8 = true;
    else if (kw == "STARTTLS") caps_.starttls = true;
    else if (kw == "CHUNKING") caps_.chunking = true;
    else if (kw == "BINARYMIME") caps_.binarymime = true;
    else if (kw == "DSN") caps_.dsn = true;
    else if (kw == "SIZE") {
      caps_.size = true;
      std::uint64_t n = 0;
      bool digits = !arg.empty() && arg.size() <= 19;
      for (char c : arg) {
        if (c < '0' || c > '9') digits = false;
        else n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      caps_.max_size = digits ? n : 0;  // 0: no fixed limit announced
    } else if (kw == "AUTH") {
      std::size_t p = 0;
      while (p <= arg.size()) {
        std::size_t q = arg.find(' ', p);
        if (q == std::string::npos) q = arg.size();
        const std::string m = arg.substr(p, q - p);
        if (m == "PLAIN") caps_.auth_plain = true;
        else if (m == "LOGIN") caps_.auth_login = true;
        else if (m == "XOAUTH2") caps_.auth_xoauth2 = true;
        p = q + 1;
      }
    }
  }
  after_hello();
}

void ClientSession::after_hello() {
  if (!tls_ && (opt_.tls == TlsMode::Opportunistic || opt_.tls == TlsMode::Required) && caps_.starttls) {
    write("STARTTLS\r\n");
    state_ = State::StartTls;
    return;
  }
  if (!tls_ && opt_.tls == TlsMode::Required) {
    fail(DeliveryClass::TempFail, 0, "4.7.0 TLS required but STARTTLS not available", true);
    return;
  }
  if (opt_.auth && !result_.authenticated) {
    start_auth();
    return;
  }
  start_transaction();
}

void ClientSession::start_auth() {
  const ClientCredentials& c = *opt_.auth;
  if (!tls_ && !opt_.allow_plaintext_auth) {
    fail(DeliveryClass::TempFail, 0, "4.7.0 refusing to send credentials without TLS", true);
    return;
  }
  bool chosen = false;
  for (AuthMechanism m : c.mechanisms) {
    if ((m == AuthMechanism::Plain && caps_.auth_plain) || (m == AuthMechanism::Login && caps_.auth_login) ||
        (m == AuthMechanism::XOAuth2 && caps_.auth_xoauth2)) {
      auth_mech_ = m;
      chosen = true;
      break;
    }
  }
  if (!chosen) {
    fail(DeliveryClass::TempFail, 0, "4.7.0 no common AUTH mechanism", true);
    return;
  }
  auth_step_ = 0;
  state_ = State::Auth;
  switch (auth_mech_) {
    case AuthMechanism::Plain: {
      std::string m;
      m.push_back('\0');
      m += c.user;
      m.push_back('\0');
      m += c.secret;
      write("AUTH PLAIN " + encode_base64(m) + "\r\n");  // RFC 4954 4 initial response
      return;
    }
    case AuthMechanism::Login:
      write("AUTH LOGIN\r\n");
      return;
    case AuthMechanism::XOAuth2:
      write("AUTH XOAUTH2 " + encode_base64("user=" + c.user + "\x01" "auth=Bearer " + c.secret + "\x01\x01") +
            "\r\n");
      return;
  }
}

void ClientSession::on_auth(const ServerReply& r) {
  const ClientCredentials& c = *opt_.auth;
  if (r.code == 235) {
    result_.authenticated = true;
    start_transaction();
    return;
  }
  if (r.code == 334 && auth_step_ < 3) {
    ++auth_step_;
    switch (auth_mech_) {
      case AuthMechanism::Plain:  // a server that ignored the initial response
        if (auth_step_ == 1) {
          std::string m;
          m.push_back('\0');
          m += c.user;
          m.push_back('\0');
          m += c.secret;
          write(encode_base64(m) + "\r\n");
          return;
        }
        break;
      case AuthMechanism::Login:
        if (auth_step_ == 1) {
          write(encode_base64(c.user) + "\r\n");
          return;
        }
        if (auth_step_ == 2) {
          write(encode_base64(c.secret) + "\r\n");
          return;
        }
        break;
      case AuthMechanism::XOAuth2:
        // The server's 334 carries a JSON error; an empty response gets the final 5xx.
        if (auth_step_ == 1) {
          write("\r\n");
          return;
        }
        break;
    }
    write("*\r\n");  // RFC 4954 4: cancel an exchange we do not understand
    return;
  }
  fail_reply(r, true);
}

bool ClientSession::use_bdat() const noexcept {
  return msg_.params.body == Body::BinaryMime || (opt_.use_bdat && caps_.chunking);
}

std::string ClientSession::mail_command() const {
  std::string c = "MAIL FROM:<" + msg_.mail_from.to_string() + ">";
  if (esmtp_) {
    if (caps_.size) c += " SIZE=" + std::to_string(msg_.content_size());
    if (msg_.params.body == Body::EightBitMime && caps_.eight_bit) c += " BODY=8BITMIME";
    if (msg_.params.body == Body::BinaryMime) c += " BODY=BINARYMIME";
    if (msg_.params.smtputf8) c += " SMTPUTF8";
    if (caps_.dsn) {
      if (msg_.params.ret == DsnRet::Full) c += " RET=FULL";
      if (msg_.params.ret == DsnRet::Hdrs) c += " RET=HDRS";
      if (!msg_.params.envid.empty()) c += " ENVID=" + encode_xtext(msg_.params.envid);
    }
  }
  return c + "\r\n";
}

std::string ClientSession::rcpt_command(const Recipient& r) const {
  std::string c = "RCPT TO:<" + r.address.to_string() + ">";
  if (esmtp_ && caps_.dsn) {
    if (r.dsn.notify != 0) {
      c += " NOTIFY=";
      if (r.dsn.notify & kNotifyNever) {
        c += "NEVER";
      } else {
        std::string v;
        if (r.dsn.notify & kNotifySuccess) v += "SUCCESS,";
        if (r.dsn.notify & kNotifyFailure) v += "FAILURE,";
        if (r.dsn.notify & kNotifyDelay) v += "DELAY,";
        v.pop_back();
        c += v;
      }
    }
    if (!r.dsn.orcpt.empty()) c += " ORCPT=" + r.dsn.orcpt_type + ";" + encode_xtext(r.dsn.orcpt);
  }
  return c + "\r\n";
}

void ClientSession::start_transaction() {
  state_ = State::Transaction;
  if (msg_.rcpt_to.empty()) {
    fail(DeliveryClass::PermFail, 0, "5.5.1 no recipients", true);
    return;
  }
  if (caps_.size && caps_.max_size != 0 && msg_.content_size() > caps_.max_size) {
    fail(DeliveryClass::PermFail, 0, "5.3.4 message size exceeds the server's fixed limit", true);
    return;
  }
  if (msg_.params.smtputf8 && !caps_.smtputf8) {
    fail(DeliveryClass::PermFail, 0, "5.6.7 server does not support SMTPUTF8", true);  // RFC 6531 3.2
    return;
  }
  if (msg_.params.body == Body::BinaryMime && !(caps_.binarymime && caps_.chunking)) {
    fail(DeliveryClass::PermFail, 0, "5.6.3 server does not support BINARYMIME", true);
    return;
  }
  if (opt_.use_pipelining && caps_.pipelining) {
    // RFC 2920 3.1: MAIL, RCPTs and DATA (or BDAT with its chunk) in one group.
    std::string w = mail_command();
    expect_.push_back(Expect::Mail);
    for (const Recipient& r : msg_.rcpt_to) {
      w += rcpt_command(r);
      expect_.push_back(Expect::Rcpt);
    }
    next_rcpt_ = msg_.rcpt_to.size();
    if (use_bdat()) {
      w += "BDAT " + std::to_string(msg_.content_size()) + " LAST\r\n";
      expect_.push_back(Expect::Bdat);
      write_content(std::move(w), false);
      return;
    }
    w += "DATA\r\n";
    expect_.push_back(Expect::Data);
    write(std::move(w));
    return;
  }
  write(mail_command());
  expect_.push_back(Expect::Mail);
}

void ClientSession::send_next_unpipelined() {
  if (next_rcpt_ < msg_.rcpt_to.size()) {
    write(rcpt_command(msg_.rcpt_to[next_rcpt_++]));
    expect_.push_back(Expect::Rcpt);
    return;
  }
  if (accepted_ == 0) return;  // concluded by the caller
  if (use_bdat()) {
    write_content("BDAT " + std::to_string(msg_.content_size()) + " LAST\r\n", false);
    expect_.push_back(Expect::Bdat);
  } else {
    write("DATA\r\n");
    expect_.push_back(Expect::Data);
  }
}

void ClientSession::send_content() {
  write_content(std::string(), true);
  expect_.push_back(Expect::Content);
}

void ClientSession::finish_transaction(const ServerReply& r) {
  // The final reply covers every recipient accepted at RCPT time.
  const DeliveryClass c = class_of(r.code);
  for (ClientRcptResult& rr : result_.rcpts)
    if (rr.status == DeliveryClass::Delivered && rr.code == -1) {
      rr.status = c;
      rr.code = r.code;
      rr.reply = r.text();
    }
}

void ClientSession::quit_and_finish() {
  bool any_delivered = false, all_perm = true;
  for (const ClientRcptResult& rr : result_.rcpts) {
    if (rr.status == DeliveryClass::Delivered) any_delivered = true;
    if (rr.status != DeliveryClass::PermFail) all_perm = false;
  }
  if (any_delivered) {
    result_.status = DeliveryClass::Delivered;
  } else if (result_.code == 0 || result_.status == DeliveryClass::Delivered) {
    result_.status = all_perm ? DeliveryClass::PermFail : DeliveryClass::TempFail;
    if (!result_.rcpts.empty() && result_.reply.empty()) {
      result_.code = result_.rcpts.front().code;
      result_.reply = result_.rcpts.front().reply;
    }
  }
  if (opt_.keep_open && !closing_ && parser_.buffered_bytes() == 0) {
    out_.emplace_back(std::in_place_type<ClientFinished>);
    state_ = State::Idle;  // the connection stays open for next_message()
    // Every write of this message is out: an idle session does not keep its content.
    msg_.bytes = std::string();
    msg_.shared_bytes.reset();
    return;
  }
  write("QUIT\r\n");
  out_.emplace_back(std::in_place_type<ClientFinished>);
  state_ = State::Finished;
}

void ClientSession::on_transaction_reply(const ServerReply& r) {
  if (expect_.empty()) {
    fail(DeliveryClass::TempFail, 0, "4.5.0 unexpected reply from server: " + std::to_string(r.code), true);
    return;
  }
  const bool pipelined = opt_.use_pipelining && caps_.pipelining;
  const Expect e = expect_.front();
  expect_.pop_front();
  if (r.code == 421) closing_ = true;  // RFC 5321 3.8: the server is closing the channel
  switch (e) {
    case Expect::Rset:
      if (!r.positive()) {
        fail_reply(r, true);  // out of sync with the server: this connection is done
        return;
      }
      if (!pipelined) start_transaction();
      return;
    case Expect::Mail:
      if (r.positive()) {
        mail_ok_ = true;
        if (!pipelined) send_next_unpipelined();
      } else {
        aborted_ = true;
        for (ClientRcptResult& rr : result_.rcpts) {
          rr.status = class_of(r.code);
          rr.code = r.code;
          rr.reply = r.text();
        }
        result_.status = class_of(r.code);
        result_.code = r.code;
        result_.reply = r.text();
      }
      break;
    case Expect::Rcpt: {
      // One Expect::Rcpt is queued per recipient, so a reply always has its slot (an
      // invariant, not peer input: extra replies find expect_ empty above).
      REFMAIL_CHECK(rcpt_replies_ < result_.rcpts.size());
      ClientRcptResult& rr = result_.rcpts[rcpt_replies_++];
      if (aborted_) break;
      if (r.positive()) {
        ++accepted_;
        rr.status = DeliveryClass::Delivered;
        rr.code = -1;  // provisional: decided by the end-of-data reply
        rr.reply.clear();
      } else {
        rr.status = class_of(r.code);
        rr.code = r.code;
        rr.reply = r.text();
      }
      if (!pipelined) send_next_unpipelined();
      break;
    }
    case Expect::Data:
      if (aborted_ || accepted_ == 0) break;  // the 5xx for DATA after no valid RCPT
      if (r.code == 354) {
        send_content();
      } else {
        finish_transaction(r);
        result_.code = r.code;
        result_.reply = r.text();
      }
      break;
    case Expect::Content:
    case Expect::Bdat:
      if (aborted_ || accepted_ == 0) break;
      finish_transaction(r);
      result_.code = r.code;
      result_.reply = r.text();
      break;
    case Expect::AuthStep:
    case Expect::Quit:
      break;
  }
  if (expect_.empty() && state_ == State::Transaction) {
    if (!aborted_ && accepted_ > 0 && e == Expect::Data && r.code == 354) return;  // content pending
    // Provisional acceptances without a final reply (cannot happen) are temporary failures.
    for (ClientRcptResult& rr : result_.rcpts)
      if (rr.code == -1) {
        rr.status = DeliveryClass::TempFail;
        rr.code = 0;
        rr.reply = "4.4.0 no final reply";
      }
    quit_and_finish();
  }
}

}  // namespace refmail::smtp
