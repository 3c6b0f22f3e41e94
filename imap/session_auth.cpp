// imap/session_auth.cpp — LOGIN (RFC 9051 6.2.3) and AUTHENTICATE PLAIN (RFC 9051 6.2.2,
// RFC 4616, SASL-IR RFC 4959) for imap::Session; the outcome comes back through
// auth_result(). Response codes from RFC 5530 (AUTHENTICATIONFAILED, AUTHORIZATIONFAILED,
// PRIVACYREQUIRED, UNAVAILABLE).
// Must never: accept plaintext credentials before TLS unless Options::login_without_tls,
// log or echo a password, or let a client act as another user (authzid must be empty or
// equal the authcid).
// SECURITY: strict base64 (padding required, no whitespace, no stray bits) so one
// credential has one encoding; names are bounded and free of control characters;
// failures are counted and end the session past Limits::max_auth_failures.
#include "imap/session.hpp"

#include "imap/check.hpp"
#include "mime/codec.hpp"

namespace refmail::imap {

namespace {

constexpr std::size_t kMaxName = 255;       // RFC 4616 2: authcid / authzid
constexpr std::size_t kMaxPassword = 1024;

bool is_name(std::string_view s) {
  if (s.size() > kMaxName) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return false;
  }
  return true;
}

}  // namespace

void Session::cmd_login(const Command& c) {
  if (!plaintext_allowed())
    return error(c.tag, Condition::No, "PRIVACYREQUIRED", "Plaintext login is disabled: use STARTTLS first");
  const auto& l = std::get<Login>(c.body);
  pending_tag_ = c.tag;
  if (l.user.empty() || !is_name(l.user) || l.password.empty() || l.password.size() > kMaxPassword)
    return auth_failed("AUTHENTICATIONFAILED", "Authentication failed");
  request_auth("LOGIN", l.user, l.password);
}

void Session::cmd_authenticate(const Command& c) {
  const auto& a = std::get<imap::Authenticate>(c.body);
  if (a.mechanism != "PLAIN") return error(c.tag, Condition::No, "", "Unsupported authentication mechanism");
  if (!plaintext_allowed())
    return error(c.tag, Condition::No, "PRIVACYREQUIRED", "Plaintext authentication is disabled: use STARTTLS first");
  pending_tag_ = c.tag;
  if (a.initial_response) {
    // RFC 4959 3: "=" is an empty initial response.
    finish_plain(*a.initial_response == "=" ? std::string_view{} : std::string_view(*a.initial_response));
    return;
  }
  write(continuation(""));  // RFC 4616: PLAIN starts with an empty challenge
  reader_.expect_sasl_line();
  enter_state(SessionState::AuthContinue);
}

void Session::on_sasl_line(const std::string& line) {
  enter_state(SessionState::NotAuthenticated);
  // RFC 9051 6.2.2: "*" cancels the exchange; the server answers BAD.
  if (line == "*") return answer(pending_tag_, Condition::Bad, "", "Authentication cancelled");
  finish_plain(line);
}

void Session::finish_plain(std::string_view base64) {
  auto decoded = mime::base64_decode_strict(base64);
  if (!decoded) return error(pending_tag_, Condition::Bad, "", "Invalid base64");
  // RFC 4616 2: [authzid] NUL authcid NUL passwd
  const std::string& m = *decoded;
  auto first = m.find('\0');
  auto second = first == std::string::npos ? std::string::npos : m.find('\0', first + 1);
  if (second == std::string::npos || m.find('\0', second + 1) != std::string::npos)
    return auth_failed("AUTHENTICATIONFAILED", "Invalid SASL PLAIN message");
  std::string authzid = m.substr(0, first);
  std::string authcid = m.substr(first + 1, second - first - 1);
  std::string password = m.substr(second + 1);
  if (authcid.empty() || !is_name(authcid) || !is_name(authzid) || password.empty() ||
      password.size() > kMaxPassword)
    return auth_failed("AUTHENTICATIONFAILED", "Invalid SASL PLAIN message");
  if (!authzid.empty() && authzid != authcid)
    return auth_failed("AUTHORIZATIONFAILED", "Cannot act as another user");
  request_auth("PLAIN", std::move(authcid), std::move(password));
}

void Session::request_auth(std::string mechanism, std::string user, std::string password) {
  pending_user_ = user;
  out_.emplace_back(action::Authenticate{std::move(mechanism), std::move(user), std::move(password)});
  enter_state(SessionState::WaitAuth);
}

void Session::auth_failed(std::string_view code, std::string_view text) {
  enter_state(SessionState::NotAuthenticated);
  answer(pending_tag_, Condition::No, code, text);
  if (++auth_failures_ >= lim_.max_auth_failures) bye("Too many authentication failures");
}

std::vector<Action> Session::auth_result(AuthOutcome outcome) {
  if (closed()) return {};
  REFMAIL_CHECK(state_ == SessionState::WaitAuth);
  switch (outcome) {
    case AuthOutcome::Ok:
      user_ = pending_user_;
      enter_state(SessionState::Authenticated);
      // RFC 9051 6.2.2: the OK may carry the capabilities that changed.
      answer(pending_tag_, Condition::Ok, "CAPABILITY " + capabilities(), "Logged in");
      break;
    case AuthOutcome::Failed: auth_failed("AUTHENTICATIONFAILED", "Authentication failed"); break;
    case AuthOutcome::Temporary:
      enter_state(SessionState::NotAuthenticated);
      answer(pending_tag_, Condition::No, "UNAVAILABLE", "Temporary authentication failure, try again later");
      break;
  }
  run();
  return std::exchange(out_, {});
}

}  // namespace refmail::imap
