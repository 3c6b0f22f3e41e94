// managesieve/session_commands.cpp — the command handlers of managesieve::Session
// (RFC 5804 2.1-2.14): connection commands, AUTHENTICATE PLAIN (RFC 4616) and LOGIN, and the
// script commands, which become ScriptRequest actions after their arguments are checked
// (PUTSCRIPT and CHECKSCRIPT through Options::validate first).
// SECURITY: a PLAIN response is decoded strictly; the password only leaves in the
// Authenticate action; an authzid other than the authcid is refused.
#include <algorithm>
#include <utility>

#include "managesieve/session.hpp"

namespace refmail::managesieve {

namespace {

using Args = std::vector<Session::Arg>;

bool is_string(const Args& a, std::size_t i) { return i < a.size() && a[i].kind == Session::Arg::String; }

std::string upper(std::string_view s) {
  std::string u(s);
  for (auto& c : u) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return u;
}

// Strict base64 (RFC 4648 4): padding required, no whitespace. nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=') {
        // Padding only at the end: "xx==" or "xxx=".
        if (i + 4 != in.size() || j < 2) return std::nullopt;
        ++pad;
        v[j] = 0;
      } else {
        if (pad > 0) return std::nullopt;
        v[j] = value(c);
        if (v[j] < 0) return std::nullopt;
      }
    }
    const unsigned n = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                       (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    out.push_back(static_cast<char>((n >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

}  // namespace

void Session::cmd_capability(const Args& a) {
  if (a.size() != 1) return error("", "Syntax error");
  write(capabilities());
  ok("", "Capability completed");
}

void Session::cmd_logout(const Args& a) {
  if (a.size() != 1) return error("", "Syntax error");
  ok("", "Logout completed");
  out_.emplace_back(action::Close{});
  enter_state(SessionState::Logout);
}

void Session::cmd_noop(const Args& a) {
  // RFC 5804 2.13: NOOP [string] echoes the string in a TAG response code.
  if (a.size() > 2 || (a.size() == 2 && !is_string(a, 1))) return error("", "Syntax error");
  if (a.size() == 2) return ok("TAG " + quoted_or_literal(a[1].value), "Done");
  ok("", "Done");
}

void Session::cmd_starttls(const Args& a) {
  if (a.size() != 1) return error("", "Syntax error");
  if (!opt_.tls_available || tls_active_) return error("", "TLS is not available");
  if (authenticated()) return error("", "Already authenticated");
  ok("", "Begin TLS negotiation now");
  // CVE-2011-0411: whatever the client sent after STARTTLS in plaintext is dropped.
  in_.clear();
  pos_ = 0;
  line_.clear();
  out_.emplace_back(action::StartTls{});
  enter_state(SessionState::WaitTls);
}

void Session::cmd_authenticate(const Args& a) {
  if (a.size() < 2 || a.size() > 3 || (a.size() == 3 && !is_string(a, 2))) return error("", "Syntax error");
  if (authenticated()) return error("", "Already authenticated");
  const std::string mech = upper(a[1].value);
  if (mech != "PLAIN" && mech != "LOGIN") return error("", "Unsupported SASL mechanism");
  if (!plaintext_allowed()) return error("ENCRYPT-NEEDED", "Use STARTTLS first");
  sasl_login_ = mech == "LOGIN";
  login_user_.clear();
  if (sasl_login_) {
    if (a.size() == 3) return login_step(a[2].value);  // the user as an initial response
    write("\"VXNlcm5hbWU6\"\r\n");                      // "Username:"
    enter_state(SessionState::AuthContinue);
    return;
  }
  if (a.size() == 3) return finish_plain(a[2].value);
  // RFC 5804 2.1: an empty challenge, as a string; the response comes as a string line.
  write("\"\"\r\n");
  enter_state(SessionState::AuthContinue);
}

void Session::login_step(std::string_view base64) {
  auto decoded = base64_decode(base64);
  if (!decoded) {
    enter_state(SessionState::NotAuthenticated);
    return error("", "Invalid base64");
  }
  if (login_user_.empty()) {
    if (decoded->empty() || decoded->find('\0') != std::string::npos) {
      enter_state(SessionState::NotAuthenticated);
      return auth_failed("Malformed LOGIN response");
    }
    login_user_ = std::move(*decoded);
    write("\"UGFzc3dvcmQ6\"\r\n");  // "Password:"
    enter_state(SessionState::AuthContinue);
    return;
  }
  if (decoded->empty()) {
    enter_state(SessionState::NotAuthenticated);
    return auth_failed("Malformed LOGIN response");
  }
  pending_user_ = login_user_;
  out_.emplace_back(action::Authenticate{"LOGIN", std::exchange(login_user_, {}), std::move(*decoded)});
  enter_state(SessionState::WaitAuth);
}

void Session::on_sasl_response(std::vector<Arg>& args) {
  enter_state(SessionState::NotAuthenticated);
  if (args.size() != 1) return error("", "Bad SASL response");
  // RFC 5804 2.1: "*" cancels the exchange.
  if (args[0].value == "*") return error("", "Authentication cancelled");
  if (args[0].kind != Arg::String) return error("", "Bad SASL response");
  if (sasl_login_) return login_step(args[0].value);
  finish_plain(args[0].value);
}

void Session::finish_plain(std::string_view base64) {
  auto decoded = base64_decode(base64);
  if (!decoded) return error("", "Invalid base64");
  // RFC 4616: [authzid] NUL authcid NUL passwd.
  const auto z1 = decoded->find('\0');
  const auto z2 = z1 == std::string::npos ? std::string::npos : decoded->find('\0', z1 + 1);
  if (z2 == std::string::npos || decoded->find('\0', z2 + 1) != std::string::npos) return auth_failed("Malformed PLAIN response");
  const std::string authzid = decoded->substr(0, z1);
  std::string authcid = decoded->substr(z1 + 1, z2 - z1 - 1);
  std::string password = decoded->substr(z2 + 1);
  if (authcid.empty() || password.empty()) return auth_failed("Malformed PLAIN response");
  if (!authzid.empty() && authzid != authcid) return auth_failed("Authorization identity must be the user");
  pending_user_ = authcid;
  out_.emplace_back(action::Authenticate{"PLAIN", std::move(authcid), std::move(password)});
  enter_state(SessionState::WaitAuth);
}

void Session::auth_failed(std::string_view text) {
  no("", text);
  if (++auth_failures_ >= lim_.max_auth_failures) bye("", "Too many authentication failures");
}

void Session::cmd_unauthenticate(const Args& a) {
  if (a.size() != 1) return error("", "Syntax error");
  // RFC 5804 2.14.1: back to the non-authenticated state, on the same TLS layer.
  user_.reset();
  unauth_commands_ = 0;
  enter_state(SessionState::NotAuthenticated);
  ok("", "");
}

void Session::cmd_putscript(std::vector<Arg>& a) {
  if (a.size() != 3 || !is_string(a, 1) || !is_string(a, 2)) return error("", "Syntax error");
  if (a[2].value.size() > opt_.max_script_bytes) {
    return no("QUOTA/MAXSIZE", "Script is over the limit of " + std::to_string(opt_.max_script_bytes) + " bytes");
  }
  if (opt_.validate) {
    if (auto problem = opt_.validate(a[2].value)) return no("", *problem);
  }
  ScriptRequest r;
  r.op = ScriptOp::Put;
  r.name = std::move(a[1].value);
  r.content = std::move(a[2].value);
  request(std::move(r));
}

void Session::cmd_checkscript(const Args& a) {
  if (a.size() != 2 || !is_string(a, 1)) return error("", "Syntax error");
  if (a[1].value.size() > opt_.max_script_bytes) {
    return no("QUOTA/MAXSIZE", "Script is over the limit of " + std::to_string(opt_.max_script_bytes) + " bytes");
  }
  if (opt_.validate) {
    if (auto problem = opt_.validate(a[1].value)) return no("", *problem);
  }
  ok("", "Script is valid");
}

void Session::cmd_script(ScriptOp op, const Args& a) {
  ScriptRequest r;
  r.op = op;
  switch (op) {
    case ScriptOp::List:
      if (a.size() != 1) return error("", "Syntax error");
      break;
    case ScriptOp::Get:
    case ScriptOp::Delete:
    case ScriptOp::Activate:
      if (a.size() != 2 || !is_string(a, 1)) return error("", "Syntax error");
      r.name = a[1].value;
      break;
    case ScriptOp::Rename:
      if (a.size() != 3 || !is_string(a, 1) || !is_string(a, 2)) return error("", "Syntax error");
      r.name = a[1].value;
      r.new_name = a[2].value;
      break;
    case ScriptOp::HaveSpace: {
      // HAVESPACE <name> <number> (RFC 5804 2.5).
      if (a.size() != 3 || !is_string(a, 1) || a[2].kind != Arg::Atom) return error("", "Syntax error");
      const auto& num = a[2].value;
      if (num.empty() || num.size() > 19 || !std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return error("", "Syntax error");
      }
      r.name = a[1].value;
      r.size_bytes = std::stoull(num);
      if (r.size_bytes > opt_.max_script_bytes) {
        return no("QUOTA/MAXSIZE", "Script is over the limit of " + std::to_string(opt_.max_script_bytes) + " bytes");
      }
      break;
    }
    case ScriptOp::Put: return error("", "Syntax error");  // through cmd_putscript
  }
  request(std::move(r));
}

}  // namespace refmail::managesieve
