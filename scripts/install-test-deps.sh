#!/usr/bin/env bash
# Install what the end-to-end tests (tests/e2e) need, idempotently:
#   - Debian's chromium (never a browser downloaded by a test tool),
#   - sockjs-client 1.6.1 (and websocket-multiplex) from npm into tests/e2e/node_modules,
#   - the python driver, playwright, which launches /usr/bin/chromium.
# Run by scripts/test.sh before the suite; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi
}

if [ ! -x /usr/bin/chromium ]; then
    echo "install-test-deps: installing Debian's chromium"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "install-test-deps: installing nodejs and npm"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

if [ ! -f tests/e2e/node_modules/sockjs-client/package.json ] \
    || ! grep -q '"version": "1.6.1"' tests/e2e/node_modules/sockjs-client/package.json; then
    echo "install-test-deps: npm ci in tests/e2e"
    (cd tests/e2e && { npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error; })
fi

if ! python3 -c "import playwright.sync_api" 2>/dev/null; then
    echo "install-test-deps: pip install playwright (the driver only: no browser download)"
    python3 -m pip install --quiet --disable-pip-version-check "playwright>=1.40"
fi

# sockjs-node 0.3.24, the reference server the client tests (tests/test_client_peer.py) talk to.
if [ ! -f tests/peers/sockjs-node/node_modules/sockjs/package.json ] \
    || ! grep -q '"version": "0.3.24"' tests/peers/sockjs-node/node_modules/sockjs/package.json; then
    echo "install-test-deps: npm ci in tests/peers/sockjs-node"
    (cd tests/peers/sockjs-node && { npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error; })
fi
