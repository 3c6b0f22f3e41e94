#!/usr/bin/env bash
# Builds the webmail (web/ui) into web/ui/dist, which refmaild serves at "/".
# Idempotent and quiet: `npm ci` only when node_modules is missing or older than the
# lock file, then the esbuild bundle (a second or two). Needs node and npm
# (tools/install-deps.sh installs them); packages come from the npm registry.
set -euo pipefail
cd "$(dirname "$0")/../web/ui"
if ! command -v npm >/dev/null 2>&1; then
  echo "build-ui: npm is missing; run tools/install-deps.sh first" >&2
  exit 1
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
node build.mjs
echo "build-ui: web/ui/dist built"
