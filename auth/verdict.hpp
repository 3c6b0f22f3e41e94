// auth/verdict.hpp — the outcome of one password check, as every protocol answers it:
// SMTP 235 / 535 / 454, HTTP 200 / 401 / 429 / 503. server/ produces it (throttle
// wait, argon2 on its own bounded pool) and hands it to the protocol code.
// SECURITY: carries the canonical account on success, never the password.
#pragma once
#include <chrono>
#include <string>

namespace refmail::auth {

enum class Outcome {
  Ok,         // the password is right; `account` is the canonical address
  Bad,        // wrong password or unknown account
  Throttled,  // too many attempts from this key are already waiting: retry later
  Busy,       // the verification queue is full: retry later
};

struct Verdict {
  Outcome outcome = Outcome::Bad;
  std::string account;                     // when Ok
  std::chrono::seconds retry_after{0};     // when Throttled or Busy
};

}  // namespace refmail::auth
