#!/usr/bin/env bash
# Stop exactly the processes examples/scale/up.sh started (run/all.pid):
# SIGTERM (the backends drain: see --drain-timeout), then SIGKILL whatever is
# still there after 15 s.
set -uo pipefail
RUN="${SCALE_RUN:-$(cd "$(dirname "$0")" && pwd)/run}"
[ -s "$RUN/all.pid" ] || { echo "down.sh: nothing recorded in $RUN/all.pid"; exit 0; }
PIDS=$(cat "$RUN/all.pid")
for pid in $PIDS; do kill -TERM "$pid" 2>/dev/null || true; done
deadline=$((SECONDS + 15))
for pid in $PIDS; do
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
done
rm -f "$RUN/all.pid" "$RUN/backends.pid"
echo stopped
