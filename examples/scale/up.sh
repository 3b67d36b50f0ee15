#!/usr/bin/env bash
# Start redis-server, N "twistd -n sockjs" backends (/echo, /broadcast through
# the Redis bus, /health) and a balancer on 127.0.0.1:PORT, all in the
# foreground of their own (no daemon), so the PIDs recorded are the real ones:
#   run/backends.pid   the backends, one per line (in order: b1, b2, ...)
#   run/all.pid        every process started (redis, backends, balancer)
#   run/ports          "redis PORT" and "bN PORT" lines
# Usage:
#   bash examples/scale/up.sh PORT N            HAProxy in front
#   bash examples/scale/up.sh nginx PORT N      nginx in front
#   bash examples/scale/up.sh haproxy PORT N
# Env: DRAIN_TIMEOUT (seconds, default 2), HEARTBEAT (default 25), SCALE_RUN
# (the run folder, default examples/scale/run), PYTHON (default python3),
# STATIC (a folder of pages the backends serve at /), SOCKJS_URL (the script
# the iframe page loads; e.g. /sockjs.min.js from STATIC).
# Stop with examples/scale/down.sh.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RUN="${SCALE_RUN:-$HERE/run}"  # SCALE_RUN: another folder (the tests use one each)

BALANCER=haproxy
case "${1:-}" in haproxy|nginx) BALANCER="$1"; shift ;; esac
PORT="${1:?usage: up.sh [haproxy|nginx] PORT N}"
N="${2:-2}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-2}"
HEARTBEAT="${HEARTBEAT:-25}"
PYTHON="${PYTHON:-python3}"

if [ -s "$RUN/all.pid" ]; then
    for pid in $(cat "$RUN/all.pid"); do
        if kill -0 "$pid" 2>/dev/null; then
            echo "up.sh: already running (PID $pid in $RUN/all.pid); run down.sh first" >&2
            exit 1
        fi
    done
fi
mkdir -p "$RUN"
: > "$RUN/all.pid"
: > "$RUN/backends.pid"
: > "$RUN/ports"

free_ports() {
    "$PYTHON" - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

fail() {
    echo "up.sh: $*" >&2
    bash "$HERE/down.sh" >/dev/null 2>&1 || true
    exit 1
}

read -r -a PORTS <<< "$(free_ports $((N + 1)))"
REDIS_PORT="${PORTS[0]}"

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no --logfile "$RUN/redis.log" < /dev/null > "$RUN/redis.out" 2>&1 &
echo $! >> "$RUN/all.pid"
echo "redis $REDIS_PORT" >> "$RUN/ports"

# twistd in the foreground (-n), run by $PYTHON: $! is the server itself
TWISTD='import sys; from twisted.scripts.twistd import run; sys.argv[0] = "twistd"; run()'
EXTRA=()
[ -n "${STATIC:-}" ] && EXTRA+=(--static "$STATIC")
[ -n "${SOCKJS_URL:-}" ] && EXTRA+=(--sockjs-url "$SOCKJS_URL")
SERVERS=""
for i in $(seq 1 "$N"); do
    port="${PORTS[$i]}"
    PYTHONPATH="$REPO:$HERE${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -c "$TWISTD" \
        -n --pidfile= --logfile "$RUN/b$i.log" sockjs \
        --listen "tcp:$port:interface=127.0.0.1" \
        --mount /echo=app.Echo --mount /broadcast=app.broadcast \
        --broker "redis://127.0.0.1:$REDIS_PORT/0" \
        --health /health --drain-timeout "$DRAIN_TIMEOUT" \
        --heartbeat-delay "$HEARTBEAT" ${EXTRA[@]+"${EXTRA[@]}"} < /dev/null > "$RUN/b$i.out" 2>&1 &
    echo $! >> "$RUN/backends.pid"
    echo $! >> "$RUN/all.pid"
    echo "b$i $port" >> "$RUN/ports"
    if [ "$BALANCER" = haproxy ]; then
        SERVERS="${SERVERS}server b$i 127.0.0.1:$port\n    "
    else
        SERVERS="${SERVERS}server 127.0.0.1:$port max_fails=1 fail_timeout=5s;\n        "
    fi
done

if [ "$BALANCER" = haproxy ]; then
    sed -e "s|@PORT@|$PORT|g" -e "s|@RUN@|$RUN|g" -e "s|@SERVERS@|$SERVERS|" "$HERE/haproxy.cfg" > "$RUN/haproxy.cfg"
    haproxy -db -f "$RUN/haproxy.cfg" < /dev/null > "$RUN/haproxy.log" 2>&1 &
else
    sed -e "s|@PORT@|$PORT|g" -e "s|@RUN@|$RUN|g" -e "s|@SERVERS@|$SERVERS|" "$HERE/nginx.conf" > "$RUN/nginx.conf"
    nginx -p "$RUN" -c "$RUN/nginx.conf" < /dev/null > "$RUN/nginx.log" 2>&1 &
fi
echo $! >> "$RUN/all.pid"
echo "$BALANCER $PORT" >> "$RUN/ports"

# ready when every backend's health check answers 200 (it answers 503 until
# the backend's bus subscriptions are live: a session sent there earlier could
# miss broadcasts), Redis answers PING and the balancer serves /echo/info;
# at most 30 s
deadline=$((SECONDS + 30))
check() {
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG || return 1
    for i in $(seq 1 "$N"); do
        curl -fsS -m 2 "http://127.0.0.1:${PORTS[$i]}/health" >/dev/null 2>&1 || return 1
    done
    curl -fsS -m 2 "http://127.0.0.1:$PORT/echo/info" >/dev/null 2>&1 || return 1
    # HAProxy marks a backend DOWN while it starts (503 until its bus is
    # live) and UP again after "rise" good checks: wait for every one UP
    [ "$BALANCER" = haproxy ] || return 0
    "$PYTHON" - "$RUN/haproxy.sock" "$N" <<'PY' || return 1
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
rows = [line.split(",") for line in data.decode().splitlines() if line and not line.startswith("#")]
up = [r for r in rows if r[0] == "txsockjs" and r[1] not in ("BACKEND", "FRONTEND") and r[17] == "UP"]
sys.exit(0 if len(up) == int(sys.argv[2]) else 1)
PY
}
until check; do
    for pid in $(cat "$RUN/all.pid"); do
        kill -0 "$pid" 2>/dev/null || fail "PID $pid exited; see $RUN/*.log"
    done
    [ $SECONDS -lt $deadline ] || fail "not ready after 30 s; see $RUN/*.log"
    sleep 0.2
done
echo "ready: http://127.0.0.1:$PORT/echo and /broadcast via $BALANCER, $N backends, redis on $REDIS_PORT"
