#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run it:
# .venv (made or reused) gets txsockjs with its [test] extra,
# scripts/install-test-deps.sh gets Debian's chromium, node and the npm
# packages. Arguments go to pytest.
#   bash scripts/test.sh              the whole suite (browser and Node tests included)
#   bash scripts/test.sh -m "not e2e" the fast suite alone
#   bash scripts/test.sh -m "e2e and not browser" / -m "e2e and browser"
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
# The whole suite in three invocations, each in a process of its own: the
# fast suite, the end-to-end tests without a browser, and those that drive
# Chromium (Playwright's sync API leaves trial tests run after it in the
# same process unable to run).
status=0
for selection in "not e2e" "e2e and not browser" "e2e and browser"; do
    "$PY" -m pytest tests -m "$selection" || status=$((status ? status : $?))
done
exit "$status"
