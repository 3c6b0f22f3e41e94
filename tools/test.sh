#!/usr/bin/env bash
# Quick start, command 2: install what is missing, build everything, and run every
# test: unit tests, corpus round-trips, end-to-end tests against the real refmaild
# (ctest), then each libFuzzer target for a bounded time in a clang sanitizer build.
# REFMAIL_FUZZ_SECONDS (default 30) bounds each fuzz run; 0 skips fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash tools/install-deps.sh --test

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2
# The webmail and its browser tests (tests/e2e/test_webmail.py): the built UI and
# playwright-core, which drives Debian's /usr/bin/chromium.
bash tools/build-ui.sh
if [ ! -d tests/browser/node_modules ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >/dev/null
fi
# imapflow, the IMAP client library tests/e2e/test_imap_clients.py drives.
if [ ! -d tests/clients/node_modules ] || [ tests/clients/package-lock.json -nt tests/clients/node_modules/.package-lock.json ]; then
  npm ci --prefix tests/clients --no-audit --no-fund --loglevel=error >/dev/null
fi
ctest --test-dir build --output-on-failure -j2 --timeout 900

# The acceptance checks beside the project drive refmaild on its default ports, as a user
# would. They run when ../shared/checks is present and the default ports are free.
checks="$root/../shared/checks"
if [ -d "$checks" ]; then
  busy=$(python3 -c 'import socket
for p in (2525, 2587, 2465, 2143, 2993, 8080, 4190):
    s = socket.socket()
    if s.connect_ex(("127.0.0.1", p)) == 0: print(p)
    s.close()')
  if [ -n "$busy" ]; then
    echo "acceptance checks skipped: default ports in use ($busy)"
  else
    for c in foundation smtp_server jmap hardening mail_core; do
      if ! out=$(REFMAIL_CHECK_BUILD="$root/build" python3 "$checks/$c.py" 2>&1); then
        echo "acceptance check $c FAILED: $out"
        exit 1
      fi
      echo "acceptance check $c: $out"
    done
  fi
fi

fuzz_seconds=${REFMAIL_FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" -gt 0 ]; then
  cmake -S . -B build-fuzz -G Ninja -DREFMAIL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
  cmake --build build-fuzz -j2
  shopt -s nullglob
  targets=(build-fuzz/tests/fuzz/fuzz_*)
  failed=0
  for t in "${targets[@]}"; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    seeds="$root/tests/fuzz/seeds/$name"
    work=$(mktemp -d)
    [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
    echo "fuzz: $name for ${fuzz_seconds}s"
    if ! "$t" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
         -artifact_prefix="build-fuzz/$name-" "$work" > "build-fuzz/$name.log" 2>&1; then
      echo "fuzz: $name FAILED (see build-fuzz/$name.log)"; tail -30 "build-fuzz/$name.log"; failed=1
    fi
    rm -rf "$work"
  done
  [ "$failed" -eq 0 ] || exit 1
  echo "fuzz: ${#targets[@]} targets ran ${fuzz_seconds}s each without a finding"
fi
