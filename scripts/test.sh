#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run it:
# .venv (made or reused) gets txsockjs with its [test] extra,
# scripts/install-test-deps.sh gets Debian's chromium, node and the npm
# packages. Arguments go to pytest.
#   bash scripts/test.sh              mypy --strict over txsockjs/ (configured in
#                                     pyproject.toml), then the whole suite
#                                     (browser and Node tests included)
#   bash scripts/test.sh -m "not e2e" the fast suite alone
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
# The whole suite in two invocations: Playwright's sync API (e2e) leaves
# trial tests run after it in the same process unable to run.
"$PY" -m pytest tests -m "not e2e" || status=$((status ? status : $?))
"$PY" -m pytest tests -m e2e || status=$((status ? status : $?))
exit "$status"
