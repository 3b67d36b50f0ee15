"""
Broadcast across processes: deliveries per second and fan-out latency to
1,000 sessions with 1 and 2 txsockjs backends behind HAProxy (sharing a Redis
bus), and the latency of the Redis hop itself.

    python bench/scale.py                 # 1,000 sessions, backends 1 and 2
    python bench/scale.py --sessions 200 --messages 50    # quicker

Everything runs on 127.0.0.1: examples/scale/up.sh starts redis-server, the
backends and HAProxy in a run folder of its own (stopped by PID with down.sh);
sockjs-client 1.6.1 in one Node process (tests/e2e/scale_client.js) holds the
websocket sessions through HAProxy, and one more session, connected straight
to the first backend, sends. Every wait is bounded.

Phases, per backend count:
  latency     --latency-messages messages, 50 ms apart (an unloaded system):
              send-to-arrival time at every session, p50 / p99
  throughput  --messages messages sent back to back: deliveries (messages x
              sessions) / seconds from the first send to the last arrival
And the Redis hop: a RedisBus publishing to a subscription of its own,
--hops round trips one after the other, p50 / p99 (against MemoryBus).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from tests.e2e.scale_support import Cluster, Driver, missing_tools, wait_until  # noqa: E402


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(") ", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def broadcast_phase(backends: int, sessions: int, messages: int, latency_messages: int) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="txsockjs-scale-") as tmp:
        cluster = Cluster(os.path.join(tmp, "run"), backends=backends, balancer="haproxy",
                          drain_timeout=0.0)
        driver = Driver()
        try:
            specs = [
                {"id": f"s{k}", "url": cluster.url + "/broadcast", "transport": "websocket"}
                for k in range(sessions)
            ]
            started = time.monotonic()
            # open in batches so that /info and the upgrades do not pile up
            for i in range(0, sessions, 100):
                driver.open_many(specs[i : i + 100], timeout=60)
            opened_in = time.monotonic() - started
            sender = f"http://127.0.0.1:{cluster.backend_port(0)}/broadcast"
            driver.open_many([{"id": "sender", "url": sender, "transport": "websocket"}])
            spread = [sum(cluster.health(i)[1].values()) for i in range(backends)]
            receivers = sessions + 1  # the sender is in the room too

            def stats(prefix: str) -> dict:
                driver.send(cmd="stats", prefix=prefix)
                return driver.wait(lambda e: e["event"] == "stats")

            driver.send(cmd="stream", id="sender", prefix="l:", count=latency_messages,
                        interval=50, stamp=True)
            driver.wait(lambda e: e["event"] == "streamed", 120)
            wait_until(lambda: stats("l:")["count"] >= latency_messages * receivers, 60,
                       "latency messages", step=0.2)
            latency = stats("l:")

            driver.send(cmd="clear")
            driver.wait(lambda e: e["event"] == "cleared")
            pids = {f"b{i + 1}": pid for i, pid in enumerate(cluster.backend_pids)}
            pids.update(redis=cluster.redis_pid, haproxy=cluster.all_pids[-1],
                        node_client=driver.process.pid)
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            wall_before = time.monotonic()
            driver.send(cmd="now")
            t_start = driver.wait(lambda e: e["event"] == "now")["t"]
            driver.send(cmd="stream", id="sender", prefix="t:", count=messages, interval=0,
                        stamp=True)
            driver.wait(lambda e: e["event"] == "streamed", 120)
            wait_until(lambda: stats("t:")["count"] >= messages * receivers, 120,
                       "throughput messages", step=0.2)
            final = stats("t:")
            wall = time.monotonic() - wall_before
            cpu_share = {
                name: round((cpu_seconds(pid) - cpu_before[name]) / wall * 100)
                for name, pid in pids.items()
            }
            seconds = (final["last"] - t_start) / 1000.0
            return {
                "backends": backends,
                "sessions": sessions,
                "spread": spread,
                "opened_in_s": round(opened_in, 1),
                "latency_ms": {"p50": latency["p50"], "p99": latency["p99"], "max": latency["max"]},
                "deliveries": final["count"],
                "seconds": round(seconds, 3),
                "deliveries_per_s": round(final["count"] / seconds),
                "throughput_latency_ms": {"p50": final["p50"], "p99": final["p99"]},
                "cpu_percent_during_throughput": cpu_share,
                "load_average_1min": round(os.getloadavg()[0], 2),
            }
        finally:
            driver.stop()
            cluster.stop()


def redis_hop(hops: int) -> Dict[str, Any]:
    """
    Publish-to-delivery time through redis-server, in this process.
    """
    from twisted.internet import defer, reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint

    from txsockjs._redisbus import RedisBus
    from txsockjs.bus import MemoryBus
    from tests.test_scale_redis import RedisServer, _free_port

    port = _free_port()
    server = RedisServer(port)
    result: Dict[str, Any] = {}

    @defer.inlineCallbacks
    def measure() -> Any:
        for name, bus in (
            ("memory", MemoryBus()),
            ("redis", RedisBus(TCP4ClientEndpoint(reactor, "127.0.0.1", port))),
        ):
            if name == "redis":
                bus.startService()
                yield bus.when_connected()
            waiting: List[Any] = []
            yield bus.subscribe("hop", lambda m: waiting.pop().callback(time.perf_counter()))
            times = []
            for k in range(hops):
                d: defer.Deferred = defer.Deferred()
                waiting.append(d)
                t0 = time.perf_counter()
                bus.publish("hop", f"m{k}")
                t1 = yield d
                times.append((t1 - t0) * 1e6)
            times.sort()
            result[name] = {
                "p50_us": round(times[len(times) // 2], 1),
                "p99_us": round(times[int(len(times) * 0.99)], 1),
            }
            yield bus.close()

    def run() -> None:
        d = measure()
        d.addErrback(lambda f: result.setdefault("error", f.getTraceback()))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(run)
    reactor.run()
    server.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--latency-messages", type=int, default=20)
    parser.add_argument("--backends", default="1,2")
    parser.add_argument("--hops", type=int, default=2000)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    gone = missing_tools()
    if gone:
        raise SystemExit(f"missing: {', '.join(gone)} (bash scripts/install-test-deps.sh)")
    results: Dict[str, Any] = {"broadcast": []}
    for n in [int(x) for x in args.backends.split(",")]:
        phase = broadcast_phase(n, args.sessions, args.messages, args.latency_messages)
        print(json.dumps(phase), flush=True)
        results["broadcast"].append(phase)
    results["redis_hop"] = redis_hop(args.hops)
    print(json.dumps(results["redis_hop"]), flush=True)
    print()
    print("| backends | sessions (per backend) | deliveries/s | fan-out p50 / p99 (unloaded) | p50 / p99 under the burst |")
    print("|---|---|---|---|---|")
    for r in results["broadcast"]:
        print(
            f"| {r['backends']} | {r['sessions']} ({', '.join(map(str, r['spread']))}) | "
            f"{r['deliveries_per_s']:,} | {r['latency_ms']['p50']} / {r['latency_ms']['p99']} ms | "
            f"{r['throughput_latency_ms']['p50']} / {r['throughput_latency_ms']['p99']} ms |"
        )
    print("\nCPU % of one core during the burst (till the last arrival was seen):")
    for r in results["broadcast"]:
        print(f"  {r['backends']} backend(s): {r['cpu_percent_during_throughput']}, "
              f"load average {r['load_average_1min']} on {os.cpu_count()} CPUs")
    hop = results["redis_hop"]
    if "redis" in hop:
        print(
            f"\nRedis hop (publish to delivery, one process): p50 {hop['redis']['p50_us']} us, "
            f"p99 {hop['redis']['p99_us']} us (MemoryBus: {hop['memory']['p50_us']} / "
            f"{hop['memory']['p99_us']} us)"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
