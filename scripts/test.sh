#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run it:
# .venv (made or reused) gets txsockjs with its [test] extra,
# scripts/install-test-deps.sh gets Debian's chromium, node and the npm
# packages. Arguments go to pytest.
#   bash scripts/test.sh              mypy --strict over txsockjs/ (configured in
#                                     pyproject.toml), then the whole suite
#                                     (browser and Node tests included)
#   bash scripts/test.sh -m "not e2e" the fast suite alone
#   (a selection must not mix trial test cases with pytest functions:
#   tests/conftest.py says how to split one that does)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
make_venv

pip_install test -e '.[test]'
PYTHON="$PY" bash scripts/install-test-deps.sh
if [ "$#" -gt 0 ]; then
    # a selection of the caller's: one invocation
    exec "$PY" -m pytest tests "$@"
fi
status=0
# The type check first: an error fails the run, and the suite still runs.
echo "mypy: strict over txsockjs/"
"$PY" -m mypy || status=$?
# The whole suite in four invocations, one kind of test in each (see
# tests/conftest.py): the fast suite, the end-to-end trial tests (the client
# against sockjs-node), the end-to-end pytest functions, and those that drive
# Chromium apart from the rest (Playwright runs an asyncio loop of its own).
run() { "$PY" -m pytest "$@" || status=$((status ? status : $?)); }
run tests -m "not e2e"
run tests -m e2e --ignore=tests/e2e
run tests/e2e -m "not browser"
run tests/e2e -m browser
exit "$status"
