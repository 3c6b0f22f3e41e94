#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build, and run refmaild on its
# embedded defaults (data under ./data, SMTP 127.0.0.1:2525, submission 2587,
# SMTPS 2465, IMAP 2143, IMAPS 2993, HTTP 127.0.0.1:8080). On the first start refmaild creates the local
# domain and a first admin user and prints that user's password once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target refmaild refmailctl
bash tools/build-ui.sh  # the webmail, served by refmaild at http://127.0.0.1:8080/
exec ./build/server/refmaild "$@"
