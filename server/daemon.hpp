// server/daemon.hpp — refmaild's life cycle: open the store, seed the configured
// local domains (and a first admin user on a new store), load or generate TLS, bind
// every listener, serve until SIGTERM/SIGINT, then drain: listeners close, idle
// connections are cancelled, in-flight work (commits) finishes, the store closes.
// SECURITY: the admin socket is created 0600 under a 0077 umask; data_dir is 0700.
#pragma once
#include "config/config.hpp"

namespace refmail::server {

// Runs the daemon; returns the process exit status (0 after a clean stop, 1 when it
// could not start, with one clear line on stderr saying why).
int run_daemon(const config::Config& cfg);

}  // namespace refmail::server
