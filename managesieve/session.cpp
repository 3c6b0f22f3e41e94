// managesieve/session.cpp — the session's framing and states: lines and literals in
// (RFC 5804 4: quoted strings, "{n}" / "{n+}" literals), one command at a time,
// outcomes back, responses out. The command handlers are in session_commands.cpp.
// SECURITY: a line over Limits::max_line_bytes ends the session (BYE); a literal is
// held only when it fits the limit of its position (a script, or any other string);
// a refused one is skipped byte by byte, and the command answered NO at its end.
#include "managesieve/session.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <utility>

namespace refmail::managesieve {

namespace {

std::string upper(std::string_view s) {
  std::string u(s);
  for (auto& c : u) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return u;
}

bool atom_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f && c != '"' && c != '{' && c != '}' && c != '(' && c != ')';
}

// A literal announcement "{digits}" or "{digits+}" ending `f`, preceded by the start or
// a space: its size, and `f` shortened to what comes before it. nullopt when absent.
std::optional<std::uint64_t> literal_spec(std::string_view& f) {
  if (f.empty() || f.back() != '}') return std::nullopt;
  const auto open = f.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  if (open > 0 && f[open - 1] != ' ') return std::nullopt;
  auto digits = f.substr(open + 1, f.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  f = f.substr(0, open);
  return n;
}

}  // namespace

const char* to_string(SessionState s) noexcept {
  switch (s) {
    case SessionState::Init: return "init";
    case SessionState::NotAuthenticated: return "not_authenticated";
    case SessionState::Authenticated: return "authenticated";
    case SessionState::AuthContinue: return "auth_continue";
    case SessionState::WaitAuth: return "wait_auth";
    case SessionState::WaitTls: return "wait_tls";
    case SessionState::WaitScript: return "wait_script";
    case SessionState::Logout: return "logout";
  }
  return "?";
}

const char* to_string(ScriptOp op) noexcept {
  switch (op) {
    case ScriptOp::List: return "list";
    case ScriptOp::Get: return "get";
    case ScriptOp::Put: return "put";
    case ScriptOp::Delete: return "delete";
    case ScriptOp::Rename: return "rename";
    case ScriptOp::Activate: return "activate";
    case ScriptOp::HaveSpace: return "havespace";
  }
  return "?";
}

std::string quoted_or_literal(std::string_view s) {
  const bool plain = s.size() <= 1000 && s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
  if (!plain) return "{" + std::to_string(s.size()) + "}\r\n" + std::string(s);
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q.push_back('\\');
    q.push_back(c);
  }
  q.push_back('"');
  return q;
}

Session::Session(Options options, Limits limits) : opt_(std::move(options)), lim_(limits) {
  if (lim_.max_errors == 0 || lim_.max_auth_failures == 0) std::abort();
  tls_active_ = opt_.tls_active;
}

void Session::enter_state(SessionState next) {
  if (next == state_) return;
  const auto from = state_;
  state_ = next;
  if (on_transition) on_transition(from, next);
}

std::string Session::capabilities() const {
  std::string c = "\"IMPLEMENTATION\" " + quoted_or_literal(opt_.implementation) + "\r\n";
  // Mirrors IMAP's LOGINDISABLED: no mechanism is offered where it would be refused.
  c += plaintext_allowed() ? "\"SASL\" \"PLAIN LOGIN\"\r\n" : "\"SASL\" \"\"\r\n";
  c += "\"SIEVE\" " + quoted_or_literal(opt_.sieve_extensions) + "\r\n";
  if (opt_.tls_available && !tls_active_ && !authenticated()) c += "\"STARTTLS\"\r\n";
  if (opt_.max_redirects > 0) c += "\"MAXREDIRECTS\" \"" + std::to_string(opt_.max_redirects) + "\"\r\n";
  if (authenticated()) c += "\"OWNER\" " + quoted_or_literal(*user_) + "\r\n";
  c += "\"VERSION\" \"1.0\"\r\n\"UNAUTHENTICATE\"\r\n";
  return c;
}

std::vector<Action> Session::start() {
  if (state_ != SessionState::Init) std::abort();
  enter_state(SessionState::NotAuthenticated);
  write(capabilities());
  ok("", opt_.implementation + " ManageSieve ready");
  return std::exchange(out_, {});
}

bool Session::wants_input() const noexcept {
  switch (state_) {
    case SessionState::NotAuthenticated:
    case SessionState::Authenticated:
    case SessionState::AuthContinue: return true;
    default: return false;
  }
}

Deadline Session::deadline() const noexcept {
  if (!wants_input()) return Deadline::None;
  if (mode_ == Mode::Literal || !line_.empty() || !args_.empty() || pos_ < in_.size()) return Deadline::InCommand;
  return authenticated() ? Deadline::Authenticated : Deadline::Unauthenticated;
}

std::size_t Session::held_bytes() const noexcept { return in_.size() - pos_ + line_.size() + held_; }

std::vector<Action> Session::feed(std::string_view bytes) {
  if (state_ == SessionState::Logout || state_ == SessionState::WaitTls || state_ == SessionState::Init) {
    return {};  // after Close, or pipelined behind STARTTLS (CVE-2011-0411): dropped
  }
  if (!wants_input() && in_.size() - pos_ + bytes.size() > lim_.max_input_buffer) {
    bye("", "Too much input while busy");
    return std::exchange(out_, {});
  }
  if (pos_ > 0 && pos_ == in_.size()) {
    in_.clear();
    pos_ = 0;
  }
  in_.append(bytes);
  run();
  return std::exchange(out_, {});
}

void Session::run() {
  while (pos_ < in_.size() && wants_input()) {
    const std::string_view avail = std::string_view(in_).substr(pos_);
    if (mode_ == Mode::Literal) {
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(literal_left_, avail.size()));
      if (literal_keep_) {
        args_.back().value.append(avail.substr(0, take));
        held_ += take;
      }
      literal_left_ -= take;
      pos_ += take;
      if (literal_left_ == 0) mode_ = Mode::Line;
      continue;
    }
    const auto nl = avail.find('\n');
    if (nl == std::string_view::npos) {
      line_.append(avail);
      pos_ = in_.size();
      if (line_.size() > lim_.max_line_bytes) bye("", "Line too long");
      break;
    }
    if (line_.size() + nl > lim_.max_line_bytes) {
      bye("", "Line too long");
      break;
    }
    std::string fragment = std::move(line_);
    line_.clear();
    fragment.append(avail.substr(0, nl));
    pos_ += nl + 1;
    if (!fragment.empty() && fragment.back() == '\r') fragment.pop_back();
    end_fragment(fragment);
  }
  // Compact what was consumed (the rest stays for after an outcome).
  if (pos_ > 0 && (pos_ == in_.size() || pos_ > 65536)) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
}

void Session::end_fragment(std::string_view f) {
  auto spec = literal_spec(f);
  // Tokens: atoms and quoted strings separated by spaces (RFC 5804 4).
  std::size_t i = 0;
  while (i < f.size()) {
    if (f[i] == ' ') {
      ++i;
      continue;
    }
    Arg arg;
    if (f[i] == '"') {
      arg.kind = Arg::String;
      ++i;
      bool closed = false;
      while (i < f.size()) {
        char c = f[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i >= f.size() || (f[i] != '"' && f[i] != '\\')) break;  // only QUOTED-SPECIALS
          c = f[i++];
        } else if (c == '\0') {
          break;
        }
        arg.value.push_back(c);
      }
      if (!closed) {
        syntax_error_ = true;
        break;
      }
      if (i < f.size() && f[i] != ' ') {
        syntax_error_ = true;
        break;
      }
    } else {
      arg.kind = Arg::Atom;
      while (i < f.size() && f[i] != ' ') {
        if (!atom_char(f[i])) syntax_error_ = true;
        arg.value.push_back(f[i++]);
      }
    }
    if (args_.size() >= lim_.max_args) {
      syntax_error_ = true;
    } else if (!syntax_error_) {
      held_ += arg.value.size();
      args_.push_back(std::move(arg));
    }
  }
  if (!spec) {
    end_command();
    return;
  }
  const std::uint64_t n = *spec;
  if (n > lim_.max_literal_skip) {
    bye("", "Literal too large");  // not worth reading to the end
    return;
  }
  const std::string cmd = args_.empty() ? std::string() : upper(args_[0].value);
  const bool script = state_ != SessionState::AuthContinue &&
                      ((cmd == "PUTSCRIPT" && args_.size() == 2) || (cmd == "CHECKSCRIPT" && args_.size() == 1));
  literal_keep_ = false;
  if (refusal_ || syntax_error_) {
    // the command is refused already: skip
  } else if (args_.size() >= lim_.max_args) {
    syntax_error_ = true;
  } else if (script && n > opt_.max_script_bytes) {
    refusal_.emplace("QUOTA/MAXSIZE", "Script is over the limit of " + std::to_string(opt_.max_script_bytes) + " bytes");
  } else if (!script && n > lim_.max_string_bytes) {
    refusal_.emplace("", "String too long");
  } else {
    literal_keep_ = true;
    args_.push_back(Arg{Arg::String, {}});
    args_.back().value.reserve(static_cast<std::size_t>(n));
  }
  literal_left_ = n;
  mode_ = n > 0 ? Mode::Literal : Mode::Line;
}

void Session::end_command() {
  std::vector<Arg> args = std::move(args_);
  args_.clear();
  held_ = 0;
  auto refusal = std::move(refusal_);
  refusal_.reset();
  const bool bad = std::exchange(syntax_error_, false);
  if (state_ == SessionState::AuthContinue) {
    if (bad || refusal) {
      enter_state(SessionState::NotAuthenticated);
      error("", "Bad SASL response");
      return;
    }
    on_sasl_response(args);
    return;
  }
  if (args.empty() && !bad && !refusal) return;  // an empty line: nothing to answer
  if (!authenticated() && ++unauth_commands_ > lim_.max_unauthenticated_commands) {
    bye("", "Too many commands before authentication");
    return;
  }
  if (refusal) {
    no(refusal->first, refusal->second);
    return;
  }
  if (bad || args.empty() || args[0].kind != Arg::Atom) {
    error("", "Syntax error");
    return;
  }
  dispatch(args);
}

void Session::write(std::string bytes) {
  if (!out_.empty()) {
    if (auto* w = std::get_if<action::Write>(&out_.back())) {
      w->bytes += bytes;
      return;
    }
  }
  out_.emplace_back(action::Write{std::move(bytes)});
}

namespace {
std::string response(std::string_view word, std::string_view code, std::string_view text) {
  std::string r(word);
  if (!code.empty()) r += " (" + std::string(code) + ")";
  if (!text.empty()) r += " " + quoted_or_literal(text);
  return r + "\r\n";
}
}  // namespace

void Session::ok(std::string_view code, std::string_view text) { write(response("OK", code, text)); }
void Session::no(std::string_view code, std::string_view text) { write(response("NO", code, text)); }

void Session::error(std::string_view code, std::string_view text) {
  no(code, text);
  if (++errors_ >= lim_.max_errors) bye("", "Too many errors");
}

void Session::bye(std::string_view code, std::string_view text) {
  write(response("BYE", code, text));
  out_.emplace_back(action::Close{});
  enter_state(SessionState::Logout);
  in_.clear();
  pos_ = 0;
  line_.clear();
  args_.clear();
}

void Session::request(ScriptRequest r) {
  pending_op_ = r.op;
  out_.emplace_back(std::move(r));
  enter_state(SessionState::WaitScript);
}

std::vector<Action> Session::auth_result(AuthOutcome outcome) {
  if (state_ != SessionState::WaitAuth) std::abort();
  switch (outcome) {
    case AuthOutcome::Ok:
      user_ = std::move(pending_user_);
      enter_state(SessionState::Authenticated);
      ok("", "Logged in");
      break;
    case AuthOutcome::Failed:
      enter_state(SessionState::NotAuthenticated);
      auth_failed("Authentication failed");
      break;
    case AuthOutcome::Temporary:
      enter_state(SessionState::NotAuthenticated);
      no("TRYLATER", "Authentication temporarily unavailable");
      break;
  }
  pending_user_.clear();
  run();
  return std::exchange(out_, {});
}

std::vector<Action> Session::tls_started() {
  if (state_ != SessionState::WaitTls) std::abort();
  tls_active_ = true;
  enter_state(SessionState::NotAuthenticated);
  // RFC 5804 2.2: after the handshake the server re-issues its capabilities and OK.
  write(capabilities());
  ok("", "TLS active");
  return std::exchange(out_, {});
}

std::vector<Action> Session::script_result(ScriptReply reply) {
  if (state_ != SessionState::WaitScript) std::abort();
  enter_state(SessionState::Authenticated);
  if (reply.status == ScriptStatus::Ok) {
    if (pending_op_ == ScriptOp::List) {
      std::string lines;
      for (const auto& s : reply.scripts) lines += quoted_or_literal(s.name) + (s.active ? " ACTIVE\r\n" : "\r\n");
      write(std::move(lines));
    } else if (pending_op_ == ScriptOp::Get) {
      const std::string& c = reply.content ? *reply.content : std::string();
      write("{" + std::to_string(c.size()) + "}\r\n" + c + "\r\n");
    }
    ok("", "");
  } else {
    const char* code = "";
    const char* text = "Failed";
    switch (reply.status) {
      case ScriptStatus::Ok: break;
      case ScriptStatus::NonExistent: code = "NONEXISTENT", text = "There is no script of that name"; break;
      case ScriptStatus::Active: code = "ACTIVE", text = "The script is active"; break;
      case ScriptStatus::AlreadyExists: code = "ALREADYEXISTS", text = "A script of that name exists"; break;
      case ScriptStatus::MaxSize: code = "QUOTA/MAXSIZE", text = "The script is too large"; break;
      case ScriptStatus::MaxScripts: code = "QUOTA/MAXSCRIPTS", text = "Too many scripts"; break;
      case ScriptStatus::Invalid: text = "Invalid script name"; break;
      case ScriptStatus::TryLater: code = "TRYLATER", text = "Temporary failure, try again later"; break;
    }
    no(code, reply.text.empty() ? std::string_view(text) : std::string_view(reply.text));
  }
  run();
  return std::exchange(out_, {});
}

void Session::dispatch(std::vector<Arg>& args) {
  const std::string cmd = upper(args[0].value);
  // Commands of any state (RFC 5804 2).
  if (cmd == "CAPABILITY") return cmd_capability(args);
  if (cmd == "LOGOUT") return cmd_logout(args);
  if (cmd == "NOOP") return cmd_noop(args);
  if (cmd == "STARTTLS") return cmd_starttls(args);
  if (cmd == "AUTHENTICATE") return cmd_authenticate(args);
  struct Entry {
    const char* name;
    ScriptOp op;
  };
  static constexpr Entry kScriptCommands[] = {
      {"LISTSCRIPTS", ScriptOp::List},    {"GETSCRIPT", ScriptOp::Get},      {"DELETESCRIPT", ScriptOp::Delete},
      {"RENAMESCRIPT", ScriptOp::Rename}, {"SETACTIVE", ScriptOp::Activate}, {"HAVESPACE", ScriptOp::HaveSpace},
  };
  const bool known = cmd == "PUTSCRIPT" || cmd == "CHECKSCRIPT" || cmd == "UNAUTHENTICATE" ||
                     std::any_of(std::begin(kScriptCommands), std::end(kScriptCommands),
                                 [&](const Entry& e) { return cmd == e.name; });
  if (!known) return error("", "Unknown command");
  if (!authenticated()) return error("", "Authenticate first");
  if (cmd == "PUTSCRIPT") return cmd_putscript(args);
  if (cmd == "CHECKSCRIPT") return cmd_checkscript(args);
  if (cmd == "UNAUTHENTICATE") return cmd_unauthenticate(args);
  for (const auto& e : kScriptCommands) {
    if (cmd == e.name) return cmd_script(e.op, args);
  }
}

}  // namespace refmail::managesieve
