// smtp/session.cpp — the RFC 5321 server session state machine and its command table.
// Never does I/O; every peer error becomes a reply (Postfix wording, RFC 3463 codes).
// SECURITY: see session.hpp. Input is processed strictly in order; while an outcome is
// awaited nothing more is parsed, so replies leave in command order (RFC 2920 3.1).
#include "smtp/session.hpp"

#include "smtp/check.hpp"
#include "smtp/command.hpp"
#include "smtp/errc.hpp"
#include "smtp/sasl.hpp"

#include <algorithm>
#include <string>

namespace refmail::smtp {
namespace {

// Command table flags (Postfix smtpd_cmd_table style).
enum Flags : unsigned {
  kBeforeHelo = 1u << 0,     // allowed before HELO/EHLO
  kJunk = 1u << 1,           // counts toward Limits::max_junk_commands
  kNoArgs = 1u << 2,         // takes no arguments (501 otherwise)
  kInBdat = 1u << 3,         // allowed while a BDAT transaction is open
  kPipelineLast = 1u << 4,   // RFC 2920 3.1: may only be the last command of a group
                             // (we still answer in order; STARTTLS drops what follows)
};

std::string bracket(const Address& a) { return "<" + a.to_string() + ">"; }

}  // namespace

struct Session::CommandSpec {
  Verb verb;
  std::string_view name;
  unsigned flags;
  void (Session::*handler)(std::string_view);
};

namespace {
using S = Session;
}

const Session::CommandSpec* Session::find_spec(int verb) noexcept {
  static const CommandSpec kTable[] = {
      {Verb::Helo, "HELO", kBeforeHelo | kJunk | kInBdat | kPipelineLast, &S::cmd_helo},
      {Verb::Ehlo, "EHLO", kBeforeHelo | kJunk | kInBdat | kPipelineLast, &S::cmd_ehlo},
      {Verb::Mail, "MAIL", 0, &S::cmd_mail},
      {Verb::Rcpt, "RCPT", 0, &S::cmd_rcpt},
      {Verb::Data, "DATA", kNoArgs | kPipelineLast, &S::cmd_data},
      // BDAT checks its own state: its chunk must be drained even when it is refused.
      {Verb::Bdat, "BDAT", kBeforeHelo | kInBdat, &S::cmd_bdat},
      {Verb::Rset, "RSET", kBeforeHelo | kJunk | kNoArgs | kInBdat, &S::cmd_rset},
      {Verb::Noop, "NOOP", kBeforeHelo | kJunk | kInBdat, &S::cmd_noop},
      {Verb::Quit, "QUIT", kBeforeHelo | kInBdat | kPipelineLast, &S::cmd_quit},
      {Verb::Vrfy, "VRFY", kBeforeHelo | kJunk | kPipelineLast, &S::cmd_vrfy},
      {Verb::Expn, "EXPN", kBeforeHelo | kJunk | kPipelineLast, &S::cmd_expn},
      {Verb::Help, "HELP", kBeforeHelo | kJunk, &S::cmd_help},
      {Verb::StartTls, "STARTTLS", kBeforeHelo | kNoArgs | kPipelineLast, &S::cmd_starttls},
      {Verb::Auth, "AUTH", kPipelineLast, &S::cmd_auth},
  };
  for (const CommandSpec& c : kTable)
    if (static_cast<int>(c.verb) == verb) return &c;
  return nullptr;
}

const char* to_string(SessionState s) noexcept {
  switch (s) {
    case SessionState::Init: return "init";
    case SessionState::Connected: return "connected";
    case SessionState::Ready: return "ready";
    case SessionState::Mail: return "mail";
    case SessionState::Rcpt: return "rcpt";
    case SessionState::Data: return "data";
    case SessionState::BdatChunk: return "bdat-chunk";
    case SessionState::AuthContinue: return "auth-continue";
    case SessionState::WaitSender: return "wait-sender";
    case SessionState::WaitRecipient: return "wait-recipient";
    case SessionState::WaitAuth: return "wait-auth";
    case SessionState::WaitDelivery: return "wait-delivery";
    case SessionState::WaitTls: return "wait-tls";
    case SessionState::Closed: return "closed";
  }
  return "?";
}

Session::Session(Options options, Limits limits) : opt_(std::move(options)), lim_(limits) {
  REFMAIL_CHECK(lim_.max_command_line >= 512);  // RFC 5321 4.5.3.1.4 minimum
  REFMAIL_CHECK(lim_.max_auth_line >= lim_.max_command_line);
  REFMAIL_CHECK(lim_.max_errors >= 1 && lim_.max_auth_attempts >= 1);
  REFMAIL_CHECK(opt_.hostname.find_first_of("\r\n") == std::string::npos);
}

// ---------------------------------------------------------------- plumbing

void Session::enter_state(SessionState next) {
  if (next == state_) return;
  if (opt_.on_transition) opt_.on_transition(state_, next);
  state_ = next;
}

bool Session::wants_input() const noexcept {
  switch (state_) {
    case SessionState::Connected:
    case SessionState::Ready:
    case SessionState::Mail:
    case SessionState::Rcpt:
    case SessionState::Data:
    case SessionState::BdatChunk:
    case SessionState::AuthContinue:
      return true;
    default:
      return false;
  }
}

void Session::reply(int code, std::string_view text) {
  REFMAIL_CHECK(code >= 200 && code <= 599);
  std::string wire = std::to_string(code);
  wire.push_back(' ');
  wire.append(text);
  wire.append("\r\n");
  out_.push_back(Reply{code, std::move(wire)});
}

void Session::reply_lines(int code, const std::vector<std::string>& lines) {
  REFMAIL_CHECK(!lines.empty());
  std::string wire;
  const std::string c = std::to_string(code);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    wire += c;
    wire.push_back(i + 1 == lines.size() ? ' ' : '-');
    wire += lines[i];
    wire += "\r\n";
  }
  out_.push_back(Reply{code, std::move(wire)});
}

void Session::fail(int code, std::string_view text) {
  reply(code, text);
  ++errors_;
  if (errors_ >= lim_.max_errors) close_with(421, "4.7.0 " + opt_.hostname + " Error: too many errors");
}

void Session::close_with(int code, std::string_view text) {
  if (state_ == SessionState::Closed) return;
  reply(code, text);
  out_.push_back(Close{});
  enter_state(SessionState::Closed);
  drop_input_ = true;
}

std::vector<Action> Session::start() {
  REFMAIL_CHECK(state_ == SessionState::Init);
  out_.clear();
  tls_active_ = opt_.tls_active;
  reply(220, opt_.hostname + " ESMTP refmail");
  enter_state(SessionState::Connected);
  return take_out();
}

std::vector<Action> Session::feed(std::span<const char> bytes, TimePoint now) {
  REFMAIL_CHECK(state_ != SessionState::Init);
  last_activity_ = now;
  out_.clear();
  // After Close nothing matters; while StartTls is pending the bytes belong to the TLS
  // handshake, never to the plaintext command stream (RFC 3207 / CVE-2011-0411).
  if (state_ == SessionState::Closed || state_ == SessionState::WaitTls) return {};
  if (in_.empty() && wants_input()) {
    // Fast path: nothing buffered, parse straight from the caller's bytes and keep only
    // an unfinished line (or nothing, in DATA/BDAT).
    const std::string_view v(bytes.data(), bytes.size());
    std::size_t n = process(v);
    if (drop_input_) {
      drop_input_ = false;
      line_scanned_ = 0;
      n = v.size();
    }
    in_.assign(v.substr(n));
    pos_ = 0;
    return take_out();
  }
  in_.append(bytes.data(), bytes.size());
  if (!wants_input()) {
    if (buffered_bytes() > lim_.max_input_buffer) {
      close_with(421, "4.7.0 " + opt_.hostname + " Error: too much pipelined input");
      in_.clear();
      pos_ = 0;
    }
    return take_out();
  }
  run();
  return take_out();
}

void Session::run() {
  const std::size_t n = process(std::string_view(in_).substr(pos_));
  pos_ += n;
  if (drop_input_) {
    drop_input_ = false;
    pos_ = in_.size();
    line_scanned_ = 0;
  }
  if (pos_ == in_.size()) {
    in_.clear();
    pos_ = 0;
  } else if (pos_ >= 4096 && pos_ * 2 >= in_.size()) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
}

std::size_t Session::process(std::string_view v) {
  std::size_t i = 0;
  while (i < v.size() && !drop_input_) {
    switch (state_) {
      case SessionState::Data: {
        const auto r = data_rx_.feed(v.substr(i), sink_);
        i += r.consumed;
        if (r.done) finish_data();
        break;
      }
      case SessionState::BdatChunk: {
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(bdat_remaining_, v.size() - i));
        // RFC 3030 2: exactly chunk-size octets, no unstuffing, whatever the verdict.
        if (bdat_error_code_ == 0) sink_.append(v.substr(i, take));
        i += take;
        bdat_remaining_ -= take;
        if (bdat_remaining_ == 0) finish_bdat_chunk();
        break;
      }
      case SessionState::Connected:
      case SessionState::Ready:
      case SessionState::Mail:
      case SessionState::Rcpt:
      case SessionState::AuthContinue: {
        const std::size_t hard = lim_.max_auth_line;
        const std::size_t lf = v.find('\n', i + line_scanned_);
        if (lf == std::string_view::npos) {
          if (v.size() - i > hard) {
            // An over-long line: drop it as it comes, answer at its LF (never mid-line).
            discarding_line_ = true;
            line_scanned_ = 0;
            return v.size();
          }
          line_scanned_ = v.size() - i;
          return i;
        }
        std::string_view line = v.substr(i, lf - i);
        i = lf + 1;
        line_scanned_ = 0;
        const bool too_long = discarding_line_ || line.size() + 1 > hard;
        discarding_line_ = false;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        handle_line(line, too_long);
        break;
      }
      default:
        return i;  // awaiting an outcome, or closed
    }
  }
  return i;
}

// ---------------------------------------------------------------- commands

void Session::handle_line(std::string_view line, bool too_long) {
  if (too_long) {
    if (state_ == SessionState::AuthContinue) {
      auth_step_ = AuthStep::None;
      enter_state(SessionState::Ready);
    }
    fail(500, "5.5.2 Error: line too long");  // RFC 5321 4.5.3.1.4
    return;
  }
  if (state_ == SessionState::AuthContinue) {
    handle_auth_response(line);
    return;
  }
  // RFC 5321 4.5.3.1.4: 512 octets minimum, CRLF included; RFC 4954 4 lets AUTH be longer.
  if (line.size() + 2 > lim_.max_command_line && split_command(line).verb != Verb::Auth) {
    fail(500, "5.5.2 Error: line too long");
    return;
  }
  handle_command(line);
}

void Session::handle_command(std::string_view line) {
  if (line.find('\0') != std::string_view::npos || line.find('\r') != std::string_view::npos) {
    fail(500, "5.5.2 Error: bad syntax");
    return;
  }
  const CommandLine cmd = split_command(line);
  if (cmd.verb == Verb::Unknown) {
    fail(500, "5.5.2 Error: command not recognized");
    return;
  }
  if (cmd.verb == Verb::Forbidden) {
    // Postfix smtpd_forbidden_commands: an HTTP client or proxy abuse; no second chance.
    close_with(221, "2.7.0 Error: I can break rules, too. Goodbye.");
    return;
  }
  const CommandSpec* spec = find_spec(static_cast<int>(cmd.verb));
  REFMAIL_CHECK(spec != nullptr);
  if (spec->flags & kJunk) {
    if (++junk_ > lim_.max_junk_commands) {
      close_with(421, "4.7.0 " + opt_.hostname + " Error: too many commands");
      return;
    }
  }
  if (!(spec->flags & kBeforeHelo) && state_ == SessionState::Connected) {
    fail(503, "5.5.1 Error: send HELO/EHLO first");
    return;
  }
  if (bdat_active_ && !(spec->flags & kInBdat)) {
    // RFC 3030 2: only BDAT (or RSET/QUIT/NOOP) may follow a non-LAST chunk.
    fail(503, "5.5.1 Error: BDAT transaction in progress");
    return;
  }
  if ((spec->flags & kNoArgs) && !cmd.args.empty()) {
    fail(501, "5.5.4 Syntax: " + std::string(spec->name));
    return;
  }
  (this->*spec->handler)(cmd.args);
}

bool Session::in_transaction() const noexcept { return has_mail_; }

bool Session::auth_offered() const noexcept {
  return opt_.auth_enabled && (tls_active_ || opt_.auth_without_tls);
}

void Session::reset_transaction() {
  has_mail_ = false;
  env_ = Envelope{};
  pending_mail_params_.reset();
  pending_mail_from_.reset();
  pending_rcpt_.reset();
  sink_.abandon();
  sink_ = MessageSink{};
  data_rx_.reset();
  bdat_active_ = false;
  bdat_remaining_ = 0;
  bdat_last_ = false;
  bdat_error_code_ = 0;
  bdat_error_text_.clear();
}

void Session::cmd_helo(std::string_view args) { helo_common(args, false); }
void Session::cmd_ehlo(std::string_view args) { helo_common(args, true); }

void Session::helo_common(std::string_view args, bool esmtp) {
  if (args.empty() || args.size() > 255) {
    fail(501, esmtp ? "5.5.4 Syntax: EHLO hostname" : "5.5.4 Syntax: HELO hostname");
    return;
  }
  for (unsigned char c : args)
    if (c < 32 || c == 127) {
      fail(501, "5.5.2 Error: invalid hostname");
      return;
    }
  // RFC 5321 4.1.4: EHLO/HELO also resets any transaction, like RSET.
  reset_transaction();
  ehlo_domain_.assign(args);
  esmtp_ = esmtp;
  enter_state(SessionState::Ready);
  if (!esmtp) {
    reply(250, opt_.hostname);
    return;
  }
  std::vector<std::string> lines;
  lines.push_back(opt_.hostname);
  lines.emplace_back("PIPELINING");
  lines.push_back("SIZE " + std::to_string(lim_.max_message_size));
  lines.emplace_back("8BITMIME");
  lines.emplace_back("SMTPUTF8");
  lines.emplace_back("ENHANCEDSTATUSCODES");
  if (opt_.tls_available && !tls_active_) lines.emplace_back("STARTTLS");  // RFC 3207 4.2
  if (auth_offered()) lines.emplace_back("AUTH PLAIN LOGIN");
  lines.emplace_back("CHUNKING");
  lines.emplace_back("BINARYMIME");
  lines.emplace_back("DSN");
  reply_lines(250, lines);
}

void Session::cmd_mail(std::string_view args) {
  if (has_mail_) {
    fail(503, "5.5.1 Error: nested MAIL command");
    return;
  }
  if (opt_.require_tls && !tls_active_) {
    fail(530, "5.7.0 Must issue a STARTTLS command first");
    return;
  }
  if (opt_.require_auth && !auth_user_) {
    fail(530, "5.7.0 Authentication required");  // RFC 4954 6
    return;
  }
  auto r = parse_mail_from(args);
  if (!r) {
    const auto e = r.error();
    if (e == errc::syntax_error) fail(501, "5.5.4 Syntax: MAIL FROM:<address>");
    else if (e == errc::utf8_not_permitted) fail(553, "5.6.7 Error: non-ASCII address needs SMTPUTF8");
    else if (e == errc::unknown_parameter) fail(555, "5.5.4 Error: unsupported MAIL parameter");
    else if (e == errc::bad_parameter) fail(501, "5.5.4 Error: bad MAIL parameter syntax");
    else fail(501, "5.1.7 Bad sender address syntax");
    return;
  }
  // RFC 5321 4.1.1.11: parameters only after EHLO.
  if (!esmtp_ && r->params != MailParams{}) {
    fail(555, "5.5.4 Error: MAIL parameters need EHLO");
    return;
  }
  // RFC 1870 6.1: a declared size over our limit is refused at MAIL.
  if (r->params.size && *r->params.size > lim_.max_message_size) {
    fail(552, "5.3.4 Message size exceeds fixed limit");
    return;
  }
  if (auth_user_ && opt_.check_sender) {
    out_.push_back(CheckSender{r->reverse_path, *auth_user_});
    pending_mail_from_ = std::move(r->reverse_path);
    pending_mail_params_ = std::move(r->params);
    enter_state(SessionState::WaitSender);
    return;
  }
  accept_mail(std::move(r->reverse_path), std::move(r->params));
}

void Session::accept_mail(Address from, MailParams params) {
  reset_transaction();
  has_mail_ = true;
  env_.mail_from = std::move(from);
  env_.params = std::move(params);
  env_.ehlo_domain = ehlo_domain_;
  env_.esmtp = esmtp_;
  env_.tls = tls_active_;
  env_.auth_user = auth_user_;
  enter_state(SessionState::Mail);
  reply(250, "2.1.0 Ok");
}

std::vector<Action> Session::sender_result(bool allowed) {
  REFMAIL_CHECK(state_ == SessionState::WaitSender && pending_mail_from_ && pending_mail_params_);
  out_.clear();
  Address from = std::move(*pending_mail_from_);
  MailParams params = std::move(*pending_mail_params_);
  pending_mail_from_.reset();
  pending_mail_params_.reset();
  if (allowed) {
    accept_mail(std::move(from), std::move(params));
  } else {
    enter_state(SessionState::Ready);
    // The user name is not echoed: replies carry only validated text.
    fail(553, "5.7.1 " + bracket(from) + ": Sender address rejected: not owned by user");
  }
  run();
  return take_out();
}

void Session::cmd_rcpt(std::string_view args) {
  if (!has_mail_) {
    fail(503, "5.5.1 Error: need MAIL command");
    return;
  }
  auto r = parse_rcpt_to(args, env_.params.smtputf8);
  if (!r) {
    const auto e = r.error();
    if (e == errc::syntax_error) fail(501, "5.5.4 Syntax: RCPT TO:<address>");
    else if (e == errc::utf8_not_permitted) fail(553, "5.6.7 Error: non-ASCII address needs SMTPUTF8");
    else if (e == errc::unknown_parameter) fail(555, "5.5.4 Error: unsupported RCPT parameter");
    else if (e == errc::bad_parameter) fail(501, "5.5.4 Error: bad RCPT parameter syntax");
    else fail(501, "5.1.3 Bad recipient address syntax");
    return;
  }
  if (!esmtp_ && r->params != RcptParams{}) {
    fail(555, "5.5.4 Error: RCPT parameters need EHLO");
    return;
  }
  for (const Recipient& have : env_.rcpt_to)
    if (have.address == r->forward_path) {
      reply(250, "2.1.5 Ok");  // a duplicate: accepted once
      return;
    }
  if (env_.rcpt_to.size() >= lim_.max_recipients) {
    // RFC 5321 4.5.3.1.10: 452, and the client sends the rest later. Not counted as an
    // error, so a legitimate large pipelined list does not get the session closed.
    reply(452, "4.5.3 Error: too many recipients");
    return;
  }
  out_.push_back(CheckRecipient{r->forward_path, r->params, auth_user_, env_.rcpt_to.size(), env_.params.size});
  pending_rcpt_ = Recipient{std::move(r->forward_path), std::move(r->params)};
  enter_state(SessionState::WaitRecipient);
}

std::vector<Action> Session::recipient_result(RcptVerdict verdict, std::any route) {
  REFMAIL_CHECK(state_ == SessionState::WaitRecipient && pending_rcpt_);
  out_.clear();
  Recipient rcpt = std::move(*pending_rcpt_);
  pending_rcpt_.reset();
  const std::string who = bracket(rcpt.address);
  if (verdict == RcptVerdict::Accept) {
    rcpt.route = std::move(route);
    env_.rcpt_to.push_back(std::move(rcpt));
  }
  enter_state(env_.rcpt_to.empty() ? SessionState::Mail : SessionState::Rcpt);
  switch (verdict) {
    case RcptVerdict::Accept:
      reply(250, "2.1.5 Ok");
      break;
    case RcptVerdict::UnknownUser:
      fail(550, "5.1.1 " + who + ": Recipient address rejected: User unknown");
      break;
    case RcptVerdict::RelayDenied:
      fail(554, "5.7.1 " + who + ": Relay access denied");
      break;
    case RcptVerdict::MailboxFull:
      fail(552, "5.2.2 " + who + ": Mailbox full");
      break;
    case RcptVerdict::TooManyRecipients:
      reply(452, "4.5.3 Error: too many recipients");
      break;
    case RcptVerdict::TempFail:
      fail(451, "4.3.0 " + who + ": Temporary lookup failure");
      break;
  }
  run();
  return take_out();
}

void Session::cmd_data(std::string_view) {
  if (!has_mail_) {
    fail(503, "5.5.1 Error: need MAIL command");
    return;
  }
  if (env_.rcpt_to.empty()) {
    fail(554, "5.5.1 Error: no valid recipients");  // RFC 2920 3.1
    return;
  }
  if (env_.params.body == Body::BinaryMime) {
    fail(503, "5.5.1 Error: BODY=BINARYMIME requires BDAT");  // RFC 3030 3
    return;
  }
  sink_.abandon();
  sink_ = MessageSink{lim_.max_message_size, consumer_};
  if (env_.params.size) sink_.reserve(*env_.params.size);
  sink_.start(env_);
  data_rx_.reset();
  enter_state(SessionState::Data);
  reply(354, "End data with <CR><LF>.<CR><LF>");
}

bool Session::reject_content(bool binary) {
  int code = 0;
  const char* text = nullptr;
  if (sink_.over_size()) {
    code = 552, text = "5.3.4 Error: message file too big";  // RFC 5321 4.5.3.1.10
  } else if (sink_.was_shed()) {
    code = 452, text = "4.3.1 Error: insufficient system resources, try again later";  // RFC 3463
  } else if (!binary && sink_.nul_seen()) {
    code = 554, text = "5.6.0 Error: message contains NUL characters";
  } else if (!binary && sink_.longest_line() > lim_.max_data_line) {
    code = 552, text = "5.3.4 Error: message line too long";
  } else if (opt_.bare_lf == BareLfPolicy::Reject && env_.bare_lf_seen) {
    code = 550, text = "5.5.2 Error: bare <LF> received";
  }
  if (code == 0) return false;
  reset_transaction();
  enter_state(SessionState::Ready);
  fail(code, text);
  return true;
}

void Session::finish_data() {
  env_.bare_lf_seen = data_rx_.bare_lf_seen();
  enter_state(SessionState::Rcpt);
  if (reject_content(false)) return;
  request_delivery();
}

void Session::request_delivery() {
  env_.eight_bit_seen = sink_.eight_bit_seen();
  out_.push_back(Deliver{std::move(env_), sink_.take()});
  env_ = Envelope{};
  enter_state(SessionState::WaitDelivery);
}

std::vector<Action> Session::delivery_result(DeliveryStatus status, std::string_view queue_id) {
  REFMAIL_CHECK(state_ == SessionState::WaitDelivery);
  REFMAIL_CHECK(queue_id.find_first_of("\r\n") == std::string_view::npos);
  out_.clear();
  reset_transaction();
  enter_state(SessionState::Ready);
  switch (status) {
    case DeliveryStatus::Ok:
      junk_ = 0;
      reply(250, "2.0.0 Ok: queued as " + std::string(queue_id));
      break;
    case DeliveryStatus::TempFail:
      fail(451, "4.3.0 Error: queue file write error");
      break;
    case DeliveryStatus::QuotaExceeded:
      fail(552, "5.2.2 Error: mailbox full");
      break;
    case DeliveryStatus::Rejected:
      fail(554, "5.7.1 Error: message rejected");
      break;
    case DeliveryStatus::SenderRejected:
      fail(550, "5.7.1 Error: From/Sender header address not owned by the authenticated user");
      break;
    case DeliveryStatus::DmarcRejected:
      fail(550, "5.7.1 Error: rejected by the DMARC policy of the From domain");
      break;
    case DeliveryStatus::SpamRejected:
      fail(550, "5.7.1 Error: message rejected as spam");
      break;
    case DeliveryStatus::SpamDeferred:
      fail(451, "4.7.1 Error: content check deferred, try again later");
      break;
  }
  run();
  return take_out();
}

void Session::cmd_bdat(std::string_view args) {
  const auto a = parse_bdat(args);
  if (!a) {
    // Without a size the chunk cannot be drained; what follows is read as commands.
    fail(501, "5.5.4 Syntax: BDAT size [LAST]");
    return;
  }
  bdat_remaining_ = a->size;
  bdat_last_ = a->last;
  bdat_error_code_ = 0;
  bdat_error_text_.clear();
  // RFC 3030 2: a refused BDAT still has its chunk-size octets consumed, then the reply.
  if (state_ == SessionState::Connected || !esmtp_) {
    bdat_error_code_ = 503, bdat_error_text_ = "5.5.1 Error: send EHLO first";
  } else if (!has_mail_) {
    bdat_error_code_ = 503, bdat_error_text_ = "5.5.1 Error: need MAIL command";
  } else if (env_.rcpt_to.empty()) {
    bdat_error_code_ = 554, bdat_error_text_ = "5.5.1 Error: no valid recipients";
  } else if (!bdat_active_) {
    bdat_active_ = true;
    env_.chunking = true;
    sink_.abandon();
    sink_ = MessageSink{lim_.max_message_size, consumer_};
    if (env_.params.size) sink_.reserve(*env_.params.size);
    sink_.start(env_);
  }
  bdat_return_state_ = state_;
  enter_state(SessionState::BdatChunk);
  if (bdat_remaining_ == 0) finish_bdat_chunk();
}

void Session::finish_bdat_chunk() {
  enter_state(bdat_return_state_);
  if (bdat_error_code_ != 0) {
    const int code = bdat_error_code_;
    const std::string text = std::move(bdat_error_text_);
    bdat_error_code_ = 0;
    bdat_error_text_.clear();
    fail(code, text);
    return;
  }
  if (!bdat_last_) {
    if (sink_.over_size()) {
      // RFC 3030 2: a 5xx to BDAT ends the transaction; later chunks get 503.
      reset_transaction();
      enter_state(SessionState::Ready);
      fail(552, "5.3.4 Error: message file too big");
      return;
    }
    reply(250, "2.0.0 Ok: " + std::to_string(sink_.size_bytes()) + " octets received");
    return;
  }
  if (reject_content(env_.params.body == Body::BinaryMime)) return;
  request_delivery();
}

void Session::cmd_rset(std::string_view) {
  reset_transaction();
  if (state_ != SessionState::Connected) enter_state(SessionState::Ready);
  reply(250, "2.0.0 Ok");
}

void Session::cmd_noop(std::string_view) { reply(250, "2.0.0 Ok"); }

void Session::cmd_quit(std::string_view) { close_with(221, "2.0.0 Bye"); }

void Session::cmd_vrfy(std::string_view args) {
  if (args.empty()) {
    fail(501, "5.5.4 Syntax: VRFY address");
    return;
  }
  // RFC 5321 3.5.3: 252 rather than disclosing which users exist.
  reply(252, "2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
}

void Session::cmd_expn(std::string_view) { fail(502, "5.5.1 Error: command not implemented"); }

void Session::cmd_help(std::string_view) {
  reply(214, "2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
}

void Session::cmd_starttls(std::string_view) {
  if (tls_active_) {
    fail(554, "5.5.1 Error: TLS already active");
    return;
  }
  if (!opt_.tls_available) {
    fail(502, "5.5.1 Error: command not implemented");
    return;
  }
  if (in_transaction()) {
    fail(503, "5.5.1 Error: MAIL transaction in progress");
    return;
  }
  reply(220, "2.0.0 Ready to start TLS");
  out_.push_back(StartTls{});
  enter_state(SessionState::WaitTls);
  drop_input_ = true;  // plaintext pipelined after STARTTLS is never executed
}

std::vector<Action> Session::tls_started() {
  REFMAIL_CHECK(state_ == SessionState::WaitTls);
  out_.clear();
  // RFC 3207 4.2: discard all knowledge obtained from the client; a new EHLO is needed.
  tls_active_ = true;
  ehlo_domain_.clear();
  esmtp_ = false;
  auth_user_.reset();
  auth_step_ = AuthStep::None;
  reset_transaction();
  in_.clear();
  pos_ = 0;
  line_scanned_ = 0;
  discarding_line_ = false;
  enter_state(SessionState::Connected);
  return take_out();
}

// ---------------------------------------------------------------- AUTH (RFC 4954)

void Session::cmd_auth(std::string_view args) {
  if (!opt_.auth_enabled) {
    fail(503, "5.5.1 Error: authentication not enabled");
    return;
  }
  if (!esmtp_) {
    fail(503, "5.5.1 Error: send EHLO first");
    return;
  }
  if (!auth_offered()) {
    fail(538, "5.7.11 Encryption required for requested authentication mechanism");
    return;
  }
  if (auth_user_) {
    fail(503, "5.5.1 Error: already authenticated");  // RFC 4954 4
    return;
  }
  if (in_transaction()) {
    fail(503, "5.5.1 Error: MAIL transaction in progress");  // RFC 4954 4
    return;
  }
  const auto a = parse_auth(args);
  if (!a) {
    fail(501, "5.5.4 Syntax: AUTH mechanism [initial-response]");
    return;
  }
  if (iequals(a->mechanism, "PLAIN")) {
    start_auth_plain(a->initial_response);
    return;
  }
  if (iequals(a->mechanism, "LOGIN")) {
    if (!a->initial_response) {
      auth_step_ = AuthStep::LoginUser;
      enter_state(SessionState::AuthContinue);
      reply(334, "VXNlcm5hbWU6");  // "Username:"
      return;
    }
    auto user = *a->initial_response == "=" ? boost::system::result<std::string>(std::string())
                                            : decode_base64(*a->initial_response);
    if (!user) {
      fail(501, "5.5.2 Error: invalid base64 data");
      return;
    }
    auth_login_user_ = std::move(*user);
    auth_step_ = AuthStep::LoginPassword;
    enter_state(SessionState::AuthContinue);
    reply(334, "UGFzc3dvcmQ6");  // "Password:"
    return;
  }
  fail(504, "5.5.4 Error: unsupported authentication mechanism");
}

void Session::start_auth_plain(std::optional<std::string_view> response) {
  if (!response) {
    auth_step_ = AuthStep::PlainResponse;
    enter_state(SessionState::AuthContinue);
    reply(334, "");  // RFC 4954 4: empty challenge
    return;
  }
  // RFC 4954 4: "=" is an empty initial response.
  auto decoded = *response == "=" ? boost::system::result<std::string>(std::string())
                                  : decode_base64(*response);
  if (!decoded) {
    fail(501, "5.5.2 Error: invalid base64 data");
    return;
  }
  finish_auth_plain(*decoded);
}

void Session::finish_auth_plain(std::string_view decoded) {
  auto creds = parse_sasl_plain(decoded);
  if (!creds) {
    enter_state(SessionState::Ready);
    fail(501, "5.5.2 Error: malformed authentication response");
    return;
  }
  auth_pending_user_ = creds->authcid;
  out_.push_back(Authenticate{"PLAIN", std::move(creds->authzid), std::move(creds->authcid),
                              std::move(creds->password)});
  enter_state(SessionState::WaitAuth);
}

void Session::handle_auth_response(std::string_view line) {
  const AuthStep step = std::exchange(auth_step_, AuthStep::None);
  if (line == "*") {
    enter_state(SessionState::Ready);
    fail(501, "5.7.0 Error: authentication aborted");  // RFC 4954 4
    return;
  }
  auto decoded = decode_base64(line);
  if (!decoded) {
    enter_state(SessionState::Ready);
    fail(501, "5.5.2 Error: invalid base64 data");
    return;
  }
  switch (step) {
    case AuthStep::PlainResponse:
      finish_auth_plain(*decoded);
      return;
    case AuthStep::LoginUser:
      auth_login_user_ = std::move(*decoded);
      auth_step_ = AuthStep::LoginPassword;
      reply(334, "UGFzc3dvcmQ6");
      return;
    case AuthStep::LoginPassword:
      if (auth_login_user_.empty() || decoded->empty() || !is_sasl_name(auth_login_user_) ||
          decoded->find('\0') != std::string::npos) {
        enter_state(SessionState::Ready);
        fail(501, "5.5.2 Error: malformed authentication response");
        return;
      }
      auth_pending_user_ = auth_login_user_;
      out_.push_back(Authenticate{"LOGIN", "", std::move(auth_login_user_), std::move(*decoded)});
      auth_login_user_.clear();
      enter_state(SessionState::WaitAuth);
      return;
    case AuthStep::None:
      break;
  }
  REFMAIL_CHECK(false);
}

std::vector<Action> Session::auth_result(bool ok, std::string_view identity) {
  REFMAIL_CHECK(state_ == SessionState::WaitAuth);
  out_.clear();
  enter_state(SessionState::Ready);
  if (ok) {
    auth_user_ = identity.empty() ? auth_pending_user_ : std::string(identity);
    reply(235, "2.7.0 Authentication successful");
  } else if (++auth_failures_ >= lim_.max_auth_attempts) {
    reply(535, "5.7.8 Error: authentication failed");
    close_with(421, "4.7.0 " + opt_.hostname + " Error: too many failed authentications");
  } else {
    fail(535, "5.7.8 Error: authentication failed");
  }
  auth_pending_user_.clear();
  run();
  return take_out();
}

std::vector<Action> Session::auth_temp_failure() {
  REFMAIL_CHECK(state_ == SessionState::WaitAuth);
  out_.clear();
  enter_state(SessionState::Ready);
  reply(454, "4.7.0 Temporary authentication failure");
  auth_pending_user_.clear();
  run();
  return take_out();
}

}  // namespace refmail::smtp
