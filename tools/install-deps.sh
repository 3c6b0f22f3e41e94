#!/usr/bin/env bash
# Installs every Debian 12 package refmail needs to build, run and test.
# Idempotent: packages already present are skipped; apt-get update runs only when
# something is missing. Needs root (it calls apt-get). Packages come from the
# distribution's own archive; only Node.js 20 for the browser tests, when the machine's
# node is older, comes from the npm registry (ensure_test_node).
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev librocksdb-dev libxxhash-dev libmimetic-dev libxapian-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libc-ares-dev libtomlplusplus-dev libspdlog-dev libcli11-dev libsodium-dev
  openssl publicsuffix  # publicsuffix: the Public Suffix List DMARC reads ([auth] public_suffix_list)
)
test_pkgs=( python3 swaks curl dovecot-imapd dovecot-lmtpd )  # dovecot: tests/e2e/test_import.py
test_pkgs+=( isync offlineimap3 python3-dkim python3-authres )  # mbsync, offlineimap; dkimpy as the DKIM and ARC oracle (its ARC code imports authres, only "suggested" by python3-dkim)
test_pkgs+=( python3-spf )  # tests/unit/trust/test_spf_pyspf.py: pyspf, the independent SPF implementation trust/spf is compared with
test_pkgs+=( nsd )  # tests/unit/trust/test_spf_nsd.py: an authoritative DNS server on loopback for the c-ares DnsLookup
test_pkgs+=( rspamd )  # tests/e2e/test_spam.py: the real spam filter on loopback (its own config and SQLite Bayes in a temporary folder)
test_pkgs+=( sieve-connect python3-sievelib )  # tests/e2e/test_managesieve.py: two real ManageSieve clients
test_pkgs+=( chromium )  # tests/e2e/test_webmail.py drives it headless (playwright-core)
# The webmail (web/ui) is built with npm; a node already on the machine is kept.
command -v npm >/dev/null 2>&1 || build_pkgs+=( nodejs npm )

# playwright-core (the browser tests) needs Node.js 20 or newer; Debian 12's nodejs is 18.
# Then Node 20 comes from the npm registry's `node` package (it installs the matching
# official build as a package), installed globally so /usr/local/bin/node comes first.
ensure_test_node() {
  [ "${1:-}" = "--test" ] || return 0
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -ge 20 ]; then return 0; fi
  echo "install-deps: node $major is older than 20 (playwright-core); installing node@20 with npm"
  npm install -g --no-audit --no-fund --loglevel=error node@20
  hash -r
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -lt 20 ]; then
    echo "install-deps: still node $major; the browser tests need Node.js >= 20 on PATH" >&2
    return 1
  fi
}

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
  ensure_test_node "${1:-}"
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
ensure_test_node "${1:-}"
