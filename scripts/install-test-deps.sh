#!/usr/bin/env bash
# Install what the end-to-end tests (tests/e2e) need, idempotently:
#   - Debian's chromium (never a browser downloaded by a test tool),
#   - sockjs-client 1.6.1 (and websocket-multiplex) from npm into tests/e2e/node_modules,
#   - the python driver, playwright, which launches /usr/bin/chromium, into
#     $PYTHON (scripts/test.sh passes its .venv's python; python3 otherwise).
# Run by scripts/test.sh before the suite; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

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

npm_sockjs_client

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c "import playwright.sync_api" 2>/dev/null; then
    echo "install-test-deps: pip install playwright (the driver only: no browser download)"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check "playwright>=1.40"
fi
