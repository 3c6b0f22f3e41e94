// tools/sendmail/main.cpp — the refmail-sendmail executable (also installed or
// linked as `sendmail`): forwards to sendmail::run() (app.hpp).
// SECURITY: SIGPIPE is ignored so a closed connection is an error value, not a kill.
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "tools/sendmail/app.hpp"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  return refmail::sendmail::run(argc > 0 ? argv[0] : "refmail-sendmail", args, std::cin, std::cout, std::cerr);
}
