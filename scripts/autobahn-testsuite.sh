#!/usr/bin/env bash
# Autobahn|Testsuite's fuzzingclient against the raw websocket of examples/test_server.py
# (/echo/websocket), every case but the compression groups 12 and 13.
#
#   bash scripts/autobahn-testsuite.sh [OUTDIR]
#
# Needs a Python 2.7 (pyenv's 2.7.18, or PYTHON2=/path/to/python2.7); autobahntestsuite is
# installed into that Python's user site on first use. The server gets --max-queue-size and
# --max-message-size large enough for the 16 MB cases of group 9. Bounded: 15 minutes at most.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/.autobahn-reports}
PYTHON2=${PYTHON2:-$(command -v pyenv >/dev/null && echo "$(pyenv root)/versions/2.7.18/bin/python" || command -v python2.7)}
[ -x "$PYTHON2" ] || { echo "no Python 2.7 (set PYTHON2)" >&2; exit 2; }
WSTEST=$("$PYTHON2" -c 'import site, os; print(os.path.join(site.USER_BASE, "bin", "wstest"))')
[ -x "$WSTEST" ] || "$PYTHON2" -m pip install --user autobahntestsuite
mkdir -p "$OUT"
LOG=$(mktemp)
PYTHONPATH=$ROOT python3 "$ROOT/examples/test_server.py" --port 0 --no-metrics \
    --max-message-size 0 --max-queue-size 40000000 >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 100); do grep -q "http://" "$LOG" && break; sleep 0.1; done
PORT=$(grep -o "http://[0-9.:]*" "$LOG" | cut -d: -f3)
cat >"$OUT/spec.json" <<EOS
{"outdir": "$OUT", "servers": [{"agent": "txsockjs-raw", "url": "ws://127.0.0.1:$PORT/echo/websocket"}],
 "cases": ["*"], "exclude-cases": ["12.*", "13.*"], "exclude-agent-cases": {}}
EOS
(cd "$OUT" && timeout 900 "$WSTEST" -m fuzzingclient -s "$OUT/spec.json" >"$OUT/wstest.log" 2>&1)
python3 - "$OUT/index.json" <<'EOP'
import collections, json, sys
cases = json.load(open(sys.argv[1]))["txsockjs-raw"]
print(len(cases), "cases:", dict(collections.Counter(c["behavior"] for c in cases.values())))
failed = sorted(k for k, c in cases.items() if c["behavior"] == "FAILED")
print("failed:", failed or "none")
sys.exit(1 if failed else 0)
EOP
