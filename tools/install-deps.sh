#!/usr/bin/env bash
# Installs every Debian 12 package refmail needs to build, run and test.
# Idempotent: packages already present are skipped; apt-get update runs only when
# something is missing. Needs root (it calls apt-get); nothing is fetched from
# anywhere but the distribution's own package archive.
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev librocksdb-dev libxxhash-dev libmimetic-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libc-ares-dev libtomlplusplus-dev libspdlog-dev libcli11-dev libsodium-dev
  openssl
)
test_pkgs=( python3 swaks curl dovecot-imapd dovecot-lmtpd )  # dovecot: tests/e2e/test_import.py
test_pkgs+=( chromium )  # tests/e2e/test_webmail.py drives it headless (playwright-core)
# The webmail (web/ui) is built with npm; a node already on the machine is kept.
command -v npm >/dev/null 2>&1 || build_pkgs+=( nodejs npm )

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
