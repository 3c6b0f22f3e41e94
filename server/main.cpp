// server/main.cpp — refmaild's command line.
//   refmaild [-c FILE]            run (embedded defaults when no file is given)
//   refmaild --check-config FILE  validate FILE and exit (0 valid, 78 refused)
#include <sysexits.h>

#include <iostream>

#include <CLI/CLI.hpp>

#include "config/config.hpp"
#include "server/daemon.hpp"

int main(int argc, char** argv) {
  CLI::App app{"refmaild — the refmail mail server"};
  std::string config_file, check_file, data_dir;
  app.add_option("-c,--config", config_file, "configuration file (refmail.toml)");
  app.add_option("--check-config", check_file, "validate this configuration file and exit");
  app.add_option("--data-dir", data_dir, "override data_dir");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : EX_USAGE;
  }
  namespace config = refmail::config;
  if (!check_file.empty()) {
    auto r = config::load_file(check_file);
    if (!r) {
      std::cerr << r.error().message << "\n";
      return EX_CONFIG;
    }
    std::cout << check_file << ": ok\n";
    return 0;
  }
  auto cfg = config_file.empty() ? config::parse("", "(defaults)") : config::load_file(config_file);
  if (!cfg) {
    std::cerr << "refmaild: " << cfg.error().message << "\n";
    return EX_CONFIG;
  }
  if (!data_dir.empty()) cfg->data_dir = data_dir;
  return refmail::server::run_daemon(*cfg);
}
