#!/usr/bin/env bash
# Installs what the browser end-to-end test needs, idempotently (quick when already done):
# Debian chromium (never a downloaded browser build), the pinned npm packages of
# package-lock.json, and the test page's script bundled with esbuild into dist/app.js.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if [ ! -x /usr/bin/chromium ]; then
    echo "e2e setup: installing Debian chromium"
    sudo_cmd=""
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

# Reinstall only when the lock file changed since the last `npm ci`.
stamp="node_modules/.e2e-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "e2e setup: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
fi

mkdir -p dist
node_modules/.bin/esbuild page/app.js --bundle --format=iife --target=chrome120 \
    --outfile=dist/app.js --log-level=warning

# The web pages' npm project (web/: rrweb-player and esbuild, pinned by its lock file), for
# `make web` and tests/web/test_bundle.py, which rebuilds the committed bundle and compares.
web="$here/../../web"
web_stamp="$web/node_modules/.web-lock.sha256"
web_want="$(sha256sum "$web/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$web_stamp" ] || [ "$(cat "$web_stamp")" != "$web_want" ]; then
    echo "e2e setup: npm ci in web/"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$web_want" >"$web_stamp"
fi
