// tests/fuzz/fuzz_dir.hpp — the per-process folder of a fuzz target that keeps state on
// disk (a real store): $TMPDIR/<prefix><pid>, created empty; folders of earlier runs
// whose process is gone (libFuzzer exits with _Exit after a crash, skipping cleanup)
// are removed first.
#pragma once
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace refmail::fuzz {

// The new folder, or nullopt when it cannot be made.
inline std::optional<std::filesystem::path> make_process_dir(std::string_view prefix) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path tmp = fs::temp_directory_path(ec);
  if (ec) return std::nullopt;
  for (const auto& e : fs::directory_iterator(tmp, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
  }
  fs::path dir = tmp / (std::string(prefix) + std::to_string(::getpid()));
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return std::nullopt;
  return dir;
}

}  // namespace refmail::fuzz
