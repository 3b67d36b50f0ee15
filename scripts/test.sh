#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run it:
# .venv (made or reused) gets txsockjs with its [test] extra,
# scripts/install-test-deps.sh gets Debian's chromium, node and the npm
# packages. Arguments go to pytest.
#   bash scripts/test.sh              the whole suite (browser and Node tests included)
#   bash scripts/test.sh -m "not e2e" the fast suite alone
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
make_venv

pip_install test -e '.[test]'
PYTHON="$PY" bash scripts/install-test-deps.sh
exec "$PY" -m pytest tests "$@"
