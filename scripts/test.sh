#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run it.
#   bash scripts/test.sh              the whole suite (browser and Node tests included)
#   bash scripts/test.sh -m "not e2e" the fast suite alone
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
if [ -f scripts/install-test-deps.sh ]; then
    bash scripts/install-test-deps.sh
fi
exec python3 -m pytest tests "$@"
