#!/usr/bin/env bash
# The chat demo, on a fresh machine: makes (or reuses) .venv, installs
# txsockjs into it, installs sockjs-client from npm into tests/e2e/node_modules
# when npm is there (the page uses the CDN otherwise), and serves the chat on
# http://127.0.0.1:8080/ until Ctrl-C.
#   bash scripts/demo.sh                   default port 8080 on 127.0.0.1
#   bash scripts/demo.sh --port 9000       any flag of examples/chat/server.py
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
make_venv

pip_install demo -e .
if ! npm_sockjs_client; then
    echo "demo: no npm (or it failed): the page will load sockjs-client from the CDN;" \
        "apt-get install npm, then run this again, to serve a local copy"
fi
exec "$PY" examples/chat/server.py "$@"
